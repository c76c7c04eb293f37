/* Tests for the streaming weight load (common/model/weights_stream.c + the streaming branch of
 * ov_weights_load) without a GPU: a fake asynchronous backend, written here, whose memory is host
 * memory and whose upload_async queues the copy to a worker thread that sleeps before copying
 * (so a loader that refilled a staging buffer too early would copy the wrong bytes: the worker
 * also checksums the source when queued and again when copying, and counts mismatches).
 * wait_slot waits for the slot's last queued copy, like cudaEventSynchronize. Every tensor loaded
 * through it must have exactly the bytes the plain CPU path gives (memcmp: same arithmetic, so
 * no tolerance), for keep and converted dtypes, tensors smaller and larger than the staging
 * buffers, odd sizes, f8 with a scale. Also: a file that shrinks mid-tensor (clear OV_EFORMAT, no
 * memory left counted or allocated), budget errors (the tensor, and the conversion scratch). */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/formats/gguf.h"
#include "common/formats/safetensors.h"
#include "common/model/weights.h"
#include "common/tensor/arena.h"
#include "common/tensor/backend.h"
#include "common/tensor/dtype.h"

#define STAGING 65536 /* bytes per staging buffer ($OURVIDZ_LOAD_STAGING) */
#define QCAP 4096

/* ---- the fake asynchronous backend ---- */

typedef struct job {
    void *dst;
    const void *src;
    size_t bytes;
    uint64_t sum; /* checksum of src when queued */
    long seq;
} job;

typedef struct fake {
    ov_backend be;
    ov_backend_ops ops;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job q[QCAP];
    long queued, done; /* sequence numbers */
    long slot_seq[OV_BACKEND_SLOTS];
    int stop;
    /* counters the tests check */
    long n_async, n_small, n_waits_blocked, corrupt, outside_pinned, live_host, live_dev, host_allocs;
    void *pinned[8];
    size_t pinned_bytes[8];
    /* shrink hook: after this many upload_async calls, truncate shrink_path to shrink_to bytes */
    long shrink_after;
    int fail_host_alloc; /* host_alloc refuses (pinned memory exhausted) */
    int offer_scratch;   /* ops.scratch set (else NULL: conversions allocate from the ov_mem) */
    void *scratch;
    size_t scratch_bytes;
    long n_scratch;
    const char *shrink_path;
    off_t shrink_to;
} fake;

static fake g_fake;

