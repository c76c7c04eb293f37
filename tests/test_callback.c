/* Callbacks: exact job-callback JSON (both asset formats), retries through an outage, give-up rules. */
#include <check.h>
#include <jansson.h>

#include "delivery_test_util.h"
#include "support/http_test_server.h"
#include "supervisor/callback.h"

#define SECRET "sk-test-CALLBACK-KEY-77d1e0"

/* ---- body rendering ---- */

static json_t *render(const ov_cb_body *b)
{
    ov_buf out;
    ov_buf_init(&out, OV_CALLBACK_BODY_MAX);
    ck_assert_int_eq(ov_callback_body(b, &out), 0);
    json_error_t e;
    json_t *j = json_loads(out.data, JSON_REJECT_DUPLICATES, &e);
    ck_assert_msg(j != NULL, "invalid JSON: %s", out.data);
    ov_buf_free(&out);
    return j;
}

/* Compare after dropping metadata.timestamp (checked separately). */
static void expect(json_t *got, const char *want_text)
{
    json_t *want = json_loads(want_text, 0, NULL);
    ck_assert_ptr_nonnull(want);
    json_t *meta = json_object_get(got, "metadata");
    const char *ts = json_string_value(json_object_get(meta, "timestamp"));
    ck_assert_str_eq(ts, "2025-07-26T12:00:00.250Z");
    json_object_del(meta, "timestamp");
    char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT), *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_msg(json_equal(got, want), "\n got: %s\nwant: %s", g, w);
    free(g);
    free(w);
    json_decref(want);
}

#define T_MS 1753531200250LL /* 2025-07-26T12:00:00.250Z */

START_TEST(test_body_completed_paths)
{
    ov_kvlist meta = {0};
    ov_kvlist_set_int(&meta, "seed", 1000);
    ov_kvlist_set_float(&meta, "generation_time", 12.5);
    ov_kvlist_set_str(&meta, "final_prompt", "a cat");
    ov_kvlist_set_bool(&meta, "compel_enabled", false);
    ov_cb_asset a[3] = {
        {"sdxl_image_fast", "u/sdxl_j_1_1.png", NULL, "image/png", 0, 100, 1024, 1024},
        {"sdxl_image_fast", "u/sdxl_j_1_2.png", NULL, "image/png", 1, 101, 1024, 1024},
        {"sdxl_image_fast", "u/sdxl_j_1_3.png", NULL, "image/png", 2, 102, 1024, 1024},
    };
    ov_cb_body b = {.job_id = "j", .job_type = "sdxl_image_fast", .status = "completed",
                    .asset_format = OV_CB_ASSETS_PATHS, .assets = a, .nassets = 3, .meta = &meta,
                    .metadata_json = "{\"attempts\":2,\"enhanced_prompt\":null}", .progress = -1, .unix_ms = T_MS};
    json_t *j = render(&b);
    expect(j, "{\"job_id\":\"j\",\"status\":\"completed\","
              "\"assets\":[\"u/sdxl_j_1_1.png\",\"u/sdxl_j_1_2.png\",\"u/sdxl_j_1_3.png\"],"
              "\"error_message\":null,"
              "\"metadata\":{\"seed\":1000,\"generation_time\":12.5,\"final_prompt\":\"a cat\","
              "\"compel_enabled\":false,\"job_type\":\"sdxl_image_fast\",\"num_images\":3,"
              "\"attempts\":2,\"enhanced_prompt\":null}}");
    /* Key order on the wire is the contract's: job_id, status, assets, error_message, metadata. */
    ov_buf out;
    ov_buf_init(&out, OV_CALLBACK_BODY_MAX);
    ov_callback_body(&b, &out);
    const char *prefix = "{\"job_id\":\"j\",\"status\":\"completed\",\"assets\":[";
    ck_assert_msg(strncmp(out.data, prefix, strlen(prefix)) == 0, "%s", out.data);
    ov_buf_free(&out);
    json_decref(j);
    ov_kvlist_free(&meta);
}
END_TEST

