/* Counters and histograms kept by the supervisor, rendered as Prometheus text (ECOSYSTEM.md §4.1). */
#ifndef OV_SUP_METRICS_H
#define OV_SUP_METRICS_H

#include <stdint.h>

#include "common/buf.h"
#include "common/config.h"

enum ov_job_result {
    OV_RESULT_COMPLETED = 0,
    OV_RESULT_FAILED,
    OV_RESULT_RETRIED,
    OV_RESULT_DEAD,
    OV_RESULT_COUNT
};

#define OV_METRICS_NBUCKETS 14
#define OV_METRICS_ACK_NBUCKETS 12

typedef struct ov_metrics {
    /* job counters shown in status (all kinds): started, completed, failed, retried, dead */
    int64_t started, completed, failed, retried, dead;
    int64_t results[OV_KIND_COUNT][OV_RESULT_COUNT];
    int64_t dur_buckets[OV_KIND_COUNT][OV_METRICS_NBUCKETS]; /* non-cumulative */
    int64_t dur_count[OV_KIND_COUNT];
    double dur_sum[OV_KIND_COUNT];
    int64_t ack_buckets[OV_METRICS_ACK_NBUCKETS];
    int64_t ack_count;
    double ack_sum_s;
    double last_completed_unix; /* 0 = never */
} ov_metrics;

struct ov_sup;

void ov_metrics_job_result(ov_metrics *m, int kind, int result);
void ov_metrics_job_duration(ov_metrics *m, int kind, double seconds);
/* Dispatch -> ACCEPT latency of one job. */
void ov_metrics_ack(ov_metrics *m, int64_t us);
/* Append the whole exposition (every series present from start) to out. 0 or OV_ENOMEM. */
int ov_metrics_render(const struct ov_sup *s, ov_buf *out);

#endif
