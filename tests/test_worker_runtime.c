/* Worker runtime tests: this test is the supervisor, on the other end of a socketpair (spawn mode)
 * or of a listening socket (unit mode), driving the real runtime inside ourvidz-testworker and the
 * product worker binaries. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "ipc/frame.h"
#include "ipc/message.h"
#include "workers/runtime/worker.h"

typedef struct fake_sup {
    int fd;
    pid_t pid;
    ov_frame_reader r;
    char spool[256];
} fake_sup;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void bin_path(char *out, size_t n, const char *env, const char *name)
{
    const char *dir = getenv(env);
    ck_assert_msg(dir != NULL, "%s not set (run through ctest)", env);
    snprintf(out, n, "%s/%s", dir, name);
}

/* Spawn `binary` with the socket at fd 3 and the standard service flags plus `extra` (NULL-ended). */
static void fs_spawn(fake_sup *f, const char *binary, const char *kind, const char *const *extra)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    snprintf(f->spool, sizeof f->spool, "/tmp/ovrt-spool-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->spool));
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(sv[0]);
        if (sv[1] != 3) {
            dup2(sv[1], 3);
            close(sv[1]);
        }
        const char *argv[32];
        int a = 0;
        argv[a++] = binary;
        argv[a++] = "--worker";
        argv[a++] = "--name";
        argv[a++] = "t.0";
        if (kind) {
            argv[a++] = "--kind";
            argv[a++] = kind;
        }
        argv[a++] = "--ipc-fd";
        argv[a++] = "3";
        argv[a++] = "--spool";
        argv[a++] = f->spool;
        argv[a++] = "--heartbeat-ms";
        argv[a++] = "100";
        for (int i = 0; extra && extra[i] && a < 30; i++)
            argv[a++] = extra[i];
        argv[a] = NULL;
        execv(binary, (char *const *)argv);
        _exit(127);
    }
    close(sv[1]);
    f->fd = sv[0];
    f->pid = pid;
    ov_frame_reader_init(&f->r, OV_IPC_FRAME_MAX);
}

/* Next message from the worker within timeout_ms: 0 and *m, or the read error. */
static int fs_recv(fake_sup *f, ov_msg *m, int timeout_ms)
{
    uint8_t *p = NULL;
    size_t len = 0;
    int rc = ov_frame_read_fd(f->fd, &f->r, timeout_ms, &p, &len);
    if (rc != 1)
        return rc;
    char err[256];
    rc = ov_msg_decode(p, len, m, err, sizeof err);
    free(p);
    ck_assert_msg(rc == 0, "worker sent an undecodable frame: %s", err);
    return 0;
}

/* Next message of `type`, skipping heartbeats (counted into *hb if not NULL), progress and accepts. */
static void fs_expect(fake_sup *f, int type, ov_msg *m, int timeout_ms, int *hb)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int left = (int)(deadline - now_ms());
        ck_assert_msg(left > 0, "no %s within %d ms", ov_msg_type_name(type), timeout_ms);
        int rc = fs_recv(f, m, left);
        ck_assert_msg(rc == 0, "waiting for %s: %s", ov_msg_type_name(type), ov_strerror(rc));
        if (m->type == type)
            return;
        if (m->type == OV_MSG_HEARTBEAT && hb)
            (*hb)++;
        ck_assert_msg(m->type == OV_MSG_HEARTBEAT || m->type == OV_MSG_PROGRESS || m->type == OV_MSG_ACCEPT,
                      "unexpected %s while waiting for %s", ov_msg_type_name(m->type),
                      ov_msg_type_name(type));
        ov_msg_free(m);
    }
}

static void fs_send(fake_sup *f, const ov_msg *m)
{
    ov_buf b;
    ov_buf_init(&b, OV_IPC_FRAME_MAX + 4);
    ck_assert_int_eq(ov_msg_encode(m, &b), 0);
    ck_assert_int_eq(ov_fd_write_all(f->fd, b.data, b.len), 0);
    ov_buf_free(&b);
}

static void fs_send_job(fake_sup *f, const char *id, const char *params)
{
    ov_msg m;
    ov_msg_init(&m, OV_MSG_JOB);
    m.u.job.job_id = strdup(id);
    m.u.job.task = strdup("t2i");
    /* params: "k=v k=v": ints when numeric, "true"/"false" bools, else strings */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", params ? params : "");
    char *save = NULL;
    for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        ck_assert_ptr_nonnull(eq);
        *eq = '\0';
        char *end;
        long long v = strtoll(eq + 1, &end, 10);
        if (*end == '\0')
            ov_kvlist_set_int(&m.u.job.params, tok, v);
        else if (!strcmp(eq + 1, "true") || !strcmp(eq + 1, "false"))
            ov_kvlist_set_bool(&m.u.job.params, tok, !strcmp(eq + 1, "true"));
        else
            ov_kvlist_set_str(&m.u.job.params, tok, eq + 1);
    }
    fs_send(f, &m);
    ov_msg_free(&m);
}

