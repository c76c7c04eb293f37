/* Dispatch: jobs from the job source to ready workers of their kind; results back to the source. */
#ifndef OV_SUP_DISPATCH_H
#define OV_SUP_DISPATCH_H

#include <stdint.h>

#include "ipc/message.h"
#include "worker_pool.h"

struct ov_sup;

/* Wire the source's wake callback to the dispatcher. 0 or OV_EIO. */
int ov_dispatch_init(struct ov_sup *s);
/* Give jobs to every ready worker while the source has jobs (no-op while draining). */
void ov_dispatch_kick(struct ov_sup *s);
/* A job-related frame from worker w (ACCEPT, PROGRESS, RESULT, ERROR with a job id). */
void ov_dispatch_on_msg(ov_worker *w, const ov_msg *m);
/* Return w's job (if any) to the source without a verdict (the worker died or is stopping). */
void ov_dispatch_handback(ov_worker *w, const char *reason);
/* Job timeout: CANCEL past job_timeout, kill if it has not stopped within stop_timeout. */
void ov_dispatch_tick(ov_worker *w, uint64_t now_ms);
/* Close the wake handle. */
void ov_dispatch_close(struct ov_sup *s);

#endif
