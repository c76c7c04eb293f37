/* CUDA backend core: open/close a device, memory, host<->device copies, sync, status checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tensor/cuda/backend_cuda.h"
#include "common/tensor/cuda/cuda_internal.h"
#include "common/tensor/cuda/gemm_plan.h"


/* Errors after which the CUDA context is unusable: every later call fails the same way. */
static int is_sticky(cudaError_t e)
{
    switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorECCUncorrectable:
    case cudaErrorLaunchTimeout:
    case cudaErrorUnknown:
    case cudaErrorDevicesUnavailable: return 1;
    default: return 0;
    }
}

int ov_cuda_check(ov_backend *be, cudaError_t e, const char *op, const char *what)
{
    if (e == cudaSuccess)
        return 0;
    ov_cuda *c = ov_cuda_of(be);
    if (is_sticky(e) && !c->sticky) {
        c->sticky = 1;
        snprintf(c->sticky_msg, sizeof c->sticky_msg, "%s: %s: %s", op, what, cudaGetErrorString(e));
    }
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError(); /* not sticky: clear it */
        return ov_tensor_fail(OV_ENOMEM, "%s: %s on %s: out of device memory", op, what, c->name);
    }
    if (!is_sticky(e))
        (void)cudaGetLastError();
    return ov_tensor_fail(OV_EGPU, "%s: %s on %s failed: %s (%s)%s", op, what, c->name, cudaGetErrorName(e),
                          cudaGetErrorString(e), c->sticky ? " [sticky: backend unusable]" : "");
}

int ov_cuda_blas_check(ov_backend *be, cublasStatus_t s, const char *op, const char *what)
{
    ov_cuda *c = ov_cuda_of(be);
    if (s == CUBLAS_STATUS_SUCCESS) {
        if (c->prof)
            ov_cuda_prof_end(c);
        return 0;
    }
    if (s == CUBLAS_STATUS_ALLOC_FAILED)
        return ov_tensor_fail(OV_ENOMEM, "%s: %s on %s: cuBLAS could not allocate", op, what, c->name);
    if (s == CUBLAS_STATUS_EXECUTION_FAILED) {
        /* may hide a sticky device error: look */
        cudaError_t e = cudaPeekAtLastError();
        if (e != cudaSuccess)
            return ov_cuda_check(be, e, op, what);
    }
    if (s == CUBLAS_STATUS_NOT_SUPPORTED || s == CUBLAS_STATUS_ARCH_MISMATCH)
        return ov_tensor_fail(OV_EUNSUPP, "%s: %s on %s: cuBLAS %s", op, what, c->name,
                              cublasGetStatusString(s));
    return ov_tensor_fail(OV_EGPU, "%s: %s on %s: cuBLAS %s", op, what, c->name, cublasGetStatusString(s));
}

int ov_cuda_enter(ov_backend *be, const char *op)
{
    ov_cuda *c = ov_cuda_of(be);
    if (c->sticky)
        return ov_tensor_fail(OV_EGPU, "%s: %s is unusable after an earlier device error (%s)", op, c->name,
                              c->sticky_msg);
    int rc = ov_cuda_check(be, cudaSetDevice(c->device), op, "cudaSetDevice");
    if (!rc && c->prof)
        ov_cuda_prof_mark(c, op);
    return rc;
}

int ov_cuda_launched(ov_backend *be, const char *op)
{
    ov_cuda *c = ov_cuda_of(be);
    if (c->prof)
        ov_cuda_prof_end(c);
    return ov_cuda_check(be, cudaGetLastError(), op, "kernel launch");
}