/* Wait for the child to exit; returns its exit code (or 128+signal). */
static int fs_wait_exit(fake_sup *f, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    int st;
    for (;;) {
        pid_t r = waitpid(f->pid, &st, WNOHANG);
        if (r == f->pid)
            break;
        if (now_ms() > deadline) {
            kill(f->pid, SIGKILL);
            waitpid(f->pid, &st, 0);
            ck_abort_msg("worker did not exit within %d ms", timeout_ms);
        }
        usleep(10000);
    }
    f->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void fs_close(fake_sup *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
    }
    if (f->fd >= 0)
        close(f->fd);
    ov_frame_reader_free(&f->r);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->spool);
    ck_assert_int_eq(system(cmd), 0);
}

/* Spawn the test worker and take it to ready. */
static void start_ready(fake_sup *f, const char *const *extra)
{
    char tw[PATH_MAX];
    bin_path(tw, sizeof tw, "OURVIDZ_TEST_BIN_DIR", "ourvidz-testworker");
    fs_spawn(f, tw, "test", extra);
    ov_msg m;
    fs_expect(f, OV_MSG_HELLO, &m, 5000, NULL);
    ck_assert_str_eq(m.u.hello.kind, "test");
    ck_assert_str_eq(m.u.hello.name, "t.0");
    ck_assert_int_eq(m.u.hello.pid, f->pid);
    ck_assert_int_eq(m.u.hello.protocol, OV_IPC_PROTOCOL_VERSION);
    ov_msg_free(&m);
    fs_expect(f, OV_MSG_READY, &m, 5000, NULL);
    ck_assert_str_eq(m.u.ready.model, "test-engine:none");
    ov_msg_free(&m);
}

