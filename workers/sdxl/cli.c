/* ourvidz-sdxl one-shot mode: load the checkpoint, make N images, write PNGs, print timings. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/rng.h"
#include "common/tensor/backend.h"
#include "common/image/resize.h"
#include "workers/runtime/worker.h"
#include "workers/sdxl/init_image.h"
#include "workers/sdxl/sdxl_bin.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: ourvidz-sdxl --model FILE --prompt TEXT --out DIR [--negative TEXT] [--steps N]\n"
        "                    [--cfg X] [--sampler S] [--seed S] [--count N] [--size WxH] [--emphasis]\n"
        "                    [--init-image FILE [--strength X] [--fit letterbox|crop|stretch]]\n"
        "                    [--backend auto|cpu|cuda] [--vram-budget BYTES] [--quiet]\n"
        "       ourvidz-sdxl --worker ... (service mode, started by ourvidz-supervisor)\n"
        "Makes N images from an SDXL checkpoint (one .safetensors in the sgm layout, or a diffusers\n"
        "folder) and writes "
        "DIR/sdxl_<seed>.png for each (image i uses seed + i), with the generation parameters in the\n"
        "PNG's \"parameters\" text chunk (A1111 format).\n"
        "  --steps N        sampling steps, 1..%d (default 25)\n"
        "  --cfg X          guidance scale, > 0 and <= %g (default 7.5; <= 1 turns guidance off)\n"
        "  --sampler S      euler (default) | euler_a | dpmpp_2m | dpmpp_2m_karras (A1111 and diffusers\n"
        "                   names accepted: \"Euler a\", \"DPM++ 2M Karras\", EulerDiscreteScheduler, ...)\n"
        "  --seed S         base seed, 1..2^53-1 (default: random, printed)\n"
        "  --count N        images, 1..%d, made as one batch (default 1)\n"
        "  --size WxH       image size, multiples of 32 up to %d (default 1024x1024)\n"
        "  --negative TEXT  negative prompt (default none: zero conditioning, as diffusers' SDXL)\n"
        "  --emphasis       parse A1111 emphasis \"(word:1.3)\" / \"[word]\" in the prompts\n"
        "  --init-image F   image-to-image from F (PNG, JPEG or WebP), fitted to --size by --fit\n"
        "  --strength X     image-to-image denoise strength in [0, 1] (default %.1f): the share of the\n"
        "                   steps that run (int(steps * X), at least one)\n"
        "  --fit P          letterbox (default: scale to fit, centre on black) | crop (scale to cover,\n"
        "                   centre crop) | stretch\n"
        "  --backend B      compute backend (default $OURVIDZ_BACKEND or auto)\n"
        "  --vram-budget N  memory budget on the backend in bytes (default unlimited)\n"
        "Exit status: 0 ok, 2 usage, 1 load or generation failure.\n",
        OV_SDXL_STEPS_MAX, OV_SDXL_CFG_MAX, OV_SDXL_COUNT_MAX, OV_SDXL_SIZE_MAX, OV_SDXL_STRENGTH_DEFAULT);
}

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return OV_EINVAL;
    *out = v;
    return 0;
}

static int parse_size(const char *s, int *w, int *h)
{
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10);
    if (errno || end == s || (*end != 'x' && *end != 'X' && *end != '*'))
        return OV_EINVAL;
    const char *p = end + 1;
    long b = strtol(p, &end, 10);
    if (errno || end == p || *end || a < 1 || b < 1 || a > 100000 || b > 100000)
        return OV_EINVAL;
    *w = (int)a;
    *h = (int)b;
    return 0;
}

static int is_value_flag(const char *a)
{
    static const char *const flags[] = {"--model",   "--prompt", "--negative", "--out",
                                        "--backend", "--steps",  "--cfg",      "--sampler",
                                        "--seed",    "--count",  "--size",     "--vram-budget",
                                        "--init-image", "--strength", "--fit"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strcmp(a, flags[i]) == 0)
            return 1;
    return 0;
}

static int on_progress(void *ud, const char *phase, int64_t step, int64_t total)
{
    if (*(int *)ud == 0 && strcmp(phase, "denoise") == 0 && isatty(2)) {
        fprintf(stderr, "\rstep %lld/%lld", (long long)step, (long long)total);
        if (step == total)
            fputc('\n', stderr);
    }
    return 0;
}

/* Load the model, generate r, write the PNGs: the exit status (0 ok, 1 failure, 2 usage). */
static int load_generate_write(const char *model, const char *backend, int64_t budget, const char *out_dir,
                               int quiet, ov_sdxl_request *rq)
{
    char err[1024] = "";
    ov_sdxl_request r = *rq;
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "ourvidz-sdxl: cannot create %s: %s\n", out_dir, strerror(errno));
        return 1;
    }
    ov_sdxl_load_opts o = {.model_path = model, .weight_dtype = -1, .budget_bytes = (size_t)budget};
    if (ov_backend_pick(backend, &o.backend_kind, err, sizeof err)) {
        fprintf(stderr, "ourvidz-sdxl: %s\n", err);
        return 2;
    }
    ov_sdxl_pipeline *p = NULL;
    int rc = ov_sdxl_pipeline_load(&o, &p, err, sizeof err);
    if (rc) {
        fprintf(stderr, "ourvidz-sdxl: %s\n", err);
        return 1;
    }
    const ov_sdxl_model_info *info = ov_sdxl_pipeline_info(p);
    if (!quiet)
        fprintf(stderr, "model %s on %s: %.1f MiB of weights, loaded in %.2f s\n", info->model_id,
                info->backend, (double)info->weight_bytes / (1 << 20), info->load_s);
    /* image i is seed + i (the pipeline's rule); each PNG starts encoding once its image is decoded */
    char(*paths)[4096] = calloc((size_t)r.count, sizeof *paths);
    const char **pp = calloc((size_t)r.count, sizeof *pp);
    ov_sdxl_png_batch *pngs = NULL;
    if (!paths || !pp || ov_sdxl_png_batch_open(&pngs, pp, r.count, &r, info)) {
        fprintf(stderr, "ourvidz-sdxl: out of memory\n");
        free(paths);
        free(pp);
        ov_sdxl_pipeline_free(p);
        return 1;
    }
    for (int i = 0; i < r.count; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/sdxl_%llu.png", out_dir, (unsigned long long)(r.seed + (uint64_t)i));
        pp[i] = paths[i];
    }
    r.on_image = ov_sdxl_png_batch_add;
    r.on_image_ud = pngs;
    ov_sdxl_result res;
    rc = ov_sdxl_generate(p, &r, on_progress, &quiet, &res, err, sizeof err);
    if (rc) {
        fprintf(stderr, "ourvidz-sdxl: %s\n", err);
        (void)ov_sdxl_png_batch_close(pngs, NULL, NULL, NULL, 0);
        for (int i = 0; i < r.count; i++)
            (void)unlink(paths[i]);
        free(paths);
        free(pp);
        ov_sdxl_pipeline_free(p);
        return 1;
    }
    int bad = -1;
    rc = ov_sdxl_png_batch_close(pngs, &res, &bad, err, sizeof err);
    if (rc)
        fprintf(stderr, "ourvidz-sdxl: image %d: %s\n", bad + 1, err);
    for (int i = 0; i < res.count && !rc; i++)
        printf("%s\n", paths[i]);
    free(paths);
    free(pp);
    char enc[48] = "";
    if (r.init_image)
        snprintf(enc, sizeof enc, "VAE encode %.0f ms, ", res.t.encode_ms);
    if (!rc && !quiet)
        fprintf(stderr,
                "%d image(s) %dx%d, %s, %d steps, cfg %g, seed %llu: text %.0f ms, %s%.1f ms/step (%d of %d "
                "steps, %d UNet batch(es) of %d), decode %.0f ms, total %.2f s\n",
                res.count, res.width, res.height, ov_sdxl_sampler_name(r.sampler), r.steps, r.cfg,
                (unsigned long long)r.seed, res.t.text_ms, enc, res.t.step_ms_mean, res.steps_run, r.steps,
                res.sub_batches, res.batch_images, res.t.decode_ms, res.t.total_ms / 1e3);
    ov_sdxl_result_free(&res);
    ov_sdxl_pipeline_free(p);
    return rc ? 1 : 0;
}

