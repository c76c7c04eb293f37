/* Storage: id validation, object names for both layouts, content types, local and Supabase uploads. */
#include <check.h>
#include <jansson.h>
#include <webp/decode.h>

#include "delivery_test_util.h"
#include "support/http_test_server.h"
#include "supervisor/store.h"

#define SECRET "sk-test-SERVICE-KEY-5f3a9c"

START_TEST(test_id_validation)
{
    ck_assert_int_eq(ov_store_id_valid("3f1c2a9e-1b2c-4d5e-8f90-123456789abc"), 1);
    ck_assert_int_eq(ov_store_id_valid("a_b-C9"), 1);
    ck_assert_int_eq(ov_store_id_valid(""), 0);
    ck_assert_int_eq(ov_store_id_valid(NULL), 0);
    ck_assert_int_eq(ov_store_id_valid(".."), 0);
    ck_assert_int_eq(ov_store_id_valid("../etc"), 0);
    ck_assert_int_eq(ov_store_id_valid("a/b"), 0);
    ck_assert_int_eq(ov_store_id_valid("a.b"), 0);
    ck_assert_int_eq(ov_store_id_valid("a b"), 0);
    ck_assert_int_eq(ov_store_id_valid("a\\b"), 0);
    ck_assert_int_eq(ov_store_id_valid("caf\xc3\xa9"), 0);
    char long_id[97];
    memset(long_id, 'a', 96);
    long_id[96] = '\0';
    ck_assert_int_eq(ov_store_id_valid(long_id), 0);
    long_id[95] = '\0';
    ck_assert_int_eq(ov_store_id_valid(long_id), 1);
}
END_TEST

static void name(const ov_store_naming *n, int i, const char *mime, const char *bucket, const char *path)
{
    char b[OV_STORE_BUCKET_MAX], p[OV_STORE_PATH_MAX];
    ck_assert_int_eq(ov_store_object_name(n, i, mime, b, sizeof b, p, sizeof p), 0);
    ck_assert_str_eq(b, bucket);
    ck_assert_str_eq(p, path);
}

START_TEST(test_names_legacy)
{
    ov_store_naming n = {OV_STORE_LAYOUT_LEGACY, "job-1", "sdxl_image_fast", "user-9", NULL, 1753500000};
    name(&n, 0, "image/png", "sdxl_image_fast", "user-9/sdxl_job-1_1753500000_1.png");
    name(&n, 5, "image/png", "sdxl_image_fast", "user-9/sdxl_job-1_1753500000_6.png");
    n.job_type = "video_fast";
    name(&n, 0, "video/mp4", "video_fast", "user-9/video_1753500000.mp4");
    n.video_id = "vid-7";
    name(&n, 0, "video/mp4", "video_fast", "user-9/vid-7.mp4");
    name(&n, 1, "video/mp4", "video_fast", "user-9/vid-7_1.mp4");
    n.job_type = "image7b_high_enhanced";
    n.video_id = NULL;
    name(&n, 0, "image/png", "image7b_high_enhanced", "user-9/video_1753500000.png");
    char p[OV_STORE_PATH_MAX];
    ck_assert_int_eq(ov_store_thumb_name(&n, 0, p, sizeof p), OV_EINVAL);
}
END_TEST

START_TEST(test_names_workspace)
{
    ov_store_naming n = {OV_STORE_LAYOUT_WORKSPACE, "job-1", "sdxl_image_high", "user-9", NULL, 1753500000};
    name(&n, 0, "image/png", "workspace-temp", "user-9/job-1/0.png");
    name(&n, 2, "image/png", "workspace-temp", "user-9/job-1/2.png");
    n.job_type = "video_high";
    name(&n, 0, "video/mp4", "workspace-temp", "user-9/job-1/0.mp4");
    char p[OV_STORE_PATH_MAX];
    ck_assert_int_eq(ov_store_thumb_name(&n, 1, p, sizeof p), 0);
    ck_assert_str_eq(p, "user-9/job-1/1.thumb.webp");
}
END_TEST

