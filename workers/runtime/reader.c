/* Reader thread: frames from the supervisor (JOB, CANCEL, SHUTDOWN); ACCEPT is sent on receipt. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "runtime.h"

static void peer_lost(ov_worker_rt *rt, const char *why)
{
    if (!atomic_exchange(&rt->peer_gone, true))
        ov_log(OV_LOG_WARN, "supervisor_lost", "reason=\"%s\"", why);
    atomic_store(&rt->cancel, true);
    pthread_mutex_lock(&rt->lock);
    pthread_cond_broadcast(&rt->cond);
    pthread_mutex_unlock(&rt->lock);
}

/* A JOB frame: take it if idle, else refuse it (retriable). Takes ownership of *m on success. */
static void on_job(ov_worker_rt *rt, ov_msg *m)
{
    const char *id = m->u.job.job_id;
    if (!ov_rt_job_id_valid(id)) {
        ov_rt_send_error(rt, id, OV_EINVAL, "invalid job id (allowed: A-Z a-z 0-9 . _ -, 1..95 bytes)",
                         false);
        ov_msg_free(m);
        return;
    }
    pthread_mutex_lock(&rt->lock);
    const char *refuse = NULL;
    if (rt->shutdown)
        refuse = "worker is shutting down";
    else if (rt->state == OV_RT_LOADING)
        refuse = "worker is still loading its model";
    else if (rt->have_pending || rt->current[0])
        refuse = "worker is busy with another job";
    if (refuse) {
        pthread_mutex_unlock(&rt->lock);
        ov_rt_send_error(rt, id, OV_EBUSY, refuse, true);
        ov_msg_free(m);
        return;
    }
    rt->pending = *m;
    memset(m, 0, sizeof *m);
    rt->have_pending = true;
    /* The dispatch acknowledgement goes out before the job starts (and before the main thread can
     * send progress for it), still under the lock so the order is fixed. */
    ov_msg ack;
    ov_msg_init(&ack, OV_MSG_ACCEPT);
    ack.u.accept.job_id = rt->pending.u.job.job_id;
    ov_rt_send(rt, &ack);
    pthread_cond_broadcast(&rt->cond);
    pthread_mutex_unlock(&rt->lock);
}

static void *reader_main(void *arg)
{
    ov_worker_rt *rt = arg;
    ov_frame_reader r;
    ov_frame_reader_init(&r, OV_IPC_FRAME_MAX);
    for (;;) {
        pthread_mutex_lock(&rt->lock);
        bool stop = rt->stop_threads;
        pthread_mutex_unlock(&rt->lock);
        if (stop)
            break;
        ov_rt_check_term(rt);
        uint8_t *payload = NULL;
        size_t len = 0;
        int rc = ov_frame_read_fd(rt->fd, &r, 250, &payload, &len);
        if (rc == OV_ETIMEDOUT)
            continue;
        if (rc != 1) {
            peer_lost(rt, rc == OV_ECLOSED ? "connection closed" : ov_strerror(rc));
            break;
        }
        ov_msg m;
        char err[256];
        rc = ov_msg_decode(payload, len, &m, err, sizeof err);
        free(payload);
        if (rc != 0) {
            char esc[300];
            ov_log(OV_LOG_ERR, "ipc_bad_frame", "error=\"%s\"", ov_log_escape(esc, sizeof esc, err));
            peer_lost(rt, "malformed frame from the supervisor");
            break;
        }
        switch (m.type) {
        case OV_MSG_JOB: on_job(rt, &m); break;
        case OV_MSG_CANCEL:
            pthread_mutex_lock(&rt->lock);
            if (rt->current[0] && strcmp(rt->current, m.u.cancel.job_id) == 0) {
                atomic_store(&rt->cancel, true);
                ov_log(OV_LOG_NOTICE, "job_cancel_requested", "job_id=%s", rt->current);
            } else if (rt->have_pending && strcmp(rt->pending.u.job.job_id, m.u.cancel.job_id) == 0) {
                atomic_store(&rt->cancel, true);
            }
            pthread_mutex_unlock(&rt->lock);
            break;
        case OV_MSG_SHUTDOWN:
            pthread_mutex_lock(&rt->lock);
            rt->shutdown = true;
            rt->shutdown_deadline_ms =
                ov_rt_now_ms() +
                (m.u.shutdown.deadline_ms > 0 ? m.u.shutdown.deadline_ms : OV_RT_DEFAULT_SHUTDOWN_MS);
            pthread_cond_broadcast(&rt->cond);
            pthread_mutex_unlock(&rt->lock);
            ov_log(OV_LOG_INFO, "shutdown_requested", "deadline_ms=%lld",
                   (long long)m.u.shutdown.deadline_ms);
            break;
        default: ov_log(OV_LOG_WARN, "ipc_unexpected", "type=%s", ov_msg_type_name(m.type)); break;
        }
        ov_msg_free(&m);
    }
    ov_frame_reader_free(&r);
    return NULL;
}

int ov_rt_reader_start(ov_worker_rt *rt, pthread_t *th)
{
    return pthread_create(th, NULL, reader_main, rt) == 0 ? 0 : -1;
}
