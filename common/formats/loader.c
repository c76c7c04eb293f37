/* Fast checkpoint loading: sequential chunked preads, fadvise, shrink detection, staging sink. */
#include "common/formats/loader.h"

#include <errno.h>
#include <fcntl.h>
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
        rc = read_chunk(fd, path, off + done, (uint8_t *)dst + done, k, off, n, err, err_cap);
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
        rc = read_chunk(fd, path, off + done, staging[k], len, off, n, err, err_cap);
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
