/* Benchmark: supervisor dispatch -> ACCEPT round trip, supervisor CPU per job and RSS, with three
 * test workers in spawn mode. Usage: bench_dispatch [--jobs N] [--supervisor PATH] [--worker PATH]. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"

static char run_dir[80];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One command on status.sock; malloc'd reply or NULL. */
static char *cmd(const char *line)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/status.sock", run_dir);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return NULL;
    }
    char msg[1024];
    int n = snprintf(msg, sizeof msg, "%s\n", line);
    if (write(fd, msg, (size_t)n) != n) {
        close(fd);
        return NULL;
    }
    ov_buf b;
    ov_buf_init(&b, 16u << 20);
    ov_buf_puts(&b, "");
    char buf[65536];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            break;
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0)
            break;
        ov_buf_append(&b, buf, (size_t)r);
    }
    close(fd);
    char *s = strdup(b.data);
    ov_buf_free(&b);
    return s;
}

static json_t *cmd_json(const char *line)
{
    char *r = cmd(line);
    if (!r)
        return NULL;
    json_t *j = json_loads(r, 0, NULL);
    free(r);
    return j;
}

static int count_ready(void)
{
    json_t *j = cmd_json("status json");
    if (!j)
        return -1;
    int n = 0;
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(j, "workers"), i, w)
    {
        n += strcmp(json_string_value(json_object_get(w, "state")), "ready") == 0;
    }
    json_decref(j);
    return n;
}

static int64_t jobs_counter(const char *name)
{
    json_t *j = cmd_json("status json");
    if (!j)
        return -1;
    int64_t v = json_integer_value(json_object_get(json_object_get(j, "jobs"), name));
    json_decref(j);
    return v;
}

