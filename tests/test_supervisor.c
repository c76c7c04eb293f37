/* Supervisor suite: restart arithmetic, config refusal, status socket, unit-mode workers (fake). */
#include <check.h>
#include <jansson.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "ipc/frame.h"
#include "supervisor/backoff.h"
#include "supervisor/notify.h"
#include "supervisor/worker_env.h"
#include "test_supervisor_util.h"

static const char *const UNIT[] = {"--unit-mode", NULL};

/* ---- pure arithmetic ---- */

START_TEST(backoff_doubles_caps_and_jitters)
{
    ck_assert_int_eq(ov_backoff_delay_ms(1000, 60000, 0, 0.5), 1000);
    ck_assert_int_eq(ov_backoff_delay_ms(1000, 60000, 1, 0.5), 2000);
    ck_assert_int_eq(ov_backoff_delay_ms(1000, 60000, 5, 0.5), 32000);
    ck_assert_int_eq(ov_backoff_delay_ms(1000, 60000, 6, 0.5), 60000);    /* 64 s capped */
    ck_assert_int_eq(ov_backoff_delay_ms(1000, 60000, 1000, 0.5), 60000); /* no overflow */
    ck_assert_int_eq(ov_backoff_delay_ms(1000, 60000, 0, 0.0), 750);      /* jitter -25% */
    ck_assert_int_eq(ov_backoff_delay_ms(1000, 60000, 0, 0.999999), 1249);
    ck_assert_int_eq(ov_backoff_delay_ms(1000, 60000, 6, 0.999999), 60000); /* jitter never exceeds cap */
    ck_assert_int_eq(ov_backoff_delay_ms(1000, 60000, 6, 0.0), 45000);
    ck_assert_int_eq(ov_backoff_delay_ms(0, 60000, 3, 0.5), 0);
    ck_assert_int_eq(ov_backoff_delay_ms(10, 5, 0, 0.5), 10); /* max below initial: initial wins */
    ck_assert_int_eq(ov_backoff_delay_ms(1, 1, 0, 0.0), 1);   /* never below 1 ms */
}
END_TEST

/* A worker's environment: ours, CUDA_VISIBLE_DEVICES replaced per instance, OpenBLAS's idle spin
 * cut short unless the operator set it. */
static int env_count(char **env, const char *entry)
{
    int n = 0;
    for (size_t i = 0; env[i]; i++)
        n += strcmp(env[i], entry) == 0;
    return n;
}

START_TEST(worker_env_sets_gpu_and_blas_timeout)
{
    char *base[] = {"PATH=/usr/bin", "CUDA_VISIBLE_DEVICES=0,1", "HOME=/root", NULL};
    char gpu[48];
    char **env = ov_worker_env_build(base, 1, gpu, sizeof gpu);
    ck_assert_ptr_nonnull(env);
    ck_assert_int_eq(env_count(env, "CUDA_VISIBLE_DEVICES=1"), 1);
    ck_assert_int_eq(env_count(env, "CUDA_VISIBLE_DEVICES=0,1"), 0);
    ck_assert_int_eq(env_count(env, "PATH=/usr/bin"), 1);
    ck_assert_int_eq(env_count(env, "HOME=/root"), 1);
    ck_assert_int_eq(env_count(env, OV_WORKER_OPENBLAS_THREAD_TIMEOUT), 1);
    free(env);
    /* no GPU named: ours untouched; an operator's OPENBLAS_THREAD_TIMEOUT is kept, not doubled */
    char *base2[] = {"CUDA_VISIBLE_DEVICES=3", "OPENBLAS_THREAD_TIMEOUT=20", NULL};
    env = ov_worker_env_build(base2, -1, gpu, sizeof gpu);
    ck_assert_ptr_nonnull(env);
    ck_assert_int_eq(env_count(env, "CUDA_VISIBLE_DEVICES=3"), 1);
    ck_assert_int_eq(env_count(env, "OPENBLAS_THREAD_TIMEOUT=20"), 1);
    ck_assert_int_eq(env_count(env, OV_WORKER_OPENBLAS_THREAD_TIMEOUT), 0);
    size_t n = 0;
    while (env[n])
        n++;
    ck_assert_int_eq((int)n, 2);
    free(env);
}
END_TEST

