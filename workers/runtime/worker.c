/* The worker main loop: connect, hello, load once, ready, serve jobs one at a time, exit cleanly. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "runtime.h"

static volatile sig_atomic_t g_term;

static void on_term(int sig)
{
    (void)sig;
    g_term = 1;
}

int64_t ov_rt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ov_rt_send(ov_worker_rt *rt, const ov_msg *m)
{
    ov_buf b;
    ov_buf_init(&b, OV_IPC_FRAME_MAX + OV_IPC_FRAME_HEADER);
    int rc = ov_msg_encode(m, &b);
    if (rc == 0) {
        pthread_mutex_lock(&rt->wlock);
        rc = atomic_load(&rt->peer_gone) ? OV_ECLOSED : ov_fd_write_all(rt->fd, b.data, b.len);
        pthread_mutex_unlock(&rt->wlock);
        if (rc != 0)
            atomic_store(&rt->peer_gone, true);
    } else {
        ov_log(OV_LOG_ERR, "ipc_encode_failed", "type=%s code=%s", ov_msg_type_name(m->type), ov_errname(rc));
    }
    ov_buf_free(&b);
    return rc;
}

int ov_rt_send_error(ov_worker_rt *rt, const char *job_id, int code, const char *message, bool retriable)
{
    ov_msg m;
    ov_msg_init(&m, OV_MSG_ERROR);
    m.u.error.job_id = (char *)(job_id ? job_id : "");
    m.u.error.code = code;
    m.u.error.message = (char *)(message ? message : "");
    m.u.error.retriable = retriable;
    return ov_rt_send(rt, &m);
}

void ov_worker_load_error(const ov_worker_env *env, const char *fmt, ...)
{
    ov_worker_rt *rt = env ? env->priv : NULL;
    if (!rt)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rt->load_error, sizeof rt->load_error, fmt, ap);
    va_end(ap);
}

/* Unit mode: connect to the supervisor's workers.sock, retrying until the deadline (the
 * supervisor may start after us). Returns the fd or a negative OV_E*. */
void ov_worker_set_vram_used(const ov_worker_env *env, int64_t bytes)
{
    ov_worker_rt *rt = env ? env->priv : NULL;
    if (rt)
        atomic_store(&rt->vram_used_bytes, bytes < 0 ? 0 : bytes);
}

bool ov_worker_service_mode(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--worker") == 0 || strcmp(a, "--ipc-fd") == 0 || strncmp(a, "--ipc-fd=", 9) == 0 ||
            strcmp(a, "--socket") == 0 || strncmp(a, "--socket=", 9) == 0)
            return true;
    }
    return false;
}

/* SIGTERM becomes a shutdown with the default deadline. Caller holds rt->lock. */
static void term_to_shutdown_locked(ov_worker_rt *rt)
{
    if (g_term && !rt->shutdown) {
        rt->shutdown = true;
        rt->shutdown_deadline_ms = ov_rt_now_ms() + rt->args.term_deadline_ms;
        pthread_cond_broadcast(&rt->cond);
        ov_log(OV_LOG_INFO, "sigterm", "deadline_ms=%lld", (long long)rt->args.term_deadline_ms);
    }
}

void ov_rt_check_term(ov_worker_rt *rt)
{
    if (!g_term)
        return;
    pthread_mutex_lock(&rt->lock);
    term_to_shutdown_locked(rt);
    pthread_mutex_unlock(&rt->lock);
}

static int connect_socket(const char *path, int64_t timeout_ms)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path)
        return OV_EINVAL;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int64_t deadline = ov_rt_now_ms() + timeout_ms;
    int64_t delay_ms = 50;
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return OV_EIO;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            return fd;
        int e = errno;
        close(fd);
        if (g_term || ov_rt_now_ms() + delay_ms > deadline)
            return e == ENOENT || e == ECONNREFUSED ? OV_ETIMEDOUT : OV_EIO;
        struct timespec ts = {(time_t)(delay_ms / 1000), (long)(delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        delay_ms = delay_ms * 2 > 1000 ? 1000 : delay_ms * 2;
    }
}

static int send_hello(ov_worker_rt *rt)
{
    ov_msg m;
    ov_msg_init(&m, OV_MSG_HELLO);
    m.u.hello.kind = rt->args.kind;
    m.u.hello.name = rt->args.name;
    m.u.hello.pid = getpid();
    m.u.hello.protocol = OV_IPC_PROTOCOL_VERSION;
    m.u.hello.model = rt->args.model;
    m.u.hello.vram_budget_bytes = rt->args.vram_budget_bytes;
    return ov_rt_send(rt, &m);
}

