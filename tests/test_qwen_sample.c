/* The sampler (workers/qwen/sample.c) against a plain implementation of the same HF chain
 * (transformers generation/logits_process.py: repetition penalty, temperature, top-k, top-p, then
 * one draw), written here the obvious way: the penalty over a bitmap scan, the temperature over
 * every logit, a full sort by (logit desc, id asc). Same seeds, same ids, on random logits with
 * ties, NaN-free and with a NaN, across the parameter combinations the service uses. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "workers/qwen/sample.h"

typedef struct ref_cand {
    float logit;
    int32_t id;
} ref_cand;

static int ref_cmp(const void *a, const void *b)
{
    const ref_cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* One draw of the plain chain; rng advanced like the sampler's (one uniform per sampled draw). */
static int32_t ref_sample(const ov_gen_params *p, const uint8_t *seen, float *logits, int64_t V, ov_rng *rng)
{
    if (p->repetition_penalty != 1.0f && p->repetition_penalty != 0.0f)
        for (int64_t i = 0; i < V; i++)
            if (seen[i])
                logits[i] = logits[i] < 0 ? logits[i] * p->repetition_penalty : logits[i] / p->repetition_penalty;
    if (p->temperature <= 0.0f || p->top_k == 1) {
        int64_t best = 0;
        for (int64_t i = 1; i < V; i++)
            if (logits[i] > logits[best])
                best = i;
        return (int32_t)best;
    }
    ref_cand *c = malloc((size_t)V * sizeof *c);
    ck_assert_ptr_nonnull(c);
    for (int64_t i = 0; i < V; i++) {
        c[i].logit = logits[i] / p->temperature;
        c[i].id = (int32_t)i;
    }
    /* The normaliser is summed in the sampler's order (ids ascending without top-k, sorted with
     * it): a different order moves the last bits of the sum, and a draw on a boundary with it. */
    size_t n = (size_t)V;
    double mx = 0, sum = 0;
    if (p->top_k == 0) {
        mx = c[0].logit;
        for (size_t i = 1; i < n; i++)
            if (c[i].logit > mx)
                mx = c[i].logit;
        for (size_t i = 0; i < n; i++)
            sum += exp((double)c[i].logit - mx);
        if (p->top_p > 0.0f && p->top_p < 1.0f) /* no cut at all: the draw walks ids in order */
            qsort(c, (size_t)V, sizeof *c, ref_cmp);
    } else {
        qsort(c, (size_t)V, sizeof *c, ref_cmp);
        if ((size_t)p->top_k < n)
            n = (size_t)p->top_k;
        mx = c[0].logit;
        for (size_t i = 0; i < n; i++)
            sum += exp((double)c[i].logit - mx);
    }
    if (p->top_p > 0.0f && p->top_p < 1.0f) {
        double cum = 0;
        size_t keep = n;
        for (size_t i = 0; i < n; i++) {
            cum += exp((double)c[i].logit - mx) / sum;
            if (cum >= (double)p->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
        sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += exp((double)c[i].logit - mx);
    }
    double u = ov_rng_uniform(rng) * sum, acc = 0;
    int32_t id = c[n - 1].id;
    for (size_t i = 0; i < n; i++) {
        acc += exp((double)c[i].logit - mx);
        if (u < acc) {
            id = c[i].id;
            break;
        }
    }
    free(c);
    return id;
}

static void run_case(const ov_gen_params *p, int64_t V, int steps, int with_nan, uint64_t seed)
{
    ov_sampler s;
    ck_assert_int_eq(ov_sampler_init(&s, p, V), 0);
    ov_rng ref_rng, data;
    ov_rng_seed(&ref_rng, p->seed);
    ov_rng_seed(&data, seed);
    uint8_t *seen = calloc((size_t)V, 1);
    float *a = malloc((size_t)V * sizeof *a), *b = malloc((size_t)V * sizeof *b);
    ck_assert_ptr_nonnull(seen);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < 40; i++) { /* a "prompt", repeats included */
        int32_t id = (int32_t)(ov_rng_u64(&data) % (uint64_t)V);
        ov_sampler_accept(&s, id);
        ov_sampler_accept(&s, id);
        seen[id] = 1;
    }
    for (int t = 0; t < steps; t++) {
        for (int64_t i = 0; i < V; i++) {
            /* coarse values: many exact ties, positive and negative */
            a[i] = (float)((int)(ov_rng_normal(&data) * 8.0f)) / 4.0f;
        }
        if (with_nan)
            a[(t * 37 + 5) % V] = NAN;
        memcpy(b, a, (size_t)V * sizeof *a);
        int32_t got = ov_sampler_sample(&s, a);
        int32_t want = ref_sample(p, seen, b, V, &ref_rng);
        ck_assert_msg(got == want, "step %d (T %g k %d p %g rp %g V %lld nan %d): sampler %d, reference %d", t,
                      (double)p->temperature, p->top_k, (double)p->top_p, (double)p->repetition_penalty,
                      (long long)V, with_nan, got, want);
        ov_sampler_accept(&s, got);
        seen[got] = 1;
    }
    free(seen);
    free(a);
    free(b);
    ov_sampler_free(&s);
}

START_TEST(sampler_matches_plain_chain)
{
    const struct {
        float T, top_p, rp;
        int top_k;
    } cases[] = {
        {0.0f, 1.0f, 1.0f, 0},    /* greedy */
        {0.0f, 1.0f, 1.05f, 0},   /* greedy with the penalty (the bench / llama.cpp comparisons) */
        {0.7f, 0.8f, 1.05f, 20},  /* the enhancer's defaults */
        {1.0f, 1.0f, 1.0f, 50},   /* top-k only */
        {0.9f, 0.95f, 1.2f, 0},   /* top-p only */
        {1.3f, 1.0f, 1.0f, 0},    /* temperature only */
        {0.7f, 0.5f, 1.05f, 1},   /* top-k 1 = greedy */
        {0.5f, 0.9f, 1.1f, 4096}, /* k above the vocabulary of the small case */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int nan = 0; nan < 2; nan++) {
            ov_gen_params p = {.temperature = cases[c].T,
                               .top_p = cases[c].top_p,
                               .top_k = cases[c].top_k,
                               .repetition_penalty = cases[c].rp,
                               .max_new_tokens = 16,
                               .seed = 1000 + c};
            /* NaN only where the reference's order is defined for it: greedy */
            if (nan && cases[c].T > 0.0f && cases[c].top_k != 1)
                continue;
            run_case(&p, 3000, 12, nan, 77 + c);
            run_case(&p, 152064, 3, nan, 99 + c);
        }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("qwen_sample");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, sampler_matches_plain_chain);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