START_TEST(crash_ring_detects_loops_in_window)
{
    uint64_t times[3];
    ov_crash_ring r = {times, 3, 0, 0};
    ck_assert_int_eq(ov_crash_ring_record(&r, 0, 1000), 0);
    ck_assert_int_eq(ov_crash_ring_record(&r, 100, 1000), 0);
    ck_assert_int_eq(ov_crash_ring_record(&r, 200, 1000), 1); /* 3 within 1 s */
    ov_crash_ring_reset(&r);
    ck_assert_int_eq(ov_crash_ring_record(&r, 10000, 1000), 0);
    ck_assert_int_eq(ov_crash_ring_record(&r, 10600, 1000), 0);
    ck_assert_int_eq(ov_crash_ring_record(&r, 11200, 1000), 0); /* spans 1.2 s: not a loop */
    ck_assert_int_eq(ov_crash_ring_record(&r, 11300, 1000), 1); /* last three span 0.7 s */
    uint64_t one[1];
    ov_crash_ring r1 = {one, 1, 0, 0};
    ck_assert_int_eq(ov_crash_ring_record(&r1, 5, 1000), 1); /* crash_loop_max = 1: first failure */
}
END_TEST

/* ---- config ---- */

START_TEST(bad_config_refused_with_file_and_line)
{
    tsup t;
    tsup_prepare(&t, "spawn_workers = false\n[restart]\nbackoff_initial = soon\n");
    pid_t p = fork();
    if (p == 0) {
        int fd = open(t.log, O_WRONLY | O_CREAT, 0644);
        dup2(fd, 2);
        execl(tsup_bin("ourvidz-supervisor"), "ourvidz-supervisor", "--config", t.conf, (char *)NULL);
        _exit(127);
    }
    int st;
    ck_assert_int_eq(waitpid(p, &st, 0), p);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 78);
    char needle[256];
    snprintf(needle, sizeof needle, "%s:5:", t.conf); /* line 5: runtime_dir is line 2 */
    ck_assert_int_ge(tsup_log_count(&t, needle), 1);
    ck_assert_int_ge(tsup_log_count(&t, "backoff_initial"), 1);
    /* An unknown key too. */
    tsup t2;
    tsup_prepare(&t2, "colour = blue\n");
    p = fork();
    if (p == 0) {
        int fd = open(t2.log, O_WRONLY | O_CREAT, 0644);
        dup2(fd, 2);
        execl(tsup_bin("ourvidz-supervisor"), "ourvidz-supervisor", "--config", t2.conf, (char *)NULL);
        _exit(127);
    }
    ck_assert_int_eq(waitpid(p, &st, 0), p);
    ck_assert_int_eq(WEXITSTATUS(st), 78);
    snprintf(needle, sizeof needle, "%s:3:", t2.conf);
    ck_assert_int_ge(tsup_log_count(&t2, needle), 1);
    /* No socket was created. */
    char sock[256];
    snprintf(sock, sizeof sock, "%s/status.sock", t.run);
    ck_assert_int_ne(access(sock, F_OK), 0);
    tsup_kill_all(&t);
    tsup_kill_all(&t2);
}
END_TEST

/* ---- status socket ---- */

