/* Loader throughput from page cache into host memory vs the machine's read()/memcpy ceiling, then
 * whole-checkpoint loads through ov_weights_load (every tensor by name, onto a backend under an
 * ov_mem) on the CPU backend and, when a device answers, CUDA (streaming through pinned staging,
 * common/model/weights_stream.c; with and without on-device dtype conversion).
 *
 * Usage: bench_loader [MiB] [scratch path] [checkpoint]: a checkpoint path loads that file (any
 * ov_weights_open path) instead of the generated one in the ov_weights_load section. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/formats/loader.h"
#include "common/formats/safetensors.h"
#include "common/model/weights.h"
#include "common/tensor/arena.h"
#include "common/tensor/backend.h"
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

/* Load every tensor of `path` onto be (want = -1 keeps stored dtypes) `reps` times: best GB/s. */
static double load_all(const char *path, ov_backend *be, int want, int reps, uint64_t *bytes_out)
{
    double best = 0;
    for (int r = 0; r < reps; r++) {
        ov_weights *w = NULL;
        if (ov_weights_open(path, &w)) {
            fprintf(stderr, "open %s: %s\n", path, ov_tensor_last_error());
            return 0;
        }
        size_t n = ov_weights_count(w);
        ov_tensor *t = calloc(n ? n : 1, sizeof *t);
        ov_mem mem;
        ov_mem_init(&mem, be, 0);
        int rc = t ? 0 : -1;
        double t0 = now_s();
        for (size_t i = 0; !rc && i < n; i++) {
            const char *name = ov_weights_name_at(w, i);
            ov_weight_info info;
            int wd = want;
            /* integer tensors only load as stored */
            if (ov_weights_info(w, name, &info) == 0 &&
                (info.dtype == OV_DTYPE_I32 || info.dtype == OV_DTYPE_I64 || info.dtype == OV_DTYPE_BOOL))
                wd = -1;
            rc = ov_weights_load(w, &mem, name, wd, 0, NULL, &t[i]);
        }
        if (!rc)
            rc = ov_backend_sync(be);
        double dt = now_s() - t0;
        if (rc)
            fprintf(stderr, "load on %s: %s\n", be->name, ov_tensor_last_error());
        uint64_t bytes = ov_weights_bytes_read(w);
        for (size_t i = 0; t && i < n; i++)
            ov_mem_free_tensor(&mem, &t[i]);
        free(t);
        ov_weights_close(w);
        if (rc)
            return 0;
        *bytes_out = bytes;
        if ((double)bytes / dt / 1e9 > best)
            best = (double)bytes / dt / 1e9;
    }
    return best;
}

static void bench_weights(const char *path, double read_gbps)
{
    uint64_t bytes = 0;
    printf("ov_weights_load, every tensor of %s, best of 3 (read() ceiling %.2f GB/s)\n", path, read_gbps);
    double cpu = load_all(path, ov_backend_cpu(), -1, 3, &bytes);
    printf("  cpu, stored dtypes       %6.2f GB/s  (%.2f x read, %.1f MiB)\n", cpu, cpu / read_gbps,
           (double)bytes / (1 << 20));
    ov_backend *cuda = NULL;
    if (ov_backend_open(OV_BACKEND_CUDA, 0, &cuda) != 0) {
        printf("  cuda: no device (%s)\n", ov_tensor_last_error());
        return;
    }
    double keep = load_all(path, cuda, -1, 3, &bytes);
    double conv = load_all(path, cuda, OV_DTYPE_F32, 3, &bytes);
    printf("  %s, stored dtypes    %6.2f GB/s  (%.2f x read; streamed: %s)\n", cuda->name, keep, keep / read_gbps,
           ov_backend_can_stream(cuda) ? "yes" : "no");
    printf("  %s, -> f32 on device %6.2f GB/s  (file bytes per second)\n", cuda->name, conv);
    ov_backend_close(cuda);
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

    double best_memcpy = 1e9, best_read = 1e9, best_load = 1e9, best_tensors = 1e9, best_fresh = 1e9;
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
        /* into fresh memory, as a loader allocating each weight does: page faults included */
        uint8_t *fresh = malloc(n);
        if (!fresh || ov_load_range(fd, path, off, n, fresh, 0, err, sizeof err))
            return 1;
        double t5 = now_s();
        free(fresh);
        best_fresh = t5 - t4 < best_fresh ? t5 - t4 : best_fresh;
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
    printf("  into fresh malloc      %6.2f GB/s  (first-touch page faults included)\n", gbps(n, best_fresh));
    printf("  data verified: %s\n", ok ? "yes" : "NO");
    ov_st_close(st);
    bench_weights(argc > 3 ? argv[3] : path, gbps(n, best_read));
    unlink(path);
    free(src);
    free(dst);
    return ok ? 0 : 1;
}