START_TEST(job_accept_progress_result_with_output_file)
{
    fake_sup f;
    start_ready(&f, NULL);
    fs_send_job(&f, "job-1", "steps=5 sleep_ms=50");
    ov_msg m;
    ck_assert_int_eq(fs_recv(&f, &m, 2000), 0);
    while (m.type == OV_MSG_HEARTBEAT) {
        ov_msg_free(&m);
        ck_assert_int_eq(fs_recv(&f, &m, 2000), 0);
    }
    ck_assert_int_eq(m.type, OV_MSG_ACCEPT); /* the acknowledgement comes first */
    ck_assert_str_eq(m.u.accept.job_id, "job-1");
    ov_msg_free(&m);
    int64_t last = 0;
    for (;;) {
        ck_assert_int_eq(fs_recv(&f, &m, 3000), 0);
        if (m.type == OV_MSG_HEARTBEAT) {
            ov_msg_free(&m);
            continue;
        }
        if (m.type != OV_MSG_PROGRESS)
            break;
        ck_assert_str_eq(m.u.progress.job_id, "job-1");
        ck_assert_str_eq(m.u.progress.phase, "denoise");
        ck_assert_int_eq(m.u.progress.step, last + 1);
        ck_assert_int_eq(m.u.progress.total, 5);
        last = m.u.progress.step;
        ov_msg_free(&m);
    }
    ck_assert_int_eq(last, 5);
    ck_assert_int_eq(m.type, OV_MSG_RESULT);
    ck_assert_str_eq(m.u.result.job_id, "job-1");
    ck_assert_int_eq(m.u.result.noutputs, 1);
    char want[400];
    snprintf(want, sizeof want, "%s/job-1/out.txt", f.spool);
    ck_assert_str_eq(m.u.result.outputs[0].path, want);
    ck_assert_str_eq(m.u.result.outputs[0].mime, "text/plain");
    int64_t seed = 0;
    ck_assert_int_eq(ov_kvlist_get_int(&m.u.result.meta, "seed", &seed), 0);
    ck_assert_int_eq(seed, 42);
    FILE *fp = fopen(want, "r");
    ck_assert_ptr_nonnull(fp);
    char line[64] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, fp));
    fclose(fp);
    ck_assert_str_eq(line, "job-1 t2i\n");
    struct stat st;
    snprintf(want, sizeof want, "%s/job-1", f.spool);
    ck_assert_int_eq(stat(want, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    ov_msg_free(&m);
    fs_close(&f);
}
END_TEST

START_TEST(heartbeats_flow_while_the_job_blocks)
{
    fake_sup f;
    start_ready(&f, NULL);
    fs_send_job(&f, "block", "block_ms=3000 steps=1");
    int64_t t0 = now_ms(), last_seq = 0;
    int hb = 0, busy = 0;
    ov_msg m;
    for (;;) {
        ck_assert_int_eq(fs_recv(&f, &m, 5000), 0);
        if (m.type == OV_MSG_RESULT)
            break;
        if (m.type == OV_MSG_HEARTBEAT) {
            hb++;
            ck_assert_int_gt(m.u.heartbeat.seq, last_seq); /* strictly increasing */
            last_seq = m.u.heartbeat.seq;
            if (!strcmp(m.u.heartbeat.state, "busy"))
                busy++;
        } else {
            ck_assert_msg(m.type == OV_MSG_ACCEPT || m.type == OV_MSG_PROGRESS, "unexpected %s",
                          ov_msg_type_name(m.type));
        }
        ov_msg_free(&m);
    }
    ck_assert_str_eq(m.u.result.job_id, "block");
    ov_msg_free(&m);
    ck_assert_int_ge(now_ms() - t0, 2900);
    /* 100 ms interval over 3 s of a job that never calls progress: ~30 */
    ck_assert_int_ge(hb, 20);
    ck_assert_int_ge(busy, 20);
    fs_close(&f);
}
END_TEST

START_TEST(heartbeats_say_loading_during_a_long_load)
{
    setenv("OV_TEST_LOAD_MS", "1000", 1);
    char tw[PATH_MAX];
    bin_path(tw, sizeof tw, "OURVIDZ_TEST_BIN_DIR", "ourvidz-testworker");
    fake_sup f;
    fs_spawn(&f, tw, "test", NULL);
    ov_msg m;
    fs_expect(&f, OV_MSG_HELLO, &m, 3000, NULL); /* hello first, before the load */
    ov_msg_free(&m);
    int loading = 0;
    for (;;) {
        ck_assert_int_eq(fs_recv(&f, &m, 3000), 0);
        if (m.type == OV_MSG_READY)
            break;
        ck_assert_int_eq(m.type, OV_MSG_HEARTBEAT);
        ck_assert_str_eq(m.u.heartbeat.state, "loading");
        loading++;
        ov_msg_free(&m);
    }
    ck_assert_int_ge(m.u.ready.load_ms, 1000);
    ck_assert_int_lt(m.u.ready.load_ms, 2000);
    ov_msg_free(&m);
    ck_assert_int_ge(loading, 7);
    fs_close(&f);
}
END_TEST

START_TEST(sigterm_while_busy_finishes_the_job_then_exits_0)
{
    fake_sup f;
    start_ready(&f, NULL);
    fs_send_job(&f, "term", "steps=4 sleep_ms=800");
    ov_msg m;
    fs_expect(&f, OV_MSG_ACCEPT, &m, 2000, NULL);
    ov_msg_free(&m);
    ck_assert_int_eq(kill(f.pid, SIGTERM), 0);
    fs_expect(&f, OV_MSG_RESULT, &m, 5000, NULL);
    ck_assert_str_eq(m.u.result.job_id, "term");
    ov_msg_free(&m);
    ck_assert_int_eq(fs_wait_exit(&f, 3000), 0);
    fs_close(&f);
}
END_TEST

START_TEST(sigterm_deadline_cancels_a_long_job_then_exits_0)
{
    fake_sup f;
    const char *const extra[] = {"--term-deadline-ms", "300", NULL};
    start_ready(&f, extra);
    fs_send_job(&f, "slowterm", "steps=100 sleep_ms=20000");
    ov_msg m;
    fs_expect(&f, OV_MSG_ACCEPT, &m, 2000, NULL);
    ov_msg_free(&m);
    int64_t t0 = now_ms();
    ck_assert_int_eq(kill(f.pid, SIGTERM), 0);
    fs_expect(&f, OV_MSG_ERROR, &m, 3000, NULL);
    ck_assert_str_eq(m.u.error.job_id, "slowterm");
    ck_assert_int_eq(m.u.error.code, OV_ECANCELED);
    ov_msg_free(&m);
    ck_assert_int_ge(now_ms() - t0, 250);  /* the job had its deadline ... */
    ck_assert_int_lt(now_ms() - t0, 1500); /* ... and no more */
    ck_assert_int_eq(fs_wait_exit(&f, 3000), 0);
    fs_close(&f);
}
END_TEST

START_TEST(sigterm_while_idle_exits_0)
{
    fake_sup f;
    start_ready(&f, NULL);
    int64_t t0 = now_ms();
    ck_assert_int_eq(kill(f.pid, SIGTERM), 0);
    ck_assert_int_eq(fs_wait_exit(&f, 2000), 0);
    ck_assert_int_lt(now_ms() - t0, 1000);
    fs_close(&f);
}
END_TEST

START_TEST(busy_worker_refuses_a_second_job_and_cancel_stops_the_first)
{
    fake_sup f;
    start_ready(&f, NULL);
    fs_send_job(&f, "long", "steps=100 sleep_ms=10000");
    ov_msg m;
    fs_expect(&f, OV_MSG_ACCEPT, &m, 2000, NULL);
    ov_msg_free(&m);
    fs_send_job(&f, "second", "");
    fs_expect(&f, OV_MSG_ERROR, &m, 2000, NULL);
    ck_assert_str_eq(m.u.error.job_id, "second");
    ck_assert_int_eq(m.u.error.code, OV_EBUSY);
    ck_assert(m.u.error.retriable);
    ov_msg_free(&m);
    ov_msg c;
    ov_msg_init(&c, OV_MSG_CANCEL);
    c.u.cancel.job_id = "long";
    int64_t t0 = now_ms();
    fs_send(&f, &c);
    fs_expect(&f, OV_MSG_ERROR, &m, 2000, NULL);
    ck_assert_int_lt(now_ms() - t0, 1000);
    ck_assert_str_eq(m.u.error.job_id, "long");
    ck_assert_int_eq(m.u.error.code, OV_ECANCELED);
    ov_msg_free(&m);
    /* still serving */
    fs_send_job(&f, "after", "");
    fs_expect(&f, OV_MSG_RESULT, &m, 2000, NULL);
    ck_assert_str_eq(m.u.result.job_id, "after");
    ov_msg_free(&m);
    fs_close(&f);
}
END_TEST

START_TEST(failures_report_retriable_flag_and_three_in_a_row_exit_75)
{
    fake_sup f;
    const char *const extra[] = {"--max-failures", "3", NULL};
    start_ready(&f, extra);
    ov_msg m;
    fs_send_job(&f, "f1", "fail=retriable");
    fs_expect(&f, OV_MSG_ERROR, &m, 2000, NULL);
    ck_assert_int_eq(m.u.error.code, OV_EIO);
    ck_assert(m.u.error.retriable);
    ck_assert_str_eq(m.u.error.message, "test: requested retriable failure");
    ov_msg_free(&m);
    fs_send_job(&f, "f2", "fail=fatal");
    fs_expect(&f, OV_MSG_ERROR, &m, 2000, NULL);
    ck_assert(!m.u.error.retriable);
    ov_msg_free(&m);
    fs_send_job(&f, "f3", "fail=fatal");
    fs_expect(&f, OV_MSG_ERROR, &m, 2000, NULL);
    ov_msg_free(&m);
    ck_assert_int_eq(fs_wait_exit(&f, 3000), OV_EXIT_UNHEALTHY);
    fs_close(&f);
}
END_TEST

START_TEST(a_success_resets_the_failure_count)
{
    fake_sup f;
    const char *const extra[] = {"--max-failures", "2", NULL};
    start_ready(&f, extra);
    ov_msg m;
    const char *seq[] = {"fail=fatal", "", "fail=fatal", "", "fail=fatal"};
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "j%d", i);
        fs_send_job(&f, id, seq[i]);
        fs_expect(&f, seq[i][0] ? OV_MSG_ERROR : OV_MSG_RESULT, &m, 2000, NULL);
        ov_msg_free(&m);
    }
    ck_assert_int_eq(kill(f.pid, 0), 0); /* never two failures in a row: still alive */
    fs_close(&f);
}
END_TEST