START_TEST(status_json_valid_and_tracks_state_within_1s)
{
    tsup t;
    tsup_prepare(&t, "");
    tsup_start(&t, UNIT);
    json_t *j = tsup_status(&t);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "supervisor"), "pid")), t.pid);
    ck_assert_int_eq(json_array_size(json_object_get(j, "workers")), 3);
    ck_assert_str_eq(tsup_wstate(j, "wan.0"), "starting");
    json_t *w = tsup_worker(j, "wan.0");
    const char *fields[] = {"name",   "kind",  "pid",      "state", "restarts",          "uptime_s",
                            "job_id", "phase", "progress", "model", "vram_budget_bytes", "last_heartbeat_ms",
                            "reason"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        ck_assert_msg(json_object_get(w, fields[i]) != NULL, "field %s missing", fields[i]);
    json_t *jobs = json_object_get(j, "jobs");
    const char *counters[] = {"started", "completed", "failed", "retried", "dead"};
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(json_integer_value(json_object_get(jobs, counters[i])), 0);
    json_decref(j);

    int fd = fake_connect(&t);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fake_hello(fd, "wan.0", "wan", OV_IPC_PROTOCOL_VERSION, 0), 0);
    ck_assert(tsup_wait_state(&t, "wan.0", "loading", 1000));
    int64_t t0 = tsup_now_ms();
    ov_msg r;
    ov_msg_init(&r, OV_MSG_READY);
    r.u.ready.model = "fake-model-v2";
    ck_assert_int_eq(fake_send(fd, &r), 0);
    ck_assert(tsup_wait_state(&t, "wan.0", "ready", 1000));
    ck_assert_int_lt(tsup_now_ms() - t0, 1000);
    j = tsup_status(&t);
    ck_assert_int_eq(tsup_wint(j, "wan.0", "pid"), getpid());
    ck_assert_str_eq(json_string_value(json_object_get(tsup_worker(j, "wan.0"), "model")), "fake-model-v2");
    ck_assert_int_lt(tsup_wint(j, "wan.0", "last_heartbeat_ms"), 1000);
    json_decref(j);

    /* Text table and metrics carry the same facts. */
    char *tab = tsup_cmd(&t, "status");
    ck_assert_ptr_nonnull(strstr(tab, "wan.0"));
    ck_assert_ptr_nonnull(strstr(tab, "ready"));
    free(tab);
    char *m = tsup_cmd(&t, "metrics");
    ck_assert_ptr_nonnull(strstr(m, "ourvidz_worker_up{worker=\"wan.0\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(m, "ourvidz_worker_up{worker=\"sdxl.0\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(m, "ourvidz_jobs_total{type=\"sdxl\",result=\"dead\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(m, "ourvidz_job_duration_seconds_bucket{type=\"wan\",le=\"+Inf\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(m, "ourvidz_worker_restarts_total{worker=\"qwen.0\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(m, "ourvidz_queue_depth{queue=\"wan_local\"} 0\n"));
    free(m);
    close(fd);
    ck_assert(tsup_wait_state(&t, "wan.0", "starting", 1000)); /* unit gone: waiting again */
    tsup_kill_all(&t);
}
END_TEST

START_TEST(status_socket_survives_junk)
{
    tsup t;
    tsup_prepare(&t, "");
    tsup_start(&t, UNIT);
    int64_t ms;
    /* Binary bytes with a newline. */
    const char bin[] = {'\x01', '\xff', '\x00', 'z', '\x7f', '\n'};
    char *r = tsup_raw(&t, bin, sizeof bin, 3000, &ms);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(strncmp(r, "error: ", 7), 0);
    free(r);
    /* A 1 MB line: refused after the 4 KiB cap, quickly. */
    size_t big = 1u << 20;
    char *junk = malloc(big);
    memset(junk, 'a', big);
    r = tsup_raw(&t, junk, big, 5000, &ms);
    free(junk);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r, "error: command line too long\n");
    ck_assert_int_lt(ms, 2000);
    free(r);
    /* No newline, then silence: answered at the read deadline (2 s), not held forever. */
    r = tsup_raw(&t, "stat", 4, 6000, &ms);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r, "error: no complete command line within the deadline\n");
    ck_assert_int_ge(ms, 1500);
    ck_assert_int_lt(ms, 4000);
    free(r);
    /* Unknown command, bad submit. */
    r = tsup_cmd(&t, "show me everything");
    ck_assert_int_eq(strncmp(r, "error: unknown command", 22), 0);
    free(r);
    r = tsup_cmd(&t, "submit flux t2i");
    ck_assert_int_eq(strncmp(r, "error: unknown kind", 19), 0);
    free(r);
    r = tsup_cmd(&t, "submit wan t2v novalue");
    ck_assert_int_eq(strncmp(r, "error: bad parameter", 20), 0);
    free(r);
    r = tsup_cmd(&t, "job nope");
    ck_assert_str_eq(r, "error: no such job\n");
    free(r);
    /* Connect and close at once, many times. */
    for (int i = 0; i < 50; i++) {
        char *x = tsup_raw(&t, "", 0, 1, NULL);
        free(x);
    }
    r = tsup_cmd(&t, "ping");
    ck_assert_str_eq(r, "pong\n");
    free(r);
    ck_assert_int_eq(kill(t.pid, 0), 0);
    tsup_kill_all(&t);
}
END_TEST

/* ---- unit mode: hello checks ---- */

START_TEST(wrong_protocol_hello_refused_supervisor_keeps_serving)
{
    tsup t;
    tsup_prepare(&t, "");
    tsup_start(&t, UNIT);
    int fd = fake_connect(&t);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fake_hello(fd, "wan.0", "wan", 999, 0), 0);
    ov_msg m;
    ck_assert_int_lt(fake_read(fd, 3000, &m), 0); /* closed by the supervisor */
    close(fd);
    ck_assert_int_ge(tsup_log_count(&t, "protocol version 999, want 1"), 1);
    json_t *j = tsup_status(&t);
    ck_assert_str_eq(tsup_wstate(j, "wan.0"), "starting");
    json_decref(j);
    /* Unknown name refused too. */
    fd = fake_connect(&t);
    ck_assert_int_eq(fake_hello(fd, "flux.0", "flux", OV_IPC_PROTOCOL_VERSION, 0), 0);
    ck_assert_int_lt(fake_read(fd, 3000, &m), 0);
    close(fd);
    /* A correct worker is still accepted. */
    fd = fake_connect(&t);
    ck_assert_int_eq(fake_hello(fd, "wan.0", "wan", OV_IPC_PROTOCOL_VERSION, 1), 0);
    ck_assert(tsup_wait_state(&t, "wan.0", "ready", 2000));
    /* A second connection claiming the live name is refused; the first stays ready. */
    int fd2 = fake_connect(&t);
    ck_assert_int_eq(fake_hello(fd2, "wan.0", "wan", OV_IPC_PROTOCOL_VERSION, 0), 0);
    ck_assert_int_lt(fake_read(fd2, 3000, &m), 0);
    close(fd2);
    j = tsup_status(&t);
    ck_assert_str_eq(tsup_wstate(j, "wan.0"), "ready");
    json_decref(j);
    ck_assert_int_ge(tsup_log_count(&t, "a live connection already claims this name"), 1);
    close(fd);
    tsup_kill_all(&t);
}
END_TEST

/* A fake worker process: hello + ready, then optional garbage after delay_ms, then idle. */
static pid_t fake_worker_proc(const tsup *t, const char *name, const char *kind, const void *garbage,
                              size_t glen)
{
    pid_t p = fork();
    ck_assert_int_ge(p, 0);
    if (p == 0) {
        int fd = fake_connect(t);
        if (fd < 0 || fake_hello(fd, name, kind, OV_IPC_PROTOCOL_VERSION, 1) != 0)
            _exit(2);
        tsup_sleep_ms(400);
        if (garbage)
            ov_fd_write_all(fd, garbage, glen);
        for (int i = 0; i < 100; i++) { /* ~10 s of heartbeats */
            ov_msg hb;
            ov_msg_init(&hb, OV_MSG_HEARTBEAT);
            hb.u.heartbeat.seq = i;
            hb.u.heartbeat.state = "idle";
            if (fake_send(fd, &hb) != 0)
                _exit(3);
            tsup_sleep_ms(100);
        }
        _exit(0);
    }
    return p;
}

START_TEST(garbage_frames_close_only_that_worker)
{
    tsup t;
    tsup_prepare(&t, "");
    tsup_start(&t, UNIT);
    const uint8_t oversized[] = {0x7f, 0xff, 0xff, 0xff, 1, 2, 3}; /* 2 GiB announced */
    const uint8_t junk[] = {0, 0, 0, 4, 0xc1, 0xc1, 0xc1, 0xc1};   /* 0xc1: never valid msgpack */
    pid_t pw = fake_worker_proc(&t, "wan.0", "wan", oversized, sizeof oversized);
    pid_t pq = fake_worker_proc(&t, "qwen.0", "qwen", junk, sizeof junk);
    pid_t ps = fake_worker_proc(&t, "sdxl.0", "sdxl", NULL, 0);
    ck_assert(tsup_wait_state(&t, "sdxl.0", "ready", 3000));
    int st;
    ck_assert_int_eq(waitpid(pw, &st, 0), pw);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    ck_assert_int_eq(waitpid(pq, &st, 0), pq);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    ck_assert_int_ge(tsup_log_count(&t, "worker=wan.0 code=EPROTO"), 1);
    ck_assert_int_ge(tsup_log_count(&t, "worker=qwen.0 code=EPROTO"), 1);
    json_t *j = tsup_status(&t);
    ck_assert_str_eq(tsup_wstate(j, "wan.0"), "starting");
    ck_assert_str_eq(tsup_wstate(j, "qwen.0"), "starting");
    ck_assert_str_eq(tsup_wstate(j, "sdxl.0"), "ready");
    ck_assert_int_eq(tsup_wint(j, "sdxl.0", "pid"), ps);
    json_decref(j);
    ck_assert_int_eq(kill(ps, 0), 0);
    kill(ps, SIGKILL);
    waitpid(ps, NULL, 0);
    tsup_kill_all(&t);
}
END_TEST

/* ---- dispatch through a fake worker: results, hand-back on disconnect, drain ---- */

static ov_msg expect_job(int fd)
{
    ov_msg m;
    ck_assert_int_eq(fake_read(fd, 3000, &m), 1);
    ck_assert_int_eq(m.type, OV_MSG_JOB);
    return m;
}

static void send_simple(int fd, int type, const char *job_id)
{
    ov_msg m;
    ov_msg_init(&m, type);
    switch (type) {
    case OV_MSG_ACCEPT: m.u.accept.job_id = (char *)job_id; break;
    case OV_MSG_PROGRESS:
        m.u.progress.job_id = (char *)job_id;
        m.u.progress.phase = "denoise";
        m.u.progress.step = 1;
        m.u.progress.total = 4;
        break;
    case OV_MSG_RESULT: m.u.result.job_id = (char *)job_id; break;
    default: break;
    }
    ck_assert_int_eq(fake_send(fd, &m), 0);
}

START_TEST(fake_worker_job_roundtrip_handback_and_drain)
{
    tsup t;
    tsup_prepare(&t, "");
    tsup_start(&t, UNIT);
    int fd = fake_connect(&t);
    ck_assert_int_eq(fake_hello(fd, "wan.0", "wan", OV_IPC_PROTOCOL_VERSION, 1), 0);
    ck_assert(tsup_wait_state(&t, "wan.0", "ready", 2000));

    char id[128];
    snprintf(id, sizeof id, "%s", tsup_submit(&t, "wan", "t2v", "steps=4 prompt=cat"));
    ov_msg job = expect_job(fd);
    ck_assert_str_eq(job.u.job.job_id, id);
    ck_assert_str_eq(job.u.job.task, "t2v");
    int64_t steps;
    ck_assert_int_eq(ov_kvlist_get_int(&job.u.job.params, "steps", &steps), 0);
    ck_assert_int_eq(steps, 4);
    const char *prompt;
    ck_assert_int_eq(ov_kvlist_get_str(&job.u.job.params, "prompt", &prompt), 0);
    ck_assert_str_eq(prompt, "cat");
    ov_msg_free(&job);
    send_simple(fd, OV_MSG_ACCEPT, id);
    send_simple(fd, OV_MSG_PROGRESS, id);
    tsup_sleep_ms(100);
    json_t *j = tsup_status(&t);
    ck_assert_str_eq(tsup_wstate(j, "wan.0"), "busy");
    json_t *w = tsup_worker(j, "wan.0");
    ck_assert_str_eq(json_string_value(json_object_get(w, "job_id")), id);
    ck_assert_str_eq(json_string_value(json_object_get(w, "phase")), "denoise");
    ck_assert(json_real_value(json_object_get(w, "progress")) == 0.25);
    json_decref(j);
    send_simple(fd, OV_MSG_RESULT, id);
    ck_assert(tsup_wait_job(&t, id, "completed", 2000));

    /* Disconnect while busy: the job is handed back (attempt 1 of 3) and runs on the next unit. */
    snprintf(id, sizeof id, "%s", tsup_submit(&t, "wan", "t2v", NULL));
    job = expect_job(fd);
    ov_msg_free(&job);
    send_simple(fd, OV_MSG_ACCEPT, id);
    close(fd);
    ck_assert(tsup_wait_job(&t, id, "queued", 2000));
    fd = fake_connect(&t);
    ck_assert_int_eq(fake_hello(fd, "wan.0", "wan", OV_IPC_PROTOCOL_VERSION, 1), 0);
    job = expect_job(fd);
    ck_assert_str_eq(job.u.job.job_id, id);
    ov_msg_free(&job);
    char line[160];
    snprintf(line, sizeof line, "job %s", id);
    char *r = tsup_cmd(&t, line);
    json_t *jj = json_loads(r, 0, NULL);
    free(r);
    ck_assert_int_eq(json_integer_value(json_object_get(jj, "attempts")), 2);
    json_decref(jj);
    send_simple(fd, OV_MSG_ACCEPT, id);

    /* SIGTERM while busy: nothing new is sent until the job ends; then shutdown; exit 0. */
    ck_assert_int_eq(kill(t.pid, SIGTERM), 0);
    tsup_sleep_ms(300);
    r = tsup_cmd(&t, "submit wan t2v");
    ck_assert_str_eq(r, "error: draining, not accepting jobs\n");
    free(r);
    send_simple(fd, OV_MSG_RESULT, id);
    ov_msg sd;
    ck_assert_int_eq(fake_read(fd, 3000, &sd), 1);
    ck_assert_int_eq(sd.type, OV_MSG_SHUTDOWN);
    ov_msg_free(&sd);
    close(fd);
    int st = tsup_wait_exit(&t, 5000);
    ck_assert_int_ne(st, -1);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    ck_assert_int_ge(tsup_log_count(&t, "job_handback"), 1);
    ck_assert_int_eq(tsup_log_count(&t, "event=job_completed"), 2);
    tsup_kill_all(&t);
}
END_TEST

/* A fake wan worker in unit mode whose announced pid is a paused child (what a stop or drain
 * signals instead of this test): returns its connection, *victim the child. */
static int fake_wan_ready(tsup *t, pid_t *victim)
{
    *victim = fork();
    if (*victim == 0) {
        pause();
        _exit(0);
    }
    fake_hello_pid = *victim;
    int fd = fake_connect(t);
    ck_assert_int_eq(fake_hello(fd, "wan.0", "wan", OV_IPC_PROTOCOL_VERSION, 1), 0);
    ck_assert(tsup_wait_state(t, "wan.0", "ready", 2000));
    return fd;
}

/* The worker honours a cancel of job id: a retriable ECANCELED error. */
static void send_cancelled(int fd, char *id)
{
    ov_msg e;
    ov_msg_init(&e, OV_MSG_ERROR);
    e.u.error.job_id = id;
    e.u.error.code = OV_ECANCELED;
    e.u.error.message = "cancelled";
    e.u.error.retriable = true;
    ck_assert_int_eq(fake_send(fd, &e), 0);
}

START_TEST(job_timeout_sends_cancel_then_retry_completes)
{
    tsup t;
    tsup_prepare(&t, "stop_timeout = 1s\n[worker.wan]\njob_timeout = 1s\n");
    tsup_start(&t, UNIT);
    pid_t victim;
    int fd = fake_wan_ready(&t, &victim);
    char id[128];
    snprintf(id, sizeof id, "%s", tsup_submit(&t, "wan", "t2v", NULL));
    ov_msg job = expect_job(fd);
    ov_msg_free(&job);
    int64_t t0 = tsup_now_ms();
    send_simple(fd, OV_MSG_ACCEPT, id);
    ov_msg c;
    ck_assert_int_eq(fake_read(fd, 3000, &c), 1);
    ck_assert_int_eq(c.type, OV_MSG_CANCEL);
    ck_assert_str_eq(c.u.cancel.job_id, id);
    ov_msg_free(&c);
    int64_t waited = tsup_now_ms() - t0;
    ck_assert_int_ge(waited, 900);
    ck_assert_int_lt(waited, 2000);
    /* The worker honours it: a retriable ECANCELED error; the job is retried on the same worker. */
    send_cancelled(fd, id);
    job = expect_job(fd);
    ck_assert_str_eq(job.u.job.job_id, id);
    ov_msg_free(&job);
    send_simple(fd, OV_MSG_ACCEPT, id);
    send_simple(fd, OV_MSG_RESULT, id);
    ck_assert(tsup_wait_job(&t, id, "completed", 2000));
    json_t *j = tsup_status(&t);
    json_t *jobs = json_object_get(j, "jobs");
    ck_assert_int_eq(json_integer_value(json_object_get(jobs, "started")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(jobs, "failed")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(jobs, "retried")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(jobs, "completed")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(jobs, "dead")), 0);
    json_decref(j);
    /* A second timeout that the worker ignores: killed after stop_timeout (unit mode: the
     * connection is dropped and the job handed back). */
    snprintf(id, sizeof id, "%s", tsup_submit(&t, "wan", "t2v", NULL));
    job = expect_job(fd);
    ov_msg_free(&job);
    ck_assert_int_eq(fake_read(fd, 3000, &c), 1);
    ck_assert_int_eq(c.type, OV_MSG_CANCEL);
    ov_msg_free(&c);
    ck_assert_int_lt(fake_read(fd, 3000, &c), 0); /* dropped */
    close(fd);
    ck_assert(tsup_wait_job(&t, id, "queued", 2000));
    ck_assert_int_ge(tsup_log_count(&t, "cancel not honoured"), 1);
    int st;
    ck_assert_int_eq(waitpid(victim, &st, 0), victim); /* the announced pid got SIGKILL */
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    tsup_kill_all(&t);
}
END_TEST

/* A job-timeout cancel the worker honours (ECANCELED) is not a worker failure: the runtime resets
 * its own failure count on it, so the supervisor must not count it towards max_consecutive_failures
 * either (it drained and restarted a healthy worker after N timeouts in a row, reloading its model). */
START_TEST(honoured_timeouts_do_not_drain_the_worker)
{
    tsup t;
    tsup_prepare(&t, "stop_timeout = 1s\n[worker.wan]\njob_timeout = 1s\nmax_consecutive_failures = 2\n");
    tsup_start(&t, UNIT);
    pid_t victim; /* a drain would signal it */
    int fd = fake_wan_ready(&t, &victim);
    char id[128];
    snprintf(id, sizeof id, "%s", tsup_submit(&t, "wan", "t2v", NULL));
    for (int attempt = 0; attempt < 2; attempt++) { /* two timeouts in a row, both honoured */
        ov_msg job = expect_job(fd);
        ck_assert_str_eq(job.u.job.job_id, id);
        ov_msg_free(&job);
        send_simple(fd, OV_MSG_ACCEPT, id);
        ov_msg c;
        ck_assert_int_eq(fake_read(fd, 3000, &c), 1);
        ck_assert_int_eq(c.type, OV_MSG_CANCEL);
        ov_msg_free(&c);
        send_cancelled(fd, id);
    }
    /* the third attempt still goes to this worker, which completes it */
    ov_msg job = expect_job(fd);
    ck_assert_str_eq(job.u.job.job_id, id);
    ov_msg_free(&job);
    send_simple(fd, OV_MSG_ACCEPT, id);
    send_simple(fd, OV_MSG_RESULT, id);
    ck_assert(tsup_wait_job(&t, id, "completed", 2000));
    ck_assert(tsup_wait_state(&t, "wan.0", "ready", 2000));
    ck_assert_int_eq(tsup_log_count(&t, "too many failed jobs in a row"), 0);
    close(fd);
    kill(victim, SIGKILL);
    waitpid(victim, NULL, 0);
    tsup_kill_all(&t);
}
END_TEST

/* ---- sd_notify ---- */

static int notify_listener(const char *path, int abstract)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    memcpy(sa.sun_path, path, n);
    if (abstract)
        sa.sun_path[0] = '\0';
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (abstract ? 0 : 1));
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, len), 0);
    return fd;
}

