/* Dispatch: hand jobs to ready workers of their kind and route ACCEPT/PROGRESS/RESULT/ERROR back. */
#include "dispatch.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "strcopy.h"
#include "common/log.h"
#include "sup.h"

static uv_idle_t wake_idle;
static int wake_armed;

static void on_wake_idle(uv_idle_t *h)
{
    ov_sup *s = h->data;
    uv_idle_stop(h);
    wake_armed = 0;
    ov_dispatch_kick(s);
}

/* The source says jobs may be waiting. Deferred to the next loop turn: the source may call this
 * from inside next()/handback(), where dispatching again would re-enter it. */
static void on_source_wake(void *ctx)
{
    ov_sup *s = ctx;
    if (wake_armed || s->draining)
        return;
    wake_armed = 1;
    uv_idle_start(&wake_idle, on_wake_idle);
}

int ov_dispatch_init(ov_sup *s)
{
    if (uv_idle_init(s->loop, &wake_idle) != 0)
        return OV_EIO;
    wake_idle.data = s;
    s->jobs->wake_cb = on_source_wake;
    s->jobs->wake_ctx = s;
    return 0;
}

void ov_dispatch_close(ov_sup *s)
{
    (void)s;
    uv_idle_stop(&wake_idle);
    uv_close((uv_handle_t *)&wake_idle, NULL);
}

static void release(ov_worker *w)
{
    w->job = NULL;
    w->cancel_sent_ms = 0;
}

/* Send `job` to w. 0, or <0 when the write failed (the job is handed back). */
static int assign(ov_worker *w, ov_job *job)
{
    ov_sup *s = w->sup;
    ov_msg m;
    ov_msg_init(&m, OV_MSG_JOB);
    m.u.job.job_id = job->id;
    m.u.job.task = job->task;
    m.u.job.params = job->params; /* borrowed: not freed here */
    ov_str_copy(job->worker, sizeof job->worker, w->name);
    job->phase[0] = '\0';
    job->progress = 0;
    job->dispatch_ack_us = -1;
    w->job = job;
    w->job_start_ms = uv_now(s->loop);
    w->cancel_sent_ms = 0;
    w->dispatch_ns = uv_hrtime();
    w->state = OV_W_BUSY;
    int rc = ov_conn_send(w->conn, &m);
    s->metrics.started++;
    if (rc != 0) {
        ov_log(OV_LOG_ERR, "dispatch_failed", "worker=%s job=%s error=%s", w->name, job->id, ov_errname(rc));
        ov_pool_kill(w, "job write failed");
        return rc;
    }
    ov_log(OV_LOG_DEBUG, "job_dispatched", "worker=%s job=%s task=%s attempt=%d", w->name, job->id, job->task,
           job->attempts);
    return 0;
}

void ov_dispatch_kick(ov_sup *s)
{
    if (s->draining)
        return;
    for (int i = 0; i < s->pool.n; i++) {
        ov_worker *w = &s->pool.workers[i];
        if (w->state != OV_W_READY || !w->conn || w->job)
            continue;
        ov_job *job = NULL;
        if (s->jobs->ops->next(s->jobs, w->kind, &job) != 1)
            continue;
        assign(w, job);
    }
}

static void count(ov_sup *s, int kind, int verdict)
{
    if (verdict == OV_JOB_REQUEUED) {
        s->metrics.retried++;
        ov_metrics_job_result(&s->metrics, kind, OV_RESULT_RETRIED);
    } else {
        s->metrics.dead++;
        ov_metrics_job_result(&s->metrics, kind, OV_RESULT_DEAD);
    }
}

void ov_dispatch_handback(ov_worker *w, const char *reason)
{
    ov_sup *s = w->sup;
    ov_job *job = w->job;
    if (!job)
        return;
    int kind = job->kind;
    char esc[300];
    ov_log(OV_LOG_WARN, "job_handback", "worker=%s job=%s attempt=%d reason=\"%s\"", w->name, job->id,
           job->attempts, ov_log_escape(esc, sizeof esc, reason));
    release(w);
    count(s, kind, s->jobs->ops->handback(s->jobs, job, reason));
}

static int job_matches(ov_worker *w, const char *id)
{
    return w->job && id && strcmp(w->job->id, id) == 0;
}

