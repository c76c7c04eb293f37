/* ourvidz-sdxl service mode: the model resident once, "sdxl" jobs served as batches of N images
 * (PNG outputs in the spool dir), progress per step, cancel honoured. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/rng.h"
#include "common/image/resize.h"
#include "common/tensor/backend.h"
#include "workers/runtime/fetch.h"
#include "workers/runtime/worker.h"
#include "workers/sdxl/init_image.h"
#include "workers/sdxl/sdxl_bin.h"
#include "workers/sdxl/warmup.h"

typedef struct ssvc {
    ov_sdxl_pipeline *p;
    const ov_worker_env *env;
    int backend_kind;
} ssvc;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void s_unload(void *state)
{
    ssvc *s = state;
    if (!s)
        return;
    ov_sdxl_pipeline_free(s->p);
    free(s);
}

/* Before ready: the warm-up plan of $OURVIDZ_SDXL_WARMUP (unset: OV_SDXL_WARMUP_DEFAULT on a GPU,
 * none on the CPU, where there is no one-time per-shape work). A bad spec stops the start (the
 * operator's typo, not retried); a run that fails is logged and the worker serves anyway, unless
 * the device is lost. */
static int warm_up(const ov_worker_env *env, ssvc *s)
{
    const char *spec = getenv("OURVIDZ_SDXL_WARMUP");
    if (!spec && s->backend_kind == OV_BACKEND_CUDA)
        spec = OV_SDXL_WARMUP_DEFAULT;
    ov_sdxl_warmup_plan plan;
    char err[1024] = "";
    if (ov_sdxl_warmup_parse(spec, &plan, err, sizeof err)) {
        ov_worker_load_error(env, "OURVIDZ_SDXL_WARMUP: %s", err);
        return OV_ECONFIG;
    }
    if (!plan.n && !plan.img2img)
        return 0;
    double ms[OV_SDXL_WARMUP_MAX + 1];
    int n = 0;
    const double t0 = now_ms();
    int rc = ov_sdxl_warmup_run(s->p, &plan, ms, &n, err, sizeof err);
    char esc[1200], runs[256] = "";
    for (int i = 0, o = 0; i < n && o < (int)sizeof runs - 16; i++)
        o += snprintf(runs + o, sizeof runs - (size_t)o, "%s%.0f", i ? "," : "", ms[i]);
    if (rc == OV_EGPU) {
        ov_worker_load_error(env, "SDXL warm-up (%s): %s", spec, err);
        return ov_worker_load_code(rc);
    }
    if (rc)
        ov_log(OV_LOG_WARN, "sdxl_warmup_failed", "spec=%s runs_ms=%s code=%s error=\"%s\"", spec, runs,
               ov_errname(rc), ov_log_escape(esc, sizeof esc, err));
    else
        ov_log(OV_LOG_NOTICE, "sdxl_warmup", "spec=%s runs_ms=%s total_s=%.2f", spec, runs,
               (now_ms() - t0) / 1e3);
    return 0;
}

