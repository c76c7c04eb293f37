/* ourvidz-supervisor: load config, start the worker pool, status socket and signals, run the loop. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "dispatch.h"
#include "jobs_local.h"
#include "notify.h"
#include "http_enhance.h"
#include "http_sup.h"
#include "queue_redis.h"
#include "queue_upstash_src.h"
#include "signals.h"
#include "status.h"
#include "sup.h"

#define EXIT_CONFIG 78 /* EX_CONFIG: systemd RestartPreventExitStatus= */
#define LOCAL_MAX_ATTEMPTS 3

static int ready_notified;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ourvidz-supervisor [--config PATH] [--spawn-workers | --unit-mode] [--runtime-dir DIR]\n"
            "  --config PATH      configuration file (default: none, embedded defaults + environment)\n"
            "  --spawn-workers    start and restart the workers as children (overrides the config)\n"
            "  --unit-mode        workers are systemd units connecting to <runtime_dir>/workers.sock\n"
            "  --runtime-dir DIR  where status.sock and workers.sock live (env OURVIDZ_RUNTIME_DIR)\n");
}

/* mkdir -p with mode for the last component; parents get 0755. 0 or OV_EIO. */
static int make_dirs(const char *path, mode_t mode)
{
    char buf[OV_CONFIG_PATH_MAX];
    size_t l = strlen(path);
    if (l >= sizeof buf)
        return OV_EIO;
    memcpy(buf, path, l + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return OV_EIO;
        *p = '/';
    }
    if (mkdir(buf, mode) != 0 && errno != EEXIST)
        return OV_EIO;
    return 0;
}

static void notify_periodic(ov_sup *s, uint64_t now)
{
    if (!ready_notified && !s->draining) {
        int pending = 0;
        for (int i = 0; i < s->pool.n; i++)
            pending += s->pool.workers[i].state == OV_W_STARTING || s->pool.workers[i].state == OV_W_LOADING;
        if (!pending || s->unit_mode) {
            ready_notified = 1;
            ov_notify("READY=1");
            ov_log(OV_LOG_INFO, "supervisor_ready", "workers=%d", s->pool.n);
        }
    }
    int64_t wd_us = ov_notify_watchdog_usec();
    uint64_t period = wd_us > 0 ? (uint64_t)(wd_us / 2000) : 5000;
    if (period > 5000)
        period = 5000;
    if (now - s->last_notify_ms >= period) {
        s->last_notify_ms = now;
        char line[300], summary[256];
        ov_status_summary(s, summary, sizeof summary);
        snprintf(line, sizeof line, "STATUS=%s%s", summary, wd_us > 0 ? "\nWATCHDOG=1" : "");
        ov_notify(line);
    }
}

/* The health-check path: every worker deadline is checked here, and the watchdog ping rides on it. */
static void on_tick(uv_timer_t *t)
{
    ov_sup *s = t->data;
    uint64_t now = uv_now(s->loop);
    ov_pool_tick(s, now);
    if (!s->done)
        notify_periodic(s, now);
}

void ov_sup_begin_drain(ov_sup *s, int fast)
{
    uint64_t now = uv_now(s->loop);
    if (!s->draining) {
        s->draining = 1;
        s->stopping = 1;
        s->drain_deadline_ms = now + (fast ? 0 : (uint64_t)s->cfg.drain_timeout_ms);
        ov_notify("STOPPING=1\nSTATUS=draining");
        ov_log(OV_LOG_NOTICE, "drain_begin", "drain_timeout_ms=%lld", (long long)s->cfg.drain_timeout_ms);
        ov_pool_drain(s);
        return;
    }
    if (fast) {
        s->drain_deadline_ms = now;
        for (int i = 0; i < s->pool.n; i++) {
            ov_worker *w = &s->pool.workers[i];
            if (w->state == OV_W_DRAINING && w->stop_stage == 0)
                w->stop_at_ms = now;
        }
    }
}

void ov_sup_finish(ov_sup *s)
{
    if (s->done)
        return;
    s->done = 1;
    ov_log(OV_LOG_NOTICE, "supervisor_stopped", "clean=%d completed=%lld", !s->unclean,
           (long long)s->metrics.completed);
    uv_timer_stop(&s->tick);
    uv_close((uv_handle_t *)&s->tick, NULL);
    ov_signals_close();
    ov_status_close(s);
    ov_http_sup_close(s->http);
    s->http = NULL;
    ov_pool_close(s);
    ov_dispatch_close(s);
    if (s->jobs->ops->close)
        s->jobs->ops->close(s->jobs);
}

