/* The OurVidz job-type table: per-type generation defaults, routing, aliases and operator caps. */
#ifndef OV_SUP_JOB_TYPES_H
#define OV_SUP_JOB_TYPES_H

#include <stdbool.h>
#include <stddef.h>

#define OV_JOB_TYPE_NAME_MAX 48 /* bytes, NUL included */
#define OV_JOB_TYPES_MAX 32
#define OV_JOB_ALIASES_MAX 32

/* What the generating stage produces. */
enum ov_job_format { OV_JOB_FORMAT_PNG = 1, OV_JOB_FORMAT_MP4 = 2 };
/* Prompt enhancement before generation (the `*7b_*_enhanced` types chain qwen first). */
enum ov_job_enhance { OV_JOB_ENHANCE_NONE = 0, OV_JOB_ENHANCE_VIDEO = 1, OV_JOB_ENHANCE_IMAGE = 2 };

/* One job type (a [type.NAME] section of config/job_types.conf). */
typedef struct ov_job_type {
    char name[OV_JOB_TYPE_NAME_MAX]; /* "sdxl_image_fast", "video7b_high_enhanced" */
    int kind;                        /* enum ov_worker_kind of the generating stage: worker = wan|sdxl */
    char task[24];                   /* task sent to that worker: task = sdxl | t2i | t2v */
    int enhance;                     /* enum ov_job_enhance: enhance = none | video | image */
    int steps;                       /* steps = 15 */
    double cfg;                      /* cfg = 6.0 */
    int width, height;               /* width = 1024, height = 1024 (multiples of 16) */
    int num_images;                  /* num_images = 1 (default per job; sdxl only honours 1/3/6) */
    int frames;                      /* frames = 1 | 81 (wan: 4n+1; sdxl: 1) */
    int fps;                         /* fps = 16 (mp4) */
    double shift;                    /* shift = 5.0 (wan sample_shift; 0 for sdxl) */
    char sampler[24];                /* sampler = euler (sdxl) | unipc (wan) */
    int format;                      /* enum ov_job_format: format = png | mp4 */
    int expected_s;                  /* expected_time = 25 : seconds, informational (metadata) */
} ov_job_type;

/* Operator limits on payload values ([caps]). */
typedef struct ov_job_caps {
    int max_prompt_bytes; /* max_prompt_bytes = 8192 (prompt and negative_prompt, UTF-8 bytes) */
    int max_steps;        /* max_steps = 150 */
    int max_width;        /* max_width = 2048 */
    int max_height;       /* max_height = 2048 */
    int max_frames;       /* max_frames = 161 */
    int max_images;       /* max_images = 6 (num_images must also be 1, 3 or 6) */
    double min_cfg;       /* min_cfg = 1.0 */
    double max_cfg;       /* max_cfg = 30.0 */
    bool allow_overrides; /* allow_overrides = true : payload steps/CFG/size/sampler/shift honoured;
                           * false = the table wins (what the July 2025 workers did); seed,
                           * num_images, frame_num and negative_prompt are always honoured */
} ov_job_caps;

/* One alias ([alias] section: `wan_video_fast = video_fast`). */
typedef struct ov_job_alias {
    char from[OV_JOB_TYPE_NAME_MAX];
    char to[OV_JOB_TYPE_NAME_MAX];
} ov_job_alias;

/* The whole table. A plain value (no heap): copy it, compare it, keep it in a struct. */
typedef struct ov_job_types {
    ov_job_type types[OV_JOB_TYPES_MAX];
    int ntypes;
    ov_job_alias aliases[OV_JOB_ALIASES_MAX];
    int naliases;
    ov_job_caps caps;
} ov_job_types;

/* The embedded table (the ten OurVidz types, the F-SEP aliases, default caps). Static storage. */
const ov_job_types *ov_job_types_default(void);

/* An empty table (no types, no aliases) with the default caps. */
void ov_job_types_init_empty(ov_job_types *t);

/* Read an INI file (config/job_types.conf format) over the current contents of t: a [type.NAME]
 * section changes an existing type or adds a new one (a new one starts from zeroes and must name
 * worker, task and format); [alias] adds or replaces aliases; [caps] sets caps. Unknown section or
 * key, a bad value, or a table that fails ov_job_types_validate(): OV_ECONFIG with "file:line: ..."
 * in err. A missing file: OV_ENOENT. On error t may be partly changed. */
int ov_job_types_load_file(ov_job_types *t, const char *path, char *err, size_t errlen);

/* The table the supervisor uses: the embedded defaults, then `path` over them when path is not
 * NULL and not "" ([jobs] types_file). 0, OV_ENOENT, OV_ECONFIG (err filled). */
int ov_job_types_load(ov_job_types *t, const char *path, char *err, size_t errlen);

/* Every type consistent with the caps and its worker (steps in 1..max_steps, sizes multiples of
 * 16 within caps, wan frames 4n+1, png <=> 1 frame, aliases point at types). 0 or OV_ECONFIG. */
int ov_job_types_validate(const ov_job_types *t, char *err, size_t errlen);

/* Find a type by name or alias (aliases resolved once). NULL when unknown. Borrowed from t. */
const ov_job_type *ov_job_types_find(const ov_job_types *t, const char *name);

/* Same types (in order), aliases and caps. On the first difference returns false and, when
 * what != NULL, describes it ("type video_fast: steps 25 != 30"). */
bool ov_job_types_equal(const ov_job_types *a, const ov_job_types *b, char *what, size_t whatlen);

/* "png" / "mp4"; "none" / "video" / "image". Static storage ("?" out of range). */
const char *ov_job_format_name(int format);
const char *ov_job_enhance_name(int enhance);

#endif
