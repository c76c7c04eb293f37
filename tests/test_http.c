/* HTTP surface: /health JSON, /metrics, /enhance auth (no default key), size cap, completion and deadline. */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "delivery_test_util.h"
#include "supervisor/http.h"
#include "supervisor/http_enhance.h"
#include "supervisor/jobs_local.h"

#define KEY "wan-key-0123456789abcdef"

/* ---- a blocking client in its own thread while the loop runs here ---- */

typedef struct call {
    const char *method, *path, *auth;
    const char *body;
    size_t body_len;
    int port;
    long status;
    char ctype[128];
    ov_buf resp;
    atomic_int done;
} call;

static size_t on_data(char *p, size_t s, size_t n, void *u)
{
    ov_buf_append(&((call *)u)->resp, p, s * n);
    return s * n;
}

static void *client(void *arg)
{
    call *c = arg;
    CURL *e = curl_easy_init();
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", c->port, c->path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    struct curl_slist *hl = NULL;
    if (c->auth) {
        char a[256];
        snprintf(a, sizeof a, "Authorization: %s", c->auth);
        hl = curl_slist_append(hl, a);
    }
    hl = curl_slist_append(hl, "Content-Type: application/json");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
    if (strcmp(c->method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body ? c->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(c->body ? c->body_len : 0));
    }
    if (curl_easy_perform(e) == CURLE_OK) {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &c->status);
        char *ct = NULL;
        curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(c->ctype, sizeof c->ctype, "%s", ct ? ct : "");
    } else {
        c->status = -1;
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(e);
    atomic_store(&c->done, 1);
    return NULL;
}

static int done_flag;

static void run_call(uv_loop_t *loop, call *c)
{
    ov_buf_init(&c->resp, 1 << 20);
    pthread_t t;
    pthread_create(&t, NULL, client, c);
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, dt_tick, 5, 5);
    for (int i = 0; i < 4000 && !atomic_load(&c->done); i++)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    pthread_join(t, NULL);
    (void)done_flag;
}

static call *req(uv_loop_t *loop, int port, const char *method, const char *path, const char *auth, const char *body)
{
    call *c = calloc(1, sizeof *c);
    c->method = method;
    c->path = path;
    c->auth = auth;
    c->body = body;
    c->body_len = body ? strlen(body) : 0;
    c->port = port;
    run_call(loop, c);
    return c;
}

static void call_free(call *c)
{
    ov_buf_free(&c->resp);
    free(c);
}

/* ---- fake supervisor hooks ---- */

typedef struct fake {
    uv_loop_t *loop;
    ov_http_health health;
    int enhance_mode; /* 0 complete after 30 ms with "<prompt>, cinematic", 1 never, 2 unsupported, 3 worker error */
    int submitted, cancelled;
    uint64_t last_token;
    char last_prompt[256], last_type[64];
    ov_http_enhance_done done;
    void *req;
    uv_timer_t t;
} fake;

static void f_health(void *ctx, ov_http_health *out)
{
    *out = ((fake *)ctx)->health;
}

static int f_metrics(void *ctx, ov_buf *out)
{
    (void)ctx;
    return ov_buf_puts(out, "# TYPE ourvidz_up gauge\nourvidz_up 1\n");
}

static void f_fire(uv_timer_t *t)
{
    fake *f = t->data;
    char out[300];
    snprintf(out, sizeof out, "%s, cinematic lighting", f->last_prompt);
    if (f->enhance_mode == 3)
        f->done(f->req, OV_EIO, NULL, "worker exited");
    else
        f->done(f->req, 0, out, NULL);
}

static int f_enhance(void *ctx, const char *prompt, const char *type, ov_http_enhance_done done, void *r,
                     uint64_t *token)
{
    fake *f = ctx;
    if (f->enhance_mode == 2)
        return OV_EUNSUPP;
    f->submitted++;
    snprintf(f->last_prompt, sizeof f->last_prompt, "%s", prompt);
    snprintf(f->last_type, sizeof f->last_type, "%s", type);
    f->done = done;
    f->req = r;
    *token = f->last_token = 77;
    if (f->enhance_mode != 1)
        uv_timer_start(&f->t, f_fire, 30, 0);
    return 0;
}

