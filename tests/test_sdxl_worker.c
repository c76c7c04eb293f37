/* ourvidz-sdxl on the tiny random-weight model (ourvidz-mkmodel sdxl --preset tiny): the one-shot
 * CLI (PNGs with A1111 parameters, exit codes), then service mode end to end: redis-server ->
 * ourvidz-supervisor -> the real worker -> PNGs in local storage -> job callbacks, for both SDXL
 * job types, a job the worker refuses, image-to-image with a downloaded reference, and a missing
 * model (worker not respawned). */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/image/png.h"
#include "support/callback_wait.h"
#include "support/http_test_server.h"
#include "support/redis_server.h"
#include "test_supervisor_util.h"

static char g_dir[] = "/tmp/ov_sdxl_worker_XXXXXX";
static char g_model[512];

static const char *bin_dir(void)
{
    const char *b = getenv("OURVIDZ_BIN_DIR");
    return b && *b ? b : "bin";
}

static void setup_once(void)
{
    if (!mkdtemp(g_dir))
        abort();
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/ourvidz-mkmodel sdxl --preset tiny --out %s > /dev/null", bin_dir(), g_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "test_sdxl_worker: %s failed\n", cmd);
        abort();
    }
    snprintf(g_model, sizeof g_model, "%s/model.safetensors", g_dir);
}

static void teardown_once(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", g_dir);
}

