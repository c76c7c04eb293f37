/* Restart pacing: capped exponential backoff with jitter and crash-loop detection (pure functions). */
#ifndef OV_SUP_BACKOFF_H
#define OV_SUP_BACKOFF_H

#include <stdint.h>

/* Delay before restart number `step` (0 = first restart after a reset):
 * min(max_ms, initial_ms * 2^step), then scaled by a jitter factor in [0.75, 1.25) taken from
 * u in [0, 1), and capped at max_ms again. Never below 1 ms when initial_ms > 0. */
int64_t ov_backoff_delay_ms(int64_t initial_ms, int64_t max_ms, int step, double u);

/* Crash-loop window: a ring of the times (ms) of the last `cap` failed starts.
 * `times` has room for cap entries; *n is how many are used (starts at 0). */
typedef struct ov_crash_ring {
    uint64_t *times;
    int cap, n, head;
} ov_crash_ring;

/* Record a failed start at now_ms. Returns 1 when `cap` failed starts (cap = crash_loop_max)
 * fall within window_ms ending at now_ms (a crash loop: stop respawning), else 0. */
int ov_crash_ring_record(ov_crash_ring *r, uint64_t now_ms, int64_t window_ms);
/* Forget every recorded failure (the worker proved healthy). */
void ov_crash_ring_reset(ov_crash_ring *r);

#endif