START_TEST(sticky_gpu_error_exits_75)
{
    fake_sup f;
    start_ready(&f, NULL);
    ov_msg m;
    fs_send_job(&f, "g", "gpu_error=true");
    fs_expect(&f, OV_MSG_ERROR, &m, 2000, NULL);
    ck_assert_int_eq(m.u.error.code, OV_EGPU);
    ov_msg_free(&m);
    ck_assert_int_eq(fs_wait_exit(&f, 3000), OV_EXIT_UNHEALTHY);
    fs_close(&f);
}
END_TEST

START_TEST(load_config_error_is_reported_and_exits_78)
{
    setenv("OV_TEST_LOAD_FAIL", "config", 1);
    char tw[PATH_MAX];
    bin_path(tw, sizeof tw, "OURVIDZ_TEST_BIN_DIR", "ourvidz-testworker");
    fake_sup f;
    fs_spawn(&f, tw, "test", NULL);
    ov_msg m;
    fs_expect(&f, OV_MSG_HELLO, &m, 3000, NULL);
    ov_msg_free(&m);
    fs_expect(&f, OV_MSG_ERROR, &m, 3000, NULL);
    ck_assert_str_eq(m.u.error.job_id, "");
    ck_assert_int_eq(m.u.error.code, OV_ECONFIG);
    ck_assert(!m.u.error.retriable);
    ck_assert_ptr_nonnull(strstr(m.u.error.message, "model file (none) is missing"));
    ov_msg_free(&m);
    ck_assert_int_eq(fs_wait_exit(&f, 3000), OV_EXIT_NO_RESPAWN);
    fs_close(&f);
}
END_TEST

