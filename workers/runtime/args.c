/* Worker command line: --name, --ipc-fd/--socket, --config, model, budget, spool, heartbeat. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/error.h"
#include "runtime.h"

static int copy_arg(char *dst, size_t n, const char *src, const char *flag, char *err, size_t errlen)
{
    size_t l = strlen(src);
    if (l >= n) {
        snprintf(err, errlen, "%s is too long (%zu bytes, max %zu)", flag, l, n - 1);
        return OV_EINVAL;
    }
    memcpy(dst, src, l + 1);
    return 0;
}

static int int_arg(int64_t *dst, const char *src, int64_t min, int64_t max, const char *flag, char *err,
                   size_t errlen)
{
    int64_t v;
    if (ov_parse_int64(src, &v) != 0 || v < min || v > max) {
        snprintf(err, errlen, "%s must be an integer in [%lld, %lld], not '%s'", flag, (long long)min,
                 (long long)max, src);
        return OV_EINVAL;
    }
    *dst = v;
    return 0;
}

/* Names end up in paths (the spool dir) and log fields: [A-Za-z0-9._-], not "." or "..". */
static bool safe_name(const char *s)
{
    if (!s[0] || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_' || *s == '.'))
            return false;
    return true;
}

int ov_worker_args_parse(ov_worker_args *a, const char *kind, int argc, char **argv, char *err, size_t errlen)
{
    enum {
        O_WORKER = 256,
        O_NAME,
        O_KIND,
        O_FD,
        O_SOCKET,
        O_CONFIG,
        O_MODEL,
        O_VRAM,
        O_SPOOL,
        O_HB,
        O_MAXF,
        O_CT,
        O_TD
    };
    static const struct option opts[] = {
        {"worker", no_argument, NULL, O_WORKER},
        {"name", required_argument, NULL, O_NAME},
        {"kind", required_argument, NULL, O_KIND},
        {"ipc-fd", required_argument, NULL, O_FD},
        {"socket", required_argument, NULL, O_SOCKET},
        {"config", required_argument, NULL, O_CONFIG},
        {"model", required_argument, NULL, O_MODEL},
        {"vram-budget", required_argument, NULL, O_VRAM},
        {"spool", required_argument, NULL, O_SPOOL},
        {"heartbeat-ms", required_argument, NULL, O_HB},
        {"max-failures", required_argument, NULL, O_MAXF},
        {"connect-timeout-ms", required_argument, NULL, O_CT},
        {"term-deadline-ms", required_argument, NULL, O_TD},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->ipc_fd = -1;
    a->vram_budget_bytes = -1; /* -1: not given on the command line */
    a->heartbeat_ms = -1;
    a->max_failures = -1;
    a->connect_timeout_ms = 30000;
    a->term_deadline_ms = OV_RT_DEFAULT_SHUTDOWN_MS;
    if (kind)
        snprintf(a->kind, sizeof a->kind, "%s", kind);

    int have_model = 0;
    int64_t v = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case O_WORKER: break;
        case O_NAME: rc = copy_arg(a->name, sizeof a->name, optarg, "--name", err, errlen); break;
        case O_KIND:
            if (kind && strcmp(kind, optarg) != 0) {
                snprintf(err, errlen, "--kind %s: this binary is the %s worker", optarg, kind);
                return OV_EINVAL;
            }
            rc = copy_arg(a->kind, sizeof a->kind, optarg, "--kind", err, errlen);
            break;
        case O_FD:
            rc = int_arg(&v, optarg, 0, 65535, "--ipc-fd", err, errlen);
            a->ipc_fd = (int)v;
            break;
        case O_SOCKET:
            rc = copy_arg(a->socket_path, sizeof a->socket_path, optarg, "--socket", err, errlen);
            break;
        case O_CONFIG:
            rc = copy_arg(a->config_path, sizeof a->config_path, optarg, "--config", err, errlen);
            break;
        case O_MODEL:
            rc = copy_arg(a->model, sizeof a->model, optarg, "--model", err, errlen);
            have_model = 1;
            break;
        case O_VRAM:
            rc = int_arg(&a->vram_budget_bytes, optarg, 0, INT64_MAX, "--vram-budget", err, errlen);
            break;
        case O_SPOOL: rc = copy_arg(a->spool, sizeof a->spool, optarg, "--spool", err, errlen); break;
        case O_HB: rc = int_arg(&a->heartbeat_ms, optarg, 10, 600000, "--heartbeat-ms", err, errlen); break;
        case O_MAXF:
            rc = int_arg(&v, optarg, 1, 1000, "--max-failures", err, errlen);
            a->max_failures = (int)v;
            break;
        case O_CT:
            rc = int_arg(&a->connect_timeout_ms, optarg, 0, 3600000, "--connect-timeout-ms", err, errlen);
            break;
        case O_TD:
            rc = int_arg(&a->term_deadline_ms, optarg, 0, 86400000, "--term-deadline-ms", err, errlen);
            break;
        default:
            snprintf(err, errlen, "unknown or incomplete option '%s'", argv[optind - 1]);
            return OV_EINVAL;
        }
        if (rc)
            return rc;
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
        return OV_EINVAL;
    }
    if (!a->kind[0]) {
        snprintf(err, errlen, "no worker kind (use --kind)");
        return OV_EINVAL;
    }
    if (!safe_name(a->kind) || (a->name[0] && !safe_name(a->name))) {
        snprintf(err, errlen, "--kind/--name may hold only A-Z a-z 0-9 . _ - (got kind '%s', name '%s')",
                 a->kind, a->name);
        return OV_EINVAL;
    }
    if (a->ipc_fd >= 0 && a->socket_path[0]) {
        snprintf(err, errlen, "give --ipc-fd (spawn mode) or --socket (unit mode), not both");
        return OV_EINVAL;
    }

    /* The config file supplies what the flags did not (unit mode: systemd passes --config). */
    ov_config cfg;
    char cerr[512];
    if (a->config_path[0]) {
        int rc = ov_config_load(&cfg, a->config_path, cerr, sizeof cerr);
        if (rc) {
            snprintf(err, errlen, "%s", cerr);
            return OV_ECONFIG;
        }
    } else {
        ov_config_defaults(&cfg);
        int rc = ov_config_apply_env(&cfg, cerr, sizeof cerr);
        if (rc == 0)
            rc = ov_config_validate(&cfg, cerr, sizeof cerr);
        if (rc) {
            snprintf(err, errlen, "%s", cerr);
            return OV_ECONFIG;
        }
    }
    int k;
    const ov_worker_config *wc = ov_kind_parse(a->kind, &k) == 0 ? &cfg.workers[k] : NULL;
    if (!a->name[0]) {
        int n = snprintf(a->name, sizeof a->name, "%.24s.0", a->kind);
        (void)n;
    }
    if (!have_model && wc)
        snprintf(a->model, sizeof a->model, "%s", wc->model);
    if (a->vram_budget_bytes < 0)
        a->vram_budget_bytes = wc ? wc->vram_budget_bytes : 0;
    if (a->heartbeat_ms < 0)
        a->heartbeat_ms = cfg.heartbeat_interval_ms;
    if (a->max_failures < 0)
        a->max_failures = wc ? wc->max_consecutive_failures : 3;
    if (!a->spool[0]) {
        int n = snprintf(a->spool, sizeof a->spool, "%s/spool/%s", cfg.runtime_dir, a->name);
        if (n < 0 || (size_t)n >= sizeof a->spool) {
            snprintf(err, errlen, "spool path too long");
            return OV_EINVAL;
        }
    }
    if (a->ipc_fd < 0 && !a->socket_path[0]) {
        int n = snprintf(a->socket_path, sizeof a->socket_path, "%s/workers.sock", cfg.runtime_dir);
        if (n < 0 || (size_t)n >= sizeof a->socket_path) {
            snprintf(err, errlen, "socket path too long");
            return OV_EINVAL;
        }
    }
    return 0;
}