START_TEST(test_body_completed_objects)
{
    ov_kvlist meta = {0};
    ov_kvlist_set_int(&meta, "seed", 1000);
    ov_cb_asset a[2] = {
        {"workspace-temp", "u/j/0.png", "u/j/0.thumb.webp", "image/png", 0, 5000, 1024, 1024},
        {"workspace-temp", "u/j/1.png", NULL, "image/png", 1, -1, 0, 0},
    };
    ov_cb_body b = {.job_id = "j", .job_type = "sdxl_image_high", .status = "completed",
                    .asset_format = OV_CB_ASSETS_OBJECTS, .assets = a, .nassets = 2, .meta = &meta,
                    .progress = -1, .unix_ms = T_MS};
    json_t *j = render(&b);
    expect(j, "{\"job_id\":\"j\",\"status\":\"completed\",\"assets\":["
              "{\"type\":\"image\",\"url\":\"u/j/0.png\",\"thumbnail_url\":\"u/j/0.thumb.webp\","
              "\"metadata\":{\"asset_index\":0,\"bucket\":\"workspace-temp\",\"content_type\":\"image/png\","
              "\"format\":\"png\",\"file_size_bytes\":5000,\"width\":1024,\"height\":1024,\"seed\":1000}},"
              "{\"type\":\"image\",\"url\":\"u/j/1.png\",\"thumbnail_url\":null,"
              "\"metadata\":{\"asset_index\":1,\"bucket\":\"workspace-temp\",\"content_type\":\"image/png\","
              "\"format\":\"png\",\"seed\":1001}}],"
              "\"error_message\":null,"
              "\"metadata\":{\"seed\":1000,\"job_type\":\"sdxl_image_high\",\"num_images\":2}}");
    json_decref(j);
    /* A video: generation_seed, no num_images. */
    ov_cb_asset v = {"workspace-temp", "u/j/0.mp4", NULL, "video/mp4", 0, 3000000, 0, 0};
    b.job_type = "video_high";
    b.assets = &v;
    b.nassets = 1;
    j = render(&b);
    expect(j, "{\"job_id\":\"j\",\"status\":\"completed\",\"assets\":["
              "{\"type\":\"video\",\"url\":\"u/j/0.mp4\",\"thumbnail_url\":null,"
              "\"metadata\":{\"asset_index\":0,\"bucket\":\"workspace-temp\",\"content_type\":\"video/mp4\","
              "\"format\":\"mp4\",\"file_size_bytes\":3000000,\"generation_seed\":1000}}],"
              "\"error_message\":null,\"metadata\":{\"seed\":1000,\"job_type\":\"video_high\"}}");
    json_decref(j);
    ov_kvlist_free(&meta);
}
END_TEST

/* The W-HEAD per-image fields from the sdxl worker's metadata: steps, guidance, batch size, whether a
 * negative prompt was used, and the image-to-image trio. */
START_TEST(test_body_objects_image_fields)
{
    ov_kvlist meta = {0};
    ov_kvlist_set_int(&meta, "seed", 7);
    ov_kvlist_set_int(&meta, "num_images", 1);
    ov_kvlist_set_int(&meta, "steps", 25);
    ov_kvlist_set_float(&meta, "guidance_scale", 7.5);
    ov_kvlist_set_str(&meta, "negative_conditioning", "zeros");
    ov_kvlist_set_str(&meta, "pipeline", "img2img");
    ov_kvlist_set_float(&meta, "denoise_strength", 0.35);
    ov_kvlist_set_str(&meta, "resize_policy", "letterbox");
    ov_cb_asset a = {"workspace-temp", "u/j/0.png", NULL, "image/png", 0, 10, 64, 64};
    ov_cb_body b = {.job_id = "j", .job_type = "sdxl_image_high", .status = "completed",
                    .asset_format = OV_CB_ASSETS_OBJECTS, .assets = &a, .nassets = 1, .meta = &meta,
                    .progress = -1, .unix_ms = T_MS};
    json_t *j = render(&b);
    json_t *m = json_object_get(json_array_get(json_object_get(j, "assets"), 0), "metadata");
    json_t *want = json_loads("{\"asset_index\":0,\"bucket\":\"workspace-temp\",\"content_type\":\"image/png\","
                              "\"format\":\"png\",\"file_size_bytes\":10,\"width\":64,\"height\":64,\"seed\":7,"
                              "\"batch_size\":1,\"steps\":25,\"guidance_scale\":7.5,\"negative_prompt_used\":false,"
                              "\"pipeline\":\"img2img\",\"denoise_strength\":0.35,\"resize_policy\":\"letterbox\"}",
                              0, NULL);
    ck_assert_ptr_nonnull(want);
    char *got = json_dumps(m, JSON_SORT_KEYS);
    ck_assert_msg(json_equal(m, want), "%s", got);
    free(got);
    json_decref(want);
    json_decref(j);
    /* text-to-image: no pipeline fields */
    ov_kvlist_set_str(&meta, "pipeline", "txt2img");
    ov_kvlist_set_str(&meta, "negative_conditioning", "encoded");
    j = render(&b);
    m = json_object_get(json_array_get(json_object_get(j, "assets"), 0), "metadata");
    ck_assert_ptr_null(json_object_get(m, "pipeline"));
    ck_assert_ptr_null(json_object_get(m, "denoise_strength"));
    ck_assert(json_is_true(json_object_get(m, "negative_prompt_used")));
    json_decref(j);
    ov_kvlist_free(&meta);
}
END_TEST