static uint64_t checksum(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static void *worker(void *arg) {
    fake *f = arg;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->stop && f->done == f->queued)
            pthread_cond_wait(&f->cv, &f->mu);
        if (f->done == f->queued && f->stop)
            break;
        job j = f->q[f->done % QCAP];
        pthread_mutex_unlock(&f->mu);
        struct timespec ts = {0, (long)(j.seq % 5) * 40000}; /* 0..160 us: the copy lags the reads */
        nanosleep(&ts, NULL);
        int bad = checksum(j.src, j.bytes) != j.sum;
        memcpy(j.dst, j.src, j.bytes);
        pthread_mutex_lock(&f->mu);
        f->corrupt += bad;
        f->done++;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

static void wait_seq(fake *f, long seq) {
    pthread_mutex_lock(&f->mu);
    if (f->done < seq)
        f->n_waits_blocked++;
    while (f->done < seq)
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

static void drain(fake *f) {
    pthread_mutex_lock(&f->mu);
    long seq = f->queued;
    pthread_mutex_unlock(&f->mu);
    wait_seq(f, seq);
}

static int f_alloc(ov_backend *be, size_t bytes, void **out) {
    (void)be;
    *out = aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
    if (!*out)
        return OV_ENOMEM;
    g_fake.live_dev++;
    return 0;
}

static void f_free(ov_backend *be, void *p) {
    (void)be;
    if (!p)
        return;
    drain(&g_fake); /* like cudaFree: queued work finishes first */
    g_fake.live_dev--;
    free(p);
}

static int f_upload(ov_backend *be, void *dst, const void *src, size_t bytes) {
    (void)be;
    drain(&g_fake);
    memcpy(dst, src, bytes);
    return 0;
}

static int f_sync(ov_backend *be) {
    (void)be;
    drain(&g_fake);
    return 0;
}

/* The CPU backend's copy (the real op) after the queue drains; f16/bf16 targets through f32. */
static int f_copy(ov_backend *be, ov_tensor *y, const ov_tensor *x) {
    drain(&g_fake);
    ov_backend *cpu = ov_backend_cpu();
    if (y->dtype == OV_DTYPE_F32)
        return cpu->ops->copy(be, y, x);
    int64_t n = ov_tensor_nelem(y);
    ov_tensor t = *y;
    t.dtype = OV_DTYPE_F32;
    t.data = malloc((size_t)n * sizeof(float) + 4);
    if (!t.data)
        return OV_ENOMEM;
    int rc = cpu->ops->copy(be, &t, x);
    if (!rc)
        rc = ov_dtype_from_f32(y->dtype, t.data, y->data, n);
    free(t.data);
    return rc;
}

static int f_host_alloc(ov_backend *be, size_t bytes, void **out) {
    (void)be;
    if (g_fake.fail_host_alloc)
        return ov_tensor_fail(OV_ENOMEM, "fake: no pinned memory");
    for (int k = 0; k < 8; k++)
        if (!g_fake.pinned[k]) {
            if (!(*out = malloc(bytes)))
                return OV_ENOMEM;
            g_fake.pinned[k] = *out;
            g_fake.pinned_bytes[k] = bytes;
            g_fake.live_host++;
            g_fake.host_allocs++;
            return 0;
        }
    return OV_ENOMEM;
}

static void f_host_free(ov_backend *be, void *p) {
    (void)be;
    if (!p)
        return;
    drain(&g_fake);
    for (int k = 0; k < 8; k++)
        if (g_fake.pinned[k] == p) {
            g_fake.pinned[k] = NULL;
            g_fake.live_host--;
        }
    free(p);
}

/* Like the CUDA scratch: grows on demand, the old block released after queued work drains. */
static int f_scratch(ov_backend *be, size_t bytes, void **out) {
    (void)be;
    fake *f = &g_fake;
    f->n_scratch++;
    if (bytes > f->scratch_bytes || !f->scratch) {
        drain(f);
        free(f->scratch);
        f->scratch_bytes = bytes < 4096 ? 4096 : bytes;
        f->scratch = malloc(f->scratch_bytes);
        if (!f->scratch)
            return OV_ENOMEM;
    }
    *out = f->scratch;
    return 0;
}

static int f_upload_async(ov_backend *be, void *dst, const void *src, size_t bytes, int slot) {
    (void)be;
    fake *f = &g_fake;
    ck_assert(slot >= 0 && slot < OV_BACKEND_SLOTS);
    int inside = 0;
    for (int k = 0; k < 8; k++)
        if (f->pinned[k] && (const char *)src >= (const char *)f->pinned[k] &&
            (const char *)src + bytes <= (const char *)f->pinned[k] + f->pinned_bytes[k])
            inside = 1;
    f->outside_pinned += !inside;
    f->n_async++;
    f->n_small += bytes < STAGING / 4;
    if (f->shrink_path && f->n_async == f->shrink_after)
        ck_assert_int_eq(truncate(f->shrink_path, f->shrink_to), 0);
    pthread_mutex_lock(&f->mu);
    while (f->queued - f->done >= QCAP)
        pthread_cond_wait(&f->cv, &f->mu);
    job *j = &f->q[f->queued % QCAP];
    j->dst = dst;
    j->src = src;
    j->bytes = bytes;
    j->sum = checksum(src, bytes);
    j->seq = f->queued;
    f->queued++;
    f->slot_seq[slot] = f->queued;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return 0;
}

static int f_wait_slot(ov_backend *be, int slot) {
    (void)be;
    ck_assert(slot >= 0 && slot < OV_BACKEND_SLOTS);
    pthread_mutex_lock(&g_fake.mu);
    long seq = g_fake.slot_seq[slot];
    pthread_mutex_unlock(&g_fake.mu);
    wait_seq(&g_fake, seq);
    return 0;
}

static void fake_open(void) {
    fake *f = &g_fake;
    memset(f, 0, sizeof *f);
    f->ops = *ov_backend_cpu()->ops;
    f->ops.alloc = f_alloc;
    f->ops.free = f_free;
    f->ops.upload = f_upload;
    f->ops.download = f_upload;
    f->ops.sync = f_sync;
    f->ops.copy = f_copy;
    f->ops.host_alloc = f_host_alloc;
    f->ops.host_free = f_host_free;
    f->ops.upload_async = f_upload_async;
    f->ops.wait_slot = f_wait_slot;
    f->be.name = "fake-async";
    f->be.kind = 77; /* not the CPU: ov_weights_load must not read into its memory directly */
    f->be.ops = &f->ops;
    f->be.act_dtype = OV_DTYPE_F32;
    f->be.impl = f;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    ck_assert_int_eq(pthread_create(&f->th, NULL, worker, f), 0);
}

static void fake_close(void) {
    fake *f = &g_fake;
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->th, NULL);
    free(f->scratch);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
}

/* ---- the checkpoint ---- */

#define NT 48
static char g_dir[256];
static char g_path[512];
static char g_err[512];
static char g_names[NT][48];
static int g_dtype[NT];
static int64_t g_shape[NT][2];
static int g_n;

static void fill(void *p, size_t n, int dtype, uint64_t seed) {
    uint64_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        float v = (float)((int64_t)(s >> 40) % 2001 - 1000) / 250.0f;
        if (dtype == OV_DTYPE_F32)
            ((float *)p)[i] = v;
        else if (dtype == OV_DTYPE_F16)
            ((uint16_t *)p)[i] = ov_f32_to_f16(v);
        else if (dtype == OV_DTYPE_BF16)
            ((uint16_t *)p)[i] = ov_f32_to_bf16(v);
        else
            ((uint8_t *)p)[i] = (uint8_t)(s >> 56) & 0x77; /* finite e4m3 values */
    }
}