START_TEST(product_workers_refuse_to_start_with_78)
{
    /* sdxl and qwen are built: without their model they refuse with OV_ENOENT (their own suites,
     * test_sdxl_worker and test_qwen_worker, cover the rest); wan is not built yet. */
    static const char *const kinds[] = {"wan", "sdxl", "qwen"};
    static const char *const needle[] = {"WAN 2.1 pipeline is not built",
                                         "SDXL model /nonexistent/sdxl is missing",
                                         "Qwen model /nonexistent/qwen is missing"};
    static const char *const sdxl_extra[] = {"--model", "/nonexistent/sdxl", NULL};
    static const char *const qwen_extra[] = {"--model", "/nonexistent/qwen", NULL};
    for (int i = 0; i < 3; i++) {
        char bin[PATH_MAX], name[32];
        snprintf(name, sizeof name, "ourvidz-%s", kinds[i]);
        bin_path(bin, sizeof bin, "OURVIDZ_BIN_DIR", name);
        fake_sup f;
        fs_spawn(&f, bin, kinds[i], i == 2 ? qwen_extra : i == 1 ? sdxl_extra : NULL);
        ov_msg m;
        fs_expect(&f, OV_MSG_HELLO, &m, 3000, NULL);
        ck_assert_str_eq(m.u.hello.kind, kinds[i]);
        ov_msg_free(&m);
        fs_expect(&f, OV_MSG_ERROR, &m, 3000, NULL);
        ck_assert_int_eq(m.u.error.code, i ? OV_ENOENT : OV_EUNSUPP);
        ck_assert_msg(strstr(m.u.error.message, needle[i]) != NULL, "message: %s", m.u.error.message);
        ov_msg_free(&m);
        ck_assert_int_eq(fs_wait_exit(&f, 3000), OV_EXIT_NO_RESPAWN);
        fs_close(&f);
    }
}
END_TEST

START_TEST(shutdown_while_busy_finishes_the_job_then_exits_0)
{
    fake_sup f;
    start_ready(&f, NULL);
    fs_send_job(&f, "fin", "steps=4 sleep_ms=800");
    ov_msg m;
    fs_expect(&f, OV_MSG_ACCEPT, &m, 2000, NULL);
    ov_msg_free(&m);
    ov_msg s;
    ov_msg_init(&s, OV_MSG_SHUTDOWN);
    s.u.shutdown.deadline_ms = 10000;
    fs_send(&f, &s);
    fs_expect(&f, OV_MSG_RESULT, &m, 5000, NULL);
    ck_assert_str_eq(m.u.result.job_id, "fin");
    ov_msg_free(&m);
    ck_assert_int_eq(fs_wait_exit(&f, 3000), 0);
    fs_close(&f);
}
END_TEST

START_TEST(shutdown_deadline_cancels_a_long_job)
{
    fake_sup f;
    start_ready(&f, NULL);
    fs_send_job(&f, "slow", "steps=100 sleep_ms=20000");
    ov_msg m;
    fs_expect(&f, OV_MSG_ACCEPT, &m, 2000, NULL);
    ov_msg_free(&m);
    ov_msg s;
    ov_msg_init(&s, OV_MSG_SHUTDOWN);
    s.u.shutdown.deadline_ms = 300;
    fs_send(&f, &s);
    fs_expect(&f, OV_MSG_ERROR, &m, 3000, NULL);
    ck_assert_int_eq(m.u.error.code, OV_ECANCELED);
    ov_msg_free(&m);
    ck_assert_int_eq(fs_wait_exit(&f, 3000), 0);
    fs_close(&f);
}
END_TEST

START_TEST(supervisor_gone_makes_the_worker_exit_promptly)
{
    fake_sup f;
    start_ready(&f, NULL);
    fs_send_job(&f, "orphan", "steps=100 sleep_ms=20000");
    ov_msg m;
    fs_expect(&f, OV_MSG_ACCEPT, &m, 2000, NULL);
    ov_msg_free(&m);
    int64_t t0 = now_ms();
    close(f.fd);
    f.fd = -1;
    ck_assert_int_eq(fs_wait_exit(&f, 2000), OV_EXIT_FAILURE);
    ck_assert_int_lt(now_ms() - t0, 2000);
    fs_close(&f);
}
END_TEST

START_TEST(garbage_and_oversized_frames_end_the_worker_cleanly)
{
    for (int variant = 0; variant < 2; variant++) {
        fake_sup f;
        start_ready(&f, NULL);
        if (variant == 0) {
            const uint8_t junk[] = {0, 0, 0, 5, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1};
            ck_assert_int_eq(ov_fd_write_all(f.fd, junk, sizeof junk), 0);
        } else {
            const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff};
            ck_assert_int_eq(ov_fd_write_all(f.fd, huge, sizeof huge), 0);
        }
        ck_assert_int_eq(fs_wait_exit(&f, 3000), OV_EXIT_FAILURE); /* an exit code, not a signal */
        fs_close(&f);
    }
}
END_TEST

