/* CPU backend: host memory, the thread pool for non-GEMM ops, weight conversion, the op table. */
#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/error.h"
#include "common/tensor/cpu_internal.h"

/* ---- thread pool ----
 * One job at a time; the caller runs chunks too. Decode posts ~10 small jobs per layer, so a
 * futex sleep/wake per job was a visible share of a token: workers (and the caller waiting for
 * them) first spin for OV_CPU_SPIN pause-loops (~45 us) watching the generation /
 * busy counters, and only then sleep on the condition variables (cores are shared with OpenBLAS's
 * own threads, so spinning stays short). */

#define OV_CPU_SPIN 2000 /* ~45 us at ~22 ns per pause (AMD EPYC dev-2c) */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

#define OV_CPU_MAX_THREADS 64

static struct {
    pthread_mutex_t mu;     /* guards everything below */
    pthread_cond_t wake;    /* workers wait for a new generation */
    pthread_cond_t done;    /* the caller waits for busy == 0 */
    pthread_mutex_t job_mu; /* one job at a time */
    int ready;
    int nthreads; /* including the caller */
    atomic_ullong gen; /* written under mu; read without it while spinning */
    atomic_int busy;
    ov_cpu_task_fn fn;
    void *ctx;
    int64_t n, chunk;
    atomic_llong next;
} g_pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
            .wake = PTHREAD_COND_INITIALIZER,
            .done = PTHREAD_COND_INITIALIZER,
            .job_mu = PTHREAD_MUTEX_INITIALIZER};

static _Thread_local int t_in_pool;

static void run_chunks(void)
{
    for (;;) {
        int64_t b = atomic_fetch_add(&g_pool.next, g_pool.chunk);
        if (b >= g_pool.n)
            break;
        int64_t e = b + g_pool.chunk < g_pool.n ? b + g_pool.chunk : g_pool.n;
        g_pool.fn(g_pool.ctx, b, e);
    }
}

/* arg = the generation current when the worker was created (under mu), so a job posted before
 * the thread first runs is not missed. */
static void *worker_main(void *arg)
{
    t_in_pool = 1;
    uint64_t seen = (uint64_t)(uintptr_t)arg;
    for (;;) {
        for (int i = 0; i < OV_CPU_SPIN && atomic_load(&g_pool.gen) == seen; i++)
            cpu_relax();
        if (atomic_load(&g_pool.gen) == seen) {
            pthread_mutex_lock(&g_pool.mu);
            while (atomic_load(&g_pool.gen) == seen)
                pthread_cond_wait(&g_pool.wake, &g_pool.mu);
            pthread_mutex_unlock(&g_pool.mu);
        }
        seen = atomic_load(&g_pool.gen);
        run_chunks();
        /* the caller checks busy under mu before it sleeps, so this signal cannot be lost */
        if (atomic_fetch_sub(&g_pool.busy, 1) == 1) {
            pthread_mutex_lock(&g_pool.mu);
            pthread_cond_signal(&g_pool.done);
            pthread_mutex_unlock(&g_pool.mu);
        }
    }
    return NULL;
}

/* A forked child has no pool threads: start over (tests fork per case). */
static void pool_atfork_child(void)
{
    pthread_mutex_init(&g_pool.mu, NULL);
    pthread_mutex_init(&g_pool.job_mu, NULL);
    pthread_cond_init(&g_pool.wake, NULL);
    pthread_cond_init(&g_pool.done, NULL);
    g_pool.ready = 0;
    atomic_store(&g_pool.busy, 0);
}

static void pool_init_locked(void)
{
    static int atfork_done;
    if (!atfork_done) {
        pthread_atfork(NULL, NULL, pool_atfork_child);
        atfork_done = 1;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    const char *env = getenv("OURVIDZ_CPU_THREADS");
    if (env && *env) {
        char *end = NULL;
        long v = strtol(env, &end, 10);
        if (end && !*end && v >= 1)
            n = v;
    }
    if (n < 1)
        n = 1;
    if (n > OV_CPU_MAX_THREADS)
        n = OV_CPU_MAX_THREADS;
    g_pool.nthreads = 1;
    for (long i = 1; i < n; i++) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&th, &at, worker_main, (void *)(uintptr_t)g_pool.gen);
        pthread_attr_destroy(&at);
        if (rc)
            break; /* fewer threads is still correct */
        g_pool.nthreads++;
    }
    g_pool.ready = 1;
}