static void setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/ov_test_wstream_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    snprintf(g_path, sizeof g_path, "%s/model.safetensors", g_dir);
    /* element counts around the staging size (65536 bytes = 16384 f32 / 32768 f16 / 65536 f8)
     * and tiny ones that pack into one buffer */
    static const int64_t counts[] = {1,     3,     17,    1000,  16383, 16384, 16385, 32767, 32768, 32769,
                                     50001, 65535, 65537, 99999, 7,     2,     4096,  12345, 140001, 5};
    static const int dts[] = {OV_DTYPE_F32, OV_DTYPE_F16, OV_DTYPE_BF16, OV_DTYPE_F8_E4M3};
    ov_st_wtensor wt[NT];
    void *data[NT];
    float scale = 0.375f;
    g_n = 0;
    for (int i = 0; i < 40; i++) {
        int64_t c = counts[i % 20];
        int dt = dts[(i * 7 + i / 20) % 4];
        g_shape[g_n][0] = c % 3 == 0 && c > 3 ? 3 : 1;
        g_shape[g_n][1] = c / g_shape[g_n][0];
        snprintf(g_names[g_n], sizeof g_names[g_n], "blocks.%d.weight", i);
        g_dtype[g_n] = dt;
        size_t nb = (size_t)(g_shape[g_n][0] * g_shape[g_n][1]) * ov_dtype_block_bytes(dt);
        data[g_n] = malloc(nb);
        fill(data[g_n], (size_t)(g_shape[g_n][0] * g_shape[g_n][1]), dt, (uint64_t)i);
        wt[g_n] = (ov_st_wtensor){g_names[g_n], dt, 2, g_shape[g_n], data[g_n]};
        g_n++;
    }
    /* an fp8 weight with its ComfyUI scale (legacy layout: marker + <layer>.scale_weight) */
    static int64_t s_one[1] = {1}, s_f8[2] = {5, 777};
    g_dtype[g_n] = OV_DTYPE_F8_E4M3;
    snprintf(g_names[g_n], sizeof g_names[g_n], "scaled.weight");
    data[g_n] = malloc(5 * 777);
    fill(data[g_n], 5 * 777, OV_DTYPE_F8_E4M3, 99);
    wt[g_n] = (ov_st_wtensor){g_names[g_n], OV_DTYPE_F8_E4M3, 2, s_f8, data[g_n]};
    g_shape[g_n][0] = 5;
    g_shape[g_n][1] = 777;
    g_n++;
    wt[g_n] = (ov_st_wtensor){"scaled.scale_weight", OV_DTYPE_F32, 1, s_one, &scale};
    data[g_n] = NULL;
    static uint8_t marker[2] = {0, 0};
    wt[g_n + 1] = (ov_st_wtensor){"scaled_fp8", OV_DTYPE_F8_E4M3, 1, (int64_t[]){2}, marker};
    data[g_n + 1] = NULL;
    ck_assert_int_eq(ov_st_write(g_path, wt, (size_t)g_n + 2, NULL, 0, g_err, sizeof g_err), 0);
    for (int i = 0; i < g_n + 2; i++)
        free(data[i]);
    ck_assert_int_eq(setenv("OURVIDZ_LOAD_STAGING", "65536", 1), 0);
    fake_open();
}

