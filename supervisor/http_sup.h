/* Wiring of the HTTP surface to a running supervisor (health facts, metrics, /enhance jobs). */
#ifndef OV_SUP_HTTP_SUP_H
#define OV_SUP_HTTP_SUP_H

#include "delivery.h"
#include "http.h"

struct ov_sup;

/* Optional queue health probe (the Redis/Upstash layer provides it): 1 connected / 0 not, with a
 * detail free of secrets. */
typedef int (*ov_http_queue_check)(void *ctx, char *detail, size_t n);

/* Start the server when s->cfg.http_port > 0 (else 0 and *out = NULL: off). s->jobs must already
 * be the ov_enhance_source_wrap() wrapper for /enhance to reach the qwen workers (otherwise
 * /enhance answers 503). `d` (may be NULL) feeds the storage check; queue_check (may be NULL)
 * the queue check. 0, OV_EIO/OV_ECONFIG (err), OV_ENOMEM. */
int ov_http_sup_start(struct ov_sup *s, ov_delivery *d, ov_http_queue_check queue_check, void *queue_ctx,
                      ov_http **out, char *err, size_t errlen);
/* Stop the server started above (NULL is fine). */
void ov_http_sup_close(ov_http *h);

#endif
