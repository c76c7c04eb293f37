/* job-callback: body rendering (jansson, ordered keys) and a single POST attempt with its verdict. */
#include "callback.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "strcopy.h"

struct ov_callback {
    ov_hc *hc;
    char url[OV_CONFIG_PATH_MAX];
    char *auth; /* "Authorization: Bearer ..." or NULL */
    int64_t timeout_ms;
};

int ov_callback_format_parse(const char *s, int *out)
{
    if (s && strcmp(s, "paths") == 0)
        *out = OV_CB_ASSETS_PATHS;
    else if (s && strcmp(s, "objects") == 0)
        *out = OV_CB_ASSETS_OBJECTS;
    else
        return OV_EINVAL;
    return 0;
}

/* A JSON string from arbitrary bytes: invalid UTF-8 sequences become U+FFFD (jansson refuses them). */
static json_t *jstr(const char *s)
{
    json_t *v = json_string(s ? s : "");
    if (v)
        return v;
    size_t n = strlen(s);
    if (n > OV_CALLBACK_BODY_MAX)
        return NULL;
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        int ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = (p[i + k] & 0xc0) == 0x80;
        if (ok && len > 1) {
            /* Reject overlongs, surrogates and > U+10FFFF the way jansson does. */
            uint32_t cp = len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
            for (size_t k = 1; k < len; k++)
                cp = cp << 6 | (p[i + k] & 0x3f);
            ok = !((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                   (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff);
        }
        if (ok && !(len == 1 && c == 0)) {
            memcpy(out + o, p + i, len);
            o += len;
            i += len;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    v = json_string(out);
    free(out);
    return v;
}

static json_t *kv_value(const ov_kv *kv)
{
    switch (kv->type) {
    case OV_KV_INT: return json_integer(kv->i);
    case OV_KV_FLOAT: return json_real(kv->f);
    case OV_KV_STR: return jstr(kv->s);
    case OV_KV_BOOL: return json_boolean(kv->i != 0);
    default: return json_null();
    }
}

/* Set and steal; returns nonzero when the value could not be made or set. */
static int put(json_t *o, const char *key, json_t *v)
{
    if (!v)
        return 1;
    return json_object_set_new(o, key, v) != 0;
}

static const char *mime_format(const char *mime)
{
    const char *slash = mime ? strchr(mime, '/') : NULL;
    return slash ? slash + 1 : "";
}

/* The W-HEAD worker's per-image metadata beyond size and seed, from the worker's job metadata where
 * it reported them: batch_size, steps, guidance_scale, negative_prompt_used, and for image-to-image
 * pipeline / denoise_strength / resize_policy. */
static int image_extras(const ov_kvlist *meta, json_t *m)
{
    int64_t iv;
    double dv;
    const char *sv;
    int e = 0;
    if (!meta)
        return 0;
    if (ov_kvlist_get_int(meta, "num_images", &iv) == 0)
        e |= put(m, "batch_size", json_integer(iv));
    if (ov_kvlist_get_int(meta, "steps", &iv) == 0)
        e |= put(m, "steps", json_integer(iv));
    if (ov_kvlist_get_float(meta, "guidance_scale", &dv) == 0)
        e |= put(m, "guidance_scale", json_real(dv));
    if (ov_kvlist_get_str(meta, "negative_conditioning", &sv) == 0 && sv)
        e |= put(m, "negative_prompt_used", json_boolean(strcmp(sv, "encoded") == 0));
    if (ov_kvlist_get_str(meta, "pipeline", &sv) == 0 && sv && strcmp(sv, "img2img") == 0) {
        e |= put(m, "pipeline", json_string(sv));
        if (ov_kvlist_get_float(meta, "denoise_strength", &dv) == 0)
            e |= put(m, "denoise_strength", json_real(dv));
        if (ov_kvlist_get_str(meta, "resize_policy", &sv) == 0 && sv)
            e |= put(m, "resize_policy", json_string(sv));
    }
    return e;
}

static json_t *asset_object(const ov_cb_body *b, const ov_cb_asset *a, int have_seed, int64_t seed)
{
    json_t *o = json_object(), *m = json_object();
    int video = a->mime && strncmp(a->mime, "video/", 6) == 0;
    int e = !o || !m;
    if (!e) {
        e |= put(o, "type", json_string(video ? "video" : "image"));
        e |= put(o, "url", json_string(a->path));
        e |= put(o, "thumbnail_url", a->thumb_path ? json_string(a->thumb_path) : json_null());
        e |= put(m, "asset_index", json_integer(a->index));
        e |= put(m, "bucket", json_string(a->bucket ? a->bucket : ""));
        e |= put(m, "content_type", json_string(a->mime ? a->mime : ""));
        e |= put(m, "format", json_string(mime_format(a->mime)));
        if (a->size_bytes >= 0)
            e |= put(m, "file_size_bytes", json_integer(a->size_bytes));
        if (a->width > 0 && a->height > 0) {
            e |= put(m, "width", json_integer(a->width));
            e |= put(m, "height", json_integer(a->height));
        }
        if (have_seed)
            e |= video ? put(m, "generation_seed", json_integer(seed)) : put(m, "seed", json_integer(seed + a->index));
        if (!video)
            e |= image_extras(b->meta, m);
        e |= json_object_set(o, "metadata", m) != 0;
    }
    json_decref(m);
    if (e) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int ov_callback_body(const ov_cb_body *b, ov_buf *out)
{
    if (!b || !b->job_id || !b->status || (b->nassets > 0 && !b->assets))
        return OV_EINVAL;
    json_t *extra = NULL;
    if (b->metadata_json && *b->metadata_json) {
        json_error_t jerr;
        extra = json_loads(b->metadata_json, JSON_REJECT_DUPLICATES, &jerr);
        if (!extra || !json_is_object(extra)) {
            json_decref(extra);
            return OV_EINVAL;
        }
    }
    int completed = strcmp(b->status, "completed") == 0;
    json_t *root = json_object(), *assets = json_array(), *meta = json_object();
    int e = !root || !assets || !meta;
    int64_t seed = 0;
    int have_seed = b->meta && ov_kvlist_get_int(b->meta, "seed", &seed) == 0;
    int nimages = 0;
    for (int i = 0; !e && completed && i < b->nassets; i++) {
        const ov_cb_asset *a = &b->assets[i];
        if (!a->path) {
            e = 1;
            break;
        }
        if (!(a->mime && strncmp(a->mime, "video/", 6) == 0))
            nimages++;
        json_t *v = b->asset_format == OV_CB_ASSETS_OBJECTS ? asset_object(b, a, have_seed, seed)
                                                             : json_string(a->path);
        e |= !v || json_array_append_new(assets, v) != 0;
    }
    if (!e && b->meta)
        for (uint32_t i = 0; i < b->meta->n && !e; i++)
            e |= put(meta, b->meta->items[i].key, kv_value(&b->meta->items[i]));
    if (!e && b->job_type)
        e |= put(meta, "job_type", json_string(b->job_type));
    if (!e && completed && nimages > 0 && !json_object_get(meta, "num_images"))
        e |= put(meta, "num_images", json_integer(nimages));
    if (!e) {
        char ts[40];
        time_t secs = (time_t)(b->unix_ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        size_t l = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts + l, sizeof ts - l, ".%03dZ", (int)(b->unix_ms % 1000));
        e |= put(meta, "timestamp", json_string(ts));
    }
    if (!e && strcmp(b->status, "processing") == 0 && b->progress >= 0)
        e |= put(meta, "progress", json_real(b->progress));
    if (!e && extra)
        e |= json_object_update(meta, extra) != 0;
    if (!e) {
        e |= put(root, "job_id", json_string(b->job_id));
        e |= put(root, "status", json_string(b->status));
        e |= json_object_set(root, "assets", assets) != 0;
        e |= put(root, "error_message", b->error_message ? jstr(b->error_message) : json_null());
        e |= json_object_set(root, "metadata", meta) != 0;
    }
    char *txt = e ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(extra);
    json_decref(assets);
    json_decref(meta);
    json_decref(root);
    if (!txt)
        return e ? OV_EINVAL : OV_ENOMEM;
    int rc = ov_buf_puts(out, txt);
    free(txt);
    return rc;
}

int ov_callback_classify(const ov_hc_result *r, int *permanent, char *detail, size_t n)
{
    *permanent = 0;
    if (r->status != 0) {
        snprintf(detail, n, "%s", r->error);
        return r->status;
    }
    long c = r->http_status;
    if (c >= 200 && c < 300) {
        snprintf(detail, n, "HTTP %ld", c);
        return 0;
    }
    char body[120];
    size_t k = r->body_len < sizeof body - 1 ? r->body_len : sizeof body - 1;
    for (size_t i = 0; i < k; i++)
        body[i] = (r->body[i] >= 0x20 && r->body[i] < 0x7f) ? r->body[i] : ' ';
    body[k] = '\0';
    snprintf(detail, n, "HTTP %ld %s", c, body);
    *permanent = c >= 400 && c < 500 && c != 408 && c != 429;
    return *permanent ? OV_EINVAL : OV_EIO;
}

int ov_callback_init(ov_callback **out, ov_hc *hc, const ov_config *cfg, char *err, size_t errlen)
{
    ov_callback *cb = calloc(1, sizeof *cb);
    if (!cb)
        return OV_ENOMEM;
    cb->hc = hc;
    cb->timeout_ms = cfg->callback_timeout_ms;
    const char *sb = getenv("SUPABASE_URL"), *key = getenv("SUPABASE_SERVICE_KEY");
    if (cfg->callback_url[0]) {
        ov_str_copy(cb->url, sizeof cb->url, cfg->callback_url);
    } else if (sb && *sb) {
        char base[OV_CONFIG_PATH_MAX];
        ov_str_copy(base, sizeof base, sb);
        size_t l = strlen(base);
        while (l > 0 && base[l - 1] == '/')
            base[--l] = '\0';
        if ((size_t)snprintf(cb->url, sizeof cb->url, "%s/functions/v1/job-callback", base) >= sizeof cb->url) {
            snprintf(err, errlen, "SUPABASE_URL is too long");
            free(cb);
            return OV_ECONFIG;
        }
    }
    if (cb->url[0] && strncmp(cb->url, "http://", 7) != 0 && strncmp(cb->url, "https://", 8) != 0) {
        snprintf(err, errlen, "callback.url must start with http:// or https://");
        free(cb);
        return OV_ECONFIG;
    }
    if (key && *key) {
        ov_log_add_secret(key);
        size_t n = strlen(key) + 32;
        cb->auth = malloc(n);
        if (!cb->auth) {
            free(cb);
            return OV_ENOMEM;
        }
        snprintf(cb->auth, n, "Authorization: Bearer %s", key);
    }
    *out = cb;
    return 0;
}

int ov_callback_enabled(const ov_callback *cb)
{
    return cb && cb->url[0] != '\0';
}

const char *ov_callback_url(const ov_callback *cb)
{
    return cb->url;
}

int ov_callback_post(ov_callback *cb, const char *body, size_t len, ov_hc_done_cb done, void *ctx,
                     ov_hc_req **req_out)
{
    if (!ov_callback_enabled(cb))
        return OV_EINVAL;
    ov_hc_opts o = {.method = "POST", .url = cb->url, .body = body, .body_len = len, .timeout_ms = cb->timeout_ms};
    int h = 0;
    o.headers[h++] = "Content-Type: application/json";
    if (cb->auth)
        o.headers[h++] = cb->auth;
    return ov_hc_start(cb->hc, &o, done, ctx, req_out);
}

void ov_callback_free(ov_callback *cb)
{
    if (!cb)
        return;
    free(cb->auth);
    free(cb);
}
