/* In-memory job source: per-kind FIFO queues, retry by requeue-at-head, bounded history. */
#include "jobs_local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/error.h"
#include "strcopy.h"
#include "common/log.h"

enum rec_state { REC_QUEUED, REC_RUNNING, REC_COMPLETED, REC_DEAD };
static const char *const rec_state_names[] = {"queued", "running", "completed", "dead"};

typedef struct rec {
    ov_job job; /* first member: ov_job* <-> rec* */
    int state;
    char error[256];
    ov_buf outputs;            /* JSON array text of output paths once completed */
    struct rec *qprev, *qnext; /* queue links while queued */
    struct rec *aprev, *anext; /* all-records list (submission order) */
} rec;

typedef struct local_src {
    ov_job_source base;
    int max_attempts;
    uint64_t next_id;
    rec *qhead[OV_KIND_COUNT], *qtail[OV_KIND_COUNT];
    int64_t qlen[OV_KIND_COUNT];
    rec *ahead, *atail;
    int64_t nfinished;
} local_src;

static void q_push_tail(local_src *s, rec *r)
{
    int k = r->job.kind;
    r->qnext = NULL;
    r->qprev = s->qtail[k];
    if (s->qtail[k])
        s->qtail[k]->qnext = r;
    else
        s->qhead[k] = r;
    s->qtail[k] = r;
    s->qlen[k]++;
}

static void q_push_head(local_src *s, rec *r)
{
    int k = r->job.kind;
    r->qprev = NULL;
    r->qnext = s->qhead[k];
    if (s->qhead[k])
        s->qhead[k]->qprev = r;
    else
        s->qtail[k] = r;
    s->qhead[k] = r;
    s->qlen[k]++;
}

static rec *q_pop_head(local_src *s, int k)
{
    rec *r = s->qhead[k];
    if (!r)
        return NULL;
    s->qhead[k] = r->qnext;
    if (s->qhead[k])
        s->qhead[k]->qprev = NULL;
    else
        s->qtail[k] = NULL;
    r->qnext = r->qprev = NULL;
    s->qlen[k]--;
    return r;
}

static void rec_free(rec *r)
{
    ov_kvlist_free(&r->job.params);
    ov_buf_free(&r->outputs);
    free(r);
}

static void all_unlink(local_src *s, rec *r)
{
    if (r->aprev)
        r->aprev->anext = r->anext;
    else
        s->ahead = r->anext;
    if (r->anext)
        r->anext->aprev = r->aprev;
    else
        s->atail = r->aprev;
}

/* A job reached a terminal state: keep it for "job <id>", dropping the oldest finished ones. */
static void finished(local_src *s)
{
    s->nfinished++;
    for (rec *r = s->ahead; r && s->nfinished > OV_JOBS_LOCAL_HISTORY;) {
        rec *nx = r->anext;
        if (r->state == REC_COMPLETED || r->state == REC_DEAD) {
            all_unlink(s, r);
            rec_free(r);
            s->nfinished--;
        }
        r = nx;
    }
}

static int l_next(ov_job_source *base, int kind, ov_job **out)
{
    local_src *s = (local_src *)base;
    if (kind < 0 || kind >= OV_KIND_COUNT)
        return OV_EINVAL;
    rec *r = q_pop_head(s, kind);
    if (!r)
        return 0;
    r->state = REC_RUNNING;
    r->job.attempts++;
    r->job.dispatch_ack_us = -1;
    r->job.phase[0] = '\0';
    r->job.progress = 0;
    *out = &r->job;
    return 1;
}

static void l_complete(ov_job_source *base, ov_job *job, const ov_msg *result)
{
    local_src *s = (local_src *)base;
    rec *r = (rec *)job;
    r->state = REC_COMPLETED;
    r->job.progress = 1.0;
    ov_buf_reset(&r->outputs);
    ov_buf_puts(&r->outputs, "[");
    if (result && result->type == OV_MSG_RESULT) {
        for (uint32_t i = 0; i < result->u.result.noutputs; i++) {
            if (i)
                ov_buf_puts(&r->outputs, ",");
            ov_json_str(&r->outputs,
                        result->u.result.outputs[i].path ? result->u.result.outputs[i].path : "");
        }
    }
    ov_buf_puts(&r->outputs, "]");
    finished(s);
}

/* Retry policy shared by fail (retriable) and handback: requeue at the head while attempts remain. */
static int requeue_or_die(local_src *s, rec *r, const char *why)
{
    ov_str_copy(r->error, sizeof r->error, why ? why : "");
    if (r->job.attempts < s->max_attempts) {
        r->state = REC_QUEUED;
        r->job.worker[0] = '\0';
        q_push_head(s, r);
        ov_job_source_wake(&s->base);
        return OV_JOB_REQUEUED;
    }
    r->state = REC_DEAD;
    finished(s);
    return OV_JOB_DEAD;
}

