/* One supervisor<->worker IPC connection on the libuv loop: frame reader, decoder, frame writer. */
#ifndef OV_SUP_WORKER_CONN_H
#define OV_SUP_WORKER_CONN_H

#include <uv.h>

#include "ipc/frame.h"
#include "ipc/message.h"

#define OV_CONN_WRITE_PENDING_MAX (8u << 20) /* queued unsent bytes; past it the peer is stuck */

typedef struct ov_conn ov_conn;

/* A decoded frame. `m` is owned by the callee for the call only (freed after it returns).
 * The callee may call ov_conn_close(c) from inside. */
typedef void (*ov_conn_msg_cb)(ov_conn *c, ov_msg *m, void *ud);
/* The connection failed (EOF, read/write error, garbage or oversized frame): called once, with
 * an OV_E* code and a human reason; the connection is closed right after the callback returns
 * (the callee must not touch c afterwards). */
typedef void (*ov_conn_fail_cb)(ov_conn *c, int code, const char *why, void *ud);

struct ov_conn {
    uv_pipe_t pipe; /* first member */
    ov_frame_reader rd;
    ov_conn_msg_cb on_msg;
    ov_conn_fail_cb on_fail;
    void *ud;
    char label[48]; /* for log lines: the worker name, or "pending" */
    size_t pending_write;
    int reading, closing, in_read;
    uint8_t rbuf[65536];
};

/* Allocate a connection whose pipe is initialised on loop but not yet opened (spawn mode passes
 * &c->pipe to uv_spawn as UV_CREATE_PIPE; unit mode accepts into it). 0 or OV_ENOMEM. Free with
 * ov_conn_close (memory is released in the close callback). */
int ov_conn_new(uv_loop_t *loop, ov_conn_msg_cb on_msg, ov_conn_fail_cb on_fail, void *ud, ov_conn **out);
/* Start reading. 0 or OV_EIO. */
int ov_conn_start(ov_conn *c);
/* Change who receives events (unit mode: pending -> named worker after hello). */
void ov_conn_set_owner(ov_conn *c, ov_conn_msg_cb on_msg, ov_conn_fail_cb on_fail, void *ud,
                       const char *label);
/* Encode and send one message (tries a direct write first, then queues). 0, OV_EINVAL (encode),
 * OV_EIO/OV_ECLOSED (the connection is failing: on_fail will follow from the loop), OV_ENOMEM. */
int ov_conn_send(ov_conn *c, const ov_msg *m);
/* Close now, without calling on_fail; no callbacks after this. Safe to call twice and from
 * inside a callback. */
void ov_conn_close(ov_conn *c);

#endif