/* Run ourvidz-sdxl with argv; stdout+stderr captured into out (NUL-terminated). Exit status. */
static int run_cli(const char *const *args, char *out, size_t cap)
{
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t p = fork();
    ck_assert_int_ge(p, 0);
    if (p == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        char bin[1024];
        snprintf(bin, sizeof bin, "%s/ourvidz-sdxl", bin_dir());
        const char *av[32];
        int n = 0;
        av[n++] = bin;
        for (int i = 0; args[i] && n < 31; i++)
            av[n++] = args[i];
        av[n] = NULL;
        execv(bin, (char *const *)av);
        _exit(127);
    }
    close(pfd[1]);
    size_t len = 0;
    ssize_t r;
    while (len + 1 < cap && (r = read(pfd[0], out + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    char sink[4096];
    while (read(pfd[0], sink, sizeof sink) > 0) {
    }
    close(pfd[0]);
    int st;
    ck_assert_int_eq(waitpid(p, &st, 0), p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---------- CLI ---------- */

START_TEST(cli_help_and_usage_errors)
{
    static char out[16384];
    const char *help[] = {"--help", NULL};
    ck_assert_int_eq(run_cli(help, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "--model FILE --prompt TEXT --out DIR"));
    ck_assert_ptr_nonnull(strstr(out, "dpmpp_2m_karras"));
    struct {
        const char *args[16];
        const char *needle;
    } bad[] = {
        {{"--prompt", "x", "--out", "/tmp/x", NULL}, "required"},
        {{"--model", g_model, "--prompt", "x", "--out", "/tmp/x", "--sampler", "unipc", NULL},
         "unknown sampler"},
        {{"--model", g_model, "--prompt", "x", "--out", "/tmp/x", "--size", "100x64", NULL}, "multiple of 8"},
        {{"--model", g_model, "--prompt", "x", "--out", "/tmp/x", "--count", "7", NULL}, "--count"},
        {{"--model", g_model, "--prompt", "x", "--out", "/tmp/x", "--cfg", "0", NULL}, "cfg"},
        {{"--model", g_model, "--prompt", "x", "--out", "/tmp/x", "--steps", "0", NULL}, "--steps"},
        {{"--model", g_model, "--prompt", "x", "--out", "/tmp/x", "--bogus", NULL}, "unknown argument"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = run_cli(bad[i].args, out, sizeof out);
        ck_assert_msg(rc == 2, "case %zu: exit %d: %s", i, rc, out);
        ck_assert_msg(strstr(out, bad[i].needle) != NULL, "case %zu: %s", i, out);
    }
    /* a model that is not there: exit 1 with the path */
    const char *missing[] = {"--model", "/nonexistent/m.safetensors", "--prompt", "x", "--out", g_dir, NULL};
    ck_assert_int_eq(run_cli(missing, out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "/nonexistent/m.safetensors"));
}
END_TEST

/* Three images, one batch: three PNGs named by their seeds (42, 43, 44) with the A1111
 * parameters text; a rerun gives the same bytes. */
START_TEST(cli_makes_pngs_with_parameters)
{
    static char out[16384];
    char dir[600], dir2[600];
    snprintf(dir, sizeof dir, "%s/cli", g_dir);
    snprintf(dir2, sizeof dir2, "%s/cli2", g_dir);
    const char *args[] = {"--model",    g_model,  "--prompt",  "a photo of a cat",
                          "--negative", "blurry", "--steps",   "3",
                          "--cfg",      "6.5",    "--sampler", "Euler a",
                          "--seed",     "42",     "--count",   "3",
                          "--size",     "96x64",  "--out",     dir,
                          "--backend",  "cpu",    NULL};
    int rc = run_cli(args, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    fprintf(stderr, "%s", out);
    args[19] = dir2;
    ck_assert_int_eq(run_cli(args, out, sizeof out), 0);
    for (int i = 0; i < 3; i++) {
        char p[700], p2[700], err[256];
        snprintf(p, sizeof p, "%s/sdxl_%d.png", dir, 42 + i);
        snprintf(p2, sizeof p2, "%s/sdxl_%d.png", dir2, 42 + i);
        ov_png_image a, b;
        ck_assert_msg(ov_png_read(p, &a, err, sizeof err) == 0, "%s", err);
        ck_assert_msg(ov_png_read(p2, &b, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(a.width, 96);
        ck_assert_int_eq(a.height, 64);
        ck_assert_int_eq(memcmp(a.rgb, b.rgb, 96 * 64 * 3), 0);
        const char *t = ov_png_image_text(&a, "parameters");
        ck_assert_ptr_nonnull(t);
        char want[256];
        snprintf(want, sizeof want,
                 "a photo of a cat\nNegative prompt: blurry\nSteps: 3, Sampler: Euler a, CFG scale: 6.5, "
                 "Seed: %d, "
                 "Size: 96x64, Model hash: ",
                 42 + i);
        ck_assert_msg(strncmp(t, want, strlen(want)) == 0, "parameters: %s", t);
        ck_assert_ptr_nonnull(strstr(t, "Model: model"));
        ov_png_image_free(&a);
        ov_png_image_free(&b);
    }
}
END_TEST

/* A gradient picture as a PNG file (the reference image of the image-to-image tests). */
static void write_reference_png(const char *path, int w, int h)
{
    uint8_t *px = malloc((size_t)w * (size_t)h * 3);
    ck_assert_ptr_nonnull(px);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + ((size_t)y * (size_t)w + (size_t)x) * 3;
            p[0] = (uint8_t)(255 * x / (w - 1));
            p[1] = (uint8_t)(255 * y / (h - 1));
            p[2] = (uint8_t)((x * 7 + y * 13) & 255);
        }
    char err[256];
    ck_assert_msg(ov_png_write(path, px, w, h, NULL, 0, err, sizeof err) == 0, "%s", err);
    free(px);
}

/* --init-image: a 100×50 PNG cropped into 64×64, strength 0.5 of 4 steps; the PNG says
 * "Denoising strength: 0.5"; a missing or non-image file is a usage error before the model load. */
START_TEST(cli_img2img_from_a_file)
{
    static char out[16384];
    char dir[600], ref[600], bogus[600];
    snprintf(dir, sizeof dir, "%s/cli_i2i", g_dir);
    snprintf(ref, sizeof ref, "%s/ref.png", g_dir);
    snprintf(bogus, sizeof bogus, "%s/not_an_image.png", g_dir);
    write_reference_png(ref, 100, 50);
    FILE *f = fopen(bogus, "w");
    ck_assert_ptr_nonnull(f);
    fputs("hello, this is text\n", f);
    fclose(f);
    const char *args[] = {"--model", g_model, "--prompt", "a photo of a cat", "--steps", "4", "--seed", "7",
                          "--size", "64x64", "--init-image", ref, "--strength", "0.5", "--fit", "crop",
                          "--out", dir, "--backend", "cpu", NULL};
    int rc = run_cli(args, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "png 100x50, crop into 64x64, strength 0.5 (2 of 4 steps)"), "%s", out);
    char p[700], err[256];
    snprintf(p, sizeof p, "%s/sdxl_7.png", dir);
    ov_png_image a;
    ck_assert_msg(ov_png_read(p, &a, err, sizeof err) == 0, "%s", err);
    const char *t = ov_png_image_text(&a, "parameters");
    ck_assert_msg(t && strstr(t, ", Denoising strength: 0.5"), "parameters: %s", t ? t : "(none)");
    ov_png_image_free(&a);
    args[11] = bogus;
    ck_assert_int_eq(run_cli(args, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "reference image"), "%s", out);
    args[11] = "/nonexistent/ref.png";
    ck_assert_int_eq(run_cli(args, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "cannot open init image"), "%s", out);
    args[11] = ref;
    args[13] = "1.5";
    ck_assert_int_eq(run_cli(args, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "--strength must be in [0, 1]"), "%s", out);
}
END_TEST

/* ---------- service mode end to end ---------- */

typedef struct tredis {
    char dir[128];
    char sock[192];
    pid_t pid;
} tredis;

static void redis_start(tredis *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "/tmp/ovsdxlq.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(r->dir));
    snprintf(r->sock, sizeof r->sock, "%s/r.sock", r->dir);
    r->pid = ov_test_redis_start(r->dir, r->sock, 0);
}

static void redis_stop(tredis *r)
{
    ov_test_redis_stop(r->pid);
    r->pid = 0;
}

static void push(const tredis *r, const char *payload)
{
    redisContext *c = redisConnectUnix(r->sock);
    ck_assert_msg(c && !c->err, "connect %s", r->sock);
    redisReply *rep = redisCommand(c, "LPUSH sdxl_queue %s", payload);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_INTEGER);
    freeReplyObject(rep);
    redisFree(c);
}

/* Local storage keeps the asset at <store>/<bucket>/<path> (the url in the callback is the
 * object path). Find it by name under the store dir. */
static int find_file(const char *dir, const char *name, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            found = find_file(p, name, out, cap);
        else if (strcmp(e->d_name, name) == 0) {
            snprintf(out, cap, "%s", p);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

static void check_completed(json_t *cb, const char *store, int n_images, int w, int h, long long seed,
                            const char *type)
{
    const char *st = json_string_value(json_object_get(cb, "status"));
    ck_assert_msg(st && strcmp(st, "completed") == 0, "status %s: %s", st,
                  json_string_value(json_object_get(cb, "error_message")));
    json_t *assets = json_object_get(cb, "assets"), *meta = json_object_get(cb, "metadata");
    ck_assert_int_eq(json_array_size(assets), (size_t)n_images);
    ck_assert_str_eq(json_string_value(json_object_get(meta, "job_type")), type);
    ck_assert_str_eq(json_string_value(json_object_get(meta, "sampler")), "euler");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(meta, "model")), "model.safetensors@"));
    ck_assert(json_number_value(json_object_get(meta, "step_ms")) > 0);
    ck_assert_int_eq(json_integer_value(json_object_get(meta, "seed")), seed);
    for (int i = 0; i < n_images; i++) {
        json_t *a = json_array_get(assets, (size_t)i);
        const char *url =
            json_is_string(a) ? json_string_value(a) : json_string_value(json_object_get(a, "url"));
        ck_assert_ptr_nonnull(url);
        const char *base = strrchr(url, '/');
        base = base ? base + 1 : url;
        char path[1024], err[256];
        ck_assert_msg(find_file(store, base, path, sizeof path), "asset %s not in %s", url, store);
        ov_png_image img;
        ck_assert_msg(ov_png_read(path, &img, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(img.width, w);
        ck_assert_int_eq(img.height, h);
        const char *t = ov_png_image_text(&img, "parameters");
        ck_assert_ptr_nonnull(t);
        char want[64];
        snprintf(want, sizeof want, "Seed: %lld,", seed + i);
        ck_assert_msg(strstr(t, want) != NULL, "image %d parameters: %s", i, t);
        ov_png_image_free(&img);
    }
}

/* The supervisor with the real sdxl worker on the tiny model, jobs from r, local storage under
 * r's dir, callbacks to ts; returns once the worker is ready. */
static void start_supervisor(tsup *t, const tredis *r, ov_ts *ts)
{
    char body[4096], sdxl_bin[1024];
    snprintf(sdxl_bin, sizeof sdxl_bin, "%s/ourvidz-sdxl", bin_dir());
    snprintf(body, sizeof body,
             "spawn_workers = true\nstop_timeout = 5s\ndrain_timeout = 5s\n"
             "[heartbeat]\ninterval = 200ms\ntimeout_loading = 120s\ntimeout_busy = 120s\n"
             "[worker.wan]\nenabled = false\n[worker.qwen]\nenabled = false\n"
             "[worker.sdxl]\nbinary = %s\nmodel = %s\n"
             "[redis]\nurl = unix://%s\nlease = 30s\nblock_timeout = 1s\ncommand_timeout = 5s\n"
             "[storage]\ndir = %s/store\n[callback]\nurl = %s/cb\ntimeout = 5s\n",
             sdxl_bin, g_model, r->sock, r->dir, ov_ts_url(ts));
    tsup_prepare(t, body);
    tsup_start(t, NULL);
    ck_assert_msg(tsup_wait_state(t, "sdxl.0", "ready", 120000), "sdxl worker never became ready");
}

/* Both SDXL job types through Redis, the supervisor and the real worker. The types' own sizes
 * and steps (1024², 15/25) are overridden in the payload (config.resolution,
 * config.num_inference_steps; docs/JOBS.md) to keep the suite fast on the tiny model. The worker
 * warms up first (OURVIDZ_SDXL_WARMUP, which the CPU backend only runs when asked): three runs,
 * logged, before ready. */
START_TEST(service_both_job_types_end_to_end)
{
    tredis r;
    redis_start(&r);
    ov_ts *ts = NULL;
    ck_assert_int_eq(ov_ts_start(&ts), 0);
    ck_assert_int_eq(setenv("OURVIDZ_SDXL_WARMUP", "1,2,i2i@64x64", 1), 0);
    tsup t;
    start_supervisor(&t, &r, ts);
    ck_assert_msg(tsup_log_count(&t, "sdxl_warmup spec=1,2,i2i@64x64 runs_ms=") == 1,
                  "no warm-up line with three runs in the log");
    ck_assert_int_eq(tsup_log_count(&t, "sdxl_warmup_failed"), 0);
    int64_t t0 = tsup_now_ms();
    push(&r, "{\"id\":\"sdxl-fast-1\",\"type\":\"sdxl_image_fast\",\"prompt\":\"a red fox in the snow\","
             "\"user_id\":\"user-1\",\"config\":{\"num_images\":3,\"seed\":500,\"resolution\":\"64x64\","
             "\"num_inference_steps\":2}}");
    push(&r,
         "{\"id\":\"sdxl-high-1\",\"type\":\"sdxl_image_high\",\"prompt\":\"a lighthouse at dusk\","
         "\"user_id\":\"user-1\",\"negative_prompt\":\"blurry\",\"config\":{\"num_images\":1,\"seed\":900,"
         "\"resolution\":\"96x64\",\"num_inference_steps\":3}}");
    /* 80 is not a multiple of 32 (the SDXL UNet needs it): refused with a failed callback */
    push(&r, "{\"id\":\"sdxl-bad-1\",\"type\":\"sdxl_image_fast\",\"prompt\":\"x\",\"user_id\":\"user-1\","
             "\"config\":{\"num_images\":1,\"resolution\":\"80x64\",\"num_inference_steps\":2}}");
    char store[300];
    snprintf(store, sizeof store, "%s/store", r.dir);
    json_t *fast = ov_test_wait_callback(ts, "sdxl-fast-1", 120000);
    ck_assert_msg(fast != NULL, "no callback for sdxl-fast-1");
    check_completed(fast, store, 3, 64, 64, 500, "sdxl_image_fast");
    json_t *high = ov_test_wait_callback(ts, "sdxl-high-1", 120000);
    ck_assert_msg(high != NULL, "no callback for sdxl-high-1");
    check_completed(high, store, 1, 96, 64, 900, "sdxl_image_high");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(high, "metadata"), "negative_conditioning")),
        "encoded");
    json_t *bad = ov_test_wait_callback(ts, "sdxl-bad-1", 120000);
    ck_assert_msg(bad != NULL, "no callback for sdxl-bad-1");
    ck_assert_str_eq(json_string_value(json_object_get(bad, "status")), "failed");
    const char *em = json_string_value(json_object_get(bad, "error_message"));
    ck_assert_msg(em && strstr(em, "multiple of 32"), "error_message: %s", em ? em : "(null)");
    fprintf(stderr, "service: 3 jobs (3 + 1 images, 1 refused) in %.1f s after the worker was ready\n",
            (double)(tsup_now_ms() - t0) / 1e3);
    json_decref(fast);
    json_decref(high);
    json_decref(bad);
    tsup_kill_all(&t);
    ov_ts_stop(ts);
    redis_stop(&r);
}
END_TEST

/* Image-to-image through the supervisor: the worker downloads the reference (served by a second
 * test server, with a token in the query string), fits it, runs 2 of 4 steps, and reports
 * pipeline / denoise_strength / steps_run; a reference that answers 404 fails the job with the
 * status in the message and without the token; pipeline img2img without a URL is refused. */
START_TEST(service_img2img_end_to_end)
{
    tredis r;
    redis_start(&r);
    ov_ts *ts = NULL, *img = NULL;
    ck_assert_int_eq(ov_ts_start(&ts), 0);
    ck_assert_int_eq(ov_ts_start(&img), 0);
    char ref[600];
    snprintf(ref, sizeof ref, "%s/ref_svc.png", g_dir);
    write_reference_png(ref, 80, 120);
    FILE *f = fopen(ref, "rb");
    ck_assert_ptr_nonnull(f);
    static unsigned char png[1 << 20];
    size_t n = fread(png, 1, sizeof png, f);
    fclose(f);
    ck_assert_uint_gt(n, 8);
    ov_ts_set_body_bytes(img, png, n);
    /* the image server is on loopback, which the worker's fetch refuses unless allowed (SSRF guard);
     * the supervisor's workers inherit this */
    ck_assert_int_eq(setenv("OURVIDZ_FETCH_ALLOW_PRIVATE", "1", 1), 0);
    tsup t;
    start_supervisor(&t, &r, ts);
    char job[2048];
    snprintf(job, sizeof job,
             "{\"id\":\"sdxl-i2i-1\",\"type\":\"sdxl_image_fast\",\"prompt\":\"a red fox\",\"user_id\":\"user-1\","
             "\"config\":{\"num_images\":1,\"seed\":31,\"resolution\":\"64x64\",\"num_inference_steps\":4,"
             "\"pipeline\":\"img2img\",\"denoise_strength\":0.5},"
             "\"metadata\":{\"reference_image_url\":\"%s/ref.png?token=SECRET-TOKEN-1\"}}",
             ov_ts_url(img));
    push(&r, job);
    /* the same reference answering 404 (scripted below, after the first download) */
    char store[300];
    snprintf(store, sizeof store, "%s/store", r.dir);
    json_t *ok = ov_test_wait_callback(ts, "sdxl-i2i-1", 120000);
    ck_assert_msg(ok != NULL, "no callback for sdxl-i2i-1");
    check_completed(ok, store, 1, 64, 64, 31, "sdxl_image_fast");
    json_t *meta = json_object_get(ok, "metadata");
    ck_assert_str_eq(json_string_value(json_object_get(meta, "pipeline")), "img2img");
    ck_assert_int_eq(json_integer_value(json_object_get(meta, "steps_run")), 2);
    ck_assert(json_real_value(json_object_get(meta, "denoise_strength")) == 0.5);
    ck_assert_str_eq(json_string_value(json_object_get(meta, "resize_policy")), "letterbox");
    ck_assert_str_eq(json_string_value(json_object_get(meta, "reference_format")), "png");
    ck_assert_int_eq(json_integer_value(json_object_get(meta, "reference_width")), 80);
    ck_assert_int_eq(ov_ts_count(img), 1);
    ov_ts_fail_next(img, 1, 404);
    snprintf(job, sizeof job,
             "{\"id\":\"sdxl-i2i-404\",\"type\":\"sdxl_image_fast\",\"prompt\":\"a red fox\",\"user_id\":\"user-1\","
             "\"config\":{\"num_images\":1,\"resolution\":\"64x64\",\"num_inference_steps\":2},"
             "\"metadata\":{\"reference_image_url\":\"%s/gone.png?token=SECRET-TOKEN-2\"}}",
             ov_ts_url(img));
    push(&r, job);
    push(&r, "{\"id\":\"sdxl-i2i-nourl\",\"type\":\"sdxl_image_fast\",\"prompt\":\"x\",\"user_id\":\"user-1\","
             "\"config\":{\"num_images\":1,\"resolution\":\"64x64\",\"num_inference_steps\":2,"
             "\"pipeline\":\"img2img\"}}");
    json_t *gone = ov_test_wait_callback(ts, "sdxl-i2i-404", 120000);
    ck_assert_msg(gone != NULL, "no callback for sdxl-i2i-404");
    ck_assert_str_eq(json_string_value(json_object_get(gone, "status")), "failed");
    const char *em = json_string_value(json_object_get(gone, "error_message"));
    ck_assert_msg(em && strstr(em, "reference image download failed") && strstr(em, "404") &&
                      !strstr(em, "SECRET"),
                  "error_message: %s", em ? em : "(null)");
    json_t *nourl = ov_test_wait_callback(ts, "sdxl-i2i-nourl", 120000);
    ck_assert_msg(nourl != NULL, "no callback for sdxl-i2i-nourl");
    ck_assert_str_eq(json_string_value(json_object_get(nourl, "status")), "failed");
    em = json_string_value(json_object_get(nourl, "error_message"));
    ck_assert_msg(em && strstr(em, "needs a reference_image_url"), "error_message: %s", em ? em : "(null)");
    json_decref(ok);
    json_decref(gone);
    json_decref(nourl);
    tsup_kill_all(&t);
    ov_ts_stop(img);
    ov_ts_stop(ts);
    redis_stop(&r);
}
END_TEST

/* A supervisor running only an sdxl worker on `model`, without Redis (start failures). */
static void start_sdxl_only(tsup *t, const char *model)
{
    char body[2048], sdxl_bin[1024];
    snprintf(sdxl_bin, sizeof sdxl_bin, "%s/ourvidz-sdxl", bin_dir());
    snprintf(body, sizeof body,
             "spawn_workers = true\nstop_timeout = 2s\n"
             "[worker.wan]\nenabled = false\n[worker.qwen]\nenabled = false\n"
             "[worker.sdxl]\nbinary = %s\nmodel = %s\n",
             sdxl_bin, model);
    tsup_prepare(t, body);
    tsup_start(t, NULL);
}

/* A warm-up spec the worker cannot read stops its start with the reason, not a respawn loop. */
START_TEST(service_bad_warmup_spec_stops_the_start)
{
    ck_assert_int_eq(setenv("OURVIDZ_SDXL_WARMUP", "1,9@64x64", 1), 0);
    tsup t;
    start_sdxl_only(&t, g_model);
    ck_assert_msg(tsup_wait_state(&t, "sdxl.0", "failed", 60000), "worker not failed");
    json_t *st = tsup_status(&t);
    const char *reason = json_string_value(json_object_get(tsup_worker(st, "sdxl.0"), "reason"));
    ck_assert_msg(reason && strstr(reason, "OURVIDZ_SDXL_WARMUP") && strstr(reason, "\"9\""), "reason: %s",
                  reason ? reason : "(null)");
    json_decref(st);
    tsup_kill_all(&t);
}
END_TEST

/* A missing checkpoint: the worker says why and is not respawned in a loop. */
START_TEST(service_missing_model_fails_without_respawn)
{
    char missing[600];
    snprintf(missing, sizeof missing, "%s/missing.safetensors", g_dir);
    tsup t;
    start_sdxl_only(&t, missing);
    ck_assert_msg(tsup_wait_state(&t, "sdxl.0", "failed", 30000), "worker not failed");
    json_t *st = tsup_status(&t);
    json_t *w = tsup_worker(st, "sdxl.0");
    const char *reason = json_string_value(json_object_get(w, "reason"));
    ck_assert_msg(reason && strstr(reason, "missing.safetensors"), "reason: %s", reason ? reason : "(null)");
    int64_t restarts = tsup_wint(st, "sdxl.0", "restarts");
    json_decref(st);
    tsup_sleep_ms(1500);
    st = tsup_status(&t);
    ck_assert_str_eq(tsup_wstate(st, "sdxl.0"), "failed");
    ck_assert_int_eq(tsup_wint(st, "sdxl.0", "restarts"), restarts);
    json_decref(st);
    tsup_kill_all(&t);
}
END_TEST

int main(void)
{
    setup_once();
    Suite *s = suite_create("sdxl_worker");
    TCase *cli = tcase_create("cli");
    tcase_set_timeout(cli, 120);
    tcase_add_test(cli, cli_help_and_usage_errors);
    tcase_add_test(cli, cli_makes_pngs_with_parameters);
    tcase_add_test(cli, cli_img2img_from_a_file);
    suite_add_tcase(s, cli);
    TCase *svc = tcase_create("service");
    tcase_set_timeout(svc, 300);
    tcase_add_test(svc, service_both_job_types_end_to_end);
    tcase_add_test(svc, service_img2img_end_to_end);
    tcase_add_test(svc, service_missing_model_fails_without_respawn);
    tcase_add_test(svc, service_bad_warmup_spec_stops_the_start);
    suite_add_tcase(s, svc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    teardown_once();
    return failed ? 1 : 0;
}
