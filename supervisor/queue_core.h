/* Shared core of the Redis-semantics job sources: job records, stages, delivery, retry policy. */
#ifndef OV_SUPERVISOR_QUEUE_CORE_H
#define OV_SUPERVISOR_QUEUE_CORE_H

/* queue_redis.c (hiredis) and queue_upstash_src.c (Upstash REST) hold claims with the same
 * keys, Lua scripts and invariants (see queue_redis.c). This core owns everything above the
 * transport: the claimed-job records, the ready lists, stage handling (qwen enhance -> wan),
 * delivery, retry / hand-back / dead-letter policy and the ov_job_source ops. A transport embeds
 * ov_qcore as its first member and implements ov_qcore_ops; the replies to its asynchronous
 * operations come back into the core through ov_qcore_claimed / ov_qcore_op_done /
 * ov_qcore_lease_lost / ov_qcore_reaped. Single-threaded (the loop thread). */

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"
#include "common/config.h"
#include "delivery.h"
#include "job_contract.h"
#include "job_source.h"

#define OV_QCORE_NQ 2 /* producer queues: 0 = sdxl, 1 = wan */
#define OV_QCORE_KEY_MAX 256

enum ov_qrec_state {
    OV_QREC_CLAIMING,   /* CLAIM to send / in flight (queue_redis only) */
    OV_QREC_READY,      /* in a ready list, waiting for a worker */
    OV_QREC_RUNNING,    /* at a worker */
    OV_QREC_DELIVERING, /* ov_delivery_start called, done callback pending */
    OV_QREC_FINISHING,  /* FINISH to send / in flight */
    OV_QREC_RETRYING    /* RETRY to send / in flight */
};

typedef struct ov_qcore ov_qcore;

typedef struct ov_qrec {
    ov_job job; /* first member: ov_job* <-> ov_qrec* */
    ov_qcore *s;
    struct ov_qrec *prev, *next; /* all records */
    struct ov_qrec *rnext;       /* ready list */
    int state;                   /* enum ov_qrec_state */
    int qi;                      /* producer queue index */
    char cid[64], token[128];
    char *payload;
    size_t payload_len;
    ov_job_spec spec;
    int parse_rc; /* 0, OV_EINVAL (id known), OV_EFORMAT (no id), OV_ENOMEM */
    int stage;
    int op_inflight; /* a CLAIM / FINISH / RETRY awaits its reply */
    int lost;        /* renewal found another token: drop silently */
    int64_t retry_delay_ms;
    char final_state[16]; /* FINISH: "completed" | "failed" | "dead" */
    int dead_letter;      /* FINISH pushes a dead-letter entry */
    char reason[512];
    uint64_t last_renew_ms;
} ov_qrec;

/* What a transport does; every operation is asynchronous and reports back through the core
 * entry points named on each. */
typedef struct ov_qcore_ops {
    /* Send the operation r->state asks for (CLAIM / FINISH / RETRY) unless one is in flight;
     * its reply goes to ov_qcore_op_done (CLAIM: ov_qcore_claimed). */
    void (*send)(ov_qrec *r);
    /* Renew every held claim (replies: ov_qcore_lease_lost per lost cid). */
    void (*renew)(ov_qcore *c);
    /* Demand on producer queue qi may have changed (want[qi], nready): claim more or stop. */
    void (*kick)(ov_qcore *c, int qi);
    /* Jobs still waiting in producer queue qi (for depth); NULL: 0. */
    int64_t (*queued)(ov_qcore *c, int qi);
    /* Close the transport's handles (the core's timers are already closing). */
    void (*close)(ov_qcore *c);
    /* describe(): NULL = redis layout (with phase, dispatch_ack_us); else no phase/ack and a
     * "transport" field with this value. */
    const char *describe_transport;
    int log_result; /* complete() logs job_result at debug */
} ov_qcore_ops;

struct ov_qcore {
    ov_job_source base; /* first member */
    const ov_qcore_ops *tops;
    uv_loop_t *loop;
    ov_delivery *dlv;
    char prefix[64], sid[40];
    char queue[OV_QCORE_NQ][64];
    char k_proc[OV_QCORE_NQ][OV_QCORE_KEY_MAX];
    const ov_job_types *types;
    ov_job_types own_types;
    int64_t lease_ms, backoff_initial_ms, backoff_max_ms, dead_max;
    int max_attempts;
    int want[OV_QCORE_NQ]; /* a worker asked and found nothing (cleared when one gets a job) */
    ov_qrec *all;
    ov_qrec *rhead[OV_KIND_COUNT], *rtail[OV_KIND_COUNT];
    int64_t nready[OV_KIND_COUNT];
    uv_timer_t renew_t, maint_t; /* initialised and started by the transport, closed by close() */
    int closing;
    uint64_t rng;
};

/* Fill the shared part of c from cfg (job types, random sid, prefix, queues, processing-list
 * keys, lease / backoff / dead-letter / attempt limits) and set c->base.ops. 0 or OV_ECONFIG
 * (err filled). c is zeroed by the caller; ops, loop and dlv are borrowed. */
int ov_qcore_init(ov_qcore *c, const ov_qcore_ops *ops, uv_loop_t *loop, const ov_config *cfg,
                  ov_delivery *dlv, char *err, size_t errlen);

/* n-1 random hex characters and a NUL into out. */
void ov_qcore_rand_hex(ov_qcore *c, char *out, size_t n);
/* Producer queue index of a worker kind, -1 for none. */
int ov_qcore_kind_queue(int kind);
/* Name of an ov_qrec_state. */
const char *ov_qcore_state_name(int state);

/* A new record for a claimed payload (copied), parsed and linked; state CLAIMING. bare: only
 * parse and job id (queue_redis's reaped records); else also spec.queue, job type, kind and
 * dispatch_ack_us. NULL when out of memory. Owned by c (freed by ov_qcore_rec_free). */
ov_qrec *ov_qcore_rec_new(ov_qcore *c, int qi, const char *payload, size_t len, const char *cid,
                          const char *token, int attempts, int bare);
void ov_qcore_rec_free(ov_qcore *c, ov_qrec *r);

/* The claim of r is held (attempts set): dead-letter / fail / stage it for a worker. */
void ov_qcore_claimed(ov_qrec *r);
/* A claim MAINT took over for good: failed callback (job id known) or dead letter, for why. */
void ov_qcore_reaped(ov_qrec *r, const char *why);
/* The FINISH / RETRY of r was applied (token_mismatch: answered 0): log and free r. */
void ov_qcore_op_done(ov_qrec *r, int token_mismatch);
/* RENEW found claim cid held by another token. */
void ov_qcore_lease_lost(ov_qcore *c, const char *cid);
/* Re-send every CLAIM / FINISH / RETRY not in flight. */
void ov_qcore_resend_stalled(ov_qcore *c);
/* Log a MAINT answer's counts (when any is non-zero). */
void ov_qcore_maint_log(long long promoted, long long requeued, long long orphans);
/* The dead-letter JSON entry for r into b. */
void ov_qcore_dead_entry(const ov_qrec *r, ov_buf *b);

#endif
