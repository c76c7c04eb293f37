/* Worker pool: spawn or accept workers, track their states, restart with backoff, enforce deadlines. */
#include "worker_pool.h"

#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "worker_env.h"
#include "strcopy.h"
#include "common/log.h"
#include "dispatch.h"
#include "sup.h"
#include "workers/runtime/worker.h"

extern char **environ;

#define EOF_GRACE_MS 2000 /* socket closed but process alive: kill after this */

static const char *const state_names[OV_W_STATE_COUNT] = {"starting", "loading",     "ready",  "busy",
                                                          "draining", "backing-off", "failed", "stopped"};

const char *ov_worker_state_name(int state)
{
    return state >= 0 && state < OV_W_STATE_COUNT ? state_names[state] : "unknown";
}

static void set_state(ov_worker *w, int state, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_state(ov_worker *w, int state, const char *fmt, ...)
{
    int old = w->state;
    w->state = state;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->reason, sizeof w->reason, fmt, ap);
        va_end(ap);
    }
    if (old != state) {
        char esc[300];
        /* busy <-> ready happens once per job: debug, not info. */
        int quiet = (old == OV_W_BUSY && state == OV_W_READY) || (old == OV_W_READY && state == OV_W_BUSY);
        ov_log(state == OV_W_FAILED ? OV_LOG_ERR
               : quiet              ? OV_LOG_DEBUG
                                    : OV_LOG_INFO,
               "worker_state", "worker=%s pid=%lld from=%s to=%s reason=\"%s\"", w->name, (long long)w->pid,
               state_names[old], state_names[state], ov_log_escape(esc, sizeof esc, w->reason));
    }
}

int ov_pool_init(ov_sup *s)
{
    ov_pool *p = &s->pool;
    p->n = 0;
    for (int k = 0; k < OV_KIND_COUNT; k++) {
        const ov_worker_config *wc = &s->cfg.workers[k];
        if (!wc->enabled)
            continue;
        for (int i = 0; i < wc->instances && p->n < OV_POOL_MAX_WORKERS; i++) {
            ov_worker *w = &p->workers[p->n++];
            memset(w, 0, sizeof *w);
            w->sup = s;
            snprintf(w->name, sizeof w->name, "%s.%d", ov_kind_name(k), i);
            w->kind = k;
            w->index = i;
            w->gpu = wc->ngpus > 0 ? wc->gpus[i % wc->ngpus] : -1;
            w->state = OV_W_STARTING;
            ov_str_copy(w->reason, sizeof w->reason, s->unit_mode ? "waiting for the unit to connect" : "");
            ov_str_copy(w->model, sizeof w->model, wc->model);
            w->crashes.cap = s->cfg.crash_loop_max;
            w->crashes.times = calloc((size_t)w->crashes.cap, sizeof *w->crashes.times);
            if (!w->crashes.times)
                return OV_ENOMEM;
        }
    }
    return 0;
}

void ov_pool_free(ov_sup *s)
{
    for (int i = 0; i < s->pool.n; i++) {
        free(s->pool.workers[i].crashes.times);
        s->pool.workers[i].crashes.times = NULL;
    }
}

/* ---- process exit and restart policy ---- */

static void on_proc_closed(uv_handle_t *h)
{
    free(h);
}

static void describe_exit(char *out, size_t n, int64_t status, int sig)
{
    if (sig)
        snprintf(out, n, "killed by signal %d (%s)", sig, strsignal(sig));
    else
        snprintf(out, n, "exit %lld", (long long)status);
}

/* The stop ends once every worker is gone and the job source has nothing in flight (or it had
 * stop_timeout past the drain deadline to finish). */
static void check_all_gone(ov_sup *s)
{
    if (!s->stopping || ov_pool_live(s) != 0)
        return;
    int pending = s->jobs->ops->pending ? s->jobs->ops->pending(s->jobs) : 0;
    uint64_t hard = s->drain_deadline_ms + (uint64_t)s->cfg.stop_timeout_ms;
    if (pending > 0 && uv_now(s->loop) < hard)
        return;
    if (pending > 0) {
        ov_log(OV_LOG_WARN, "stop_abandons", "pending=%d reason=\"job source still busy after stop_timeout\"",
               pending);
        s->unclean = 1;
    }
    ov_sup_finish(s);
}

