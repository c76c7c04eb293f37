/* Per-op stream-time profile of the CUDA backend, for finding where a model's GPU time goes when no
 * hardware profiler is at hand: OURVIDZ_CUDA_PROFILE=1 at backend open.
 *
 * Every ov_cuda_enter(op) records an event on the backend's stream, and the op's last launch
 * (ov_cuda_launched / a successful cuBLAS call / an upload's or download's copy: ov_cuda_prof_end)
 * a second one. Per op name the table sums the stream time from its start to the next op's start
 * ("wall": all work of a backend is in order on its one stream) and, of that, the time from its
 * start to its end event ("busy": its kernels, queued work ahead of them included); wall − busy is
 * the stream idling after the op while the host prepared the next one (launch overhead, host
 * work, syncs). Ops with no end event (sync, an op whose helper marked itself in between) count
 * their wall time as busy. ov_backend_phase(be, name) starts a phase ("start" until the first):
 * one table per phase, in order of first appearance.
 * Events are folded into per-name totals every FOLD marks (one stream sync each), and the table is
 * printed to stderr when the backend closes. Off: one pointer test per op.
 * Ops that name their shape (ov_cuda_prof_detail: conv, attention) are also summed per (phase, op,
 * shape key), and each phase's table is followed by its TOP_KEYS keys by busy time with TFLOP/s. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tensor/cuda/cuda_internal.h"

#define FOLD 4096 /* marks held before folding */
#define MAX_OPS 256 /* (phase, op) pairs */
#define MAX_KEYS 1024 /* (phase, op, shape key) rows */
#define KEY_LEN 96
#define TOP_KEYS 30

