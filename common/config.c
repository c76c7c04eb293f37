/* Configuration: embedded defaults, an INI-style file, OURVIDZ_* environment overrides. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "log.h"

#define OV_CONFIG_LINE_MAX 4096

static const char *const kind_names[OV_KIND_COUNT] = {"wan", "sdxl", "qwen"};

const char *ov_kind_name(int kind)
{
    return kind >= 0 && kind < OV_KIND_COUNT ? kind_names[kind] : NULL;
}

int ov_kind_parse(const char *name, int *kind_out)
{
    for (int k = 0; k < OV_KIND_COUNT; k++) {
        if (name && strcmp(name, kind_names[k]) == 0) {
            *kind_out = k;
            return 0;
        }
    }
    return OV_EINVAL;
}

/* ---- value parsers ---- */

int ov_parse_int64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return OV_EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0')
        return OV_EINVAL;
    if (errno == ERANGE)
        return OV_ERANGE;
    *out = (int64_t)v;
    return 0;
}

/* Number followed by an optional unit from `units` (name, multiplier). */
static int parse_with_units(const char *s, const char *const *names, const int64_t *mult, int nunits,
                            int64_t *out)
{
    if (!s || !*s || !isdigit((unsigned char)*s))
        return OV_EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno == ERANGE)
        return OV_ERANGE;
    int64_t m = 1;
    if (*end) {
        int found = 0;
        for (int i = 0; i < nunits; i++) {
            if (strcmp(end, names[i]) == 0) {
                m = mult[i];
                found = 1;
                break;
            }
        }
        if (!found)
            return OV_EINVAL;
    }
    if (v > (unsigned long long)(INT64_MAX / m))
        return OV_ERANGE;
    *out = (int64_t)v * m;
    return 0;
}

int ov_parse_duration_ms(const char *s, int64_t *out)
{
    static const char *const names[] = {"ms", "s", "m", "h"};
    static const int64_t mult[] = {1, 1000, 60000, 3600000};
    return parse_with_units(s, names, mult, 4, out);
}

int ov_parse_size_bytes(const char *s, int64_t *out)
{
    static const char *const names[] = {"B", "K", "M", "G", "T", "KiB", "MiB", "GiB", "TiB"};
    static const int64_t mult[] = {1, 1LL << 10, 1LL << 20, 1LL << 30, 1LL << 40,
                                   1LL << 10, 1LL << 20, 1LL << 30, 1LL << 40};
    return parse_with_units(s, names, mult, 9, out);
}

static int parse_bool(const char *s, int *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on") || !strcmp(s, "1")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off") || !strcmp(s, "0")) {
        *out = 0;
        return 0;
    }
    return OV_EINVAL;
}

/* ---- the key table ---- */

enum key_type { KT_STR, KT_BOOL, KT_INT, KT_DURATION, KT_SIZE, KT_GPUS, KT_LOGLEVEL, KT_ENUM };

typedef struct key_def {
    const char *section; /* "worker" for the per-kind sections */
    const char *key;
    int type;
    size_t off;          /* into ov_config, or into ov_worker_config for section "worker" */
    size_t size;         /* for strings */
    int64_t min, max;    /* for numbers */
    const char *help;    /* for KT_ENUM: the allowed values, '|'-separated */
} key_def;

#define C_OFF(f) offsetof(ov_config, f), sizeof(((ov_config *)0)->f)
#define W_OFF(f) offsetof(ov_worker_config, f), sizeof(((ov_worker_config *)0)->f)
#define DAY_MS (86400000LL)

