/* Supabase Storage backend: POST {SUPABASE_URL}/storage/v1/object/{bucket}/{path}, raw body, upsert. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "store_backend.h"

static void on_done(void *ctx, const ov_hc_result *r)
{
    ov_store_op *op = ctx;
    op->backend_req = NULL;
    char detail[200];
    if (r->status != 0) {
        snprintf(detail, sizeof detail, "upload %s/%s: %s", op->bucket, op->path, r->error);
        ov_store_op_finish(op, r->status, 0, detail);
        return;
    }
    long c = r->http_status;
    if (c >= 200 && c < 300) {
        ov_store_op_finish(op, 0, 0, "");
        return;
    }
    /* Keep the server's words short and on one line. */
    char body[120];
    size_t n = r->body_len < sizeof body - 1 ? r->body_len : sizeof body - 1;
    for (size_t i = 0; i < n; i++)
        body[i] = (r->body[i] >= 0x20 && r->body[i] < 0x7f) ? r->body[i] : ' ';
    body[n] = '\0';
    snprintf(detail, sizeof detail, "upload %s/%s: HTTP %ld %s", op->bucket, op->path, c, body);
    int permanent = c >= 400 && c < 500 && c != 408 && c != 429;
    ov_store_op_finish(op, permanent ? OV_EINVAL : OV_EIO, permanent, detail);
}

static int sb_put(ov_store *st, ov_store_op *op)
{
    char url[OV_CONFIG_PATH_MAX + OV_STORE_BUCKET_MAX + OV_STORE_PATH_MAX + 32];
    char auth[1024], apikey[1024], ctype[64];
    if ((size_t)snprintf(url, sizeof url, "%s/storage/v1/object/%s/%s", st->url, op->bucket, op->path) >=
            sizeof url ||
        (size_t)snprintf(auth, sizeof auth, "Authorization: Bearer %s", st->key) >= sizeof auth ||
        (size_t)snprintf(apikey, sizeof apikey, "apikey: %s", st->key) >= sizeof apikey)
        return OV_EINVAL;
    snprintf(ctype, sizeof ctype, "Content-Type: %s", op->mime);
    ov_hc_opts o = {.method = "POST", .url = url, .timeout_ms = st->timeout_ms};
    o.headers[0] = auth;
    o.headers[1] = apikey;
    o.headers[2] = ctype;
    o.headers[3] = "x-upsert: true";
    if (op->src_file) {
        o.body_file = op->src_file;
    } else {
        o.body = op->data;
        o.body_len = op->len;
    }
    ov_hc_req *req = NULL;
    int rc = ov_hc_start(st->hc, &o, on_done, op, &req);
    if (rc == OV_ENOENT) {
        /* The spool file is gone: report it like any attempt, later, as permanent. */
        return rc;
    }
    if (rc == 0)
        op->backend_req = req;
    return rc;
}

static void sb_abandon(ov_store *st, ov_store_op *op)
{
    (void)st;
    if (op->backend_req)
        ov_hc_cancel(op->backend_req);
    op->backend_req = NULL;
    ov_store_op_finish(op, OV_ECANCELED, 0, "cancelled");
}

static int sb_check(ov_store *st, char *detail, size_t n)
{
    if (st->last_failed) {
        snprintf(detail, n, "supabase: last upload failed: %s", st->last_detail);
        return OV_EIO;
    }
    snprintf(detail, n, "supabase");
    return 0;
}

const ov_store_backend ov_store_supabase_backend = {
    .name = "supabase",
    .put = sb_put,
    .abandon = sb_abandon,
    .check = sb_check,
};
