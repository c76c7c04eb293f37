/* Fast checkpoint loading: sequential chunked preads (split over a few threads), fadvise, shrink
 * detection, staging sink. */
#include "common/formats/loader.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/formats/fmt_err.h"

static int check_size(int fd, const char *path, uint64_t off, uint64_t n, char *err, size_t cap)
{
    struct stat sb;
    if (fstat(fd, &sb) < 0)
        return fmt_fail(err, cap, OV_EIO, "%s: fstat: %s", path, strerror(errno));
    uint64_t size = (uint64_t)sb.st_size;
    if (off > size || n > size - off)
        return fmt_fail(err, cap, OV_EFORMAT,
                        "%s: is %llu bytes now but bytes [%llu, %llu) are needed (file shrank or header lies)",
                        path, (unsigned long long)size, (unsigned long long)off, (unsigned long long)(off + n));
    (void)posix_fadvise(fd, (off_t)off, (off_t)n, POSIX_FADV_SEQUENTIAL);
    return 0;
}

/* Fill dst with len bytes from off; a 0-byte read before the end means the file shrank. */
static int read_chunk(int fd, const char *path, uint64_t off, uint8_t *dst, size_t len, uint64_t start,
                      uint64_t total, char *err, size_t cap)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, dst + got, len - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return fmt_fail(err, cap, OV_EIO, "%s: read at %llu: %s", path, (unsigned long long)(off + got),
                            strerror(errno));
        }
        if (r == 0)
            return fmt_fail(err, cap, OV_EFORMAT,
                            "%s: file shrank while loading: got %llu of %llu bytes starting at %llu", path,
                            (unsigned long long)(off + got - start), (unsigned long long)total,
                            (unsigned long long)start);
        got += (size_t)r;
    }
    return 0;
}

/* ---- one chunk over several threads ----
 * A read from the page cache is a kernel memcpy on the calling thread: one thread moved 5-7 GB/s on
 * the H100 host (bench_ops_cuda, 2026-11-27) while pinned -> VRAM ran at 55 GB/s. A chunk of at
 * least 2 · OV_LOAD_PIECE_MIN bytes is split into up to ov_load_threads() contiguous pieces read
 * concurrently (the caller's thread takes the first). Any piece's error is reported, the
 * lowest-offset one first, exactly as a single-threaded read would have. */
#define OV_LOAD_PIECE_MIN ((size_t)4 << 20)
#define OV_LOAD_THREADS_MAX 8

int ov_load_threads(void)
{
    const char *e = getenv("OURVIDZ_LOAD_THREADS");
    long v = 0;
    if (e && *e) {
        char *end;
        v = strtol(e, &end, 10);
        if (*end || v < 1)
            v = 0;
    }
    if (v < 1) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        v = cpus < 2 ? 1 : cpus < 4 ? cpus : 4;
    }
    return v > OV_LOAD_THREADS_MAX ? OV_LOAD_THREADS_MAX : (int)v;
}

typedef struct piece {
    int fd;
    const char *path;
    uint64_t off, start, total;
    uint8_t *dst;
    size_t len;
    int rc;
    char err[256];
} piece;

static void *piece_main(void *arg)
{
    piece *p = arg;
    p->rc = read_chunk(p->fd, p->path, p->off, p->dst, p->len, p->start, p->total, p->err, sizeof p->err);
    return NULL;
}

static int read_parallel(int fd, const char *path, uint64_t off, uint8_t *dst, size_t len, uint64_t start,
                         uint64_t total, char *err, size_t cap)
{
    int t = ov_load_threads();
    if ((size_t)t > len / OV_LOAD_PIECE_MIN)
        t = (int)(len / OV_LOAD_PIECE_MIN);
    if (t < 2)
        return read_chunk(fd, path, off, dst, len, start, total, err, cap);
    piece pc[OV_LOAD_THREADS_MAX];
    pthread_t th[OV_LOAD_THREADS_MAX];
    int started[OV_LOAD_THREADS_MAX] = {0};
    size_t per = (len / (size_t)t + 4095) & ~(size_t)4095; /* page-aligned pieces */
    size_t at = 0;
    int np = 0;
    for (; np < t && at < len; np++) {
        size_t l = len - at < per ? len - at : per;
        pc[np] = (piece){fd, path, off + at, start, total, dst + at, l, 0, ""};
        at += l;
    }
    for (int i = 1; i < np; i++)
        started[i] = pthread_create(&th[i], NULL, piece_main, &pc[i]) == 0;
    piece_main(&pc[0]);
    for (int i = 1; i < np; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            piece_main(&pc[i]); /* no thread: read it here */
    }
    for (int i = 0; i < np; i++)
        if (pc[i].rc) {
            if (err && cap)
                snprintf(err, cap, "%s", pc[i].err);
            return pc[i].rc;
        }
    return 0;
}

int ov_load_range(int fd, const char *path, uint64_t off, uint64_t n, void *dst, size_t chunk_bytes, char *err,
                  size_t err_cap)
{
    if (fd < 0 || (n && !dst))
        return OV_EINVAL;
    if (!chunk_bytes)
        chunk_bytes = OV_LOAD_CHUNK_DEFAULT;
    int rc = check_size(fd, path, off, n, err, err_cap);
    for (uint64_t done = 0; !rc && done < n;) {
        size_t k = n - done < chunk_bytes ? (size_t)(n - done) : chunk_bytes;
        rc = read_parallel(fd, path, off + done, (uint8_t *)dst + done, k, off, n, err, err_cap);
        done += k;
    }
    return rc;
}

int ov_load_stream(int fd, const char *path, uint64_t off, uint64_t n, void *const staging[2], size_t staging_bytes,
                   const ov_load_sink *sink, char *err, size_t err_cap)
{
    if (fd < 0 || !staging || !staging[0] || !staging[1] || !staging_bytes || !sink || !sink->submit)
        return OV_EINVAL;
    int rc = check_size(fd, path, off, n, err, err_cap);
    int used[2] = {0, 0};
    uint64_t done = 0;
    for (int k = 0; !rc && done < n; k ^= 1) {
        if (used[k] && sink->wait && (rc = sink->wait(sink->ctx, k)) != 0)
            break;
        size_t len = n - done < staging_bytes ? (size_t)(n - done) : staging_bytes;
        rc = read_parallel(fd, path, off + done, staging[k], len, off, n, err, err_cap);
        if (!rc)
            rc = sink->submit(sink->ctx, k, done, len);
        used[k] = 1;
        done += len;
    }
    for (int k = 0; k < 2; k++)
        if (used[k] && sink->wait) {
            int r = sink->wait(sink->ctx, k);
            if (!rc)
                rc = r;
        }
    return rc;
}
