/* Seeded, reproducible random numbers (xoshiro256**): sampling noise, token sampling, tiny models. */
#ifndef OV_RNG_H
#define OV_RNG_H

#include <stddef.h>
#include <stdint.h>

/* Same seed -> same sequence on every machine and build (integer core; the float helpers use
 * only IEEE operations plus log/cos/sin/sqrt from libm). Not for secrets. */
typedef struct ov_rng {
    uint64_t s[4];
    int have_spare; /* Box-Muller makes pairs */
    float spare;
} ov_rng;

/* Seed from one 64-bit value (expanded with splitmix64, as the xoshiro authors recommend). */
void ov_rng_seed(ov_rng *r, uint64_t seed);
uint64_t ov_rng_u64(ov_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double ov_rng_uniform(ov_rng *r);
/* Standard normal (Box-Muller on two uniforms, the second value kept for the next call). */
float ov_rng_normal(ov_rng *r);
/* dst[i] = mean + std · N(0, 1), i < n. */
void ov_rng_fill_normal(ov_rng *r, float *dst, size_t n, float mean, float std);
/* A fresh seed for a request that named none: 53 bits (exact in a JSON number), never 0, from
 * getrandom() (clock and pid when that fails). Report it so the result can be reproduced. */
uint64_t ov_rng_fresh_seed(void);
/* 64-bit FNV-1a of bytes: derive per-tensor seeds from names (seed ^ ov_hash64(name)). */
uint64_t ov_hash64(const void *data, size_t n);

#endif