static int recv_text(int fd, char *buf, size_t n, int timeout_ms)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t r = recv(fd, buf, n - 1, 0);
    buf[r > 0 ? r : 0] = '\0';
    return (int)r;
}

START_TEST(notify_sends_datagrams_path_and_abstract)
{
    unsetenv("NOTIFY_SOCKET");
    ck_assert_int_eq(ov_notify("READY=1"), 0); /* not under systemd: no-op */
    char path[64];
    snprintf(path, sizeof path, "/tmp/ovnotify.%d", (int)getpid());
    unlink(path);
    int fd = notify_listener(path, 0);
    setenv("NOTIFY_SOCKET", path, 1);
    ck_assert_int_eq(ov_notify("READY=1\nSTATUS=hello"), 0);
    char buf[256];
    ck_assert_int_gt(recv_text(fd, buf, sizeof buf, 1000), 0);
    ck_assert_str_eq(buf, "READY=1\nSTATUS=hello");
    close(fd);
    unlink(path);
    char apath[64];
    snprintf(apath, sizeof apath, "@ovnotify-abstract-%d", (int)getpid());
    fd = notify_listener(apath, 1);
    setenv("NOTIFY_SOCKET", apath, 1);
    ck_assert_int_eq(ov_notify("WATCHDOG=1"), 0);
    ck_assert_int_gt(recv_text(fd, buf, sizeof buf, 1000), 0);
    ck_assert_str_eq(buf, "WATCHDOG=1");
    close(fd);
    setenv("NOTIFY_SOCKET", "relative/path", 1);
    ck_assert_int_eq(ov_notify("READY=1"), OV_EINVAL);
    unsetenv("NOTIFY_SOCKET");
    setenv("WATCHDOG_USEC", "3000000", 1);
    ck_assert_int_eq(ov_notify_watchdog_usec(), 3000000);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    ck_assert_int_eq(ov_notify_watchdog_usec(), 0); /* meant for another process */
    unsetenv("WATCHDOG_PID");
    setenv("WATCHDOG_USEC", "soon", 1);
    ck_assert_int_eq(ov_notify_watchdog_usec(), 0);
    unsetenv("WATCHDOG_USEC");
}
END_TEST