int ov_cpu_threads(void)
{
    pthread_mutex_lock(&g_pool.mu);
    if (!g_pool.ready)
        pool_init_locked();
    int n = g_pool.nthreads;
    pthread_mutex_unlock(&g_pool.mu);
    return n;
}

void ov_cpu_parallel(int64_t n, int64_t min_chunk, ov_cpu_task_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (min_chunk < 1)
        min_chunk = 1;
    int nt = t_in_pool ? 1 : ov_cpu_threads();
    if (nt == 1 || n <= min_chunk) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&g_pool.job_mu);
    int64_t chunk = (n + (int64_t)nt * 4 - 1) / ((int64_t)nt * 4);
    if (chunk < min_chunk)
        chunk = min_chunk;
    pthread_mutex_lock(&g_pool.mu);
    g_pool.fn = fn;
    g_pool.ctx = ctx;
    g_pool.n = n;
    g_pool.chunk = chunk;
    atomic_store(&g_pool.next, 0);
    atomic_store(&g_pool.busy, g_pool.nthreads - 1);
    atomic_fetch_add(&g_pool.gen, 1); /* seq_cst: publishes the job fields above to spinners */
    pthread_cond_broadcast(&g_pool.wake);
    pthread_mutex_unlock(&g_pool.mu);
    t_in_pool = 1;
    run_chunks();
    t_in_pool = 0;
    for (int i = 0; i < OV_CPU_SPIN && atomic_load(&g_pool.busy) > 0; i++)
        cpu_relax();
    if (atomic_load(&g_pool.busy) > 0) {
        pthread_mutex_lock(&g_pool.mu);
        while (atomic_load(&g_pool.busy) > 0)
            pthread_cond_wait(&g_pool.done, &g_pool.mu);
        pthread_mutex_unlock(&g_pool.mu);
    }
    pthread_mutex_unlock(&g_pool.job_mu);
}

/* ---- OpenBLAS thread count around pool-run sgemm tiles ---- */

static pthread_mutex_t g_blas_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_blas_depth, g_blas_saved;

void ov_cpu_blas_single_begin(void)
{
    pthread_mutex_lock(&g_blas_mu);
    if (g_blas_depth++ == 0) {
        g_blas_saved = openblas_get_num_threads();
        openblas_set_num_threads(1);
    }
    pthread_mutex_unlock(&g_blas_mu);
}

void ov_cpu_blas_single_end(void)
{
    pthread_mutex_lock(&g_blas_mu);
    if (--g_blas_depth == 0)
        openblas_set_num_threads(g_blas_saved);
    pthread_mutex_unlock(&g_blas_mu);
}

/* ---- conversion helpers ---- */

/* f16 -> f32 through a 256 KB table (built once from ov_f16_to_f32): the scalar bit-twiddling
 * conversion made f16 weights 10x slower than f32 in GEMV. */
static float g_f16_table[65536];
static pthread_once_t g_f16_once = PTHREAD_ONCE_INIT;

static void f16_table_init(void)
{
    for (uint32_t i = 0; i < 65536; i++)
        g_f16_table[i] = ov_f16_to_f32((uint16_t)i);
}

void ov_cpu_to_f32(int dtype, const void *src, float *dst, int64_t n, float scale)
{
    if (dtype == OV_DTYPE_F16) {
        pthread_once(&g_f16_once, f16_table_init);
        const uint8_t *s = src;
        for (int64_t i = 0; i < n; i++)
            dst[i] = g_f16_table[s[2 * i] | (uint32_t)s[2 * i + 1] << 8];
    } else {
        ov_dtype_to_f32(dtype, src, dst, n); /* dtype and n validated by the op layer */
    }
    if (scale != 1.0f)
        for (int64_t i = 0; i < n; i++)
            dst[i] *= scale;
}

const float *ov_cpu_vec_f32(const ov_tensor *t, float **tmp)
{
    *tmp = NULL;
    if (!t)
        return NULL;
    if (t->dtype == OV_DTYPE_F32 && t->scale == 1.0f)
        return t->data;
    int64_t n = ov_tensor_nelem(t);
    *tmp = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!*tmp)
        return NULL;
    ov_cpu_to_f32(t->dtype, t->data, *tmp, n, t->scale);
    return *tmp;
}

struct conv_rows_ctx {
    const ov_tensor *t;
    float *dst;
    int64_t row;
};

static void conv_rows(void *vctx, int64_t b, int64_t e)
{
    struct conv_rows_ctx *c = vctx;
    for (int64_t r = b; r < e; r++)
        ov_cpu_to_f32(c->t->dtype, ov_cpu_elem_ptr(c->t, r * c->row), c->dst + r * c->row, c->row,
                      c->t->scale);
}

