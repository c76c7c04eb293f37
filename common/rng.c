/* Seeded, reproducible random numbers: xoshiro256** (Blackman & Vigna) with splitmix64 seeding. */
#include "common/rng.h"

#include <math.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void ov_rng_seed(ov_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    r->have_spare = 0;
    r->spare = 0.0f;
}

uint64_t ov_rng_u64(ov_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double ov_rng_uniform(ov_rng *r) { return (double)(ov_rng_u64(r) >> 11) * 0x1.0p-53; }

float ov_rng_normal(ov_rng *r) {
    if (r->have_spare) {
        r->have_spare = 0;
        return r->spare;
    }
    /* u1 in (0, 1] so log() is finite. */
    double u1 = 1.0 - ov_rng_uniform(r);
    double u2 = ov_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    double ang = 6.283185307179586476925 * u2;
    r->spare = (float)(rad * sin(ang));
    r->have_spare = 1;
    return (float)(rad * cos(ang));
}

void ov_rng_fill_normal(ov_rng *r, float *dst, size_t n, float mean, float std) {
    for (size_t i = 0; i < n; i++)
        dst[i] = mean + std * ov_rng_normal(r);
}

uint64_t ov_hash64(const void *data, size_t n) {
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t ov_rng_fresh_seed(void) {
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 32);
    }
    s &= (1ull << 53) - 1;
    return s ? s : 1;
}
