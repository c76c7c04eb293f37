/* Delivery: upload a job's outputs (retried with backoff), then POST its callback (retried), many at once. */
#include "delivery.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "callback.h"
#include "common/error.h"
#include "common/log.h"
#include "http_client.h"
#include "store.h"
#include "strcopy.h"

#define DEFAULT_BACKOFF_INITIAL_MS 1000
#define DEFAULT_BACKOFF_MAX_MS 60000
#define PROGRESS_MIN_INTERVAL_MS 2000
#define PROGRESS_SLOTS 16
#define MAX_ITEMS (OV_IPC_OUTPUTS_MAX * 2) /* outputs + thumbnails */

enum { IT_PENDING = 0, IT_INFLIGHT, IT_WAIT, IT_DONE, IT_FAILED, IT_DROPPED };
enum { PH_THUMBS = 0, PH_UPLOAD, PH_CALLBACK, PH_DONE };

typedef struct dlv dlv;

typedef struct item {
    dlv *r;
    char *src;      /* file to upload */
    int is_thumb;   /* generated thumbnail (a temporary file we own) */
    int output;     /* output index this belongs to */
    char mime[32];
    char bucket[OV_STORE_BUCKET_MAX];
    char path[OV_STORE_PATH_MAX];
    int64_t size_bytes;
    int width, height;
    int state;
    int permanent;
    char detail[200];
} item;

typedef struct thumb_work {
    uv_work_t req;
    dlv *r;
    int output;
    char src[OV_CONFIG_PATH_MAX];
    char dst[OV_CONFIG_PATH_MAX + 16];
    int rc;
    char err[160];
} thumb_work;

struct dlv {
    ov_delivery *d;
    dlv *prev, *next;
    char job_id[OV_STORE_ID_MAX + 1], job_type[OV_STORE_ID_MAX + 1], user_id[OV_STORE_ID_MAX + 1],
        video_id[OV_STORE_ID_MAX + 1];
    int completed;
    int upload_failed;
    char *error_message;
    char *metadata_json;
    ov_kvlist meta;
    item items[MAX_ITEMS];
    int nitems, noutputs;
    int thumb_of[OV_IPC_OUTPUTS_MAX]; /* item index of output i's thumbnail, -1 none */
    int phase;
    int inflight;      /* store attempts + thumbnail works running */
    int thumbs_inflight; /* thumbnail works (they finish even after a close) */
    int round;         /* retries so far in this phase (backoff step) */
    uint64_t phase_start_ms;
    int64_t unix_ts;
    ov_buf body;
    ov_hc_req *cb_req;
    uv_timer_t timer;
    int finished;      /* done_cb called (or abandoned) */
    int timer_closed;
    char last_detail[256];
    ov_delivery_done_cb done;
    void *ctx;
};

typedef struct progress_slot {
    ov_delivery *d;
    ov_hc_req *req;
    char job_id[OV_STORE_ID_MAX + 1];
    uint64_t last_ms;
    ov_buf body;
} progress_slot;

struct ov_delivery {
    uv_loop_t *loop;
    ov_hc *hc;
    ov_store *store;
    ov_callback *cb;
    int layout, asset_format, thumbnails, processing;
    int64_t upload_max_age_ms, callback_max_age_ms;
    int64_t backoff_initial_ms, backoff_max_ms;
    dlv *list;
    int pending;
    int records;       /* allocated records (freed after their timer closes) */
    int closing;
    uint64_t rng;
    progress_slot progress[PROGRESS_SLOTS];
};

static void step(dlv *r);

static double rand01(ov_delivery *d)
{
    d->rng ^= d->rng << 13;
    d->rng ^= d->rng >> 7;
    d->rng ^= d->rng << 17;
    return (double)(d->rng >> 11) / 9007199254740992.0;
}

static void maybe_free_delivery(ov_delivery *d)
{
    if (d->closing && d->records == 0) {
        for (int i = 0; i < PROGRESS_SLOTS; i++)
            ov_buf_free(&d->progress[i].body);
        ov_callback_free(d->cb);
        free(d);
    }
}

static void record_free(dlv *r)
{
    ov_delivery *d = r->d;
    for (int i = 0; i < r->nitems; i++)
        free(r->items[i].src);
    free(r->error_message);
    free(r->metadata_json);
    ov_kvlist_free(&r->meta);
    ov_buf_free(&r->body);
    free(r);
    d->records--;
    maybe_free_delivery(d);
}