const float *ov_cpu_weight_f32(const ov_tensor *t, float **tmp)
{
    *tmp = NULL;
    if (t->dtype == OV_DTYPE_F32 && t->scale == 1.0f)
        return t->data;
    int64_t n = ov_tensor_nelem(t);
    *tmp = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!*tmp)
        return NULL;
    int64_t row = t->ndim ? t->shape[t->ndim - 1] : 1;
    struct conv_rows_ctx c = {t, *tmp, row ? row : 1};
    ov_cpu_parallel(row ? n / row : 0, 16, conv_rows, &c);
    return *tmp;
}

int ov_cpu_need_f32(const char *op, int n, const ov_tensor *const *ts)
{
    for (int i = 0; i < n; i++) {
        if (ts[i] && ts[i]->dtype != OV_DTYPE_F32)
            return ov_tensor_fail(OV_EUNSUPP, "%s: the cpu backend computes in f32; '%s' is %s", op,
                                  ts[i]->name, ov_dtype_name(ts[i]->dtype));
    }
    return 0;
}

/* ---- memory ---- */

static int cpu_alloc(ov_backend *be, size_t bytes, void **out)
{
    (void)be;
    size_t n = (bytes + 255) / 256 * 256;
    *out = aligned_alloc(256, n ? n : 256);
    if (!*out)
        return OV_ENOMEM;
#ifdef MADV_HUGEPAGE
    /* Big blocks (weights): ask for transparent huge pages over their 2 MiB-aligned interior, so
     * the first write (a checkpoint read) faults 2 MiB at a time: page cache -> fresh memory went
     * from 1.2 to 5.4 GB/s on dev-2c (bench_loader, THP "madvise" mode). Advisory: errors ignored. */
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)*out + huge - 1) & ~(huge - 1), hi = ((uintptr_t)*out + n) & ~(huge - 1);
    if (n >= 2 * huge && hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#endif
    return 0;
}

static void cpu_free(ov_backend *be, void *p)
{
    (void)be;
    free(p);
}

static int cpu_upload(ov_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    memmove(dst, src, bytes);
    return 0;
}

static int cpu_sync(ov_backend *be)
{
    (void)be;
    return 0;
}

static const ov_backend_ops k_cpu_ops = {
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_upload,
    .download = cpu_upload,
    .sync = cpu_sync,
    .copy = ov_cpu_copy,
    .concat = ov_cpu_concat,
    .pad = ov_cpu_pad,
    .upsample_nearest2x = ov_cpu_upsample_nearest2x,
    .linear = ov_cpu_linear,
    .matmul = ov_cpu_matmul,
    .linear_add = ov_cpu_linear_add,
    .linear_swiglu = ov_cpu_linear_swiglu,
    .conv2d = ov_cpu_conv2d,
    .conv3d_causal = ov_cpu_conv3d_causal,
    .layer_norm = ov_cpu_layer_norm,
    .rms_norm = ov_cpu_rms_norm,
    .group_norm = ov_cpu_group_norm,
    .channel_rms_norm = ov_cpu_channel_rms_norm,
    .unary = ov_cpu_unary,
    .binary = ov_cpu_binary,
    .modulate = ov_cpu_modulate,
    .geglu = ov_cpu_geglu,
    .swiglu = ov_cpu_swiglu,
    .softmax = ov_cpu_softmax,
    .attention = ov_cpu_attention,
    .rope_neox = ov_cpu_rope_neox,
    .rope_wan3d = ov_cpu_rope_wan3d,
    .timestep_embedding = ov_cpu_timestep_embedding,
    .embedding = ov_cpu_embedding,
    .embedding_host = ov_cpu_embedding_host,
};

static ov_backend g_cpu = {
    .name = "cpu",
    .kind = OV_BACKEND_CPU,
    .ops = &k_cpu_ops,
    .act_dtype = OV_DTYPE_F32,
    .impl = NULL,
};

ov_backend *ov_backend_cpu(void)
{
    return &g_cpu;
}

const char *ov_cpu_blas_info(void)
{
    static char buf[256];
    const char *forced = getenv("OPENBLAS_CORETYPE");
    snprintf(buf, sizeof buf, "%s, core %s%s%s%s", openblas_get_config(), openblas_get_corename(),
             forced ? " (forced by OPENBLAS_CORETYPE=" : "", forced ? forced : "", forced ? ")" : "");
    return buf;
}