static void set_state(ov_worker_rt *rt, int state, const char *job_id)
{
    pthread_mutex_lock(&rt->lock);
    rt->state = state;
    snprintf(rt->current, sizeof rt->current, "%s", job_id ? job_id : "");
    pthread_mutex_unlock(&rt->lock);
}

/* Wait for the next job. Returns 1 with *job taken, 0 when the worker should exit. */
static int wait_job(ov_worker_rt *rt, ov_msg *job)
{
    pthread_mutex_lock(&rt->lock);
    for (;;) {
        term_to_shutdown_locked(rt);
        if (rt->have_pending && !atomic_load(&rt->peer_gone)) {
            *job = rt->pending;
            memset(&rt->pending, 0, sizeof rt->pending);
            rt->have_pending = false;
            rt->state = OV_RT_BUSY;
            snprintf(rt->current, sizeof rt->current, "%s", job->u.job.job_id);
            /* A cancel that arrived for the pending job applies to it; anything else is stale. */
            pthread_mutex_unlock(&rt->lock);
            return 1;
        }
        if (rt->shutdown || atomic_load(&rt->peer_gone)) {
            pthread_mutex_unlock(&rt->lock);
            return 0;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L; /* re-check g_term ten times a second */
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&rt->cond, &rt->lock, &ts);
    }
}

/* Load-phase failures that retrying cannot fix. */
static int load_error_is_fatal(int rc)
{
    return rc == OV_ECONFIG || rc == OV_ENOENT || rc == OV_EUNSUPP || rc == OV_EFORMAT || rc == OV_EBUDGET;
}