START_TEST(unsafe_job_ids_are_refused)
{
    fake_sup f;
    start_ready(&f, NULL);
    static const char *const bad[] = {"../etc", "a/b", "..", "x y"};
    for (int i = 0; i < 4; i++) {
        ov_msg m;
        fs_send_job(&f, bad[i], "");
        fs_expect(&f, OV_MSG_ERROR, &m, 2000, NULL);
        ck_assert_str_eq(m.u.error.job_id, bad[i]);
        ck_assert_int_eq(m.u.error.code, OV_EINVAL);
        ck_assert(!m.u.error.retriable);
        ov_msg_free(&m);
    }
    fs_close(&f);
}
END_TEST

START_TEST(outputs_outside_the_job_spool_dir_are_refused)
{
    fake_sup f;
    const char *const extra[] = {"--max-failures", "10", NULL};
    start_ready(&f, extra);
    static const char *const bad[] = {"output_name=..", "output_name=x/../..",
                                      "output_name=../other/out.txt"};
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "esc%d", i);
        ov_msg m;
        fs_send_job(&f, id, bad[i]);
        fs_expect(&f, OV_MSG_ERROR, &m, 2000, NULL);
        ck_assert_str_eq(m.u.error.job_id, id);
        ck_assert_int_eq(m.u.error.code, OV_EINVAL);
        ov_msg_free(&m);
    }
    ov_msg m;
    fs_send_job(&f, "dots", "output_name=a..b"); /* dots inside a name are fine */
    fs_expect(&f, OV_MSG_RESULT, &m, 2000, NULL);
    ck_assert_int_eq(m.u.result.noutputs, 1);
    ov_msg_free(&m);
    fs_close(&f);
}
END_TEST

START_TEST(unit_mode_connects_to_the_socket_and_says_hello)
{
    char dir[] = "/tmp/ovrt-unit-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%.40s/workers.sock", dir);
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(ls, 4), 0);

    char tw[PATH_MAX];
    bin_path(tw, sizeof tw, "OURVIDZ_TEST_BIN_DIR", "ourvidz-testworker");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl(tw, tw, "--worker", "--kind", "sdxl", "--name", "sdxl.1", "--socket", path, "--spool", dir,
              NULL);
        _exit(127);
    }
    int fd = accept(ls, NULL, NULL);
    ck_assert_int_ge(fd, 0);
    fake_sup f = {.fd = fd, .pid = pid};
    snprintf(f.spool, sizeof f.spool, "%s", dir);
    ov_frame_reader_init(&f.r, OV_IPC_FRAME_MAX);
    ov_msg m;
    fs_expect(&f, OV_MSG_HELLO, &m, 3000, NULL);
    ck_assert_str_eq(m.u.hello.kind, "sdxl");
    ck_assert_str_eq(m.u.hello.name, "sdxl.1");
    ov_msg_free(&m);
    fs_expect(&f, OV_MSG_READY, &m, 3000, NULL);
    ov_msg_free(&m);
    close(ls);
    fs_close(&f);
}
END_TEST