START_TEST(test_body_failed_both_formats)
{
    for (int f = 0; f < 2; f++) {
        ov_cb_asset a = {"b", "u/x.png", NULL, "image/png", 0, 1, 0, 0};
        ov_cb_body b = {.job_id = "j", .job_type = "video_fast", .status = "failed", .asset_format = f,
                        .assets = &a, .nassets = 1, .error_message = "num_images: must be 1, 3 or 6",
                        .metadata_json = "{\"error_type\":\"validation\"}", .progress = -1, .unix_ms = T_MS};
        json_t *j = render(&b);
        expect(j, "{\"job_id\":\"j\",\"status\":\"failed\",\"assets\":[],"
                  "\"error_message\":\"num_images: must be 1, 3 or 6\","
                  "\"metadata\":{\"job_type\":\"video_fast\",\"error_type\":\"validation\"}}");
        json_decref(j);
    }
}
END_TEST

START_TEST(test_body_processing_and_bad_input)
{
    ov_cb_body b = {.job_id = "j", .job_type = "video_fast", .status = "processing", .progress = 0.5,
                    .unix_ms = T_MS};
    json_t *j = render(&b);
    expect(j, "{\"job_id\":\"j\",\"status\":\"processing\",\"assets\":[],\"error_message\":null,"
              "\"metadata\":{\"job_type\":\"video_fast\",\"progress\":0.5}}");
    json_decref(j);
    ov_buf out;
    ov_buf_init(&out, 4096);
    b.metadata_json = "[1,2]";
    ck_assert_int_eq(ov_callback_body(&b, &out), OV_EINVAL);
    b.metadata_json = "{not json";
    ck_assert_int_eq(ov_callback_body(&b, &out), OV_EINVAL);
    b.metadata_json = NULL;
    b.job_id = NULL;
    ck_assert_int_eq(ov_callback_body(&b, &out), OV_EINVAL);
    /* Hostile strings come out as valid JSON. */
    b.job_id = "j";
    b.status = "failed";
    b.error_message = "quote \" backslash \\ newline \n ctl \x01 bad utf8 \xff";
    ov_buf_reset(&out);
    ck_assert_int_eq(ov_callback_body(&b, &out), 0);
    json_t *k = json_loads(out.data, 0, NULL);
    ck_assert_ptr_nonnull(k);
    json_decref(k);
    ov_buf_free(&out);
}
END_TEST

START_TEST(test_format_parse)
{
    int f = -1;
    ck_assert_int_eq(ov_callback_format_parse("paths", &f), 0);
    ck_assert_int_eq(f, OV_CB_ASSETS_PATHS);
    ck_assert_int_eq(ov_callback_format_parse("objects", &f), 0);
    ck_assert_int_eq(f, OV_CB_ASSETS_OBJECTS);
    ck_assert_int_eq(ov_callback_format_parse("urls", &f), OV_EINVAL);
}
END_TEST

/* ---- delivery of callbacks ---- */

typedef struct env {
    uv_loop_t loop;
    ov_config cfg;
    char dir[64], spool[96];
    ov_delivery *d;
    ov_ts *cb;
} env;

