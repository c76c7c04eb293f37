/* Supervisor test helpers: temp dirs, starting and stopping the daemon, status socket I/O, fake workers. */
#include "test_supervisor_util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "ipc/frame.h"

static tsup *cleanup_target;
pid_t fake_hello_pid;

int64_t tsup_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tsup_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static const char *in_dir(const char *env, const char *fallback, const char *name)
{
    static char buf[4][512];
    static int i;
    const char *d = getenv(env);
    char *out = buf[i++ % 4];
    snprintf(out, 512, "%s/%s", d && *d ? d : fallback, name);
    return out;
}

const char *tsup_bin(const char *name)
{
    return in_dir("OURVIDZ_BIN_DIR", "build/bin", name);
}

const char *tsup_test_bin(const char *name)
{
    return in_dir("OURVIDZ_TEST_BIN_DIR", "build/tests", name);
}

void tsup_prepare(tsup *t, const char *body)
{
    memset(t, 0, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/ovsup.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(t->dir));
    snprintf(t->run, sizeof t->run, "%s/run", t->dir);
    snprintf(t->conf, sizeof t->conf, "%s/sup.conf", t->dir);
    snprintf(t->log, sizeof t->log, "%s/sup.log", t->dir);
    FILE *f = fopen(t->conf, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[supervisor]\nruntime_dir = %s\n%s", t->run, body ? body : "");
    fclose(f);
}

static void rm_rf(const char *dir)
{
    if (!dir[0] || strncmp(dir, "/tmp/ovsup.", 11) != 0)
        return;
    pid_t p = fork();
    if (p == 0) {
        execlp("rm", "rm", "-rf", dir, (char *)NULL);
        _exit(127);
    }
    if (p > 0)
        waitpid(p, NULL, 0);
}

void tsup_kill_all(tsup *t)
{
    /* Sanitizer reports from the supervisor fail the test that ran it. */
    int san = tsup_log_count(t, "AddressSanitizer") + tsup_log_count(t, "runtime error:") +
              tsup_log_count(t, "LeakSanitizer");
    if (t->pid > 0) {
        kill(-t->pid, SIGKILL); /* the supervisor leads a process group its workers share */
        kill(t->pid, SIGKILL);
        waitpid(t->pid, NULL, 0);
        t->pid = 0;
    }
    if (!getenv("OV_TEST_KEEP") && !san)
        rm_rf(t->dir);
    ck_assert_msg(san == 0, "sanitizer report in %s", t->log);
}

static void atexit_cleanup(void)
{
    if (cleanup_target && cleanup_target->pid > 0) {
        kill(-cleanup_target->pid, SIGKILL);
        kill(cleanup_target->pid, SIGKILL);
    }
}

void tsup_start(tsup *t, const char *const *extra)
{
    const char *argv[32];
    int a = 0;
    argv[a++] = tsup_bin("ourvidz-supervisor");
    argv[a++] = "--config";
    argv[a++] = t->conf;
    for (int i = 0; extra && extra[i] && a < 30; i++)
        argv[a++] = extra[i];
    argv[a] = NULL;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(t->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    setpgid(pid, pid);
    t->pid = pid;
    cleanup_target = t;
    atexit(atexit_cleanup);
    int64_t end = tsup_now_ms() + 10000;
    while (tsup_now_ms() < end) {
        char *r = tsup_cmd(t, "ping");
        if (r) {
            int ok = strcmp(r, "pong\n") == 0;
            free(r);
            if (ok)
                return;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            t->pid = 0;
            ck_abort_msg("supervisor exited during start (status %d)", st);
        }
        tsup_sleep_ms(20);
    }
    ck_abort_msg("supervisor did not answer on %s/status.sock", t->run);
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n >= sizeof sa.sun_path)
        return -1;
    memcpy(sa.sun_path, path, n + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

char *tsup_raw(const tsup *t, const void *data, size_t n, int deadline_ms, int64_t *elapsed_ms)
{
    char path[256];
    snprintf(path, sizeof path, "%s/status.sock", t->run);
    int fd = connect_unix(path);
    if (fd < 0)
        return NULL;
    int64_t start = tsup_now_ms();
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(fd, (const char *)data + off, n - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may close on us mid-send: then read what it said */
        off += (size_t)w;
    }
    ov_buf out;
    ov_buf_init(&out, 64u << 20);
    ov_buf_puts(&out, "");
    char buf[65536];
    for (;;) {
        int left = (int)(start + deadline_ms - tsup_now_ms());
        if (left <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, left) <= 0)
            break;
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            break;
        ov_buf_append(&out, buf, (size_t)r);
    }
    if (elapsed_ms)
        *elapsed_ms = tsup_now_ms() - start;
    close(fd);
    char *s = strdup(out.data);
    ov_buf_free(&out);
    return s;
}

char *tsup_cmd(const tsup *t, const char *line)
{
    char msg[8192];
    int n = snprintf(msg, sizeof msg, "%s\n", line);
    return tsup_raw(t, msg, (size_t)n, 5000, NULL);
}

json_t *tsup_status(const tsup *t)
{
    char *r = tsup_cmd(t, "status json");
    ck_assert_ptr_nonnull(r);
    json_error_t e;
    json_t *j = json_loads(r, 0, &e);
    if (!j)
        ck_abort_msg("status json is not JSON: %s in <%s>", e.text, r);
    free(r);
    return j;
}

json_t *tsup_worker(json_t *status, const char *name)
{
    json_t *ws = json_object_get(status, "workers");
    size_t i;
    json_t *w;
    json_array_foreach(ws, i, w)
    {
        if (strcmp(json_string_value(json_object_get(w, "name")), name) == 0)
            return w;
    }
    ck_abort_msg("no worker %s in status", name);
    return NULL;
}

const char *tsup_wstate(json_t *status, const char *name)
{
    return json_string_value(json_object_get(tsup_worker(status, name), "state"));
}

int64_t tsup_wint(json_t *status, const char *name, const char *field)
{
    return json_integer_value(json_object_get(tsup_worker(status, name), field));
}

int tsup_wait_state(const tsup *t, const char *name, const char *state, int deadline_ms)
{
    int64_t end = tsup_now_ms() + deadline_ms;
    do {
        json_t *j = tsup_status(t);
        int ok = strcmp(tsup_wstate(j, name), state) == 0;
        json_decref(j);
        if (ok)
            return 1;
        tsup_sleep_ms(20);
    } while (tsup_now_ms() < end);
    return 0;
}

int tsup_wait_job(const tsup *t, const char *id, const char *state, int deadline_ms)
{
    char line[160];
    snprintf(line, sizeof line, "job %s", id);
    int64_t end = tsup_now_ms() + deadline_ms;
    do {
        char *r = tsup_cmd(t, line);
        ck_assert_ptr_nonnull(r);
        json_t *j = json_loads(r, 0, NULL);
        free(r);
        ck_assert_ptr_nonnull(j);
        int ok = strcmp(json_string_value(json_object_get(j, "state")), state) == 0;
        json_decref(j);
        if (ok)
            return 1;
        tsup_sleep_ms(20);
    } while (tsup_now_ms() < end);
    return 0;
}

const char *tsup_submit(const tsup *t, const char *kind, const char *task, const char *params)
{
    static char id[128];
    char line[1024];
    snprintf(line, sizeof line, "submit %s %s %s", kind, task, params ? params : "");
    char *r = tsup_cmd(t, line);
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(strncmp(r, "local-", 6) == 0, "submit refused: %s", r);
    snprintf(id, sizeof id, "%.*s", (int)strcspn(r, "\n"), r);
    free(r);
    return id;
}

int tsup_wait_exit(tsup *t, int deadline_ms)
{
    int64_t end = tsup_now_ms() + deadline_ms;
    while (tsup_now_ms() < end) {
        int st;
        pid_t p = waitpid(t->pid, &st, WNOHANG);
        if (p == t->pid) {
            t->pid = 0;
            return st;
        }
        tsup_sleep_ms(20);
    }
    return -1;
}

int tsup_log_count(const tsup *t, const char *needle)
{
    FILE *f = fopen(t->log, "r");
    if (!f)
        return 0;
    int n = 0;
    char line[8192];
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle))
            n++;
    fclose(f);
    return n;
}