static void on_timer_closed(uv_handle_t *h)
{
    dlv *r = h->data;
    r->timer_closed = 1;
    if (r->thumbs_inflight == 0)
        record_free(r);
}

/* Leave the active list and close the timer; the record is freed once nothing refers to it. */
static void record_retire(dlv *r)
{
    ov_delivery *d = r->d;
    if (r->prev)
        r->prev->next = r->next;
    else
        d->list = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    d->pending--;
    r->finished = 1;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

static void finish(dlv *r, int status, const char *detail)
{
    r->phase = PH_DONE;
    ov_delivery_done_cb done = r->done;
    void *ctx = r->ctx;
    char job[OV_STORE_ID_MAX + 1];
    ov_str_copy(job, sizeof job, r->job_id);
    record_retire(r);
    if (status == 0)
        ov_log(OV_LOG_DEBUG, "delivery_done", "job=%s", job);
    done(ctx, status, detail);
}

static void on_retry_timer(uv_timer_t *t)
{
    dlv *r = t->data;
    for (int i = 0; i < r->nitems; i++)
        if (r->items[i].state == IT_WAIT)
            r->items[i].state = IT_PENDING;
    step(r);
}

/* Schedule the next attempt, or return 0 when max_age has passed (the caller gives up). */
static int schedule_retry(dlv *r, int64_t max_age_ms)
{
    ov_delivery *d = r->d;
    uint64_t now = uv_now(d->loop);
    uint64_t age = now - r->phase_start_ms;
    if (age >= (uint64_t)max_age_ms)
        return 0;
    int64_t delay = ov_backoff_delay_ms(d->backoff_initial_ms, d->backoff_max_ms, r->round++, rand01(d));
    uint64_t left = (uint64_t)max_age_ms - age;
    if ((uint64_t)delay > left)
        delay = (int64_t)left; /* one last attempt right at the deadline */
    uv_timer_start(&r->timer, on_retry_timer, (uint64_t)delay, 0);
    return 1;
}

static void remove_spool(dlv *r)
{
    for (int i = 0; i < r->nitems; i++)
        if (r->items[i].src)
            unlink(r->items[i].src);
}

/* ---- callback phase ---- */

static void on_callback_done(void *ctx, const ov_hc_result *res);

static int build_body(dlv *r)
{
    ov_delivery *d = r->d;
    ov_cb_asset assets[OV_IPC_OUTPUTS_MAX];
    int n = 0;
    for (int i = 0; i < r->nitems && r->completed; i++) {
        item *it = &r->items[i];
        if (it->is_thumb)
            continue;
        int t = r->thumb_of[it->output];
        assets[n] = (ov_cb_asset){.bucket = it->bucket,
                                  .path = it->path,
                                  .thumb_path = t >= 0 && r->items[t].state == IT_DONE ? r->items[t].path : NULL,
                                  .mime = it->mime,
                                  .index = it->output,
                                  .size_bytes = it->size_bytes,
                                  .width = it->width,
                                  .height = it->height};
        n++;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ov_cb_body b = {.job_id = r->job_id,
                    .job_type = r->job_type,
                    .status = r->completed ? "completed" : "failed",
                    .asset_format = d->asset_format,
                    .assets = assets,
                    .nassets = n,
                    .error_message = r->completed ? NULL : r->error_message,
                    .meta = r->completed ? &r->meta : NULL,
                    .metadata_json = r->metadata_json,
                    .progress = -1,
                    .unix_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000};
    ov_buf_reset(&r->body);
    int rc = ov_callback_body(&b, &r->body);
    if (rc == OV_EINVAL && r->metadata_json) {
        /* Caller metadata that is not a JSON object must not cost the job its callback. */
        ov_log(OV_LOG_WARN, "callback_metadata_dropped", "job=%s reason=\"metadata_json is not a JSON object\"",
               r->job_id);
        b.metadata_json = NULL;
        ov_buf_reset(&r->body);
        rc = ov_callback_body(&b, &r->body);
    }
    return rc;
}

static void callback_attempt(dlv *r)
{
    ov_delivery *d = r->d;
    int rc = ov_callback_post(d->cb, r->body.data, r->body.len, on_callback_done, r, &r->cb_req);
    if (rc != 0) {
        snprintf(r->last_detail, sizeof r->last_detail, "callback not sent: %s", ov_strerror(rc));
        if (!schedule_retry(r, d->callback_max_age_ms)) {
            ov_log(OV_LOG_ERR, "callback_gave_up", "job=%s reason=\"%s\"", r->job_id, r->last_detail);
            finish(r, OV_ETIMEDOUT, r->last_detail);
        }
    }
}

static void start_callback(dlv *r)
{
    ov_delivery *d = r->d;
    r->phase = PH_CALLBACK;
    r->round = 0;
    r->phase_start_ms = uv_now(d->loop);
    int rc = build_body(r);
    if (rc != 0) {
        snprintf(r->last_detail, sizeof r->last_detail, "callback body: %s", ov_strerror(rc));
        ov_log(OV_LOG_ERR, "callback_gave_up", "job=%s reason=\"%s\"", r->job_id, r->last_detail);
        finish(r, OV_ENOMEM, r->last_detail);
        return;
    }
    if (!ov_callback_enabled(d->cb)) {
        ov_log(OV_LOG_DEBUG, "callback_disabled", "job=%s status=%s", r->job_id,
               r->completed ? "completed" : "failed");
        finish(r, r->upload_failed ? OV_EIO : 0, r->upload_failed ? r->error_message : NULL);
        return;
    }
    callback_attempt(r);
}

static void on_callback_done(void *ctx, const ov_hc_result *res)
{
    dlv *r = ctx;
    ov_delivery *d = r->d;
    r->cb_req = NULL;
    int permanent = 0;
    char detail[200];
    int rc = ov_callback_classify(res, &permanent, detail, sizeof detail);
    if (rc == 0) {
        ov_log(OV_LOG_INFO, "callback_delivered", "job=%s status=%s attempts=%d", r->job_id,
               r->completed ? "completed" : "failed", r->round + 1);
        finish(r, r->upload_failed ? OV_EIO : 0, r->upload_failed ? r->error_message : NULL);
        return;
    }
    char esc[220];
    snprintf(r->last_detail, sizeof r->last_detail, "callback %s", detail);
    if (permanent) {
        ov_log(OV_LOG_ERR, "callback_refused", "job=%s url=%s reason=\"%s\" action=give_up", r->job_id,
               ov_callback_url(d->cb), ov_log_escape(esc, sizeof esc, detail));
        finish(r, OV_EPROTO, r->last_detail);
        return;
    }
    ov_log(OV_LOG_WARN, "callback_retry", "job=%s attempt=%d reason=\"%s\"", r->job_id, r->round + 1,
           ov_log_escape(esc, sizeof esc, detail));
    if (!schedule_retry(r, d->callback_max_age_ms)) {
        ov_log(OV_LOG_ERR, "callback_gave_up", "job=%s url=%s reason=\"%s\" retry_max_age_ms=%lld", r->job_id,
               ov_callback_url(d->cb), ov_log_escape(esc, sizeof esc, detail), (long long)d->callback_max_age_ms);
        finish(r, OV_ETIMEDOUT, r->last_detail);
    }
}

/* ---- upload phase ---- */

static void upload_failed(dlv *r, const char *detail)
{
    char esc[300];
    ov_log(OV_LOG_ERR, "upload_gave_up", "job=%s reason=\"%s\"", r->job_id, ov_log_escape(esc, sizeof esc, detail));
    size_t n = strlen(detail) + 32;
    char *msg = malloc(n);
    if (msg)
        snprintf(msg, n, "upload failed: %s", detail);
    free(r->error_message);
    r->error_message = msg;
    r->completed = 0;
    r->upload_failed = 1;
    remove_spool(r);
    start_callback(r);
}

static void on_put_done(void *ctx, int status, int permanent, const char *detail)
{
    item *it = ctx;
    dlv *r = it->r;
    r->inflight--;
    if (r->finished)
        return; /* not reached: a closed store reports nothing */
    if (status == 0) {
        it->state = IT_DONE;
    } else {
        it->state = permanent ? IT_FAILED : IT_WAIT;
        it->permanent = permanent;
        ov_str_copy(it->detail, sizeof it->detail, detail);
        char esc[220];
        ov_log(OV_LOG_WARN, "upload_attempt_failed", "job=%s object=%s/%s permanent=%d reason=\"%s\"", r->job_id,
               it->bucket, it->path, permanent, ov_log_escape(esc, sizeof esc, detail));
    }
    step(r);
}

static void upload_step(dlv *r)
{
    ov_delivery *d = r->d;
    for (int i = 0; i < r->nitems; i++) {
        item *it = &r->items[i];
        if (it->state != IT_PENDING)
            continue;
        it->state = IT_INFLIGHT;
        r->inflight++;
        int rc = ov_store_put_file(d->store, it->bucket, it->path, it->src, it->mime, on_put_done, it);
        if (rc != 0) {
            r->inflight--;
            it->permanent = rc == OV_EINVAL || rc == OV_ENOENT;
            it->state = it->permanent ? IT_FAILED : IT_WAIT;
            char why[sizeof it->detail];
            snprintf(why, sizeof why, "%s/%s: %s", it->bucket, it->path,
                     rc == OV_ENOENT ? "output file missing" : ov_strerror(rc));
            ov_str_copy(it->detail, sizeof it->detail, why);
        }
    }
    if (r->inflight > 0)
        return;
    int waiting = 0;
    for (int i = 0; i < r->nitems; i++) {
        item *it = &r->items[i];
        if (it->state == IT_FAILED && it->is_thumb) {
            /* A thumbnail that cannot be stored is dropped, not fatal. */
            it->state = IT_DROPPED;
            continue;
        }
        if (it->state == IT_FAILED) {
            upload_failed(r, it->detail);
            return;
        }
        if (it->state == IT_WAIT) {
            waiting = 1;
            ov_str_copy(r->last_detail, sizeof r->last_detail, it->detail);
        }
    }
    if (!waiting) {
        ov_log(OV_LOG_DEBUG, "upload_done", "job=%s objects=%d", r->job_id, r->nitems);
        remove_spool(r);
        start_callback(r);
        return;
    }
    if (!schedule_retry(r, d->upload_max_age_ms)) {
        char why[300];
        snprintf(why, sizeof why, "%s (gave up after %lld ms)", r->last_detail, (long long)d->upload_max_age_ms);
        upload_failed(r, why);
    }
}

/* ---- thumbnails (workspace layout) ---- */

static void thumb_run(uv_work_t *req)
{
    thumb_work *w = req->data;
    w->rc = ov_store_make_thumbnail(w->src, w->dst, w->err, sizeof w->err);
}

static void thumb_after(uv_work_t *req, int status)
{
    thumb_work *w = req->data;
    dlv *r = w->r;
    r->inflight--;
    r->thumbs_inflight--;
    if (r->finished) {
        unlink(w->dst);
        free(w);
        if (r->timer_closed && r->thumbs_inflight == 0)
            record_free(r);
        return;
    }
    if (status == 0 && w->rc == 0 && r->nitems < MAX_ITEMS) {
        char *src = strdup(w->dst);
        char tpath[OV_STORE_PATH_MAX];
        ov_store_naming nm = {OV_STORE_LAYOUT_WORKSPACE, r->job_id, r->job_type, r->user_id, NULL, r->unix_ts};
        if (src && ov_store_thumb_name(&nm, w->output, tpath, sizeof tpath) == 0) {
            item *it = &r->items[r->nitems];
            memset(it, 0, sizeof *it);
            it->r = r;
            it->src = src;
            it->is_thumb = 1;
            it->output = w->output;
            ov_str_copy(it->mime, sizeof it->mime, "image/webp");
            ov_str_copy(it->bucket, sizeof it->bucket, OV_STORE_WORKSPACE_BUCKET);
            ov_str_copy(it->path, sizeof it->path, tpath);
            it->size_bytes = -1;
            r->thumb_of[w->output] = r->nitems++;
        } else {
            free(src);
            unlink(w->dst);
        }
    } else {
        char esc[200];
        ov_log(OV_LOG_WARN, "thumbnail_failed", "job=%s output=%d reason=\"%s\"", r->job_id, w->output,
               ov_log_escape(esc, sizeof esc, status ? uv_strerror(status) : w->err));
        unlink(w->dst);
    }
    free(w);
    step(r);
}

static void thumbs_start(dlv *r)
{
    ov_delivery *d = r->d;
    r->phase = PH_UPLOAD; /* whatever happens below, uploads come next */
    if (!(d->layout == OV_STORE_LAYOUT_WORKSPACE && d->thumbnails && r->completed))
        return;
    int n = r->nitems;
    for (int i = 0; i < n; i++) {
        item *it = &r->items[i];
        if (strcmp(it->mime, "image/png") != 0)
            continue;
        thumb_work *w = calloc(1, sizeof *w);
        if (!w)
            continue;
        w->r = r;
        w->output = it->output;
        w->req.data = w;
        ov_str_copy(w->src, sizeof w->src, it->src);
        snprintf(w->dst, sizeof w->dst, "%s.thumb.webp", it->src);
        if (uv_queue_work(d->loop, &w->req, thumb_run, thumb_after) != 0) {
            free(w);
            continue;
        }
        r->inflight++;
        r->thumbs_inflight++;
    }
}

static void step(dlv *r)
{
    if (r->finished)
        return;
    switch (r->phase) {
    case PH_THUMBS:
        thumbs_start(r);
        if (r->inflight > 0)
            return; /* thumb_after steps again */
        /* fallthrough */
    case PH_UPLOAD:
        if (r->inflight > 0)
            return;
        if (!r->completed) {
            start_callback(r);
            return;
        }
        upload_step(r);
        return;
    case PH_CALLBACK:
        if (!r->cb_req)
            callback_attempt(r);
        return;
    default: return;
    }
}

static void on_start_timer(uv_timer_t *t)
{
    dlv *r = t->data;
    r->phase_start_ms = uv_now(r->d->loop);
    step(r);
}

/* ---- setup of one delivery ---- */

/* PNG width/height from the IHDR chunk (bytes 16..23). */
static void png_size(const char *path, int *w, int *h)
{
    uint8_t b[24];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, b, sizeof b);
    close(fd);
    if (n != (ssize_t)sizeof b || memcmp(b + 12, "IHDR", 4) != 0)
        return;
    uint32_t ww = (uint32_t)b[16] << 24 | (uint32_t)b[17] << 16 | (uint32_t)b[18] << 8 | b[19];
    uint32_t hh = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 | (uint32_t)b[22] << 8 | b[23];
    if (ww > 0 && hh > 0 && ww < 1u << 20 && hh < 1u << 20) {
        *w = (int)ww;
        *h = (int)hh;
    }
}

static int add_outputs(dlv *r, const ov_msg *res)
{
    ov_delivery *d = r->d;
    ov_store_naming nm = {d->layout, r->job_id, r->job_type, r->user_id, r->video_id[0] ? r->video_id : NULL,
                          r->unix_ts};
    for (uint32_t i = 0; i < res->u.result.noutputs; i++) {
        const ov_output *o = &res->u.result.outputs[i];
        if (!o->path || !*o->path)
            return OV_EINVAL;
        item *it = &r->items[r->nitems];
        it->r = r;
        it->output = (int)i;
        it->size_bytes = -1;
        it->src = strdup(o->path);
        if (!it->src)
            return OV_ENOMEM;
        r->nitems++;
        r->noutputs++;
        /* The bytes decide the Content-Type (a bucket refuses anything off its list: HTTP 415). */
        const char *mime = ov_store_sniff_file(o->path);
        if (!mime && ov_store_mime_ext(o->mime))
            mime = o->mime;
        if (mime && o->mime && *o->mime && strcmp(mime, o->mime) != 0)
            ov_log(OV_LOG_WARN, "output_mime_mismatch", "job=%s output=%u worker_says=%s content=%s", r->job_id, i,
                   o->mime, mime);
        if (!mime) {
            it->state = IT_FAILED;
            it->permanent = 1;
            snprintf(it->detail, sizeof it->detail, "output %u is not a PNG, MP4, WebP or JPEG file", i);
            continue;
        }
        ov_str_copy(it->mime, sizeof it->mime, mime);
        if (ov_store_object_name(&nm, (int)i, mime, it->bucket, sizeof it->bucket, it->path, sizeof it->path) != 0) {
            it->state = IT_FAILED;
            it->permanent = 1;
            snprintf(it->detail, sizeof it->detail, "output %u: no valid object name", i);
            continue;
        }
        struct stat sb;
        if (stat(o->path, &sb) == 0)
            it->size_bytes = (int64_t)sb.st_size;
        if (strcmp(mime, "image/png") == 0)
            png_size(o->path, &it->width, &it->height);
    }
    return 0;
}

int ov_delivery_start(ov_delivery *d, const ov_delivery_job *job, ov_delivery_done_cb done_cb, void *ctx)
{
    if (!d || d->closing || !job || !done_cb || !ov_store_id_valid(job->job_id) ||
        !ov_store_id_valid(job->user_id) || !ov_store_id_valid(job->job_type) ||
        (job->video_id && *job->video_id && !ov_store_id_valid(job->video_id)))
        return OV_EINVAL;
    if (job->completed && (!job->result || job->result->type != OV_MSG_RESULT))
        return OV_EINVAL;
    dlv *r = calloc(1, sizeof *r);
    if (!r)
        return OV_ENOMEM;
    r->d = d;
    d->records++;
    ov_str_copy(r->job_id, sizeof r->job_id, job->job_id);
    ov_str_copy(r->job_type, sizeof r->job_type, job->job_type);
    ov_str_copy(r->user_id, sizeof r->user_id, job->user_id);
    ov_str_copy(r->video_id, sizeof r->video_id, job->video_id ? job->video_id : "");
    r->completed = job->completed ? 1 : 0;
    r->unix_ts = (int64_t)time(NULL);
    r->done = done_cb;
    r->ctx = ctx;
    for (int i = 0; i < OV_IPC_OUTPUTS_MAX; i++)
        r->thumb_of[i] = -1;
    ov_buf_init(&r->body, OV_CALLBACK_BODY_MAX);
    int rc = 0;
    if (job->error_message && !(r->error_message = strdup(job->error_message)))
        rc = OV_ENOMEM;
    if (!rc && job->metadata_json && *job->metadata_json && !(r->metadata_json = strdup(job->metadata_json)))
        rc = OV_ENOMEM;
    if (!rc && r->completed) {
        if (ov_kvlist_copy(&r->meta, &job->result->u.result.meta) != 0)
            rc = OV_ENOMEM;
        else
            rc = add_outputs(r, job->result);
    }
    if (!r->completed && !r->error_message && !(r->error_message = strdup("job failed")))
        rc = OV_ENOMEM;
    if (rc != 0) {
        record_free(r);
        return rc;
    }
    uv_timer_init(d->loop, &r->timer);
    r->timer.data = r;
    r->next = d->list;
    if (d->list)
        d->list->prev = r;
    d->list = r;
    d->pending++;
    /* Everything happens on a later loop turn: done_cb is never called from inside this call. */
    uv_timer_start(&r->timer, on_start_timer, 0, 0);
    return 0;
}

/* ---- progress ("processing" callbacks, best effort) ---- */

static void on_progress_done(void *ctx, const ov_hc_result *res)
{
    progress_slot *s = ctx;
    s->req = NULL;
    if (res->status != 0 || res->http_status < 200 || res->http_status >= 300)
        ov_log(OV_LOG_DEBUG, "progress_callback_failed", "job=%s http=%ld", s->job_id, res->http_status);
}

void ov_delivery_progress(ov_delivery *d, const char *job_id, const char *job_type, double progress)
{
    if (!d || d->closing || !d->processing || !ov_callback_enabled(d->cb) || !ov_store_id_valid(job_id))
        return;
    uint64_t now = uv_now(d->loop);
    progress_slot *s = NULL, *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < PROGRESS_SLOTS; i++) {
        progress_slot *p = &d->progress[i];
        if (strcmp(p->job_id, job_id) == 0)
            s = p;
        if (!p->job_id[0] && !free_slot)
            free_slot = p;
        if (!p->req && (!oldest || p->last_ms < oldest->last_ms))
            oldest = p;
    }
    if (s && (s->req || now - s->last_ms < PROGRESS_MIN_INTERVAL_MS))
        return; /* rate limit: one in flight, at most one per interval per job */
    if (!s)
        s = free_slot ? free_slot : oldest;
    if (!s)
        return;
    ov_str_copy(s->job_id, sizeof s->job_id, job_id);
    s->last_ms = now;
    s->d = d;
    if (!s->body.max)
        ov_buf_init(&s->body, 64 * 1024);
    ov_buf_reset(&s->body);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ov_cb_body b = {.job_id = job_id,
                    .job_type = job_type && ov_store_id_valid(job_type) ? job_type : NULL,
                    .status = "processing",
                    .asset_format = d->asset_format,
                    .progress = progress < 0 ? 0 : progress > 1 ? 1 : progress,
                    .unix_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000};
    if (ov_callback_body(&b, &s->body) != 0)
        return;
    ov_callback_post(d->cb, s->body.data, s->body.len, on_progress_done, s, &s->req);
}

