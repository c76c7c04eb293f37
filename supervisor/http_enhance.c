/* /enhance jobs through the dispatcher: a job-source decorator with its own small qwen queue. */
#include "http_enhance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/error.h"
#include "strcopy.h"

typedef struct ejob {
    ov_job job; /* first: ov_job* <-> ejob* */
    uint64_t token;
    ov_http_enhance_done done;
    void *req; /* NULL once cancelled */
    int running;
    struct ejob *prev, *next;
} ejob;

typedef struct wrap {
    ov_job_source base;
    ov_job_source *inner;
    ejob *head, *tail; /* waiting */
    int nwait;
    ejob *running;     /* list (via next/prev) of dispatched ones */
    uint64_t next_token;
} wrap;

static void unlink_job(ejob **head, ejob **tail, ejob *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        *head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else if (tail)
        *tail = j->prev;
    j->prev = j->next = NULL;
}

static void ejob_free(ejob *j)
{
    ov_kvlist_free(&j->job.params);
    free(j);
}

/* Is job one of ours? (Dispatched ones are on the running list.) */
static ejob *ours(wrap *w, ov_job *job)
{
    for (ejob *j = w->running; j; j = j->next)
        if (&j->job == job)
            return j;
    return NULL;
}

static void inner_wake(void *ctx)
{
    ov_job_source_wake(ctx);
}

static int w_next(ov_job_source *s, int kind, ov_job **out)
{
    wrap *w = (wrap *)s;
    if (kind == OV_KIND_QWEN && w->head) {
        ejob *j = w->head;
        unlink_job(&w->head, &w->tail, j);
        w->nwait--;
        j->running = 1;
        j->job.attempts++;
        j->next = w->running;
        if (w->running)
            w->running->prev = j;
        w->running = j;
        *out = &j->job;
        return 1;
    }
    return w->inner->ops->next(w->inner, kind, out);
}

static void w_accepted(ov_job_source *s, ov_job *job)
{
    wrap *w = (wrap *)s;
    if (!ours(w, job) && w->inner->ops->accepted)
        w->inner->ops->accepted(w->inner, job);
}

static void w_progress(ov_job_source *s, ov_job *job)
{
    wrap *w = (wrap *)s;
    if (!ours(w, job) && w->inner->ops->progress)
        w->inner->ops->progress(w->inner, job);
}

static void end(wrap *w, ejob *j, int status, const char *prompt, const char *error)
{
    unlink_job(&w->running, NULL, j);
    if (j->req)
        j->done(j->req, status, prompt, error);
    ejob_free(j);
}

static void w_complete(ov_job_source *s, ov_job *job, const ov_msg *result)
{
    wrap *w = (wrap *)s;
    ejob *j = ours(w, job);
    if (!j) {
        w->inner->ops->complete(w->inner, job, result);
        return;
    }
    const char *p = NULL, *why = NULL;
    if (result && ov_kvlist_get_str(&result->u.result.meta, "enhanced_prompt", &p) == 0 && p)
        end(w, j, 0, p, NULL);
    else if (result && ov_kvlist_get_str(&result->u.result.meta, "fallback_reason", &why) == 0 && why && *why)
        end(w, j, OV_EIO, NULL, why); /* the enhancer fell back to the original prompt, saying why */
    else
        end(w, j, OV_EPROTO, NULL, "the worker returned no enhanced_prompt");
}

static int w_fail(ov_job_source *s, ov_job *job, int code, const char *message, bool retriable)
{
    wrap *w = (wrap *)s;
    ejob *j = ours(w, job);
    if (!j)
        return w->inner->ops->fail(w->inner, job, code, message, retriable);
    end(w, j, code < 0 ? code : OV_EIO, NULL, message && *message ? message : "enhancement failed");
    return OV_JOB_DEAD; /* the HTTP caller has a deadline: no queue-level retry */
}

static int w_handback(ov_job_source *s, ov_job *job, const char *reason)
{
    wrap *w = (wrap *)s;
    ejob *j = ours(w, job);
    if (!j)
        return w->inner->ops->handback(w->inner, job, reason);
    if (j->job.attempts < 2 && j->req) {
        unlink_job(&w->running, NULL, j);
        j->running = 0;
        j->next = w->head;
        if (w->head)
            w->head->prev = j;
        else
            w->tail = j;
        w->head = j;
        w->nwait++;
        ov_job_source_wake(s);
        return OV_JOB_REQUEUED;
    }
    end(w, j, OV_EIO, NULL, reason && *reason ? reason : "worker lost");
    return OV_JOB_DEAD;
}

