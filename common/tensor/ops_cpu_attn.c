/* CPU attention (tiled online softmax over sgemm tiles, never an Lq×Lk matrix) and row softmax. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/tensor/cpu_internal.h"

#define ATT_BQ 64  /* query rows per task */
#define ATT_BK 256 /* keys per tile */

struct att_ctx {
    const ov_tensor *o, *q, *k, *v;
    const ov_attn_params *p;
    int64_t B, Hq, Hkv, Lq, Lk, D, nqb;
    int failed;
};

static void att_task(void *vctx, int64_t t0, int64_t t1)
{
    struct att_ctx *c = vctx;
    int64_t D = c->D;
    float *S = malloc((size_t)ATT_BQ * ATT_BK * sizeof(float));
    float *acc = malloc((size_t)(ATT_BQ * D) * sizeof(float));
    float m[ATT_BQ], l[ATT_BQ];
    if (!S || !acc) {
        c->failed = 1;
        free(S);
        free(acc);
        return;
    }
    const ov_tensor *bias = c->p->bias;
    for (int64_t t = t0; t < t1; t++) {
        int64_t qb = t % c->nqb, bh = t / c->nqb, h = bh % c->Hq, b = bh / c->Hq;
        int64_t hk = h / (c->Hq / c->Hkv);
        int64_t i0 = qb * ATT_BQ, nq = c->Lq - i0 < ATT_BQ ? c->Lq - i0 : ATT_BQ;
        const float *qp =
            (const float *)c->q->data + b * c->q->stride[0] + h * c->q->stride[1] + i0 * c->q->stride[2];
        const float *kp = (const float *)c->k->data + b * c->k->stride[0] + hk * c->k->stride[1];
        const float *vp = (const float *)c->v->data + b * c->v->stride[0] + hk * c->v->stride[1];
        int ldq = (int)c->q->stride[2], ldk = (int)c->k->stride[2], ldv = (int)c->v->stride[2];
        if (ldq < D)
            ldq = (int)D;
        if (ldk < D)
            ldk = (int)D;
        if (ldv < D)
            ldv = (int)D;
        const float *bp = NULL;
        if (bias)
            bp = (const float *)bias->data + (bias->shape[0] == 1 ? 0 : b * bias->stride[0]) +
                 (bias->shape[1] == 1 ? 0 : h * bias->stride[1]) + i0 * bias->stride[2];
        for (int64_t i = 0; i < nq; i++) {
            m[i] = -INFINITY;
            l[i] = 0.0f;
        }
        memset(acc, 0, (size_t)(nq * D) * sizeof(float));
        /* causal: the last query of this block sees keys up to off + i0 + nq - 1 */
        int64_t kend = c->Lk;
        if (c->p->causal) {
            int64_t lim = c->p->q_pos_offset + i0 + nq;
            if (lim < kend)
                kend = lim;
        }
        for (int64_t j0 = 0; j0 < kend; j0 += ATT_BK) {
            int64_t nk = kend - j0 < ATT_BK ? kend - j0 : ATT_BK;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)nk, (int)D, c->p->scale, qp,
                        ldq, kp + j0 * ldk, ldk, 0.0f, S, (int)nk);
            for (int64_t i = 0; i < nq; i++) {
                float *s = S + i * nk;
                if (bp) {
                    const float *br = bp + i * bias->stride[2] + j0;
                    for (int64_t j = 0; j < nk; j++)
                        s[j] += br[j];
                }
                if (c->p->causal) {
                    int64_t last = c->p->q_pos_offset + i0 + i - j0; /* keys j0+j with j > last are hidden */
                    for (int64_t j = last + 1 < 0 ? 0 : last + 1; j < nk; j++)
                        s[j] = -INFINITY;
                }
                float mx = m[i];
                for (int64_t j = 0; j < nk; j++)
                    mx = s[j] > mx ? s[j] : mx;
                if (mx == -INFINITY) { /* every key so far masked: nothing to add */
                    memset(s, 0, (size_t)nk * sizeof(float));
                    continue;
                }
                float corr = m[i] == -INFINITY ? 0.0f : expf(m[i] - mx);
                float sum = 0.0f;
                for (int64_t j = 0; j < nk; j++) {
                    float e = expf(s[j] - mx);
                    s[j] = e;
                    sum += e;
                }
                l[i] = l[i] * corr + sum;
                m[i] = mx;
                if (corr != 1.0f) {
                    float *a = acc + i * D;
                    for (int64_t d = 0; d < D; d++)
                        a[d] *= corr;
                }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)D, (int)nk, 1.0f, S, (int)nk,
                        vp + j0 * ldv, ldv, 1.0f, acc, (int)D);
        }
        for (int64_t i = 0; i < nq; i++) {
            float *op =
                (float *)c->o->data + b * c->o->stride[0] + h * c->o->stride[1] + (i0 + i) * c->o->stride[2];
            float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
            for (int64_t d = 0; d < D; d++)
                op[d] = acc[i * D + d] * inv;
        }
    }
    free(S);
    free(acc);
}