/* ---- service ---- */

int ov_delivery_init(ov_delivery **out, uv_loop_t *loop, const ov_config *cfg, char *err, size_t errlen)
{
    ov_delivery *d = calloc(1, sizeof *d);
    if (!d)
        return OV_ENOMEM;
    d->loop = loop;
    if (ov_store_layout_parse(cfg->storage_layout, &d->layout) != 0) {
        snprintf(err, errlen, "storage.layout: unknown value \"%s\" (legacy|workspace)", cfg->storage_layout);
        free(d);
        return OV_ECONFIG;
    }
    if (ov_callback_format_parse(cfg->callback_asset_format, &d->asset_format) != 0) {
        snprintf(err, errlen, "callback.asset_format: unknown value \"%s\" (paths|objects)",
                 cfg->callback_asset_format);
        free(d);
        return OV_ECONFIG;
    }
    d->thumbnails = cfg->storage_thumbnails;
    d->processing = cfg->callback_processing;
    d->upload_max_age_ms = cfg->storage_retry_max_age_ms;
    d->callback_max_age_ms = cfg->callback_retry_max_age_ms;
    d->backoff_initial_ms = DEFAULT_BACKOFF_INITIAL_MS;
    d->backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
    d->rng = uv_hrtime() | 1;
    int rc = ov_hc_init(&d->hc, loop);
    if (rc != 0) {
        snprintf(err, errlen, "libcurl initialisation failed");
        free(d);
        return rc;
    }
    rc = ov_store_init(&d->store, loop, d->hc, cfg, err, errlen);
    if (rc == 0)
        rc = ov_callback_init(&d->cb, d->hc, cfg, err, errlen);
    if (rc != 0) {
        if (d->store)
            ov_store_close(d->store);
        ov_hc_close(d->hc);
        free(d);
        return rc;
    }
    ov_log(OV_LOG_INFO, "delivery_ready", "storage=%s layout=%s assets=%s callback=%s", ov_store_backend_name(d->store),
           cfg->storage_layout, cfg->callback_asset_format, ov_callback_enabled(d->cb) ? ov_callback_url(d->cb) : "off");
    *out = d;
    return 0;
}

