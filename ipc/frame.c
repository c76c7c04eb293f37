/* IPC framing: incremental frame reader, header writer and blocking fd helpers for workers. */
#include "ipc/frame.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"

/* Bytes the reader may hold at once: one maximal frame plus the same again of following data.
 * Callers drain every complete frame after each feed, so in steady state the buffer holds less
 * than one frame and a feed of up to max_payload+header bytes always fits. */
static size_t reader_limit(const ov_frame_reader *r)
{
    return 2 * (r->max_payload + OV_IPC_FRAME_HEADER);
}

void ov_frame_reader_init(ov_frame_reader *r, size_t max_payload)
{
    memset(r, 0, sizeof *r);
    if (max_payload == 0 || max_payload > OV_IPC_FRAME_MAX)
        max_payload = OV_IPC_FRAME_MAX;
    r->max_payload = max_payload;
}

void ov_frame_reader_free(ov_frame_reader *r)
{
    free(r->buf);
    size_t max = r->max_payload;
    memset(r, 0, sizeof *r);
    r->max_payload = max;
}

/* Move unconsumed bytes to the front so the buffer never creeps. */
static void reader_compact(ov_frame_reader *r)
{
    if (r->off == 0)
        return;
    size_t left = r->len - r->off;
    if (left)
        memmove(r->buf, r->buf + r->off, left);
    r->len = left;
    r->off = 0;
}

int ov_frame_reader_feed(ov_frame_reader *r, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    reader_compact(r);
    size_t limit = reader_limit(r);
    if (n > limit || r->len > limit - n)
        return OV_ENOMEM;
    size_t need = r->len + n;
    if (need > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < need)
            cap *= 2;
        if (cap > limit)
            cap = limit;
        uint8_t *nb = realloc(r->buf, cap);
        if (!nb)
            return OV_ENOMEM;
        r->buf = nb;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, n);
    r->len += n;
    return 0;
}

int ov_frame_reader_next(ov_frame_reader *r, const uint8_t **payload, size_t *len)
{
    size_t avail = r->len - r->off;
    if (avail < OV_IPC_FRAME_HEADER)
        return 0;
    const uint8_t *h = r->buf + r->off;
    uint32_t n = ((uint32_t)h[0] << 24) | ((uint32_t)h[1] << 16) | ((uint32_t)h[2] << 8) | (uint32_t)h[3];
    /* Not consumed: the stream stays poisoned and every later call says the same. */
    if (n == 0 || n > r->max_payload)
        return OV_EPROTO;
    if (avail - OV_IPC_FRAME_HEADER < n)
        return 0;
    *payload = h + OV_IPC_FRAME_HEADER;
    *len = n;
    r->off += OV_IPC_FRAME_HEADER + (size_t)n;
    return 1;
}

void ov_frame_put_header(uint8_t hdr[OV_IPC_FRAME_HEADER], uint32_t n)
{
    hdr[0] = (uint8_t)(n >> 24);
    hdr[1] = (uint8_t)(n >> 16);
    hdr[2] = (uint8_t)(n >> 8);
    hdr[3] = (uint8_t)n;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A non-blocking fd that stays unwritable this long counts as a dead peer. */
#define OV_WRITE_STALL_MS 10000

int ov_fd_write_all(int fd, const void *data, size_t n)
{
    const uint8_t *p = data;
    int use_send = 1;
    while (n > 0) {
        ssize_t w;
        if (use_send) {
            /* MSG_NOSIGNAL: a closed peer is an error code here, never a SIGPIPE. */
            w = send(fd, p, n, MSG_NOSIGNAL);
            if (w < 0 && errno == ENOTSOCK) {
                use_send = 0; /* pipes: the process must ignore SIGPIPE itself */
                continue;
            }
        } else {
            w = write(fd, p, n);
        }
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                int pr;
                do
                    pr = poll(&pfd, 1, OV_WRITE_STALL_MS);
                while (pr < 0 && errno == EINTR);
                if (pr <= 0)
                    return OV_EIO;
                if (pfd.revents & (POLLERR | POLLHUP))
                    return OV_ECLOSED;
                continue;
            }
            if (errno == EPIPE || errno == ECONNRESET)
                return OV_ECLOSED;
            return OV_EIO;
        }
        if (w == 0)
            return OV_EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int ov_frame_read_fd(int fd, ov_frame_reader *r, int timeout_ms, uint8_t **out, size_t *len)
{
    int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;
    uint8_t chunk[16384];
    for (;;) {
        const uint8_t *p;
        size_t n;
        int rc = ov_frame_reader_next(r, &p, &n);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            uint8_t *copy = malloc(n);
            if (!copy)
                return OV_ENOMEM;
            memcpy(copy, p, n);
            *out = copy;
            *len = n;
            return 1;
        }
        int wait_ms = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            wait_ms = left > 0 ? (int)(left > 0x7fffffff ? 0x7fffffff : left) : 0;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, wait_ms);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            return OV_EIO;
        }
        if (pr == 0)
            return OV_ETIMEDOUT;
        /* Never read more than the reader may hold: a partial frame is buffered (< one frame),
         * so there is always room for at least one more frame's worth. */
        size_t room = reader_limit(r) - (r->len - r->off);
        if (room > sizeof chunk)
            room = sizeof chunk;
        ssize_t got = read(fd, chunk, room);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            if (errno == ECONNRESET)
                return OV_ECLOSED;
            return OV_EIO;
        }
        if (got == 0)
            return OV_ECLOSED;
        rc = ov_frame_reader_feed(r, chunk, (size_t)got);
        if (rc < 0)
            return rc;
    }
}