START_TEST(config_file_supplies_model_budget_and_failures_and_flags_override_it)
{
    char dir[] = "/tmp/ovrt-conf-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char conf[128];
    snprintf(conf, sizeof conf, "%s/ourvidz.conf", dir);
    FILE *fp = fopen(conf, "w");
    ck_assert_ptr_nonnull(fp);
    fprintf(fp,
            "[supervisor]\nruntime_dir = %s\n[worker.sdxl]\nmodel = /models/sdxl.safetensors\n"
            "vram_budget = 6G\nmax_consecutive_failures = 2\n",
            dir);
    fclose(fp);
    char tw[PATH_MAX];
    bin_path(tw, sizeof tw, "OURVIDZ_TEST_BIN_DIR", "ourvidz-testworker");
    ov_msg m;

    fake_sup f;
    const char *const from_file[] = {"--config", conf, NULL};
    fs_spawn(&f, tw, "sdxl", from_file);
    fs_expect(&f, OV_MSG_HELLO, &m, 3000, NULL);
    ck_assert_str_eq(m.u.hello.model, "/models/sdxl.safetensors");
    ck_assert_int_eq(m.u.hello.vram_budget_bytes, 6LL << 30);
    ov_msg_free(&m);
    fs_expect(&f, OV_MSG_READY, &m, 3000, NULL);
    ck_assert_str_eq(m.u.ready.model, "test-engine:/models/sdxl.safetensors");
    ov_msg_free(&m);
    for (int i = 0; i < 2; i++) { /* max_consecutive_failures = 2 from the file */
        fs_send_job(&f, i ? "c2" : "c1", "fail=fatal");
        fs_expect(&f, OV_MSG_ERROR, &m, 2000, NULL);
        ov_msg_free(&m);
    }
    ck_assert_int_eq(fs_wait_exit(&f, 3000), OV_EXIT_UNHEALTHY);
    fs_close(&f);

    const char *const flags[] = {"--config", conf, "--model", "/other", "--vram-budget", "123", NULL};
    fs_spawn(&f, tw, "sdxl", flags);
    fs_expect(&f, OV_MSG_HELLO, &m, 3000, NULL);
    ck_assert_str_eq(m.u.hello.model, "/other");
    ck_assert_int_eq(m.u.hello.vram_budget_bytes, 123);
    ov_msg_free(&m);
    fs_close(&f);

    /* a broken config file: refused with 78 */
    fp = fopen(conf, "w");
    ck_assert_ptr_nonnull(fp);
    fprintf(fp, "[worker.sdxl]\nbogus_key = 1\n");
    fclose(fp);
    char cmd[PATH_MAX + 256];
    snprintf(cmd, sizeof cmd, "%s --worker --kind sdxl --ipc-fd 0 --config %s 2>/dev/null </dev/null", tw,
             conf);
    int st = system(cmd);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), OV_EXIT_NO_RESPAWN);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(unit_mode_retries_until_the_socket_appears)
{
    char dir[] = "/tmp/ovrt-unit-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%.40s/workers.sock", dir);
    char tw[PATH_MAX];
    bin_path(tw, sizeof tw, "OURVIDZ_TEST_BIN_DIR", "ourvidz-testworker");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl(tw, tw, "--worker", "--kind", "qwen", "--name", "qwen.0", "--socket", path, "--spool", dir,
              "--connect-timeout-ms", "10000", NULL);
        _exit(127);
    }
    usleep(600 * 1000); /* the worker starts before the supervisor */
    ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(ls, 4), 0);
    int64_t t0 = now_ms();
    int fd = accept(ls, NULL, NULL); /* backoff caps at 1 s */
    ck_assert_int_ge(fd, 0);
    ck_assert_int_lt(now_ms() - t0, 1500);
    fake_sup f = {.fd = fd, .pid = pid};
    snprintf(f.spool, sizeof f.spool, "%s", dir);
    ov_frame_reader_init(&f.r, OV_IPC_FRAME_MAX);
    ov_msg m;
    fs_expect(&f, OV_MSG_HELLO, &m, 3000, NULL);
    ck_assert_str_eq(m.u.hello.name, "qwen.0");
    ov_msg_free(&m);
    close(ls);
    fs_close(&f);
}
END_TEST

START_TEST(unit_mode_gives_up_at_the_connect_deadline)
{
    char tw[PATH_MAX];
    bin_path(tw, sizeof tw, "OURVIDZ_TEST_BIN_DIR", "ourvidz-testworker");
    char cmd[PATH_MAX + 200];
    snprintf(cmd, sizeof cmd,
             "%s --worker --kind test --socket /tmp/ovrt-no-such-dir/workers.sock --spool /tmp "
             "--connect-timeout-ms 300 2>/dev/null",
             tw);
    int64_t t0 = now_ms();
    int st = system(cmd);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), OV_EXIT_FAILURE);
    ck_assert_int_lt(now_ms() - t0, 1500);
}
END_TEST

START_TEST(test_worker_start_knobs)
{
    char tw[PATH_MAX];
    bin_path(tw, sizeof tw, "OURVIDZ_TEST_BIN_DIR", "ourvidz-testworker");
    fake_sup f;
    /* exit before hello */
    setenv("OV_TEST_EXIT_AT_START", "78", 1);
    fs_spawn(&f, tw, "test", NULL);
    ck_assert_int_eq(fs_wait_exit(&f, 3000), 78);
    ov_msg m;
    ck_assert_int_eq(fs_recv(&f, &m, 500), OV_ECLOSED); /* nothing was said */
    fs_close(&f);
    unsetenv("OV_TEST_EXIT_AT_START");
    /* load crash: hello, then SIGABRT */
    setenv("OV_TEST_LOAD_FAIL", "crash", 1);
    fs_spawn(&f, tw, "test", NULL);
    fs_expect(&f, OV_MSG_HELLO, &m, 3000, NULL);
    ov_msg_free(&m);
    ck_assert_int_eq(fs_wait_exit(&f, 3000), 128 + SIGABRT);
    fs_close(&f);
    unsetenv("OV_TEST_LOAD_FAIL");
    /* crash mid-job: accept, some progress, then SIGABRT */
    start_ready(&f, NULL);
    fs_send_job(&f, "boom", "crash=true steps=4");
    fs_expect(&f, OV_MSG_ACCEPT, &m, 2000, NULL);
    ov_msg_free(&m);
    ck_assert_int_eq(fs_wait_exit(&f, 3000), 128 + SIGABRT);
    fs_close(&f);
}
END_TEST

