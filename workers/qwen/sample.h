/* Token sampling for generation: HF-order logits processors (repetition penalty, temperature,
 * top-k, top-p) and a seeded draw. */
#ifndef OV_QWEN_SAMPLE_H
#define OV_QWEN_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"
#include "workers/qwen/qwen.h"

typedef struct ov_sampler {
    ov_gen_params p;
    int64_t vocab;
    ov_rng rng;
    uint8_t *seen; /* bitmap of ids in the context (repetition penalty) */
    int32_t *seen_ids;        /* the same ids as a list (the penalty touches only these) */
    size_t n_seen, cap_seen;
    struct ov_cand {
        float logit;
        int32_t id;
    } * cand; /* vocab entries of scratch */
} ov_sampler;

/* Validate p (OV_EINVAL naming the bad field) and allocate scratch for `vocab` logits.
 * Free with ov_sampler_free. */
int ov_sampler_init(ov_sampler *s, const ov_gen_params *p, int64_t vocab);
void ov_sampler_free(ov_sampler *s);
/* Record an id of the context (prompt or generated) for the repetition penalty. */
void ov_sampler_accept(ov_sampler *s, int32_t id);
/* Pick the next id from logits[vocab] (modified in place by the processors). Greedy when
 * temperature <= 0 (argmax, lowest id on ties, after the repetition penalty like HF). */
int32_t ov_sampler_sample(ov_sampler *s, float *logits);

#endif
