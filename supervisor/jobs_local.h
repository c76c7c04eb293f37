/* An in-memory job source (FIFO per kind) for ourvidzctl submit and the tests. */
#ifndef OV_SUP_JOBS_LOCAL_H
#define OV_SUP_JOBS_LOCAL_H

#include "job_source.h"

#define OV_JOBS_LOCAL_QUEUE_MAX 100000 /* waiting jobs per source; submit past it is OV_ENOMEM */
#define OV_JOBS_LOCAL_HISTORY 20000    /* finished jobs kept for "job <id>"; oldest dropped */

/* New local source. A handed-back job is requeued at the head of its queue with attempts+1 until
 * max_attempts deliveries, then dead. 0 and *out (free with ops->destroy), or OV_ENOMEM. */
int ov_jobs_local_new(int max_attempts, ov_job_source **out);

#endif
