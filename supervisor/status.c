/* Status socket server: line commands answered from the loop, with size caps and read deadlines. */
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "strcopy.h"
#include "common/log.h"
#include "sup.h"

struct ov_status_server {
    uv_pipe_t listener;
    ov_sup *sup;
    int nclients;
    char path[OV_CONFIG_PATH_MAX + 32];
};

typedef struct client {
    uv_pipe_t pipe; /* first member */
    uv_timer_t timer;
    ov_sup *sup;
    int open_handles;
    int answered;
    size_t len;
    char line[OV_STATUS_LINE_MAX + 1];
} client;

typedef struct reply_req {
    uv_write_t req;
    client *c;
    ov_buf buf;
} reply_req;

/* ---- snapshots ---- */

static int64_t worker_uptime_s(const ov_sup *s, const ov_worker *w)
{
    if (!w->pid && !w->conn)
        return 0;
    return (int64_t)((uv_now(s->loop) - w->spawn_ms) / 1000);
}

#define J(x) rc |= (x)

int ov_status_json(const ov_sup *s, ov_buf *b)
{
    int rc = 0;
    uint64_t now = uv_now(s->loop);
    J(ov_buf_puts(b, "{\"supervisor\":{"));
    J(ov_json_key(b, "pid")), J(ov_json_int(b, getpid()));
    J(ov_buf_puts(b, ",")), J(ov_json_key(b, "uptime_s")),
        J(ov_json_int(b, (int64_t)((now - s->start_ms) / 1000)));
    J(ov_buf_puts(b, ",")), J(ov_json_key(b, "version")), J(ov_json_str(b, OV_SUP_VERSION));
    J(ov_buf_puts(b, ",")), J(ov_json_key(b, "mode")), J(ov_json_str(b, s->unit_mode ? "unit" : "spawn"));
    J(ov_buf_puts(b, ",")), J(ov_json_key(b, "draining")), J(ov_json_bool(b, s->draining));
    J(ov_buf_puts(b, "},\"workers\":["));
    for (int i = 0; i < s->pool.n; i++) {
        const ov_worker *w = &s->pool.workers[i];
        if (i)
            J(ov_buf_puts(b, ","));
        J(ov_buf_puts(b, "{")), J(ov_json_key(b, "name")), J(ov_json_str(b, w->name));
        J(ov_buf_puts(b, ",")), J(ov_json_key(b, "kind")), J(ov_json_str(b, ov_kind_name(w->kind)));
        J(ov_buf_puts(b, ",")), J(ov_json_key(b, "pid")), J(ov_json_int(b, w->pid));
        J(ov_buf_puts(b, ",")), J(ov_json_key(b, "state")), J(ov_json_str(b, ov_worker_state_name(w->state)));
        J(ov_buf_puts(b, ",")), J(ov_json_key(b, "restarts")), J(ov_json_int(b, w->restarts));
        J(ov_buf_puts(b, ",")), J(ov_json_key(b, "uptime_s")), J(ov_json_int(b, worker_uptime_s(s, w)));
        J(ov_buf_puts(b, ",")), J(ov_json_key(b, "job_id"));
        J(w->job ? ov_json_str(b, w->job->id) : ov_buf_puts(b, "null"));
        J(ov_buf_puts(b, ",")), J(ov_json_key(b, "phase"));
        J(w->job ? ov_json_str(b, w->job->phase) : ov_buf_puts(b, "null"));
        J(ov_buf_puts(b, ",")), J(ov_json_key(b, "progress")),
            J(ov_json_double(b, w->job ? w->job->progress : 0.0));
        J(ov_buf_puts(b, ",")), J(ov_json_key(b, "model")), J(ov_json_str(b, w->model));
        J(ov_buf_puts(b, ",")), J(ov_json_key(b, "vram_budget_bytes"));
        J(ov_json_int(b, s->cfg.workers[w->kind].vram_budget_bytes));
        J(ov_buf_puts(b, ",")), J(ov_json_key(b, "vram_used_bytes")), J(ov_json_int(b, w->vram_used_bytes));
        J(ov_buf_puts(b, ",")), J(ov_json_key(b, "last_heartbeat_ms"));
        J(w->conn ? ov_json_int(b, (int64_t)(now - w->last_frame_ms)) : ov_buf_puts(b, "null"));
        J(ov_buf_puts(b, ",")), J(ov_json_key(b, "reason")), J(ov_json_str(b, w->reason));
        J(ov_buf_puts(b, "}"));
    }
    const ov_metrics *m = &s->metrics;
    J(ov_buf_puts(b, "],\"jobs\":{"));
    J(ov_json_key(b, "started")), J(ov_json_int(b, m->started));
    J(ov_buf_puts(b, ",")), J(ov_json_key(b, "completed")), J(ov_json_int(b, m->completed));
    J(ov_buf_puts(b, ",")), J(ov_json_key(b, "failed")), J(ov_json_int(b, m->failed));
    J(ov_buf_puts(b, ",")), J(ov_json_key(b, "retried")), J(ov_json_int(b, m->retried));
    J(ov_buf_puts(b, ",")), J(ov_json_key(b, "dead")), J(ov_json_int(b, m->dead));
    J(ov_buf_puts(b, "},\"queues\":["));
    for (int k = 0; k < OV_KIND_COUNT; k++) {
        if (k)
            J(ov_buf_puts(b, ","));
        J(ov_buf_puts(b, "{")), J(ov_json_key(b, "name")),
            J(ov_json_str(b, s->jobs->ops->queue_name(s->jobs, k)));
        J(ov_buf_puts(b, ",")), J(ov_json_key(b, "depth")),
            J(ov_json_int(b, s->jobs->ops->depth(s->jobs, k)));
        J(ov_buf_puts(b, "}"));
    }
    J(ov_buf_puts(b, "]}\n"));
    return rc ? OV_ENOMEM : 0;
}

