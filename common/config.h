/* Configuration: one INI-style file format (config/ourvidz.conf), overridable by environment. */
#ifndef OV_CONFIG_H
#define OV_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* The three worker kinds. Order is stable (used as array index and in status output). */
enum ov_worker_kind { OV_KIND_WAN = 0, OV_KIND_SDXL = 1, OV_KIND_QWEN = 2, OV_KIND_COUNT = 3 };

/* "wan" / "sdxl" / "qwen"; NULL for an out-of-range kind. */
const char *ov_kind_name(int kind);
/* Name -> kind. 0 or OV_EINVAL. */
int ov_kind_parse(const char *name, int *kind_out);

#define OV_CONFIG_PATH_MAX 512
#define OV_CONFIG_MAX_INSTANCES 8

/* [worker.<kind>] */
typedef struct ov_worker_config {
    int enabled;                          /* enabled = true|false */
    int instances;                        /* instances = 0..8 */
    int gpus[OV_CONFIG_MAX_INSTANCES];    /* gpus = 0,1 : instance i runs on gpus[i % ngpus] */
    int ngpus;                            /* 0 = leave CUDA_VISIBLE_DEVICES alone */
    int64_t vram_budget_bytes;            /* vram_budget = 20G (0 = no budget) */
    char model[OV_CONFIG_PATH_MAX];       /* model = path to the checkpoint file or folder */
    char binary[OV_CONFIG_PATH_MAX];      /* binary = executable (default: bin_dir/ourvidz-<kind>) */
    int max_consecutive_failures;         /* after this many failed jobs in a row the worker exits */
    int64_t job_timeout_ms;               /* job_timeout = 30m : a job running longer is cancelled */
} ov_worker_config;

typedef struct ov_config {
    /* [supervisor] */
    char runtime_dir[OV_CONFIG_PATH_MAX]; /* runtime_dir (env OURVIDZ_RUNTIME_DIR): sockets live here */
    char bin_dir[OV_CONFIG_PATH_MAX];     /* bin_dir: where worker binaries are found */
    char models_dir[OV_CONFIG_PATH_MAX];  /* models_dir (env OURVIDZ_MODELS_DIR) */
    char log_level[16];                   /* log_level = err|warn|notice|info|debug */
    int spawn_workers;                    /* spawn_workers = true: start workers as children */
    int64_t drain_timeout_ms;             /* drain_timeout = 10m: SIGTERM waits this long for jobs */
    int64_t stop_timeout_ms;              /* stop_timeout = 10s: then TERM -> KILL after this */
    /* [restart] */
    int64_t backoff_initial_ms;           /* backoff_initial = 1s */
    int64_t backoff_max_ms;               /* backoff_max = 60s */
    int64_t ready_reset_ms;               /* ready_reset = 60s: ready this long resets the counter */
    int crash_loop_max;                   /* crash_loop_max = 5 starts that fail ... */
    int64_t crash_loop_window_ms;         /* crash_loop_window = 5m ... within this window -> failed */
    /* [heartbeat] */
    int64_t heartbeat_interval_ms;        /* interval = 1s: workers send a heartbeat this often */
    int64_t heartbeat_timeout_starting_ms;/* timeout_starting = 30s: spawn -> hello */
    int64_t heartbeat_timeout_loading_ms; /* timeout_loading = 10m: silence allowed while loading */
    int64_t heartbeat_timeout_idle_ms;    /* timeout_idle = 10s */
    int64_t heartbeat_timeout_busy_ms;    /* timeout_busy = 60s */
    /* [worker.wan] [worker.sdxl] [worker.qwen] */
    ov_worker_config workers[OV_KIND_COUNT];

    /* [redis] — the native Redis queue (env alias REDIS_URL for url). Secrets in the URL are
     * registered with the logger by the queue module, never printed. */
    char redis_url[OV_CONFIG_PATH_MAX];   /* url = redis://[:password@]host:port/db | unix:///path */
    char redis_sdxl_queue[64];            /* sdxl_queue = sdxl_queue */
    char redis_wan_queue[64];             /* wan_queue = wan_queue */
    char redis_key_prefix[64];            /* key_prefix = ourvidz : in-flight, lease, dead-letter keys */
    int64_t redis_lease_ms;               /* lease = 60s : renewed while the job runs */
    int redis_max_attempts;               /* max_attempts = 3 */
    int64_t redis_retry_backoff_initial_ms; /* retry_backoff_initial = 10s */
    int64_t redis_retry_backoff_max_ms;   /* retry_backoff_max = 10m */
    int64_t redis_dead_letter_max;        /* dead_letter_max = 10000 entries kept */
    int64_t redis_block_timeout_ms;       /* block_timeout = 2s : blocking pops wake this often */
    int64_t redis_command_timeout_ms;     /* command_timeout = 10s */
    int64_t redis_reconnect_max_ms;       /* reconnect_max = 30s : reconnect backoff cap */
    int64_t redis_reap_interval_ms;       /* reap_interval = 5s : expired leases are reaped this often */
    /* [upstash] — REST queue; URL and token come only from UPSTASH_REDIS_REST_URL / _TOKEN. */
    int64_t upstash_poll_min_ms;          /* poll_min = 1s : idle polling backs off from here ... */
    int64_t upstash_poll_max_ms;          /* poll_max = 60s : ... to here */
    /* [storage] */
    char storage_backend[16];             /* backend = auto | local | supabase */
    char storage_dir[OV_CONFIG_PATH_MAX]; /* dir (env alias OURVIDZ_STORAGE_DIR) : local backend root */
    char storage_layout[16];              /* layout = legacy | workspace */
    int storage_thumbnails;               /* thumbnails = true : 256-px WebP (workspace layout) */
    int64_t storage_upload_timeout_ms;    /* upload_timeout = 120s per attempt */
    int64_t storage_retry_max_age_ms;     /* retry_max_age = 10m : then the job fails */
    /* [callback] — URL default {SUPABASE_URL}/functions/v1/job-callback (alias OURVIDZ_CALLBACK_URL) */
    char callback_url[OV_CONFIG_PATH_MAX];
    char callback_asset_format[16];       /* asset_format = paths | objects */
    int callback_processing;              /* processing = false : send "processing" progress callbacks */
    int64_t callback_timeout_ms;          /* timeout = 15s per attempt */
    int64_t callback_retry_max_age_ms;    /* retry_max_age = 1h : retried with backoff until then */
    /* [http] */
    int http_port;                        /* port = 0 : 0 = off */
    char http_bind[64];                   /* bind = 127.0.0.1 */
    /* [jobs] */
    char jobs_types_file[OV_CONFIG_PATH_MAX]; /* types_file = "" : "" = the embedded job-type table */
} ov_config;