int ov_cuda_scratch(ov_backend *be, size_t bytes, void **out, const char *op)
{
    ov_cuda *c = ov_cuda_of(be);
    *out = NULL;
    if (bytes <= c->scratch_bytes && c->scratch) {
        *out = c->scratch;
        return 0;
    }
    if (c->scratch) {
        /* the old scratch may still be read by queued work: cudaFreeAsync orders the free */
        int rc = ov_cuda_check(be, cudaFreeAsync(c->scratch, c->stream), op, "cudaFreeAsync(scratch)");
        c->scratch = NULL;
        c->scratch_bytes = 0;
        if (rc)
            return rc;
    }
    size_t want = bytes < (1u << 20) ? (1u << 20) : bytes;
    void *p = NULL;
    int rc = ov_cuda_check(be, cudaMallocAsync(&p, want, c->stream), op, "cudaMallocAsync(scratch)");
    if (rc)
        return rc;
    c->scratch = p;
    c->scratch_bytes = want;
    *out = p;
    return 0;
}

int ov_cuda_need_float(const char *op, const ov_tensor *t, int allow_f8)
{
    if (!t)
        return 0;
    int dt = t->dtype;
    if (dt == OV_DTYPE_F32 || dt == OV_DTYPE_F16 || dt == OV_DTYPE_BF16)
        return 0;
    if (allow_f8 && (dt == OV_DTYPE_F8_E4M3 || dt == OV_DTYPE_F8_E5M2))
        return 0;
    return ov_tensor_fail(OV_EUNSUPP, "%s: '%s' dtype %s not supported by the CUDA backend", op, t->name,
                          ov_dtype_name(dt) ? ov_dtype_name(dt) : "?");
}

int ov_cuda_enter_weighted(ov_backend *be, const char *op, const ov_tensor *y, const ov_tensor *x,
                           const ov_tensor *w, const ov_tensor *b)
{
    int rc = ov_cuda_enter(be, op);
    if (!rc)
        rc = ov_cuda_need_float(op, y, 0);
    if (!rc)
        rc = ov_cuda_need_float(op, x, 0);
    if (!rc)
        rc = ov_cuda_need_weight(op, w);
    if (!rc)
        rc = ov_cuda_need_float(op, b, 0);
    return rc;
}

ov_cu_view ov_cu_view_of(const ov_tensor *t)
{
    ov_cu_view v;
    memset(&v, 0, sizeof v);
    v.data = t->data;
    v.dtype = t->dtype;
    v.ndim = t->ndim;
    for (int i = 0; i < OV_TENSOR_MAX_DIMS; i++) {
        v.shape[i] = i < t->ndim ? t->shape[i] : 1;
        v.stride[i] = i < t->ndim ? t->stride[i] : 0;
    }
    v.scale = t->scale == 0.0f ? 1.0f : t->scale;
    if (v.ndim == 0) { /* a scalar: one element */
        v.ndim = 1;
        v.shape[0] = 1;
        v.stride[0] = 0;
    }
    v.dense = ov_dense_strides(v.ndim, v.shape, v.stride);
    return v;
}

ov_cu_view ov_cu_view_bcast(const ov_tensor *t, const ov_tensor *y)
{
    ov_cu_view v = ov_cu_view_of(t);
    int n = y->ndim < 1 ? 1 : y->ndim, off = n - t->ndim;
    for (int i = n - 1; i >= 0; i--) {
        int ti = i - off;
        int64_t ys = y->ndim < 1 ? 1 : y->shape[i];
        if (ti >= 0 && t->ndim > 0) {
            v.shape[i] = ys;
            v.stride[i] = t->shape[ti] == 1 ? 0 : t->stride[ti];
        } else {
            v.shape[i] = ys;
            v.stride[i] = 0;
        }
    }
    v.ndim = n;
    v.dense = ov_dense_strides(v.ndim, v.shape, v.stride);
    return v;
}

int ov_cu_v32_of(const ov_cu_view *v, ov_cu_v32 *o)
{
    o->data = v->data;
    o->dtype = v->dtype;
    o->scale = v->scale;
    return ov_ix32_make(&o->ix, v->ndim, v->shape, v->stride);
}

/* ---- memory ---- */

