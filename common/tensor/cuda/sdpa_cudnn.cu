/* Attention through cuDNN's fused scaled-dot-product operation: the graph API's
 * CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR (cuDNN >= 9.13.1; what NVIDIA's cudnn-frontend builds
 * for its "unified" SDPA node). Q [B, Hq, Lq, D], K and V [B, Hkv, Lk, D] (GQA), O like Q, any
 * strides with D contiguous, bf16 or f16, one scale; no mask and no bias (cuDNN < 9.21 has neither on
 * this operation), so non-causal only: WAN's and SDXL's self-attention.
 *
 * Per shape (dims, strides, dtype) one execution plan: the heuristics' (mode A) first engine config
 * that finalises, built at the first call and cached per backend; a shape cuDNN declines is
 * remembered and returns 1 (the caller runs the flash kernels). Reference: the cuDNN backend API
 * (cudnn_graph.h) and cudnn-frontend's UnifiedSDPANode (include/cudnn_frontend/node/
 * scaled_dot_product_flash_attention.h), read for which descriptors the operation takes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tensor/cuda/cuda_device.cuh"
#include "common/tensor/cuda/cudnn_loader.h"

#define SDPA_SLOTS 16

#if defined(OV_HAVE_CUDNN) && CUDNN_VERSION >= 91301
#define OV_HAVE_SDPA 1
#endif

#ifdef OV_HAVE_SDPA

enum { UID_Q = 1, UID_K, UID_V, UID_O, UID_SCALE };

struct sdpa_key {
    int64_t dq[4], dk[4], sq[4], sk[4], sv[4], so[4];
    int dt;
};

/* Every descriptor made for one plan (tensors, the operation, the graph, heuristics, engine
 * configs): kept alive with the plan, destroyed with it (the plan refers to them). */
struct sdpa_build {
    const ov_cudnn_api *a;
    cudnnBackendDescriptor_t d[32];
    int n;
    cudnnStatus_t st; /* the first failure */
};

struct sdpa_ent {
    int used, ok;
    struct sdpa_key k;
    cudnnBackendDescriptor_t plan;
    int64_t ws;
    struct sdpa_build b;
};

struct ov_sdpa_cache {
    struct sdpa_ent e[SDPA_SLOTS];
    int next;
};

static cudnnBackendDescriptor_t mk(struct sdpa_build *b, cudnnBackendDescriptorType_t type)
{
    cudnnBackendDescriptor_t d = NULL;
    if (b->st != CUDNN_STATUS_SUCCESS || b->n == 32)
        return NULL;
    b->st = b->a->BackendCreateDescriptor(type, &d);
    if (b->st != CUDNN_STATUS_SUCCESS)
        return NULL;
    b->d[b->n++] = d;
    return d;
}

static void set(struct sdpa_build *b, cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name,
                cudnnBackendAttributeType_t type, int64_t n, const void *v)
{
    if (b->st == CUDNN_STATUS_SUCCESS && d)
        b->st = b->a->BackendSetAttribute(d, name, type, n, v);
}

static void fin(struct sdpa_build *b, cudnnBackendDescriptor_t d)
{
    if (b->st == CUDNN_STATUS_SUCCESS && d)
        b->st = b->a->BackendFinalize(d);
}

static void build_free(struct sdpa_build *b)
{
    for (int i = 0; i < b->n; i++)
        (void)b->a->BackendDestroyDescriptor(b->d[i]);
    b->n = 0;
}