static int l_fail(ov_job_source *base, ov_job *job, int code, const char *message, bool retriable)
{
    local_src *s = (local_src *)base;
    rec *r = (rec *)job;
    char why[256];
    snprintf(why, sizeof why, "%s: %s", ov_errname(code), message ? message : "");
    if (!retriable) {
        ov_str_copy(r->error, sizeof r->error, why);
        r->state = REC_DEAD;
        finished(s);
        return OV_JOB_DEAD;
    }
    return requeue_or_die(s, r, why);
}

static int l_handback(ov_job_source *base, ov_job *job, const char *reason)
{
    return requeue_or_die((local_src *)base, (rec *)job, reason);
}

static int64_t l_depth(ov_job_source *base, int kind)
{
    local_src *s = (local_src *)base;
    return kind >= 0 && kind < OV_KIND_COUNT ? s->qlen[kind] : 0;
}

static const char *l_queue_name(ov_job_source *base, int kind)
{
    static const char *const names[OV_KIND_COUNT] = {"wan_local", "sdxl_local", "qwen_local"};
    return kind >= 0 && kind < OV_KIND_COUNT ? names[kind] : "unknown";
}

static int l_describe(ov_job_source *base, const char *id, ov_buf *out)
{
    local_src *s = (local_src *)base;
    rec *r = s->atail;
    for (; r; r = r->aprev)
        if (strcmp(r->job.id, id) == 0)
            break;
    if (!r)
        return OV_ENOENT;
    int rc = 0;
    rc |= ov_buf_puts(out, "{");
    rc |= ov_json_key(out, "id"), rc |= ov_json_str(out, r->job.id);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "kind"),
        rc |= ov_json_str(out, ov_kind_name(r->job.kind));
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "task"), rc |= ov_json_str(out, r->job.task);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "state"),
        rc |= ov_json_str(out, rec_state_names[r->state]);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "attempts"), rc |= ov_json_int(out, r->job.attempts);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "worker"), rc |= ov_json_str(out, r->job.worker);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "phase"), rc |= ov_json_str(out, r->job.phase);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "progress"),
        rc |= ov_json_double(out, r->job.progress);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "dispatch_ack_us");
    rc |= r->job.dispatch_ack_us >= 0 ? ov_json_int(out, r->job.dispatch_ack_us) : ov_buf_puts(out, "null");
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "error"), rc |= ov_json_str(out, r->error);
    rc |= ov_buf_puts(out, ","), rc |= ov_json_key(out, "outputs");
    rc |= ov_buf_puts(out, r->outputs.len ? r->outputs.data : "[]");
    rc |= ov_buf_puts(out, "}");
    return rc ? OV_ENOMEM : 0;
}

static int l_submit(ov_job_source *base, int kind, const char *task, const ov_kvlist *params, char *id_out,
                    size_t id_len)
{
    local_src *s = (local_src *)base;
    if (kind < 0 || kind >= OV_KIND_COUNT || !task || !*task || strlen(task) >= OV_JOB_TASK_MAX)
        return OV_EINVAL;
    if (s->qlen[kind] >= OV_JOBS_LOCAL_QUEUE_MAX)
        return OV_ENOMEM;
    rec *r = calloc(1, sizeof *r);
    if (!r)
        return OV_ENOMEM;
    if (params && ov_kvlist_copy(&r->job.params, params) != 0) {
        free(r);
        return OV_ENOMEM;
    }
    ov_buf_init(&r->outputs, 1u << 20);
    snprintf(r->job.id, sizeof r->job.id, "local-%llu", (unsigned long long)++s->next_id);
    r->job.kind = kind;
    ov_str_copy(r->job.task, sizeof r->job.task, task);
    ov_str_copy(r->job.type, sizeof r->job.type, ov_kind_name(kind));
    r->job.dispatch_ack_us = -1;
    r->state = REC_QUEUED;
    r->aprev = s->atail;
    if (s->atail)
        s->atail->anext = r;
    else
        s->ahead = r;
    s->atail = r;
    q_push_tail(s, r);
    ov_str_copy(id_out, id_len, r->job.id);
    ov_job_source_wake(&s->base);
    return 0;
}

static void l_destroy(ov_job_source *base)
{
    local_src *s = (local_src *)base;
    for (rec *r = s->ahead; r;) {
        rec *nx = r->anext;
        rec_free(r);
        r = nx;
    }
    free(s);
}

static const ov_job_source_ops local_ops = {
    .next = l_next,
    .complete = l_complete,
    .fail = l_fail,
    .handback = l_handback,
    .depth = l_depth,
    .queue_name = l_queue_name,
    .describe = l_describe,
    .submit = l_submit,
    .destroy = l_destroy,
};

int ov_jobs_local_new(int max_attempts, ov_job_source **out)
{
    local_src *s = calloc(1, sizeof *s);
    if (!s)
        return OV_ENOMEM;
    s->base.ops = &local_ops;
    s->max_attempts = max_attempts > 0 ? max_attempts : 1;
    *out = &s->base;
    return 0;
}