int main(int argc, char **argv)
{
    uv_disable_stdio_inheritance();
    ov_log_init("supervisor");
    const char *config_path = NULL, *runtime_dir = NULL;
    int force_spawn = 0, force_unit = 0;
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"spawn-workers", no_argument, 0, 's'},
                                         {"unit-mode", no_argument, 0, 'u'},
                                         {"runtime-dir", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {"version", no_argument, 0, 'V'},
                                         {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "c:sur:hV", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': config_path = optarg; break;
        case 's': force_spawn = 1; break;
        case 'u': force_unit = 1; break;
        case 'r': runtime_dir = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("ourvidz-supervisor %s\n", OV_SUP_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || (force_spawn && force_unit)) {
        usage(stderr);
        return 2;
    }

    static ov_sup sup; /* large (pool array): static storage */
    ov_sup *s = &sup;
    char err[512];
    int rc = ov_config_load(&s->cfg, config_path, err, sizeof err);
    if (rc == 0 && runtime_dir)
        rc = ov_config_set(&s->cfg, "supervisor", "runtime_dir", runtime_dir, "--runtime-dir", err,
                           sizeof err);
    if (rc == 0 && (force_spawn || force_unit))
        rc = ov_config_set(&s->cfg, "supervisor", "spawn_workers", force_spawn ? "true" : "false",
                           "command line", err, sizeof err);
    if (rc == 0)
        rc = ov_config_validate(&s->cfg, err, sizeof err);
    if (rc != 0) {
        if (rc == OV_ENOENT)
            snprintf(err, sizeof err, "%s: cannot read the config file", config_path);
        fprintf(stderr, "ourvidz-supervisor: configuration error: %s\n", err);
        ov_log(OV_LOG_ERR, "config_refused", "error=\"%s\"", err);
        return EXIT_CONFIG;
    }
    int level;
    if (!getenv("OURVIDZ_LOG_LEVEL") && ov_log_parse_level(s->cfg.log_level, &level) == 0)
        ov_log_set_level(level);
    s->unit_mode = !s->cfg.spawn_workers;
    if (make_dirs(s->cfg.runtime_dir, 0750) != 0) {
        fprintf(stderr, "ourvidz-supervisor: cannot create runtime dir %s: %s\n", s->cfg.runtime_dir,
                strerror(errno));
        return 1;
    }
    srand((unsigned)time(NULL) ^ (unsigned)getpid());

    s->loop = uv_default_loop();
    s->start_ms = uv_now(s->loop);
    ov_delivery *dlv = NULL; /* owned by the Redis source; borrowed by /health */
    /* Upstash REST when there is no [redis] url and both UPSTASH_REDIS_REST_* are set. */
    const char *up_url = getenv("UPSTASH_REDIS_REST_URL"), *up_token = getenv("UPSTASH_REDIS_REST_TOKEN");
    int upstash = !s->cfg.redis_url[0] && up_url && *up_url && up_token && *up_token;
    if (s->cfg.redis_url[0] || upstash) {
        /* Redis (or Upstash) job source (issue 3); the local source otherwise. */
        rc = ov_delivery_init(&dlv, s->loop, &s->cfg, err, sizeof err);
        if (rc == 0 && upstash)
            rc = ov_queue_upstash_new(s->loop, &s->cfg, up_url, up_token, dlv, &s->jobs, err, sizeof err);
        else if (rc == 0)
            rc = ov_queue_redis_new(s->loop, &s->cfg, dlv, &s->jobs, err, sizeof err);
        if (rc != 0) {
            fprintf(stderr, "ourvidz-supervisor: job source: %s\n", err);
            ov_log(OV_LOG_ERR, "config_refused", "error=\"%s\"", err);
            return rc == OV_ECONFIG ? EXIT_CONFIG : 1;
        }
    }
    if (!s->jobs && ov_jobs_local_new(LOCAL_MAX_ATTEMPTS, &s->jobs) != 0) {
        fprintf(stderr, "ourvidz-supervisor: startup failed (out of memory)\n");
        return 1;
    }
    /* /enhance jobs go to the qwen workers ahead of queued work: the wrapper must sit between the
     * job source and the dispatcher. */
    if (s->cfg.http_port > 0 && ov_enhance_source_wrap(s->jobs, &s->jobs) != 0) {
        fprintf(stderr, "ourvidz-supervisor: startup failed (out of memory)\n");
        return 1;
    }
    if (ov_pool_init(s) != 0 || ov_dispatch_init(s) != 0 || ov_signals_start(s) != 0) {
        fprintf(stderr, "ourvidz-supervisor: startup failed (out of memory or libuv error)\n");
        return 1;
    }
    if (ov_status_start(s) != 0 || ov_pool_start(s) != 0) {
        fprintf(stderr, "ourvidz-supervisor: cannot listen under %s (see log)\n", s->cfg.runtime_dir);
        return 1;
    }
    rc = ov_http_sup_start(s, dlv, NULL, NULL, &s->http, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "ourvidz-supervisor: http: %s\n", err);
        ov_log(OV_LOG_ERR, "http_refused", "error=\"%s\"", err);
        return rc == OV_ECONFIG ? EXIT_CONFIG : 1;
    }
    uv_timer_init(s->loop, &s->tick);
    s->tick.data = s;
    uv_timer_start(&s->tick, on_tick, OV_SUP_TICK_MS, OV_SUP_TICK_MS);
    ov_log(OV_LOG_NOTICE, "supervisor_started", "version=%s pid=%d mode=%s workers=%d runtime_dir=%s",
           OV_SUP_VERSION, (int)getpid(), s->unit_mode ? "unit" : "spawn", s->pool.n, s->cfg.runtime_dir);

    uv_run(s->loop, UV_RUN_DEFAULT);

    s->jobs->ops->destroy(s->jobs);
    ov_pool_free(s);
    int close_rc = uv_loop_close(s->loop);
    if (close_rc != 0)
        ov_log(OV_LOG_WARN, "loop_close", "error=%s", uv_err_name(close_rc));
    return 0; /* a stop that had to kill workers is logged (clean=0), not an exit failure */
}
