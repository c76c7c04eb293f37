/* ourvidzctl: send one command line to the supervisor's status socket and print the reply. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/error.h"
#include "ctl_jobs.h"

#define CTL_TIMEOUT_MS 10000 /* whole exchange deadline */
#define CTL_REPLY_MAX (16u << 20)
#define CTL_LINE_MAX 4096

static void usage(FILE *f)
{
    fprintf(
        f, "usage: ourvidzctl [--runtime-dir DIR] COMMAND\n"
           "  status [--json]                             workers and job counters\n"
           "  metrics                                     Prometheus text\n"
           "  submit --kind K --task T [--param k=v ...]  enqueue a local job, print its id\n"
           "  job ID                                      one job's state as JSON\n"
           "  submit --type T --prompt P [...]            push an OurVidz job into Redis (submit --type -h)\n"
           "  wait ID [--timeout S]                       follow a Redis job to its end\n"
           "The socket is DIR/status.sock; DIR defaults to $OURVIDZ_RUNTIME_DIR, then the config default.\n");
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for `events` on fd until the deadline. 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? -1 : n;
    }
}

/* Connect, send line + "\n", read the whole reply into out. 0, or exits with a message. */
static int exchange(const char *dir, const char *line, ov_buf *out)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    int n = snprintf(path, sizeof path, "%s/status.sock", dir);
    if (n < 0 || (size_t)n >= sizeof path - 1) {
        fprintf(stderr, "ourvidzctl: socket path too long: %s/status.sock\n", dir);
        exit(2);
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, (size_t)n + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        perror("ourvidzctl: socket");
        exit(1);
    }
    int64_t deadline = now_ms() + CTL_TIMEOUT_MS;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (errno == EAGAIN || errno == EINPROGRESS) {
            if (wait_fd(fd, POLLOUT, deadline) != 1) {
                fprintf(stderr, "ourvidzctl: %s: connect timed out (supervisor busy or hung?)\n", path);
                exit(1);
            }
        } else {
            int e = errno;
            fprintf(stderr, "ourvidzctl: cannot connect to %s: %s (is the supervisor running?)\n", path,
                    strerror(e));
            exit(1);
        }
    }
    char msg[CTL_LINE_MAX + 2];
    size_t len = strlen(line);
    if (len > CTL_LINE_MAX) {
        fprintf(stderr, "ourvidzctl: command too long\n");
        exit(2);
    }
    memcpy(msg, line, len);
    msg[len++] = '\n';
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(fd, msg + off, len - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN && wait_fd(fd, POLLOUT, deadline) == 1)
            continue;
        fprintf(stderr, "ourvidzctl: send failed: %s\n", strerror(errno));
        exit(1);
    }
    char buf[65536];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r > 0) {
            if (ov_buf_append(out, buf, (size_t)r) != 0) {
                fprintf(stderr, "ourvidzctl: reply over %u bytes\n", CTL_REPLY_MAX);
                exit(1);
            }
            continue;
        }
        if (r == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            int w = wait_fd(fd, POLLIN, deadline);
            if (w == 1)
                continue;
            fprintf(stderr, "ourvidzctl: no reply within %d ms\n", CTL_TIMEOUT_MS);
            exit(1);
        }
        fprintf(stderr, "ourvidzctl: read failed: %s\n", strerror(errno));
        exit(1);
    }
    close(fd);
    return 0;
}

static int append_word(char *line, size_t cap, size_t *len, const char *w)
{
    for (const char *p = w; *p; p++)
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            fprintf(stderr, "ourvidzctl: '%s': spaces are not allowed in values\n", w);
            exit(2);
        }
    size_t n = strlen(w);
    if (*len + n + 2 > cap) {
        fprintf(stderr, "ourvidzctl: command too long\n");
        exit(2);
    }
    if (*len)
        line[(*len)++] = ' ';
    memcpy(line + *len, w, n);
    *len += n;
    line[*len] = '\0';
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = getenv("OURVIDZ_RUNTIME_DIR");
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--runtime-dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else
            break;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    ov_config defaults;
    if (!dir || !*dir) {
        ov_config_defaults(&defaults);
        dir = defaults.runtime_dir;
    }
    const char *cmd = argv[i++];
    if (ov_ctl_jobs_wants(cmd, argc - i, argv + i))
        return ov_ctl_jobs_main(cmd, argc - i, argv + i);
    char line[CTL_LINE_MAX + 1] = "";
    size_t len = 0;
    if (strcmp(cmd, "status") == 0) {
        append_word(line, sizeof line, &len, "status");
        if (i < argc && strcmp(argv[i], "--json") == 0) {
            append_word(line, sizeof line, &len, "json");
            i++;
        }
    } else if (strcmp(cmd, "metrics") == 0) {
        append_word(line, sizeof line, &len, "metrics");
    } else if (strcmp(cmd, "job") == 0 && i < argc) {
        append_word(line, sizeof line, &len, "job");
        append_word(line, sizeof line, &len, argv[i++]);
    } else if (strcmp(cmd, "submit") == 0) {
        const char *kind = NULL, *task = NULL;
        const char *params[256];
        int np = 0;
        for (; i < argc; i++) {
            if (strcmp(argv[i], "--kind") == 0 && i + 1 < argc)
                kind = argv[++i];
            else if (strcmp(argv[i], "--task") == 0 && i + 1 < argc)
                task = argv[++i];
            else if (strcmp(argv[i], "--param") == 0 && i + 1 < argc) {
                if (!strchr(argv[i + 1], '=')) {
                    fprintf(stderr, "ourvidzctl: --param wants key=value, got '%s'\n", argv[i + 1]);
                    return 2;
                }
                if (np == (int)(sizeof params / sizeof params[0])) {
                    fprintf(stderr, "ourvidzctl: too many --param\n");
                    return 2;
                }
                params[np++] = argv[++i];
            } else
                break;
        }
        if (!kind || !task) {
            fprintf(stderr, "ourvidzctl: submit needs --kind and --task\n");
            return 2;
        }
        append_word(line, sizeof line, &len, "submit");
        append_word(line, sizeof line, &len, kind);
        append_word(line, sizeof line, &len, task);
        for (int p = 0; p < np; p++)
            append_word(line, sizeof line, &len, params[p]);
    } else {
        usage(stderr);
        return 2;
    }
    if (i < argc) {
        fprintf(stderr, "ourvidzctl: unexpected argument '%s'\n", argv[i]);
        return 2;
    }
    ov_buf reply;
    ov_buf_init(&reply, CTL_REPLY_MAX);
    exchange(dir, line, &reply);
    const char *text = reply.len ? reply.data : "";
    if (reply.len == 0) {
        fprintf(stderr, "ourvidzctl: empty reply\n");
        return 1;
    }
    if (strncmp(text, "error: ", 7) == 0) {
        fprintf(stderr, "ourvidzctl: %s", text + 7);
        ov_buf_free(&reply);
        return 1;
    }
    fwrite(text, 1, reply.len, stdout);
    ov_buf_free(&reply);
    return 0;
}
