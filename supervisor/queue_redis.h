/* The native Redis job source: reliable claim/lease/ack over sdxl_queue and wan_queue. */
#ifndef OV_SUP_QUEUE_REDIS_H
#define OV_SUP_QUEUE_REDIS_H

#include <uv.h>

#include "common/config.h"
#include "delivery.h"
#include "job_source.h"

/* Key layout under cfg->redis_key_prefix (P), documented in docs/OPERATIONS.md:
 *   P:claim:<cid>      hash   one claimed job: payload, queue, token, owner, state, attempts, job_id
 *   P:leases           zset   cid -> lease deadline (server ms)
 *   P:delayed          zset   cid -> retry due time (claim state "delayed", no owner)
 *   P:attempts         hash   "id:<job_id>" -> claims so far (survives requeues)
 *   P:dead             list   dead letters (JSON: payload, reason, queue, attempts, job_id, at_ms)
 *   P:status:<job_id>  hash   state for `ourvidzctl wait` (expires after a week)
 *   P:proc:<sid>:<q>   list   blocking-pop landing list of supervisor <sid> for queue <q>
 *   P:procs            hash   processing-list key -> "<sid>|<queue>"
 *   P:alive:<sid>      string liveness of supervisor <sid> (PX lease) */
#define OV_QREDIS_STATUS_TTL_S (7 * 24 * 3600)

/* New Redis source on `loop` from cfg's [redis] section (url must be set). Takes ownership of
 * `delivery` (closed by ops->close). Connections are made in the background (reconnecting
 * forever); jobs flow once Redis answers. 0 and *out (free with ops->destroy after the loop ended),
 * OV_ECONFIG (bad url; message in err), OV_ENOMEM, OV_EIO. */
int ov_queue_redis_new(uv_loop_t *loop, const ov_config *cfg, ov_delivery *delivery, ov_job_source **out,
                       char *err, size_t errlen);

#endif
