/* Shared helpers for the delivery/HTTP suites: a loop runner, temp dirs, files, a delivery harness. */
#ifndef OV_TEST_DELIVERY_TEST_UTIL_H
#define OV_TEST_DELIVERY_TEST_UTIL_H

#include <fcntl.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "ipc/message.h"
#include "supervisor/delivery.h"

typedef struct dt_done {
    int called;
    int status;
    char detail[512];
} dt_done;

static inline void dt_on_done(void *ctx, int status, const char *detail)
{
    dt_done *d = ctx;
    d->called++;
    d->status = status;
    snprintf(d->detail, sizeof d->detail, "%s", detail ? detail : "");
}

static inline void dt_tick(uv_timer_t *t)
{
    (void)t;
}

/* Run `loop` until *flag becomes nonzero or timeout_ms passes. Returns *flag. */
static inline int dt_run_until(uv_loop_t *loop, const int *flag, int timeout_ms)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, dt_tick, 5, 5);
    uv_update_time(loop);
    uint64_t end = uv_now(loop) + (uint64_t)timeout_ms;
    while (!*flag && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag;
}

/* Run `loop` for ms milliseconds. */
static inline void dt_run_for(uv_loop_t *loop, int ms)
{
    int never = 0;
    dt_run_until(loop, &never, ms);
}

/* mkdtemp under /tmp; the path is written to out (64 bytes). */
static inline void dt_tempdir(char *out, size_t n, const char *tag)
{
    snprintf(out, n, "/tmp/ovdlv-%s-XXXXXX", tag);
    if (!mkdtemp(out))
        abort();
}

static inline void dt_write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, p, n) != (ssize_t)n)
        abort();
    close(fd);
}

/* A real RGB PNG of w x h (a gradient). */
static inline void dt_write_png(const char *path, int w, int h)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = PNG_FORMAT_RGB;
    unsigned char *px = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *p = px + ((size_t)y * w + x) * 3;
            p[0] = (unsigned char)(x * 255 / (w - 1));
            p[1] = (unsigned char)(y * 255 / (h - 1));
            p[2] = 128;
        }
    if (!png_image_write_to_file(&img, path, 0, px, 0, NULL))
        abort();
    free(px);
}

/* A fake MP4: an ftyp box then junk. */
static inline void dt_write_mp4(const char *path)
{
    unsigned char b[64] = {0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm'};
    for (int i = 12; i < 64; i++)
        b[i] = (unsigned char)i;
    dt_write_file(path, b, sizeof b);
}

/* Read a whole file (malloc'd, NUL-terminated); NULL when missing. */
static inline char *dt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n)
        abort();
    b[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return b;
}

static inline int dt_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* A result message with the given outputs (paths, mimes) and a seed. Caller frees (ov_msg_free). */
static inline void dt_result(ov_msg *m, const char *job_id, int n, const char *const *paths, const char *const *mimes,
                             int64_t seed)
{
    ov_msg_init(m, OV_MSG_RESULT);
    m->u.result.job_id = strdup(job_id);
    for (int i = 0; i < n; i++)
        ov_msg_add_output(m, paths[i], mimes[i]);
    if (seed >= 0)
        ov_kvlist_set_int(&m->u.result.meta, "seed", seed);
}

/* Close the delivery and drain the loop; the loop must end with no handles left. */
static inline int dt_close(uv_loop_t *loop, ov_delivery *d)
{
    ov_delivery_close(d);
    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop);
}

/* Log lines go to a temp file; returns its fd (read it back with dt_read_fd). */
static inline int dt_capture_log(void)
{
    char path[] = "/tmp/ovdlv-log-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    unlink(path);
    ov_log_set_fd(fd);
    return fd;
}

static inline char *dt_read_fd(int fd)
{
    off_t n = lseek(fd, 0, SEEK_END);
    char *b = malloc((size_t)n + 1);
    if (pread(fd, b, (size_t)n, 0) != n)
        abort();
    b[n] = '\0';
    return b;
}

#endif
