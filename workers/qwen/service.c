/* ourvidz-qwen service mode: load the model once, serve "enhance" jobs for the supervisor
 * (the *7b_*_enhanced chain and POST /enhance), progress every few tokens, cancel honoured. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/log.h"
#include "common/rng.h"
#include "common/tensor/backend.h"
#include "workers/qwen/chat_template.h"
#include "workers/qwen/enhance.h"
#include "workers/qwen/qwen.h"
#include "workers/qwen/qwen_bin.h"
#include "workers/runtime/worker.h"

typedef struct qsvc {
    ov_qwen *q;
    ov_enhance_cfg cfg;
    const ov_worker_env *env;
    int backend_kind;
} qsvc;

static void q_unload(void *state)
{
    qsvc *s = state;
    if (!s)
        return;
    ov_qwen_free(s->q);
    ov_enhance_cfg_free(&s->cfg);
    free(s);
}

static int q_load(const ov_worker_env *env, void **state, char *model_id, size_t model_id_len)
{
    const char *path = env->model;
    struct stat st;
    if (!path || !*path) {
        ov_worker_load_error(env,
                             "no Qwen model configured: set model = <HF folder or .gguf> in [worker.qwen] "
                             "or put one in <models_dir>/qwen");
        return OV_ENOENT;
    }
    if (stat(path, &st) != 0) {
        ov_worker_load_error(env,
                             "Qwen model %s is missing (a HF folder with config.json, safetensors and "
                             "tokenizer.json, or a .gguf file)",
                             path);
        return OV_ENOENT;
    }
    qsvc *s = calloc(1, sizeof *s);
    if (!s)
        return OV_ENOMEM;
    s->env = env;
    char err[512] = "";
    int rc = ov_enhance_cfg_load_default(&s->cfg, err, sizeof err);
    if (rc) {
        ov_worker_load_error(env, "enhancement settings: %s", err);
        free(s);
        return rc == OV_ENOMEM ? rc : OV_ECONFIG;
    }
    if ((rc = ov_backend_pick(NULL, &s->backend_kind, err, sizeof err))) {
        ov_worker_load_error(env, "%s", err);
        q_unload(s);
        return OV_ECONFIG;
    }
    ov_qwen_opts o = {.backend_kind = s->backend_kind,
                      .device = 0,
                      .vram_budget_bytes = env->vram_budget_bytes,
                      .ctx_max = 0,
                      .weight_dtype = -1};
    rc = ov_qwen_load(path, &o, &s->q, err, sizeof err);
    if (rc) {
        ov_worker_load_error(env, "cannot load the Qwen model %s: %s", path, err[0] ? err : ov_strerror(rc));
        q_unload(s);
        return ov_worker_load_code(rc);
    }
    const ov_qwen_info *info = ov_qwen_get_info(s->q);
    snprintf(model_id, model_id_len, "%s", info->model_id[0] ? info->model_id : path);
    if (s->backend_kind == OV_BACKEND_CUDA)
        ov_worker_set_vram_used(env, info->weight_bytes + info->kv_bytes);
    int style = ov_prompt_style_resolve(s->cfg.style, info->has_chat_template);
    ov_log(OV_LOG_NOTICE, "qwen_loaded",
           "model=%s format=%s layers=%d hidden=%d vocab=%lld ctx=%lld load_s=%.2f template=%s prompts=%s,%s",
           model_id, info->format, info->n_layers, info->hidden, (long long)info->vocab,
           (long long)info->ctx_max, info->load_seconds, ov_prompt_style_name(style),
           s->cfg.source[OV_ENHANCE_VIDEO], s->cfg.source[OV_ENHANCE_IMAGE]);
    *state = s;
    return 0;
}

typedef struct prog {
    ov_job_io *io;
} prog;

static int on_progress(void *ctx, int64_t tokens, int64_t total)
{
    prog *p = ctx;
    return ov_job_progress(p->io, "enhance", tokens, total) == OV_ECANCELED;
}

/* Mode from params: "mode" (the job contract: video | image); /enhance requests carry only
 * "enhance_type" (free text from the client): "image" in it means image, anything else video. */