struct ov_cuda_prof {
    cudaStream_t stream;
    cudaEvent_t ev[FOLD];
    cudaEvent_t end[FOLD]; /* NULL: the op recorded no end */
    const char *op[FOLD];
    const char *ph[FOLD]; /* the phase each mark belongs to */
    int key[FOLD];        /* its shape key (index into keys), -1: none */
    double flops[FOLD];   /* its FLOPs per call (0: unknown) */
    char keys[MAX_KEYS][KEY_LEN];
    int n_keys;
    struct {
        const char *ph, *op;
        int key;
        long long calls;
        double busy, flops;
    } kagg[MAX_KEYS];
    int n_kagg;
    const char *cur;      /* the current phase */
    int n;
    struct {
        const char *ph, *op;
        long long calls;
        double ms, busy;
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
    if (c->prof) {
        c->prof->stream = c->stream;
        c->prof->cur = "start";
    }
}

void ov_cuda_prof_phase(ov_cuda *c, const char *name)
{
    if (c->prof && name)
        c->prof->cur = name;
}

static void charge_key(struct ov_cuda_prof *p, const char *ph, const char *op, int key, double busy,
                       double flops)
{
    int i = 0;
    while (i < p->n_kagg && (p->kagg[i].key != key || strcmp(p->kagg[i].op, op) != 0 || strcmp(p->kagg[i].ph, ph) != 0))
        i++;
    if (i == p->n_kagg) {
        if (p->n_kagg == MAX_KEYS)
            return; /* the table is full: later shapes stay in the per-op totals only */
        p->kagg[i].ph = ph;
        p->kagg[i].op = op;
        p->kagg[i].key = key;
        p->n_kagg++;
    }
    p->kagg[i].calls++;
    p->kagg[i].busy += busy;
    p->kagg[i].flops += flops;
}

void ov_cuda_prof_detail(ov_cuda *c, double flops, const char *fmt, ...)
{
    struct ov_cuda_prof *p = c->prof;
    if (!p || p->n == 0)
        return;
    char k[KEY_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k, sizeof k, fmt, ap);
    va_end(ap);
    int i = 0;
    while (i < p->n_keys && strcmp(p->keys[i], k) != 0)
        i++;
    if (i == p->n_keys) {
        if (p->n_keys == MAX_KEYS)
            return;
        memcpy(p->keys[p->n_keys++], k, sizeof k);
    }
    p->key[p->n - 1] = i;
    p->flops[p->n - 1] = flops;
}

static void charge(struct ov_cuda_prof *p, const char *ph, const char *op, double ms, double busy)
{
    int i = 0;
    while (i < p->n_agg && (strcmp(p->agg[i].op, op) != 0 || strcmp(p->agg[i].ph, ph) != 0))
        i++;
    if (i == p->n_agg) {
        if (p->n_agg == MAX_OPS) {
            i = MAX_OPS - 1; /* the last row takes the overflow */
        } else {
            p->agg[p->n_agg].ph = ph;
            p->agg[p->n_agg++].op = op;
        }
    }
    p->agg[i].calls++;
    p->agg[i].ms += ms;
    p->agg[i].busy += busy < ms ? busy : ms;
}

/* Charge every interval but the last mark's, which stays as the start of the next batch. */
static void fold(struct ov_cuda_prof *p)
{
    if (p->n < 2)
        return;
    (void)cudaEventSynchronize(p->ev[p->n - 1]);
    for (int i = 0; i + 1 < p->n; i++) {
        float ms = 0.0f, busy = 0.0f;
        if (cudaEventElapsedTime(&ms, p->ev[i], p->ev[i + 1]) == cudaSuccess) {
            if (!p->end[i] || cudaEventElapsedTime(&busy, p->ev[i], p->end[i]) != cudaSuccess)
                busy = ms;
            charge(p, p->ph[i], p->op[i], (double)ms, (double)busy);
            if (p->key[i] >= 0)
                charge_key(p, p->ph[i], p->op[i], p->key[i], (double)(busy < ms ? busy : ms), p->flops[i]);
        }
        (void)cudaEventDestroy(p->ev[i]);
        if (p->end[i])
            (void)cudaEventDestroy(p->end[i]);
        p->end[i] = NULL;
    }
    p->ev[0] = p->ev[p->n - 1];
    p->end[0] = p->end[p->n - 1];
    p->end[p->n - 1] = NULL;
    p->op[0] = p->op[p->n - 1];
    p->ph[0] = p->ph[p->n - 1];
    p->key[0] = p->key[p->n - 1];
    p->flops[0] = p->flops[p->n - 1];
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
    p->end[p->n] = NULL;
    p->op[p->n] = op;
    p->ph[p->n] = p->cur;
    p->key[p->n] = -1;
    p->flops[p->n] = 0.0;
    p->n++;
}

void ov_cuda_prof_end(ov_cuda *c)
{
    struct ov_cuda_prof *p = c->prof;
    if (!p || p->n == 0)
        return;
    cudaEvent_t *e = &p->end[p->n - 1];
    if (!*e && cudaEventCreate(e) != cudaSuccess) {
        *e = NULL;
        (void)cudaGetLastError();
        return;
    }
    if (cudaEventRecord(*e, p->stream) != cudaSuccess) /* re-recorded by a later launch of the op */
        (void)cudaGetLastError();
}

void ov_cuda_prof_close(ov_cuda *c)
{
    struct ov_cuda_prof *p = c->prof;
    if (!p)
        return;
    ov_cuda_prof_mark(c, "(end)");
    fold(p);
    if (p->n == 1) {
        (void)cudaEventDestroy(p->ev[0]);
        if (p->end[0])
            (void)cudaEventDestroy(p->end[0]);
    }
    /* phases in order of first appearance, each with its rows largest first (stable: selection) */
    const char *phases[MAX_OPS];
    int nph = 0;
    for (int i = 0; i < p->n_agg; i++) {
        int k = 0;
        while (k < nph && strcmp(phases[k], p->agg[i].ph) != 0)
            k++;
        if (k == nph)
            phases[nph++] = p->agg[i].ph;
    }
    for (int k = 0; k < nph; k++) {
        double total = 0.0, busy = 0.0;
        int rows[MAX_OPS], nr = 0;
        for (int i = 0; i < p->n_agg; i++)
            if (!strcmp(p->agg[i].ph, phases[k])) {
                rows[nr++] = i;
                total += p->agg[i].ms;
                busy += p->agg[i].busy;
            }
        for (int a = 0; a < nr; a++)
            for (int b = a + 1; b < nr; b++)
                if (p->agg[rows[b]].ms > p->agg[rows[a]].ms) {
                    int t = rows[a];
                    rows[a] = rows[b];
                    rows[b] = t;
                }
        fprintf(stderr,
                "cuda profile (%s), phase %s: wall = stream time from each op's start to the next op's, busy = "
                "until its last kernel ended; %.1f ms wall, %.1f ms busy%s\n",
                c->name, phases[k], total, busy, p->dropped ? " (some marks dropped)" : "");
        fprintf(stderr, "| op | calls | wall ms | %% | busy ms | busy µs per call | idle after, µs per call |\n"
                        "|---|---|---|---|---|---|---|\n");
        for (int r = 0; r < nr; r++) {
            const int i = rows[r];
            const double calls = p->agg[i].calls ? (double)p->agg[i].calls : 1.0;
            fprintf(stderr, "| %s | %lld | %.2f | %.1f | %.2f | %.1f | %.1f |\n", p->agg[i].op, p->agg[i].calls,
                    p->agg[i].ms, total > 0 ? 100.0 * p->agg[i].ms / total : 0.0, p->agg[i].busy,
                    1e3 * p->agg[i].busy / calls, 1e3 * (p->agg[i].ms - p->agg[i].busy) / calls);
        }
        /* the shapes with the most busy time in this phase */
        int krows[MAX_KEYS], nk = 0;
        for (int i = 0; i < p->n_kagg; i++)
            if (!strcmp(p->kagg[i].ph, phases[k]))
                krows[nk++] = i;
        if (!nk)
            continue;
        for (int a = 0; a < nk && a < TOP_KEYS; a++)
            for (int b = a + 1; b < nk; b++)
                if (p->kagg[krows[b]].busy > p->kagg[krows[a]].busy) {
                    int t = krows[a];
                    krows[a] = krows[b];
                    krows[b] = t;
                }
        fprintf(stderr, "\nphase %s, shapes by busy time (top %d of %d):\n| op | shape | calls | busy ms | %% of phase busy "
                        "| µs per call | TFLOP/s |\n|---|---|---|---|---|---|---|\n",
                phases[k], nk < TOP_KEYS ? nk : TOP_KEYS, nk);
        for (int r = 0; r < nk && r < TOP_KEYS; r++) {
            const int i = krows[r];
            const double calls = p->kagg[i].calls ? (double)p->kagg[i].calls : 1.0;
            char tf[32] = "";
            if (p->kagg[i].flops > 0 && p->kagg[i].busy > 0)
                snprintf(tf, sizeof tf, "%.1f", p->kagg[i].flops / (p->kagg[i].busy * 1e9));
            fprintf(stderr, "| %s | %s | %lld | %.2f | %.1f | %.1f | %s |\n", p->kagg[i].op, p->keys[p->kagg[i].key],
                    p->kagg[i].calls, p->kagg[i].busy, busy > 0 ? 100.0 * p->kagg[i].busy / busy : 0.0,
                    1e3 * p->kagg[i].busy / calls, tf);
        }
    }
    free(p);
    c->prof = NULL;
}