static int64_t w_depth(ov_job_source *s, int kind)
{
    wrap *w = (wrap *)s;
    int64_t d = w->inner->ops->depth ? w->inner->ops->depth(w->inner, kind) : 0;
    return d + (kind == OV_KIND_QWEN ? w->nwait : 0);
}

static const char *w_queue_name(ov_job_source *s, int kind)
{
    wrap *w = (wrap *)s;
    return w->inner->ops->queue_name ? w->inner->ops->queue_name(w->inner, kind) : "unknown";
}

static int w_describe(ov_job_source *s, const char *id, ov_buf *out)
{
    wrap *w = (wrap *)s;
    return w->inner->ops->describe ? w->inner->ops->describe(w->inner, id, out) : OV_ENOENT;
}

static int w_submit(ov_job_source *s, int kind, const char *task, const ov_kvlist *params, char *id_out,
                    size_t id_len)
{
    wrap *w = (wrap *)s;
    return w->inner->ops->submit ? w->inner->ops->submit(w->inner, kind, task, params, id_out, id_len) : OV_EUNSUPP;
}

static int w_pending(ov_job_source *s)
{
    wrap *w = (wrap *)s;
    return w->inner->ops->pending ? w->inner->ops->pending(w->inner) : 0;
}

static void w_close(ov_job_source *s)
{
    wrap *w = (wrap *)s;
    if (w->inner->ops->close)
        w->inner->ops->close(w->inner);
}

static void w_destroy(ov_job_source *s)
{
    wrap *w = (wrap *)s;
    for (ejob *j = w->head, *nx; j; j = nx) {
        nx = j->next;
        ejob_free(j);
    }
    for (ejob *j = w->running, *nx; j; j = nx) {
        nx = j->next;
        ejob_free(j);
    }
    w->inner->ops->destroy(w->inner);
    free(w);
}

static const ov_job_source_ops wrap_ops = {
    .next = w_next,
    .accepted = w_accepted,
    .progress = w_progress,
    .complete = w_complete,
    .fail = w_fail,
    .handback = w_handback,
    .depth = w_depth,
    .queue_name = w_queue_name,
    .describe = w_describe,
    .submit = w_submit,
    .pending = w_pending,
    .close = w_close,
    .destroy = w_destroy,
};

int ov_enhance_source_wrap(ov_job_source *inner, ov_job_source **out)
{
    wrap *w = calloc(1, sizeof *w);
    if (!w)
        return OV_ENOMEM;
    w->base.ops = &wrap_ops;
    w->inner = inner;
    inner->wake_cb = inner_wake;
    inner->wake_ctx = &w->base;
    *out = &w->base;
    return 0;
}

int ov_enhance_submit(ov_job_source *s, const char *prompt, const char *enhance_type, ov_http_enhance_done done,
                      void *req, uint64_t *token)
{
    wrap *w = (wrap *)s;
    if (!s || s->ops != &wrap_ops || !prompt || !*prompt || !done || !req)
        return OV_EINVAL;
    if (w->nwait >= OV_ENHANCE_QUEUE_MAX)
        return OV_EBUSY;
    ejob *j = calloc(1, sizeof *j);
    if (!j)
        return OV_ENOMEM;
    if (ov_kvlist_set_str(&j->job.params, "prompt", prompt) != 0 ||
        ov_kvlist_set_str(&j->job.params, "enhance_type", enhance_type ? enhance_type : "base") != 0) {
        ejob_free(j);
        return OV_ENOMEM;
    }
    j->token = ++w->next_token;
    snprintf(j->job.id, sizeof j->job.id, "enhance-%llu", (unsigned long long)j->token);
    j->job.kind = OV_KIND_QWEN;
    ov_str_copy(j->job.type, sizeof j->job.type, "enhance");
    ov_str_copy(j->job.task, sizeof j->job.task, OV_ENHANCE_TASK);
    j->job.dispatch_ack_us = -1;
    j->done = done;
    j->req = req;
    j->prev = w->tail;
    if (w->tail)
        w->tail->next = j;
    else
        w->head = j;
    w->tail = j;
    w->nwait++;
    *token = j->token;
    ov_job_source_wake(s);
    return 0;
}

void ov_enhance_cancel(ov_job_source *s, uint64_t token)
{
    wrap *w = (wrap *)s;
    if (!s || s->ops != &wrap_ops)
        return;
    for (ejob *j = w->head; j; j = j->next)
        if (j->token == token) {
            unlink_job(&w->head, &w->tail, j);
            w->nwait--;
            ejob_free(j);
            return;
        }
    for (ejob *j = w->running; j; j = j->next)
        if (j->token == token) {
            j->req = NULL;
            return;
        }
}