static void teardown(void) {
    fake_close();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Load every tensor of path as want on the CPU and on be; be's bytes must equal the CPU's. */
static void compare_file(const char *path, char (*names)[48], int n, ov_backend *be, int want) {
    ov_weights *wc = NULL, *wf = NULL;
    ck_assert_int_eq(ov_weights_open(path, &wc), 0);
    ck_assert_int_eq(ov_weights_open(path, &wf), 0);
    ov_mem mc, mf;
    ov_mem_init(&mc, ov_backend_cpu(), 0);
    ov_mem_init(&mf, be, 0);
    ov_tensor tc[NT], tf[NT];
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        int w = want;
        ck_assert_msg(ov_weights_load(wc, &mc, names[i], w, 0, NULL, &tc[i]) == 0, "%s", ov_tensor_last_error());
        ck_assert_msg(ov_weights_load(wf, &mf, names[i], w, 0, NULL, &tf[i]) == 0, "%s", ov_tensor_last_error());
        ov_weight_info info;
        ck_assert_int_eq(ov_weights_info(wf, names[i], &info), 0);
        total += info.n_bytes;
    }
    /* downloads queue after the copies (stream order): no explicit sync */
    for (int i = 0; i < n; i++) {
        size_t nb = ov_tensor_nbytes(&tc[i]);
        ck_assert_uint_eq(nb, ov_tensor_nbytes(&tf[i]));
        ck_assert_int_eq(tf[i].dtype, tc[i].dtype);
        ck_assert(tf[i].scale == tc[i].scale);
        unsigned char *got = malloc(nb + 1);
        ck_assert_int_eq(ov_tensor_download(&tf[i], got, nb), 0);
        ck_assert_msg(memcmp(got, tc[i].data, nb) == 0, "%s (%s as %d) differs", names[i], path, want);
        free(got);
    }
    ck_assert_uint_eq(ov_weights_bytes_read(wf), total);
    ck_assert_uint_eq(ov_weights_bytes_read(wc), total);
    ck_assert(ov_weights_seconds(wf) > 0);
    for (int i = 0; i < n; i++) {
        ov_mem_free_tensor(&mc, &tc[i]);
        ov_mem_free_tensor(&mf, &tf[i]);
    }
    ck_assert_uint_eq(mf.used_bytes, 0);
    ck_assert_uint_eq(mf.n_allocs, 0);
    if (be == &g_fake.be) /* the two staging buffers, kept across tensors */
        ck_assert_int_eq(g_fake.live_host, g_fake.fail_host_alloc ? 0 : 2);
    ov_weights_close(wf);
    ov_weights_close(wc);
    ck_assert_int_eq(g_fake.live_host, 0);
    ck_assert_int_eq(g_fake.live_dev, 0);
    ck_assert_int_eq(g_fake.corrupt, 0);
    ck_assert_int_eq(g_fake.outside_pinned, 0);
}

static void compare_on(ov_backend *be, int want) { compare_file(g_path, g_names, g_n, be, want); }

static void compare_all(int want) { compare_on(&g_fake.be, want); }

START_TEST(keep_dtype_equals_plain) {
    compare_all(-1);
    ck_assert_int_eq(g_fake.host_allocs, 2);
    /* big tensors were chunked (more copies than tensors), small ones packed, buffers reused */
    ck_assert(g_fake.n_async > g_n + 10);
    ck_assert(g_fake.n_small > 10);
    ck_assert(g_fake.n_waits_blocked > 0);
}
END_TEST

START_TEST(convert_f32_equals_plain) { compare_all(OV_DTYPE_F32); }
END_TEST