static int job_mode(const ov_kvlist *params, int *mode, ov_job_io *io)
{
    const char *m = NULL;
    if (ov_kvlist_get_str(params, "mode", &m) == 0) {
        if (ov_enhance_mode_parse(m, mode) != 0) {
            ov_job_set_error(io, false, "params.mode must be video or image (got '%s')", m);
            return OV_EINVAL;
        }
        return 0;
    }
    *mode = OV_ENHANCE_VIDEO;
    if (ov_kvlist_get_str(params, "enhance_type", &m) == 0 && m && strstr(m, "image"))
        *mode = OV_ENHANCE_IMAGE;
    return 0;
}

/* Comma list of the cleanup steps applied ("label,quotes"; "" when none). */
static void clean_names(unsigned f, char *out, size_t cap)
{
    static const char *const names[] = {"label", "echo",    "quotes",    "markdown",
                                        "tail",  "partial", "max_chars", "invalid_utf8"};
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < 8; i++)
        if (f & (1u << i)) {
            int w = snprintf(out + n, cap - n, "%s%s", n ? "," : "", names[i]);
            if (w < 0 || (size_t)w >= cap - n)
                break;
            n += (size_t)w;
        }
}

static int put_meta(ov_job_io *io, const qsvc *s, const ov_enhance_result *r, uint64_t seed)
{
    ov_kvlist *m = ov_job_meta(io);
    const ov_qwen_info *info = ov_qwen_get_info(s->q);
    char clean[128];
    clean_names(r->cleaned, clean, sizeof clean);
    double secs = r->total_ms / 1000.0;
    double tps = r->decode_ms > 0 ? (double)r->new_tokens * 1000.0 / r->decode_ms : 0;
    int rc = 0;
    rc |= ov_kvlist_set_bool(m, "enhanced", r->enhanced != 0);
    if (r->enhanced)
        rc |= ov_kvlist_set_str(m, "enhanced_prompt", r->text);
    else
        rc |= ov_kvlist_set_str(m, "fallback_reason", r->reason);
    rc |= ov_kvlist_set_str(m, "mode", ov_enhance_mode_name(r->mode));
    rc |= ov_kvlist_set_str(m, "template", ov_prompt_style_name(r->style));
    rc |= ov_kvlist_set_str(m, "model", info->model_id);
    rc |= ov_kvlist_set_str(m, "prompt_source", s->cfg.source[r->mode]);
    rc |= ov_kvlist_set_int(m, "seed", (int64_t)seed);
    rc |= ov_kvlist_set_int(m, "input_tokens", (int64_t)r->input_tokens);
    rc |= ov_kvlist_set_int(m, "input_tokens_used", (int64_t)r->input_tokens_used);
    rc |= ov_kvlist_set_bool(m, "input_truncated", r->input_truncated != 0);
    if (r->input_truncated) {
        char note[160];
        snprintf(note, sizeof note,
                 "prompt cut to its first %zu of %zu tokens (%zu bytes) to fit the context budget",
                 r->input_tokens_used, r->input_tokens, r->input_bytes_used);
        rc |= ov_kvlist_set_str(m, "input_note", note);
    }
    rc |= ov_kvlist_set_int(m, "prompt_tokens", (int64_t)r->prompt_tokens);
    rc |= ov_kvlist_set_int(m, "new_tokens", (int64_t)r->new_tokens);
    rc |= ov_kvlist_set_int(m, "max_new_tokens", r->max_new_tokens);
    rc |= ov_kvlist_set_str(m, "stop", ov_enhance_stop_name(r->stop));
    rc |= ov_kvlist_set_str(m, "cleanup", clean);
    rc |= ov_kvlist_set_int(m, "deadline_ms", r->deadline_ms);
    rc |= ov_kvlist_set_float(m, "prefill_ms", r->prefill_ms);
    rc |= ov_kvlist_set_float(m, "decode_ms", r->decode_ms);
    rc |= ov_kvlist_set_float(m, "tokens_per_s", tps);
    rc |= ov_kvlist_set_float(m, "generation_time", secs);
    return rc ? OV_ENOMEM : 0;
}