static int cu_alloc(ov_backend *be, size_t bytes, void **out)
{
    *out = NULL;
    int rc = ov_cuda_enter(be, "alloc");
    if (rc)
        return rc;
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 256);
    if (e != cudaSuccess) {
        size_t fr = 0, tot = 0;
        (void)cudaGetLastError();
        (void)cudaMemGetInfo(&fr, &tot);
        if (e == cudaErrorMemoryAllocation)
            return ov_tensor_fail(OV_ENOMEM,
                                  "alloc: cudaMalloc(%zu) on %s: out of device memory (%zu of %zu free)",
                                  bytes, ov_cuda_of(be)->name, fr, tot);
        return ov_cuda_check(be, e, "alloc", "cudaMalloc");
    }
    *out = p;
    return 0;
}

static void cu_free(ov_backend *be, void *p)
{
    if (!p)
        return;
    ov_cuda *c = ov_cuda_of(be);
    (void)cudaSetDevice(c->device);
    /* cudaFree synchronises the device: queued work reading p completes first */
    cudaError_t e = cudaFree(p);
    if (e != cudaSuccess)
        (void)ov_cuda_check(be, e, "free", "cudaFree");
}

static int cu_sync(ov_backend *be)
{
    int rc = ov_cuda_enter(be, "sync");
    if (rc)
        return rc;
    return ov_cuda_check(be, cudaStreamSynchronize(ov_cuda_of(be)->stream), "sync", "cudaStreamSynchronize");
}

static int cu_upload(ov_backend *be, void *dst, const void *src_host, size_t bytes)
{
    int rc = ov_cuda_enter(be, "upload");
    if (rc)
        return rc;
    ov_cuda *c = ov_cuda_of(be);
    rc = ov_cuda_check(be, cudaMemcpyAsync(dst, src_host, bytes, cudaMemcpyHostToDevice, c->stream), "upload",
                       "cudaMemcpyAsync H2D");
    if (rc)
        return rc;
    if (c->prof)
        ov_cuda_prof_end(c); /* the copy's end: the host's time after it is idle, not transfer */
    return ov_cuda_check(be, cudaStreamSynchronize(c->stream), "upload", "cudaStreamSynchronize");
}

static int cu_download(ov_backend *be, void *dst_host, const void *src, size_t bytes)
{
    int rc = ov_cuda_enter(be, "download");
    if (rc)
        return rc;
    ov_cuda *c = ov_cuda_of(be);
    rc = ov_cuda_check(be, cudaMemcpyAsync(dst_host, src, bytes, cudaMemcpyDeviceToHost, c->stream),
                       "download", "cudaMemcpyAsync D2H");
    if (rc)
        return rc;
    if (c->prof)
        ov_cuda_prof_end(c);
    return ov_cuda_check(be, cudaStreamSynchronize(c->stream), "download", "cudaStreamSynchronize");
}

/* ---- streaming entries (checkpoint loading: backend.h) ---- */

static int cu_host_alloc(ov_backend *be, size_t bytes, void **out)
{
    *out = NULL;
    int rc = ov_cuda_enter(be, "host_alloc");
    if (rc)
        return rc;
    void *p = NULL;
    cudaError_t e = cudaHostAlloc(&p, bytes ? bytes : 256, cudaHostAllocDefault);
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        return ov_tensor_fail(OV_ENOMEM, "host_alloc: cudaHostAlloc(%zu) for %s: no pinned host memory", bytes,
                              ov_cuda_of(be)->name);
    }
    rc = ov_cuda_check(be, e, "host_alloc", "cudaHostAlloc");
    if (!rc)
        *out = p;
    return rc;
}

static void cu_host_free(ov_backend *be, void *p)
{
    if (!p)
        return;
    (void)cudaSetDevice(ov_cuda_of(be)->device);
    /* copies still reading p finish first: the loader waits its slots, and cudaFreeHost
     * synchronises the device */
    cudaError_t e = cudaFreeHost(p);
    if (e != cudaSuccess)
        (void)ov_cuda_check(be, e, "host_free", "cudaFreeHost");
}

static int bad_slot(int slot)
{
    return slot < 0 || slot >= OV_BACKEND_SLOTS;
}

