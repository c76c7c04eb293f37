/* Storage front: id validation, object naming per layout, content sniffing, backend choice. */
#include "store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/ident.h"
#include "common/log.h"
#include "store_backend.h"
#include "strcopy.h"

int ov_store_id_valid(const char *id)
{
    return ov_ident_valid(id, OV_STORE_ID_MAX);
}

int ov_store_layout_parse(const char *s, int *out)
{
    if (s && strcmp(s, "legacy") == 0)
        *out = OV_STORE_LAYOUT_LEGACY;
    else if (s && strcmp(s, "workspace") == 0)
        *out = OV_STORE_LAYOUT_WORKSPACE;
    else
        return OV_EINVAL;
    return 0;
}

const char *ov_store_sniff_mime(const uint8_t *p, size_t n)
{
    static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 8 && memcmp(p, png, 8) == 0)
        return "image/png";
    if (n >= 12 && memcmp(p + 4, "ftyp", 4) == 0)
        return "video/mp4";
    if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        return "image/webp";
    if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        return "image/jpeg";
    return NULL;
}

const char *ov_store_sniff_file(const char *path)
{
    uint8_t b[16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, b, sizeof b);
    close(fd);
    return n > 0 ? ov_store_sniff_mime(b, (size_t)n) : NULL;
}

const char *ov_store_mime_ext(const char *mime)
{
    if (!mime)
        return NULL;
    if (strcmp(mime, "image/png") == 0)
        return "png";
    if (strcmp(mime, "video/mp4") == 0)
        return "mp4";
    if (strcmp(mime, "image/webp") == 0)
        return "webp";
    if (strcmp(mime, "image/jpeg") == 0)
        return "jpg";
    return NULL;
}

static int put_str(char *dst, size_t n, int w)
{
    (void)dst;
    return w < 0 || (size_t)w >= n ? OV_ERANGE : 0;
}

int ov_store_object_name(const ov_store_naming *n, int index, const char *mime, char *bucket, size_t blen,
                         char *path, size_t plen)
{
    const char *ext = ov_store_mime_ext(mime);
    if (!n || !ext || index < 0 || !ov_store_id_valid(n->user_id) || !ov_store_id_valid(n->job_type))
        return OV_EINVAL;
    if (n->layout == OV_STORE_LAYOUT_WORKSPACE) {
        if (!ov_store_id_valid(n->job_id))
            return OV_EINVAL;
        if (put_str(bucket, blen, snprintf(bucket, blen, "%s", OV_STORE_WORKSPACE_BUCKET)))
            return OV_ERANGE;
        return put_str(path, plen, snprintf(path, plen, "%s/%s/%d.%s", n->user_id, n->job_id, index, ext));
    }
    if (n->layout != OV_STORE_LAYOUT_LEGACY)
        return OV_EINVAL;
    if (put_str(bucket, blen, snprintf(bucket, blen, "%s", n->job_type)))
        return OV_ERANGE;
    long long ts = (long long)n->unix_ts;
    if (strncmp(n->job_type, "sdxl_", 5) == 0) {
        if (!ov_store_id_valid(n->job_id))
            return OV_EINVAL;
        return put_str(path, plen,
                       snprintf(path, plen, "%s/sdxl_%s_%lld_%d.%s", n->user_id, n->job_id, ts, index + 1, ext));
    }
    char base[OV_STORE_ID_MAX + 32];
    if (n->video_id && *n->video_id) {
        if (!ov_store_id_valid(n->video_id))
            return OV_EINVAL;
        snprintf(base, sizeof base, "%s", n->video_id);
    } else {
        snprintf(base, sizeof base, "video_%lld", ts);
    }
    if (index == 0)
        return put_str(path, plen, snprintf(path, plen, "%s/%s.%s", n->user_id, base, ext));
    return put_str(path, plen, snprintf(path, plen, "%s/%s_%d.%s", n->user_id, base, index, ext));
}

int ov_store_thumb_name(const ov_store_naming *n, int index, char *path, size_t plen)
{
    if (!n || n->layout != OV_STORE_LAYOUT_WORKSPACE || index < 0 || !ov_store_id_valid(n->user_id) ||
        !ov_store_id_valid(n->job_id))
        return OV_EINVAL;
    return put_str(path, plen, snprintf(path, plen, "%s/%s/%d.thumb.webp", n->user_id, n->job_id, index));
}

/* Defence in depth: a bucket is one safe segment; a path is safe segments joined by '/', where a
 * segment may also hold dots but never starts with one (no "..", no hidden files). */
static int safe_object(const char *bucket, const char *path)
{
    if (!bucket || !path || strlen(bucket) >= OV_STORE_BUCKET_MAX || strlen(path) >= OV_STORE_PATH_MAX)
        return 0;
    if (!ov_store_id_valid(bucket))
        return 0;
    const char *seg = path;
    for (const char *p = path;; p++) {
        if (*p == '/' || *p == '\0') {
            if (p == seg || *seg == '.')
                return 0;
            if (*p == '\0')
                return 1;
            seg = p + 1;
            continue;
        }
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.'))
            return 0;
    }
}

