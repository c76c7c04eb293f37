/* Internal: the interface every storage backend (store_local.c, store_supabase.c) implements. */
#ifndef OV_SUP_STORE_BACKEND_H
#define OV_SUP_STORE_BACKEND_H

#include "store.h"

/* One attempt; the op owns copies of everything it needs. */
typedef struct ov_store_op {
    ov_store *st;
    char bucket[OV_STORE_BUCKET_MAX];
    char path[OV_STORE_PATH_MAX];
    char mime[32];
    char *src_file; /* or */
    void *data;
    size_t len;
    ov_store_done_cb done;
    void *ctx;
    struct ov_store_op *prev, *next; /* in-flight list */
    void *backend_req;               /* backend's handle (ov_hc_req, ...) */
} ov_store_op;

typedef struct ov_store_backend {
    const char *name;
    int (*put)(ov_store *st, ov_store_op *op); /* 0: op_finish() will be called later */
    void (*abandon)(ov_store *st, ov_store_op *op); /* store closing: stop op without a callback */
    int (*check)(ov_store *st, char *detail, size_t n);
} ov_store_backend;

struct ov_store {
    const ov_store_backend *be;
    uv_loop_t *loop;
    ov_hc *hc;
    char dir[OV_CONFIG_PATH_MAX];   /* local root */
    char url[OV_CONFIG_PATH_MAX];   /* SUPABASE_URL without a trailing slash */
    char *key;                      /* SUPABASE_SERVICE_KEY */
    int64_t timeout_ms;
    int last_failed;                /* last attempt failed (health) */
    char last_detail[160];
    ov_store_op *ops;
    int busy_threads;               /* local: work requests not completed yet */
    int closing;
};

/* Backend reports an attempt's end: calls done (unless closing), frees op, frees a closing store
 * once idle. */
void ov_store_op_finish(ov_store_op *op, int status, int permanent, const char *detail);
void ov_store_maybe_free(ov_store *st);

extern const ov_store_backend ov_store_local_backend;
extern const ov_store_backend ov_store_supabase_backend;

#endif