static void env_init(env *e, const char *format, const char *layout)
{
    unsetenv("SUPABASE_URL");
    unsetenv("OURVIDZ_CALLBACK_URL");
    setenv("SUPABASE_SERVICE_KEY", SECRET, 1); /* bearer for the callback; storage stays local */
    uv_loop_init(&e->loop);
    ov_config_defaults(&e->cfg);
    dt_tempdir(e->dir, sizeof e->dir, "cb");
    snprintf(e->spool, sizeof e->spool, "%s/spool", e->dir);
    mkdir(e->spool, 0755);
    snprintf(e->cfg.storage_backend, sizeof e->cfg.storage_backend, "local");
    snprintf(e->cfg.storage_dir, sizeof e->cfg.storage_dir, "%s/storage", e->dir);
    snprintf(e->cfg.storage_layout, sizeof e->cfg.storage_layout, "%s", layout);
    snprintf(e->cfg.callback_asset_format, sizeof e->cfg.callback_asset_format, "%s", format);
    e->cfg.storage_thumbnails = 0;
    e->cfg.callback_timeout_ms = 1000;
    e->cfg.callback_retry_max_age_ms = 20000;
    ck_assert_int_eq(ov_ts_start(&e->cb), 0);
    snprintf(e->cfg.callback_url, sizeof e->cfg.callback_url, "%s/functions/v1/job-callback", ov_ts_url(e->cb));
}

static void env_start(env *e)
{
    char err[256] = "";
    ck_assert_msg(ov_delivery_init(&e->d, &e->loop, &e->cfg, err, sizeof err) == 0, "%s", err);
    ov_delivery_set_backoff(e->d, 100, 500);
}