int ov_worker_main(const ov_worker_ops *ops, int argc, char **argv)
{
    static ov_worker_rt rt_storage;
    ov_worker_rt *rt = &rt_storage;
    memset(rt, 0, sizeof *rt);
    rt->ops = ops;
    rt->fd = -1;
    char err[512];
    int rc = ov_worker_args_parse(&rt->args, ops->kind, argc, argv, err, sizeof err);
    ov_log_init(rc == 0 ? rt->args.name : (ops->kind ? ops->kind : "worker"));
    if (rc != 0) {
        ov_log(OV_LOG_ERR, "bad_arguments", "error=\"%s\"", err);
        fprintf(stderr, "ourvidz worker: %s\n", err);
        return OV_EXIT_NO_RESPAWN;
    }

    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    pthread_mutex_init(&rt->wlock, NULL);
    pthread_mutex_init(&rt->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&rt->cond, &ca); /* CLOCK_REALTIME: wait_job and heartbeat use absolute times */
    pthread_condattr_destroy(&ca);

    if (rt->args.ipc_fd >= 0) {
        struct stat st;
        if (fstat(rt->args.ipc_fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
            ov_log(OV_LOG_ERR, "bad_arguments", "error=\"--ipc-fd %d is not an open socket\"",
                   rt->args.ipc_fd);
            fprintf(stderr,
                    "ourvidz worker: --ipc-fd %d is not an open socket (spawn mode needs the supervisor's "
                    "socket on that descriptor)\n",
                    rt->args.ipc_fd);
            return OV_EXIT_NO_RESPAWN;
        }
        rt->fd = rt->args.ipc_fd;
        fcntl(rt->fd, F_SETFD, FD_CLOEXEC); /* never leaks into anything a pipeline starts */
    } else {
        rt->fd = connect_socket(rt->args.socket_path, rt->args.connect_timeout_ms);
        if (rt->fd < 0) {
            ov_log(OV_LOG_ERR, "connect_failed", "socket=%s error=\"%s\"", rt->args.socket_path,
                   ov_strerror(rt->fd));
            return g_term ? OV_EXIT_OK : OV_EXIT_FAILURE;
        }
    }
    /* Every write has a deadline: a supervisor that stops reading for this long (stopped, wedged)
     * is treated as gone, so a frame write never blocks the job or heartbeat thread for good. */
    struct timeval sndto = {.tv_sec = OV_RT_WRITE_TIMEOUT_MS / 1000, .tv_usec = 0};
    setsockopt(rt->fd, SOL_SOCKET, SO_SNDTIMEO, &sndto, sizeof sndto);
    ov_log(OV_LOG_INFO, "worker_start", "kind=%s pid=%d protocol=%d model=\"%s\" vram_budget_bytes=%lld",
           rt->args.kind, (int)getpid(), OV_IPC_PROTOCOL_VERSION, rt->args.model,
           (long long)rt->args.vram_budget_bytes);
    if (send_hello(rt) != 0) {
        ov_log(OV_LOG_ERR, "hello_failed", "error=\"cannot write to the supervisor\"");
        return OV_EXIT_FAILURE;
    }

    pthread_t hb_th, rd_th;
    int have_hb = ov_rt_heartbeat_start(rt, &hb_th) == 0;
    int have_rd = ov_rt_reader_start(rt, &rd_th) == 0;
    int exit_code = OV_EXIT_OK;
    bool loaded = false;
    if (!have_hb || !have_rd) {
        ov_log(OV_LOG_ERR, "thread_failed", "error=\"cannot start the worker threads\"");
        exit_code = OV_EXIT_FAILURE;
        goto out;
    }

    /* Load the model once, before ready. */
    rt->env.kind = rt->args.kind;
    rt->env.name = rt->args.name;
    rt->env.model = rt->args.model;
    rt->env.vram_budget_bytes = rt->args.vram_budget_bytes;
    rt->env.priv = rt;
    char model_id[256] = "";
    int64_t t0 = ov_rt_now_ms();
    rc = ops->load(&rt->env, &rt->model_state, model_id, sizeof model_id);
    int64_t load_ms = ov_rt_now_ms() - t0;
    if (rc != 0) {
        if (!rt->load_error[0])
            snprintf(rt->load_error, sizeof rt->load_error, "model load failed: %s", ov_strerror(rc));
        char esc[600];
        ov_log(OV_LOG_ERR, "load_failed", "code=%s ms=%lld error=\"%s\"", ov_errname(rc), (long long)load_ms,
               ov_log_escape(esc, sizeof esc, rt->load_error));
        ov_rt_send_error(rt, "", rc, rt->load_error, !load_error_is_fatal(rc));
        exit_code = load_error_is_fatal(rc) ? OV_EXIT_NO_RESPAWN : OV_EXIT_FAILURE;
        goto out;
    }
    loaded = true;
    ov_log(OV_LOG_INFO, "model_loaded", "model=\"%s\" ms=%lld", model_id, (long long)load_ms);
    {
        ov_msg m;
        ov_msg_init(&m, OV_MSG_READY);
        m.u.ready.model = model_id;
        m.u.ready.load_ms = load_ms;
        m.u.ready.vram_used_bytes = atomic_load(&rt->vram_used_bytes);
        set_state(rt, OV_RT_IDLE, NULL);
        ov_rt_send(rt, &m);
    }

    int failures = 0;
    ov_msg job;
    while (wait_job(rt, &job)) {
        rc = ov_rt_run_job(rt, &job);
        ov_msg_free(&job);
        if (rc == OV_EGPU) {
            ov_log(OV_LOG_ERR, "gpu_error_sticky", "action=exit code=%d", OV_EXIT_UNHEALTHY);
            exit_code = OV_EXIT_UNHEALTHY;
            break;
        }
        failures = (rc == 0 || rc == OV_ECANCELED) ? 0 : failures + 1;
        if (failures >= rt->args.max_failures) {
            ov_log(OV_LOG_ERR, "unhealthy", "consecutive_failures=%d action=exit code=%d", failures,
                   OV_EXIT_UNHEALTHY);
            exit_code = OV_EXIT_UNHEALTHY;
            break;
        }
    }
    if (exit_code == OV_EXIT_OK && atomic_load(&rt->peer_gone)) {
        pthread_mutex_lock(&rt->lock);
        bool asked = rt->shutdown;
        pthread_mutex_unlock(&rt->lock);
        /* The supervisor closing after SHUTDOWN or SIGTERM is an orderly stop; without either we
         * were orphaned. */
        exit_code = asked ? OV_EXIT_OK : OV_EXIT_FAILURE;
    }

out:
    if (loaded && ops->unload)
        ops->unload(rt->model_state);
    pthread_mutex_lock(&rt->lock);
    rt->stop_threads = true;
    pthread_cond_broadcast(&rt->cond);
    pthread_mutex_unlock(&rt->lock);
    shutdown(rt->fd, SHUT_RDWR);
    if (have_hb)
        pthread_join(hb_th, NULL);
    if (have_rd)
        pthread_join(rd_th, NULL);
    pthread_mutex_lock(&rt->lock);
    if (rt->have_pending)
        ov_msg_free(&rt->pending);
    pthread_mutex_unlock(&rt->lock);
    close(rt->fd);
    ov_log(OV_LOG_INFO, "worker_stop", "exit_code=%d", exit_code);
    return exit_code;
}

int ov_worker_load_code(int rc)
{
    switch (rc) {
    case OV_ENOENT: return OV_ENOENT;
    case OV_EFORMAT:
    case OV_EUNSUPP:
    case OV_EBUDGET:
    case OV_EINVAL:
    case OV_ERANGE:
    case OV_ECONFIG: return OV_ECONFIG;
    default: return rc;
    }
}