int ov_sdxl_cli_main(int argc, char **argv)
{
    const char *model = NULL, *out_dir = NULL, *backend = NULL, *init_path = NULL;
    int fit = OV_FIT_LETTERBOX;
    ov_sdxl_request r = {
        .steps = 25, .cfg = 7.5, .sampler = OV_SDXL_EULER, .width = 1024, .height = 1024, .count = 1,
        .strength = OV_SDXL_STRENGTH_DEFAULT};
    int have_seed = 0, quiet = 0;
    int64_t v, budget = 0;
    char err[1024] = "";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("ourvidz-sdxl 0.1.0 (protocol %d)\n", OV_IPC_PROTOCOL_VERSION);
            return 0;
        } else if (strcmp(a, "--emphasis") == 0) {
            r.emphasis = 1;
            takes = 0;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
            takes = 0;
        } else if (!is_value_flag(a)) {
            fprintf(stderr, "ourvidz-sdxl: unknown argument %s (see --help)\n", a);
            return 2;
        } else if (!val) {
            fprintf(stderr, "ourvidz-sdxl: %s needs a value (see --help)\n", a);
            return 2;
        } else if (strcmp(a, "--model") == 0) {
            model = val;
        } else if (strcmp(a, "--prompt") == 0) {
            r.prompt = val;
        } else if (strcmp(a, "--negative") == 0) {
            r.negative_prompt = val;
        } else if (strcmp(a, "--out") == 0) {
            out_dir = val;
        } else if (strcmp(a, "--backend") == 0) {
            backend = val;
        } else if (strcmp(a, "--steps") == 0) {
            if (parse_i64(val, 1, OV_SDXL_STEPS_MAX, &v)) {
                fprintf(stderr, "ourvidz-sdxl: --steps must be 1..%d (got %s)\n", OV_SDXL_STEPS_MAX, val);
                return 2;
            }
            r.steps = (int)v;
        } else if (strcmp(a, "--cfg") == 0) {
            char *end;
            errno = 0;
            r.cfg = strtod(val, &end);
            if (errno || end == val || *end) {
                fprintf(stderr, "ourvidz-sdxl: --cfg must be a number (got %s)\n", val);
                return 2;
            }
        } else if (strcmp(a, "--sampler") == 0) {
            if (ov_sdxl_sampler_parse(val, &r.sampler, err, sizeof err)) {
                fprintf(stderr, "ourvidz-sdxl: %s\n", err);
                return 2;
            }
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_i64(val, 0, (int64_t)((1ull << 53) - 1), &v)) {
                fprintf(stderr, "ourvidz-sdxl: --seed must be 0..2^53-1 (got %s)\n", val);
                return 2;
            }
            r.seed = (uint64_t)v;
            have_seed = 1;
        } else if (strcmp(a, "--count") == 0) {
            if (parse_i64(val, 1, OV_SDXL_COUNT_MAX, &v)) {
                fprintf(stderr, "ourvidz-sdxl: --count must be 1..%d (got %s)\n", OV_SDXL_COUNT_MAX, val);
                return 2;
            }
            r.count = (int)v;
        } else if (strcmp(a, "--size") == 0) {
            if (parse_size(val, &r.width, &r.height)) {
                fprintf(stderr, "ourvidz-sdxl: --size must be WIDTHxHEIGHT (got %s)\n", val);
                return 2;
            }
        } else if (strcmp(a, "--init-image") == 0) {
            init_path = val;
        } else if (strcmp(a, "--strength") == 0) {
            char *end;
            errno = 0;
            r.strength = strtod(val, &end);
            if (errno || end == val || *end || !(r.strength >= 0.0) || !(r.strength <= 1.0)) {
                fprintf(stderr, "ourvidz-sdxl: --strength must be in [0, 1] (got %s)\n", val);
                return 2;
            }
        } else if (strcmp(a, "--fit") == 0) {
            if (ov_fit_policy_parse(val, &fit, err, sizeof err)) {
                fprintf(stderr, "ourvidz-sdxl: --fit: %s\n", err);
                return 2;
            }
        } else if (strcmp(a, "--vram-budget") == 0) {
            if (parse_i64(val, 0, INT64_MAX, &budget)) {
                fprintf(stderr, "ourvidz-sdxl: --vram-budget must be a byte count (got %s)\n", val);
                return 2;
            }
        }
        i += takes;
    }
    if (!model || !r.prompt || !out_dir) {
        fprintf(stderr, "ourvidz-sdxl: --model, --prompt and --out are required (see --help)\n");
        return 2;
    }
    if (!have_seed)
        r.seed = ov_rng_fresh_seed();
    /* model-independent checks before the (long) load */
    if (ov_sdxl_request_validate(NULL, &r, err, sizeof err)) {
        fprintf(stderr, "ourvidz-sdxl: %s\n", err);
        return 2;
    }
    ov_sdxl_init_image init = {0};
    if (init_path) {
        if (ov_sdxl_init_image_load(init_path, r.width, r.height, fit, &init, err, sizeof err)) {
            fprintf(stderr, "ourvidz-sdxl: %s\n", err);
            return 2;
        }
        r.init_image = init.rgb;
        if (!quiet)
            fprintf(stderr, "init image %s: %s %dx%d, %s into %dx%d, strength %g (%d of %d steps)\n", init_path,
                    init.format, init.src_w, init.src_h, ov_fit_policy_name(fit), r.width, r.height, r.strength,
                    r.steps - ov_sdxl_img2img_begin(r.steps, r.strength), r.steps);
    }
    int code = load_generate_write(model, backend, budget, out_dir, quiet, &r);
    ov_sdxl_init_image_free(&init);
    return code;
}
