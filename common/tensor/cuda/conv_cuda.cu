/* CUDA convolutions (conv2d, causal conv3d). conv2d goes through cuDNN when it loads (cudnn_loader.h:
 * dlopen at the first conv2d; cudnnConvolutionForward, algorithm benchmarked once per shape), else
 * and for conv3d: im2col into device scratch (chunks of output positions) + one cuBLAS GEMM per
 * (sample, group, chunk). Either way weights of another dtype are converted to the act dtype first
 * and the bias is added after (k_conv_bias).
 * TODO(perf): NHWC for the VAE's large convs; bias fused into the convolution. */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tensor/cuda/cuda_device.cuh"
#include "common/tensor/cuda/cudnn_loader.h"
#include "common/tensor/cuda/gemm_plan.h"

#define THREADS 256
#define COL_BYTES_MAX ((size_t)256 << 20) /* im2col chunk cap */

/* col [KK, np] row-major for output positions [p0, p0 + np) of channel group starting at x. */
__global__ void k_im2col(void *col, int cdt, const void *x, int xdt, ov_conv_geom g, int64_t KK, int64_t p0,
                         int64_t np)
{
    const int64_t n = KK * np;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t src = ov_im2col_src(&g, e / np, p0 + e % np);
        ov_st(col, cdt, e, src < 0 ? 0.0f : ov_ld(x, xdt, src));
    }
}

/* The same column chunk, faster: one block row per column r (its (c, dt, dy, dx) decoded once),
 * threads over the positions with 32-bit index math, and a raw copy of the element bits (x and
 * the column share the act dtype, so no conversion: E is the element's storage type). The generic
 * kernel above did ~11 64-bit divisions and two dtype switches per element; the SDXL UNet at 1024²
 * writes ~15 G column elements per step (batch 12). Used when every index fits 32 bits and the
 * column count fits a grid's y extent (ov_im2col_fast_ok; the index math is gemm_plan.h's,
 * checked against the generic one on the CPU by test_cuda_plan). */
template <typename E> __global__ void k_im2col_fast(E *col, const E *x, ov_conv_geom g, int p0, int np)
{
    const ov_im2col_row t = ov_im2col_row_of(&g, (int)blockIdx.y);
    E *dst = col + (int64_t)blockIdx.y * np;
    for (int i = (int)(blockIdx.x * blockDim.x + threadIdx.x); i < np; i += (int)(gridDim.x * blockDim.x)) {
        const int64_t src = ov_im2col_src32(&g, t, (unsigned)(p0 + i));
        dst[i] = src < 0 ? (E)0 : x[src];
    }
}

/* y[r, p] += b[r % O] over rows r = sample·O + o (blockIdx.y, grid-stride) and positions p (x): one
 * modulo per row, none per element. */
__global__ void k_conv_bias(void *y, int ydt, const void *b, int bdt, int64_t O, int64_t rows, int64_t P)
{
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
        const float bv = ov_ld(b, bdt, r % O);
        const int64_t base = r * P;
        for (int64_t p = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; p < P;
             p += (int64_t)gridDim.x * blockDim.x)
            ov_st(y, ydt, base + p, ov_ld(y, ydt, base + p) + bv);
    }
}

static size_t esz(int dt)
{
    return dt == OV_DTYPE_F32 ? 4 : 2;
}

static cudaDataType_t cty(int dt)
{
    return dt == OV_DTYPE_F32 ? CUDA_R_32F : dt == OV_DTYPE_F16 ? CUDA_R_16F : CUDA_R_16BF;
}

/* ---- conv2d through cuDNN (loaded at run time: cudnn_loader.h) ----
 * NCHW x/w/y all in x's dtype (f32, f16, bf16), f32 accumulation (f32 data: FMA math only, so no TF32,
 * like the cuBLAS path; f16/bf16: tensor cores). The algorithm is chosen once per shape key and
 * remembered on the backend with its descriptors: cudnnFindConvolutionForwardAlgorithmEx (runs every
 * algorithm on the call's own buffers, workspace <= CUDNN_WS_LIMIT) by default, the heuristic
 * cudnnGetConvolutionForwardAlgorithm_v7 with $OURVIDZ_CUDA_CUDNN=heur. Whatever cuDNN declines (a
 * status other than success, no algorithm, a workspace it cannot get) falls back to im2col for
 * that call, and for the shape from then on when the refusal is the shape's; only a sticky device
 * error is returned. The workspace is its own buffer (c->cudnn_ws): the converted weights live in
 * the scratch. Reference: the cuDNN 9 legacy convolution API (cudnn_cnn.h). */

