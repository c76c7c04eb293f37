/* Local storage backend: {storage.dir}/{bucket}/{path}, written in the thread pool (temp + fsync + rename). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "store_backend.h"

typedef struct local_work {
    uv_work_t req;
    ov_store_op *op;
    int status, permanent;
    char detail[200];
} local_work;

/* mkdir -p of every parent of `file` (0750). 0 or errno. */
static int make_parents(char *file)
{
    for (char *p = file + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int e = mkdir(file, 0750) != 0 && errno != EEXIST ? errno : 0;
        *p = '/';
        if (e)
            return e;
    }
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void fail(local_work *w, int permanent, const char *what, int e)
{
    w->status = permanent ? OV_EINVAL : OV_EIO;
    w->permanent = permanent;
    snprintf(w->detail, sizeof w->detail, "%s: %s", what, strerror(e));
}

/* Runs in the thread pool: nothing here touches the loop. */
static void do_write(uv_work_t *req)
{
    local_work *w = req->data;
    ov_store_op *op = w->op;
    char final[OV_CONFIG_PATH_MAX + OV_STORE_BUCKET_MAX + OV_STORE_PATH_MAX + 4];
    char tmp[sizeof final + 16];
    snprintf(final, sizeof final, "%s/%s/%s", op->st->dir, op->bucket, op->path);
    int e = make_parents(final);
    if (e) {
        fail(w, 0, "cannot create the storage directory", e);
        return;
    }
    int src = -1;
    if (op->src_file) {
        src = open(op->src_file, O_RDONLY | O_CLOEXEC);
        if (src < 0) {
            fail(w, errno == ENOENT, "cannot open the output file", errno);
            return;
        }
    }
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", final);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        fail(w, 0, "cannot create a temporary file", errno);
        if (src >= 0)
            close(src);
        return;
    }
    e = fchmod(fd, 0640) != 0 ? errno : 0;
    if (!e && src >= 0) {
        char buf[1 << 16];
        for (;;) {
            ssize_t r = read(src, buf, sizeof buf);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                e = errno;
                break;
            }
            if (r == 0)
                break;
            if ((e = write_all(fd, buf, (size_t)r)) != 0)
                break;
        }
    } else if (!e) {
        e = write_all(fd, op->data, op->len);
    }
    if (!e && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && !e)
        e = errno;
    if (src >= 0)
        close(src);
    if (!e && rename(tmp, final) != 0)
        e = errno;
    if (e) {
        unlink(tmp);
        fail(w, 0, "cannot write the object", e);
        return;
    }
    /* Make the rename durable. */
    char *slash = strrchr(final, '/');
    *slash = '\0';
    int dfd = open(final, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    w->status = 0;
}

static void after_write(uv_work_t *req, int status)
{
    local_work *w = req->data;
    ov_store *st = w->op->st;
    st->busy_threads--;
    if (status == UV_ECANCELED && w->status == 0) {
        w->status = OV_ECANCELED;
        snprintf(w->detail, sizeof w->detail, "cancelled");
    }
    ov_store_op_finish(w->op, w->status, w->permanent, w->detail);
    free(w);
}

static int local_put(ov_store *st, ov_store_op *op)
{
    local_work *w = calloc(1, sizeof *w);
    if (!w)
        return OV_ENOMEM;
    w->op = op;
    w->req.data = w;
    op->backend_req = w;
    if (uv_queue_work(st->loop, &w->req, do_write, after_write) != 0) {
        free(w);
        return OV_EIO;
    }
    st->busy_threads++;
    return 0;
}

static void local_abandon(ov_store *st, ov_store_op *op)
{
    /* A running write cannot be stopped; its after_work sees the store closing and only frees. */
    (void)st;
    (void)op;
}

static int local_check(ov_store *st, char *detail, size_t n)
{
    struct stat sb;
    if (stat(st->dir, &sb) != 0) {
        /* Not created yet: fine as long as the parent is writable (it is made on first write). */
        char parent[OV_CONFIG_PATH_MAX];
        snprintf(parent, sizeof parent, "%s", st->dir);
        char *s = strrchr(parent, '/');
        if (s && s != parent)
            *s = '\0';
        if (access(parent, W_OK) == 0) {
            snprintf(detail, n, "local %s (not created yet)", st->dir);
            return 0;
        }
        snprintf(detail, n, "local %s: %s", st->dir, strerror(errno));
        return OV_EIO;
    }
    if (!S_ISDIR(sb.st_mode) || access(st->dir, W_OK) != 0) {
        snprintf(detail, n, "local %s: not a writable directory", st->dir);
        return OV_EIO;
    }
    if (st->last_failed) {
        snprintf(detail, n, "local %s: last write failed: %s", st->dir, st->last_detail);
        return OV_EIO;
    }
    snprintf(detail, n, "local %s", st->dir);
    return 0;
}

const ov_store_backend ov_store_local_backend = {
    .name = "local",
    .put = local_put,
    .abandon = local_abandon,
    .check = local_check,
};