static int cu_upload_async(ov_backend *be, void *dst, const void *src_host, size_t bytes, int slot)
{
    if (bad_slot(slot))
        return ov_tensor_fail(OV_EINVAL, "upload_async: slot %d (0..%d)", slot, OV_BACKEND_SLOTS - 1);
    int rc = ov_cuda_enter(be, "upload_async");
    if (rc)
        return rc;
    ov_cuda *c = ov_cuda_of(be);
    if (!c->slot_ev[slot]) {
        rc = ov_cuda_check(be, cudaEventCreateWithFlags(&c->slot_ev[slot], cudaEventDisableTiming), "upload_async",
                           "cudaEventCreate");
        if (rc)
            return rc;
    }
    if (bytes) {
        rc = ov_cuda_check(be, cudaMemcpyAsync(dst, src_host, bytes, cudaMemcpyHostToDevice, c->stream),
                           "upload_async", "cudaMemcpyAsync H2D");
        if (rc)
            return rc;
    }
    rc = ov_cuda_check(be, cudaEventRecord(c->slot_ev[slot], c->stream), "upload_async", "cudaEventRecord");
    if (!rc)
        c->slot_pending[slot] = 1;
    return rc;
}

static int cu_wait_slot(ov_backend *be, int slot)
{
    if (bad_slot(slot))
        return ov_tensor_fail(OV_EINVAL, "wait_slot: slot %d (0..%d)", slot, OV_BACKEND_SLOTS - 1);
    ov_cuda *c = ov_cuda_of(be);
    if (!c->slot_pending[slot])
        return 0;
    c->slot_pending[slot] = 0;
    int rc = ov_cuda_enter(be, "wait_slot");
    if (rc)
        return rc;
    return ov_cuda_check(be, cudaEventSynchronize(c->slot_ev[slot]), "wait_slot", "cudaEventSynchronize");
}

static int cu_scratch(ov_backend *be, size_t bytes, void **out)
{
    *out = NULL;
    int rc = ov_cuda_enter(be, "scratch");
    return rc ? rc : ov_cuda_scratch(be, bytes, out, "scratch");
}

static void cu_phase(ov_backend *be, const char *name)
{
    ov_cuda *c = ov_cuda_of(be);
    if (c->prof)
        ov_cuda_prof_phase(c, name);
}

static ov_backend_ops make_ops(void)
{
    ov_backend_ops o;
    memset(&o, 0, sizeof o);
    o.alloc = cu_alloc;
    o.free = cu_free;
    o.upload = cu_upload;
    o.download = cu_download;
    o.sync = cu_sync;
    o.copy = ov_cuda_copy;
    o.concat = ov_cuda_concat;
    o.pad = ov_cuda_pad;
    o.upsample_nearest2x = ov_cuda_upsample_nearest2x;
    o.linear = ov_cuda_linear;
    o.matmul = ov_cuda_matmul;
    o.linear_add = ov_cuda_linear_add;
    o.linear_swiglu = ov_cuda_linear_swiglu;
    o.conv2d = ov_cuda_conv2d;
    o.conv3d_causal = ov_cuda_conv3d_causal;
    o.layer_norm = ov_cuda_layer_norm;
    o.rms_norm = ov_cuda_rms_norm;
    o.group_norm = ov_cuda_group_norm;
    o.group_norm_silu = ov_cuda_group_norm_silu;
    o.embedding_host = ov_cuda_embedding_host;
    o.channel_rms_norm = ov_cuda_channel_rms_norm;
    o.unary = ov_cuda_unary;
    o.binary = ov_cuda_binary;
    o.modulate = ov_cuda_modulate;
    o.geglu = ov_cuda_geglu;
    o.swiglu = ov_cuda_swiglu;
    o.softmax = ov_cuda_softmax;
    o.attention = ov_cuda_attention;
    o.rope_neox = ov_cuda_rope_neox;
    o.rope_wan3d = ov_cuda_rope_wan3d;
    o.timestep_embedding = ov_cuda_timestep_embedding;
    o.embedding = ov_cuda_embedding;
    o.host_alloc = cu_host_alloc;
    o.host_free = cu_host_free;
    o.upload_async = cu_upload_async;
    o.wait_slot = cu_wait_slot;
    o.scratch = cu_scratch;
    o.phase = cu_phase;
    return o;
}