static int s_load(const ov_worker_env *env, void **state, char *model_id, size_t model_id_len)
{
    const char *path = env->model;
    struct stat st;
    if (!path || !*path) {
        ov_worker_load_error(
            env, "no SDXL model configured: set model = <checkpoint.safetensors> in [worker.sdxl] "
                 "or put one in <models_dir>/sdxl");
        return OV_ENOENT;
    }
    if (stat(path, &st) != 0) {
        ov_worker_load_error(
            env, "SDXL model %s is missing (a single-file .safetensors checkpoint or a diffusers folder)", path);
        return OV_ENOENT;
    }
    ssvc *s = calloc(1, sizeof *s);
    if (!s)
        return OV_ENOMEM;
    s->env = env;
    char err[1024] = "";
    int rc = ov_backend_pick(NULL, &s->backend_kind, err, sizeof err);
    if (rc) {
        ov_worker_load_error(env, "%s", err);
        s_unload(s);
        return OV_ECONFIG;
    }
    ov_sdxl_load_opts o = {.model_path = path,
                           .backend_kind = s->backend_kind,
                           .budget_bytes = env->vram_budget_bytes > 0 ? (size_t)env->vram_budget_bytes : 0,
                           .weight_dtype = -1};
    rc = ov_sdxl_pipeline_load(&o, &s->p, err, sizeof err);
    if (rc) {
        ov_worker_load_error(env, "cannot load the SDXL model %s: %s", path, err[0] ? err : ov_strerror(rc));
        s_unload(s);
        return ov_worker_load_code(rc);
    }
    const ov_sdxl_model_info *in = ov_sdxl_pipeline_info(s->p);
    snprintf(model_id, model_id_len, "%s", in->model_id);
    if (s->backend_kind == OV_BACKEND_CUDA)
        ov_worker_set_vram_used(env, in->weight_bytes);
    ov_log(OV_LOG_NOTICE, "sdxl_loaded", "model=%s backend=%s weights_mib=%.1f load_s=%.2f", in->model_id,
           in->backend, (double)in->weight_bytes / (1 << 20), in->load_s);
    if ((rc = warm_up(env, s)) != 0) {
        s_unload(s);
        return rc;
    }
    *state = s;
    return 0;
}

static int on_progress(void *ud, const char *phase, int64_t step, int64_t total)
{
    return ov_job_progress(ud, phase, step, total) == OV_ECANCELED;
}

/* Integer parameter: absent -> dflt; present with another type -> error. */
static int param_int(const ov_kvlist *params, const char *key, int64_t dflt, int64_t *out, ov_job_io *io)
{
    int rc = ov_kvlist_get_int(params, key, out);
    if (rc == OV_ENOENT) {
        *out = dflt;
        return 0;
    }
    if (rc)
        ov_job_set_error(io, false, "params.%s must be an integer", key);
    return rc;
}

