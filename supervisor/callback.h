/* Callbacks: the job-callback request body (OurVidz contract §5) and one POST attempt. */
#ifndef OV_SUP_CALLBACK_H
#define OV_SUP_CALLBACK_H

#include <stdint.h>

#include "common/buf.h"
#include "common/config.h"
#include "http_client.h"
#include "ipc/message.h"

#define OV_CALLBACK_BODY_MAX (1u << 20)

enum ov_cb_asset_format {
    OV_CB_ASSETS_PATHS = 0,  /* July 2025: bucket-relative path strings, in index order */
    OV_CB_ASSETS_OBJECTS = 1 /* September 2025: objects, see ov_callback_body() */
};
/* "paths" / "objects" -> format. 0 or OV_EINVAL. */
int ov_callback_format_parse(const char *s, int *out);

/* One stored output. Strings borrowed. */
typedef struct ov_cb_asset {
    const char *bucket;
    const char *path;       /* bucket-relative object path */
    const char *thumb_path; /* bucket-relative thumbnail path, NULL when none */
    const char *mime;       /* "image/png", "video/mp4", ... */
    int index;              /* 0-based */
    int64_t size_bytes;     /* -1 unknown */
    int width, height;      /* 0 unknown */
} ov_cb_asset;

typedef struct ov_cb_body {
    const char *job_id;
    const char *job_type;
    const char *status; /* "completed" | "failed" | "processing" */
    int asset_format;
    const ov_cb_asset *assets;
    int nassets;
    const char *error_message; /* NULL -> null */
    const ov_kvlist *meta;     /* the worker's result metadata (NULL: none) */
    const char *metadata_json; /* a JSON object merged last (NULL: none) */
    double progress;           /* "processing" only: 0..1, <0 = not sent */
    int64_t unix_ms;           /* metadata.timestamp */
} ov_cb_body;

/* Render the body:
 *   {"job_id": ..., "status": ..., "assets": [...], "error_message": null|"...", "metadata": {...}}
 * assets, paths format:   ["<path>", ...] ([] unless completed)
 * assets, objects format: [{"type": "image"|"video", "url": "<path>", "thumbnail_url": "<path>"|null,
 *                           "metadata": {"asset_index": i, "bucket": "...", "content_type": "...",
 *                                        "format": "png", "file_size_bytes": n, "width": w,
 *                                        "height": h, "seed": seed+i (images) |
 *                                        "generation_seed": seed (videos), images also
 *                                        "batch_size", "steps", "guidance_scale",
 *                                        "negative_prompt_used" and, for image-to-image,
 *                                        "pipeline": "img2img", "denoise_strength",
 *                                        "resize_policy" (the W-HEAD worker's fields)}}]
 *   (width/height/file_size_bytes/seed and the image fields only when known: taken from `meta`'s
 *   num_images / steps / guidance_scale / negative_conditioning / pipeline / denoise_strength /
 *   resize_policy)
 * metadata: every key of `meta` with its type, then "job_type", "num_images" (images, when
 * completed), "timestamp" (ISO 8601 UTC), "progress" (processing), then metadata_json's keys
 * (they win). 0, OV_EINVAL (metadata_json is not a JSON object, missing fields), OV_ENOMEM. */
int ov_callback_body(const ov_cb_body *b, ov_buf *out);

/* ---- sender ---- */
typedef struct ov_callback ov_callback;

/* Classify one attempt's transfer result: 0 = delivered (2xx); <0 otherwise, with *permanent set
 * when the endpoint refused it for good (4xx other than 408/429) and `detail` naming the HTTP code
 * or the transport error. */
int ov_callback_classify(const ov_hc_result *r, int *permanent, char *detail, size_t n);

/* URL: cfg->callback_url, else {SUPABASE_URL}/functions/v1/job-callback, else none (callbacks
 * disabled: ov_callback_enabled() is 0). Bearer key: SUPABASE_SERVICE_KEY when set (registered as
 * a log secret). `hc` borrowed. 0, OV_ECONFIG (bad URL scheme), OV_ENOMEM. */
int ov_callback_init(ov_callback **out, ov_hc *hc, const ov_config *cfg, char *err, size_t errlen);
int ov_callback_enabled(const ov_callback *cb);
/* The URL (no secrets in it: used in logs). */
const char *ov_callback_url(const ov_callback *cb);
/* One POST of `body` (copied), application/json. 0 (done called later, unless
 * ov_hc_cancel(*req_out); classify its result with ov_callback_classify), OV_EINVAL (disabled),
 * OV_ENOMEM. */
int ov_callback_post(ov_callback *cb, const char *body, size_t len, ov_hc_done_cb done, void *ctx,
                     ov_hc_req **req_out);
void ov_callback_free(ov_callback *cb);

#endif
