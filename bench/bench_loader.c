/* Loader throughput from page cache into host memory vs the machine's read()/memcpy ceiling. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/formats/loader.h"
#include "common/formats/safetensors.h"
#include "common/tensor/dtype.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double gbps(size_t bytes, double s)
{
    return (double)bytes / s / 1e9;
}

/* Plain read() loop, 32 MiB at a time: what the kernel gives a simple reader. */
static int read_all(int fd, uint64_t off, uint8_t *dst, size_t n)
{
    if (lseek(fd, (off_t)off, SEEK_SET) < 0)
        return -1;
    size_t done = 0;
    while (done < n) {
        size_t k = n - done < ((size_t)32 << 20) ? n - done : ((size_t)32 << 20);
        ssize_t r = read(fd, dst + done, k);
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    const char *path = argc > 2 ? argv[2] : "/tmp/ov_bench_loader.safetensors";
    int reps = 3;
    size_t n = mib << 20;
    char err[OV_ST_ERR_LEN];

    /* A real safetensors file: 16 bf16 tensors filling n bytes. */
    enum { T = 16 };
    int64_t shape[T][2];
    char names[T][32];
    ov_st_wtensor wt[T];
    for (int i = 0; i < T; i++) {
        shape[i][0] = (int64_t)(n / T / 2 / 1024);
        shape[i][1] = 1024;
        snprintf(names[i], sizeof names[i], "blocks.%d.weight", i);
        wt[i] = (ov_st_wtensor){names[i], OV_DTYPE_BF16, 2, shape[i], NULL};
    }
    uint8_t *src = malloc(n), *dst = malloc(n);
    if (!src || !dst)
        return 1;
    for (size_t i = 0; i < n; i++)
        src[i] = (uint8_t)(i * 131 + 7);
    ov_st_writer *w;
    if (ov_st_writer_begin(path, wt, T, NULL, 0, &w, err, sizeof err) || ov_st_writer_data(w, src, n) ||
        ov_st_writer_finish(w, err, sizeof err)) {
        fprintf(stderr, "write failed: %s\n", err);
        return 1;
    }
    ov_safetensors *st;
    if (ov_st_open(path, &st, err, sizeof err)) {
        fprintf(stderr, "open failed: %s\n", err);
        return 1;
    }
    int fd = ov_st_shard_fd(st, 0);
    uint64_t off = ov_st_at(st, 0)->offset;
    memset(dst, 1, n); /* fault the destination in: production loads into preallocated memory */
    read_all(fd, off, dst, n); /* warm the page cache */

    double best_memcpy = 1e9, best_read = 1e9, best_load = 1e9, best_tensors = 1e9;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        memcpy(dst, src, n);
        double t1 = now_s();
        if (read_all(fd, off, dst, n))
            return 1;
        double t2 = now_s();
        if (ov_load_range(fd, path, off, n, dst, 0, err, sizeof err)) {
            fprintf(stderr, "load failed: %s\n", err);
            return 1;
        }
        double t3 = now_s();
        for (size_t i = 0; i < ov_st_count(st); i++) { /* per tensor, as a model loader does */
            const ov_st_tensor *t = ov_st_at(st, i);
            if (ov_load_range(fd, path, t->offset, t->n_bytes, dst + (t->offset - off), 0, err, sizeof err))
                return 1;
        }
        double t4 = now_s();
        best_memcpy = t1 - t0 < best_memcpy ? t1 - t0 : best_memcpy;
        best_read = t2 - t1 < best_read ? t2 - t1 : best_read;
        best_load = t3 - t2 < best_load ? t3 - t2 : best_load;
        best_tensors = t4 - t3 < best_tensors ? t4 - t3 : best_tensors;
    }
    int ok = memcmp(dst, src, n) == 0;
    printf("bench_loader: %zu MiB file, page cache -> host memory, best of %d\n", mib, reps);
    printf("  memcpy                 %6.2f GB/s\n", gbps(n, best_memcpy));
    printf("  read() 32 MiB          %6.2f GB/s\n", gbps(n, best_read));
    printf("  ov_load_range 32 MiB   %6.2f GB/s  (%.2f x read, %.2f x memcpy)\n", gbps(n, best_load),
           best_read / best_load, best_memcpy / best_load);
    printf("  per-tensor loads (%d)  %6.2f GB/s\n", T, gbps(n, best_tensors));
    printf("  data verified: %s\n", ok ? "yes" : "NO");
    ov_st_close(st);
    unlink(path);
    free(src);
    free(dst);
    return ok ? 0 : 1;
}
