/* Restart pacing arithmetic: exponential backoff with jitter, crash-loop window (no I/O). */
#include "backoff.h"

int64_t ov_backoff_delay_ms(int64_t initial_ms, int64_t max_ms, int step, double u)
{
    if (initial_ms <= 0)
        return 0;
    if (max_ms < initial_ms)
        max_ms = initial_ms;
    int64_t d = initial_ms;
    for (int i = 0; i < step && d < max_ms; i++)
        d = d > max_ms / 2 ? max_ms : d * 2;
    if (d > max_ms)
        d = max_ms;
    if (u < 0.0)
        u = 0.0;
    if (u >= 1.0)
        u = 0.999999;
    int64_t j = (int64_t)((double)d * (0.75 + 0.5 * u));
    if (j > max_ms)
        j = max_ms;
    return j < 1 ? 1 : j;
}

int ov_crash_ring_record(ov_crash_ring *r, uint64_t now_ms, int64_t window_ms)
{
    if (r->cap <= 0)
        return 1;
    r->times[r->head] = now_ms;
    r->head = (r->head + 1) % r->cap;
    if (r->n < r->cap)
        r->n++;
    if (r->n < r->cap)
        return 0;
    /* Full ring: the oldest entry is at head. All cap failures inside the window -> loop. */
    uint64_t oldest = r->times[r->head];
    return now_ms - oldest <= (uint64_t)window_ms;
}

void ov_crash_ring_reset(ov_crash_ring *r)
{
    r->n = 0;
    r->head = 0;
}
