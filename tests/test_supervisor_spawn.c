/* Supervisor in spawn mode with real child processes (the test worker): crash, hang, crash loop,
 * do-not-respawn, drain on SIGTERM, hand-back of the in-flight job. */
#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_supervisor_util.h"

static const char *const SPAWN[] = {"--spawn-workers", NULL};

/* Config: test worker for every kind, short deadlines so the suite runs in seconds.
 * `kinds` enables wan/sdxl/qwen ("wsq"), `extra` is appended (worker sections may repeat keys). */
static void prepare(tsup *t, const char *kinds, const char *extra)
{
    const char *tw = tsup_test_bin("ourvidz-testworker");
    char body[4096];
    snprintf(body, sizeof body,
             "spawn_workers = true\nstop_timeout = 2s\ndrain_timeout = 20s\n"
             "[restart]\nbackoff_initial = 200ms\nbackoff_max = 1s\nready_reset = 60s\ncrash_loop_max = 4\n"
             "crash_loop_window = 60s\n"
             "[heartbeat]\ninterval = 100ms\ntimeout_starting = 5s\ntimeout_loading = 5s\ntimeout_idle = 1s\n"
             "timeout_busy = 2s\n"
             "[worker.wan]\nenabled = %s\nbinary = %s\n[worker.sdxl]\nenabled = %s\nbinary = %s\n"
             "[worker.qwen]\nenabled = %s\nbinary = %s\n%s",
             strchr(kinds, 'w') ? "true" : "false", tw, strchr(kinds, 's') ? "true" : "false", tw,
             strchr(kinds, 'q') ? "true" : "false", tw, extra ? extra : "");
    tsup_prepare(t, body);
}

static void wait_all_ready(const tsup *t, const char *kinds)
{
    if (strchr(kinds, 'w'))
        ck_assert_msg(tsup_wait_state(t, "wan.0", "ready", 10000), "wan.0 not ready");
    if (strchr(kinds, 's'))
        ck_assert_msg(tsup_wait_state(t, "sdxl.0", "ready", 10000), "sdxl.0 not ready");
    if (strchr(kinds, 'q'))
        ck_assert_msg(tsup_wait_state(t, "qwen.0", "ready", 10000), "qwen.0 not ready");
}

static json_t *job_json(const tsup *t, const char *id)
{
    char line[160];
    snprintf(line, sizeof line, "job %s", id);
    char *r = tsup_cmd(t, line);
    ck_assert_ptr_nonnull(r);
    json_t *j = json_loads(r, 0, NULL);
    ck_assert_msg(j != NULL, "job reply not JSON: %s", r);
    free(r);
    return j;
}

START_TEST(kill9_one_of_three_restarts_it_alone_and_hands_back_its_job)
{
    tsup t;
    prepare(&t, "wsq", NULL);
    tsup_start(&t, SPAWN);
    wait_all_ready(&t, "wsq");
    json_t *j = tsup_status(&t);
    int64_t pw = tsup_wint(j, "wan.0", "pid"), ps = tsup_wint(j, "sdxl.0", "pid"),
            pq = tsup_wint(j, "qwen.0", "pid");
    json_decref(j);
    ck_assert_int_gt(pw, 1);
    char id[128];
    snprintf(id, sizeof id, "%s", tsup_submit(&t, "wan", "t2v", "sleep_ms=1500"));
    ck_assert(tsup_wait_state(&t, "wan.0", "busy", 1000));
    ck_assert_int_eq(kill((pid_t)pw, SIGKILL), 0);
    int64_t t0 = tsup_now_ms();
    ck_assert(tsup_wait_state(&t, "wan.0", "backing-off", 2000) || 1);
    int64_t end = t0 + 5000;
    int back = 0;
    while (tsup_now_ms() < end && !back) {
        j = tsup_status(&t);
        int64_t np = tsup_wint(j, "wan.0", "pid");
        const char *st = tsup_wstate(j, "wan.0");
        back = np > 1 && np != pw && (strcmp(st, "ready") == 0 || strcmp(st, "busy") == 0);
        json_decref(j);
        if (!back)
            tsup_sleep_ms(20);
    }
    ck_assert_msg(back, "wan.0 not restarted within 5 s");
    j = tsup_status(&t);
    ck_assert_int_eq(tsup_wint(j, "wan.0", "restarts"), 1);
    ck_assert_int_eq(tsup_wint(j, "sdxl.0", "pid"), ps);
    ck_assert_int_eq(tsup_wint(j, "qwen.0", "pid"), pq);
    ck_assert_int_eq(tsup_wint(j, "sdxl.0", "restarts"), 0);
    ck_assert_int_eq(tsup_wint(j, "qwen.0", "restarts"), 0);
    ck_assert_str_eq(tsup_wstate(j, "sdxl.0"), "ready");
    ck_assert_str_eq(tsup_wstate(j, "qwen.0"), "ready");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "jobs"), "retried")), 1);
    json_decref(j);
    /* The handed-back job runs again on the new process and completes. */
    ck_assert(tsup_wait_job(&t, id, "completed", 8000));
    j = job_json(&t, id);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "attempts")), 2);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "error")), "signal 9"));
    json_decref(j);
    ck_assert_int_eq(tsup_log_count(&t, "event=job_handback worker=wan.0"), 1);
    tsup_kill_all(&t);
}
END_TEST