static void f_cancel(void *ctx, uint64_t token)
{
    fake *f = ctx;
    ck_assert_int_eq(token, f->last_token);
    f->cancelled++;
    uv_timer_stop(&f->t);
}

typedef struct env {
    uv_loop_t loop;
    fake f;
    ov_http *h;
    int port;
} env;

static void env_start(env *e, const char *key)
{
    if (key)
        setenv("WAN_WORKER_API_KEY", key, 1);
    else
        unsetenv("WAN_WORKER_API_KEY");
    uv_loop_init(&e->loop);
    memset(&e->f, 0, sizeof e->f);
    e->f.loop = &e->loop;
    uv_timer_init(&e->loop, &e->f.t);
    e->f.t.data = &e->f;
    e->f.health.queue_ok = 1;
    snprintf(e->f.health.queue_detail, sizeof e->f.health.queue_detail, "redis://127.0.0.1:6379/0");
    e->f.health.storage_ok = 1;
    snprintf(e->f.health.storage_detail, sizeof e->f.health.storage_detail, "local /var/lib/ourvidz");
    e->f.health.kinds[OV_KIND_SDXL] = (ov_http_worker_facts){1, 1, 0, 0, 0};
    e->f.health.uptime_s = 12.5;
    ov_http_hooks hk = {&e->f, f_health, f_metrics, f_enhance, f_cancel};
    char err[256] = "";
    ck_assert_msg(ov_http_start(&e->h, &e->loop, "127.0.0.1", 0, &hk, err, sizeof err) == 0, "%s", err);
    e->port = ov_http_port(e->h);
    ck_assert_int_gt(e->port, 0);
}

static void env_end(env *e)
{
    ov_http_close(e->h);
    uv_close((uv_handle_t *)&e->f.t, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&e->loop), 0);
}

/* ---- tests ---- */

START_TEST(test_health_pass_warn_fail)
{
    env e;
    env_start(&e, KEY);
    call *c = req(&e.loop, e.port, "GET", "/health", NULL, NULL);
    ck_assert_int_eq(c->status, 200);
    ck_assert_str_eq(c->ctype, "application/health+json");
    json_t *j = json_loads(c->resp.data, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "pass");
    json_t *checks = json_object_get(j, "checks");
    json_t *w = json_array_get(json_object_get(checks, "workers:sdxl"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(w, "status")), "pass");
    ck_assert_int_eq(json_integer_value(json_object_get(w, "observedValue")), 1);
    ck_assert_ptr_null(json_object_get(checks, "workers:wan")); /* not configured: not checked */
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(checks, "queue:connection"), 0),
                                                       "output")),
                     "redis://127.0.0.1:6379/0");
    ck_assert_ptr_nonnull(json_object_get(checks, "storage:backend"));
    json_decref(j);
    call_free(c);

    /* wan loading: warn, still 200 */
    e.f.health.kinds[OV_KIND_WAN] = (ov_http_worker_facts){1, 0, 0, 1, 0};
    c = req(&e.loop, e.port, "GET", "/health", NULL, NULL);
    ck_assert_int_eq(c->status, 200);
    j = json_loads(c->resp.data, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "warn");
    json_decref(j);
    call_free(c);

    /* wan failed for good: fail, 503 */
    e.f.health.kinds[OV_KIND_WAN] = (ov_http_worker_facts){1, 0, 0, 0, 1};
    c = req(&e.loop, e.port, "GET", "/health", NULL, NULL);
    ck_assert_int_eq(c->status, 503);
    j = json_loads(c->resp.data, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "fail");
    json_decref(j);
    call_free(c);

    /* queue down: fail */
    e.f.health.kinds[OV_KIND_WAN] = (ov_http_worker_facts){0, 0, 0, 0, 0};
    e.f.health.queue_ok = 0;
    c = req(&e.loop, e.port, "GET", "/health", NULL, NULL);
    ck_assert_int_eq(c->status, 503);
    call_free(c);
    env_end(&e);
}
END_TEST