int ov_status_table(const ov_sup *s, ov_buf *b)
{
    int rc = 0;
    uint64_t now = uv_now(s->loop);
    const ov_metrics *m = &s->metrics;
    J(ov_buf_printf(b, "ourvidz-supervisor %s pid %d up %llus mode %s%s\n", OV_SUP_VERSION, (int)getpid(),
                    (unsigned long long)((now - s->start_ms) / 1000), s->unit_mode ? "unit" : "spawn",
                    s->draining ? " (draining)" : ""));
    J(ov_buf_printf(b, "jobs: started %lld completed %lld failed %lld retried %lld dead %lld\n",
                    (long long)m->started, (long long)m->completed, (long long)m->failed,
                    (long long)m->retried, (long long)m->dead));
    J(ov_buf_printf(b, "%-8s %-11s %8s %8s %8s %-16s %-10s %5s  %s\n", "WORKER", "STATE", "PID", "RESTARTS",
                    "UPTIME", "JOB", "PHASE", "PROG", "REASON"));
    for (int i = 0; i < s->pool.n; i++) {
        const ov_worker *w = &s->pool.workers[i];
        J(ov_buf_printf(b, "%-8s %-11s %8lld %8d %7llds %-16.16s %-10.10s %4.0f%%  %s\n", w->name,
                        ov_worker_state_name(w->state), (long long)w->pid, w->restarts,
                        (long long)worker_uptime_s(s, w), w->job ? w->job->id : "-",
                        w->job && w->job->phase[0] ? w->job->phase : "-",
                        w->job ? w->job->progress * 100.0 : 0.0, w->reason));
    }
    return rc ? OV_ENOMEM : 0;
}

void ov_status_summary(const ov_sup *s, char *out, unsigned long n)
{
    int ready = 0, busy = 0, failed = 0;
    for (int i = 0; i < s->pool.n; i++) {
        int st = s->pool.workers[i].state;
        ready += st == OV_W_READY;
        busy += st == OV_W_BUSY;
        failed += st == OV_W_FAILED;
    }
    snprintf(out, n, "%s%d workers: %d ready, %d busy, %d failed; jobs %lld completed, %lld failed",
             s->draining ? "draining; " : "", s->pool.n, ready, busy, failed, (long long)s->metrics.completed,
             (long long)s->metrics.failed);
}

/* ---- commands ---- */