/* The process (spawn mode) or the connection (unit mode) is gone for good: decide what next. */
static void worker_gone(ov_worker *w, int64_t status, int sig, const char *what)
{
    ov_sup *s = w->sup;
    uint64_t now = uv_now(s->loop);
    if (w->conn) {
        ov_conn_close(w->conn);
        w->conn = NULL;
    }
    char why[300];
    if (w->kill_reason[0])
        snprintf(why, sizeof why, "%s (%s)", what, w->kill_reason);
    else
        ov_str_copy(why, sizeof why, what);
    if (w->job) {
        char hb[340];
        snprintf(hb, sizeof hb, "worker %s %s", w->name, why);
        ov_dispatch_handback(w, hb);
    }
    w->pid = 0;
    w->kill_reason[0] = '\0';
    w->cancel_sent_ms = 0;
    if (s->stopping || s->draining) {
        if (status != 0 || sig != 0)
            s->unclean = 1;
        set_state(w, OV_W_STOPPED, "%s", why);
        check_all_gone(s);
        return;
    }
    if (s->unit_mode) {
        /* systemd owns the process: wait for the unit to reconnect. */
        set_state(w, OV_W_STARTING, "%s; waiting for the unit to reconnect", why);
        w->spawn_ms = now;
        return;
    }
    if (!sig && status == OV_EXIT_NO_RESPAWN) {
        set_state(w, OV_W_FAILED, "exit 78 (misconfigured, not respawned)%s%s", w->last_error[0] ? ": " : "",
                  w->last_error);
        return;
    }
    if (w->ready_ms && now - w->ready_ms >= (uint64_t)s->cfg.ready_reset_ms) {
        w->backoff_step = 0;
        ov_crash_ring_reset(&w->crashes);
    }
    if (ov_crash_ring_record(&w->crashes, now, s->cfg.crash_loop_window_ms)) {
        set_state(w, OV_W_FAILED, "crash loop: %d failed starts within %lld s, not respawned; last: %s%s%s",
                  s->cfg.crash_loop_max, (long long)(s->cfg.crash_loop_window_ms / 1000), why,
                  w->last_error[0] ? ": " : "", w->last_error);
        return;
    }
    int64_t delay = 0;
    if (sig || status != OV_EXIT_UNHEALTHY)
        delay = ov_backoff_delay_ms(s->cfg.backoff_initial_ms, s->cfg.backoff_max_ms, w->backoff_step,
                                    (double)rand() / ((double)RAND_MAX + 1.0));
    w->backoff_step++;
    w->restart_at_ms = now + (uint64_t)delay;
    set_state(w, OV_W_BACKOFF, "%s; restarting in %lld ms", why, (long long)delay);
}

static void on_exit_cb(uv_process_t *proc, int64_t status, int sig)
{
    ov_worker *w = proc->data;
    uv_close((uv_handle_t *)proc, on_proc_closed);
    if (!w || w->proc != proc)
        return;
    w->proc = NULL;
    char what[96];
    describe_exit(what, sizeof what, status, sig);
    ov_log(status || sig ? OV_LOG_WARN : OV_LOG_INFO, "worker_exit",
           "worker=%s pid=%lld status=%lld signal=%d", w->name, (long long)w->pid, (long long)status, sig);
    worker_gone(w, status, sig, what);
}

/* ---- IPC from a named worker ---- */

static void worker_on_msg(ov_conn *c, ov_msg *m, void *ud);
static void worker_on_fail(ov_conn *c, int code, const char *why, void *ud);

void ov_pool_kill(ov_worker *w, const char *reason)
{
    ov_sup *s = w->sup;
    if (!w->kill_reason[0])
        ov_str_copy(w->kill_reason, sizeof w->kill_reason, reason);
    char esc[200];
    ov_log(OV_LOG_WARN, "worker_kill", "worker=%s pid=%lld reason=\"%s\"", w->name, (long long)w->pid,
           ov_log_escape(esc, sizeof esc, reason));
    if (w->conn) {
        ov_conn_close(w->conn);
        w->conn = NULL;
    }
    if (!s->unit_mode) {
        if (w->proc)
            uv_process_kill(w->proc, SIGKILL);
        w->stop_stage = 2;
        return;
    }
    if (w->pid > 1)
        kill((pid_t)w->pid, SIGKILL); /* systemd restarts the unit */
    worker_gone(w, 0, SIGKILL, "killed");
}