START_TEST(test_names_reject_traversal)
{
    char b[OV_STORE_BUCKET_MAX], p[OV_STORE_PATH_MAX];
    const char *bad[] = {"../etc", "a/b", "..", "a.b", "", "x\ny"};
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            ov_store_naming n = {l, "job-1", "sdxl_image_fast", bad[i], NULL, 1};
            ck_assert_int_eq(ov_store_object_name(&n, 0, "image/png", b, sizeof b, p, sizeof p), OV_EINVAL);
            n.user_id = "u";
            n.job_id = bad[i];
            ck_assert_int_eq(ov_store_object_name(&n, 0, "image/png", b, sizeof b, p, sizeof p), OV_EINVAL);
            n.job_id = "j";
            n.job_type = bad[i];
            ck_assert_int_eq(ov_store_object_name(&n, 0, "image/png", b, sizeof b, p, sizeof p), OV_EINVAL);
            n.job_type = "video_fast";
            n.video_id = bad[i][0] ? bad[i] : "../x";
            if (l == OV_STORE_LAYOUT_LEGACY)
                ck_assert_int_eq(ov_store_object_name(&n, 0, "video/mp4", b, sizeof b, p, sizeof p), OV_EINVAL);
        }
    ov_store_naming ok = {0, "j", "video_fast", "u", NULL, 1};
    ck_assert_int_eq(ov_store_object_name(&ok, 0, "application/octet-stream", b, sizeof b, p, sizeof p), OV_EINVAL);
    ck_assert_int_eq(ov_store_object_name(&ok, 0, "video/mp4", b, 4, p, sizeof p), OV_ERANGE);
}
END_TEST

START_TEST(test_sniff)
{
    const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};
    const uint8_t mp4[] = {0, 0, 0, 0x20, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm'};
    const uint8_t webp[] = {'R', 'I', 'F', 'F', 1, 2, 3, 4, 'W', 'E', 'B', 'P'};
    const uint8_t jpg[] = {0xff, 0xd8, 0xff, 0xe0};
    const uint8_t junk[] = "Traceback (most recent call last)";
    ck_assert_str_eq(ov_store_sniff_mime(png, sizeof png), "image/png");
    ck_assert_str_eq(ov_store_sniff_mime(mp4, sizeof mp4), "video/mp4");
    ck_assert_str_eq(ov_store_sniff_mime(webp, sizeof webp), "image/webp");
    ck_assert_str_eq(ov_store_sniff_mime(jpg, sizeof jpg), "image/jpeg");
    ck_assert_ptr_null(ov_store_sniff_mime(junk, sizeof junk));
    ck_assert_ptr_null(ov_store_sniff_mime(png, 4));
    ck_assert_str_eq(ov_store_mime_ext("image/png"), "png");
    ck_assert_str_eq(ov_store_mime_ext("video/mp4"), "mp4");
    ck_assert_str_eq(ov_store_mime_ext("image/webp"), "webp");
    ck_assert_ptr_null(ov_store_mime_ext("application/octet-stream"));
}
END_TEST

/* ---- uploads through ov_delivery ---- */

typedef struct env {
    uv_loop_t loop;
    ov_config cfg;
    char dir[64], spool[96], store[96];
    ov_delivery *d;
} env;

static void env_init(env *e, const char *backend, const char *layout)
{
    unsetenv("SUPABASE_URL");
    unsetenv("SUPABASE_SERVICE_KEY");
    unsetenv("OURVIDZ_CALLBACK_URL");
    uv_loop_init(&e->loop);
    ov_config_defaults(&e->cfg);
    dt_tempdir(e->dir, sizeof e->dir, "store");
    snprintf(e->spool, sizeof e->spool, "%s/spool", e->dir);
    mkdir(e->spool, 0755);
    snprintf(e->store, sizeof e->store, "%s/storage", e->dir);
    snprintf(e->cfg.storage_backend, sizeof e->cfg.storage_backend, "%s", backend);
    snprintf(e->cfg.storage_dir, sizeof e->cfg.storage_dir, "%s", e->store);
    snprintf(e->cfg.storage_layout, sizeof e->cfg.storage_layout, "%s", layout);
    e->cfg.storage_retry_max_age_ms = 3000;
    e->cfg.storage_upload_timeout_ms = 2000;
    e->cfg.callback_retry_max_age_ms = 5000;
    e->cfg.callback_timeout_ms = 2000;
}