/* Split `line` in place on spaces; returns the count (at most max). */
static int split_words(char *line, char **words, int max)
{
    int n = 0;
    char *p = line;
    while (*p && n < max) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        words[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

static int set_param(ov_kvlist *l, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv || eq - kv >= 64)
        return OV_EINVAL;
    char key[64];
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    const char *v = eq + 1;
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
        return ov_kvlist_set_bool(l, key, v[0] == 't');
    char *end;
    errno = 0;
    long long i = strtoll(v, &end, 10);
    if (*v && !*end && errno == 0)
        return ov_kvlist_set_int(l, key, i);
    errno = 0;
    double d = strtod(v, &end);
    if (*v && !*end && errno == 0)
        return ov_kvlist_set_float(l, key, d);
    return ov_kvlist_set_str(l, key, v);
}

static int cmd_submit(ov_sup *s, char **w, int n, ov_buf *out)
{
    if (n < 3)
        return ov_buf_puts(out, "error: usage: submit <kind> <task> [key=value ...]\n");
    int kind;
    if (ov_kind_parse(w[1], &kind) != 0)
        return ov_buf_puts(out, "error: unknown kind (wan, sdxl, qwen)\n");
    if (!s->jobs->ops->submit)
        return ov_buf_puts(out, "error: this job source does not take submissions here\n");
    if (s->draining)
        return ov_buf_puts(out, "error: draining, not accepting jobs\n");
    ov_kvlist params = {0};
    for (int i = 3; i < n; i++) {
        if (set_param(&params, w[i]) != 0) {
            ov_kvlist_free(&params);
            return ov_buf_puts(out, "error: bad parameter (want key=value)\n");
        }
    }
    char id[OV_JOB_ID_MAX];
    int rc = s->jobs->ops->submit(s->jobs, kind, w[2], &params, id, sizeof id);
    ov_kvlist_free(&params);
    if (rc != 0)
        return ov_buf_printf(out, "error: submit refused: %s\n", ov_strerror(rc));
    return ov_buf_printf(out, "%s\n", id);
}

int ov_status_command(ov_sup *s, const char *line, ov_buf *out)
{
    char copy[OV_STATUS_LINE_MAX + 1];
    ov_str_copy(copy, sizeof copy, line);
    char *w[OV_IPC_KV_MAX + 4];
    int n = split_words(copy, w, (int)(sizeof w / sizeof w[0]));
    if (n == 0)
        return ov_buf_puts(out, "error: empty command (try: status, status json, metrics, submit, job)\n");
    if (strcmp(w[0], "status") == 0 && n == 1)
        return ov_status_table(s, out);
    if (strcmp(w[0], "status") == 0 && n == 2 && strcmp(w[1], "json") == 0)
        return ov_status_json(s, out);
    if (strcmp(w[0], "metrics") == 0 && n == 1)
        return ov_metrics_render(s, out);
    if (strcmp(w[0], "ping") == 0 && n == 1)
        return ov_buf_puts(out, "pong\n");
    if (strcmp(w[0], "submit") == 0)
        return cmd_submit(s, w, n, out);
    if (strcmp(w[0], "job") == 0 && n == 2) {
        if (!s->jobs->ops->describe)
            return ov_buf_puts(out, "error: this job source cannot describe jobs\n");
        int rc = s->jobs->ops->describe(s->jobs, w[1], out);
        if (rc == OV_ENOENT)
            return ov_buf_puts(out, "error: no such job\n");
        return rc ? rc : ov_buf_puts(out, "\n");
    }
    return ov_buf_puts(out, "error: unknown command (try: status, status json, metrics, submit, job)\n");
}

/* ---- socket plumbing ---- */

static void client_closed(uv_handle_t *h)
{
    client *c = h->data;
    if (--c->open_handles == 0) {
        ov_sup *s = c->sup;
        if (s->status)
            s->status->nclients--;
        free(c);
    }
}

static void client_close(client *c)
{
    if (uv_is_closing((uv_handle_t *)&c->pipe))
        return;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->pipe, client_closed);
    uv_close((uv_handle_t *)&c->timer, client_closed);
}

static void on_reply_written(uv_write_t *req, int status)
{
    reply_req *r = (reply_req *)req;
    (void)status;
    client_close(r->c);
    ov_buf_free(&r->buf);
    free(r);
}

static void reply(client *c, const char *line)
{
    c->answered = 1;
    uv_read_stop((uv_stream_t *)&c->pipe);
    reply_req *r = calloc(1, sizeof *r);
    if (!r) {
        client_close(c);
        return;
    }
    r->c = c;
    ov_buf_init(&r->buf, OV_STATUS_REPLY_MAX);
    if (ov_status_command(c->sup, line, &r->buf) != 0) {
        ov_buf_reset(&r->buf);
        ov_buf_puts(&r->buf, "error: reply too large\n");
    }
    uv_buf_t ub = uv_buf_init(r->buf.data, (unsigned)r->buf.len);
    if (uv_write(&r->req, (uv_stream_t *)&c->pipe, &ub, 1, on_reply_written) != 0) {
        ov_buf_free(&r->buf);
        free(r);
        client_close(c);
    }
}

