/* Fast checkpoint loading: large sequential preads into host memory or staging buffers. */
#ifndef OV_LOADER_H
#define OV_LOADER_H

#include <stddef.h>
#include <stdint.h>

#define OV_LOAD_CHUNK_DEFAULT ((size_t)32 << 20) /* 32 MiB per pread */

/* Threads one large read is split over (each a contiguous piece of at least 4 MiB):
 * $OURVIDZ_LOAD_THREADS (1..8), else min(4, online CPUs); read at each call (a getenv per chunk). */
int ov_load_threads(void);

/* Read n bytes at file offset off from fd into dst (host memory the caller owns), in
 * chunk_bytes sequential preads (0 = default; each split over ov_load_threads()) after
 * posix_fadvise(SEQUENTIAL). The file size is
 * re-checked first and a short read means the file shrank: OV_EFORMAT with a message naming
 * path and how many bytes arrived. OV_EIO on read errors. */
int ov_load_range(int fd, const char *path, uint64_t off, uint64_t n, void *dst, size_t chunk_bytes,
                  char *err, size_t err_cap);

/* Streaming through caller-owned staging buffers (e.g. two pinned buffers for the CUDA
 * backend): chunk k is read into staging[k % 2]; before a buffer is refilled the loader calls
 * wait(ctx, buf) (NULL = nothing to wait for), and after each chunk arrives submit(ctx, buf,
 * dst_offset, bytes) (which may start an async host->device copy and return). A non-zero return
 * from either stops the load and is returned. At the end wait() is called for both buffers so
 * the caller knows every copy finished. */
typedef struct ov_load_sink {
    int (*submit)(void *ctx, int buf, uint64_t dst_offset, size_t bytes);
    int (*wait)(void *ctx, int buf);
    void *ctx;
} ov_load_sink;

int ov_load_stream(int fd, const char *path, uint64_t off, uint64_t n, void *const staging[2],
                   size_t staging_bytes, const ov_load_sink *sink, char *err, size_t err_cap);

#endif