static const key_def keys[] = {
    {"supervisor", "runtime_dir", KT_STR, C_OFF(runtime_dir), 0, 0, "directory for sockets"},
    {"supervisor", "bin_dir", KT_STR, C_OFF(bin_dir), 0, 0, "where worker binaries live"},
    {"supervisor", "models_dir", KT_STR, C_OFF(models_dir), 0, 0, "root of model files"},
    {"supervisor", "log_level", KT_LOGLEVEL, C_OFF(log_level), 0, 0, "err|warn|notice|info|debug"},
    {"supervisor", "spawn_workers", KT_BOOL, C_OFF(spawn_workers), 0, 1, "start workers as children"},
    {"supervisor", "drain_timeout", KT_DURATION, C_OFF(drain_timeout_ms), 0, DAY_MS, "SIGTERM grace for jobs"},
    {"supervisor", "stop_timeout", KT_DURATION, C_OFF(stop_timeout_ms), 100, 600000, "TERM -> KILL delay"},
    {"restart", "backoff_initial", KT_DURATION, C_OFF(backoff_initial_ms), 10, 3600000, "first restart delay"},
    {"restart", "backoff_max", KT_DURATION, C_OFF(backoff_max_ms), 10, DAY_MS, "restart delay cap"},
    {"restart", "ready_reset", KT_DURATION, C_OFF(ready_reset_ms), 0, DAY_MS, "ready time that resets backoff"},
    {"restart", "crash_loop_max", KT_INT, C_OFF(crash_loop_max), 1, 1000, "failed starts before giving up"},
    {"restart", "crash_loop_window", KT_DURATION, C_OFF(crash_loop_window_ms), 1000, DAY_MS, "window for it"},
    {"heartbeat", "interval", KT_DURATION, C_OFF(heartbeat_interval_ms), 10, 600000, "worker ping period"},
    {"heartbeat", "timeout_starting", KT_DURATION, C_OFF(heartbeat_timeout_starting_ms), 100, DAY_MS, "to hello"},
    {"heartbeat", "timeout_loading", KT_DURATION, C_OFF(heartbeat_timeout_loading_ms), 100, DAY_MS, "loading"},
    {"heartbeat", "timeout_idle", KT_DURATION, C_OFF(heartbeat_timeout_idle_ms), 100, DAY_MS, "idle"},
    {"heartbeat", "timeout_busy", KT_DURATION, C_OFF(heartbeat_timeout_busy_ms), 100, DAY_MS, "busy"},
    {"worker", "enabled", KT_BOOL, W_OFF(enabled), 0, 1, "run this kind"},
    {"worker", "instances", KT_INT, W_OFF(instances), 0, OV_CONFIG_MAX_INSTANCES, "processes of this kind"},
    {"worker", "gpus", KT_GPUS, W_OFF(gpus), 0, 63, "GPU index per instance"},
    {"worker", "vram_budget", KT_SIZE, W_OFF(vram_budget_bytes), 0, 1LL << 50, "device memory budget"},
    {"worker", "model", KT_STR, W_OFF(model), 0, 0, "checkpoint file or folder"},
    {"worker", "binary", KT_STR, W_OFF(binary), 0, 0, "worker executable"},
    {"worker", "max_consecutive_failures", KT_INT, W_OFF(max_consecutive_failures), 1, 1000, "then restart"},
    {"worker", "job_timeout", KT_DURATION, W_OFF(job_timeout_ms), 1000, DAY_MS, "cancel a job after this"},
    {"redis", "url", KT_STR, C_OFF(redis_url), 0, 0, "redis:// or unix:// URL"},
    {"redis", "sdxl_queue", KT_STR, C_OFF(redis_sdxl_queue), 0, 0, "list the sdxl jobs arrive on"},
    {"redis", "wan_queue", KT_STR, C_OFF(redis_wan_queue), 0, 0, "list the wan jobs arrive on"},
    {"redis", "key_prefix", KT_STR, C_OFF(redis_key_prefix), 0, 0, "prefix of our own keys"},
    {"redis", "lease", KT_DURATION, C_OFF(redis_lease_ms), 1000, DAY_MS, "in-flight lease"},
    {"redis", "max_attempts", KT_INT, C_OFF(redis_max_attempts), 1, 100, "deliveries before dead-letter"},
    {"redis", "retry_backoff_initial", KT_DURATION, C_OFF(redis_retry_backoff_initial_ms), 0, DAY_MS, "retry"},
    {"redis", "retry_backoff_max", KT_DURATION, C_OFF(redis_retry_backoff_max_ms), 0, DAY_MS, "retry cap"},
    {"redis", "dead_letter_max", KT_INT, C_OFF(redis_dead_letter_max), 1, 100000000, "dead-letter cap"},
    {"redis", "block_timeout", KT_DURATION, C_OFF(redis_block_timeout_ms), 100, 60000, "blocking pop"},
    {"redis", "command_timeout", KT_DURATION, C_OFF(redis_command_timeout_ms), 100, 600000, "per command"},
    {"redis", "reconnect_max", KT_DURATION, C_OFF(redis_reconnect_max_ms), 100, 3600000, "reconnect cap"},
    {"redis", "reap_interval", KT_DURATION, C_OFF(redis_reap_interval_ms), 100, 3600000, "lease reaper"},
    {"upstash", "poll_min", KT_DURATION, C_OFF(upstash_poll_min_ms), 10, 3600000, "idle poll start"},
    {"upstash", "poll_max", KT_DURATION, C_OFF(upstash_poll_max_ms), 10, 3600000, "idle poll cap"},
    {"storage", "backend", KT_ENUM, C_OFF(storage_backend), 0, 0, "auto|local|supabase"},
    {"storage", "dir", KT_STR, C_OFF(storage_dir), 0, 0, "local storage root"},
    {"storage", "layout", KT_ENUM, C_OFF(storage_layout), 0, 0, "legacy|workspace"},
    {"storage", "thumbnails", KT_BOOL, C_OFF(storage_thumbnails), 0, 1, "WebP thumbnails"},
    {"storage", "upload_timeout", KT_DURATION, C_OFF(storage_upload_timeout_ms), 100, DAY_MS, "per attempt"},
    {"storage", "retry_max_age", KT_DURATION, C_OFF(storage_retry_max_age_ms), 0, DAY_MS, "give up after"},
    {"callback", "url", KT_STR, C_OFF(callback_url), 0, 0, "job-callback URL"},
    {"callback", "asset_format", KT_ENUM, C_OFF(callback_asset_format), 0, 0, "paths|objects"},
    {"callback", "processing", KT_BOOL, C_OFF(callback_processing), 0, 1, "progress callbacks"},
    {"callback", "timeout", KT_DURATION, C_OFF(callback_timeout_ms), 100, 600000, "per attempt"},
    {"callback", "retry_max_age", KT_DURATION, C_OFF(callback_retry_max_age_ms), 0, 7 * DAY_MS, "give up after"},
    {"http", "port", KT_INT, C_OFF(http_port), 0, 65535, "0 = off"},
    {"http", "bind", KT_STR, C_OFF(http_bind), 0, 0, "listen address"},
    {"jobs", "types_file", KT_STR, C_OFF(jobs_types_file), 0, 0, "job-type table"},
};