START_TEST(convert_f16_bf16_equals_plain) {
    compare_all(OV_DTYPE_F16);
    compare_all(OV_DTYPE_BF16);
}
END_TEST

START_TEST(scaled_fp8_converts_on_device) {
    ov_weights *w = NULL;
    ck_assert_int_eq(ov_weights_open(g_path, &w), 0);
    ov_mem mf;
    ov_mem_init(&mf, &g_fake.be, 0);
    ov_tensor keep, f;
    ck_assert_int_eq(ov_weights_load(w, &mf, "scaled.weight", -1, 0, NULL, &keep), 0);
    ck_assert(keep.scale == 0.375f);
    ck_assert_int_eq(ov_weights_load(w, &mf, "scaled.weight", OV_DTYPE_F32, 0, NULL, &f), 0);
    ck_assert(f.scale == 1.0f);
    float *got = malloc(5 * 777 * sizeof(float));
    uint8_t *raw = malloc(5 * 777);
    ck_assert_int_eq(ov_tensor_download(&f, got, 5 * 777 * sizeof(float)), 0);
    ck_assert_int_eq(ov_tensor_download(&keep, raw, 5 * 777), 0);
    float one;
    for (int i = 0; i < 5 * 777; i++) {
        ck_assert_int_eq(ov_dtype_to_f32(OV_DTYPE_F8_E4M3, &raw[i], &one, 1), 0);
        ck_assert(got[i] == one * 0.375f); /* exact: a power-of-two-ish product of an f8 value */
    }
    free(got);
    free(raw);
    ov_mem_free_tensor(&mf, &keep);
    ov_mem_free_tensor(&mf, &f);
    ov_weights_close(w);
}
END_TEST

START_TEST(file_shrinks_mid_tensor) {
    ov_weights *w = NULL;
    ck_assert_int_eq(ov_weights_open(g_path, &w), 0);
    ov_mem mf;
    ov_mem_init(&mf, &g_fake.be, 0);
    /* blocks.38.weight: 140001 elements, several staging buffers whatever its dtype */
    ov_weight_info info;
    ck_assert_int_eq(ov_weights_info(w, "blocks.38.weight", &info), 0);
    ck_assert(info.n_bytes > 2 * STAGING);
    ov_tensor t, small;
    ck_assert_int_eq(ov_weights_load(w, &mf, "blocks.0.weight", -1, 0, NULL, &small), 0);
    long before = g_fake.n_async;
    g_fake.shrink_path = g_path;
    g_fake.shrink_after = before + 1; /* after the first chunk of the big tensor is queued */
    g_fake.shrink_to = 4096;
    int rc = ov_weights_load(w, &mf, "blocks.38.weight", OV_DTYPE_F32, 0, NULL, &t);
    ck_assert_int_eq(rc, OV_EFORMAT);
    ck_assert_msg(strstr(ov_tensor_last_error(), "blocks.38.weight") &&
                      strstr(ov_tensor_last_error(), "shrank") && strstr(ov_tensor_last_error(), g_path),
                  "%s", ov_tensor_last_error());
    ck_assert_ptr_null(t.data);
    ck_assert_int_eq(g_fake.corrupt, 0);
    /* only the small tensor is left counted and allocated */
    ck_assert_uint_eq(mf.n_allocs, 1);
    ck_assert_uint_eq(mf.used_bytes, ov_tensor_nbytes(&small));
    ck_assert_int_eq(g_fake.live_dev, 1);
    /* a later tensor past the cut fails the same way; the set stays usable and closes cleanly */
    ck_assert_int_eq(ov_weights_load(w, &mf, "blocks.30.weight", -1, 0, NULL, &t), OV_EFORMAT);
    ov_mem_free_tensor(&mf, &small);
    ov_weights_close(w);
    ck_assert_int_eq(g_fake.live_host, 0);
    ck_assert_int_eq(g_fake.live_dev, 0);
}
END_TEST