static void env_end(env *e)
{
    ck_assert_int_eq(dt_close(&e->loop, e->d), 0);
    ov_ts_stop(e->cb);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Deliver one completed job with n PNG outputs; returns the done record. */
static dt_done deliver_pngs(env *e, const char *job_id, const char *type, int n, const char *metadata_json)
{
    char paths_buf[6][160];
    const char *paths[6], *mimes[6];
    for (int i = 0; i < n; i++) {
        snprintf(paths_buf[i], sizeof paths_buf[i], "%s/%s-%d.png", e->spool, job_id, i);
        dt_write_png(paths_buf[i], 40, 30);
        paths[i] = paths_buf[i];
        mimes[i] = "image/png";
    }
    ov_msg m;
    dt_result(&m, job_id, n, paths, mimes, 500);
    ov_kvlist_set_float(&m.u.result.meta, "generation_time", 2.5);
    ov_delivery_job j = {.job_id = job_id, .job_type = type, .user_id = "user-1", .completed = 1, .result = &m,
                         .metadata_json = metadata_json};
    dt_done done = {0};
    ck_assert_int_eq(ov_delivery_start(e->d, &j, dt_on_done, &done), 0);
    ov_msg_free(&m);
    ck_assert(dt_run_until(&e->loop, &done.called, 30000));
    return done;
}

static json_t *callback_json(ov_ts *ts, int i, ov_ts_request *r)
{
    ck_assert_int_eq(ov_ts_get(ts, i, r), 0);
    json_t *j = json_loads(r->body, JSON_REJECT_DUPLICATES, NULL);
    ck_assert_msg(j != NULL, "not JSON: %s", r->body);
    return j;
}

START_TEST(test_delivered_paths_legacy)
{
    env e;
    env_init(&e, "paths", "legacy");
    env_start(&e);
    time_t t0 = time(NULL);
    dt_done done = deliver_pngs(&e, "job-a", "sdxl_image_fast", 3, "{\"attempts\":1}");
    time_t t1 = time(NULL);
    ck_assert_int_eq(done.status, 0);
    ck_assert_int_eq(ov_ts_count(e.cb), 1);
    ov_ts_request r;
    json_t *j = callback_json(e.cb, 0, &r);
    ck_assert_str_eq(r.url, "/functions/v1/job-callback");
    ck_assert_str_eq(r.method, "POST");
    ck_assert_str_eq(r.content_type, "application/json");
    ck_assert_str_eq(r.authorization, "Bearer " SECRET);
    json_t *assets = json_object_get(j, "assets");
    ck_assert_int_eq(json_array_size(assets), 3);
    int ok = 0;
    for (time_t t = t0; t <= t1; t++) {
        char want[128];
        snprintf(want, sizeof want, "user-1/sdxl_job-a_%lld_1.png", (long long)t);
        if (strcmp(json_string_value(json_array_get(assets, 0)), want) != 0)
            continue;
        ok = 1;
        for (int i = 0; i < 3; i++) {
            snprintf(want, sizeof want, "user-1/sdxl_job-a_%lld_%d.png", (long long)t, i + 1);
            ck_assert_str_eq(json_string_value(json_array_get(assets, (size_t)i)), want);
            char f[300];
            snprintf(f, sizeof f, "%s/storage/sdxl_image_fast/%s", e.dir, want);
            ck_assert(dt_exists(f));
        }
    }
    ck_assert_msg(ok, "asset 0 = %s", json_string_value(json_array_get(assets, 0)));
    json_t *meta = json_object_get(j, "metadata");
    ck_assert_int_eq(json_integer_value(json_object_get(meta, "seed")), 500);
    ck_assert(json_real_value(json_object_get(meta, "generation_time")) == 2.5);
    ck_assert_int_eq(json_integer_value(json_object_get(meta, "num_images")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(meta, "job_type")), "sdxl_image_fast");
    ck_assert_int_eq(json_integer_value(json_object_get(meta, "attempts")), 1);
    ck_assert(json_is_null(json_object_get(j, "error_message")));
    json_decref(j);
    ov_ts_request_free(&r);
    env_end(&e);
}
END_TEST

START_TEST(test_delivered_objects_workspace)
{
    env e;
    env_init(&e, "objects", "workspace");
    env_start(&e);
    dt_done done = deliver_pngs(&e, "job-b", "sdxl_image_high", 2, NULL);
    ck_assert_int_eq(done.status, 0);
    ov_ts_request r;
    json_t *j = callback_json(e.cb, 0, &r);
    json_t *want = json_loads("[{\"type\":\"image\",\"url\":\"user-1/job-b/0.png\",\"thumbnail_url\":null,"
                              "\"metadata\":{\"asset_index\":0,\"bucket\":\"workspace-temp\","
                              "\"content_type\":\"image/png\",\"format\":\"png\",\"width\":40,\"height\":30,"
                              "\"seed\":500}},"
                              "{\"type\":\"image\",\"url\":\"user-1/job-b/1.png\",\"thumbnail_url\":null,"
                              "\"metadata\":{\"asset_index\":1,\"bucket\":\"workspace-temp\","
                              "\"content_type\":\"image/png\",\"format\":\"png\",\"width\":40,\"height\":30,"
                              "\"seed\":501}}]",
                              0, NULL);
    json_t *assets = json_object_get(j, "assets");
    /* file_size_bytes is the real size: check it, then compare the rest exactly. */
    for (int i = 0; i < 2; i++) {
        json_t *m = json_object_get(json_array_get(assets, (size_t)i), "metadata");
        char f[300];
        snprintf(f, sizeof f, "%s/storage/workspace-temp/user-1/job-b/%d.png", e.dir, i);
        struct stat sb;
        ck_assert_int_eq(stat(f, &sb), 0);
        ck_assert_int_eq(json_integer_value(json_object_get(m, "file_size_bytes")), sb.st_size);
        json_object_del(m, "file_size_bytes");
    }
    ck_assert_msg(json_equal(assets, want), "%s", r.body);
    json_decref(want);
    json_decref(j);
    ov_ts_request_free(&r);
    env_end(&e);
}
END_TEST

START_TEST(test_failed_job_callback_only)
{
    env e;
    env_init(&e, "objects", "workspace");
    env_start(&e);
    ov_delivery_job j = {.job_id = "job-c", .job_type = "video_fast", .user_id = "user-1", .completed = 0,
                         .error_message = "frame_num: must be 4n+1 (got 80)",
                         .metadata_json = "{\"error_type\":\"validation\",\"attempts\":1}"};
    dt_done done = {0};
    ck_assert_int_eq(ov_delivery_start(e.d, &j, dt_on_done, &done), 0);
    ck_assert(dt_run_until(&e.loop, &done.called, 5000));
    ck_assert_int_eq(done.status, 0);
    ov_ts_request r;
    json_t *got = callback_json(e.cb, 0, &r);
    json_t *meta = json_object_get(got, "metadata");
    ck_assert(json_is_string(json_object_get(meta, "timestamp")));
    json_object_del(meta, "timestamp");
    json_t *want = json_loads("{\"job_id\":\"job-c\",\"status\":\"failed\",\"assets\":[],"
                              "\"error_message\":\"frame_num: must be 4n+1 (got 80)\","
                              "\"metadata\":{\"job_type\":\"video_fast\",\"error_type\":\"validation\","
                              "\"attempts\":1}}",
                              0, NULL);
    ck_assert_msg(json_equal(got, want), "%s", r.body);
    json_decref(want);
    json_decref(got);
    ov_ts_request_free(&r);
    ck_assert_int_eq(ov_ts_count(e.cb), 1);
    env_end(&e);
}
END_TEST

/* The acceptance case as written: the callback endpoint is down for 30 s (connection refused ->
 * backoff -> retry until callback.retry_max_age), and the callback is delivered once it returns. */
START_TEST(test_callback_endpoint_down_then_back)
{
    env e;
    env_init(&e, "paths", "legacy");
    e.cfg.callback_retry_max_age_ms = 120000; /* the default is 1 h; anything well past the outage */
    env_start(&e);
    ov_delivery_set_backoff(e.d, 1000, 5000);
    ck_assert_int_eq(ov_ts_down(e.cb), 0);
    char p[160];
    snprintf(p, sizeof p, "%s/v.mp4", e.spool);
    dt_write_mp4(p);
    const char *paths[] = {p}, *mimes[] = {"video/mp4"};
    ov_msg m;
    dt_result(&m, "job-d", 1, paths, mimes, -1);
    ov_delivery_job j = {.job_id = "job-d", .job_type = "video_fast", .user_id = "user-1", .video_id = "vid-1",
                         .completed = 1, .result = &m};
    dt_done done = {0};
    ck_assert_int_eq(ov_delivery_start(e.d, &j, dt_on_done, &done), 0);
    dt_run_for(&e.loop, 30000);
    ck_assert_int_eq(done.called, 0);
    ck_assert_int_eq(ov_delivery_pending(e.d), 1);
    ck_assert_int_eq(ov_ts_up(e.cb), 0);
    ck_assert(dt_run_until(&e.loop, &done.called, 8000)); /* within one capped backoff step */
    ck_assert_int_eq(done.status, 0);
    ck_assert_int_eq(ov_ts_count(e.cb), 1);
    ov_ts_request r;
    json_t *got = callback_json(e.cb, 0, &r);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(got, "assets"), 0)), "user-1/vid-1.mp4");
    json_decref(got);
    ov_ts_request_free(&r);
    ov_msg_free(&m);
    env_end(&e);
}
END_TEST