static void env_start(env *e)
{
    char err[256] = "";
    int rc = ov_delivery_init(&e->d, &e->loop, &e->cfg, err, sizeof err);
    ck_assert_msg(rc == 0, "init: %s", err);
    ov_delivery_set_backoff(e->d, 50, 400);
}

static void env_end(env *e)
{
    ck_assert_int_eq(dt_close(&e->loop, e->d), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void spool_path(env *e, char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", e->spool, name);
}

START_TEST(test_local_legacy_sdxl)
{
    env e;
    env_init(&e, "local", "legacy");
    env_start(&e);
    char p0[160], p1[128], p2[128];
    spool_path(&e, p0, sizeof p0, "a.png");
    spool_path(&e, p1, sizeof p1, "b.png");
    spool_path(&e, p2, sizeof p2, "c.png");
    dt_write_png(p0, 64, 48);
    dt_write_png(p1, 64, 48);
    dt_write_png(p2, 64, 48);
    const char *paths[] = {p0, p1, p2}, *mimes[] = {"image/png", "image/png", "image/png"};
    ov_msg m;
    dt_result(&m, "job-1", 3, paths, mimes, 7);
    ov_delivery_job j = {.job_id = "job-1", .job_type = "sdxl_image_fast", .user_id = "user-9", .completed = 1,
                         .result = &m};
    dt_done done = {0};
    time_t t0 = time(NULL);
    ck_assert_int_eq(ov_delivery_start(e.d, &j, dt_on_done, &done), 0);
    ck_assert_int_eq(done.called, 0); /* never from inside start */
    ck_assert_int_eq(ov_delivery_pending(e.d), 1);
    ck_assert(dt_run_until(&e.loop, &done.called, 5000));
    ck_assert_int_eq(done.status, 0);
    ck_assert_int_eq(ov_delivery_pending(e.d), 0);
    time_t t1 = time(NULL);
    /* The object names carry the upload second: find it within [t0, t1]. */
    int found = 0;
    for (time_t t = t0; t <= t1 && !found; t++) {
        char f[256];
        snprintf(f, sizeof f, "%s/sdxl_image_fast/user-9/sdxl_job-1_%lld_1.png", e.store, (long long)t);
        if (!dt_exists(f))
            continue;
        found = 1;
        for (int i = 1; i <= 3; i++) {
            snprintf(f, sizeof f, "%s/sdxl_image_fast/user-9/sdxl_job-1_%lld_%d.png", e.store, (long long)t, i);
            struct stat sb;
            ck_assert_int_eq(stat(f, &sb), 0);
            ck_assert_int_eq(sb.st_mode & 0777, 0640);
            size_t n = 0;
            char *b = dt_read_file(f, &n);
            ck_assert_mem_eq(b, "\x89PNG", 4);
            free(b);
        }
    }
    ck_assert_msg(found, "stored objects not found under %s", e.store);
    /* Spool files are removed after a successful upload. */
    ck_assert(!dt_exists(p0) && !dt_exists(p1) && !dt_exists(p2));
    ov_msg_free(&m);
    env_end(&e);
}
END_TEST

START_TEST(test_local_workspace_with_thumbnails)
{
    env e;
    env_init(&e, "local", "workspace");
    env_start(&e);
    char p0[160], p1[128];
    spool_path(&e, p0, sizeof p0, "out0.png");
    spool_path(&e, p1, sizeof p1, "out1.png");
    dt_write_png(p0, 512, 320);
    dt_write_png(p1, 100, 300);
    const char *paths[] = {p0, p1}, *mimes[] = {"image/png", "image/png"};
    ov_msg m;
    dt_result(&m, "job-2", 2, paths, mimes, 1);
    ov_delivery_job j = {.job_id = "job-2", .job_type = "sdxl_image_high", .user_id = "user-9", .completed = 1,
                         .result = &m};
    dt_done done = {0};
    ck_assert_int_eq(ov_delivery_start(e.d, &j, dt_on_done, &done), 0);
    ck_assert(dt_run_until(&e.loop, &done.called, 5000));
    ck_assert_int_eq(done.status, 0);
    char f[256];
    int ew[] = {256, 85}, eh[] = {160, 256};
    for (int i = 0; i < 2; i++) {
        snprintf(f, sizeof f, "%s/workspace-temp/user-9/job-2/%d.png", e.store, i);
        ck_assert(dt_exists(f));
        snprintf(f, sizeof f, "%s/workspace-temp/user-9/job-2/%d.thumb.webp", e.store, i);
        size_t n = 0;
        char *b = dt_read_file(f, &n);
        ck_assert_ptr_nonnull(b);
        int w = 0, h = 0;
        ck_assert(WebPGetInfo((const uint8_t *)b, n, &w, &h));
        ck_assert_int_eq(w, ew[i]);
        ck_assert_int_eq(h, eh[i]);
        free(b);
    }
    snprintf(f, sizeof f, "%s.thumb.webp", p0);
    ck_assert(!dt_exists(f)); /* the temporary thumbnail is gone too */
    ck_assert(!dt_exists(p0));
    ov_msg_free(&m);
    env_end(&e);
}
END_TEST

START_TEST(test_local_workspace_video)
{
    env e;
    env_init(&e, "local", "workspace");
    env_start(&e);
    char p0[160];
    spool_path(&e, p0, sizeof p0, "v.mp4");
    dt_write_mp4(p0);
    const char *paths[] = {p0}, *mimes[] = {"video/mp4"};
    ov_msg m;
    dt_result(&m, "job-3", 1, paths, mimes, -1);
    ov_delivery_job j = {.job_id = "job-3", .job_type = "video_fast", .user_id = "user-9", .completed = 1,
                         .result = &m};
    dt_done done = {0};
    ck_assert_int_eq(ov_delivery_start(e.d, &j, dt_on_done, &done), 0);
    ck_assert(dt_run_until(&e.loop, &done.called, 5000));
    ck_assert_int_eq(done.status, 0);
    char f[256];
    snprintf(f, sizeof f, "%s/workspace-temp/user-9/job-3/0.mp4", e.store);
    ck_assert(dt_exists(f));
    ov_msg_free(&m);
    env_end(&e);
}
END_TEST

START_TEST(test_start_rejects_unsafe_ids)
{
    env e;
    env_init(&e, "local", "legacy");
    env_start(&e);
    ov_msg m;
    dt_result(&m, "j", 0, NULL, NULL, -1);
    dt_done done = {0};
    const char *bad[] = {"../../etc", "a/b", "", "x y", ".."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ov_delivery_job j = {.job_id = bad[i], .job_type = "video_fast", .user_id = "u", .completed = 1, .result = &m};
        ck_assert_int_eq(ov_delivery_start(e.d, &j, dt_on_done, &done), OV_EINVAL);
        j.job_id = "j";
        j.user_id = bad[i];
        ck_assert_int_eq(ov_delivery_start(e.d, &j, dt_on_done, &done), OV_EINVAL);
        j.user_id = "u";
        j.job_type = bad[i];
        ck_assert_int_eq(ov_delivery_start(e.d, &j, dt_on_done, &done), OV_EINVAL);
        j.job_type = "video_fast";
        if (bad[i][0]) {
            j.video_id = bad[i];
            ck_assert_int_eq(ov_delivery_start(e.d, &j, dt_on_done, &done), OV_EINVAL);
        }
    }
    ck_assert_int_eq(ov_delivery_pending(e.d), 0);
    ov_msg_free(&m);
    dt_run_for(&e.loop, 20);
    ck_assert_int_eq(done.called, 0);
    env_end(&e);
}
END_TEST

/* ---- Supabase Storage REST against a local server ---- */

static void sb_env(env *e, ov_ts *storage, ov_ts *cb, const char *layout)
{
    env_init(e, "auto", layout);
    setenv("SUPABASE_URL", ov_ts_url(storage), 1);
    setenv("SUPABASE_SERVICE_KEY", SECRET, 1);
    snprintf(e->cfg.callback_url, sizeof e->cfg.callback_url, "%s/functions/v1/job-callback", ov_ts_url(cb));
}

START_TEST(test_supabase_upload_headers_and_content_types)
{
    ov_ts *st, *cb;
    ck_assert_int_eq(ov_ts_start(&st), 0);
    ck_assert_int_eq(ov_ts_start(&cb), 0);
    env e;
    sb_env(&e, st, cb, "workspace");
    e.cfg.storage_thumbnails = 1;
    env_start(&e);
    char p0[160], p1[128];
    spool_path(&e, p0, sizeof p0, "i.png");
    spool_path(&e, p1, sizeof p1, "v.mp4");
    dt_write_png(p0, 300, 300);
    dt_write_mp4(p1);
    /* The worker's claim is wrong for the second file: the bytes decide (no 415). */
    const char *paths[] = {p0, p1}, *mimes[] = {"image/png", "application/octet-stream"};
    ov_msg m;
    dt_result(&m, "job-4", 2, paths, mimes, 3);
    ov_delivery_job j = {.job_id = "job-4", .job_type = "video_high", .user_id = "user-9", .completed = 1,
                         .result = &m};
    dt_done done = {0};
    ck_assert_int_eq(ov_delivery_start(e.d, &j, dt_on_done, &done), 0);
    ck_assert(dt_run_until(&e.loop, &done.called, 8000));
    ck_assert_int_eq(done.status, 0);
    ck_assert_int_eq(ov_ts_count(st), 3);
    int seen = 0;
    for (int i = 0; i < 3; i++) {
        ov_ts_request r;
        ck_assert_int_eq(ov_ts_get(st, i, &r), 0);
        ck_assert_str_eq(r.method, "POST");
        ck_assert_str_eq(r.authorization, "Bearer " SECRET);
        ck_assert_str_eq(r.apikey, SECRET);
        ck_assert_str_eq(r.upsert, "true");
        if (strcmp(r.url, "/storage/v1/object/workspace-temp/user-9/job-4/0.png") == 0) {
            ck_assert_str_eq(r.content_type, "image/png");
            ck_assert_mem_eq(r.body, "\x89PNG", 4);
            seen |= 1;
        } else if (strcmp(r.url, "/storage/v1/object/workspace-temp/user-9/job-4/1.mp4") == 0) {
            ck_assert_str_eq(r.content_type, "video/mp4");
            ck_assert_int_eq(r.body_len, 64);
            seen |= 2;
        } else if (strcmp(r.url, "/storage/v1/object/workspace-temp/user-9/job-4/0.thumb.webp") == 0) {
            ck_assert_str_eq(r.content_type, "image/webp");
            ck_assert_mem_eq(r.body, "RIFF", 4);
            seen |= 4;
        } else {
            ck_abort_msg("unexpected upload %s", r.url);
        }
        ov_ts_request_free(&r);
    }
    ck_assert_int_eq(seen, 7);
    ck_assert_int_eq(ov_ts_count(cb), 1);
    ov_msg_free(&m);
    env_end(&e);
    ov_ts_stop(st);
    ov_ts_stop(cb);
}
END_TEST

START_TEST(test_supabase_500_for_a_while_then_completes)
{
    ov_ts *st, *cb;
    ck_assert_int_eq(ov_ts_start(&st), 0);
    ck_assert_int_eq(ov_ts_start(&cb), 0);
    ov_ts_fail_next(st, 4, 500);
    env e;
    sb_env(&e, st, cb, "legacy");
    e.cfg.storage_retry_max_age_ms = 20000;
    env_start(&e);
    char p0[160];
    spool_path(&e, p0, sizeof p0, "i.png");
    dt_write_png(p0, 32, 32);
    const char *paths[] = {p0}, *mimes[] = {"image/png"};
    ov_msg m;
    dt_result(&m, "job-5", 1, paths, mimes, 3);
    ov_delivery_job j = {.job_id = "job-5", .job_type = "sdxl_image_fast", .user_id = "user-9", .completed = 1,
                         .result = &m};
    dt_done done = {0};
    ck_assert_int_eq(ov_delivery_start(e.d, &j, dt_on_done, &done), 0);
    ck_assert(dt_run_until(&e.loop, &done.called, 15000));
    ck_assert_int_eq(done.status, 0);
    ck_assert_int_eq(ov_ts_count(st), 5); /* 4 refused, the 5th stored */
    ck_assert_int_eq(ov_ts_count_ok(st), 1);
    ck_assert_int_eq(ov_ts_count(cb), 1);
    ov_ts_request r;
    ck_assert_int_eq(ov_ts_get(cb, 0, &r), 0);
    json_t *root = json_loads(r.body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(root, "status")), "completed");
    ck_assert_int_eq(json_array_size(json_object_get(root, "assets")), 1);
    json_decref(root);
    ov_ts_request_free(&r);
    ck_assert(!dt_exists(p0));
    ov_msg_free(&m);
    env_end(&e);
    ov_ts_stop(st);
    ov_ts_stop(cb);
}
END_TEST

START_TEST(test_supabase_permanently_failing_gives_failed_callback)
{
    ov_ts *st, *cb;
    ck_assert_int_eq(ov_ts_start(&st), 0);
    ck_assert_int_eq(ov_ts_start(&cb), 0);
    ov_ts_set_status(st, 503);
    /* The server echoes the key in its error: the log must still not show it. */
    ov_ts_set_body(st, "{\"error\":\"bad gateway for " SECRET "\"}");
    int logfd = dt_capture_log();
    env e;
    sb_env(&e, st, cb, "legacy");
    e.cfg.storage_retry_max_age_ms = 1500;
    env_start(&e);
    char p0[160];
    spool_path(&e, p0, sizeof p0, "i.png");
    dt_write_png(p0, 32, 32);
    const char *paths[] = {p0}, *mimes[] = {"image/png"};
    ov_msg m;
    dt_result(&m, "job-6", 1, paths, mimes, 3);
    ov_delivery_job j = {.job_id = "job-6", .job_type = "sdxl_image_fast", .user_id = "user-9", .completed = 1,
                         .result = &m};
    dt_done done = {0};
    uv_update_time(&e.loop);
    uint64_t t0 = uv_now(&e.loop);
    ck_assert_int_eq(ov_delivery_start(e.d, &j, dt_on_done, &done), 0);
    ck_assert(dt_run_until(&e.loop, &done.called, 10000));
    uint64_t took = uv_now(&e.loop) - t0;
    ck_assert_int_eq(done.status, OV_EIO); /* upload gave up; failed callback delivered */
    ck_assert_msg(took >= 1500 && took < 6000, "gave up after %llu ms", (unsigned long long)took);
    ck_assert_int_ge(ov_ts_count(st), 3); /* retried */
    ck_assert_int_eq(ov_ts_count(cb), 1);
    ov_ts_request r;
    ck_assert_int_eq(ov_ts_get(cb, 0, &r), 0);
    json_t *root = json_loads(r.body, 0, NULL);
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(json_string_value(json_object_get(root, "job_id")), "job-6");
    ck_assert_str_eq(json_string_value(json_object_get(root, "status")), "failed");
    ck_assert_int_eq(json_array_size(json_object_get(root, "assets")), 0);
    const char *em = json_string_value(json_object_get(root, "error_message"));
    ck_assert_ptr_nonnull(em);
    ck_assert_msg(strncmp(em, "upload failed: ", 15) == 0 && strstr(em, "HTTP 503"), "%s", em);
    json_decref(root);
    ov_ts_request_free(&r);
    ov_msg_free(&m);
    env_end(&e);
    char *log = dt_read_fd(logfd);
    ck_assert_ptr_nonnull(strstr(log, "upload_gave_up"));
    ck_assert_ptr_null(strstr(log, SECRET));
    ck_assert_ptr_nonnull(strstr(log, "***"));
    free(log);
    ov_ts_stop(st);
    ov_ts_stop(cb);
}
END_TEST

START_TEST(test_supabase_415_is_permanent)
{
    ov_ts *st, *cb;
    ck_assert_int_eq(ov_ts_start(&st), 0);
    ck_assert_int_eq(ov_ts_start(&cb), 0);
    ov_ts_set_status(st, 415);
    ov_ts_set_body(st, "{\"statusCode\":\"415\",\"error\":\"invalid_mime_type\"}");
    env e;
    sb_env(&e, st, cb, "legacy");
    e.cfg.storage_retry_max_age_ms = 60000;
    env_start(&e);
    char p0[160];
    spool_path(&e, p0, sizeof p0, "i.png");
    dt_write_png(p0, 32, 32);
    const char *paths[] = {p0}, *mimes[] = {"image/png"};
    ov_msg m;
    dt_result(&m, "job-7", 1, paths, mimes, 3);
    ov_delivery_job j = {.job_id = "job-7", .job_type = "sdxl_image_fast", .user_id = "user-9", .completed = 1,
                         .result = &m};
    dt_done done = {0};
    ck_assert_int_eq(ov_delivery_start(e.d, &j, dt_on_done, &done), 0);
    ck_assert(dt_run_until(&e.loop, &done.called, 5000));
    ck_assert_int_eq(done.status, OV_EIO);
    ck_assert_int_eq(ov_ts_count(st), 1); /* not retried */
    ck_assert_ptr_nonnull(strstr(done.detail, "invalid_mime_type"));
    ov_msg_free(&m);
    env_end(&e);
    ov_ts_stop(st);
    ov_ts_stop(cb);
}
END_TEST

START_TEST(test_missing_spool_file_fails_job)
{
    ov_ts *cb;
    ck_assert_int_eq(ov_ts_start(&cb), 0);
    env e;
    env_init(&e, "local", "legacy");
    snprintf(e.cfg.callback_url, sizeof e.cfg.callback_url, "%s/cb", ov_ts_url(cb));
    env_start(&e);
    const char *paths[] = {"/nonexistent/x.png"}, *mimes[] = {"image/png"};
    ov_msg m;
    dt_result(&m, "job-8", 1, paths, mimes, 3);
    ov_delivery_job j = {.job_id = "job-8", .job_type = "sdxl_image_fast", .user_id = "user-9", .completed = 1,
                         .result = &m};
    dt_done done = {0};
    ck_assert_int_eq(ov_delivery_start(e.d, &j, dt_on_done, &done), 0);
    ck_assert(dt_run_until(&e.loop, &done.called, 5000));
    ck_assert_int_eq(done.status, OV_EIO);
    ck_assert_int_eq(ov_ts_count(cb), 1);
    ov_msg_free(&m);
    env_end(&e);
    ov_ts_stop(cb);
}
END_TEST

START_TEST(test_many_deliveries_overlap)
{
    ov_ts *st, *cb;
    ck_assert_int_eq(ov_ts_start(&st), 0);
    ck_assert_int_eq(ov_ts_start(&cb), 0);
    ov_ts_set_delay_ms(st, 300); /* every upload takes 300 ms */
    env e;
    sb_env(&e, st, cb, "legacy");
    env_start(&e);
    enum { N = 20 };
    dt_done done[N];
    memset(done, 0, sizeof done);
    ov_msg m[N];
    for (int i = 0; i < N; i++) {
        char p[160], id[32];
        snprintf(id, sizeof id, "f%d.png", i);
        spool_path(&e, p, sizeof p, id);
        dt_write_png(p, 16, 16);
        snprintf(id, sizeof id, "job-%d", i);
        const char *paths[] = {p}, *mimes[] = {"image/png"};
        dt_result(&m[i], id, 1, paths, mimes, i);
        ov_delivery_job j = {.job_id = id, .job_type = "sdxl_image_fast", .user_id = "u", .completed = 1,
                             .result = &m[i]};
        ck_assert_int_eq(ov_delivery_start(e.d, &j, dt_on_done, &done[i]), 0);
    }
    ck_assert_int_eq(ov_delivery_pending(e.d), N);
    uv_update_time(&e.loop);
    uint64_t t0 = uv_now(&e.loop);
    int all = 0;
    for (int spins = 0; spins < 400 && !all; spins++) {
        dt_run_for(&e.loop, 10);
        all = 1;
        for (int i = 0; i < N; i++)
            all &= done[i].called == 1;
    }
    uint64_t took = uv_now(&e.loop) - t0;
    ck_assert(all);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(done[i].status, 0);
    /* 20 x 300 ms one after another would be 6 s: they run side by side. */
    ck_assert_msg(took < 3000, "took %llu ms", (unsigned long long)took);
    ck_assert_int_eq(ov_ts_count(cb), N);
    for (int i = 0; i < N; i++)
        ov_msg_free(&m[i]);
    env_end(&e);
    ov_ts_stop(st);
    ov_ts_stop(cb);
}
END_TEST

START_TEST(test_bad_config)
{
    env e;
    env_init(&e, "supabase", "legacy");
    char err[256] = "";
    ck_assert_int_eq(ov_delivery_init(&e.d, &e.loop, &e.cfg, err, sizeof err), OV_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "SUPABASE_URL"));
    snprintf(e.cfg.storage_backend, sizeof e.cfg.storage_backend, "local");
    snprintf(e.cfg.storage_layout, sizeof e.cfg.storage_layout, "flat");
    ck_assert_int_eq(ov_delivery_init(&e.d, &e.loop, &e.cfg, err, sizeof err), OV_ECONFIG);
    snprintf(e.cfg.storage_layout, sizeof e.cfg.storage_layout, "legacy");
    snprintf(e.cfg.callback_url, sizeof e.cfg.callback_url, "ftp://x/cb");
    ck_assert_int_eq(ov_delivery_init(&e.d, &e.loop, &e.cfg, err, sizeof err), OV_ECONFIG);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&e.loop), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store");
    TCase *u = tcase_create("naming");
    tcase_add_test(u, test_id_validation);
    tcase_add_test(u, test_names_legacy);
    tcase_add_test(u, test_names_workspace);
    tcase_add_test(u, test_names_reject_traversal);
    tcase_add_test(u, test_sniff);
    suite_add_tcase(s, u);
    TCase *l = tcase_create("uploads");
    tcase_set_timeout(l, 60);
    tcase_add_test(l, test_local_legacy_sdxl);
    tcase_add_test(l, test_local_workspace_with_thumbnails);
    tcase_add_test(l, test_local_workspace_video);
    tcase_add_test(l, test_start_rejects_unsafe_ids);
    tcase_add_test(l, test_supabase_upload_headers_and_content_types);
    tcase_add_test(l, test_supabase_500_for_a_while_then_completes);
    tcase_add_test(l, test_supabase_permanently_failing_gives_failed_callback);
    tcase_add_test(l, test_supabase_415_is_permanent);
    tcase_add_test(l, test_missing_spool_file_fails_job);
    tcase_add_test(l, test_many_deliveries_overlap);
    tcase_add_test(l, test_bad_config);
    suite_add_tcase(s, l);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
