/* HTTP surface <-> supervisor: worker-state facts for /health, metrics render, /enhance via the wrapper. */
#include "http_sup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "http_enhance.h"
#include "metrics.h"
#include "sup.h"

typedef struct sup_ctx {
    ov_sup *s;
    ov_delivery *d;
    ov_http_queue_check queue_check;
    void *queue_ctx;
} sup_ctx;

/* One context per process: the supervisor runs one HTTP server. */
static sup_ctx g_ctx;

static void h_health(void *ctx, ov_http_health *out)
{
    sup_ctx *c = ctx;
    ov_sup *s = c->s;
    for (int k = 0; k < OV_KIND_COUNT; k++)
        out->kinds[k].configured = s->cfg.workers[k].enabled ? s->cfg.workers[k].instances : 0;
    for (int i = 0; i < s->pool.n; i++) {
        const ov_worker *w = &s->pool.workers[i];
        ov_http_worker_facts *f = &out->kinds[w->kind];
        switch (w->state) {
        case OV_W_READY: f->ready++; break;
        case OV_W_BUSY: f->busy++; break;
        case OV_W_STARTING:
        case OV_W_LOADING:
        case OV_W_BACKOFF: f->starting++; break;
        case OV_W_FAILED: f->failed++; break;
        default: break;
        }
    }
    out->queue_ok = -1;
    if (c->queue_check)
        out->queue_ok = c->queue_check(c->queue_ctx, out->queue_detail, sizeof out->queue_detail) ? 1 : 0;
    out->storage_ok = -1;
    if (c->d)
        out->storage_ok = ov_delivery_check_storage(c->d, out->storage_detail, sizeof out->storage_detail) == 0;
    out->draining = s->draining;
    out->uptime_s = (double)(uv_now(s->loop) - s->start_ms) / 1000.0;
}

static int h_metrics(void *ctx, ov_buf *out)
{
    return ov_metrics_render(((sup_ctx *)ctx)->s, out);
}

static int h_enhance(void *ctx, const char *prompt, const char *type, ov_http_enhance_done done, void *req,
                     uint64_t *token)
{
    ov_sup *s = ((sup_ctx *)ctx)->s;
    const ov_worker_config *q = &s->cfg.workers[OV_KIND_QWEN];
    if (!q->enabled || q->instances <= 0 || s->draining)
        return OV_EUNSUPP;
    int rc = ov_enhance_submit(s->jobs, prompt, type, done, req, token);
    return rc == OV_EINVAL ? OV_EUNSUPP : rc; /* EINVAL: s->jobs is not the enhance wrapper */
}

static void h_cancel(void *ctx, uint64_t token)
{
    ov_enhance_cancel(((sup_ctx *)ctx)->s->jobs, token);
}

int ov_http_sup_start(ov_sup *s, ov_delivery *d, ov_http_queue_check queue_check, void *queue_ctx, ov_http **out,
                      char *err, size_t errlen)
{
    *out = NULL;
    if (s->cfg.http_port <= 0)
        return 0;
    g_ctx = (sup_ctx){s, d, queue_check, queue_ctx};
    ov_http_hooks hk = {&g_ctx, h_health, h_metrics, h_enhance, h_cancel};
    return ov_http_start(out, s->loop, s->cfg.http_bind, s->cfg.http_port, &hk, err, errlen);
}

void ov_http_sup_close(ov_http *h)
{
    ov_http_close(h);
}