static void default_runtime_dir(char *out, size_t n)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (geteuid() == 0)
        snprintf(out, n, "/run/ourvidz");
    else if (xdg && *xdg)
        snprintf(out, n, "%s/ourvidz", xdg);
    else
        snprintf(out, n, "/tmp/ourvidz-%u", (unsigned)geteuid());
}

void ov_config_defaults(ov_config *c)
{
    memset(c, 0, sizeof *c);
    default_runtime_dir(c->runtime_dir, sizeof c->runtime_dir);
    snprintf(c->bin_dir, sizeof c->bin_dir, "/usr/local/lib/ourvidz");
    snprintf(c->models_dir, sizeof c->models_dir, "/var/lib/ourvidz/models");
    snprintf(c->log_level, sizeof c->log_level, "info");
    c->spawn_workers = 1;
    c->drain_timeout_ms = 10 * 60000;
    c->stop_timeout_ms = 10000;
    c->backoff_initial_ms = 1000;
    c->backoff_max_ms = 60000;
    c->ready_reset_ms = 60000;
    c->crash_loop_max = 5;
    c->crash_loop_window_ms = 5 * 60000;
    c->heartbeat_interval_ms = 1000;
    c->heartbeat_timeout_starting_ms = 30000;
    c->heartbeat_timeout_loading_ms = 10 * 60000;
    c->heartbeat_timeout_idle_ms = 10000;
    c->heartbeat_timeout_busy_ms = 60000;
    snprintf(c->redis_sdxl_queue, sizeof c->redis_sdxl_queue, "sdxl_queue");
    snprintf(c->redis_wan_queue, sizeof c->redis_wan_queue, "wan_queue");
    snprintf(c->redis_key_prefix, sizeof c->redis_key_prefix, "ourvidz");
    c->redis_lease_ms = 60000;
    c->redis_max_attempts = 3;
    c->redis_retry_backoff_initial_ms = 10000;
    c->redis_retry_backoff_max_ms = 10 * 60000;
    c->redis_dead_letter_max = 10000;
    c->redis_block_timeout_ms = 2000;
    c->redis_command_timeout_ms = 10000;
    c->redis_reconnect_max_ms = 30000;
    c->redis_reap_interval_ms = 5000;
    c->upstash_poll_min_ms = 1000;
    c->upstash_poll_max_ms = 60000; /* keeps an idle supervisor under the 10,000 requests/day free tier */
    snprintf(c->storage_backend, sizeof c->storage_backend, "auto");
    snprintf(c->storage_dir, sizeof c->storage_dir, "/var/lib/ourvidz/storage");
    snprintf(c->storage_layout, sizeof c->storage_layout, "legacy");
    c->storage_thumbnails = 1;
    c->storage_upload_timeout_ms = 120000;
    c->storage_retry_max_age_ms = 10 * 60000;
    snprintf(c->callback_asset_format, sizeof c->callback_asset_format, "paths");
    c->callback_processing = 0;
    c->callback_timeout_ms = 15000;
    c->callback_retry_max_age_ms = 3600000;
    c->http_port = 0;
    snprintf(c->http_bind, sizeof c->http_bind, "127.0.0.1");
    for (int k = 0; k < OV_KIND_COUNT; k++) {
        ov_worker_config *w = &c->workers[k];
        w->enabled = 1;
        w->instances = 1;
        w->ngpus = 0;
        w->max_consecutive_failures = 3;
        w->job_timeout_ms = k == OV_KIND_WAN ? 60 * 60000 : 15 * 60000;
    }
}