START_TEST(budget_errors_leave_nothing) {
    ov_weights *w = NULL;
    ck_assert_int_eq(ov_weights_open(g_path, &w), 0);
    /* blocks.39.weight: 5 elements; pick a 16-bit tensor of 140001 elements for the scratch case */
    const char *name = NULL;
    for (int i = 0; i < g_n && !name; i++)
        if ((g_dtype[i] == OV_DTYPE_F16 || g_dtype[i] == OV_DTYPE_BF16) &&
            g_shape[i][0] * g_shape[i][1] >= 99999)
            name = g_names[i];
    ck_assert_ptr_nonnull(name);
    ov_weight_info info;
    ck_assert_int_eq(ov_weights_info(w, name, &info), 0);
    size_t f32_bytes = info.n_bytes * 2;
    ov_tensor t;
    /* too small for the tensor itself */
    ov_mem m1;
    ov_mem_init(&m1, &g_fake.be, info.n_bytes / 2);
    ck_assert_int_eq(ov_weights_load(w, &m1, name, -1, 0, NULL, &t), OV_EBUDGET);
    ck_assert_uint_eq(m1.used_bytes, 0);
    /* room for the f32 result but not for the stored-dtype scratch the device converts from */
    ov_mem m2;
    ov_mem_init(&m2, &g_fake.be, f32_bytes + info.n_bytes / 2);
    ck_assert_int_eq(ov_weights_load(w, &m2, name, OV_DTYPE_F32, 0, NULL, &t), OV_EBUDGET);
    ck_assert_uint_eq(m2.used_bytes, 0);
    ck_assert_uint_eq(m2.n_allocs, 0);
    ck_assert_ptr_null(t.data);
    /* enough for both: loads, and only the result stays counted */
    ov_mem m3;
    ov_mem_init(&m3, &g_fake.be, f32_bytes + info.n_bytes + 4096);
    ck_assert_int_eq(ov_weights_load(w, &m3, name, OV_DTYPE_F32, 0, NULL, &t), 0);
    ck_assert_uint_eq(m3.used_bytes, ov_tensor_nbytes(&t));
    ck_assert(m3.peak_bytes >= f32_bytes + info.n_bytes);
    ov_mem_free_tensor(&m3, &t);
    ov_weights_close(w);
    ck_assert_int_eq(g_fake.live_dev, 0);
    ck_assert_int_eq(g_fake.live_host, 0);
}
END_TEST

START_TEST(cpu_backend_does_not_stream) {
    ck_assert(!ov_backend_can_stream(ov_backend_cpu()));
    ck_assert(ov_backend_can_stream(&g_fake.be));
    ov_weights *w = NULL;
    ck_assert_int_eq(ov_weights_open(g_path, &w), 0);
    ov_mem mc;
    ov_mem_init(&mc, ov_backend_cpu(), 0);
    ov_tensor t;
    ck_assert_int_eq(ov_weights_load(w, &mc, "blocks.38.weight", -1, 0, NULL, &t), 0);
    ck_assert_int_eq(g_fake.n_async, 0);
    ck_assert_int_eq(g_fake.host_allocs, 0);
    ov_mem_free_tensor(&mc, &t);
    ov_weights_close(w);
}
END_TEST

/* The real CUDA backend when this build has it and a device answers (else nothing to run here):
 * stored bytes and the on-device conversion to f32 (exact: f16/bf16/f8 -> f32 and one f32
 * multiply by the scale, the same arithmetic as the host) must equal the CPU's. */
START_TEST(cuda_equals_plain_when_present) {
    ov_backend *cuda = NULL;
    if (ov_backend_open(OV_BACKEND_CUDA, 0, &cuda) != 0) {
        printf("test_weights_stream: no CUDA device: %s\n", ov_tensor_last_error());
        return;
    }
    ck_assert(ov_backend_can_stream(cuda));
    compare_on(cuda, -1);
    compare_on(cuda, OV_DTYPE_F32);
    ov_backend_close(cuda);
}
END_TEST

