/* /enhance jobs: a job-source wrapper that runs POST /enhance prompts on the qwen workers. */
#ifndef OV_SUP_HTTP_ENHANCE_H
#define OV_SUP_HTTP_ENHANCE_H

#include <stdint.h>

#include "http.h"
#include "job_source.h"

#define OV_ENHANCE_QUEUE_MAX 64 /* waiting /enhance jobs; more are refused (OV_EBUSY) */

/* The job sent to the qwen worker: task "enhance", params {prompt: str, enhance_type: str};
 * the worker answers RESULT with meta {enhanced_prompt: str} (no output files). */
#define OV_ENHANCE_TASK "enhance"

/* Wrap `inner` (ownership moves to the wrapper: its destroy destroys inner). Install the wrapper
 * as ov_sup.jobs BEFORE ov_dispatch_init(). Every op forwards to inner, except that qwen workers
 * take waiting /enhance jobs first and their outcomes go to the HTTP request, not to inner.
 * 0 or OV_ENOMEM. */
int ov_enhance_source_wrap(ov_job_source *inner, ov_job_source **out);
/* Queue one enhancement. done(req, ...) is called exactly once, later, unless cancelled.
 * 0 and *token, OV_EINVAL, OV_EBUSY (queue full), OV_ENOMEM. */
int ov_enhance_submit(ov_job_source *wrapper, const char *prompt, const char *enhance_type,
                      ov_http_enhance_done done, void *req, uint64_t *token);
/* Forget a request: a waiting job is dropped; a running one finishes unseen. */
void ov_enhance_cancel(ov_job_source *wrapper, uint64_t token);

#endif