static void reply_error(client *c, const char *msg)
{
    c->answered = 1;
    uv_read_stop((uv_stream_t *)&c->pipe);
    ov_log(OV_LOG_NOTICE, "status_client_refused", "reason=\"%s\"", msg);
    reply_req *r = calloc(1, sizeof *r);
    if (!r) {
        client_close(c);
        return;
    }
    r->c = c;
    ov_buf_init(&r->buf, 256);
    ov_buf_printf(&r->buf, "error: %s\n", msg);
    uv_buf_t ub = uv_buf_init(r->buf.data, (unsigned)r->buf.len);
    if (uv_write(&r->req, (uv_stream_t *)&c->pipe, &ub, 1, on_reply_written) != 0) {
        ov_buf_free(&r->buf);
        free(r);
        client_close(c);
    }
}

static void on_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    client *c = h->data;
    (void)suggested;
    buf->base = c->line + c->len;
    buf->len = OV_STATUS_LINE_MAX - c->len;
}

static int line_ok(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch < 0x20 && ch != '\t' && ch != '\r')
            return 0;
        if (ch == 0x7f)
            return 0;
    }
    return 1;
}

static void handle_line(client *c, size_t n)
{
    if (n && c->line[n - 1] == '\r')
        n--;
    c->line[n] = '\0';
    if (!line_ok(c->line, n)) {
        reply_error(c, "binary or control characters in the command");
        return;
    }
    reply(c, c->line);
}

static void on_client_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    client *c = st->data;
    (void)buf;
    if (c->answered)
        return;
    if (nread < 0) {
        if (nread == UV_EOF && c->len > 0) {
            handle_line(c, c->len); /* a last line without newline */
            return;
        }
        client_close(c);
        return;
    }
    size_t start = c->len;
    c->len += (size_t)nread;
    char *nl = memchr(c->line + start, '\n', c->len - start);
    if (nl) {
        handle_line(c, (size_t)(nl - c->line));
        return;
    }
    if (c->len >= OV_STATUS_LINE_MAX)
        reply_error(c, "command line too long");
}

static void on_client_deadline(uv_timer_t *t)
{
    client *c = t->data;
    if (!c->answered)
        reply_error(c, "no complete command line within the deadline");
}

static void on_status_connect(uv_stream_t *server, int status)
{
    ov_sup *s = server->data;
    if (status < 0)
        return;
    client *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->sup = s;
    uv_pipe_init(s->loop, &c->pipe, 0);
    uv_timer_init(s->loop, &c->timer);
    c->pipe.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    s->status->nclients++;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0 || s->status->nclients > OV_STATUS_CLIENTS_MAX) {
        client_close(c);
        return;
    }
    uv_timer_start(&c->timer, on_client_deadline, OV_STATUS_READ_DEADLINE_MS, 0);
    if (uv_read_start((uv_stream_t *)&c->pipe, on_client_alloc, on_client_read) != 0)
        client_close(c);
}

int ov_status_start(ov_sup *s)
{
    ov_status_server *st = calloc(1, sizeof *st);
    if (!st)
        return OV_ENOMEM;
    st->sup = s;
    snprintf(st->path, sizeof st->path, "%s/status.sock", s->cfg.runtime_dir);
    unlink(st->path);
    uv_pipe_init(s->loop, &st->listener, 0);
    st->listener.data = s;
    s->status = st;
    int rc = uv_pipe_bind(&st->listener, st->path);
    if (rc == 0) {
        chmod(st->path, 0660);
        rc = uv_listen((uv_stream_t *)&st->listener, 64, on_status_connect);
    }
    if (rc != 0) {
        ov_log(OV_LOG_ERR, "listen_failed", "what=status path=%s error=%s", st->path, uv_strerror(rc));
        return OV_EIO;
    }
    ov_log(OV_LOG_INFO, "listening", "what=status path=%s", st->path);
    return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
    ov_sup *s = h->data;
    free(s->status);
    s->status = NULL;
}

void ov_status_close(ov_sup *s)
{
    if (!s->status)
        return;
    unlink(s->status->path);
    uv_close((uv_handle_t *)&s->status->listener, on_listener_closed);
}
