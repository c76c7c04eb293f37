/* Prompt enhancement: turn a short user prompt into a detailed generation prompt with Qwen2.5,
 * clean the model's answer, and fall back to the original prompt (saying why) when that fails. */
#ifndef OV_QWEN_ENHANCE_H
#define OV_QWEN_ENHANCE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "workers/qwen/qwen.h"

enum ov_enhance_mode { OV_ENHANCE_VIDEO = 0, OV_ENHANCE_IMAGE = 1, OV_ENHANCE_MODES = 2 };

/* "video" / "image"; "?" out of range. */
const char *ov_enhance_mode_name(int mode);
/* "video" | "image" -> mode; 0 or OV_EINVAL. */
int ov_enhance_mode_parse(const char *name, int *out);

/* Hard caps. */
#define OV_ENHANCE_PROMPT_MAX_BYTES (1u << 20)  /* longer input is cut here first (then to tokens) */
#define OV_ENHANCE_SYSTEM_MAX_BYTES (16u << 10) /* one system prompt file */
#define OV_ENHANCE_OUTPUT_MAX_CHARS 8192        /* the job contract's prompt cap (caps.max_prompt_bytes) */

/* ---- configuration (enhance_config.c) ----
 * A directory holding video.txt and image.txt (the system prompts, our own wording, operators may
 * edit them) and an optional enhance.conf (key = value: template, max_new_tokens, max_input_tokens,
 * min_chars, max_chars, deadline, temperature, top_p, top_k, repetition_penalty). */
typedef struct ov_enhance_cfg {
    char *system[OV_ENHANCE_MODES];     /* system prompt per mode (malloc, NUL-terminated) */
    char source[OV_ENHANCE_MODES][512]; /* file it came from, or "built-in" */
    int style;                          /* enum ov_prompt_style: template = auto | chat | base */
    int max_new_tokens;                 /* 512 */
    int max_input_tokens;               /* 1024: user text beyond this is cut (the original's input cap) */
    int min_chars;                      /* 11: the original required more than 10 characters */
    int max_chars;                      /* 4000 characters (bytes of UTF-8), cut at a sentence end */
    int64_t deadline_ms;                /* 30 s per enhancement, then fall back */
    float temperature, top_p;           /* 0.7, 0.9 (the original's sampling) */
    int top_k;                          /* 40 */
    float repetition_penalty;           /* 1.1 */
} ov_enhance_cfg;

/* Defaults and the built-in system prompts (identical to config/enhance/ in the source tree). 0 or
 * OV_ENOMEM. Free with ov_enhance_cfg_free. */
int ov_enhance_cfg_init(ov_enhance_cfg *c);
void ov_enhance_cfg_free(ov_enhance_cfg *c);
/* Read `dir`: video.txt and image.txt must exist (non-empty UTF-8, at most
 * OV_ENHANCE_SYSTEM_MAX_BYTES); enhance.conf is optional. OV_ENOENT (dir or a prompt file
 * missing), OV_ECONFIG (bad content: message names the file and line), OV_ENOMEM. */
int ov_enhance_cfg_load_dir(ov_enhance_cfg *c, const char *dir, char *err, size_t errlen);
/* The built-in prompt text of a mode (static). */
const char *ov_enhance_builtin_system(int mode);
/* The prompt directory to use, in order: $OURVIDZ_ENHANCE_DIR, /etc/ourvidz/enhance,
 * $OURVIDZ_SOURCE_DIR/config/enhance, <dir of this executable>/../../config/enhance (a build tree
 * inside the source tree), <dir of this executable>/../share/ourvidz/enhance. The first that
 * exists is written to out: 0; OV_ENOENT when none (then the built-in text is used);
 * OV_ENOENT too when $OURVIDZ_ENHANCE_DIR is set but missing, with *explicit_missing = 1 (the
 * caller must refuse: an operator asked for that folder). */
int ov_enhance_find_dir(char *out, size_t cap, int *explicit_missing);
/* Find and load: ov_enhance_cfg_init, then the directory found (if any). */
int ov_enhance_cfg_load_default(ov_enhance_cfg *c, char *err, size_t errlen);