START_TEST(bad_flags_exit_78_with_a_message)
{
    char tw[PATH_MAX];
    bin_path(tw, sizeof tw, "OURVIDZ_TEST_BIN_DIR", "ourvidz-testworker");
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "%s --worker --kind test --bogus 2>/dev/null", tw);
    int st = system(cmd);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), OV_EXIT_NO_RESPAWN);
    char bin[PATH_MAX];
    bin_path(bin, sizeof bin, "OURVIDZ_BIN_DIR", "ourvidz-wan");
    snprintf(cmd, sizeof cmd, "%s --worker --kind sdxl --ipc-fd 3 2>/dev/null", bin);
    st = system(cmd);
    ck_assert_int_eq(WEXITSTATUS(st), OV_EXIT_NO_RESPAWN); /* a wan binary asked to be sdxl */
    snprintf(cmd, sizeof cmd, "%s --worker --kind test --ipc-fd 9 2>/dev/null", tw);
    st = system(cmd);
    ck_assert_int_eq(WEXITSTATUS(st), OV_EXIT_NO_RESPAWN); /* fd 9 is not an open socket */
    snprintf(cmd, sizeof cmd, "%s --worker --kind test --name ../up --ipc-fd 0 2>/dev/null", tw);
    st = system(cmd);
    ck_assert_int_eq(WEXITSTATUS(st), OV_EXIT_NO_RESPAWN); /* a name that would escape the spool */
    snprintf(cmd, sizeof cmd, "%s --worker --kind test --heartbeat-ms soon --ipc-fd 0 2>/dev/null", tw);
    st = system(cmd);
    ck_assert_int_eq(WEXITSTATUS(st), OV_EXIT_NO_RESPAWN);
    /* product binaries outside service mode: no one-shot mode yet, a clear refusal (sdxl and qwen
     * have their one-shot CLIs: test_sdxl_worker, test_qwen_worker) */
    static const char *const kinds[] = {"wan"};
    for (int i = 0; i < 1; i++) {
        char name[32];
        snprintf(name, sizeof name, "ourvidz-%s", kinds[i]);
        bin_path(bin, sizeof bin, "OURVIDZ_BIN_DIR", name);
        snprintf(cmd, sizeof cmd, "%s 2>&1 | grep -q 'is not built in this version'", bin);
        ck_assert_int_eq(system(cmd), 0);
        snprintf(cmd, sizeof cmd, "%s --prompt x 2>/dev/null", bin);
        st = system(cmd);
        ck_assert_int_eq(WEXITSTATUS(st), OV_EXIT_NO_RESPAWN);
        snprintf(cmd, sizeof cmd, "%s --version | grep -q '^%s '", bin, name);
        ck_assert_int_eq(system(cmd), 0);
    }
}
END_TEST

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("worker_runtime");
    TCase *tc = tcase_create("runtime");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, job_accept_progress_result_with_output_file);
    tcase_add_test(tc, heartbeats_flow_while_the_job_blocks);
    tcase_add_test(tc, heartbeats_say_loading_during_a_long_load);
    tcase_add_test(tc, sigterm_while_busy_finishes_the_job_then_exits_0);
    tcase_add_test(tc, sigterm_deadline_cancels_a_long_job_then_exits_0);
    tcase_add_test(tc, sigterm_while_idle_exits_0);
    tcase_add_test(tc, busy_worker_refuses_a_second_job_and_cancel_stops_the_first);
    tcase_add_test(tc, failures_report_retriable_flag_and_three_in_a_row_exit_75);
    tcase_add_test(tc, a_success_resets_the_failure_count);
    tcase_add_test(tc, sticky_gpu_error_exits_75);
    tcase_add_test(tc, load_config_error_is_reported_and_exits_78);
    tcase_add_test(tc, product_workers_refuse_to_start_with_78);
    tcase_add_test(tc, shutdown_while_busy_finishes_the_job_then_exits_0);
    tcase_add_test(tc, shutdown_deadline_cancels_a_long_job);
    tcase_add_test(tc, supervisor_gone_makes_the_worker_exit_promptly);
    tcase_add_test(tc, garbage_and_oversized_frames_end_the_worker_cleanly);
    tcase_add_test(tc, unsafe_job_ids_are_refused);
    tcase_add_test(tc, outputs_outside_the_job_spool_dir_are_refused);
    tcase_add_test(tc, unit_mode_connects_to_the_socket_and_says_hello);
    tcase_add_test(tc, config_file_supplies_model_budget_and_failures_and_flags_override_it);
    tcase_add_test(tc, unit_mode_retries_until_the_socket_appears);
    tcase_add_test(tc, unit_mode_gives_up_at_the_connect_deadline);
    tcase_add_test(tc, test_worker_start_knobs);
    tcase_add_test(tc, bad_flags_exit_78_with_a_message);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
