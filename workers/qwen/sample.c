/* Sampling: the HF logits-processor chain, then one seeded draw.
 * Reference: transformers src/transformers/generation/logits_process.py
 * (RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper)
 * applied in that order, as generation/utils.py builds them; then softmax + multinomial. */
#include "workers/qwen/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/tensor/tensor.h"

/* Candidates sorted first for top-p without top-k (see ov_sampler_sample). */
#define TOPP_FIRST 512

int ov_sampler_init(ov_sampler *s, const ov_gen_params *p, int64_t vocab)
{
    memset(s, 0, sizeof *s);
    if (!p || vocab < 1)
        return ov_tensor_fail(OV_EINVAL, "sampler: no params or empty vocabulary");
    if (!isfinite(p->temperature) || p->top_k < 0 || !isfinite(p->top_p) || p->top_p > 1.0f ||
        !isfinite(p->repetition_penalty) || p->repetition_penalty < 0.0f || p->max_new_tokens < 1)
        return ov_tensor_fail(OV_EINVAL,
                              "sampler: bad params temperature %g top_k %d top_p %g repetition_penalty %g "
                              "max_new_tokens %d",
                              (double)p->temperature, p->top_k, (double)p->top_p,
                              (double)p->repetition_penalty, p->max_new_tokens);
    s->p = *p;
    if (s->p.repetition_penalty == 0.0f) /* unset field: off */
        s->p.repetition_penalty = 1.0f;
    s->vocab = vocab;
    ov_rng_seed(&s->rng, p->seed);
    s->seen = calloc((size_t)(vocab + 7) / 8, 1);
    s->cand = malloc((size_t)vocab * sizeof *s->cand);
    if (!s->seen || !s->cand) {
        ov_sampler_free(s);
        return ov_tensor_fail(OV_ENOMEM, "sampler: no memory for %lld candidates", (long long)vocab);
    }
    return 0;
}

void ov_sampler_free(ov_sampler *s)
{
    free(s->seen);
    free(s->cand);
    s->seen = NULL;
    s->cand = NULL;
}

void ov_sampler_accept(ov_sampler *s, int32_t id)
{
    if (id >= 0 && id < s->vocab)
        s->seen[id >> 3] |= (uint8_t)(1u << (id & 7));
}

/* Descending logit, then ascending id (deterministic order for ties). */
static int cand_cmp(const void *a, const void *b)
{
    const struct ov_cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Sort the k best of c[0..n) to the front and return how many there are: insertion into a sorted
 * prefix (O(n) typical, O(n·k) worst case, fine for the k <= 512 used here); k = 0 sorts all. */
static size_t top_k_sort(struct ov_cand *c, size_t n, size_t k)
{
    if (k == 0 || k >= n) {
        qsort(c, n, sizeof *c, cand_cmp);
        return n;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        struct ov_cand v = c[i];
        if (m == k && cand_cmp(&v, &c[k - 1]) >= 0)
            continue;
        size_t j = m < k ? m++ : k - 1;
        while (j > 0 && cand_cmp(&v, &c[j - 1]) < 0) {
            c[j] = c[j - 1];
            j--;
        }
        c[j] = v;
    }
    return m;
}

int32_t ov_sampler_sample(ov_sampler *s, float *logits)
{
    const ov_gen_params *p = &s->p;
    int64_t V = s->vocab;
    /* (1) repetition penalty over every id in the context, prompt included */
    if (p->repetition_penalty != 1.0f) {
        for (int64_t i = 0; i < V; i++)
            if (s->seen[i >> 3] & (1u << (i & 7)))
                logits[i] =
                    logits[i] < 0 ? logits[i] * p->repetition_penalty : logits[i] / p->repetition_penalty;
    }
    if (p->temperature <= 0.0f || p->top_k == 1) {
        int64_t best = 0;
        for (int64_t i = 1; i < V; i++)
            if (logits[i] > logits[best])
                best = i;
        return (int32_t)best;
    }
    /* (2) temperature */
    for (int64_t i = 0; i < V; i++) {
        s->cand[i].logit = logits[i] / p->temperature;
        s->cand[i].id = (int32_t)i;
    }
    /* (3) top-k, (4) top-p: the smallest prefix (descending) whose probability reaches top_p,
     * at least one token. Without top-k, only the best TOPP_FIRST are sorted when they already
     * reach top_p (the usual case); the full sort is the fallback. */
    size_t n = (size_t)V;
    int use_p = p->top_p > 0.0f && p->top_p < 1.0f;
    double mx, sum = 0;
    if (p->top_k > 0) {
        n = top_k_sort(s->cand, (size_t)V, (size_t)p->top_k);
        mx = s->cand[0].logit;
        for (size_t i = 0; i < n; i++)
            sum += exp((double)s->cand[i].logit - mx);
    } else {
        mx = s->cand[0].logit;
        for (size_t i = 1; i < n; i++)
            if (s->cand[i].logit > mx)
                mx = s->cand[i].logit;
        for (size_t i = 0; i < n; i++)
            sum += exp((double)s->cand[i].logit - mx);
        if (use_p) {
            size_t m = top_k_sort(s->cand, n, TOPP_FIRST);
            double cum = 0;
            for (size_t i = 0; i < m; i++)
                cum += exp((double)s->cand[i].logit - mx);
            if (m < n && cum / sum < (double)p->top_p)
                qsort(s->cand, n, sizeof *s->cand, cand_cmp);
        }
    }
    if (use_p) {
        double cum = 0;
        size_t keep = n;
        for (size_t i = 0; i < n; i++) {
            cum += exp((double)s->cand[i].logit - mx) / sum;
            if (cum >= (double)p->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
        sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += exp((double)s->cand[i].logit - mx);
    }
    /* draw */
    double u = ov_rng_uniform(&s->rng) * sum, acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc += exp((double)s->cand[i].logit - mx);
        if (u < acc)
            return s->cand[i].id;
    }
    return s->cand[n - 1].id;
}
