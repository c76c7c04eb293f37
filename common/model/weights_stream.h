/* Internal to common/model: a tensor's bytes streamed from a file through two host staging
 * buffers into backend memory (backends offering upload_async, e.g. CUDA's pinned buffers). */
#ifndef OV_WEIGHTS_STREAM_H
#define OV_WEIGHTS_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "common/tensor/backend.h"

#define OV_WSTREAM_DEFAULT_BYTES ((size_t)32 << 20) /* per staging buffer (two of them) */

/* Staging state kept across tensors so that small tensors share a buffer (batched) and one
 * tensor's copies overlap the next one's reads. Zero-initialise; free with ov_wstream_free(). */
typedef struct ov_wstream {
    ov_backend *be;  /* the backend buf[] came from (NULL = none yet) */
    void *buf[2];    /* host_alloc'd */
    size_t cap;      /* bytes per buffer */
    size_t pos;      /* fill offset in buf[cur] */
    int cur;         /* buffer being filled; its slot number in upload_async is cur */
    int pending[2];  /* copies from buf[k] may still run */
} ov_wstream;

/* Bytes per staging buffer: $OURVIDZ_LOAD_STAGING (bytes, >= 4096) or the default. */
size_t ov_wstream_bytes(void);

/* Staging buffers from be (host_alloc; a different backend's go back first): 0, or the
 * host_alloc error (the caller may then load through plain upload() instead). */
int ov_wstream_prepare(ov_wstream *s, ov_backend *be);

/* Copy n bytes at file offset off of fd (path names it in messages) to backend memory dst on
 * be (ov_backend_can_stream(be)): chunks of at most one buffer, read with ov_load_range into
 * the buffer being filled and queued with upload_async; a buffer is waited for before it is
 * refilled. Returns with copies possibly still queued (stream order makes them visible to later
 * ops; ov_wstream_drain waits). On error (OV_EFORMAT file shrank, OV_EIO, backend errors) every
 * queued copy has been waited for, so dst may be freed. err gets the loader's message. */
int ov_wstream_copy(ov_wstream *s, ov_backend *be, int fd, const char *path, uint64_t off, uint64_t n, void *dst,
                    char *err, size_t err_cap);
/* Wait for every queued copy: 0 or the first copy error. */
int ov_wstream_drain(ov_wstream *s);
/* Drain and release the buffers (the backend must still be open). */
void ov_wstream_free(ov_wstream *s);

#endif