static void hello_accept(ov_worker *w, const ov_msg *m)
{
    const char *model = m->u.hello.model && *m->u.hello.model ? m->u.hello.model : w->model;
    ov_str_copy(w->model, sizeof w->model, model);
    if (w->sup->unit_mode)
        w->pid = m->u.hello.pid;
    set_state(w, OV_W_LOADING, "loading %s", w->model);
    if (w->sup->draining) {
        ov_msg sd;
        ov_msg_init(&sd, OV_MSG_SHUTDOWN);
        sd.u.shutdown.deadline_ms = w->sup->cfg.stop_timeout_ms;
        ov_conn_send(w->conn, &sd);
        w->stop_stage = 0;
        w->stop_at_ms = uv_now(w->sup->loop) + (uint64_t)w->sup->cfg.stop_timeout_ms;
        set_state(w, OV_W_DRAINING, "shutdown sent");
    }
}

static int hello_version_ok(const char *who, const ov_msg *m)
{
    if (m->u.hello.protocol == OV_IPC_PROTOCOL_VERSION)
        return 1;
    ov_log(OV_LOG_ERR, "worker_refused", "worker=%s reason=\"protocol version %lld, want %d\"", who,
           (long long)m->u.hello.protocol, OV_IPC_PROTOCOL_VERSION);
    return 0;
}

static void worker_on_msg(ov_conn *c, ov_msg *m, void *ud)
{
    ov_worker *w = ud;
    ov_sup *s = w->sup;
    uint64_t now = uv_now(s->loop);
    w->last_frame_ms = now;
    switch (m->type) {
    case OV_MSG_HELLO:
        if (w->state != OV_W_STARTING) {
            ov_pool_kill(w, "protocol violation: second hello");
            return;
        }
        if (!hello_version_ok(w->name, m)) {
            char why[96];
            snprintf(why, sizeof why, "wrong protocol version %lld (want %d)", (long long)m->u.hello.protocol,
                     OV_IPC_PROTOCOL_VERSION);
            ov_str_copy(w->last_error, sizeof w->last_error, why);
            ov_pool_kill(w, why);
            return;
        }
        hello_accept(w, m);
        return;
    case OV_MSG_READY:
        if (w->state != OV_W_LOADING) {
            if (w->state != OV_W_DRAINING)
                ov_pool_kill(w, "protocol violation: ready before hello");
            return;
        }
        if (m->u.ready.model && *m->u.ready.model)
            ov_str_copy(w->model, sizeof w->model, m->u.ready.model);
        w->vram_used_bytes = m->u.ready.vram_used_bytes;
        w->ready_ms = now;
        w->last_error[0] = '\0';
        set_state(w, OV_W_READY, "loaded in %lld ms", (long long)m->u.ready.load_ms);
        ov_dispatch_kick(s);
        return;
    case OV_MSG_HEARTBEAT: w->vram_used_bytes = m->u.heartbeat.vram_used_bytes; return;
    case OV_MSG_ERROR:
        if (!m->u.error.job_id || !*m->u.error.job_id) {
            snprintf(w->last_error, sizeof w->last_error, "%s: %s", ov_errname((int)m->u.error.code),
                     m->u.error.message ? m->u.error.message : "");
            char esc[300];
            ov_log(OV_LOG_ERR, "worker_error", "worker=%s code=%s message=\"%s\"", w->name,
                   ov_errname((int)m->u.error.code), ov_log_escape(esc, sizeof esc, w->last_error));
            return;
        }
        ov_dispatch_on_msg(w, m);
        return;
    case OV_MSG_ACCEPT:
    case OV_MSG_PROGRESS:
    case OV_MSG_RESULT: ov_dispatch_on_msg(w, m); return;
    default: {
        char why[96];
        snprintf(why, sizeof why, "protocol violation: unexpected '%s' from a worker",
                 ov_msg_type_name(m->type) ? ov_msg_type_name(m->type) : "?");
        ov_pool_kill(w, why);
        return;
    }
    }
    (void)c;
}