/* With the backend's scratch: same bytes, and a conversion needs no budget headroom. */
START_TEST(backend_scratch_converts_without_budget) {
    g_fake.offer_scratch = 1;
    g_fake.ops.scratch = f_scratch;
    compare_all(OV_DTYPE_F32);
    compare_all(OV_DTYPE_BF16);
    ck_assert(g_fake.n_scratch >= g_n);
    ov_weights *w = NULL;
    ck_assert_int_eq(ov_weights_open(g_path, &w), 0);
    ov_weight_info info;
    ck_assert_int_eq(ov_weights_info(w, "blocks.18.weight", &info), 0);
    ck_assert_int_eq(info.dtype, OV_DTYPE_BF16);
    ov_mem m;
    ov_mem_init(&m, &g_fake.be, info.n_bytes * 2 + 256);
    ov_tensor t;
    ck_assert_msg(ov_weights_load(w, &m, "blocks.18.weight", OV_DTYPE_F32, 0, NULL, &t) == 0, "%s",
                  ov_tensor_last_error());
    ck_assert_uint_eq(m.peak_bytes, ov_tensor_nbytes(&t));
    ov_mem_free_tensor(&m, &t);
    ov_weights_close(w);
    ck_assert_int_eq(g_fake.live_dev, 0);
}
END_TEST

START_TEST(no_pinned_memory_falls_back_to_upload) {
    g_fake.fail_host_alloc = 1;
    compare_all(-1);
    compare_all(OV_DTYPE_F32);
    ck_assert_int_eq(g_fake.n_async, 0);
    ck_assert_int_eq(g_fake.host_allocs, 0);
}
END_TEST

/* GGUF: f32 / f16 / q8_0 tensors (shapes reversed in the file), streamed as stored and
 * converted to f32 on the "device" (q8_0 dequantised by the backend's copy op). */
START_TEST(gguf_equals_plain) {
    char path[600];
    snprintf(path, sizeof path, "%s/model.gguf", g_dir);
    static char names[6][48] = {"tok_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_norm.weight",
                                "blk.0.ffn_up.weight", "blk.1.ffn_down.weight", "output_norm.weight"};
    static const int dts[6] = {OV_DTYPE_Q8_0, OV_DTYPE_F16, OV_DTYPE_F32, OV_DTYPE_Q8_0, OV_DTYPE_F32,
                               OV_DTYPE_F16};
    static const int64_t ne[6][2] = {{96, 700}, {333, 77}, {1001, 1}, {4096, 9}, {160, 250}, {3, 1}};
    ov_gguf_writer *gw = ov_gguf_writer_new();
    ck_assert_ptr_nonnull(gw);
    /* one key at least: gguf.c's writer memcpy's from NULL with none (UBSan), reported */
    ck_assert_int_eq(ov_gguf_set_str(gw, "general.architecture", "qwen3"), 0);
    void *data[6];
    for (int i = 0; i < 6; i++) {
        int64_t n = ne[i][0] * ne[i][1];
        float *f = malloc((size_t)n * sizeof *f);
        fill(f, (size_t)n, OV_DTYPE_F32, (uint64_t)(100 + i));
        data[i] = malloc(ov_dtype_row_bytes(dts[i], n));
        ck_assert_int_eq(ov_dtype_from_f32(dts[i], f, data[i], n), 0);
        free(f);
        ck_assert_int_eq(ov_gguf_add_tensor(gw, names[i], dts[i], ne[i][1] > 1 ? 2 : 1, ne[i], data[i]), 0);
    }
    ck_assert_int_eq(ov_gguf_writer_write(gw, path, g_err, sizeof g_err), 0);
    ov_gguf_writer_free(gw);
    for (int i = 0; i < 6; i++)
        free(data[i]);
    compare_file(path, names, 6, &g_fake.be, -1);
    compare_file(path, names, 6, &g_fake.be, OV_DTYPE_F32);
    ck_assert(g_fake.n_async > 6);
}
END_TEST

int main(void) {
    Suite *s = suite_create("weights_stream");
    TCase *tc = tcase_create("stream");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, keep_dtype_equals_plain);
    tcase_add_test(tc, convert_f32_equals_plain);
    tcase_add_test(tc, convert_f16_bf16_equals_plain);
    tcase_add_test(tc, scaled_fp8_converts_on_device);
    tcase_add_test(tc, file_shrinks_mid_tensor);
    tcase_add_test(tc, budget_errors_leave_nothing);
    tcase_add_test(tc, cpu_backend_does_not_stream);
    tcase_add_test(tc, no_pinned_memory_falls_back_to_upload);
    tcase_add_test(tc, backend_scratch_converts_without_budget);
    tcase_add_test(tc, gguf_equals_plain);
    tcase_add_test(tc, cuda_equals_plain_when_present);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