START_TEST(sigstop_worker_is_killed_and_restarted)
{
    tsup t;
    prepare(&t, "ws", NULL);
    tsup_start(&t, SPAWN);
    wait_all_ready(&t, "ws");
    json_t *j = tsup_status(&t);
    int64_t ps = tsup_wint(j, "sdxl.0", "pid"), pw = tsup_wint(j, "wan.0", "pid");
    json_decref(j);
    ck_assert_int_eq(kill((pid_t)ps, SIGSTOP), 0);
    int64_t end = tsup_now_ms() + 6000;
    int back = 0;
    while (tsup_now_ms() < end && !back) {
        j = tsup_status(&t);
        int64_t np = tsup_wint(j, "sdxl.0", "pid");
        back = np > 1 && np != ps && strcmp(tsup_wstate(j, "sdxl.0"), "ready") == 0;
        json_decref(j);
        tsup_sleep_ms(50);
    }
    ck_assert_msg(back, "stopped sdxl.0 not replaced within 6 s");
    ck_assert_int_ge(tsup_log_count(&t, "heartbeat timeout: silent"), 1);
    ck_assert_int_ge(tsup_log_count(&t, "worker=sdxl.0 pid"), 1);
    j = tsup_status(&t);
    ck_assert_int_eq(tsup_wint(j, "sdxl.0", "restarts"), 1);
    ck_assert_int_eq(tsup_wint(j, "wan.0", "pid"), pw);
    ck_assert_int_eq(tsup_wint(j, "wan.0", "restarts"), 0);
    json_decref(j);
    ck_assert_int_ne(kill((pid_t)ps, 0), 0); /* the stopped process is gone */
    tsup_kill_all(&t);
}
END_TEST