START_TEST(test_callback_5xx_and_hang_retried)
{
    env e;
    env_init(&e, "paths", "legacy");
    env_start(&e);
    ov_ts_fail_next(e.cb, 2, 502);
    dt_done done = deliver_pngs(&e, "job-e", "sdxl_image_fast", 1, NULL);
    ck_assert_int_eq(done.status, 0);
    ck_assert_int_eq(ov_ts_count(e.cb), 3);
    ck_assert_int_eq(ov_ts_count_ok(e.cb), 1);
    /* A server that hangs past callback.timeout: the attempt times out and is retried. */
    ov_ts_set_delay_ms(e.cb, 1500);
    ov_ts_request r0;
    dt_done d2 = {0};
    ov_delivery_job j = {.job_id = "job-f", .job_type = "video_fast", .user_id = "user-1", .completed = 0,
                         .error_message = "x"};
    ck_assert_int_eq(ov_delivery_start(e.d, &j, dt_on_done, &d2), 0);
    dt_run_for(&e.loop, 1200);
    ov_ts_set_delay_ms(e.cb, 0);
    ck_assert(dt_run_until(&e.loop, &d2.called, 8000));
    ck_assert_int_eq(d2.status, 0);
    ck_assert_int_ge(ov_ts_count(e.cb), 5); /* 3 before + the hung one + the retry */
    ck_assert_int_eq(ov_ts_get(e.cb, 3, &r0), 0);
    ck_assert_ptr_nonnull(strstr(r0.body, "job-f"));
    ov_ts_request_free(&r0);
    env_end(&e);
}
END_TEST