#define CUDNN_WS_LIMIT ((size_t)1 << 30) /* workspace one algorithm may use */
#define CUDNN_KEYS 128                   /* shapes remembered per backend (round robin when full) */

#ifdef OV_HAVE_CUDNN

#define CDN_OK(call) ((call) == CUDNN_STATUS_SUCCESS)

/* Everything that selects the algorithm (n: the samples of one cuDNN call). */
typedef struct cdn_key {
    int n, c, h, w, o, ho, wo, kh, kw, sh, sw, ph, pw, dh, dw, groups, dt;
} cdn_key;

typedef struct cdn_ent {
    cdn_key k;
    int used; /* the slot holds a key */
    int ok;   /* 1: cuDNN serves the shape (algo, ws); 0: it declined, im2col */
    cudnnConvolutionFwdAlgo_t algo;
    size_t ws;
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
} cdn_ent;

struct ov_cudnn_cache {
    cdn_ent e[CUDNN_KEYS];
    int next; /* the slot a new key takes once all are used */
};

static void ent_clear(const ov_cudnn_api *a, cdn_ent *e)
{
    if (e->xd)
        (void)a->DestroyTensorDescriptor(e->xd);
    if (e->yd)
        (void)a->DestroyTensorDescriptor(e->yd);
    if (e->wd)
        (void)a->DestroyFilterDescriptor(e->wd);
    if (e->cd)
        (void)a->DestroyConvolutionDescriptor(e->cd);
    memset(e, 0, sizeof *e);
}

static cdn_ent *ent_find(struct ov_cudnn_cache *t, const cdn_key *k)
{
    for (int i = 0; i < CUDNN_KEYS && t->e[i].used; i++)
        if (memcmp(&t->e[i].k, k, sizeof *k) == 0)
            return &t->e[i];
    return NULL;
}

/* A free slot (or the oldest one, cleared) for key k. */
static cdn_ent *ent_new(const ov_cudnn_api *a, struct ov_cudnn_cache *t, const cdn_key *k)
{
    int i = 0;
    while (i < CUDNN_KEYS && t->e[i].used)
        i++;
    if (i == CUDNN_KEYS) {
        i = t->next;
        t->next = (t->next + 1) % CUDNN_KEYS;
        ent_clear(a, &t->e[i]);
    }
    cdn_ent *e = &t->e[i];
    e->k = *k;
    e->used = 1;
    return e;
}

/* A CUDA error seen inside the cuDNN path: returned when it is sticky (the context is lost, the
 * im2col path could not run either), else cleared and the call falls back (1). */
static int cdn_cuda_err(ov_backend *be, const char *op, const char *what)
{
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess)
        return 1;
    int rc = ov_cuda_check(be, e, op, what);
    return ov_cuda_of(be)->sticky ? rc : 1;
}

/* The handle on be's stream and the key table, made at the first conv2d; NULL (cuDNN switched off
 * for be) when cuDNN did not load or its handle cannot be made. */