START_TEST(worker_dying_at_start_is_backed_off_then_failed)
{
    tsup t;
    prepare(&t, "w", NULL);
    setenv("OV_TEST_EXIT_AT_START", "1", 1);
    tsup_start(&t, SPAWN);
    unsetenv("OV_TEST_EXIT_AT_START");
    int64_t t0 = tsup_now_ms();
    ck_assert_msg(tsup_wait_state(&t, "wan.0", "failed", 10000), "not failed after 10 s");
    int64_t took = tsup_now_ms() - t0;
    /* crash_loop_max 4: four spawns, three backoffs of >= 150, 300, 600 ms (jitter -25%). */
    ck_assert_int_ge(took, 1000);
    ck_assert_int_eq(tsup_log_count(&t, "event=worker_spawned worker=wan.0"), 4);
    tsup_sleep_ms(1500); /* and no more */
    ck_assert_int_eq(tsup_log_count(&t, "event=worker_spawned worker=wan.0"), 4);
    json_t *j = tsup_status(&t);
    ck_assert_str_eq(tsup_wstate(j, "wan.0"), "failed");
    ck_assert_int_eq(tsup_wint(j, "wan.0", "pid"), 0);
    ck_assert_int_eq(tsup_wint(j, "wan.0", "restarts"), 3);
    const char *reason = json_string_value(json_object_get(tsup_worker(j, "wan.0"), "reason"));
    ck_assert_msg(strstr(reason, "crash loop") != NULL, "reason: %s", reason);
    json_decref(j);
    char *m = tsup_cmd(&t, "metrics");
    ck_assert_ptr_nonnull(strstr(m, "ourvidz_worker_up{worker=\"wan.0\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(m, "ourvidz_worker_state{worker=\"wan.0\",state=\"failed\"} 1\n"));
    free(m);
    tsup_kill_all(&t);
}
END_TEST

START_TEST(exit_78_is_failed_and_never_respawned)
{
    tsup t;
    prepare(&t, "ws", NULL);
    setenv("OV_TEST_EXIT_AT_START", "78", 1);
    tsup_start(&t, SPAWN);
    unsetenv("OV_TEST_EXIT_AT_START");
    ck_assert(tsup_wait_state(&t, "wan.0", "failed", 5000));
    ck_assert(tsup_wait_state(&t, "sdxl.0", "failed", 5000));
    tsup_sleep_ms(1500);
    ck_assert_int_eq(tsup_log_count(&t, "event=worker_spawned worker=wan.0"), 1);
    json_t *j = tsup_status(&t);
    const char *reason = json_string_value(json_object_get(tsup_worker(j, "wan.0"), "reason"));
    ck_assert_msg(strstr(reason, "exit 78") != NULL, "reason: %s", reason);
    ck_assert_int_eq(tsup_wint(j, "wan.0", "restarts"), 0);
    json_decref(j);
    tsup_kill_all(&t);
}
END_TEST

START_TEST(sigterm_during_job_finishes_it_and_everything_exits_0)
{
    tsup t;
    prepare(&t, "wsq", NULL);
    tsup_start(&t, SPAWN);
    wait_all_ready(&t, "wsq");
    json_t *j = tsup_status(&t);
    pid_t pids[3] = {(pid_t)tsup_wint(j, "wan.0", "pid"), (pid_t)tsup_wint(j, "sdxl.0", "pid"),
                     (pid_t)tsup_wint(j, "qwen.0", "pid")};
    json_decref(j);
    char id[128];
    snprintf(id, sizeof id, "%s", tsup_submit(&t, "wan", "t2v", "sleep_ms=1500"));
    ck_assert(tsup_wait_state(&t, "wan.0", "busy", 1000));
    int64_t t0 = tsup_now_ms();
    ck_assert_int_eq(kill(t.pid, SIGTERM), 0);
    tsup_sleep_ms(300);
    j = tsup_status(&t);
    ck_assert(json_is_true(json_object_get(json_object_get(j, "supervisor"), "draining")));
    ck_assert_str_eq(tsup_wstate(j, "wan.0"), "busy"); /* still running its job */
    json_decref(j);
    int st = tsup_wait_exit(&t, 10000);
    ck_assert_int_ne(st, -1);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    ck_assert_int_ge(tsup_now_ms() - t0, 1000); /* it waited for the job */
    ck_assert_int_eq(tsup_log_count(&t, "event=job_completed worker=wan.0"), 1);
    ck_assert_int_eq(tsup_log_count(&t, "event=worker_exit"), 3);
    ck_assert_int_eq(tsup_log_count(&t, "status=0 signal=0"), 3);
    ck_assert_int_eq(tsup_log_count(&t, "clean=1"), 1);
    for (int i = 0; i < 3; i++)
        ck_assert_int_ne(kill(pids[i], 0), 0);
    tsup_kill_all(&t);
}
END_TEST

START_TEST(status_reflects_busy_within_1s_and_counts_jobs)
{
    tsup t;
    prepare(&t, "s", NULL);
    tsup_start(&t, SPAWN);
    wait_all_ready(&t, "s");
    int64_t t0 = tsup_now_ms();
    char id[128];
    snprintf(id, sizeof id, "%s", tsup_submit(&t, "sdxl", "t2i", "sleep_ms=600"));
    ck_assert(tsup_wait_state(&t, "sdxl.0", "busy", 1000));
    ck_assert_int_lt(tsup_now_ms() - t0, 1000);
    json_t *j = tsup_status(&t);
    ck_assert_str_eq(json_string_value(json_object_get(tsup_worker(j, "sdxl.0"), "job_id")), id);
    json_decref(j);
    ck_assert(tsup_wait_job(&t, id, "completed", 5000));
    ck_assert(tsup_wait_state(&t, "sdxl.0", "ready", 1000));
    const char *fid = tsup_submit(&t, "sdxl", "t2i", "fail=1");
    char fail_id[128];
    snprintf(fail_id, sizeof fail_id, "%s", fid);
    ck_assert(tsup_wait_job(&t, fail_id, "dead", 5000) || tsup_wait_job(&t, fail_id, "completed", 100));
    j = tsup_status(&t);
    json_t *jobs = json_object_get(j, "jobs");
    ck_assert_int_eq(json_integer_value(json_object_get(jobs, "completed")), 1);
    ck_assert_int_ge(json_integer_value(json_object_get(jobs, "failed")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(jobs, "dead")), 1);
    json_decref(j);
    tsup_kill_all(&t);
}
END_TEST

START_TEST(garbage_from_a_spawned_worker_restarts_only_it)
{
    /* wan.0 is a script that writes an oversized frame header on fd 3, then idles. */
    tsup t;
    char script[256];
    prepare(&t, "wsq", NULL);
    snprintf(script, sizeof script, "%s/garbage-worker.sh", t.dir);
    FILE *f = fopen(script, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "#!/bin/sh\nprintf '\\177\\377\\377\\377garbage' >&3\nexec sleep 30\n");
    fclose(f);
    ck_assert_int_eq(chmod(script, 0755), 0);
    f = fopen(t.conf, "a"); /* a repeated section: the later binary wins */
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[worker.wan]\nbinary = %s\n", script);
    fclose(f);
    tsup_start(&t, SPAWN);
    wait_all_ready(&t, "sq");
    json_t *j = tsup_status(&t);
    int64_t ps = tsup_wint(j, "sdxl.0", "pid"), pq = tsup_wint(j, "qwen.0", "pid");
    json_decref(j);
    int64_t end = tsup_now_ms() + 5000;
    while (tsup_now_ms() < end && tsup_log_count(&t, "event=worker_spawned worker=wan.0") < 2)
        tsup_sleep_ms(50);
    ck_assert_int_ge(tsup_log_count(&t, "event=worker_spawned worker=wan.0"), 2);
    ck_assert_int_ge(tsup_log_count(&t, "event=worker_conn_closed worker=wan.0 code=EPROTO"), 1);
    ck_assert_int_ge(tsup_log_count(&t, "event=worker_kill worker=wan.0"), 1);
    j = tsup_status(&t);
    ck_assert_int_ge(tsup_wint(j, "wan.0", "restarts"), 1);
    ck_assert_int_eq(tsup_wint(j, "sdxl.0", "pid"), ps);
    ck_assert_int_eq(tsup_wint(j, "qwen.0", "pid"), pq);
    ck_assert_int_eq(tsup_wint(j, "sdxl.0", "restarts"), 0);
    ck_assert_int_eq(tsup_wint(j, "qwen.0", "restarts"), 0);
    ck_assert_str_eq(tsup_wstate(j, "sdxl.0"), "ready");
    json_decref(j);
    ck_assert_int_eq(tsup_log_count(&t, "worker=sdxl.0 code="), 0);
    tsup_kill_all(&t);
}
END_TEST

START_TEST(exit_75_restarts_promptly_and_crashing_job_goes_dead)
{
    tsup t;
    prepare(&t, "w", "[restart]\ncrash_loop_max = 10\n");
    tsup_start(&t, SPAWN);
    wait_all_ready(&t, "w");
    json_t *j = tsup_status(&t);
    int64_t p0 = tsup_wint(j, "wan.0", "pid");
    json_decref(j);
    /* Sticky GPU error: the job fails (retriable), the worker exits 75 and is back at once. */
    char id[128];
    snprintf(id, sizeof id, "%s", tsup_submit(&t, "wan", "t2v", "gpu_error=true"));
    int64_t end = tsup_now_ms() + 3000;
    while (tsup_now_ms() < end && tsup_log_count(&t, "status=75") < 1)
        tsup_sleep_ms(20);
    ck_assert_int_eq(tsup_log_count(&t, "status=75"), 1);
    ck_assert_int_ge(tsup_log_count(&t, "restarting in 0 ms"), 1);
    /* The retried job hits the GPU error again each time: dead after 3 attempts. */
    ck_assert(tsup_wait_job(&t, id, "dead", 15000));
    /* The third ERROR arrives before that process exits 75: wait for its restart too. */
    int restarts = 0;
    end = tsup_now_ms() + 5000;
    while (tsup_now_ms() < end) {
        j = tsup_status(&t);
        restarts = (int)tsup_wint(j, "wan.0", "restarts");
        int ready = strcmp(tsup_wstate(j, "wan.0"), "ready") == 0;
        ck_assert_int_ne(tsup_wint(j, "wan.0", "pid"), p0);
        json_decref(j);
        if (restarts == 3 && ready)
            break;
        tsup_sleep_ms(20);
    }
    ck_assert_int_eq(restarts, 3);
    ck_assert_int_eq(tsup_log_count(&t, "status=75"), 3);
    /* A job that crashes its worker (abort) is handed back each time, then dead after 3. */
    snprintf(id, sizeof id, "%s", tsup_submit(&t, "wan", "t2v", "crash=true steps=2"));
    ck_assert(tsup_wait_job(&t, id, "dead", 20000));
    j = job_json(&t, id);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "attempts")), 3);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "error")), "signal 6"));
    json_decref(j);
    ck_assert(tsup_wait_state(&t, "wan.0", "ready", 10000));
    /* A normal job still runs afterwards. */
    snprintf(id, sizeof id, "%s", tsup_submit(&t, "wan", "t2v", NULL));
    ck_assert(tsup_wait_job(&t, id, "completed", 5000));
    j = job_json(&t, id);
    ck_assert_int_eq(json_array_size(json_object_get(j, "outputs")), 1);
    json_decref(j);
    tsup_kill_all(&t);
}
END_TEST