START_TEST(test_metrics_and_routes)
{
    env e;
    env_start(&e, KEY);
    call *c = req(&e.loop, e.port, "GET", "/metrics", NULL, NULL);
    ck_assert_int_eq(c->status, 200);
    ck_assert_str_eq(c->ctype, "text/plain; version=0.0.4; charset=utf-8");
    ck_assert_str_eq(c->resp.data, "# TYPE ourvidz_up gauge\nourvidz_up 1\n");
    call_free(c);
    c = req(&e.loop, e.port, "GET", "/debug/env", NULL, NULL);
    ck_assert_int_eq(c->status, 404);
    ck_assert_ptr_null(strstr(c->resp.data, KEY));
    call_free(c);
    c = req(&e.loop, e.port, "GET", "/enhance", "Bearer " KEY, NULL);
    ck_assert_int_eq(c->status, 405);
    call_free(c);
    c = req(&e.loop, e.port, "POST", "/health", NULL, "{}");
    ck_assert_int_eq(c->status, 405);
    call_free(c);
    env_end(&e);
}
END_TEST

START_TEST(test_enhance_disabled_without_key)
{
    env e;
    env_start(&e, NULL);
    const char *auths[] = {NULL, "Bearer default_key_123", "Bearer ", "Bearer x"};
    for (int i = 0; i < 4; i++) {
        call *c = req(&e.loop, e.port, "POST", "/enhance", auths[i], "{\"prompt\":\"a cat\"}");
        ck_assert_int_eq(c->status, 503);
        json_t *j = json_loads(c->resp.data, 0, NULL);
        ck_assert_str_eq(json_string_value(json_object_get(j, "error")), "disabled: WAN_WORKER_API_KEY not set");
        json_decref(j);
        call_free(c);
    }
    ck_assert_int_eq(e.f.submitted, 0);
    env_end(&e);
    /* An empty variable is "unset" too. */
    env_start(&e, "");
    call *c = req(&e.loop, e.port, "POST", "/enhance", "Bearer ", "{\"prompt\":\"a cat\"}");
    ck_assert_int_eq(c->status, 503);
    call_free(c);
    env_end(&e);
}
END_TEST

START_TEST(test_enhance_unauthorized)
{
    int logfd = dt_capture_log();
    env e;
    env_start(&e, KEY);
    const char *bad[] = {NULL, "Bearer wrong", "Bearer " KEY "x", "Bearer wan-key-0123456789abcde", "Basic " KEY,
                         KEY, "Bearer default_key_123"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        call *c = req(&e.loop, e.port, "POST", "/enhance", bad[i], "{\"prompt\":\"a cat\"}");
        ck_assert_msg(c->status == 401, "auth %zu got %ld", i, c->status);
        call_free(c);
    }
    ck_assert_int_eq(e.f.submitted, 0);
    env_end(&e);
    char *log = dt_read_fd(logfd);
    ck_assert_ptr_nonnull(strstr(log, "event=http_unauthorized"));
    ck_assert_ptr_null(strstr(log, KEY));
    free(log);
}
END_TEST

START_TEST(test_enhance_body_too_large)
{
    env e;
    env_start(&e, KEY);
    size_t n = 2u << 20;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    memcpy(big, "{\"prompt\":\"", 11);
    big[n - 2] = '"';
    big[n - 1] = '}';
    big[n] = '\0';
    call *c = req(&e.loop, e.port, "POST", "/enhance", "Bearer " KEY, big);
    ck_assert_int_eq(c->status, 413);
    call_free(c);
    /* Just over the cap. */
    big[OV_HTTP_BODY_MAX + 1] = '\0';
    c = req(&e.loop, e.port, "POST", "/enhance", "Bearer " KEY, big);
    ck_assert_int_eq(c->status, 413);
    call_free(c);
    free(big);
    ck_assert_int_eq(e.f.submitted, 0);
    env_end(&e);
}
END_TEST