static int q_run(void *state, const char *job_id, const char *task, const ov_kvlist *params, ov_job_io *io)
{
    qsvc *s = state;
    if (strcmp(task, "enhance") != 0) {
        ov_job_set_error(io, false, "ourvidz-qwen serves enhance jobs only (got task '%s')", task);
        return OV_EUNSUPP;
    }
    const char *prompt = NULL;
    if (ov_kvlist_get_str(params, "prompt", &prompt) != 0 || !prompt) {
        ov_job_set_error(io, false, "params.prompt (a string) is required");
        return OV_EINVAL;
    }
    ov_enhance_req req = {.prompt = prompt, .prompt_len = strlen(prompt), .temperature = -1};
    int rc = job_mode(params, &req.mode, io);
    if (rc)
        return rc;
    int64_t v;
    double f;
    req.seed = ov_kvlist_get_int(params, "seed", &v) == 0 && v >= 0 ? (uint64_t)v : ov_rng_fresh_seed();
    if (ov_kvlist_get_int(params, "deadline_ms", &v) == 0 && v > 0)
        req.deadline_ms = v;
    if (ov_kvlist_get_int(params, "max_new_tokens", &v) == 0 && v > 0 && v <= 32768)
        req.max_new_tokens = (int)v;
    if (ov_kvlist_get_float(params, "temperature", &f) == 0 && f >= 0 && f <= 10)
        req.temperature = (float)f;
    const char *tmpl = NULL;
    if (ov_kvlist_get_str(params, "template", &tmpl) == 0 && ov_prompt_style_parse(tmpl, &req.style) != 0) {
        ov_job_set_error(io, false, "params.template must be auto, chat or base (got '%s')", tmpl);
        return OV_EINVAL;
    }
    prog p = {io};
    req.progress = on_progress;
    req.progress_ctx = &p;
    if (ov_job_progress(io, "enhance", 0, s->cfg.max_new_tokens) == OV_ECANCELED)
        return OV_ECANCELED;
    ov_enhance_result r;
    char err[256] = "";
    rc = ov_enhance_run(s->q, &s->cfg, &req, &r, err, sizeof err);
    if (rc == 0)
        rc = put_meta(io, s, &r, req.seed);
    if (rc == 0) {
        char esc[200];
        if (r.enhanced)
            ov_log(OV_LOG_INFO, "enhanced", "job=%s mode=%s tokens=%zu chars=%zu time_s=%.2f", job_id,
                   ov_enhance_mode_name(r.mode), r.new_tokens, strlen(r.text), r.total_ms / 1000.0);
        else
            ov_log(OV_LOG_WARN, "enhance_fallback", "job=%s reason=\"%s\" tokens=%zu", job_id,
                   ov_log_escape(esc, sizeof esc, r.reason), r.new_tokens);
    } else if (rc == OV_EINVAL) {
        ov_job_set_error(io, false, "%s", err);
    } else if (rc != OV_ECANCELED) {
        ov_job_set_error(io, rc != OV_EGPU, "enhancement failed: %s", err[0] ? err : ov_strerror(rc));
    }
    ov_enhance_result_free(&r);
    return rc;
}

int ov_qwen_service_main(int argc, char **argv)
{
    static const ov_worker_ops ops = {.kind = "qwen", .load = q_load, .run = q_run, .unload = q_unload};
    return ov_worker_main(&ops, argc, argv);
}