/* ---- output cleanup (enhance_clean.c) ---- */
enum ov_clean_flags {
    OV_CLEAN_LABEL = 1u << 0,     /* a leading "Enhanced prompt:" / "Here is ...:" label removed */
    OV_CLEAN_ECHO = 1u << 1,      /* an echo of the request or of the instructions removed */
    OV_CLEAN_QUOTES = 1u << 2,    /* surrounding quotes removed */
    OV_CLEAN_MARKDOWN = 1u << 3,  /* markdown emphasis, headings, bullets, code fences removed */
    OV_CLEAN_TAIL = 1u << 4,      /* a follow-on turn ("Original request:", a control token) cut */
    OV_CLEAN_PARTIAL = 1u << 5,   /* trailing partial sentence dropped (generation was cut off) */
    OV_CLEAN_MAX_CHARS = 1u << 6, /* cut to max_chars */
    OV_CLEAN_INVALID = 1u << 7    /* invalid UTF-8 replaced by U+FFFD */
};

typedef struct ov_clean_opts {
    const char *original; /* the user's prompt (for echo removal); may be NULL */
    const char *echo;     /* instructions the model may repeat (the system prompt); may be NULL */
    int truncated;        /* generation stopped before its end (max tokens, deadline, context) */
    size_t max_chars;     /* 0 = no cap */
} ov_clean_opts;

/* Clean raw model output into one plain paragraph in `out` (reset first): strips a repeated
 * request/instructions, leading labels, markdown, surrounding quotes, anything from a new turn
 * on; collapses whitespace; drops a trailing partial sentence when truncated; cuts to max_chars at
 * a sentence end (else a word end). *what (may be NULL) gets OV_CLEAN_* flags. Output is always
 * valid UTF-8. 0 or OV_ENOMEM. */
int ov_enhance_clean(const char *raw, size_t n, const ov_clean_opts *o, ov_buf *out, unsigned *what);

/* ---- one enhancement (enhance.c) ---- */
/* Progress hook: called every few generated tokens; non-zero stops the generation (cancel). */
typedef int (*ov_enhance_progress_fn)(void *ctx, int64_t tokens, int64_t total);

typedef struct ov_enhance_req {
    const char *prompt; /* the user's prompt, prompt_len bytes */
    size_t prompt_len;
    int mode;            /* enum ov_enhance_mode */
    int style;           /* enum ov_prompt_style; AUTO: the model decides (has_chat_template) */
    int64_t deadline_ms; /* relative; 0 = cfg->deadline_ms */
    int max_new_tokens;  /* 0 = cfg */
    uint64_t seed;       /* sampling seed (same seed + prompt + model -> same text) */
    float temperature;   /* < 0 = cfg; 0 = greedy */
    ov_enhance_progress_fn progress;
    void *progress_ctx;
} ov_enhance_req;

typedef struct ov_enhance_result {
    char *text;       /* the prompt to use (malloc): the enhancement, or the original on fallback */
    int enhanced;     /* 1 applied; 0 fell back to the original prompt (reason says why) */
    char reason[256]; /* fallback reason ("" when enhanced) */
    char *raw;        /* the model's raw answer (malloc, may be empty) */
    unsigned cleaned; /* OV_CLEAN_* applied to raw */
    int style, mode;  /* resolved template and mode */
    size_t input_tokens, input_tokens_used; /* user text tokens before/after the cut */
    int input_truncated;
    size_t input_bytes_used;
    size_t prompt_tokens, new_tokens;
    int stop; /* enum ov_gen_stop, 0 when generation did not run */
    double prefill_ms, decode_ms, total_ms;
    int64_t deadline_ms;
    int max_new_tokens;
} ov_enhance_result;

/* Enhance one prompt. Returns 0 with res filled (enhanced or a fallback with its reason: generation
 * error, empty/too-short/unchanged output, deadline); OV_EINVAL for an empty (or blank) prompt or
 * invalid UTF-8 (err says which, res->text NULL); OV_ECANCELED when progress asked to stop;
 * OV_EGPU (sticky device error: the process must restart); OV_ENOMEM. Free res with
 * ov_enhance_result_free (also after an error). */
int ov_enhance_run(ov_qwen *q, const ov_enhance_cfg *cfg, const ov_enhance_req *req, ov_enhance_result *res,
                   char *err, size_t errlen);
void ov_enhance_result_free(ov_enhance_result *r);

/* Prompt parts of an enhancement (shared by ov_enhance_run and the tests): the mode's system
 * prompt; for the BASE style the request goes after "Original request: " and the answer after
 * "\nEnhanced prompt:" (the original enhancer's completion prompt). */
#define OV_ENHANCE_BASE_PREFIX "Original request: "
#define OV_ENHANCE_BASE_SUFFIX "\nEnhanced prompt:"

/* Stop reason as text: "eos", "max_tokens", "context", "deadline", "cancel"; "none" for 0. */
const char *ov_enhance_stop_name(int stop);

#endif
