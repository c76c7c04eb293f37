/* bench_queue: Redis enqueue -> worker ACCEPT latency (idle worker) and end-to-end jobs/s with
 * zero-work test workers, local storage and a local callback server. Run from the build dir:
 *   OURVIDZ_BIN_DIR=bin OURVIDZ_TEST_BIN_DIR=tests bench/bench_queue [samples] [jobs] */
#include <check.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/http_test_server.h"
#include "test_supervisor_util.h"

static pid_t redis_pid;
static char rdir[64] = "/tmp/ovqb.XXXXXX", rsock[128];

static void cleanup(void)
{
    if (redis_pid > 0)
        kill(redis_pid, SIGKILL);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void start_sup(tsup *t, ov_ts *ts, const char *sleep_ms)
{
    const char *tw = tsup_test_bin("ourvidz-testworker");
    char body[4096];
    snprintf(body, sizeof body,
             "spawn_workers = true\nlog_level = warn\n[worker.wan]\nbinary = %s\n[worker.sdxl]\nbinary = %s\n"
             "[worker.qwen]\nenabled = false\n[redis]\nurl = unix://%s\n[storage]\ndir = %s/store\n"
             "[callback]\nurl = %s/cb\n",
             tw, tw, rsock, rdir, ov_ts_url(ts));
    tsup_prepare(t, body);
    setenv("OV_TEST_JOB_SLEEP_MS", sleep_ms, 1);
    setenv("OV_TEST_OUTPUT_PNG", "1", 1);
    tsup_start(t, NULL);
    if (!tsup_wait_state(t, "sdxl.0", "ready", 10000) || !tsup_wait_state(t, "wan.0", "ready", 10000)) {
        fprintf(stderr, "workers not ready\n");
        exit(1);
    }
    tsup_sleep_ms(300); /* blocking pops armed */
}

static int samples = 50, jobs = 2000, bench_rc;
static int run_bench(void);

static void push(redisContext *c, int i, int sdxl, int append)
{
    char pl[400];
    snprintf(pl, sizeof pl,
             "{\"id\":\"b-%06d\",\"type\":\"%s\",\"prompt\":\"bench %d\",\"user_id\":\"user-1\","
             "\"config\":{\"num_images\":1}}",
             i, sdxl ? "sdxl_image_fast" : "image_fast", i);
    redisAppendCommand(c, "LPUSH %s %s", sdxl ? "sdxl_queue" : "wan_queue", pl);
    if (!append) {
        redisReply *r;
        redisGetReply(c, (void **)&r);
        freeReplyObject(r);
    }
}

static int run_bench(void)
{
    if (!mkdtemp(rdir))
        return 1;
    snprintf(rsock, sizeof rsock, "%s/r.sock", rdir);
    redis_pid = fork();
    if (redis_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", rsock, "--save", "", "--appendonly",
               "no", "--dir", rdir, (char *)NULL);
        _exit(127);
    }
    atexit(cleanup);
    tsup_sleep_ms(300);
    redisContext *c = redisConnectUnix(rsock);
    if (!c || c->err)
        return 1;
    ov_ts *ts;
    if (ov_ts_start(&ts) != 0)
        return 1;

    /* 1. Latency: one job at a time onto an idle sdxl worker; the job sleeps so it is still
     * running when we see its ACCEPT through the status socket ("dispatch_ack_us" set). */
    tsup t;
    start_sup(&t, ts, "150");
    int64_t *lat = calloc((size_t)samples, sizeof *lat);
    int n = 0;
    for (int i = 0; i < samples; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "job b-%06d", i);
        int64_t t0 = now_us();
        push(c, i, 1, 0);
        int64_t end = t0 + 2000000;
        while (now_us() < end) {
            char *r = tsup_cmd(&t, cmd);
            int ok = r && strstr(r, "\"dispatch_ack_us\":") && !strstr(r, "\"dispatch_ack_us\":null");
            free(r);
            if (ok) {
                lat[n++] = now_us() - t0;
                break;
            }
        }
        tsup_sleep_ms(250); /* idle again */
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
    tsup_kill_all(&t);

    /* 2. Throughput: zero-work jobs, half sdxl half wan, all pushed at once. */
    tsup t2;
    int base = ov_ts_count_ok(ts);
    start_sup(&t2, ts, "0");
    int64_t t0 = now_us();
    for (int i = 0; i < jobs; i++)
        push(c, 100000 + i, i % 2, 1);
    for (int i = 0; i < jobs; i++) {
        redisReply *r;
        redisGetReply(c, (void **)&r);
        freeReplyObject(r);
    }
    int64_t end = t0 + 120000000;
    while (ov_ts_count_ok(ts) - base < jobs && now_us() < end)
        tsup_sleep_ms(2);
    double secs = (double)(now_us() - t0) / 1e6;
    int got = ov_ts_count_ok(ts) - base;
    tsup_kill_all(&t2);

    printf("enqueue->ACCEPT (idle worker, %d samples): median %.2f ms, p90 %.2f ms, max %.2f ms\n", n,
           n ? lat[n / 2] / 1000.0 : -1, n ? lat[n * 9 / 10] / 1000.0 : -1, n ? lat[n - 1] / 1000.0 : -1);
    printf("end to end: %d/%d jobs (claim, parse, dispatch, local store, callback, ack) in %.2f s = %.0f jobs/s\n",
           got, jobs, secs, got / secs);
    free(lat);
    ov_ts_stop(ts);
    redisFree(c);
    return got == jobs ? 0 : 1;
}

/* Runs inside a Check test (no fork): the shared test helpers report through Check. */
START_TEST(bench)
{
    bench_rc = run_bench();
}
END_TEST

int main(int argc, char **argv)
{
    if (argc > 1)
        samples = (int)strtol(argv[1], NULL, 10);
    if (argc > 2)
        jobs = (int)strtol(argv[2], NULL, 10);
    Suite *s = suite_create("bench_queue");
    TCase *tc = tcase_create("bench");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, bench);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_SILENT);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed || bench_rc ? 1 : 0;
}