START_TEST(test_callback_4xx_gives_up_429_retries)
{
    int logfd = dt_capture_log();
    env e;
    env_init(&e, "paths", "legacy");
    env_start(&e);
    ov_ts_fail_next(e.cb, 1, 429);
    dt_done done = deliver_pngs(&e, "job-g", "sdxl_image_fast", 1, NULL);
    ck_assert_int_eq(done.status, 0);
    ck_assert_int_eq(ov_ts_count(e.cb), 2);
    ov_ts_set_status(e.cb, 400);
    ov_ts_set_body(e.cb, "{\"error\":\"Job not found\"}");
    done = deliver_pngs(&e, "job-h", "sdxl_image_fast", 1, NULL);
    ck_assert_int_eq(done.status, OV_EPROTO);
    ck_assert_int_eq(ov_ts_count(e.cb), 3); /* not retried */
    ck_assert_ptr_nonnull(strstr(done.detail, "HTTP 400"));
    env_end(&e);
    char *log = dt_read_fd(logfd);
    ck_assert_ptr_nonnull(strstr(log, "event=callback_refused job=job-h"));
    ck_assert_ptr_null(strstr(log, SECRET));
    free(log);
}
END_TEST

START_TEST(test_callback_expires)
{
    env e;
    env_init(&e, "paths", "legacy");
    e.cfg.callback_retry_max_age_ms = 1500;
    env_start(&e);
    ov_ts_set_status(e.cb, 500);
    uv_update_time(&e.loop);
    uint64_t t0 = uv_now(&e.loop);
    dt_done done = deliver_pngs(&e, "job-i", "sdxl_image_fast", 1, NULL);
    uint64_t took = uv_now(&e.loop) - t0;
    ck_assert_int_eq(done.status, OV_ETIMEDOUT);
    ck_assert_msg(took >= 1500 && took < 5000, "%llu ms", (unsigned long long)took);
    ck_assert_int_ge(ov_ts_count(e.cb), 3);
    env_end(&e);
}
END_TEST

START_TEST(test_processing_callbacks_rate_limited)
{
    env e;
    env_init(&e, "paths", "legacy");
    e.cfg.callback_processing = 1;
    env_start(&e);
    for (int i = 0; i < 10; i++)
        ov_delivery_progress(e.d, "job-p", "video_fast", i / 10.0);
    dt_run_for(&e.loop, 300);
    ck_assert_int_eq(ov_ts_count(e.cb), 1); /* one per 2 s per job */
    ov_delivery_progress(e.d, "../evil", "video_fast", 0.5);
    dt_run_for(&e.loop, 200);
    ck_assert_int_eq(ov_ts_count(e.cb), 1);
    ov_ts_request r;
    json_t *j = callback_json(e.cb, 0, &r);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "processing");
    ck_assert(json_real_value(json_object_get(json_object_get(j, "metadata"), "progress")) == 0.0);
    json_decref(j);
    ov_ts_request_free(&r);
    env_end(&e);
}
END_TEST

START_TEST(test_close_with_pending_abandons)
{
    env e;
    env_init(&e, "paths", "legacy");
    env_start(&e);
    ov_ts_down(e.cb);
    ov_delivery_job j = {.job_id = "job-z", .job_type = "video_fast", .user_id = "user-1", .completed = 0,
                         .error_message = "x"};
    dt_done done = {0};
    ck_assert_int_eq(ov_delivery_start(e.d, &j, dt_on_done, &done), 0);
    dt_run_for(&e.loop, 300);
    ck_assert_int_eq(ov_delivery_pending(e.d), 1);
    env_end(&e); /* closes with the delivery pending: no callback, every handle closed */
    ck_assert_int_eq(done.called, 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("callback");
    TCase *b = tcase_create("body");
    tcase_add_test(b, test_body_completed_paths);
    tcase_add_test(b, test_body_completed_objects);
    tcase_add_test(b, test_body_objects_image_fields);
    tcase_add_test(b, test_body_failed_both_formats);
    tcase_add_test(b, test_body_processing_and_bad_input);
    tcase_add_test(b, test_format_parse);
    suite_add_tcase(s, b);
    TCase *d = tcase_create("delivery");
    tcase_set_timeout(d, 90);
    tcase_add_test(d, test_delivered_paths_legacy);
    tcase_add_test(d, test_delivered_objects_workspace);
    tcase_add_test(d, test_failed_job_callback_only);
    tcase_add_test(d, test_callback_endpoint_down_then_back);
    tcase_add_test(d, test_callback_5xx_and_hang_retried);
    tcase_add_test(d, test_callback_4xx_gives_up_429_retries);
    tcase_add_test(d, test_callback_expires);
    tcase_add_test(d, test_processing_callbacks_rate_limited);
    tcase_add_test(d, test_close_with_pending_abandons);
    suite_add_tcase(s, d);
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
