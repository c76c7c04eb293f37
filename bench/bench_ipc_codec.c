/* Benchmark: IPC message encode and decode cost (median ns per message) for job and progress. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "ipc/frame.h"
#include "ipc/message.h"

#define ROUNDS 21

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static void make_job(ov_msg *m)
{
    ov_msg_init(m, OV_MSG_JOB);
    m->u.job.job_id = strdup("0f8c2b1e-6a57-4c1d-9a51-3f0e2d9b7c44");
    m->u.job.task = strdup("t2v");
    ov_kvlist_set_str(&m->u.job.params, "prompt",
                      "a slow dolly shot of a lighthouse at dusk, waves crashing, cinematic lighting, 35mm");
    ov_kvlist_set_str(&m->u.job.params, "negative_prompt", "blurry, low quality, watermark");
    ov_kvlist_set_int(&m->u.job.params, "width", 832);
    ov_kvlist_set_int(&m->u.job.params, "height", 480);
    ov_kvlist_set_int(&m->u.job.params, "frames", 81);
    ov_kvlist_set_int(&m->u.job.params, "steps", 30);
    ov_kvlist_set_int(&m->u.job.params, "seed", 123456789);
    ov_kvlist_set_float(&m->u.job.params, "guidance", 5.0);
    ov_kvlist_set_bool(&m->u.job.params, "enhance", true);
    ov_kvlist_set_str(&m->u.job.params, "user_id", "u-2f9d");
}

static void make_progress(ov_msg *m)
{
    ov_msg_init(m, OV_MSG_PROGRESS);
    m->u.progress.job_id = strdup("0f8c2b1e-6a57-4c1d-9a51-3f0e2d9b7c44");
    m->u.progress.phase = strdup("denoise");
    m->u.progress.step = 17;
    m->u.progress.total = 30;
}

static int bench(const char *label, const ov_msg *m, int iters)
{
    double enc[ROUNDS], dec[ROUNDS];
    ov_buf b;
    ov_buf_init(&b, OV_IPC_FRAME_MAX + OV_IPC_FRAME_HEADER);
    if (ov_msg_encode(m, &b) != 0)
        return 1;
    size_t frame_len = b.len;
    char err[128];
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns();
        for (int i = 0; i < iters; i++) {
            ov_buf_reset(&b);
            if (ov_msg_encode(m, &b) != 0)
                return 1;
        }
        double t1 = now_ns();
        for (int i = 0; i < iters; i++) {
            ov_msg d;
            if (ov_msg_decode((const uint8_t *)b.data + OV_IPC_FRAME_HEADER, b.len - OV_IPC_FRAME_HEADER, &d, err,
                              sizeof err) != 0) {
                fprintf(stderr, "decode failed: %s\n", err);
                return 1;
            }
            ov_msg_free(&d);
        }
        double t2 = now_ns();
        enc[r] = (t1 - t0) / iters;
        dec[r] = (t2 - t1) / iters;
    }
    double me = median(enc, ROUNDS), md = median(dec, ROUNDS);
    printf("| %-8s | %6zu | %9.0f | %9.0f | %9.0f |\n", label, frame_len, me, md, me + md);
    ov_buf_free(&b);
    return 0;
}

int main(int argc, char **argv)
{
    int iters = 20000;
    if (argc > 1) {
        char *end;
        long v = strtol(argv[1], &end, 10);
        if (*end || v < 1 || v > 10000000) {
            fprintf(stderr, "usage: bench_ipc_codec [iterations per round]\n");
            return 2;
        }
        iters = (int)v;
    }
    ov_msg job, prog;
    make_job(&job);
    make_progress(&prog);
    printf("ipc codec: median of %d rounds x %d messages (ns per message)\n", ROUNDS, iters);
    printf("| message  | frame  | encode ns | decode ns | total ns  |\n");
    printf("|----------|--------|-----------|-----------|-----------|\n");
    int rc = bench("job", &job, iters) || bench("progress", &prog, iters);
    ov_msg_free(&job);
    ov_msg_free(&prog);
    return rc;
}
