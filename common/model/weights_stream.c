/* Streaming checkpoint bytes into backend memory through two staging buffers: reads of one
 * buffer overlap the device copies of the other (issue 4: page cache -> VRAM). */
#include "common/model/weights_stream.h"

#include <stdlib.h>

#include "common/error.h"
#include "common/formats/loader.h"

#define ALIGN 256 /* chunk starts inside a buffer (DMA-friendly) */

size_t ov_wstream_bytes(void)
{
    const char *v = getenv("OURVIDZ_LOAD_STAGING");
    if (v && *v) {
        char *end = NULL;
        unsigned long long b = strtoull(v, &end, 10);
        if (end && !*end && b >= 4096 && b <= ((unsigned long long)1 << 32))
            return (size_t)b;
    }
    return OV_WSTREAM_DEFAULT_BYTES;
}

int ov_wstream_drain(ov_wstream *s)
{
    int rc = 0;
    for (int k = 0; s->be && k < 2; k++) {
        if (!s->pending[k])
            continue;
        s->pending[k] = 0;
        int r = s->be->ops->wait_slot(s->be, k);
        if (!rc)
            rc = r;
    }
    s->pos = 0;
    return rc;
}

void ov_wstream_free(ov_wstream *s)
{
    if (!s->be)
        return;
    (void)ov_wstream_drain(s);
    for (int k = 0; k < 2; k++)
        s->be->ops->host_free(s->be, s->buf[k]);
    s->be = NULL;
    s->buf[0] = s->buf[1] = NULL;
    s->cap = s->pos = 0;
    s->cur = 0;
}

int ov_wstream_prepare(ov_wstream *s, ov_backend *be)
{
    if (s->be == be)
        return 0;
    ov_wstream_free(s);
    size_t cap = ov_wstream_bytes();
    int rc = be->ops->host_alloc(be, cap, &s->buf[0]);
    if (!rc)
        rc = be->ops->host_alloc(be, cap, &s->buf[1]);
    if (rc) {
        be->ops->host_free(be, s->buf[0]);
        s->buf[0] = s->buf[1] = NULL;
        return rc;
    }
    s->be = be;
    s->cap = cap;
    s->pos = 0;
    s->cur = 0;
    return 0;
}

/* Move to the other buffer once its copies are done. */
static int next_buffer(ov_wstream *s)
{
    s->cur ^= 1;
    s->pos = 0;
    if (!s->pending[s->cur])
        return 0;
    s->pending[s->cur] = 0;
    return s->be->ops->wait_slot(s->be, s->cur);
}

int ov_wstream_copy(ov_wstream *s, ov_backend *be, int fd, const char *path, uint64_t off, uint64_t n, void *dst,
                    char *err, size_t err_cap)
{
    int rc = ov_wstream_prepare(s, be);
    uint64_t done = 0;
    while (!rc && done < n) {
        uint64_t want = n - done;
        size_t room = s->cap - s->pos;
        /* a chunk that does not fit: the rest of this buffer only when it is a good share of
         * one, else a fresh buffer (small tensors pack into one buffer, big ones alternate) */
        if (room == 0 || (want > room && room < s->cap / 4)) {
            if ((rc = next_buffer(s)) != 0)
                break;
            room = s->cap;
        }
        size_t len = want < room ? (size_t)want : room;
        unsigned char *p = (unsigned char *)s->buf[s->cur] + s->pos;
        rc = ov_load_range(fd, path, off + done, len, p, 0, err, err_cap);
        if (rc)
            break;
        s->pending[s->cur] = 1;
        rc = be->ops->upload_async(be, (unsigned char *)dst + done, p, len, s->cur);
        size_t next = (s->pos + len + ALIGN - 1) / ALIGN * ALIGN;
        s->pos = next < s->cap ? next : s->cap;
        done += len;
    }
    if (rc)
        (void)ov_wstream_drain(s); /* nothing may still write dst when the caller frees it */
    return rc;
}