void ov_dispatch_on_msg(ov_worker *w, const ov_msg *m)
{
    ov_sup *s = w->sup;
    ov_job *job = w->job;
    const char *id = NULL;
    switch (m->type) {
    case OV_MSG_ACCEPT: id = m->u.accept.job_id; break;
    case OV_MSG_PROGRESS: id = m->u.progress.job_id; break;
    case OV_MSG_RESULT: id = m->u.result.job_id; break;
    case OV_MSG_ERROR: id = m->u.error.job_id; break;
    default: return;
    }
    if (!job_matches(w, id)) {
        /* A late frame for a job we already took back (cancel race): harmless, logged. */
        char esc[120];
        ov_log(OV_LOG_WARN, "job_frame_ignored", "worker=%s type=%s job=\"%s\"", w->name,
               ov_msg_type_name(m->type), ov_log_escape(esc, sizeof esc, id ? id : ""));
        return;
    }
    uint64_t now = uv_now(s->loop);
    switch (m->type) {
    case OV_MSG_ACCEPT:
        job->dispatch_ack_us = (int64_t)((uv_hrtime() - w->dispatch_ns) / 1000);
        ov_metrics_ack(&s->metrics, job->dispatch_ack_us);
        if (s->jobs->ops->accepted)
            s->jobs->ops->accepted(s->jobs, job);
        return;
    case OV_MSG_PROGRESS:
        ov_str_copy(job->phase, sizeof job->phase, m->u.progress.phase ? m->u.progress.phase : "");
        if (m->u.progress.total > 0) {
            double p = (double)m->u.progress.step / (double)m->u.progress.total;
            job->progress = p < 0 ? 0 : p > 1 ? 1 : p;
        }
        if (s->jobs->ops->progress)
            s->jobs->ops->progress(s->jobs, job);
        return;
    case OV_MSG_RESULT: {
        int kind = job->kind;
        double secs = (double)(now - w->job_start_ms) / 1000.0;
        ov_log(OV_LOG_INFO, "job_completed", "worker=%s job=%s outputs=%u duration_ms=%llu", w->name, job->id,
               m->u.result.noutputs, (unsigned long long)(now - w->job_start_ms));
        release(w);
        w->fail_streak = 0;
        s->jobs->ops->complete(s->jobs, job, m);
        s->metrics.completed++;
        ov_metrics_job_result(&s->metrics, kind, OV_RESULT_COMPLETED);
        ov_metrics_job_duration(&s->metrics, kind, secs);
        ov_pool_worker_idle(w);
        ov_dispatch_kick(s);
        return;
    }
    case OV_MSG_ERROR: {
        int kind = job->kind;
        char esc[300];
        ov_log(OV_LOG_WARN, "job_failed", "worker=%s job=%s code=%s retriable=%d message=\"%s\"", w->name,
               job->id, ov_errname((int)m->u.error.code), (int)m->u.error.retriable,
               ov_log_escape(esc, sizeof esc, m->u.error.message ? m->u.error.message : ""));
        release(w);
        s->metrics.failed++;
        ov_metrics_job_result(&s->metrics, kind, OV_RESULT_FAILED);
        int verdict =
            s->jobs->ops->fail(s->jobs, job, (int)m->u.error.code, m->u.error.message, m->u.error.retriable);
        count(s, kind, verdict);
        /* The runtime exits 75 after a sticky GPU error or max_consecutive_failures errors in a
         * row: do not hand that process another job. Its count, mirrored here, skips a cancel it
         * honoured (ECANCELED: a job timeout or a user cancel), which resets it like a success:
         * counting those drained and restarted healthy workers after N timeouts in a row. */
        if (m->u.error.code == OV_ECANCELED)
            w->fail_streak = 0;
        else
            w->fail_streak++;
        if (m->u.error.code == OV_EGPU)
            ov_pool_worker_expect_exit(w, "sticky GPU error");
        else if (w->fail_streak >= s->cfg.workers[w->kind].max_consecutive_failures)
            ov_pool_worker_expect_exit(w, "too many failed jobs in a row");
        else
            ov_pool_worker_idle(w);
        ov_dispatch_kick(s);
        return;
    }
    default: return;
    }
}

void ov_dispatch_tick(ov_worker *w, uint64_t now)
{
    ov_sup *s = w->sup;
    if (!w->job || w->state != OV_W_BUSY)
        return;
    int64_t limit = s->cfg.workers[w->kind].job_timeout_ms;
    if (limit <= 0 || now - w->job_start_ms <= (uint64_t)limit)
        return;
    if (!w->cancel_sent_ms) {
        ov_log(OV_LOG_WARN, "job_timeout", "worker=%s job=%s limit_ms=%lld action=cancel", w->name,
               w->job->id, (long long)limit);
        ov_msg m;
        ov_msg_init(&m, OV_MSG_CANCEL);
        m.u.cancel.job_id = w->job->id;
        if (w->conn)
            ov_conn_send(w->conn, &m);
        w->cancel_sent_ms = now;
        return;
    }
    if (now - w->cancel_sent_ms > (uint64_t)s->cfg.stop_timeout_ms)
        ov_pool_kill(w, "job timeout: cancel not honoured");
}
