/* Prometheus text exposition of job, worker and queue metrics; all series exist from the start. */
#include "metrics.h"

#include <stdio.h>
#include <time.h>

#include "common/error.h"
#include "sup.h"

static const double dur_le[OV_METRICS_NBUCKETS] = {0.05, 0.1, 0.25, 0.5, 1,   2.5, 5,
                                                   10,   30,  60,   120, 300, 600, 1800};
static const double ack_le[OV_METRICS_ACK_NBUCKETS] = {5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3,
                                                       5e-3, 0.01, 0.05, 0.1,  0.5,  1};
static const char *const result_names[OV_RESULT_COUNT] = {"completed", "failed", "retried", "dead"};

void ov_metrics_job_result(ov_metrics *m, int kind, int result)
{
    if (kind < 0 || kind >= OV_KIND_COUNT || result < 0 || result >= OV_RESULT_COUNT)
        return;
    m->results[kind][result]++;
    if (result == OV_RESULT_COMPLETED) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        m->last_completed_unix = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    }
}

void ov_metrics_job_duration(ov_metrics *m, int kind, double seconds)
{
    if (kind < 0 || kind >= OV_KIND_COUNT)
        return;
    for (int i = 0; i < OV_METRICS_NBUCKETS; i++)
        if (seconds <= dur_le[i]) {
            m->dur_buckets[kind][i]++;
            break;
        }
    m->dur_count[kind]++;
    m->dur_sum[kind] += seconds;
}

void ov_metrics_ack(ov_metrics *m, int64_t us)
{
    double s = (double)us / 1e6;
    for (int i = 0; i < OV_METRICS_ACK_NBUCKETS; i++)
        if (s <= ack_le[i]) {
            m->ack_buckets[i]++;
            break;
        }
    m->ack_count++;
    m->ack_sum_s += s;
}

static int help(ov_buf *b, const char *name, const char *type, const char *text)
{
    return ov_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

int ov_metrics_render(const ov_sup *s, ov_buf *b)
{
    const ov_metrics *m = &s->metrics;
    int rc = 0;
    rc |= help(b, "ourvidz_build_info", "gauge", "Build version.");
    rc |= ov_buf_printf(b, "ourvidz_build_info{version=\"%s\"} 1\n", OV_SUP_VERSION);
    rc |= help(b, "ourvidz_uptime_seconds", "gauge", "Seconds since the supervisor started.");
    rc |= ov_buf_printf(b, "ourvidz_uptime_seconds %.3f\n", (double)(uv_now(s->loop) - s->start_ms) / 1000.0);
    rc |= help(b, "ourvidz_jobs_total", "counter", "Job outcomes by type and result.");
    for (int k = 0; k < OV_KIND_COUNT; k++)
        for (int r = 0; r < OV_RESULT_COUNT; r++)
            rc |= ov_buf_printf(b, "ourvidz_jobs_total{type=\"%s\",result=\"%s\"} %lld\n", ov_kind_name(k),
                                result_names[r], (long long)m->results[k][r]);
    rc |= help(b, "ourvidz_jobs_started_total", "counter", "Jobs dispatched to a worker.");
    rc |= ov_buf_printf(b, "ourvidz_jobs_started_total %lld\n", (long long)m->started);
    rc |= help(b, "ourvidz_job_duration_seconds", "histogram", "Dispatch to result, successful jobs.");
    for (int k = 0; k < OV_KIND_COUNT; k++) {
        int64_t cum = 0;
        for (int i = 0; i < OV_METRICS_NBUCKETS; i++) {
            cum += m->dur_buckets[k][i];
            rc |= ov_buf_printf(b, "ourvidz_job_duration_seconds_bucket{type=\"%s\",le=\"%g\"} %lld\n",
                                ov_kind_name(k), dur_le[i], (long long)cum);
        }
        rc |= ov_buf_printf(b, "ourvidz_job_duration_seconds_bucket{type=\"%s\",le=\"+Inf\"} %lld\n",
                            ov_kind_name(k), (long long)m->dur_count[k]);
        rc |= ov_buf_printf(b, "ourvidz_job_duration_seconds_sum{type=\"%s\"} %.6f\n", ov_kind_name(k),
                            m->dur_sum[k]);
        rc |= ov_buf_printf(b, "ourvidz_job_duration_seconds_count{type=\"%s\"} %lld\n", ov_kind_name(k),
                            (long long)m->dur_count[k]);
    }
    rc |= help(b, "ourvidz_dispatch_ack_seconds", "histogram", "Job frame written to ACCEPT received.");
    int64_t cum = 0;
    for (int i = 0; i < OV_METRICS_ACK_NBUCKETS; i++) {
        cum += m->ack_buckets[i];
        rc |= ov_buf_printf(b, "ourvidz_dispatch_ack_seconds_bucket{le=\"%g\"} %lld\n", ack_le[i],
                            (long long)cum);
    }
    rc |=
        ov_buf_printf(b, "ourvidz_dispatch_ack_seconds_bucket{le=\"+Inf\"} %lld\n", (long long)m->ack_count);
    rc |= ov_buf_printf(b, "ourvidz_dispatch_ack_seconds_sum %.6f\nourvidz_dispatch_ack_seconds_count %lld\n",
                        m->ack_sum_s, (long long)m->ack_count);
    rc |= help(b, "ourvidz_last_job_completed_timestamp_seconds", "gauge",
               "Unix time of the last completed job.");
    rc |= ov_buf_printf(b, "ourvidz_last_job_completed_timestamp_seconds %.3f\n", m->last_completed_unix);
    rc |= help(b, "ourvidz_queue_depth", "gauge", "Jobs waiting per queue.");
    for (int k = 0; k < OV_KIND_COUNT; k++)
        rc |= ov_buf_printf(b, "ourvidz_queue_depth{queue=\"%s\"} %lld\n",
                            s->jobs->ops->queue_name(s->jobs, k), (long long)s->jobs->ops->depth(s->jobs, k));
    rc |= help(b, "ourvidz_worker_up", "gauge", "1 when the worker is ready or busy.");
    for (int i = 0; i < s->pool.n; i++) {
        const ov_worker *w = &s->pool.workers[i];
        rc |= ov_buf_printf(b, "ourvidz_worker_up{worker=\"%s\"} %d\n", w->name,
                            w->state == OV_W_READY || w->state == OV_W_BUSY);
    }
    rc |= help(b, "ourvidz_worker_restarts_total", "counter", "Worker respawns.");
    for (int i = 0; i < s->pool.n; i++)
        rc |= ov_buf_printf(b, "ourvidz_worker_restarts_total{worker=\"%s\"} %d\n", s->pool.workers[i].name,
                            s->pool.workers[i].restarts);
    rc |= help(b, "ourvidz_worker_state", "gauge", "1 for the state each worker is in.");
    for (int i = 0; i < s->pool.n; i++)
        for (int st = 0; st < OV_W_STATE_COUNT; st++)
            rc |= ov_buf_printf(b, "ourvidz_worker_state{worker=\"%s\",state=\"%s\"} %d\n",
                                s->pool.workers[i].name, ov_worker_state_name(st),
                                s->pool.workers[i].state == st);
    return rc ? OV_ENOMEM : 0;
}