static void worker_on_fail(ov_conn *c, int code, const char *why, void *ud)
{
    ov_worker *w = ud;
    ov_sup *s = w->sup;
    (void)c;
    w->conn = NULL; /* closed by worker_conn right after this returns */
    char esc[260];
    ov_log(code == OV_ECLOSED ? OV_LOG_INFO : OV_LOG_ERR, "worker_conn_closed",
           "worker=%s code=%s reason=\"%s\"", w->name, ov_errname(code), ov_log_escape(esc, sizeof esc, why));
    if (code != OV_ECLOSED) {
        ov_pool_kill(w, why);
        return;
    }
    if (s->unit_mode) {
        worker_gone(w, 0, 0, "disconnected");
        return;
    }
    /* Spawn mode: the exit status decides; kill it if it lingers. */
    if (w->state != OV_W_DRAINING && w->proc) {
        w->stop_at_ms = uv_now(s->loop) + EOF_GRACE_MS;
        w->stop_stage = 1;
    }
}

/* ---- spawn mode ---- */

static int ensure_dir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return 0;
    return OV_EIO;
}

static void worker_binary(const ov_sup *s, const ov_worker *w, char *out, size_t n)
{
    const ov_worker_config *wc = &s->cfg.workers[w->kind];
    if (wc->binary[0])
        ov_str_copy(out, n, wc->binary);
    else
        snprintf(out, n, "%s/ourvidz-%s", s->cfg.bin_dir, ov_kind_name(w->kind));
}

static void spawn_failed(ov_worker *w, const char *why)
{
    ov_str_copy(w->last_error, sizeof w->last_error, why);
    worker_gone(w, 1, 0, why);
}

static void worker_spawn(ov_worker *w)
{
    ov_sup *s = w->sup;
    const ov_worker_config *wc = &s->cfg.workers[w->kind];
    char binary[OV_CONFIG_PATH_MAX + 32], spool[OV_CONFIG_PATH_MAX + 64], vram[32], hb[32], maxf[16],
        gpu_env[48];
    worker_binary(s, w, binary, sizeof binary);
    snprintf(spool, sizeof spool, "%s/spool", s->cfg.runtime_dir);
    ensure_dir(spool, 0750);
    snprintf(spool, sizeof spool, "%s/spool/%s", s->cfg.runtime_dir, w->name);
    ensure_dir(spool, 0750);
    snprintf(vram, sizeof vram, "%lld", (long long)wc->vram_budget_bytes);
    snprintf(hb, sizeof hb, "%lld", (long long)s->cfg.heartbeat_interval_ms);
    snprintf(maxf, sizeof maxf, "%d", wc->max_consecutive_failures);

    char *args[24];
    int a = 0;
    args[a++] = binary;
    args[a++] = "--worker";
    args[a++] = "--name";
    args[a++] = w->name;
    /* Always named: a product binary checks it matches its own kind; the test worker needs it. */
    args[a++] = "--kind";
    args[a++] = (char *)ov_kind_name(w->kind);
    args[a++] = "--ipc-fd";
    args[a++] = "3";
    args[a++] = "--model";
    args[a++] = (char *)wc->model;
    args[a++] = "--vram-budget";
    args[a++] = vram;
    args[a++] = "--spool";
    args[a++] = spool;
    args[a++] = "--heartbeat-ms";
    args[a++] = hb;
    args[a++] = "--max-failures";
    args[a++] = maxf;
    args[a] = NULL;

    /* Environment: ours, with CUDA_VISIBLE_DEVICES set per instance when the config names GPUs and
     * OpenBLAS's idle spin cut short (worker_env.h). */
    char **env = ov_worker_env_build(environ, w->gpu, gpu_env, sizeof gpu_env);
    if (!env) {
        spawn_failed(w, "spawn failed: out of memory");
        return;
    }

    ov_conn *c;
    if (ov_conn_new(s->loop, worker_on_msg, worker_on_fail, w, &c) != 0) {
        free(env);
        spawn_failed(w, "spawn failed: out of memory");
        return;
    }
    ov_conn_set_owner(c, worker_on_msg, worker_on_fail, w, w->name);
    uv_process_t *proc = calloc(1, sizeof *proc);
    if (!proc) {
        free(env);
        ov_conn_close(c);
        spawn_failed(w, "spawn failed: out of memory");
        return;
    }
    uv_stdio_container_t stdio[4];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = 1;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    stdio[3].flags = UV_CREATE_PIPE | UV_READABLE_PIPE | UV_WRITABLE_PIPE;
    stdio[3].data.stream = (uv_stream_t *)&c->pipe;
    uv_process_options_t opt;
    memset(&opt, 0, sizeof opt);
    opt.file = binary;
    opt.args = args;
    opt.env = env;
    opt.exit_cb = on_exit_cb;
    opt.stdio = stdio;
    opt.stdio_count = 4;
    proc->data = w;
    int rc = uv_spawn(s->loop, proc, &opt);
    free(env);
    uint64_t now = uv_now(s->loop);
    w->spawn_ms = now;
    w->last_frame_ms = now;
    w->ready_ms = 0;
    w->stop_stage = 0;
    w->stop_at_ms = 0;
    w->kill_reason[0] = '\0';
    w->fail_streak = 0;
    if (rc != 0) {
        proc->data = NULL;
        uv_close((uv_handle_t *)proc, on_proc_closed);
        ov_conn_close(c);
        char why[OV_CONFIG_PATH_MAX + 64];
        snprintf(why, sizeof why, "spawn of %s failed: %s", binary, uv_strerror(rc));
        ov_log(OV_LOG_ERR, "worker_spawn_failed", "worker=%s binary=%s error=%s", w->name, binary,
               uv_err_name(rc));
        spawn_failed(w, why);
        return;
    }
    w->proc = proc;
    w->pid = proc->pid;
    w->conn = c;
    ov_conn_start(c);
    ov_log(OV_LOG_INFO, "worker_spawned", "worker=%s pid=%lld binary=%s gpu=%d", w->name, (long long)w->pid,
           binary, w->gpu);
    set_state(w, OV_W_STARTING, "spawned");
}