START_TEST(supervisor_notifies_ready_watchdog_and_stopping)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/ovnotify-sup.%d", (int)getpid());
    unlink(path);
    int fd = notify_listener(path, 0);
    setenv("NOTIFY_SOCKET", path, 1);
    setenv("WATCHDOG_USEC", "400000", 1); /* ping every 200 ms */
    tsup t;
    tsup_prepare(&t, "[worker.sdxl]\nenabled = false\n[worker.qwen]\nenabled = false\n");
    tsup_start(&t, UNIT);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    int ready = 0, watchdog = 0, stopping = 0;
    char buf[512];
    int64_t end = tsup_now_ms() + 3000;
    while (tsup_now_ms() < end && !(ready && watchdog >= 2)) {
        if (recv_text(fd, buf, sizeof buf, 500) <= 0)
            continue;
        ready += strstr(buf, "READY=1") != NULL;
        watchdog += strstr(buf, "WATCHDOG=1") != NULL;
    }
    ck_assert_int_eq(ready, 1);
    ck_assert_int_ge(watchdog, 2);
    ck_assert_int_eq(kill(t.pid, SIGTERM), 0);
    end = tsup_now_ms() + 3000;
    while (tsup_now_ms() < end && !stopping) {
        if (recv_text(fd, buf, sizeof buf, 500) > 0)
            stopping += strstr(buf, "STOPPING=1") != NULL;
    }
    ck_assert_int_eq(stopping, 1);
    int st = tsup_wait_exit(&t, 5000);
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(fd);
    unlink(path);
    tsup_kill_all(&t);
}
END_TEST

