/* Storage: where job outputs go (local directory or Supabase Storage) and what their objects are named. */
#ifndef OV_SUP_STORE_H
#define OV_SUP_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/config.h"
#include "http_client.h"

#define OV_STORE_ID_MAX 95      /* ids used in object paths: 1..95 of [A-Za-z0-9_-] */
#define OV_STORE_BUCKET_MAX 96
#define OV_STORE_PATH_MAX 320
#define OV_STORE_WORKSPACE_BUCKET "workspace-temp"

enum ov_store_layout {
    OV_STORE_LAYOUT_LEGACY = 0,   /* bucket = job type; July 2025 names (contract §4) */
    OV_STORE_LAYOUT_WORKSPACE = 1 /* workspace-temp/{user_id}/{job_id}/{i}.{ext} (+ .thumb.webp) */
};

/* 1 when `id` is 1..OV_STORE_ID_MAX characters of [A-Za-z0-9_-] (safe as a path segment), else 0. */
int ov_store_id_valid(const char *id);
/* "legacy" / "workspace" -> layout. 0 or OV_EINVAL. */
int ov_store_layout_parse(const char *s, int *out);

/* Content type of a file from its first bytes: "image/png", "video/mp4", "image/webp",
 * "image/jpeg"; NULL when unknown. The bucket MIME allow-lists reject anything else (the July
 * 415 invalid_mime_type trap), so uploads always carry one of these. */
const char *ov_store_sniff_mime(const uint8_t *p, size_t n);
/* Sniff a file (first 16 bytes). NULL when unreadable or unknown. */
const char *ov_store_sniff_file(const char *path);
/* "png", "mp4", "webp", "jpg" for the types above; NULL otherwise. */
const char *ov_store_mime_ext(const char *mime);

/* What object names are made of. Every id is validated; video_id may be NULL. */
typedef struct ov_store_naming {
    int layout;
    const char *job_id, *job_type, *user_id, *video_id;
    int64_t unix_ts; /* legacy names carry the upload time (unix seconds) */
} ov_store_naming;

/* Bucket and bucket-relative object path of output `index` (0-based) with content type `mime`:
 *   legacy, sdxl_* types : bucket = type, "{user_id}/sdxl_{job_id}_{ts}_{index+1}.png"
 *   legacy, WAN types    : bucket = type, "{user_id}/{video_id}.{ext}", video_id defaulting to
 *                          "video_{ts}"; a second and later output get "_{index}" before the ext
 *   workspace            : bucket = "workspace-temp", "{user_id}/{job_id}/{index}.{ext}"
 * 0, OV_EINVAL (an id or the type fails validation, unknown mime), OV_ERANGE (buffer too small). */
int ov_store_object_name(const ov_store_naming *n, int index, const char *mime, char *bucket, size_t blen,
                         char *path, size_t plen);
/* Workspace thumbnail path "{user_id}/{job_id}/{index}.thumb.webp" (bucket workspace-temp).
 * 0, OV_EINVAL (ids, or the legacy layout: it has no thumbnails), OV_ERANGE. */
int ov_store_thumb_name(const ov_store_naming *n, int index, char *path, size_t plen);

/* Thumbnail: decode the PNG at src_png, scale it to OV_STORE_THUMB_EDGE px on the long edge (never
 * up), encode WebP at quality OV_STORE_THUMB_QUALITY, write dst_webp (0640). Blocking: run it in
 * the thread pool. 0, OV_EFORMAT (not a PNG / decode error), OV_EIO, OV_ENOMEM, OV_EUNSUPP (built
 * without libwebp); err says why. */
#define OV_STORE_THUMB_EDGE 256
#define OV_STORE_THUMB_QUALITY 85
int ov_store_make_thumbnail(const char *src_png, const char *dst_webp, char *err, size_t errlen);

/* ---- upload backends ---- */
typedef struct ov_store ov_store;

/* Outcome of one upload attempt. status 0 = stored; otherwise <0 with `permanent` set when a retry
 * cannot help (missing source file, HTTP 4xx other than 408/429) and `detail` saying what
 * happened (never a secret). Called on the loop, never from inside the put call. */
typedef void (*ov_store_done_cb)(void *ctx, int status, int permanent, const char *detail);

/* Pick the backend from cfg->storage_backend: "local" (storage_dir), "supabase" (needs
 * SUPABASE_URL and SUPABASE_SERVICE_KEY), "auto" (supabase when both are set). The key is
 * registered as a log secret. `hc` is borrowed (used by the supabase backend).
 * 0, OV_ECONFIG (message in err), OV_ENOMEM. */
int ov_store_init(ov_store **out, uv_loop_t *loop, ov_hc *hc, const ov_config *cfg, char *err, size_t errlen);
/* "local" or "supabase". */
const char *ov_store_backend_name(const ov_store *st);
/* One attempt at storing `src_file` (or `len` bytes at `data`, copied) as bucket/path with the
 * given content type. 0 (done called later), OV_EINVAL (unsafe bucket/path, no mime), OV_ENOMEM. */
int ov_store_put_file(ov_store *st, const char *bucket, const char *path, const char *src_file, const char *mime,
                      ov_store_done_cb done, void *ctx);
int ov_store_put_mem(ov_store *st, const char *bucket, const char *path, const void *data, size_t len,
                     const char *mime, ov_store_done_cb done, void *ctx);
/* Health: 0 when the backend looks usable (local: root writable; supabase: the last upload did not
 * fail), else OV_EIO; a short human detail goes to `detail`. */
int ov_store_check(ov_store *st, char *detail, size_t n);
/* Abandon attempts in flight (their callbacks are not called) and free the store once nothing
 * runs in the thread pool any more. */
void ov_store_close(ov_store *st);

#endif