/* utime+stime of pid in seconds. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    /* fields after ')': state(3) ... utime(14) stime(15) */
    int field = 2;
    for (char *q = p + 1; *q && field < 15; q++) {
        if (*q == ' ') {
            field++;
            if (field == 14)
                ut = strtoull(q + 1, NULL, 10);
            else if (field == 15)
                st = strtoull(q + 1, NULL, 10);
        }
    }
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long proc_status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':')
            v = strtol(line + kl + 1, NULL, 10);
    fclose(f);
    return v;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int njobs = 3000;
    char sup_bin[600], worker_bin[600], self_dir[512];
    ssize_t sl = readlink("/proc/self/exe", self_dir, sizeof self_dir - 1);
    self_dir[sl > 0 ? sl : 0] = '\0';
    char *slash = strrchr(self_dir, '/');
    if (slash)
        *slash = '\0';
    snprintf(sup_bin, sizeof sup_bin, "%s/../bin/ourvidz-supervisor", self_dir);
    snprintf(worker_bin, sizeof worker_bin, "%s/../tests/ourvidz-testworker", self_dir);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc)
            njobs = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--supervisor") == 0 && i + 1 < argc)
            snprintf(sup_bin, sizeof sup_bin, "%s", argv[++i]);
        else if (strcmp(argv[i], "--worker") == 0 && i + 1 < argc)
            snprintf(worker_bin, sizeof worker_bin, "%s", argv[++i]);
        else {
            fprintf(stderr, "usage: bench_dispatch [--jobs N] [--supervisor PATH] [--worker PATH]\n");
            return 2;
        }
    }
    if (njobs < 1 || njobs > 100000)
        njobs = 3000;
    char dir[] = "/tmp/ovbench.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    char conf[300], logp[300];
    snprintf(conf, sizeof conf, "%s/bench.conf", dir);
    snprintf(logp, sizeof logp, "%s/sup.log", dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        return 1;
    /* log_level warn: one info line per job would dominate the supervisor's CPU. */
    fprintf(f,
            "[supervisor]\nruntime_dir = %s\nspawn_workers = true\nlog_level = warn\n"
            "[worker.wan]\nbinary = %s\n[worker.sdxl]\nbinary = %s\n[worker.qwen]\nbinary = %s\n",
            run_dir, worker_bin, worker_bin, worker_bin);
    fclose(f);

    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(sup_bin, sup_bin, "--config", conf, (char *)NULL);
        _exit(127);
    }
    double deadline = now_s() + 20;
    while (count_ready() != 3 && now_s() < deadline)
        sleep_ms(20);
    if (count_ready() != 3) {
        fprintf(stderr, "bench_dispatch: workers not ready (log: %s)\n", logp);
        kill(pid, SIGKILL);
        return 1;
    }
    long rss_idle = proc_status_kb(pid, "VmRSS");
    static const char *const kinds[3] = {"wan", "sdxl", "qwen"};
    char(*ids)[64] = calloc((size_t)njobs, 64);
    double cpu0 = proc_cpu_s(pid), t0 = now_s();
    for (int i = 0; i < njobs; i++) {
        char line[128];
        snprintf(line, sizeof line, "submit %s bench sleep_ms=0", kinds[i % 3]);
        char *r = cmd(line);
        if (!r || strncmp(r, "local-", 6) != 0) {
            fprintf(stderr, "bench_dispatch: submit failed: %s\n", r ? r : "(no reply)");
            kill(pid, SIGKILL);
            return 1;
        }
        snprintf(ids[i], 64, "%.*s", (int)strcspn(r, "\n"), r);
        free(r);
    }
    deadline = now_s() + 120;
    int64_t done = 0;
    while ((done = jobs_counter("completed")) < njobs && now_s() < deadline)
        sleep_ms(5);
    double t1 = now_s(), cpu1 = proc_cpu_s(pid);
    long rss_after = proc_status_kb(pid, "VmRSS"), hwm = proc_status_kb(pid, "VmHWM");
    if (done < njobs) {
        char *st = cmd("status");
        fprintf(stderr, "bench_dispatch: only %lld of %d jobs completed (log: %s)\n%s", (long long)done,
                njobs, logp, st ? st : "");
        free(st);
        kill(pid, SIGKILL);
        return 1;
    }
    int64_t failed = jobs_counter("failed");
    int64_t *lat = calloc((size_t)njobs, sizeof *lat);
    int nl = 0;
    for (int i = 0; i < njobs; i++) {
        char line[128];
        snprintf(line, sizeof line, "job %s", ids[i]);
        json_t *j = cmd_json(line);
        json_t *v = j ? json_object_get(j, "dispatch_ack_us") : NULL;
        if (v && json_is_integer(v))
            lat[nl++] = json_integer_value(v);
        json_decref(j);
    }
    qsort(lat, (size_t)nl, sizeof *lat, cmp_i64);
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    char rm[64];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    if (system(rm) != 0)
        fprintf(stderr, "bench_dispatch: could not remove %s\n", dir);

    double cpu_per_job_us = (cpu1 - cpu0) / njobs * 1e6;
    printf("bench_dispatch: %d jobs (sleep_ms=0) over 3 test workers, spawn mode, %ld CPUs\n", njobs,
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-44s %12s %12s\n", "metric", "value", "target");
    printf("%-44s %9.1f us %12s\n", "dispatch->ACCEPT round trip, median", nl ? (double)lat[nl / 2] : -1.0,
           "< 200 us");
    printf("%-44s %9.1f us %12s\n", "dispatch->ACCEPT round trip, p99",
           nl ? (double)lat[(int)((nl - 1) * 0.99)] : -1.0, "");
    printf("%-44s %9.1f us %12s\n", "dispatch->ACCEPT round trip, max", nl ? (double)lat[nl - 1] : -1.0, "");
    printf("%-44s %9.1f us %12s\n", "supervisor CPU per job (incl. submit I/O)", cpu_per_job_us, "< 1000 us");
    printf("%-44s %9.0f /s %12s\n", "end-to-end throughput (submit..completed)", njobs / (t1 - t0), "");
    printf("%-44s %9.1f MB %12s\n", "supervisor RSS, 3 workers, idle", rss_idle / 1024.0, "< 30 MB");
    printf("%-44s %9.1f MB %12s\n", "supervisor RSS after the run (peak)", rss_after / 1024.0, "");
    printf("%-44s %9.1f MB %12s\n", "supervisor VmHWM", hwm / 1024.0, "");
    printf("%-44s %12lld\n", "job failures reported by workers", (long long)failed);
    printf("%-44s %12d\n", "supervisor exit status after SIGTERM", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    free(lat);
    free(ids);
    return 0;
}