static const ov_backend_ops g_cuda_ops = make_ops();

extern "C" long long ov_backend_cuda_flash_calls(const ov_backend *be)
{
    return be && be->kind == OV_BACKEND_CUDA ? ((const ov_cuda *)be->impl)->flash_calls : 0;
}

extern "C" long long ov_backend_cuda_sdpa_calls(const ov_backend *be)
{
    return be && be->kind == OV_BACKEND_CUDA ? ((const ov_cuda *)be->impl)->sdpa_calls : 0;
}

extern "C" long long ov_backend_cuda_decode_attn_calls(const ov_backend *be)
{
    return be && be->kind == OV_BACKEND_CUDA ? ((const ov_cuda *)be->impl)->decode_calls : 0;
}

extern "C" long long ov_backend_cuda_lt_calls(const ov_backend *be)
{
    return be && be->kind == OV_BACKEND_CUDA ? ((const ov_cuda *)be->impl)->lt_calls : 0;
}

extern "C" long long ov_backend_cuda_fused_calls(const ov_backend *be)
{
    return be && be->kind == OV_BACKEND_CUDA ? ((const ov_cuda *)be->impl)->fused_calls : 0;
}

extern "C" long long ov_backend_cuda_cudnn_calls(const ov_backend *be)
{
    return be && be->kind == OV_BACKEND_CUDA ? ((const ov_cuda *)be->impl)->cudnn_calls : 0;
}

extern "C" long long ov_backend_cuda_cudnn_part_calls(const ov_backend *be)
{
    return be && be->kind == OV_BACKEND_CUDA ? ((const ov_cuda *)be->impl)->cudnn_part_calls : 0;
}

extern "C" int ov_backend_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return n;
}