static int errf(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t n, const char *fmt, ...)
{
    if (err && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return OV_ECONFIG;
}

/* Find the key; *target gets the struct the offset applies to. */
static const key_def *find_key(ov_config *c, const char *section, const char *key, void **target)
{
    const char *sec = section;
    void *base = c;
    if (strncmp(section, "worker.", 7) == 0) {
        int kind;
        if (ov_kind_parse(section + 7, &kind) != 0)
            return NULL;
        sec = "worker";
        base = &c->workers[kind];
    } else if (strcmp(section, "worker") == 0) {
        return NULL; /* must name a kind */
    }
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(keys[i].section, sec) == 0 && strcmp(keys[i].key, key) == 0) {
            *target = base;
            return &keys[i];
        }
    }
    return NULL;
}

static int known_section(const char *section)
{
    int kind;
    if (strncmp(section, "worker.", 7) == 0)
        return ov_kind_parse(section + 7, &kind) == 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(keys[i].section, section) == 0 && strcmp(section, "worker") != 0)
            return 1;
    return 0;
}

int ov_config_set(ov_config *c, const char *section, const char *key, const char *value, const char *where,
                  char *err, size_t errlen)
{
    void *base;
    const key_def *d = find_key(c, section, key, &base);
    if (!known_section(section))
        return errf(err, errlen, "%s: unknown section [%s]", where, section);
    if (!d)
        return errf(err, errlen, "%s: unknown key '%s' in [%s]", where, key, section);
    char *field = (char *)base + d->off;
    int64_t v = 0;
    int rc;
    switch (d->type) {
    case KT_STR:
        if (strlen(value) >= d->size)
            return errf(err, errlen, "%s: %s.%s is too long (max %zu bytes)", where, section, key, d->size - 1);
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case KT_LOGLEVEL: {
        int level;
        if (ov_log_parse_level(value, &level) != 0)
            return errf(err, errlen, "%s: %s.%s must be err|warn|notice|info|debug, not '%s'", where, section,
                        key, value);
        snprintf(field, d->size, "%s", value);
        return 0;
    }
    case KT_ENUM: {
        /* help holds "a|b|c" */
        const char *p = d->help;
        size_t vl = strlen(value);
        while (p && *p) {
            const char *bar = strchr(p, '|');
            size_t n = bar ? (size_t)(bar - p) : strlen(p);
            if (n == vl && strncmp(p, value, n) == 0 && vl < d->size) {
                memcpy(field, value, vl + 1);
                return 0;
            }
            p = bar ? bar + 1 : NULL;
        }
        return errf(err, errlen, "%s: %s.%s must be one of %s, not '%s'", where, section, key, d->help, value);
    }
    case KT_BOOL: {
        int b;
        if (parse_bool(value, &b) != 0)
            return errf(err, errlen, "%s: %s.%s must be true or false, not '%s'", where, section, key, value);
        *(int *)field = b;
        return 0;
    }
    case KT_GPUS: {
        ov_worker_config *w = base;
        int n = 0;
        const char *p = value;
        while (*p) {
            char *end;
            errno = 0;
            long g = strtol(p, &end, 10);
            if (end == p || errno || g < d->min || g > d->max)
                return errf(err, errlen, "%s: %s.%s must be a comma-separated list of GPU indexes 0..%lld, not '%s'",
                            where, section, key, (long long)d->max, value);
            if (n == OV_CONFIG_MAX_INSTANCES)
                return errf(err, errlen, "%s: %s.%s lists more than %d GPUs", where, section, key,
                            OV_CONFIG_MAX_INSTANCES);
            w->gpus[n++] = (int)g;
            p = end;
            while (*p == ' ')
                p++;
            if (*p == ',') {
                p++;
                while (*p == ' ')
                    p++;
                if (!*p)
                    return errf(err, errlen, "%s: %s.%s ends with a comma", where, section, key);
            } else if (*p) {
                return errf(err, errlen, "%s: %s.%s must be a comma-separated list of GPU indexes, not '%s'",
                            where, section, key, value);
            }
        }
        w->ngpus = n;
        return 0;
    }
    case KT_INT:
        rc = ov_parse_int64(value, &v);
        break;
    case KT_DURATION:
        rc = ov_parse_duration_ms(value, &v);
        break;
    case KT_SIZE:
        rc = ov_parse_size_bytes(value, &v);
        break;
    default:
        return errf(err, errlen, "%s: internal: bad key type", where);
    }
    if (rc != 0) {
        const char *what = d->type == KT_INT ? "an integer"
                           : d->type == KT_DURATION ? "a duration like 500ms, 10s, 5m, 1h"
                                                    : "a size like 512M, 20G";
        return errf(err, errlen, "%s: %s.%s must be %s, not '%s'", where, section, key, what, value);
    }
    if (v < d->min || v > d->max)
        return errf(err, errlen, "%s: %s.%s = %s is out of range [%lld, %lld]", where, section, key, value,
                    (long long)d->min, (long long)d->max);
    if (d->size == sizeof(int))
        *(int *)field = (int)v;
    else
        *(int64_t *)field = v;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int ov_config_load_file(ov_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return OV_ENOENT;
    }
    char line[OV_CONFIG_LINE_MAX];
    char section[64] = "";
    char where[OV_CONFIG_PATH_MAX + 32];
    int lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            rc = errf(err, errlen, "%s: line longer than %d bytes", where, OV_CONFIG_LINE_MAX - 2);
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (!end || trim(end + 1)[0] != '\0') {
                rc = errf(err, errlen, "%s: malformed section header", where);
                break;
            }
            *end = '\0';
            char *name = trim(s + 1);
            if (strlen(name) >= sizeof section || !known_section(name)) {
                rc = errf(err, errlen, "%s: unknown section [%s]", where, name);
                break;
            }
            snprintf(section, sizeof section, "%s", name);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = errf(err, errlen, "%s: expected 'key = value'", where);
            break;
        }
        *eq = '\0';
        char *key = trim(s);
        char *value = trim(eq + 1);
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = '\0';
            value++;
        }
        if (!section[0]) {
            rc = errf(err, errlen, "%s: key '%s' outside any [section]", where, key);
            break;
        }
        rc = ov_config_set(c, section, key, value, where, err, errlen);
        if (rc)
            break;
    }
    if (rc == 0 && ferror(f))
        rc = errf(err, errlen, "%s: read error", path);
    fclose(f);
    return rc;
}