int ov_cpu_attention(ov_backend *be, ov_tensor *o, const ov_tensor *q, const ov_tensor *k, const ov_tensor *v,
                     const ov_attn_params *p)
{
    (void)be;
    OV_CPU_NEED_F32("attention", o, q, k, v);
    struct att_ctx c = {o,
                        q,
                        k,
                        v,
                        p,
                        q->shape[0],
                        q->shape[1],
                        k->shape[1],
                        q->shape[2],
                        k->shape[2],
                        q->shape[3],
                        (q->shape[2] + ATT_BQ - 1) / ATT_BQ,
                        0};
    int64_t tasks = c.B * c.Hq * c.nqb;
    if (tasks == 0)
        return 0;
    if (c.Lk == 0) { /* no keys: zeros, like a fully masked row */
        for (int64_t b = 0; b < c.B; b++)
            for (int64_t h = 0; h < c.Hq; h++)
                for (int64_t i = 0; i < c.Lq; i++)
                    memset((float *)o->data + b * o->stride[0] + h * o->stride[1] + i * o->stride[2], 0,
                           (size_t)c.D * sizeof(float));
        return 0;
    }
    ov_cpu_blas_single_begin();
    ov_cpu_parallel(tasks, 1, att_task, &c);
    ov_cpu_blas_single_end();
    if (c.failed)
        return ov_tensor_fail(OV_ENOMEM, "attention: no memory for tile scratch ('%s')", q->name);
    return 0;
}

/* ---- softmax ---- */

struct sm_ctx {
    const float *x;
    float *y;
    int64_t n;
    float scale;
};

static void sm_rows(void *vctx, int64_t r0, int64_t r1)
{
    struct sm_ctx *c = vctx;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = c->x + r * c->n;
        float *y = c->y + r * c->n;
        float mx = -INFINITY;
        for (int64_t j = 0; j < c->n; j++)
            mx = x[j] * c->scale > mx ? x[j] * c->scale : mx;
        if (mx == -INFINITY) {
            for (int64_t j = 0; j < c->n; j++)
                y[j] = 0.0f;
            continue;
        }
        double sum = 0.0;
        for (int64_t j = 0; j < c->n; j++) {
            float e = expf(x[j] * c->scale - mx);
            y[j] = e;
            sum += e;
        }
        float inv = (float)(1.0 / sum);
        for (int64_t j = 0; j < c->n; j++)
            y[j] *= inv;
    }
}

int ov_cpu_softmax(ov_backend *be, ov_tensor *y, const ov_tensor *x, float scale)
{
    (void)be;
    OV_CPU_NEED_F32("softmax", y, x);
    int64_t n = x->shape[x->ndim - 1];
    if (n == 0)
        return 0;
    struct sm_ctx c = {x->data, y->data, n, scale};
    ov_cpu_parallel(ov_tensor_nelem(x) / n, 16, sm_rows, &c);
    return 0;
}
