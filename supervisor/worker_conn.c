/* IPC connection to one worker: reads into an ov_frame_reader, decodes, writes encoded frames. */
#include "worker_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "strcopy.h"
#include "common/log.h"

typedef struct write_req {
    uv_write_t req;
    ov_conn *c;
    size_t n;
    char data[];
} write_req;

static void on_closed(uv_handle_t *h)
{
    ov_conn *c = (ov_conn *)h;
    ov_frame_reader_free(&c->rd);
    free(c);
}

int ov_conn_new(uv_loop_t *loop, ov_conn_msg_cb on_msg, ov_conn_fail_cb on_fail, void *ud, ov_conn **out)
{
    ov_conn *c = calloc(1, sizeof *c);
    if (!c)
        return OV_ENOMEM;
    if (uv_pipe_init(loop, &c->pipe, 0) != 0) {
        free(c);
        return OV_EIO;
    }
    ov_frame_reader_init(&c->rd, OV_IPC_FRAME_MAX);
    c->on_msg = on_msg;
    c->on_fail = on_fail;
    c->ud = ud;
    snprintf(c->label, sizeof c->label, "pending");
    *out = c;
    return 0;
}

void ov_conn_set_owner(ov_conn *c, ov_conn_msg_cb on_msg, ov_conn_fail_cb on_fail, void *ud,
                       const char *label)
{
    c->on_msg = on_msg;
    c->on_fail = on_fail;
    c->ud = ud;
    ov_str_copy(c->label, sizeof c->label, label);
}

void ov_conn_close(ov_conn *c)
{
    if (!c || c->closing)
        return;
    c->closing = 1;
    if (c->reading)
        uv_read_stop((uv_stream_t *)&c->pipe);
    uv_close((uv_handle_t *)&c->pipe, on_closed);
}

/* Report the failure once, then close. */
static void conn_fail(ov_conn *c, int code, const char *why)
{
    if (c->closing)
        return;
    ov_conn_fail_cb cb = c->on_fail;
    void *ud = c->ud;
    c->on_fail = NULL;
    if (cb)
        cb(c, code, why, ud);
    ov_conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ov_conn *c = (ov_conn *)h;
    (void)suggested;
    buf->base = (char *)c->rbuf;
    buf->len = sizeof c->rbuf;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    ov_conn *c = (ov_conn *)s;
    (void)buf;
    if (c->closing)
        return;
    if (nread == UV_EOF) {
        conn_fail(c, OV_ECLOSED, "connection closed by the worker");
        return;
    }
    if (nread < 0) {
        char why[128];
        snprintf(why, sizeof why, "read failed: %s", uv_strerror((int)nread));
        conn_fail(c, OV_EIO, why);
        return;
    }
    if (nread == 0)
        return;
    if (ov_frame_reader_feed(&c->rd, c->rbuf, (size_t)nread) != 0) {
        conn_fail(c, OV_ENOMEM, "frame buffer cap reached");
        return;
    }
    for (;;) {
        const uint8_t *payload;
        size_t len;
        int rc = ov_frame_reader_next(&c->rd, &payload, &len);
        if (rc == 0)
            break;
        if (rc < 0) {
            conn_fail(c, OV_EPROTO, "bad frame header (zero length or over the 1 MiB cap)");
            return;
        }
        ov_msg m;
        char err[160];
        if (ov_msg_decode(payload, len, &m, err, sizeof err) != 0) {
            char why[220];
            snprintf(why, sizeof why, "undecodable frame: %s", err);
            conn_fail(c, OV_EPROTO, why);
            return;
        }
        if (c->on_msg)
            c->on_msg(c, &m, c->ud); /* reads the owner per frame: hello may hand the conn over */
        ov_msg_free(&m);
        if (c->closing)
            return;
    }
}

int ov_conn_start(ov_conn *c)
{
    if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) != 0)
        return OV_EIO;
    c->reading = 1;
    return 0;
}

static void on_written(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    ov_conn *c = w->c;
    c->pending_write -= w->n;
    free(w);
    if (status < 0 && status != UV_ECANCELED && !c->closing) {
        char why[128];
        snprintf(why, sizeof why, "write failed: %s", uv_strerror(status));
        conn_fail(c, OV_EIO, why);
    }
}

int ov_conn_send(ov_conn *c, const ov_msg *m)
{
    if (c->closing)
        return OV_ECLOSED;
    ov_buf b;
    ov_buf_init(&b, OV_IPC_FRAME_MAX + OV_IPC_FRAME_HEADER);
    int rc = ov_msg_encode(m, &b);
    if (rc != 0) {
        ov_buf_free(&b);
        return rc;
    }
    size_t off = 0;
    if (c->pending_write == 0) {
        uv_buf_t ub = uv_buf_init(b.data, (unsigned)b.len);
        int n = uv_try_write((uv_stream_t *)&c->pipe, &ub, 1);
        if (n > 0)
            off = (size_t)n;
        else if (n != UV_EAGAIN && n != UV_ENOSYS) {
            ov_buf_free(&b);
            return OV_EIO; /* EPIPE etc: the read side reports EOF */
        }
    }
    if (off < b.len) {
        size_t n = b.len - off;
        if (c->pending_write + n > OV_CONN_WRITE_PENDING_MAX) {
            ov_buf_free(&b);
            return OV_ENOMEM;
        }
        write_req *w = malloc(sizeof *w + n);
        if (!w) {
            ov_buf_free(&b);
            return OV_ENOMEM;
        }
        w->c = c;
        w->n = n;
        memcpy(w->data, b.data + off, n);
        uv_buf_t ub = uv_buf_init(w->data, (unsigned)n);
        if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &ub, 1, on_written) != 0) {
            free(w);
            ov_buf_free(&b);
            return OV_EIO;
        }
        c->pending_write += n;
    }
    ov_buf_free(&b);
    return 0;
}