/* "worker.wan" + "instances" -> "OURVIDZ_WORKER_WAN_INSTANCES". */
static void env_name(char *out, size_t n, const char *section, const char *key)
{
    snprintf(out, n, "OURVIDZ_%s_%s", section, key);
    for (char *p = out; *p; p++)
        *p = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
}

int ov_config_apply_env(ov_config *c, char *err, size_t errlen)
{
    static const struct {
        const char *env, *section, *key;
    } aliases[] = {
        {"OURVIDZ_RUNTIME_DIR", "supervisor", "runtime_dir"},
        {"OURVIDZ_MODELS_DIR", "supervisor", "models_dir"},
        {"OURVIDZ_STORAGE_DIR", "storage", "dir"},
        {"OURVIDZ_CALLBACK_URL", "callback", "url"},
        {"REDIS_URL", "redis", "url"},
    };
    char name[128], where[160];
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        const char *v = getenv(aliases[i].env);
        if (v) {
            snprintf(where, sizeof where, "environment %s", aliases[i].env);
            int rc = ov_config_set(c, aliases[i].section, aliases[i].key, v, where, err, errlen);
            if (rc)
                return rc;
        }
    }
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int nsec = strcmp(keys[i].section, "worker") == 0 ? OV_KIND_COUNT : 1;
        for (int k = 0; k < nsec; k++) {
            char section[64];
            if (nsec > 1)
                snprintf(section, sizeof section, "worker.%s", kind_names[k]);
            else
                snprintf(section, sizeof section, "%s", keys[i].section);
            env_name(name, sizeof name, section, keys[i].key);
            const char *v = getenv(name);
            if (!v)
                continue;
            snprintf(where, sizeof where, "environment %s", name);
            int rc = ov_config_set(c, section, keys[i].key, v, where, err, errlen);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int ov_config_validate(const ov_config *c, char *err, size_t errlen)
{
    if (c->backoff_initial_ms > c->backoff_max_ms)
        return errf(err, errlen, "restart.backoff_initial (%lld ms) is above restart.backoff_max (%lld ms)",
                    (long long)c->backoff_initial_ms, (long long)c->backoff_max_ms);
    const int64_t hb = c->heartbeat_interval_ms;
    const struct {
        const char *name;
        int64_t v;
    } t[] = {{"heartbeat.timeout_idle", c->heartbeat_timeout_idle_ms},
             {"heartbeat.timeout_busy", c->heartbeat_timeout_busy_ms},
             {"heartbeat.timeout_loading", c->heartbeat_timeout_loading_ms},
             {"heartbeat.timeout_starting", c->heartbeat_timeout_starting_ms}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].v < 2 * hb)
            return errf(err, errlen, "%s (%lld ms) must be at least twice heartbeat.interval (%lld ms)", t[i].name,
                        (long long)t[i].v, (long long)hb);
    if (c->runtime_dir[0] != '/')
        return errf(err, errlen, "supervisor.runtime_dir must be an absolute path, not '%s'", c->runtime_dir);
    /* sun_path is 108 bytes; the longest socket name we put there is "workers.sock". */
    if (strlen(c->runtime_dir) > 80)
        return errf(err, errlen, "supervisor.runtime_dir is too long for a Unix socket path (%zu > 80 bytes)",
                    strlen(c->runtime_dir));
    for (int k = 0; k < OV_KIND_COUNT; k++) {
        const ov_worker_config *w = &c->workers[k];
        if (w->enabled && w->ngpus > 1 && w->ngpus != w->instances)
            return errf(err, errlen, "worker.%s.gpus lists %d GPUs for %d instances (give one, or one per instance)",
                        kind_names[k], w->ngpus, w->instances);
    }
    return 0;
}

int ov_config_load(ov_config *c, const char *path, char *err, size_t errlen)
{
    ov_config_defaults(c);
    int rc;
    if (path && (rc = ov_config_load_file(c, path, err, errlen)) != 0)
        return rc;
    if ((rc = ov_config_apply_env(c, err, errlen)) != 0)
        return rc;
    /* A worker without `model =` uses <models_dir>/<kind> (what `ourvidz-mkmodel all` writes). */
    static const char *const kind_dir[OV_KIND_COUNT] = {"wan", "sdxl", "qwen"};
    for (int k = 0; k < OV_KIND_COUNT; k++) {
        ov_worker_config *wc = &c->workers[k];
        if (!wc->model[0] && c->models_dir[0]) {
            int n = snprintf(wc->model, sizeof wc->model, "%s/%s", c->models_dir, kind_dir[k]);
            if (n < 0 || (size_t)n >= sizeof wc->model) {
                snprintf(err, errlen, "models_dir too long for the %s model path", kind_dir[k]);
                return OV_ECONFIG;
            }
        }
    }
    return ov_config_validate(c, err, errlen);
}