int ov_store_init(ov_store **out, uv_loop_t *loop, ov_hc *hc, const ov_config *cfg, char *err, size_t errlen)
{
    const char *url = getenv("SUPABASE_URL"), *key = getenv("SUPABASE_SERVICE_KEY");
    int have_sb = url && *url && key && *key;
    const ov_store_backend *be;
    if (strcmp(cfg->storage_backend, "supabase") == 0) {
        if (!have_sb) {
            snprintf(err, errlen, "storage.backend = supabase needs SUPABASE_URL and SUPABASE_SERVICE_KEY");
            return OV_ECONFIG;
        }
        be = &ov_store_supabase_backend;
    } else if (strcmp(cfg->storage_backend, "local") == 0) {
        be = &ov_store_local_backend;
    } else if (strcmp(cfg->storage_backend, "auto") == 0) {
        be = have_sb ? &ov_store_supabase_backend : &ov_store_local_backend;
    } else {
        snprintf(err, errlen, "storage.backend: unknown value \"%s\"", cfg->storage_backend);
        return OV_ECONFIG;
    }
    if (be == &ov_store_supabase_backend &&
        (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        snprintf(err, errlen, "SUPABASE_URL must start with http:// or https://");
        return OV_ECONFIG;
    }
    if (be == &ov_store_local_backend && !cfg->storage_dir[0]) {
        snprintf(err, errlen, "storage.dir is empty (set OURVIDZ_STORAGE_DIR)");
        return OV_ECONFIG;
    }
    ov_store *st = calloc(1, sizeof *st);
    if (!st)
        return OV_ENOMEM;
    st->be = be;
    st->loop = loop;
    st->hc = hc;
    st->timeout_ms = cfg->storage_upload_timeout_ms;
    ov_str_copy(st->dir, sizeof st->dir, cfg->storage_dir);
    if (be == &ov_store_supabase_backend) {
        ov_str_copy(st->url, sizeof st->url, url);
        size_t l = strlen(st->url);
        while (l > 0 && st->url[l - 1] == '/')
            st->url[--l] = '\0';
        st->key = strdup(key);
        if (!st->key) {
            free(st);
            return OV_ENOMEM;
        }
        ov_log_add_secret(key);
    }
    *out = st;
    return 0;
}

const char *ov_store_backend_name(const ov_store *st)
{
    return st->be->name;
}

static int start(ov_store *st, ov_store_op *op)
{
    op->st = st;
    op->next = st->ops;
    if (st->ops)
        st->ops->prev = op;
    st->ops = op;
    int rc = st->be->put(st, op);
    if (rc != 0) {
        if (op->prev)
            op->prev->next = op->next;
        else
            st->ops = op->next;
        if (op->next)
            op->next->prev = op->prev;
        free(op->src_file);
        free(op->data);
        free(op);
    }
    return rc;
}

static ov_store_op *op_new(ov_store *st, const char *bucket, const char *path, const char *mime,
                           ov_store_done_cb done, void *ctx)
{
    if (st->closing || !done || !mime || !*mime || strlen(mime) >= 32 || !safe_object(bucket, path))
        return NULL;
    ov_store_op *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    ov_str_copy(op->bucket, sizeof op->bucket, bucket);
    ov_str_copy(op->path, sizeof op->path, path);
    ov_str_copy(op->mime, sizeof op->mime, mime);
    op->done = done;
    op->ctx = ctx;
    return op;
}

int ov_store_put_file(ov_store *st, const char *bucket, const char *path, const char *src_file, const char *mime,
                      ov_store_done_cb done, void *ctx)
{
    if (!src_file)
        return OV_EINVAL;
    ov_store_op *op = op_new(st, bucket, path, mime, done, ctx);
    if (!op)
        return OV_EINVAL;
    op->src_file = strdup(src_file);
    if (!op->src_file) {
        free(op);
        return OV_ENOMEM;
    }
    return start(st, op);
}

int ov_store_put_mem(ov_store *st, const char *bucket, const char *path, const void *data, size_t len,
                     const char *mime, ov_store_done_cb done, void *ctx)
{
    if (!data && len)
        return OV_EINVAL;
    ov_store_op *op = op_new(st, bucket, path, mime, done, ctx);
    if (!op)
        return OV_EINVAL;
    op->data = malloc(len ? len : 1);
    if (!op->data) {
        free(op);
        return OV_ENOMEM;
    }
    if (len)
        memcpy(op->data, data, len);
    op->len = len;
    return start(st, op);
}

void ov_store_op_finish(ov_store_op *op, int status, int permanent, const char *detail)
{
    ov_store *st = op->st;
    if (op->prev)
        op->prev->next = op->next;
    else
        st->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    if (!st->closing) {
        st->last_failed = status != 0;
        ov_str_copy(st->last_detail, sizeof st->last_detail, detail ? detail : "");
        op->done(op->ctx, status, permanent, detail ? detail : "");
    }
    free(op->src_file);
    free(op->data);
    free(op);
    ov_store_maybe_free(st);
}

void ov_store_maybe_free(ov_store *st)
{
    if (st->closing && !st->ops && st->busy_threads == 0) {
        free(st->key);
        free(st);
    }
}

int ov_store_check(ov_store *st, char *detail, size_t n)
{
    return st->be->check(st, detail, n);
}

void ov_store_close(ov_store *st)
{
    if (!st || st->closing)
        return;
    st->closing = 1;
    for (ov_store_op *op = st->ops, *nx; op; op = nx) {
        nx = op->next;
        st->be->abandon(st, op); /* may finish (and free) op */
    }
    ov_store_maybe_free(st);
}