START_TEST(test_enhance_ok)
{
    env e;
    env_start(&e, KEY);
    call *c = req(&e.loop, e.port, "POST", "/enhance", "Bearer " KEY,
                  "{\"prompt\":\"a cat\",\"model\":\"qwen_base\",\"enhance_type\":\"base\"}");
    ck_assert_int_eq(c->status, 200);
    ck_assert_str_eq(e.f.last_prompt, "a cat");
    ck_assert_str_eq(e.f.last_type, "base");
    json_t *j = json_loads(c->resp.data, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_true(json_object_get(j, "success")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "enhanced_prompt")), "a cat, cinematic lighting");
    ck_assert_str_eq(json_string_value(json_object_get(j, "original_prompt")), "a cat");
    ck_assert_str_eq(json_string_value(json_object_get(j, "enhancement_source")), "qwen_base");
    ck_assert_str_eq(json_string_value(json_object_get(j, "model")), "qwen_base");
    ck_assert(json_is_true(json_object_get(j, "enhancement_applied")));
    ck_assert(json_real_value(json_object_get(j, "processing_time")) >= 0.02);
    json_decref(j);
    call_free(c);
    /* A worker error: success:false with the original prompt, HTTP 200 (the old worker's fallback). */
    e.f.enhance_mode = 3;
    c = req(&e.loop, e.port, "POST", "/enhance", "Bearer " KEY, "{\"prompt\":\"a dog\"}");
    ck_assert_int_eq(c->status, 200);
    j = json_loads(c->resp.data, 0, NULL);
    ck_assert(json_is_false(json_object_get(j, "success")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "enhanced_prompt")), "a dog");
    ck_assert_str_eq(json_string_value(json_object_get(j, "error")), "worker exited");
    json_decref(j);
    call_free(c);
    /* No enhancer: 503. */
    e.f.enhance_mode = 2;
    c = req(&e.loop, e.port, "POST", "/enhance", "Bearer " KEY, "{\"prompt\":\"a dog\"}");
    ck_assert_int_eq(c->status, 503);
    call_free(c);
    env_end(&e);
}
END_TEST

START_TEST(test_enhance_bad_requests)
{
    env e;
    env_start(&e, KEY);
    const char *bodies[] = {"", "not json", "[1]", "{}", "{\"prompt\":\"\"}", "{\"prompt\":5}",
                            "{\"prompt\":\"a\",\"model\":3}", "{\"prompt\":\"a\",\"prompt\":\"b\"}"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        call *c = req(&e.loop, e.port, "POST", "/enhance", "Bearer " KEY, bodies[i]);
        ck_assert_msg(c->status == 400, "body %zu got %ld", i, c->status);
        json_t *j = json_loads(c->resp.data, 0, NULL);
        ck_assert(json_is_false(json_object_get(j, "success")));
        json_decref(j);
        call_free(c);
    }
    ck_assert_int_eq(e.f.submitted, 0);
    env_end(&e);
}
END_TEST

START_TEST(test_enhance_deadline_504)
{
    env e;
    env_start(&e, KEY);
    ov_http_set_enhance_timeout(e.h, 300);
    e.f.enhance_mode = 1;
    call *c = req(&e.loop, e.port, "POST", "/enhance", "Bearer " KEY, "{\"prompt\":\"a cat\"}");
    ck_assert_int_eq(c->status, 504);
    ck_assert_int_eq(e.f.submitted, 1);
    ck_assert_int_eq(e.f.cancelled, 1);
    call_free(c);
    /* The server still answers afterwards. */
    c = req(&e.loop, e.port, "GET", "/health", NULL, NULL);
    ck_assert_int_eq(c->status, 200);
    call_free(c);
    env_end(&e);
}
END_TEST

