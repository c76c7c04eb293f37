/* One Redis connection on the supervisor's libuv loop (hiredis 0.14 async): reconnect, timeouts, scripts. */
#ifndef OV_SUP_REDIS_CONN_H
#define OV_SUP_REDIS_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct redisReply;

/* A parsed REDIS_URL. */
typedef struct ov_redis_url {
    int is_unix;
    char host[256];      /* TCP host, or the socket path when is_unix */
    int port;            /* default 6379 */
    char password[256];  /* "" = no AUTH */
    int db;              /* SELECT db (0 = none sent) */
} ov_redis_url;

/* Parse "redis://[:password@]host[:port][/db]" (also "redis://user:password@host...", user
 * ignored) or "unix:///path[?db=N]". A password is registered with ov_log_add_secret.
 * 0 or OV_EINVAL (err says why, never quoting the password). */
int ov_redis_url_parse(const char *url, ov_redis_url *out, char *err, size_t errlen);

typedef struct ov_rconn ov_rconn;

/* Reply callback: `r` is borrowed for the call (NULL = the command failed with the connection:
 * disconnect, timeout, close). Called exactly once per accepted command. */
typedef void (*ov_rconn_reply_cb)(ov_rconn *c, struct redisReply *r, void *priv);
/* Connection state changes: up = 1 once AUTH/SELECT succeeded, 0 after a disconnect. */
typedef void (*ov_rconn_state_cb)(ov_rconn *c, int up, void *ctx);

/* A Lua script: body and its SHA once SCRIPT LOAD answered (per connection). */
typedef struct ov_rscript {
    const char *name;
    const char *body;
    char sha[48]; /* "" until loaded */
} ov_rscript;

/* New connection, connecting at once and reconnecting forever with capped exponential backoff
 * (250 ms .. reconnect_max_ms). `url` is copied. A command without a reply after
 * command_timeout_ms (plus extra_block_ms for blocking commands, see ov_rconn_cmd) drops the
 * connection (hiredis 0.14 has no timeouts of its own). 0 and *out, or OV_ENOMEM / OV_EIO. */
int ov_rconn_new(uv_loop_t *loop, const ov_redis_url *url, const char *name, int64_t command_timeout_ms,
                 int64_t reconnect_max_ms, ov_rconn_state_cb state_cb, void *ctx, ov_rconn **out);
/* 1 when connected and authenticated. */
int ov_rconn_up(const ov_rconn *c);
/* Send a command (argv copied by hiredis). `block_ms` extends this command's timeout (blocking
 * commands). 0 (cb will be called exactly once), OV_ECLOSED (not connected; cb not called). */
int ov_rconn_cmd(ov_rconn *c, int64_t block_ms, ov_rconn_reply_cb cb, void *priv, int argc, const char **argv,
                 const size_t *argvlen);
/* EVALSHA the script (EVAL until its SHA is known; NOSCRIPT -> EVAL and reload). argv holds
 * nkeys keys then the arguments. Same contract as ov_rconn_cmd. At most 64 keys+args. */
int ov_rconn_eval(ov_rconn *c, ov_rscript *s, int nkeys, int argc, const char **argv, const size_t *argvlen,
                  ov_rconn_reply_cb cb, void *priv);
/* Commands sent and not answered yet. */
int ov_rconn_inflight(const ov_rconn *c);
/* Close: pending commands get NULL replies, handles closed; freed after the loop ran them. */
void ov_rconn_close(ov_rconn *c);

#endif