/* ---- unit mode: workers.sock ---- */

static void pending_drop(ov_pending *p)
{
    if (p->conn)
        ov_conn_close(p->conn);
    p->conn = NULL;
}

static void pending_on_fail(ov_conn *c, int code, const char *why, void *ud)
{
    ov_pending *p = ud;
    (void)c;
    char esc[260];
    ov_log(OV_LOG_WARN, "worker_conn_closed", "worker=pending code=%s reason=\"%s\"", ov_errname(code),
           ov_log_escape(esc, sizeof esc, why));
    p->conn = NULL;
}

static void pending_on_msg(ov_conn *c, ov_msg *m, void *ud)
{
    ov_pending *p = ud;
    ov_sup *s = p->sup;
    if (m->type != OV_MSG_HELLO) {
        ov_log(OV_LOG_WARN, "worker_refused", "worker=pending reason=\"first frame is not hello\"");
        pending_drop(p);
        return;
    }
    const char *name = m->u.hello.name ? m->u.hello.name : "";
    char esc[80];
    ov_log_escape(esc, sizeof esc, name);
    if (!hello_version_ok(esc, m)) {
        pending_drop(p);
        return;
    }
    ov_worker *w = NULL;
    for (int i = 0; i < s->pool.n; i++)
        if (strcmp(s->pool.workers[i].name, name) == 0)
            w = &s->pool.workers[i];
    if (!w) {
        ov_log(OV_LOG_WARN, "worker_refused", "worker=\"%s\" reason=\"no such worker in the config\"", esc);
        pending_drop(p);
        return;
    }
    if (w->conn || w->state == OV_W_FAILED || w->state == OV_W_STOPPED) {
        ov_log(OV_LOG_WARN, "worker_refused", "worker=%s reason=\"%s\"", w->name,
               w->conn ? "a live connection already claims this name" : "worker is failed or stopped");
        pending_drop(p);
        return;
    }
    p->conn = NULL;
    w->conn = c;
    ov_conn_set_owner(c, worker_on_msg, worker_on_fail, w, w->name);
    w->last_frame_ms = uv_now(s->loop);
    w->spawn_ms = w->last_frame_ms; /* uptime counts from the unit's hello */
    w->kill_reason[0] = '\0';
    w->ready_ms = 0;
    w->stop_stage = 0;
    hello_accept(w, m);
}