/* ---- fake worker ---- */

int fake_connect(const tsup *t)
{
    char path[256];
    snprintf(path, sizeof path, "%s/workers.sock", t->run);
    return connect_unix(path);
}

int fake_send(int fd, const ov_msg *m)
{
    ov_buf b;
    ov_buf_init(&b, OV_IPC_FRAME_MAX + 16);
    int rc = ov_msg_encode(m, &b);
    if (rc == 0)
        rc = ov_fd_write_all(fd, b.data, b.len);
    ov_buf_free(&b);
    return rc;
}

int fake_hello(int fd, const char *name, const char *kind, int64_t protocol, int ready)
{
    ov_msg m;
    ov_msg_init(&m, OV_MSG_HELLO);
    m.u.hello.kind = (char *)kind;
    m.u.hello.name = (char *)name;
    m.u.hello.pid = fake_hello_pid ? fake_hello_pid : getpid();
    m.u.hello.protocol = protocol;
    m.u.hello.model = "fake-model";
    int rc = fake_send(fd, &m);
    if (rc == 0 && ready) {
        ov_msg r;
        ov_msg_init(&r, OV_MSG_READY);
        r.u.ready.model = "fake-model";
        r.u.ready.load_ms = 1;
        rc = fake_send(fd, &r);
    }
    return rc;
}

int fake_read(int fd, int timeout_ms, ov_msg *m)
{
    /* One buffered reader per fd (frames may arrive together). */
    static ov_frame_reader readers[64];
    static int inited[64];
    if (fd < 0 || fd >= 64)
        return -1;
    if (!inited[fd]) {
        ov_frame_reader_init(&readers[fd], OV_IPC_FRAME_MAX);
        inited[fd] = 1;
    }
    uint8_t *payload;
    size_t len;
    int rc = ov_frame_read_fd(fd, &readers[fd], timeout_ms, &payload, &len);
    if (rc != 1)
        return rc < 0 ? rc : -1;
    char err[128];
    rc = ov_msg_decode(payload, len, m, err, sizeof err);
    free(payload);
    return rc == 0 ? 1 : rc;
}