/* A tensor descriptor: dims and strides in elements, 16-byte aligned data; by_value for the scale. */
static cudnnBackendDescriptor_t tensor(struct sdpa_build *b, int64_t uid, cudnnDataType_t dt, const int64_t *dims,
                                       const int64_t *strides, bool by_value)
{
    cudnnBackendDescriptor_t d = mk(b, CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    const int64_t align = by_value ? 4 : 16;
    const bool virt = false;
    set(b, d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt);
    set(b, d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims);
    set(b, d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides);
    set(b, d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
    set(b, d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align);
    set(b, d, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &virt);
    if (by_value)
        set(b, d, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value);
    fin(b, d);
    return d;
}

/* Build the plan for k: 0 with e->plan / e->ws / e->b set, or the cuDNN status that stopped it
 * (everything made is destroyed then). */
static cudnnStatus_t plan_make(const ov_cudnn_api *a, cudnnHandle_t h, const struct sdpa_key *k, struct sdpa_ent *e)
{
    struct sdpa_build b = {a, {0}, 0, CUDNN_STATUS_SUCCESS};
    const cudnnDataType_t dt = k->dt == OV_DTYPE_F16 ? CUDNN_DATA_HALF : CUDNN_DATA_BFLOAT16;
    const int64_t one[4] = {1, 1, 1, 1};
    cudnnBackendDescriptor_t q = tensor(&b, UID_Q, dt, k->dq, k->sq, false);
    cudnnBackendDescriptor_t kd = tensor(&b, UID_K, dt, k->dk, k->sk, false);
    cudnnBackendDescriptor_t v = tensor(&b, UID_V, dt, k->dk, k->sv, false);
    cudnnBackendDescriptor_t o = tensor(&b, UID_O, dt, k->dq, k->so, false);
    cudnnBackendDescriptor_t sc = tensor(&b, UID_SCALE, CUDNN_DATA_FLOAT, one, one, true);
    cudnnBackendDescriptor_t op = mk(&b, CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR);
    set(&b, op, CUDNN_ATTR_OPERATION_SDPA_FWD_QDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &q);
    set(&b, op, CUDNN_ATTR_OPERATION_SDPA_FWD_KDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &kd);
    set(&b, op, CUDNN_ATTR_OPERATION_SDPA_FWD_VDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &v);
    set(&b, op, CUDNN_ATTR_OPERATION_SDPA_FWD_ODESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &o);
    set(&b, op, CUDNN_ATTR_OPERATION_SDPA_FWD_SCALEDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &sc);
    fin(&b, op);
    cudnnBackendDescriptor_t g = mk(&b, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    set(&b, g, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op);
    set(&b, g, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
    fin(&b, g);
    cudnnBackendDescriptor_t heur = mk(&b, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
    const cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
    set(&b, heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &g);
    set(&b, heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
    fin(&b, heur);
    int64_t n_cfg = 0;
    if (b.st == CUDNN_STATUS_SUCCESS)
        b.st = a->BackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &n_cfg,
                                      NULL);
    if (n_cfg > 8)
        n_cfg = 8;
    cudnnBackendDescriptor_t cfg[8] = {NULL};
    for (int64_t i = 0; i < n_cfg; i++)
        cfg[i] = mk(&b, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    int64_t got = 0;
    if (b.st == CUDNN_STATUS_SUCCESS && n_cfg > 0)
        b.st = a->BackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, n_cfg, &got,
                                      cfg);
    cudnnStatus_t st = b.st != CUDNN_STATUS_SUCCESS ? b.st : CUDNN_STATUS_NOT_SUPPORTED;
    for (int64_t i = 0; b.st == CUDNN_STATUS_SUCCESS && i < got; i++) {
        cudnnBackendDescriptor_t plan = NULL;
        st = a->BackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan);
        if (st == CUDNN_STATUS_SUCCESS)
            st = a->BackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
        if (st == CUDNN_STATUS_SUCCESS)
            st = a->BackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                        &cfg[i]);
        if (st == CUDNN_STATUS_SUCCESS)
            st = a->BackendFinalize(plan);
        int64_t ws = 0, n_ws = 0;
        if (st == CUDNN_STATUS_SUCCESS)
            st = a->BackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n_ws,
                                        &ws);
        if (st == CUDNN_STATUS_SUCCESS) {
            e->plan = plan;
            e->ws = ws;
            break;
        }
        if (plan)
            (void)a->BackendDestroyDescriptor(plan);
    }
    if (!e->plan) {
        build_free(&b);
        return st;
    }
    e->b = b;
    return CUDNN_STATUS_SUCCESS;
}

/* Destroy an entry's plan and the descriptors it refers to. */
static void ent_free(const ov_cudnn_api *a, struct sdpa_ent *e)
{
    if (e->plan)
        (void)a->BackendDestroyDescriptor(e->plan);
    e->plan = NULL;
    if (e->b.a)
        build_free(&e->b);
}

static void key_of(struct sdpa_key *k, const ov_tensor *o, const ov_tensor *q, const ov_tensor *kt,
                  const ov_tensor *v)
{
    memset(k, 0, sizeof *k);
    for (int i = 0; i < 4; i++) {
        k->dq[i] = q->shape[i];
        k->dk[i] = kt->shape[i];
        k->sq[i] = q->stride[i];
        k->sk[i] = kt->stride[i];
        k->sv[i] = v->stride[i];
        k->so[i] = o->stride[i];
    }
    k->dt = q->dtype;
}

int ov_cuda_sdpa_cudnn(ov_backend *be, ov_tensor *o, const ov_tensor *q, const ov_tensor *k, const ov_tensor *v,
                       const ov_attn_params *p)
{
    const char *op = "attention";
    const int dt = q->dtype;
    if (p->causal || p->bias || (dt != OV_DTYPE_BF16 && dt != OV_DTYPE_F16) || k->dtype != dt || v->dtype != dt ||
        o->dtype != dt || q->stride[3] != 1 || k->stride[3] != 1 || v->stride[3] != 1 || o->stride[3] != 1 ||
        memcmp(k->shape, v->shape, sizeof(int64_t) * 4) != 0 || (uintptr_t)q->data % 16 || (uintptr_t)k->data % 16 ||
        (uintptr_t)v->data % 16 || (uintptr_t)o->data % 16)
        return 1;
    ov_cuda *c = ov_cuda_of(be);
    if (!c->cudnn) /* OURVIDZ_CUDA_CUDNN=0: no cuDNN at all */
        return 1;
    const ov_cudnn_api *a = ov_cuda_cudnn_ready(be);
    if (!a || !a->BackendCreateDescriptor || a->version < 91301)
        return 1;
    if (!c->sdpa_cache && !(c->sdpa_cache = (struct ov_sdpa_cache *)calloc(1, sizeof *c->sdpa_cache)))
        return 1;
    struct ov_sdpa_cache *t = c->sdpa_cache;
    struct sdpa_key key;
    key_of(&key, o, q, k, v);
    struct sdpa_ent *e = NULL;
    for (int i = 0; i < SDPA_SLOTS && !e; i++)
        if (t->e[i].used && memcmp(&t->e[i].k, &key, sizeof key) == 0)
            e = &t->e[i];
    if (!e) {
        e = &t->e[t->next];
        t->next = (t->next + 1) % SDPA_SLOTS;
        ent_free(a, e);
        memset(e, 0, sizeof *e);
        e->used = 1;
        e->k = key;
        cudnnStatus_t st = plan_make(a, (cudnnHandle_t)c->cudnn_handle, &key, e);
        e->ok = st == CUDNN_STATUS_SUCCESS;
        (void)cudaGetLastError();
        if (c->prof || !e->ok)
            fprintf(stderr, "cuda (%s): cuDNN SDPA for B %lld H %lld/%lld Lq %lld Lk %lld D %lld: %s\n", c->name,
                    (long long)q->shape[0], (long long)q->shape[1], (long long)k->shape[1], (long long)q->shape[2],
                    (long long)k->shape[2], (long long)q->shape[3],
                    e->ok ? "plan ready" : a->GetErrorString(st));
    }
    if (!e->ok)
        return 1;
    void *ws = NULL;
    int rc = ov_cuda_cudnn_ws(be, op, (size_t)e->ws, &ws);
    if (rc)
        return rc; /* 1: no memory for the workspace, fall back */
    float scale = p->scale != 0.0f ? p->scale : 1.0f / sqrtf((float)q->shape[3]);
    int64_t uids[5] = {UID_Q, UID_K, UID_V, UID_O, UID_SCALE};
    void *ptrs[5] = {(void *)q->data, (void *)k->data, (void *)v->data, o->data, &scale};
    cudnnBackendDescriptor_t vp = NULL;
    cudnnStatus_t st = a->BackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &vp);
    if (st == CUDNN_STATUS_SUCCESS)
        st = a->BackendSetAttribute(vp, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 5, uids);
    if (st == CUDNN_STATUS_SUCCESS)
        st = a->BackendSetAttribute(vp, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 5, ptrs);
    if (st == CUDNN_STATUS_SUCCESS)
        st = a->BackendSetAttribute(vp, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws);
    if (st == CUDNN_STATUS_SUCCESS)
        st = a->BackendFinalize(vp);
    if (st == CUDNN_STATUS_SUCCESS)
        st = a->BackendExecute((cudnnHandle_t)c->cudnn_handle, e->plan, vp);
    if (vp)
        (void)a->BackendDestroyDescriptor(vp);
    if (st != CUDNN_STATUS_SUCCESS) {
        fprintf(stderr, "cuda (%s): cuDNN SDPA execute failed (%s): this shape uses the flash kernels\n", c->name,
                a->GetErrorString(st));
        e->ok = 0;
        cudaError_t ce = cudaGetLastError();
        return ce == cudaSuccess ? 1 : ov_cuda_check(be, ce, op, "cudnnBackendExecute(SDPA)");
    }
    c->sdpa_calls++;
    return ov_cuda_launched(be, op);
}

void ov_cuda_sdpa_close(ov_cuda *c)
{
    struct ov_sdpa_cache *t = c->sdpa_cache;
    const ov_cudnn_api *a = t ? ov_cudnn_get() : NULL;
    for (int i = 0; a && i < SDPA_SLOTS; i++)
        ent_free(a, &t->e[i]);
    free(t);
    c->sdpa_cache = NULL;
}

#else /* cuDNN < 9.13.1 or none at build time */

int ov_cuda_sdpa_cudnn(ov_backend *be, ov_tensor *o, const ov_tensor *q, const ov_tensor *k, const ov_tensor *v,
                       const ov_attn_params *p)
{
    (void)be, (void)o, (void)q, (void)k, (void)v, (void)p;
    return 1;
}

void ov_cuda_sdpa_close(ov_cuda *c)
{
    (void)c;
}

#endif