static int put_meta(ov_job_io *io, const ssvc *s, const ov_sdxl_request *r, const ov_sdxl_result *res,
                    double png_ms, const char *note, const ov_sdxl_init_image *init, double fetch_ms)
{
    ov_kvlist *m = ov_job_meta(io);
    const ov_sdxl_model_info *in = ov_sdxl_pipeline_info(s->p);
    char seeds[160] = "";
    size_t n = 0;
    for (int i = 0; i < res->count && n < sizeof seeds; i++) {
        int w =
            snprintf(seeds + n, sizeof seeds - n, "%s%llu", i ? "," : "", (unsigned long long)res->seeds[i]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    int rc = 0;
    rc |= ov_kvlist_set_int(m, "seed", (int64_t)r->seed);
    rc |= ov_kvlist_set_str(m, "seeds", seeds);
    rc |= ov_kvlist_set_int(m, "num_images", res->count);
    rc |= ov_kvlist_set_str(m, "sampler", ov_sdxl_sampler_name(r->sampler));
    rc |= ov_kvlist_set_int(m, "steps", r->steps);
    rc |= ov_kvlist_set_float(m, "guidance_scale", r->cfg);
    rc |= ov_kvlist_set_int(m, "width", res->width);
    rc |= ov_kvlist_set_int(m, "height", res->height);
    rc |= ov_kvlist_set_str(m, "model", in->model_id);
    rc |= ov_kvlist_set_str(m, "backend", in->backend);
    rc |= ov_kvlist_set_str(m, "negative_conditioning",
                            r->negative_prompt && r->negative_prompt[0] ? "encoded" : "zeros");
    rc |= ov_kvlist_set_bool(m, "emphasis", r->emphasis != 0);
    rc |= ov_kvlist_set_int(m, "unet_batches_per_step", res->sub_batches);
    rc |= ov_kvlist_set_float(m, "text_encode_ms", res->t.text_ms);
    rc |= ov_kvlist_set_float(m, "step_ms", res->t.step_ms_mean);
    rc |= ov_kvlist_set_float(m, "step_ms_min", res->t.step_ms_min);
    rc |= ov_kvlist_set_float(m, "step_ms_max", res->t.step_ms_max);
    rc |= ov_kvlist_set_float(m, "denoise_ms", res->t.denoise_ms);
    rc |= ov_kvlist_set_float(m, "decode_ms", res->t.decode_ms);
    rc |= ov_kvlist_set_float(m, "png_ms", png_ms);
    rc |= ov_kvlist_set_float(m, "generation_time", (res->t.total_ms + png_ms) / 1e3);
    rc |= ov_kvlist_set_str(m, "pipeline", init ? "img2img" : "txt2img");
    if (init) {
        /* the W-HEAD worker's image metadata names, plus what the run did with the reference */
        rc |= ov_kvlist_set_float(m, "denoise_strength", r->strength);
        rc |= ov_kvlist_set_str(m, "resize_policy", ov_fit_policy_name(init->policy));
        rc |= ov_kvlist_set_int(m, "steps_run", res->steps_run);
        rc |= ov_kvlist_set_str(m, "reference_format", init->format);
        rc |= ov_kvlist_set_int(m, "reference_width", init->src_w);
        rc |= ov_kvlist_set_int(m, "reference_height", init->src_h);
        rc |= ov_kvlist_set_float(m, "reference_fetch_ms", fetch_ms);
        rc |= ov_kvlist_set_float(m, "vae_encode_ms", res->t.encode_ms);
    }
    if (note && *note)
        rc |= ov_kvlist_set_str(m, "worker_note", note);
    return rc ? OV_ENOMEM : 0;
}

/* Image-to-image from the job's reference fields: whether to run it, and with what strength and fit.
 * pipeline: absent = image-to-image exactly when a reference URL is given (the July worker);
 * "img2img" needs the URL; "txt2img" ignores one (with a note). Strength: denoise_strength, else
 * 1 − reference_strength (the W-HEAD worker's rule), else OV_SDXL_STRENGTH_DEFAULT. 0 = no image-to-image,
 * 1 = run it, < 0 = bad params (error set). */
static int reference_plan(const ov_kvlist *params, ov_job_io *io, const char **url, double *strength, int *policy,
                          const char **note)
{
    const char *pipeline = NULL, *fit = NULL;
    *url = NULL;
    if (ov_kvlist_get_str(params, "reference_image_url", url) == OV_EINVAL ||
        ov_kvlist_get_str(params, "pipeline", &pipeline) == OV_EINVAL ||
        ov_kvlist_get_str(params, "resize_policy", &fit) == OV_EINVAL) {
        ov_job_set_error(io, false, "params.reference_image_url, pipeline and resize_policy must be strings");
        return -1;
    }
    if (*url && !**url)
        *url = NULL;
    if (pipeline && *pipeline) {
        if (!strcmp(pipeline, "txt2img") || !strcmp(pipeline, "text2img") || !strcmp(pipeline, "t2i")) {
            if (*url)
                *note = "reference image ignored: the job asked for pipeline txt2img";
            *url = NULL;
            return 0;
        }
        if (strcmp(pipeline, "img2img") != 0 && strcmp(pipeline, "image2image") != 0 && strcmp(pipeline, "i2i") != 0) {
            ov_job_set_error(io, false, "params.pipeline must be img2img or txt2img (got '%.32s')", pipeline);
            return -1;
        }
        if (!*url) {
            ov_job_set_error(io, false, "pipeline img2img needs a reference_image_url");
            return -1;
        }
    }
    if (!*url)
        return 0;
    double d = -1, rs = -1;
    if ((ov_kvlist_get_float(params, "denoise_strength", &d) == OV_EINVAL) ||
        (ov_kvlist_get_float(params, "reference_strength", &rs) == OV_EINVAL)) {
        ov_job_set_error(io, false, "params.denoise_strength and reference_strength must be numbers");
        return -1;
    }
    *strength = d >= 0 ? d : rs >= 0 ? 1.0 - rs : OV_SDXL_STRENGTH_DEFAULT;
    if (!(*strength >= 0.0 && *strength <= 1.0)) {
        ov_job_set_error(io, false, "denoise strength must be in [0, 1] (got %g)", *strength);
        return -1;
    }
    char err[256];
    if (ov_fit_policy_parse(fit, policy, err, sizeof err)) {
        ov_job_set_error(io, false, "params.resize_policy: %s", err);
        return -1;
    }
    return 1;
}

/* ov_fetch's progress hook: the download's bytes as job progress (phase "download"); a cancelled
 * job stops the transfer. */
static int on_fetch_progress(void *ud, uint64_t got, uint64_t total)
{
    ov_job_io *io = ud;
    return ov_job_progress(io, "download", (int64_t)got, (int64_t)total) == OV_ECANCELED || ov_job_cancelled(io);
}

/* Download the reference and fit it to the request's size. 0, or an error set on the job (a
 * timeout, a connection failure or a 5xx is retriable; a 4xx, an oversized or undecodable image
 * is not). */
static int reference_fetch(const char *job_id, const char *url, int width, int height, int policy, ov_job_io *io,
                           ov_sdxl_init_image *out, double *fetch_ms)
{
    ov_fetch_opts fo;
    ov_fetch_opts_default(&fo);
    fo.progress = on_fetch_progress;
    fo.progress_ud = io;
    char err[512] = "", shown[160];
    ov_fetch_redact_url(url, shown, sizeof shown);
    void *data = NULL;
    size_t len = 0;
    double t0 = now_ms();
    if (ov_job_progress(io, "download", 0, 0) == OV_ECANCELED) /* bytes so far, of Content-Length */
        return OV_ECANCELED;
    int rc = ov_fetch(url, &fo, &data, &len, err, sizeof err);
    *fetch_ms = now_ms() - t0;
    if (rc == OV_ECANCELED)
        return rc;
    if (rc) {
        int retry = rc == OV_ETIMEDOUT || (rc == OV_EIO && !strstr(err, "HTTP 4"));
        ov_job_set_error(io, retry, "reference image download failed: %s", err);
        ov_log(OV_LOG_WARN, "sdxl_reference_failed", "job=%s url=%s code=%s", job_id, shown, ov_errname(rc));
        return rc;
    }
    rc = ov_sdxl_init_image_prepare(data, len, width, height, policy, out, err, sizeof err);
    free(data);
    if (rc) {
        ov_job_set_error(io, rc == OV_ENOMEM, "%s (%s)", err, shown);
        ov_log(OV_LOG_WARN, "sdxl_reference_failed", "job=%s url=%s code=%s", job_id, shown, ov_errname(rc));
        return rc;
    }
    ov_log(OV_LOG_INFO, "sdxl_reference", "job=%s url=%s format=%s size=%dx%d bytes=%zu fetch_ms=%.0f fit=%s",
           job_id, shown, out->format, out->src_w, out->src_h, len, *fetch_ms, ov_fit_policy_name(policy));
    return ov_job_progress(io, "download", (int64_t)len, (int64_t)len) == OV_ECANCELED ? OV_ECANCELED : 0;
}

/* params (supervisor/job_contract.h, task "sdxl"): prompt, negative_prompt?, steps, cfg, sampler,
 * width, height, count, seed, format "png", compel_weights? (appended to the prompt after ", "
 * and emphasis parsing turned on, as the July worker's Compel path), reference_image_url,
 * denoise_strength, reference_strength, pipeline, resize_policy (image-to-image: reference_plan). */
static int s_run(void *state, const char *job_id, const char *task, const ov_kvlist *params, ov_job_io *io)
{
    ssvc *s = state;
    if (strcmp(task, "sdxl") != 0) {
        ov_job_set_error(io, false, "ourvidz-sdxl serves sdxl jobs only (got task '%s')", task);
        return OV_EUNSUPP;
    }
    ov_sdxl_request r = {0};
    const char *prompt = NULL, *neg = NULL, *sampler = NULL, *format = NULL, *compel = NULL, *ref = NULL;
    const char *note = "";
    int fit = OV_FIT_LETTERBOX;
    double strength = OV_SDXL_STRENGTH_DEFAULT, fetch_ms = 0;
    ov_sdxl_init_image init = {0};
    if (ov_kvlist_get_str(params, "prompt", &prompt) != 0 || !prompt) {
        ov_job_set_error(io, false, "params.prompt (a string) is required");
        return OV_EINVAL;
    }
    if (ov_kvlist_get_str(params, "negative_prompt", &neg) == OV_EINVAL ||
        ov_kvlist_get_str(params, "sampler", &sampler) == OV_EINVAL ||
        ov_kvlist_get_str(params, "format", &format) == OV_EINVAL ||
        ov_kvlist_get_str(params, "compel_weights", &compel) == OV_EINVAL) {
        ov_job_set_error(io, false,
                         "params.negative_prompt, sampler, format and compel_weights must be strings");
        return OV_EINVAL;
    }
    if (format && strcmp(format, "png") != 0) {
        ov_job_set_error(io, false, "params.format must be png (got '%s')", format);
        return OV_EINVAL;
    }
    char err[1024] = "";
    int rc = ov_sdxl_sampler_parse(sampler, &r.sampler, err, sizeof err);
    if (rc) {
        ov_job_set_error(io, false, "%s", err);
        return rc;
    }
    int64_t steps, width, height, count, seed;
    double cfg = 7.5;
    if ((rc = param_int(params, "steps", 25, &steps, io)) ||
        (rc = param_int(params, "width", 1024, &width, io)) ||
        (rc = param_int(params, "height", 1024, &height, io)) ||
        (rc = param_int(params, "count", 1, &count, io)) || (rc = param_int(params, "seed", 0, &seed, io)))
        return rc;
    if ((rc = ov_kvlist_get_float(params, "cfg", &cfg)) && rc != OV_ENOENT) {
        ov_job_set_error(io, false, "params.cfg must be a number");
        return rc;
    }
    /* range-check before narrowing to int (the pipeline then says which rule failed) */
    r.steps = steps < -1 || steps > 100000 ? -1 : (int)steps;
    r.width = width < -1 || width > 100000 ? -1 : (int)width;
    r.height = height < -1 || height > 100000 ? -1 : (int)height;
    r.count = count < -1 || count > 1000 ? -1 : (int)count;
    r.cfg = cfg;
    r.seed = seed > 0 ? (uint64_t)seed : ov_rng_fresh_seed();
    char *full_prompt = NULL;
    if (compel && *compel) {
        size_t n = strlen(prompt) + strlen(compel) + 3;
        full_prompt = malloc(n);
        if (!full_prompt)
            return OV_ENOMEM;
        snprintf(full_prompt, n, "%s, %s", prompt, compel);
        r.emphasis = 1;
    }
    r.prompt = full_prompt ? full_prompt : prompt;
    r.negative_prompt = neg;
    int i2i = reference_plan(params, io, &ref, &strength, &fit, &note);
    if (i2i < 0) {
        free(full_prompt);
        return OV_EINVAL;
    }
    if (i2i) {
        /* check the request first (sizes; reference_plan checked the strength): a bad one fails
         * before the download */
        r.strength = strength;
        if ((rc = ov_sdxl_request_validate(s->p, &r, err, sizeof err)) ||
            (rc = reference_fetch(job_id, ref, r.width, r.height, fit, io, &init, &fetch_ms))) {
            if (rc == OV_EINVAL && err[0])
                ov_job_set_error(io, false, "%s", err);
            free(full_prompt);
            return rc;
        }
        r.init_image = init.rgb;
    }

    /* PNGs into the spool dir, each encoded on its own thread as soon as its image is decoded (the
     * pipeline's on_image), then one output each, in order */
    const ov_sdxl_model_info *in = ov_sdxl_pipeline_info(s->p);
    char(*paths)[4096] = calloc((size_t)r.count, sizeof *paths);
    const char **pp = calloc((size_t)r.count, sizeof *pp);
    ov_sdxl_png_batch *pngs = NULL;
    if (!paths || !pp || ov_sdxl_png_batch_open(&pngs, pp, r.count, &r, in)) {
        ov_job_set_error(io, true, "out of memory for %d images' PNG encoding", r.count);
        free(paths);
        free(pp);
        free(full_prompt);
        ov_sdxl_init_image_free(&init);
        return OV_ENOMEM;
    }
    for (int i = 0; i < r.count; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/image_%d.png", ov_job_spool_dir(io), i + 1);
        pp[i] = paths[i];
    }
    r.on_image = ov_sdxl_png_batch_add;
    r.on_image_ud = pngs;

    ov_sdxl_result res;
    rc = ov_sdxl_generate(s->p, &r, on_progress, io, &res, err, sizeof err);
    if (rc) {
        (void)ov_sdxl_png_batch_close(pngs, NULL, NULL, NULL, 0); /* waits for the encodes started */
        for (int i = 0; i < r.count; i++)
            (void)unlink(paths[i]);
        if (rc != OV_ECANCELED)
            ov_job_set_error(io, rc == OV_ENOMEM || rc == OV_EIO, "%s", err[0] ? err : ov_strerror(rc));
        ov_log(OV_LOG_WARN, "sdxl_failed", "job=%s code=%s", job_id, ov_errname(rc));
        free(paths);
        free(pp);
        free(full_prompt);
        ov_sdxl_init_image_free(&init);
        return rc;
    }
    double t0 = now_ms(); /* png_ms: the encoding still left once the last image is decoded */
    int bad = -1;
    rc = ov_sdxl_png_batch_close(pngs, &res, &bad, err, sizeof err);
    if (rc)
        ov_job_set_error(io, true, "writing image %d: %s", bad + 1, err);
    else if (ov_job_progress(io, "png", res.count, res.count) == OV_ECANCELED)
        rc = OV_ECANCELED;
    for (int i = 0; i < res.count && !rc; i++)
        if ((rc = ov_job_add_output(io, paths[i], "image/png")))
            ov_job_set_error(io, false, "cannot declare output %s (%s)", paths[i], ov_strerror(rc));
    for (int i = 0; rc && i < res.count; i++) /* no result: no files left behind */
        (void)unlink(paths[i]);
    free(paths);
    free(pp);
    double png_ms = now_ms() - t0;
    if (!rc)
        rc = put_meta(io, s, &r, &res, png_ms, note, i2i ? &init : NULL, fetch_ms);
    if (!rc)
        ov_log(OV_LOG_INFO, "sdxl_done",
               "job=%s images=%d size=%dx%d steps=%d sampler=%s step_ms=%.1f text_ms=%.0f decode_ms=%.0f "
               "png_ms=%.0f "
               "total_s=%.2f",
               job_id, res.count, res.width, res.height, r.steps, ov_sdxl_sampler_name(r.sampler),
               res.t.step_ms_mean, res.t.text_ms, res.t.decode_ms, png_ms, (res.t.total_ms + png_ms) / 1e3);
    ov_sdxl_result_free(&res);
    ov_sdxl_init_image_free(&init);
    free(full_prompt);
    return rc;
}

int ov_sdxl_service_main(int argc, char **argv)
{
    static const ov_worker_ops ops = {.kind = "sdxl", .load = s_load, .run = s_run, .unload = s_unload};
    return ov_worker_main(&ops, argc, argv);
}