/* ---- ourvidzctl ---- */

static char *run_capture(const char *cmdline, int *status)
{
    FILE *p = popen(cmdline, "r");
    ck_assert_ptr_nonnull(p);
    static char out[1 << 16];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    *status = pclose(p);
    return out;
}

START_TEST(ourvidzctl_status_json_submit_job_and_missing_socket)
{
    tsup t;
    tsup_prepare(&t, "");
    tsup_start(&t, UNIT);
    char cmd[1024];
    int st;
    snprintf(cmd, sizeof cmd, "%s --runtime-dir %s status --json", tsup_bin("ourvidzctl"), t.run);
    char *out = run_capture(cmd, &st);
    ck_assert_int_eq(st, 0);
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    ck_assert_msg(j != NULL, "not JSON: %s", e.text);
    ck_assert_int_eq(json_array_size(json_object_get(j, "workers")), 3);
    json_decref(j);
    /* env instead of the flag */
    snprintf(cmd, sizeof cmd,
             "OURVIDZ_RUNTIME_DIR=%s %s submit --kind sdxl --task t2i --param steps=3 --param seed=42", t.run,
             tsup_bin("ourvidzctl"));
    out = run_capture(cmd, &st);
    ck_assert_int_eq(st, 0);
    ck_assert_str_eq(out, "local-1\n");
    snprintf(cmd, sizeof cmd, "%s --runtime-dir %s job local-1", tsup_bin("ourvidzctl"), t.run);
    out = run_capture(cmd, &st);
    ck_assert_int_eq(st, 0);
    j = json_loads(out, 0, &e);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "queued");
    ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "sdxl");
    json_decref(j);
    snprintf(cmd, sizeof cmd, "%s --runtime-dir %s metrics", tsup_bin("ourvidzctl"), t.run);
    out = run_capture(cmd, &st);
    ck_assert_int_eq(st, 0);
    ck_assert_ptr_nonnull(strstr(out, "ourvidz_queue_depth{queue=\"sdxl_local\"} 1\n"));
    snprintf(cmd, sizeof cmd, "%s --runtime-dir %s job local-99 2>&1", tsup_bin("ourvidzctl"), t.run);
    out = run_capture(cmd, &st);
    ck_assert_int_ne(st, 0);
    ck_assert_str_eq(out, "ourvidzctl: no such job\n");
    tsup_kill_all(&t);
    snprintf(cmd, sizeof cmd, "%s --runtime-dir %s status 2>&1", tsup_bin("ourvidzctl"), t.run);
    out = run_capture(cmd, &st);
    ck_assert_int_ne(st, 0);
    ck_assert_ptr_nonnull(strstr(out, "is the supervisor running?"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("supervisor");
    TCase *pure = tcase_create("pure");
    tcase_add_test(pure, backoff_doubles_caps_and_jitters);
    tcase_add_test(pure, worker_env_sets_gpu_and_blas_timeout);
    tcase_add_test(pure, crash_ring_detects_loops_in_window);
    tcase_add_test(pure, notify_sends_datagrams_path_and_abstract);
    suite_add_tcase(s, pure);
    TCase *io = tcase_create("integration");
    tcase_set_timeout(io, 60);
    tcase_add_test(io, bad_config_refused_with_file_and_line);
    tcase_add_test(io, status_json_valid_and_tracks_state_within_1s);
    tcase_add_test(io, status_socket_survives_junk);
    tcase_add_test(io, wrong_protocol_hello_refused_supervisor_keeps_serving);
    tcase_add_test(io, garbage_frames_close_only_that_worker);
    tcase_add_test(io, fake_worker_job_roundtrip_handback_and_drain);
    tcase_add_test(io, supervisor_notifies_ready_watchdog_and_stopping);
    tcase_add_test(io, job_timeout_sends_cancel_then_retry_completes);
    tcase_add_test(io, honoured_timeouts_do_not_drain_the_worker);
    tcase_add_test(io, ourvidzctl_status_json_submit_job_and_missing_socket);
    suite_add_tcase(s, io);
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
