/* One job's run: spool directory, progress, cancellation, outputs and metadata, the outcome frame. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/log.h"
#include "runtime.h"

struct ov_job_io {
    ov_worker_rt *rt;
    const char *job_id;
    char spool_dir[OV_RT_PATH_MAX + OV_RT_JOB_ID_MAX + 2];
    ov_msg result; /* OV_MSG_RESULT being built */
    char error[512];
    bool error_set;
    bool retriable;
    int64_t last_progress_ms;
};

bool ov_rt_job_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= OV_RT_JOB_ID_MAX || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.'))
            return false;
    }
    return true;
}

bool ov_job_cancelled(const ov_job_io *io)
{
    ov_worker_rt *rt = io->rt;
    if (atomic_load(&rt->cancel) || atomic_load(&rt->peer_gone))
        return true;
    pthread_mutex_lock(&rt->lock);
    bool late = rt->shutdown && ov_rt_now_ms() > rt->shutdown_deadline_ms;
    pthread_mutex_unlock(&rt->lock);
    return late;
}

int ov_job_progress(ov_job_io *io, const char *phase, int64_t step, int64_t total)
{
    if (ov_job_cancelled(io))
        return OV_ECANCELED;
    ov_msg m;
    ov_msg_init(&m, OV_MSG_PROGRESS);
    m.u.progress.job_id = (char *)io->job_id;
    m.u.progress.phase = (char *)(phase ? phase : "");
    m.u.progress.step = step;
    m.u.progress.total = total;
    ov_rt_send(io->rt, &m);
    io->last_progress_ms = ov_rt_now_ms();
    return ov_job_cancelled(io) ? OV_ECANCELED : 0;
}

const char *ov_job_spool_dir(const ov_job_io *io)
{
    return io->spool_dir;
}

int ov_job_add_output(ov_job_io *io, const char *path, const char *mime)
{
    size_t sl = strlen(io->spool_dir);
    if (!path || !mime || strncmp(path, io->spool_dir, sl) != 0 || path[sl] != '/')
        return OV_EINVAL;
    for (const char *p = path + sl; (p = strstr(p, "/..")) != NULL; p += 3)
        if (p[3] == '/' || p[3] == '\0')
            return OV_EINVAL; /* a ".." component would leave the job's spool dir */
    return ov_msg_add_output(&io->result, path, mime);
}

ov_kvlist *ov_job_meta(ov_job_io *io)
{
    return &io->result.u.result.meta;
}

void ov_job_set_error(ov_job_io *io, bool retriable, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(io->error, sizeof io->error, fmt, ap);
    va_end(ap);
    io->error_set = true;
    io->retriable = retriable;
}

static int make_dir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return 0;
    return OV_EIO;
}

int ov_rt_run_job(ov_worker_rt *rt, ov_msg *job)
{
    ov_job_io io;
    memset(&io, 0, sizeof io);
    io.rt = rt;
    io.job_id = job->u.job.job_id;
    io.retriable = true;
    ov_msg_init(&io.result, OV_MSG_RESULT);
    int64_t t0 = ov_rt_now_ms();

    int rc;
    snprintf(io.spool_dir, sizeof io.spool_dir, "%s/%s", rt->args.spool, io.job_id);
    if (make_dir(rt->args.spool, 0750) != 0 || make_dir(io.spool_dir, 0700) != 0) {
        rc = OV_EIO;
        ov_job_set_error(&io, true, "cannot create spool directory %s: %s", io.spool_dir, strerror(errno));
    } else {
        ov_log(OV_LOG_INFO, "job_start", "job_id=%s task=%s", io.job_id, job->u.job.task);
        rc = rt->ops->run(rt->model_state, io.job_id, job->u.job.task, &job->u.job.params, &io);
    }
    int64_t ms = ov_rt_now_ms() - t0;
    /* Idle again BEFORE the outcome goes out: the supervisor dispatches the next job the moment it
     * reads RESULT/ERROR, and that job must not meet a worker that still looks busy. */
    pthread_mutex_lock(&rt->lock);
    rt->state = OV_RT_IDLE;
    rt->current[0] = '\0';
    atomic_store(&rt->cancel, false);
    pthread_mutex_unlock(&rt->lock);

    if (rc == 0) {
        io.result.u.result.job_id = strdup(io.job_id);
        if (!io.result.u.result.job_id || ov_kvlist_set_int(&io.result.u.result.meta, "worker_ms", ms) != 0) {
            rc = OV_ENOMEM;
            ov_job_set_error(&io, true, "out of memory building the result");
        } else {
            ov_rt_send(rt, &io.result);
            ov_log(OV_LOG_INFO, "job_done", "job_id=%s outputs=%u ms=%lld", io.job_id,
                   io.result.u.result.noutputs, (long long)ms);
        }
    }
    if (rc != 0) {
        if (!io.error_set)
            snprintf(io.error, sizeof io.error, "%s", rc == OV_ECANCELED ? "cancelled" : ov_strerror(rc));
        bool retriable = io.error_set ? io.retriable : true;
        ov_rt_send_error(rt, io.job_id, rc, io.error, retriable);
        char esc[600];
        ov_log(rc == OV_ECANCELED ? OV_LOG_NOTICE : OV_LOG_WARN, "job_failed",
               "job_id=%s code=%s retriable=%d ms=%lld error=\"%s\"", io.job_id, ov_errname(rc), retriable,
               (long long)ms, ov_log_escape(esc, sizeof esc, io.error));
    }
    ov_msg_free(&io.result);
    return rc;
}