static const ov_cudnn_api *cdn_ready(ov_cuda *c)
{
    const ov_cudnn_api *a = ov_cudnn_get();
    if (!a) {
        c->cudnn = 0;
        return NULL;
    }
    if (c->cudnn_handle)
        return a;
    cudnnHandle_t h = NULL;
    cudnnStatus_t st = a->Create(&h);
    if (CDN_OK(st)) {
        st = a->SetStream(h, c->stream);
        if (!CDN_OK(st))
            (void)a->Destroy(h);
    }
    struct ov_cudnn_cache *t = NULL;
    if (CDN_OK(st) && !(t = (struct ov_cudnn_cache *)calloc(1, sizeof *t))) {
        (void)a->Destroy(h);
        st = CUDNN_STATUS_ALLOC_FAILED;
    }
    if (!CDN_OK(st)) {
        fprintf(stderr, "cuda: cuDNN handle on %s failed (%s), conv2d uses im2col\n", c->name,
                a->GetErrorString(st));
        (void)cudaGetLastError();
        c->cudnn = 0;
        return NULL;
    }
    c->cudnn_handle = h;
    c->cudnn_cache = t;
    return a;
}

/* Descriptors and the algorithm for e->k (e->ok = 1), or e->ok = 0 when cuDNN cannot serve it. x, w,
 * y: the call's buffers (find runs the candidates on them; y is written again after). 0, or an
 * error after a sticky device error. */
static int ent_setup(ov_backend *be, const char *op, const ov_cudnn_api *a, cdn_ent *e, int mode,
                     const void *x, const void *w, void *y)
{
    ov_cuda *c = ov_cuda_of(be);
    cudnnHandle_t h = (cudnnHandle_t)c->cudnn_handle;
    const cdn_key *k = &e->k;
    const cudnnDataType_t dt = k->dt == OV_DTYPE_F32   ? CUDNN_DATA_FLOAT
                               : k->dt == OV_DTYPE_F16 ? CUDNN_DATA_HALF
                                                       : CUDNN_DATA_BFLOAT16;
    const cudnnMathType_t math = dt == CUDNN_DATA_FLOAT ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
    e->ok = 0;
    if (!CDN_OK(a->CreateTensorDescriptor(&e->xd)) || !CDN_OK(a->CreateTensorDescriptor(&e->yd)) ||
        !CDN_OK(a->CreateFilterDescriptor(&e->wd)) || !CDN_OK(a->CreateConvolutionDescriptor(&e->cd)))
        return 0;
    if (!CDN_OK(a->SetTensor4dDescriptor(e->xd, CUDNN_TENSOR_NCHW, dt, k->n, k->c, k->h, k->w)) ||
        !CDN_OK(a->SetTensor4dDescriptor(e->yd, CUDNN_TENSOR_NCHW, dt, k->n, k->o, k->ho, k->wo)) ||
        !CDN_OK(
            a->SetFilter4dDescriptor(e->wd, dt, CUDNN_TENSOR_NCHW, k->o, k->c / k->groups, k->kh, k->kw)) ||
        !CDN_OK(a->SetConvolution2dDescriptor(e->cd, k->ph, k->pw, k->sh, k->sw, k->dh, k->dw,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT)) ||
        !CDN_OK(a->SetConvolutionGroupCount(e->cd, k->groups)) ||
        !CDN_OK(a->SetConvolutionMathType(e->cd, math)))
        return 0;
    int on = 0, oc = 0, oh = 0, ow = 0;
    if (!CDN_OK(a->GetConvolution2dForwardOutputDim(e->cd, e->xd, e->wd, &on, &oc, &oh, &ow)) || on != k->n ||
        oc != k->o || oh != k->ho || ow != k->wo)
        return 0;

    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    memset(perf, 0, sizeof perf);
    int got = 0;
    size_t limit = CUDNN_WS_LIMIT;
    if (mode == 2) {
        if (!CDN_OK(a->GetConvolutionForwardAlgorithm_v7(h, e->xd, e->wd, e->cd, e->yd,
                                                         CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf)))
            got = 0;
    } else {
        /* the benchmark's workspace: temporary (the kept one grows to the chosen algorithm's need),
         * at most half the free memory */
        size_t fr = 0, tot = 0;
        if (cudaMemGetInfo(&fr, &tot) != cudaSuccess)
            fr = 0;
        if (limit > fr / 2)
            limit = fr / 2 & ~(size_t)255;
        void *tmp = NULL;
        if (limit && cudaMalloc(&tmp, limit) != cudaSuccess) {
            tmp = NULL;
            limit = 0;
        }
        int rc = cdn_cuda_err(be, op, "cudaMalloc(cuDNN find workspace)");
        if (rc < 0) {
            if (tmp)
                (void)cudaFree(tmp);
            return rc;
        }
        if (!CDN_OK(a->FindConvolutionForwardAlgorithmEx(h, e->xd, x, e->wd, w, e->cd, e->yd, y,
                                                         CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf, tmp,
                                                         limit)))
            got = 0;
        if (tmp)
            (void)cudaFree(tmp);
    }
    int rc = cdn_cuda_err(be, op, "cuDNN algorithm search");
    if (rc < 0)
        return rc;
    /* the first usable candidate (find: fastest first; heuristic: expected fastest first) */
    for (int i = 0; i < got && i < CUDNN_CONVOLUTION_FWD_ALGO_COUNT; i++) {
        if (!CDN_OK(perf[i].status) || perf[i].memory > limit)
            continue;
        if (dt == CUDNN_DATA_FLOAT && perf[i].mathType != CUDNN_FMA_MATH &&
            perf[i].mathType != CUDNN_DEFAULT_MATH)
            continue; /* f32: a tensor-core (TF32) result; FMA only, like the cuBLAS path */
        size_t ws = 0;
        if (!CDN_OK(a->SetConvolutionMathType(e->cd, dt == CUDNN_DATA_FLOAT ? math : perf[i].mathType)) ||
            !CDN_OK(
                a->GetConvolutionForwardWorkspaceSize(h, e->xd, e->wd, e->cd, e->yd, perf[i].algo, &ws)) ||
            ws > CUDNN_WS_LIMIT)
            continue;
        e->algo = perf[i].algo;
        e->ws = ws;
        e->ok = 1;
        break;
    }
    return 0;
}