START_TEST(test_close_with_enhance_pending)
{
    env e;
    env_start(&e, KEY);
    e.f.enhance_mode = 1;
    call *c = calloc(1, sizeof *c);
    c->method = "POST";
    c->path = "/enhance";
    c->auth = "Bearer " KEY;
    c->body = "{\"prompt\":\"a cat\"}";
    c->body_len = strlen(c->body);
    c->port = e.port;
    ov_buf_init(&c->resp, 1 << 20);
    pthread_t t;
    pthread_create(&t, NULL, client, c);
    for (int i = 0; i < 200 && e.f.submitted == 0; i++)
        dt_run_for(&e.loop, 10);
    ck_assert_int_eq(e.f.submitted, 1);
    env_end(&e);
    ck_assert_int_eq(e.f.cancelled, 1);
    pthread_join(t, NULL);
    call_free(c);
}
END_TEST

START_TEST(test_health_json_pure)
{
    ov_http_health hh;
    memset(&hh, 0, sizeof hh);
    hh.queue_ok = -1;
    hh.storage_ok = -1;
    hh.draining = 1;
    ov_buf out;
    ov_buf_init(&out, 65536);
    int st = 0;
    ck_assert_int_eq(ov_http_health_json(&hh, &out, &st), 0);
    ck_assert_int_eq(st, 200);
    json_t *j = json_loads(out.data, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "warn");
    ck_assert_str_eq(json_string_value(json_object_get(j, "description")), "ourvidz (draining)");
    json_decref(j);
    ov_buf_free(&out);
}
END_TEST

START_TEST(test_bad_bind)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    ov_http *h = NULL;
    char err[128];
    ck_assert_int_eq(ov_http_start(&h, &loop, "not-an-ip", 0, NULL, err, sizeof err), OV_ECONFIG);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* ---- the enhance job-source wrapper over a real local source ---- */

typedef struct edone {
    int called, status;
    char prompt[256], error[128];
} edone;

static void on_edone(void *req, int status, const char *p, const char *err)
{
    edone *d = req;
    d->called++;
    d->status = status;
    snprintf(d->prompt, sizeof d->prompt, "%s", p ? p : "");
    snprintf(d->error, sizeof d->error, "%s", err ? err : "");
}

static int wakes;
static void on_wake(void *ctx)
{
    (void)ctx;
    wakes++;
}

