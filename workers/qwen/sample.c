/* Sampling: the HF logits-processor chain, then one seeded draw.
 * Reference: transformers src/transformers/generation/logits_process.py
 * (RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper)
 * applied in that order, as generation/utils.py builds them; then softmax + multinomial. */
#include "workers/qwen/sample.h"

#include <math.h>
#include <stdint.h>
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
    free(s->seen_ids);
    s->seen = NULL;
    s->cand = NULL;
    s->seen_ids = NULL;
    s->n_seen = s->cap_seen = 0;
}

void ov_sampler_accept(ov_sampler *s, int32_t id)
{
    if (id < 0 || id >= s->vocab || (s->seen[id >> 3] & (1u << (id & 7))))
        return;
    if (s->n_seen == s->cap_seen) {
        size_t cap = s->cap_seen ? 2 * s->cap_seen : 256;
        int32_t *v = realloc(s->seen_ids, cap * sizeof *v);
        if (!v) {
            /* keep the bitmap exact; the list falls back to a full scan (n_seen = SIZE_MAX) */
            s->n_seen = SIZE_MAX;
            s->seen[id >> 3] |= (uint8_t)(1u << (id & 7));
            return;
        }
        s->seen_ids = v;
        s->cap_seen = cap;
    }
    if (s->n_seen != SIZE_MAX)
        s->seen_ids[s->n_seen++] = id;
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
 * prefix (O(n) typical, O(n·k) worst case, fine for the k <= 512 used here); k = 0 sorts all.
 * Entries evicted from the prefix are overwritten: past the k best, c[] is no longer the input. */
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

/* Every id as a candidate with its logit / temperature (the TemperatureLogitsWarper). */
static void fill_cand(ov_sampler *s, const float *logits)
{
    for (int64_t i = 0; i < s->vocab; i++) {
        s->cand[i].logit = logits[i] / s->p.temperature;
        s->cand[i].id = (int32_t)i;
    }
}

int32_t ov_sampler_sample(ov_sampler *s, float *logits)
{
    const ov_gen_params *p = &s->p;
    int64_t V = s->vocab;
    /* (1) repetition penalty over every id in the context, prompt included (each id once) */
    if (p->repetition_penalty != 1.0f) {
        const float rp = p->repetition_penalty;
        if (s->n_seen != SIZE_MAX) {
            for (size_t k = 0; k < s->n_seen; k++) {
                int32_t i = s->seen_ids[k];
                logits[i] = logits[i] < 0 ? logits[i] * rp : logits[i] / rp;
            }
        } else {
            for (int64_t i = 0; i < V; i++)
                if (s->seen[i >> 3] & (1u << (i & 7)))
                    logits[i] = logits[i] < 0 ? logits[i] * rp : logits[i] / rp;
        }
    }
    if (p->temperature <= 0.0f || p->top_k == 1) {
        /* argmax, lowest id on ties: the max first, in 8 independent lanes (`x > m ? x : m`: NaN
         * never wins, as in a `>` scan from id 0; every lane starts at logits[0]), then its first id */
        float l8[8], m;
        for (int j = 0; j < 8; j++)
            l8[j] = logits[0];
        int64_t i8 = 0;
        for (; i8 + 8 <= V; i8 += 8)
            for (int j = 0; j < 8; j++)
                l8[j] = logits[i8 + j] > l8[j] ? logits[i8 + j] : l8[j];
        m = l8[0];
        for (int j = 1; j < 8; j++)
            m = l8[j] > m ? l8[j] : m;
        for (; i8 < V; i8++)
            m = logits[i8] > m ? logits[i8] : m;
        for (int64_t i = 0; i < V; i++)
            if (logits[i] == m)
                return (int32_t)i;
        return 0; /* logits[0] NaN and nothing larger: id 0, as the `>` scan gives */
    }
    /* (3) top-k, (4) top-p: the smallest prefix (descending) whose probability reaches top_p,
     * at least one token. Without top-k, only the best TOPP_FIRST are sorted when they already
     * reach top_p (the usual case); the full sort is the fallback. */
    size_t n = (size_t)V;
    int use_p = p->top_p > 0.0f && p->top_p < 1.0f;
    double mx, sum = 0;
    if (p->top_k > 0 && (int64_t)p->top_k < V) {
        /* (2) temperature fused with the top-k scan: only values above the current k-th best
         * enter the sorted prefix (same order and ties as top_k_sort over all candidates) */
        const float T = p->temperature;
        const size_t k = (size_t)p->top_k;
        struct ov_cand *c = s->cand;
        size_t m = 0;
        for (int64_t i = 0; i < V; i++) {
            float v = logits[i] / T;
            if (m == k && !(v > c[k - 1].logit))
                continue;
            size_t j = m < k ? m++ : k - 1;
            while (j > 0 && c[j - 1].logit < v) {
                c[j] = c[j - 1];
                j--;
            }
            c[j].logit = v;
            c[j].id = (int32_t)i;
        }
        n = m;
        mx = c[0].logit;
        for (size_t i = 0; i < n; i++)
            sum += exp((double)c[i].logit - mx);
    } else if (p->top_k > 0) {
        fill_cand(s, logits); /* (2) temperature */
        n = top_k_sort(s->cand, (size_t)V, (size_t)p->top_k);
        mx = s->cand[0].logit;
        for (size_t i = 0; i < n; i++)
            sum += exp((double)s->cand[i].logit - mx);
    } else {
        fill_cand(s, logits); /* (2) temperature */
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
            if (m < n && cum / sum < (double)p->top_p) {
                /* top_k_sort kept its best m in front by overwriting the others: rebuild every
                 * candidate before the full sort (sorting the remains counted some tokens twice
                 * and dropped others; found by tests/test_qwen_sample.c) */
                fill_cand(s, logits);
                qsort(s->cand, n, sizeof *s->cand, cand_cmp);
            }
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