static void on_worker_connect(uv_stream_t *server, int status)
{
    ov_sup *s = server->data;
    if (status < 0)
        return;
    ov_conn *c;
    if (ov_conn_new(s->loop, pending_on_msg, pending_on_fail, NULL, &c) != 0)
        return;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
        ov_conn_close(c);
        return;
    }
    ov_pending *p = NULL;
    for (int i = 0; i < OV_POOL_MAX_PENDING && !p; i++)
        if (!s->pool.pending[i].conn)
            p = &s->pool.pending[i];
    if (!p || s->stopping) {
        ov_log(OV_LOG_WARN, "worker_refused", "worker=pending reason=\"%s\"",
               p ? "shutting down" : "too many connections without hello");
        ov_conn_close(c);
        return;
    }
    p->conn = c;
    p->sup = s;
    p->accept_ms = uv_now(s->loop);
    ov_conn_set_owner(c, pending_on_msg, pending_on_fail, p, "pending");
    if (ov_conn_start(c) != 0)
        pending_drop(p);
}

static int listen_unit_socket(ov_sup *s)
{
    char path[OV_CONFIG_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/workers.sock", s->cfg.runtime_dir);
    unlink(path);
    ov_pool *p = &s->pool;
    uv_pipe_init(s->loop, &p->listener, 0);
    p->listener.data = s;
    int rc = uv_pipe_bind(&p->listener, path);
    if (rc == 0) {
        chmod(path, 0660);
        rc = uv_listen((uv_stream_t *)&p->listener, 64, on_worker_connect);
    }
    p->listening = 1;
    if (rc != 0) {
        ov_log(OV_LOG_ERR, "listen_failed", "path=%s error=%s", path, uv_strerror(rc));
        return OV_EIO;
    }
    ov_log(OV_LOG_INFO, "listening", "what=workers path=%s", path);
    return 0;
}

int ov_pool_start(ov_sup *s)
{
    if (s->unit_mode)
        return listen_unit_socket(s);
    for (int i = 0; i < s->pool.n; i++)
        worker_spawn(&s->pool.workers[i]);
    return 0;
}

/* ---- deadlines ---- */

static int64_t state_timeout_ms(const ov_sup *s, int state)
{
    switch (state) {
    case OV_W_STARTING: return s->cfg.heartbeat_timeout_starting_ms;
    case OV_W_LOADING: return s->cfg.heartbeat_timeout_loading_ms;
    case OV_W_READY: return s->cfg.heartbeat_timeout_idle_ms;
    case OV_W_BUSY: return s->cfg.heartbeat_timeout_busy_ms;
    default: return 0;
    }
}

static void send_shutdown(ov_worker *w, int64_t deadline_ms)
{
    ov_sup *s = w->sup;
    if (w->conn) {
        ov_msg m;
        ov_msg_init(&m, OV_MSG_SHUTDOWN);
        m.u.shutdown.deadline_ms = deadline_ms;
        ov_conn_send(w->conn, &m);
    }
    w->stop_stage = 0;
    w->stop_at_ms = uv_now(s->loop) + (uint64_t)s->cfg.stop_timeout_ms;
    set_state(w, OV_W_DRAINING, "shutdown sent");
}

static void tick_worker(ov_worker *w, uint64_t now)
{
    ov_sup *s = w->sup;
    if (w->state == OV_W_BACKOFF) {
        if (!s->draining && now >= w->restart_at_ms) {
            w->restarts++;
            worker_spawn(w);
        }
        return;
    }
    if (w->state == OV_W_FAILED || w->state == OV_W_STOPPED)
        return;
    if (s->unit_mode && !w->conn)
        return; /* waiting for the unit to connect */
    /* Escalation: draining (shutdown -> TERM -> KILL) or an EOF'd process that lingers. */
    if (w->stop_at_ms && now >= w->stop_at_ms) {
        if (w->state == OV_W_DRAINING && w->stop_stage == 0) {
            ov_log(OV_LOG_WARN, "worker_stop_escalate", "worker=%s signal=SIGTERM", w->name);
            if (w->proc)
                uv_process_kill(w->proc, SIGTERM);
            else if (w->pid > 1)
                kill((pid_t)w->pid, SIGTERM);
            w->stop_stage = 1;
            w->stop_at_ms = now + (uint64_t)s->cfg.stop_timeout_ms;
            if (s->stopping)
                s->unclean = 1;
        } else if (w->stop_stage == 1) {
            ov_log(OV_LOG_WARN, "worker_stop_escalate", "worker=%s signal=SIGKILL", w->name);
            w->stop_stage = 2;
            w->stop_at_ms = 0;
            if (s->stopping)
                s->unclean = 1;
            if (w->state == OV_W_DRAINING) {
                if (w->proc)
                    uv_process_kill(w->proc, SIGKILL);
                else if (w->pid > 1)
                    kill((pid_t)w->pid, SIGKILL);
                if (s->unit_mode)
                    worker_gone(w, 0, SIGKILL, "killed after stop_timeout");
            } else {
                ov_pool_kill(w, "socket closed but the process did not exit");
            }
        }
        return;
    }
    if (w->stop_stage == 2)
        return; /* killed: waiting for exit_cb */
    int64_t limit = state_timeout_ms(s, w->state);
    uint64_t since = w->state == OV_W_STARTING ? w->spawn_ms : w->last_frame_ms;
    if (limit > 0 && now - since > (uint64_t)limit) {
        char why[128];
        snprintf(why, sizeof why, "heartbeat timeout: silent %llu ms while %s (limit %lld ms)",
                 (unsigned long long)(now - since), state_names[w->state], (long long)limit);
        ov_pool_kill(w, why);
        return;
    }
    if (w->state == OV_W_BUSY) {
        if (s->stopping && now >= s->drain_deadline_ms) {
            send_shutdown(w, 0);
            return;
        }
        ov_dispatch_tick(w, now);
    }
}

void ov_pool_tick(ov_sup *s, uint64_t now)
{
    for (int i = 0; i < s->pool.n; i++)
        tick_worker(&s->pool.workers[i], now);
    for (int i = 0; i < OV_POOL_MAX_PENDING; i++) {
        ov_pending *p = &s->pool.pending[i];
        if (p->conn && now - p->accept_ms > (uint64_t)s->cfg.heartbeat_timeout_starting_ms) {
            ov_log(OV_LOG_WARN, "worker_refused",
                   "worker=pending reason=\"no hello within timeout_starting\"");
            pending_drop(p);
        }
    }
    check_all_gone(s);
}

void ov_pool_drain(ov_sup *s)
{
    for (int i = 0; i < s->pool.n; i++) {
        ov_worker *w = &s->pool.workers[i];
        switch (w->state) {
        case OV_W_BUSY: break; /* its job finishes first (ov_pool_worker_idle) or the deadline hits (tick) */
        case OV_W_BACKOFF:
        case OV_W_FAILED:
            if (w->state == OV_W_BACKOFF)
                set_state(w, OV_W_STOPPED, "supervisor stopped before the restart");
            break;
        case OV_W_STARTING:
        case OV_W_LOADING:
        case OV_W_READY:
            if (s->unit_mode && !w->conn) {
                set_state(w, OV_W_STOPPED, "supervisor stopped");
                break;
            }
            send_shutdown(w, s->cfg.stop_timeout_ms);
            break;
        default: break;
        }
    }
    check_all_gone(s);
}

void ov_pool_worker_idle(ov_worker *w)
{
    ov_sup *s = w->sup;
    if (s->draining) {
        send_shutdown(w, s->cfg.stop_timeout_ms);
        return;
    }
    set_state(w, OV_W_READY, "%s", "");
}

void ov_pool_worker_expect_exit(ov_worker *w, const char *why)
{
    w->stop_stage = 0;
    w->stop_at_ms = uv_now(w->sup->loop) + (uint64_t)w->sup->cfg.stop_timeout_ms;
    set_state(w, OV_W_DRAINING, "%s: waiting for it to exit", why);
}

int ov_pool_live(const ov_sup *s)
{
    int n = 0;
    for (int i = 0; i < s->pool.n; i++) {
        const ov_worker *w = &s->pool.workers[i];
        if (w->proc || (s->unit_mode && w->conn))
            n++;
    }
    return n;
}

void ov_pool_close(ov_sup *s)
{
    for (int i = 0; i < OV_POOL_MAX_PENDING; i++)
        pending_drop(&s->pool.pending[i]);
    for (int i = 0; i < s->pool.n; i++) {
        ov_worker *w = &s->pool.workers[i];
        if (w->conn) {
            ov_conn_close(w->conn);
            w->conn = NULL;
        }
    }
    if (s->pool.listening) {
        uv_close((uv_handle_t *)&s->pool.listener, NULL);
        s->pool.listening = 0;
        char path[OV_CONFIG_PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/workers.sock", s->cfg.runtime_dir);
        unlink(path);
    }
}