START_TEST(load_config_error_shows_the_workers_reason)
{
    tsup t;
    prepare(&t, "w", "[worker.wan]\nmodel = /nonexistent/wan.safetensors\n");
    setenv("OV_TEST_LOAD_FAIL", "config", 1);
    tsup_start(&t, SPAWN);
    unsetenv("OV_TEST_LOAD_FAIL");
    ck_assert(tsup_wait_state(&t, "wan.0", "failed", 5000));
    json_t *j = tsup_status(&t);
    const char *reason = json_string_value(json_object_get(tsup_worker(j, "wan.0"), "reason"));
    ck_assert_msg(strstr(reason, "exit 78") && strstr(reason, "/nonexistent/wan.safetensors is missing"),
                  "reason: %s", reason);
    json_decref(j);
    char *tab = tsup_cmd(&t, "status");
    ck_assert_ptr_nonnull(strstr(tab, "is missing"));
    free(tab);
    tsup_sleep_ms(500);
    ck_assert_int_eq(tsup_log_count(&t, "event=worker_spawned worker=wan.0"), 1);
    tsup_kill_all(&t);
}
END_TEST


/* GET a path from the supervisor's HTTP surface on 127.0.0.1:port; returns the malloc'd response. */
static char *http_get(int port, const char *method, const char *path, const char *extra)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char req[512];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: x\r\n%s\r\n", method, path, extra ? extra : "");
    ck_assert_int_eq(write(fd, req, (size_t)n), n);
    size_t cap = 65536, len = 0;
    char *out = malloc(cap);
    ssize_t r;
    while ((r = read(fd, out + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    close(fd);
    return out;
}

START_TEST(http_health_metrics_and_enhance_auth)
{
    tsup t;
    int port = 20000 + (int)(getpid() % 20000);
    char extra[64];
    snprintf(extra, sizeof extra, "[http]\nport = %d\n", port);
    setenv("WAN_WORKER_API_KEY", "test-key-0123456789", 1);
    prepare(&t, "s", extra);
    tsup_start(&t, SPAWN);
    wait_all_ready(&t, "s");
    char *r = http_get(port, "GET", "/health", NULL);
    ck_assert_msg(strstr(r, " 200 ") && strstr(r, "\"status\":\"pass\""), "health: %s", r);
    free(r);
    r = http_get(port, "GET", "/metrics", NULL);
    ck_assert_msg(strstr(r, "ourvidz_worker_restarts_total") != NULL, "metrics: %.200s", r);
    free(r);
    r = http_get(port, "POST", "/enhance", "Authorization: Bearer wrong\r\nContent-Length: 0\r\n");
    ck_assert_msg(strstr(r, " 401 ") != NULL, "enhance without the key: %s", r);
    free(r);
    ck_assert_int_eq(tsup_log_count(&t, "test-key-0123456789"), 0);
    tsup_kill_all(&t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("supervisor_spawn");
    TCase *tc = tcase_create("spawn");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, kill9_one_of_three_restarts_it_alone_and_hands_back_its_job);
    tcase_add_test(tc, sigstop_worker_is_killed_and_restarted);
    tcase_add_test(tc, worker_dying_at_start_is_backed_off_then_failed);
    tcase_add_test(tc, exit_78_is_failed_and_never_respawned);
    tcase_add_test(tc, sigterm_during_job_finishes_it_and_everything_exits_0);
    tcase_add_test(tc, status_reflects_busy_within_1s_and_counts_jobs);
    tcase_add_test(tc, garbage_from_a_spawned_worker_restarts_only_it);
    tcase_add_test(tc, exit_75_restarts_promptly_and_crashing_job_goes_dead);
    tcase_add_test(tc, load_config_error_shows_the_workers_reason);
    tcase_add_test(tc, http_health_metrics_and_enhance_auth);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
