/* Per-op stream-time profile of the CUDA backend, for finding where a model's GPU time goes when no
 * hardware profiler is at hand: OURVIDZ_CUDA_PROFILE=1 at backend open.
 *
 * Every ov_cuda_enter(op) records an event on the backend's stream; the stream time from one op's
 * event to the next one's is charged to the first op (all work of a backend is in order on its one
 * stream). That time includes any gap in which the GPU waited for the host to queue the next op,
 * so launch-bound phases show up under the ops that precede the gaps: it is the wall time the
 * stream spent, not kernel time. Host-side "sync"/"download" marks make the waits visible too.
 * Events are folded into per-name totals every FOLD marks (one stream sync each), and the table is
 * printed to stderr when the backend closes. Off: one pointer test per op. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tensor/cuda/cuda_internal.h"

#define FOLD 4096 /* marks held before folding */
#define MAX_OPS 96

struct ov_cuda_prof {
    cudaStream_t stream;
    cudaEvent_t ev[FOLD];
    const char *op[FOLD];
    int n;
    struct {
        const char *op;
        long long calls;
        double ms;
    } agg[MAX_OPS];
    int n_agg;
    long long dropped; /* marks whose event could not be made */
};

void ov_cuda_prof_open(ov_cuda *c)
{
    const char *e = getenv("OURVIDZ_CUDA_PROFILE");
    if (!e || strcmp(e, "1") != 0)
        return;
    c->prof = (struct ov_cuda_prof *)calloc(1, sizeof *c->prof);
    if (c->prof)
        c->prof->stream = c->stream;
}

static void charge(struct ov_cuda_prof *p, const char *op, double ms)
{
    int i = 0;
    while (i < p->n_agg && strcmp(p->agg[i].op, op) != 0)
        i++;
    if (i == p->n_agg) {
        if (p->n_agg == MAX_OPS)
            i = MAX_OPS - 1; /* the last row takes the overflow */
        else
            p->agg[p->n_agg++].op = op;
    }
    p->agg[i].calls++;
    p->agg[i].ms += ms;
}

/* Charge every interval but the last mark's, which stays as the start of the next batch. */
static void fold(struct ov_cuda_prof *p)
{
    if (p->n < 2)
        return;
    (void)cudaEventSynchronize(p->ev[p->n - 1]);
    for (int i = 0; i + 1 < p->n; i++) {
        float ms = 0.0f;
        if (cudaEventElapsedTime(&ms, p->ev[i], p->ev[i + 1]) == cudaSuccess)
            charge(p, p->op[i], (double)ms);
        (void)cudaEventDestroy(p->ev[i]);
    }
    p->ev[0] = p->ev[p->n - 1];
    p->op[0] = p->op[p->n - 1];
    p->n = 1;
    (void)cudaGetLastError();
}

void ov_cuda_prof_mark(ov_cuda *c, const char *op)
{
    struct ov_cuda_prof *p = c->prof;
    /* helpers called from inside an op would split its time: not marks of their own */
    if (!strcmp(op, "scratch") || !strcmp(op, "alloc") || !strcmp(op, "free") || !strcmp(op, "host_alloc") ||
        !strcmp(op, "wait_slot"))
        return;
    if (p->n == FOLD)
        fold(p);
    cudaEvent_t ev;
    if (cudaEventCreate(&ev) != cudaSuccess || cudaEventRecord(ev, p->stream) != cudaSuccess) {
        (void)cudaGetLastError();
        p->dropped++;
        return;
    }
    p->ev[p->n] = ev;
    p->op[p->n] = op;
    p->n++;
}

void ov_cuda_prof_close(ov_cuda *c)
{
    struct ov_cuda_prof *p = c->prof;
    if (!p)
        return;
    ov_cuda_prof_mark(c, "(end)");
    fold(p);
    if (p->n == 1)
        (void)cudaEventDestroy(p->ev[0]);
    double total = 0.0;
    for (int i = 0; i < p->n_agg; i++)
        total += p->agg[i].ms;
    /* largest first */
    for (int i = 0; i < p->n_agg; i++)
        for (int j = i + 1; j < p->n_agg; j++)
            if (p->agg[j].ms > p->agg[i].ms) {
                __typeof__(p->agg[0]) t = p->agg[i];
                p->agg[i] = p->agg[j];
                p->agg[j] = t;
            }
    fprintf(stderr, "cuda profile (%s): stream time from each op's start to the next op's, %.1f ms in all%s\n",
            c->name, total, p->dropped ? " (some marks dropped)" : "");
    fprintf(stderr, "| op | calls | ms | %% | µs per call |\n|---|---|---|---|---|\n");
    for (int i = 0; i < p->n_agg; i++)
        fprintf(stderr, "| %s | %lld | %.2f | %.1f | %.1f |\n", p->agg[i].op, p->agg[i].calls, p->agg[i].ms,
                total > 0 ? 100.0 * p->agg[i].ms / total : 0.0,
                p->agg[i].calls ? 1e3 * p->agg[i].ms / (double)p->agg[i].calls : 0.0);
    free(p);
    c->prof = NULL;
}
