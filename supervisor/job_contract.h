/* The OurVidz job contract: parse and validate one queued job's JSON, and plan its stages. */
#ifndef OV_SUP_JOB_CONTRACT_H
#define OV_SUP_JOB_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "ipc/message.h"
#include "job_types.h"

#define OV_JOB_SAFE_ID_MAX 64     /* id, user_id, video_id, image_id: 1..64 of [A-Za-z0-9_-] */
#define OV_JOB_RAW_MAX (1u << 20) /* a payload over 1 MiB is refused unread (OV_EFORMAT) */
#define OV_JOB_STAGES_MAX 2
#define OV_JOB_STAGE_TASK_MAX 24

/* One stage of a job's plan: which worker pool runs it, the task string, the worker's params.
 *
 * Params by task (all keys always present unless marked optional):
 *   "enhance" (qwen): prompt (str), mode (str "video" | "image")
 *   "sdxl"    (sdxl): prompt, negative_prompt (optional str), steps (int), cfg (float),
 *                     sampler (str euler | euler_a | dpmpp_2m | dpmpp_2m_karras), width, height,
 *                     count (int 1|3|6), seed (int: image i uses seed + i), format ("png"),
 *                     compel_weights (optional str, only when compel_enabled),
 *                     reference_image_url, reference_strength, reference_type, denoise_strength,
 *                     pipeline, resize_policy (optional, passed through for image-to-image)
 *   "t2i" / "t2v" (wan): prompt, negative_prompt (optional), steps, cfg, solver (unipc | dpm++),
 *                     shift (float), width, height, frames (int 4n+1; 1 for t2i), fps (int),
 *                     seed, format ("png" | "mp4")
 */
typedef struct ov_job_stage {
    int kind;                         /* enum ov_worker_kind */
    char task[OV_JOB_STAGE_TASK_MAX]; /* "enhance", "t2v", "t2i", "sdxl" */
    ov_kvlist params;                 /* owned by the spec */
} ov_job_stage;

/* Where an enhanced job's prompt stands. */
enum ov_job_enhancement {
    OV_JOB_ENH_NONE = 0,    /* the type has no enhancement stage */
    OV_JOB_ENH_PENDING = 1, /* stage 0 (qwen) not finished yet */
    OV_JOB_ENH_APPLIED = 2, /* the generating stage's prompt is the enhanced one */
    OV_JOB_ENH_SKIPPED = 3  /* enhancement failed; the original prompt is used (see note) */
};

/* One validated job. Every string is owned by the spec (ov_job_spec_free). */
typedef struct ov_job_spec {
    char id[OV_JOB_SAFE_ID_MAX + 1];
    char type[OV_JOB_TYPE_NAME_MAX];           /* canonical type ("video_fast") */
    char type_requested[OV_JOB_TYPE_NAME_MAX]; /* as sent ("wan_video_fast" before the alias) */
    char user_id[OV_JOB_SAFE_ID_MAX + 1];
    char video_id[OV_JOB_SAFE_ID_MAX + 1]; /* "" when absent or null */
    char image_id[OV_JOB_SAFE_ID_MAX + 1]; /* "" when absent or null */
    char queue[64];        /* the queue it came from: set by the caller (the parser leaves "") */
    const char *route;     /* queue the producer routes this type to: "sdxl_queue" | "wan_queue" */
    char *prompt;          /* original prompt as sent */
    char *negative_prompt; /* NULL when none */
    int64_t seed;          /* always set (1..2^53-1); image i uses seed + i */
    bool seed_random;      /* true: the payload gave none (absent, null, 0 or -1), we drew it */
    /* Resolved generation parameters (defaults of the type, then payload overrides). */
    int kind; /* enum ov_worker_kind of the generating stage */
    int steps;
    double cfg;
    int width, height;
    int num_images; /* sdxl: 1|3|6; wan: 1 */
    int frames;     /* 1 for images; 4n+1 for video */
    int fps;
    double shift;     /* wan only */
    char sampler[24]; /* sdxl sampler / wan solver */
    int format;       /* enum ov_job_format */
    int expected_s;
    bool compel_enabled;
    char *compel_weights; /* NULL when none */
    char *metadata_json;  /* client `metadata` object re-serialised compactly; NULL when absent */
    char notes[512];      /* normalisations applied, "; "-separated ("" when none), e.g.
                           * "config.frame_num 83 -> 81 (July frontend value)" */
    /* The plan: 1 or 2 stages, run in order. */
    ov_job_stage stages[OV_JOB_STAGES_MAX];
    int nstages;
    int enhancement;            /* enum ov_job_enhancement */
    char *enhanced_prompt;      /* set by ov_job_spec_apply_enhanced */
    char enhancement_note[256]; /* set by ov_job_spec_skip_enhancement */
} ov_job_spec;

/* Parse and validate one raw job (the bytes claimed from the queue, not NUL-terminated).
 * `out` is overwritten (it need not be initialised) and must be freed with ov_job_spec_free()
 * whatever the return value.
 *   0           valid: every field of out set, plan built;
 *   OV_EINVAL   invalid but with a readable, safe id: out->id is set (and type / user_id when
 *               they were readable and valid), err names the field and the rule, e.g.
 *               "config.num_images must be 1, 3 or 6 (got 4)" -> failed callback + dead letter;
 *   OV_EFORMAT  not even an id (over OV_JOB_RAW_MAX, not JSON, invalid UTF-8, not an object, no
 *               string `id`, or an id that is not 1..64 of [A-Za-z0-9_-]) -> dead-letter the raw
 *               bytes; err says why;
 *   OV_ENOMEM   allocation failed (retriable).
 * Never reads past raw[len-1]. err is always NUL-terminated when errlen > 0. */
int ov_job_parse(const ov_job_types *t, const char *raw, size_t len, ov_job_spec *out, char *err,
                 size_t errlen);

/* Free what the spec owns; leaves it zeroed. Safe on a zeroed spec and twice. */
void ov_job_spec_free(ov_job_spec *s);

/* Enhanced types: stage 0 (qwen "enhance") succeeded. Sets the generating stage's `prompt` param
 * to `enhanced` (copied) and records it for the callback metadata. 0; OV_EINVAL (no pending
 * enhancement, or enhanced empty / not valid UTF-8 / over the prompt cap: then call
 * ov_job_spec_skip_enhancement instead); OV_ENOMEM. */
int ov_job_spec_apply_enhanced(ov_job_spec *s, const ov_job_types *t, const char *enhanced);

/* Enhanced types: stage 0 failed (error, timeout, empty result). The generating stage keeps the
 * original prompt; the note "enhancement failed: <reason>, used original prompt" is recorded for
 * the callback metadata. 0 or OV_EINVAL (no pending enhancement). */
int ov_job_spec_skip_enhancement(ov_job_spec *s, const char *reason);

/* The generating stage (the last one). Borrowed. */
ov_job_stage *ov_job_spec_gen_stage(ov_job_spec *s);

/* Append the callback metadata object ({...}) for this job to out: job_type, seed, num_images,
 * steps, guidance_scale, width, height, frame_num, fps (video), sampler, original_prompt,
 * negative_prompt_used, and for enhanced types enhanced_prompt / enhancement
 * ("applied" | "skipped" | "pending") / enhancement_note, plus `notes` when non-empty.
 * 0 or OV_ENOMEM (buffer cap). */
int ov_job_spec_metadata_json(const ov_job_spec *s, ov_buf *out);

/* Whether s is 1..OV_JOB_SAFE_ID_MAX bytes of [A-Za-z0-9_-] (safe as an object-path segment). */
bool ov_job_id_is_safe(const char *s);

#endif
