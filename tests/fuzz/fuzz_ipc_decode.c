/* libFuzzer target: the IPC frame reader and message decoder over hostile bytes, plus round trips. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "ipc/frame.h"
#include "ipc/message.h"

/* A decoded message must re-encode, and that encoding must decode to an equal message. */
static void check_round_trip(const ov_msg *m, size_t in_len)
{
    ov_buf b;
    ov_buf_init(&b, 2 * OV_IPC_FRAME_MAX);
    int rc = ov_msg_encode(m, &b);
    if (rc == OV_EINVAL && in_len > OV_IPC_FRAME_MAX - 4096) {
        /* Missing optional fields and float32->float64 can grow a near-cap payload past it. */
        ov_buf_free(&b);
        return;
    }
    if (rc != 0 || b.len <= OV_IPC_FRAME_HEADER) {
        fprintf(stderr, "fuzz_ipc_decode: re-encode failed rc=%d\n", rc);
        abort();
    }
    ov_frame_reader r;
    ov_frame_reader_init(&r, 0);
    const uint8_t *p;
    size_t n;
    if (ov_frame_reader_feed(&r, b.data, b.len) != 0 || ov_frame_reader_next(&r, &p, &n) != 1 ||
        n != b.len - OV_IPC_FRAME_HEADER) {
        fprintf(stderr, "fuzz_ipc_decode: re-encoded frame unreadable\n");
        abort();
    }
    ov_msg d;
    char err[256];
    rc = ov_msg_decode(p, n, &d, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "fuzz_ipc_decode: re-encoded message rejected: %s\n", err);
        abort();
    }
    if (!ov_msg_equal(m, &d)) {
        fprintf(stderr, "fuzz_ipc_decode: round trip changed the message\n");
        abort();
    }
    ov_msg_free(&d);
    ov_frame_reader_free(&r);
    ov_buf_free(&b);
}

static void decode_one(const uint8_t *p, size_t n)
{
    ov_msg m;
    char err[256];
    int rc = ov_msg_decode(p, n, &m, err, sizeof err);
    if (rc == 0) {
        check_round_trip(&m, n);
        ov_msg_free(&m);
    } else {
        static const ov_msg zero;
        if (rc != OV_EPROTO || memcmp(&m, &zero, sizeof m) != 0 || err[0] == '\0') {
            fprintf(stderr, "fuzz_ipc_decode: bad failure contract rc=%d\n", rc);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* 1. The whole input as one payload. */
    if (size > 0)
        decode_one(data, size);

    /* 2. The input as a byte stream of frames, fed in chunks whose size the first byte picks,
     *    with a small payload cap so the cap paths are reached too. */
    if (size < 1)
        return 0;
    size_t chunk = (size_t)(data[0] % 17) + 1;
    size_t max_payload = (data[0] & 0x80) ? 64 : 0;
    ov_frame_reader r;
    ov_frame_reader_init(&r, max_payload);
    size_t pos = 1;
    int dead = 0;
    while (pos < size && !dead) {
        size_t k = size - pos < chunk ? size - pos : chunk;
        if (ov_frame_reader_feed(&r, data + pos, k) != 0)
            abort(); /* draining after every feed keeps the reader under its cap */
        pos += k;
        for (;;) {
            const uint8_t *p;
            size_t n;
            int rc = ov_frame_reader_next(&r, &p, &n);
            if (rc == 0)
                break;
            if (rc < 0) {
                if (rc != OV_EPROTO)
                    abort();
                dead = 1;
                break;
            }
            if (n == 0 || n > r.max_payload)
                abort();
            decode_one(p, n);
        }
    }
    ov_frame_reader_free(&r);
    return 0;
}