/* c->cudnn_ws of at least `bytes`: 0, 1 (no memory: fall back for this call) or a sticky error. */
static int ws_reserve(ov_backend *be, const char *op, size_t bytes)
{
    ov_cuda *c = ov_cuda_of(be);
    if (bytes <= c->cudnn_ws_bytes)
        return 0;
    if (c->cudnn_ws) { /* queued convolutions may still use it: the free is stream-ordered */
        (void)cudaFreeAsync(c->cudnn_ws, c->stream);
        c->cudnn_ws = NULL;
        c->cudnn_ws_bytes = 0;
    }
    const size_t want = (bytes + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
    void *p = NULL;
    if (cudaMallocAsync(&p, want, c->stream) != cudaSuccess || !p)
        return cdn_cuda_err(be, op, "cudaMallocAsync(cuDNN workspace)");
    c->cudnn_ws = p;
    c->cudnn_ws_bytes = want;
    return 0;
}

/* For sdpa_cudnn.cu: the same handle and workspace (one stream, so never in use by two calls). */
const ov_cudnn_api *ov_cuda_cudnn_ready(ov_backend *be)
{
    return cdn_ready(ov_cuda_of(be));
}

int ov_cuda_cudnn_ws(ov_backend *be, const char *op, size_t bytes, void **ws)
{
    int rc = ws_reserve(be, op, bytes);
    *ws = rc ? NULL : ov_cuda_of(be)->cudnn_ws;
    return rc;
}

static int fits_int(int64_t v)
{
    return v >= 0 && v <= INT_MAX;
}
#endif

/* conv2d (g->kt == 1) through cuDNN: 0 done (no bias), 1 declined (the caller runs im2col), or an
 * error (a sticky device error, a failed weight conversion). */
static int conv_cudnn(ov_backend *be, const char *op, const ov_conv_geom *g, int groups, ov_tensor *y,
                      const ov_tensor *x, const ov_tensor *w, int64_t KK)
{
#ifndef OV_HAVE_CUDNN
    (void)be, (void)op, (void)g, (void)groups, (void)y, (void)x, (void)w, (void)KK;
    if (ov_cuda_of(be)->cudnn)
        (void)ov_cudnn_available(); /* its one stderr line */
    ov_cuda_of(be)->cudnn = 0;
    return 1;
#else
    ov_cuda *c = ov_cuda_of(be);
    const int adt = x->dtype;
    if (!c->cudnn || y->dtype != adt)
        return 1;
    const int64_t N = x->shape[0], O = w->shape[0];
    const int64_t xper = g->C * g->H * g->W, yper = O * g->Ho * g->Wo, per = xper > yper ? xper : yper;
    const int64_t dims[] = {g->C,  g->H,  g->W,  O,     g->Ho, g->Wo, g->kh, g->kw,
                            g->sh, g->sw, g->ph, g->pw, g->dh, g->dw, per};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (!fits_int(dims[i]))
            return 1;
    /* cuDNN's strides are int: samples go in chunks of at most INT_MAX elements per tensor */
    int64_t nchunk = per > 0 && INT_MAX / per < N ? INT_MAX / per : N;
    if (nchunk < 1)
        return 1;
    /* 16-byte aligned operands (every chunk's too) or im2col: tensor-core kernels need them */
    const int need_w = w->dtype != adt || ov_cuda_scale_of(w) != 1.0f;
    const size_t es = esz(adt);
    const int chunk_ok = ((size_t)xper * es) % 16 == 0 && ((size_t)yper * es) % 16 == 0;
    if ((((uintptr_t)x->data | (uintptr_t)y->data | (need_w ? 0 : (uintptr_t)w->data)) & 15) ||
        (nchunk < N && !chunk_ok))
        return 1;
    /* Large calls in parts: one call's x + y + w stays within c->cudnn_split_bytes, first by fewer
     * samples per call, then (one sample still past it, groups 1) as og convolutions of O/og output
     * channels each (weights and y of a part are contiguous blocks). Why: on the H200 (2026-11-27)
     * cuDNN ran the SDXL VAE's 3x3 256->256 at 1024² (x and y 512 MiB each, bf16) at 30 TFLOP/s,
     * 42 ms a call, while 256->128 at the same size (x + y 768 MiB) ran at 326 TFLOP/s: past ~1 GiB
     * the fast algorithms' layout transforms no longer fit the workspace (CUDNN_WS_LIMIT). Halving O
     * gives that fast shape twice; the input is read once more. */
    const size_t wb = (size_t)(O * KK) * es, sample_b = (size_t)(xper + yper) * es, cap = c->cudnn_split_bytes;
    const int64_t nchunk_int = nchunk;
    if (chunk_ok && N > 1 && (size_t)nchunk * sample_b + wb > cap) {
        const size_t fit = cap > wb ? (cap - wb) / sample_b : 0;
        nchunk = fit < 1 ? 1 : (int64_t)fit < nchunk ? (int64_t)fit : nchunk;
    }
    int64_t og = 1;
    if (groups == 1 && nchunk == 1)
        while (og < 8 && O % (og * 2) == 0 && (size_t)xper * es + ((size_t)yper * es + wb) / (size_t)og > cap &&
               ((size_t)(O / (og * 2) * KK) * es) % 16 == 0 &&
               ((size_t)(O / (og * 2) * g->Ho * g->Wo) * es) % 16 == 0)
            og *= 2;
    const int64_t Op = O / og; /* output channels per part */
    const ov_cudnn_api *a = cdn_ready(c);
    if (!a)
        return 1;
    cdn_key k;
    memset(&k, 0, sizeof k);
    k.c = (int)g->C;
    k.h = (int)g->H;
    k.w = (int)g->W;
    k.o = (int)Op;
    k.ho = (int)g->Ho;
    k.wo = (int)g->Wo;
    k.kh = (int)g->kh;
    k.kw = (int)g->kw;
    k.sh = (int)g->sh;
    k.sw = (int)g->sw;
    k.ph = (int)g->ph;
    k.pw = (int)g->pw;
    k.dh = (int)g->dh;
    k.dw = (int)g->dw;
    k.groups = groups;
    k.dt = adt;
    /* a shape cuDNN declined before costs nothing more (no weight conversion) */
    const int64_t sizes[2] = {nchunk, N % nchunk}; /* the chunks' sample counts: full ones, the rest */
    for (int i = 0; i < 2; i++) {
        k.n = (int)sizes[i];
        const cdn_ent *e = sizes[i] ? ent_find(c->cudnn_cache, &k) : NULL;
        if (e && !e->ok)
            return 1;
    }
    /* weights in x's dtype, converted into the scratch exactly as the im2col path does */
    const void *wp = w->data;
    int rc = 0;
    if (need_w) {
        void *scr = NULL;
        if ((rc = ov_cuda_scratch(be, (size_t)(O * KK) * esz(adt), &scr, op)))
            return rc;
        if ((rc = ov_cuda_weight_to(be, op, scr, adt, w, O * KK)))
            return rc;
        wp = scr;
    }
    const float one = 1.0f, zero = 0.0f;
    for (int64_t n0 = 0; n0 < N; n0 += nchunk) {
        k.n = (int)(N - n0 < nchunk ? N - n0 : nchunk);
        const char *xp = (const char *)x->data + (size_t)(n0 * xper) * es;
        char *yp = (char *)y->data + (size_t)(n0 * yper) * es;
        /* every part of a chunk has the same key: one lookup (and search, on part 0's buffers) */
        cdn_ent *e = ent_find(c->cudnn_cache, &k);
        if (!e) {
            e = ent_new(a, c->cudnn_cache, &k);
            if ((rc = ent_setup(be, op, a, e, c->cudnn, xp, wp, yp)))
                return rc;
        }
        if (!e->ok)
            return 1;
        if ((rc = ws_reserve(be, op, e->ws)))
            return rc;
        for (int64_t part = 0; part < og; part++) {
            const char *wpp = (const char *)wp + (size_t)(part * Op * KK) * es;
            char *ypp = yp + (size_t)(part * Op * g->Ho * g->Wo) * es;
            cudnnStatus_t st = a->ConvolutionForward((cudnnHandle_t)c->cudnn_handle, &one, e->xd, xp, e->wd, wpp,
                                                     e->cd, e->algo, e->ws ? c->cudnn_ws : NULL, e->ws, &zero,
                                                     e->yd, ypp);
            if (!CDN_OK(st)) {
                if ((rc = cdn_cuda_err(be, op, "cudnnConvolutionForward")) < 0)
                    return rc;
                e->ok = 0; /* the shape goes to im2col from now on */
                return 1;
            }
        }
    }
    c->cudnn_calls++;
    if (og > 1 || nchunk < nchunk_int)
        c->cudnn_part_calls++;
    if (c->prof)
        ov_cuda_prof_end(c);
    return 0;
#endif
}

/* Backend close (the stream is drained): the handle, the remembered descriptors, the workspace. */
void ov_cuda_cudnn_close(ov_cuda *c)
{
#ifdef OV_HAVE_CUDNN
    const ov_cudnn_api *a = c->cudnn_handle || c->cudnn_cache ? ov_cudnn_get() : NULL;
    if (a && c->cudnn_cache)
        for (int i = 0; i < CUDNN_KEYS; i++)
            ent_clear(a, &c->cudnn_cache->e[i]);
    if (a && c->cudnn_handle)
        (void)a->Destroy((cudnnHandle_t)c->cudnn_handle);
#endif
    free(c->cudnn_cache);
    c->cudnn_cache = NULL;
    c->cudnn_handle = NULL;
    if (c->cudnn_ws)
        (void)cudaFreeAsync(c->cudnn_ws, c->stream);
    c->cudnn_ws = NULL;
    c->cudnn_ws_bytes = 0;
}

/* im2col + cuBLAS: y = conv(x, w) without the bias, any geometry (conv2d's fallback, conv3d). */
static int conv_im2col(ov_backend *be, const char *op, const ov_conv_geom *g, int groups, ov_tensor *y,
                       const ov_tensor *x, const ov_tensor *w, int64_t KK, int64_t P)
{
    ov_cuda *c = ov_cuda_of(be);
    const int adt = x->dtype;
    const int64_t Nb = x->shape[0], O = w->shape[0], Cg = g->C / groups;
    int rc = 0;
    const int64_t np = ov_conv_chunk(g, groups, esz(adt), COL_BYTES_MAX);
    size_t wbytes = (size_t)(O * KK) * esz(adt);
    wbytes = (wbytes + 255) & ~(size_t)255;
    const int need_w = w->dtype != adt || ov_cuda_scale_of(w) != 1.0f;
    void *scr = NULL;
    rc = ov_cuda_scratch(be, (need_w ? wbytes : 0) + (size_t)(KK * np) * esz(adt), &scr, op);
    if (rc)
        return rc;
    const void *wp = w->data;
    char *colp = (char *)scr;
    if (need_w) {
        if ((rc = ov_cuda_weight_to(be, op, scr, adt, w, O * KK)))
            return rc;
        wp = scr;
        colp += wbytes;
    }
    const float one = 1.0f, zero = 0.0f;
    const bool fast = c->im2col_fast && ov_im2col_fast_ok(g, KK, P);
    const size_t xs = (size_t)(g->C * g->T * g->H * g->W), ys = (size_t)(O * P),
                 gx = (size_t)(Cg * g->T * g->H * g->W);
    for (int64_t n = 0; n < Nb; n++) {
        const char *xn = (const char *)x->data + n * xs * esz(adt);
        char *yn = (char *)y->data + n * ys * esz(y->dtype);
        for (int gi = 0; gi < groups; gi++) {
            for (int64_t p0 = 0; p0 < P; p0 += np) {
                const int64_t cnt = P - p0 < np ? P - p0 : np;
                ov_gemm_plan pl;
                int64_t w_off = 0, y_off = 0;
                if ((rc = ov_gemm_plan_conv(&pl, g, groups, O, gi, p0, cnt, &w_off, &y_off)))
                    return rc;
                const char *xg = xn + (size_t)gi * gx * esz(adt);
                if (fast) {
                    unsigned bx = (unsigned)((cnt + THREADS - 1) / THREADS);
                    dim3 grid(bx > 64 ? 64 : bx, (unsigned)KK);
                    if (adt == OV_DTYPE_F32)
                        k_im2col_fast<uint32_t><<<grid, THREADS, 0, c->stream>>>(
                            (uint32_t *)colp, (const uint32_t *)xg, *g, (int)p0, (int)cnt);
                    else
                        k_im2col_fast<uint16_t><<<grid, THREADS, 0, c->stream>>>(
                            (uint16_t *)colp, (const uint16_t *)xg, *g, (int)p0, (int)cnt);
                } else {
                    k_im2col<<<ov_cu_blocks(KK * cnt, THREADS), THREADS, 0, c->stream>>>(colp, adt, xg, adt,
                                                                                         *g, KK, p0, cnt);
                }
                if ((rc = ov_cuda_launched(be, op)))
                    return rc;
                rc = ov_cuda_blas_check(
                    be,
                    cublasGemmEx(c->blas, pl.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                 pl.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, pl.m, pl.n, pl.k, &one, colp,
                                 cty(adt), pl.lda, (const char *)wp + (size_t)w_off * esz(adt), cty(adt),
                                 pl.ldb, &zero, yn + (size_t)y_off * esz(y->dtype), cty(y->dtype), pl.ldc,
                                 CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                    op, "cublasGemmEx");
                if (rc)
                    return rc;
            }
        }
    }
    return 0;
}

/* Checks, the convolution (cuDNN first when try_cudnn, else or when it declines im2col), the bias. */
static int conv_run(ov_backend *be, const char *op, const ov_conv_geom *g, int groups, ov_tensor *y,
                    const ov_tensor *x, const ov_tensor *w, const ov_tensor *b, int try_cudnn)
{
    int rc = ov_cuda_enter_weighted(be, op, y, x, w, b);
    if (rc)
        return rc;
    if (!ov_tensor_is_contiguous(x) || !ov_tensor_is_contiguous(y))
        return ov_tensor_fail(OV_EUNSUPP, "%s: '%s' and '%s' must be contiguous on CUDA (copy first)", op,
                              x->name, y->name);
    int adt = x->dtype;
    if (!(y->dtype == adt || (adt != OV_DTYPE_F32 && y->dtype == OV_DTYPE_F32)))
        return ov_tensor_fail(OV_EUNSUPP, "%s: x '%s' %s -> y '%s' %s: dtype pair not supported on CUDA", op,
                              x->name, ov_dtype_name(adt), y->name, ov_dtype_name(y->dtype));
    ov_cuda *c = ov_cuda_of(be);
    const int64_t Nb = x->shape[0], O = w->shape[0], Cg = g->C / groups;
    const int64_t KK = Cg * g->kt * g->kh * g->kw, P = g->To * g->Ho * g->Wo;
    if (Nb == 0 || O == 0 || P == 0)
        return 0;
    if (KK == 0)
        return ov_tensor_fail(OV_EUNSUPP, "%s: empty kernel", op);
    rc = try_cudnn ? conv_cudnn(be, op, g, groups, y, x, w, KK) : 1;
    const int via_cudnn = rc == 0;
    if (rc == 1)
        rc = conv_im2col(be, op, g, groups, y, x, w, KK, P);
    if (rc)
        return rc;
    if (c->prof)
        ov_cuda_prof_detail(c, 2.0 * (double)Nb * (double)O * (double)P * (double)KK,
                            "%lldx%lldx%lld s%lld %lld->%lld g%d out %lldx%lldx%lld B%lld %s%s", (long long)g->kt,
                            (long long)g->kh, (long long)g->kw, (long long)g->sh, (long long)g->C, (long long)O,
                            groups, (long long)g->To, (long long)g->Ho, (long long)g->Wo, (long long)Nb,
                            via_cudnn ? "cudnn" : "im2col", b ? "+bias" : "");
    if (!b)
        return 0;
    const int64_t rows = Nb * O;
    const unsigned gy = (unsigned)(rows < 65535 ? rows : 65535);
    int64_t gx = (P + THREADS - 1) / THREADS, gx_cap = (1 << 16) / (int64_t)gy; /* ~64K blocks at most */
    if (gx_cap < 1)
        gx_cap = 1;
    if (gx > gx_cap)
        gx = gx_cap;
    k_conv_bias<<<dim3((unsigned)gx, gy), THREADS, 0, c->stream>>>(y->data, y->dtype, b->data, b->dtype, O,
                                                                   rows, P);
    return ov_cuda_launched(be, op);
}

int ov_cuda_conv2d(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b,
                   const ov_conv2d_params *p)
{
    ov_conv_geom g;
    g.C = x->shape[1];
    g.T = 1;
    g.H = x->shape[2];
    g.W = x->shape[3];
    g.kt = 1;
    g.kh = w->shape[2];
    g.kw = w->shape[3];
    g.st = 1;
    g.sh = p->stride_h;
    g.sw = p->stride_w;
    g.pt = 0;
    g.ph = p->pad_h;
    g.pw = p->pad_w;
    g.dh = p->dilation_h;
    g.dw = p->dilation_w;
    g.To = 1;
    g.Ho = y->shape[2];
    g.Wo = y->shape[3];
    return conv_run(be, "conv2d", &g, p->groups, y, x, w, b, 1);
}

int ov_cuda_conv3d_causal(ov_backend *be, ov_tensor *y, const ov_tensor *x, const ov_tensor *w,
                          const ov_tensor *b, const ov_conv3d_params *p)
{
    ov_conv_geom g;
    g.C = x->shape[1];
    g.T = x->shape[2];
    g.H = x->shape[3];
    g.W = x->shape[4];
    g.kt = w->shape[2];
    g.kh = w->shape[3];
    g.kw = w->shape[4];
    g.st = p->stride_t;
    g.sh = p->stride_h;
    g.sw = p->stride_w;
    g.pt = p->pad_t_front;
    g.ph = p->pad_h;
    g.pw = p->pad_w;
    g.dh = 1;
    g.dw = 1;
    g.To = y->shape[2];
    g.Ho = y->shape[3];
    g.Wo = y->shape[4];
    return conv_run(be, "conv3d_causal", &g, 1, y, x, w, b, 0);
}