void ov_delivery_set_backoff(ov_delivery *d, int64_t initial_ms, int64_t max_ms)
{
    d->backoff_initial_ms = initial_ms > 0 ? initial_ms : 1;
    d->backoff_max_ms = max_ms >= d->backoff_initial_ms ? max_ms : d->backoff_initial_ms;
}

int ov_delivery_check_storage(ov_delivery *d, char *detail, size_t n)
{
    return ov_store_check(d->store, detail, n);
}

int ov_delivery_pending(const ov_delivery *d)
{
    return d ? d->pending : 0;
}

void ov_delivery_close(ov_delivery *d)
{
    if (!d || d->closing)
        return;
    d->closing = 1;
    if (d->pending)
        ov_log(OV_LOG_WARN, "delivery_abandoned", "pending=%d", d->pending);
    for (int i = 0; i < PROGRESS_SLOTS; i++)
        if (d->progress[i].req) {
            ov_hc_cancel(d->progress[i].req);
            d->progress[i].req = NULL;
        }
    while (d->list) {
        dlv *r = d->list;
        if (r->cb_req) {
            ov_hc_cancel(r->cb_req);
            r->cb_req = NULL;
        }
        record_retire(r);
    }
    /* Store attempts in flight end without callbacks; local writes still running hold their
     * records (inflight) until their after_work. */
    ov_store_close(d->store);
    ov_hc_close(d->hc);
    d->hc = NULL;
    maybe_free_delivery(d);
}