START_TEST(test_enhance_wrapper)
{
    ov_job_source *inner, *w;
    ck_assert_int_eq(ov_jobs_local_new(3, &inner), 0);
    ck_assert_int_eq(ov_enhance_source_wrap(inner, &w), 0);
    w->wake_cb = on_wake;
    /* An inner qwen job and an inner wan job, then an /enhance job. */
    char id[96];
    ck_assert_int_eq(w->ops->submit(w, OV_KIND_QWEN, "enhance", NULL, id, sizeof id), 0);
    ck_assert_int_eq(w->ops->submit(w, OV_KIND_WAN, "t2v", NULL, id, sizeof id), 0);
    ck_assert_int_ge(wakes, 2); /* inner wakes reach the wrapper's wake callback */
    edone d1 = {0}, d2 = {0};
    uint64_t t1 = 0, t2 = 0;
    ck_assert_int_eq(ov_enhance_submit(w, "a cat", "base", on_edone, &d1, &t1), 0);
    ck_assert_int_eq(ov_enhance_submit(w, "a dog", NULL, on_edone, &d2, &t2), 0);
    ck_assert_int_ne(t1, t2);
    ck_assert_int_eq(w->ops->depth(w, OV_KIND_QWEN), 3);
    ck_assert_int_eq(ov_enhance_submit(w, "", "base", on_edone, &d1, &t1), OV_EINVAL);
    ck_assert_int_eq(ov_enhance_submit(inner, "x", "base", on_edone, &d1, &t1), OV_EINVAL);
    /* Qwen workers take the /enhance jobs first. */
    ov_job *j = NULL;
    ck_assert_int_eq(w->ops->next(w, OV_KIND_QWEN, &j), 1);
    ck_assert_str_eq(j->task, "enhance");
    const char *p = NULL;
    ck_assert_int_eq(ov_kvlist_get_str(&j->params, "prompt", &p), 0);
    ck_assert_str_eq(p, "a cat");
    ck_assert_int_eq(ov_kvlist_get_str(&j->params, "enhance_type", &p), 0);
    ck_assert_str_eq(p, "base");
    ov_msg res;
    ov_msg_init(&res, OV_MSG_RESULT);
    ov_kvlist_set_str(&res.u.result.meta, "enhanced_prompt", "a cat, golden hour");
    w->ops->complete(w, j, &res);
    ov_msg_free(&res);
    ck_assert_int_eq(d1.called, 1);
    ck_assert_int_eq(d1.status, 0);
    ck_assert_str_eq(d1.prompt, "a cat, golden hour");
    /* The second: handed back once (requeued), then fails. */
    ck_assert_int_eq(w->ops->next(w, OV_KIND_QWEN, &j), 1);
    ck_assert_int_eq(w->ops->handback(w, j, "worker died"), OV_JOB_REQUEUED);
    ck_assert_int_eq(d2.called, 0);
    ck_assert_int_eq(w->ops->next(w, OV_KIND_QWEN, &j), 1);
    ck_assert_int_eq((w->ops->fail)(w, j, OV_EIO, "out of memory", true), OV_JOB_DEAD);
    ck_assert_int_eq(d2.called, 1);
    ck_assert_int_eq(d2.status, OV_EIO);
    ck_assert_str_eq(d2.error, "out of memory");
    /* Then the inner jobs flow as before. */
    ck_assert_int_eq(w->ops->next(w, OV_KIND_QWEN, &j), 1);
    ck_assert_str_eq(j->id, "local-1");
    w->ops->complete(w, j, NULL);
    ck_assert_int_eq(w->ops->next(w, OV_KIND_WAN, &j), 1);
    ck_assert_str_eq(j->id, "local-2");
    w->ops->complete(w, j, NULL);
    /* A cancelled waiting job never runs; a cancelled running one finishes unseen. */
    edone d3 = {0}, d4 = {0};
    uint64_t t3, t4;
    ck_assert_int_eq(ov_enhance_submit(w, "x", "base", on_edone, &d3, &t3), 0);
    ck_assert_int_eq(ov_enhance_submit(w, "y", "base", on_edone, &d4, &t4), 0);
    ov_enhance_cancel(w, t3);
    ck_assert_int_eq(w->ops->depth(w, OV_KIND_QWEN), 1);
    ck_assert_int_eq(w->ops->next(w, OV_KIND_QWEN, &j), 1);
    ov_enhance_cancel(w, t4);
    ck_assert_int_eq((w->ops->fail)(w, j, OV_EIO, "x", false), OV_JOB_DEAD);
    ck_assert_int_eq(d3.called + d4.called, 0);
    /* Queue cap. */
    edone dd = {0};
    uint64_t tt;
    for (int i = 0; i < OV_ENHANCE_QUEUE_MAX; i++)
        ck_assert_int_eq(ov_enhance_submit(w, "z", "base", on_edone, &dd, &tt), 0);
    ck_assert_int_eq(ov_enhance_submit(w, "z", "base", on_edone, &dd, &tt), OV_EBUSY);
    w->ops->destroy(w); /* frees waiting jobs and the inner source */
    ck_assert_int_eq(dd.called, 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("http");
    TCase *t = tcase_create("http");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_health_pass_warn_fail);
    tcase_add_test(t, test_metrics_and_routes);
    tcase_add_test(t, test_enhance_disabled_without_key);
    tcase_add_test(t, test_enhance_unauthorized);
    tcase_add_test(t, test_enhance_body_too_large);
    tcase_add_test(t, test_enhance_ok);
    tcase_add_test(t, test_enhance_bad_requests);
    tcase_add_test(t, test_enhance_deadline_504);
    tcase_add_test(t, test_close_with_enhance_pending);
    tcase_add_test(t, test_health_json_pure);
    tcase_add_test(t, test_bad_bind);
    tcase_add_test(t, test_enhance_wrapper);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