extern "C" int ov_backend_cuda_open(int device, ov_backend **out)
{
    *out = NULL;
    int n = ov_backend_cuda_device_count();
    if (n <= 0)
        return ov_tensor_fail(OV_ENOENT, "backend: no CUDA device visible");
    if (device < 0 || device >= n)
        return ov_tensor_fail(OV_ENOENT, "backend: CUDA device %d does not exist (%d visible)", device, n);
    ov_backend *be = (ov_backend *)calloc(1, sizeof *be);
    ov_cuda *c = (ov_cuda *)calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        return ov_tensor_fail(OV_ENOMEM, "backend: out of host memory opening cuda:%d", device);
    }
    c->device = device;
    c->flash = ov_cuda_flash_mode();
    /* kernel switches (triage, and the tests that run both paths), read once here */
    const char *e = getenv("OURVIDZ_CUDA_FLASH_TUNE_MIN"); /* FLOPs; unset: 2e9 (flash_attn_cuda.cu) */
    c->fa_tune_min = e && *e ? strtod(e, NULL) : 2e9;
    e = getenv("OURVIDZ_CUDA_IM2COL");
    c->im2col_fast = !(e && e[0] == '0' && e[1] == '\0');
    e = getenv("OURVIDZ_CUDA_CUDNN"); /* conv2d: "0" im2col only, "heur" heuristic, else benchmarked */
    c->cudnn = e && e[0] == '0' && e[1] == '\0' ? 0 : e && strcmp(e, "heur") == 0 ? 2 : 1;
    e = getenv("OURVIDZ_CUDA_CUDNN_SPLIT_KB"); /* KiB; unset: 768 MiB (conv_cuda.cu) */
    c->cudnn_split_bytes = e && *e ? (size_t)strtoull(e, NULL, 10) << 10 : (size_t)768 << 20;
    e = getenv("OURVIDZ_CUDA_GN_SPLIT");
    c->gn_split = e && (e[0] == '0' || e[0] == '1') && e[1] == '\0' ? e[0] - '0' : -1;
    e = getenv("OURVIDZ_CUDA_DECODE_ATTN");
    c->decode_attn = !(e && e[0] == '0' && e[1] == '\0');
    e = getenv("OURVIDZ_CUDA_GEMV");
    c->gemv = !(e && e[0] == '0' && e[1] == '\0');
    e = getenv("OURVIDZ_CUDA_LT");
    c->lt_on = !(e && e[0] == '0' && e[1] == '\0');
    e = getenv("OURVIDZ_CUDA_VEC"); /* "0": element-wise ops on their scalar kernels only */
    c->vec8 = !(e && e[0] == '0' && e[1] == '\0');
    e = getenv("OURVIDZ_CUDA_FUSE"); /* "0": linear + add, 2 linears + swiglu; "add" / "glu": one fused */
    c->fuse = !e                      ? OV_CUDA_FUSE_ADD | OV_CUDA_FUSE_GLU
              : strcmp(e, "0") == 0   ? 0
              : strcmp(e, "add") == 0 ? OV_CUDA_FUSE_ADD
              : strcmp(e, "glu") == 0 ? OV_CUDA_FUSE_GLU
                                      : OV_CUDA_FUSE_ADD | OV_CUDA_FUSE_GLU;
    snprintf(c->name, sizeof c->name, "cuda:%d", device);
    be->name = c->name;
    be->kind = OV_BACKEND_CUDA;
    be->ops = &g_cuda_ops;
    be->act_dtype = OV_DTYPE_BF16;
    be->impl = c;
    int rc = ov_cuda_check(be, cudaSetDevice(device), "open", "cudaSetDevice");
    if (!rc)
        rc = ov_cuda_check(be, cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "open",
                           "cudaStreamCreate");
    if (!rc)
        rc = ov_cuda_blas_check(be, cublasCreate(&c->blas), "open", "cublasCreate");
    if (!rc)
        rc = ov_cuda_blas_check(be, cublasSetStream(c->blas, c->stream), "open", "cublasSetStream");
    if (!rc)
        rc = ov_cuda_check(be, cudaMalloc(&c->blas_ws, OV_CUDA_BLAS_WS_BYTES), "open",
                           "cudaMalloc(cublas ws)");
    if (!rc)
        rc = ov_cuda_blas_check(be, cublasSetWorkspace(c->blas, c->blas_ws, OV_CUDA_BLAS_WS_BYTES), "open",
                                "cublasSetWorkspace");
    if (!rc)
        rc = ov_cuda_blas_check(be, cublasSetMathMode(c->blas, CUBLAS_DEFAULT_MATH), "open",
                                "cublasSetMathMode");
    if (rc) {
        ov_backend_cuda_close(be);
        return rc;
    }
    ov_cuda_prof_open(c);
    *out = be;
    return 0;
}

extern "C" void ov_backend_cuda_close(ov_backend *be)
{
    if (!be)
        return;
    ov_cuda *c = ov_cuda_of(be);
    if (c) {
        (void)cudaSetDevice(c->device);
        if (c->stream)
            (void)cudaStreamSynchronize(c->stream);
        ov_cuda_prof_close(c);
        ov_cuda_sdpa_close(c); /* its plans hold the cuDNN handle */
        ov_cuda_cudnn_close(c);
        ov_cuda_lt_close(c);
        if (c->scratch)
            (void)cudaFreeAsync(c->scratch, c->stream);
        if (c->fuse_tmp)
            (void)cudaFreeAsync(c->fuse_tmp, c->stream);
        if (c->stream)
            (void)cudaStreamSynchronize(c->stream);
        for (int k = 0; k < OV_BACKEND_SLOTS; k++)
            if (c->slot_ev[k])
                (void)cudaEventDestroy(c->slot_ev[k]);
        if (c->blas)
            (void)cublasDestroy(c->blas);
        if (c->blas_ws)
            (void)cudaFree(c->blas_ws);
        if (c->stream)
            (void)cudaStreamDestroy(c->stream);
        (void)cudaGetLastError();
        free(c);
    }
    free(be);
}