/* Fill with embedded defaults (the demo runs on these). Never fails. */
void ov_config_defaults(ov_config *c);

/* Read one file over the current values. Unknown section/key or a bad value is an error whose
 * message (written to err, errlen bytes) names the file and line: "f.conf:12: unknown key ...".
 * Returns 0, OV_ENOENT (file missing), OV_ECONFIG (bad content). */
int ov_config_load_file(ov_config *c, const char *path, char *err, size_t errlen);

/* Apply OURVIDZ_<SECTION>_<KEY> environment overrides ("worker.wan" -> WORKER_WAN, so
 * OURVIDZ_WORKER_WAN_INSTANCES=2), plus the short aliases OURVIDZ_RUNTIME_DIR and
 * OURVIDZ_MODELS_DIR. A bad value is an error naming the variable. 0 or OV_ECONFIG. */
int ov_config_apply_env(ov_config *c, char *err, size_t errlen);

/* Set one key from text, as a file line would. `where` names the origin for messages.
 * 0 or OV_ECONFIG (unknown key, bad value; err filled). */
int ov_config_set(ov_config *c, const char *section, const char *key, const char *value, const char *where,
                  char *err, size_t errlen);

/* Cross-field checks (backoff_initial <= backoff_max, timeouts > interval, ...). 0 or OV_ECONFIG. */
int ov_config_validate(const ov_config *c, char *err, size_t errlen);

/* Everything in order: defaults, then `path` if not NULL (missing file is an error), then the
 * environment, then validate. */
int ov_config_load(ov_config *c, const char *path, char *err, size_t errlen);

/* Parse "10s", "250ms", "5m", "1h", or a bare number of ms. 0 or OV_EINVAL. */
int ov_parse_duration_ms(const char *s, int64_t *out);
/* Parse "20G", "512M", "64K", or a bare number of bytes (binary units). 0 or OV_EINVAL. */
int ov_parse_size_bytes(const char *s, int64_t *out);
/* Parse a base-10 int64 with nothing after it. 0, OV_EINVAL, OV_ERANGE. */
int ov_parse_int64(const char *s, int64_t *out);

#endif
