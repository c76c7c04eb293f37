/* Writes the seed corpus for fuzz_ipc_decode: valid frames of every message type plus hostile ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "ipc/frame.h"
#include "ipc/message.h"

static const char *dir;

static void put(const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "gen_ipc_corpus: cannot write %s\n", path);
        exit(1);
    }
}

/* A fuzz input is [selector byte][frame stream]; the whole input is also tried as one payload. */
static void put_stream(const char *name, unsigned char selector, const void *p, size_t n)
{
    unsigned char *b = malloc(n + 1);
    b[0] = selector;
    memcpy(b + 1, p, n);
    put(name, b, n + 1);
    free(b);
}

static char *xs(const char *s)
{
    return strdup(s);
}

static void fill(int type, ov_msg *m)
{
    ov_msg_init(m, type);
    switch (type) {
    case OV_MSG_HELLO:
        m->u.hello.kind = xs("wan");
        m->u.hello.name = xs("wan.0");
        m->u.hello.pid = 4242;
        m->u.hello.protocol = OV_IPC_PROTOCOL_VERSION;
        m->u.hello.model = xs("wan2.1-t2v-1.3b");
        m->u.hello.vram_budget_bytes = 20LL << 30;
        break;
    case OV_MSG_READY:
        m->u.ready.model = xs("sdxl-base-1.0");
        m->u.ready.load_ms = 8123;
        m->u.ready.vram_used_bytes = 7LL << 30;
        break;
    case OV_MSG_JOB:
        m->u.job.job_id = xs("j1");
        m->u.job.task = xs("t2i");
        ov_kvlist_set_str(&m->u.job.params, "prompt", "a red fox");
        ov_kvlist_set_int(&m->u.job.params, "steps", 30);
        ov_kvlist_set_int(&m->u.job.params, "seed", -1);
        ov_kvlist_set_float(&m->u.job.params, "cfg", 7.5);
        ov_kvlist_set_bool(&m->u.job.params, "hd", true);
        break;
    case OV_MSG_ACCEPT: m->u.accept.job_id = xs("j1"); break;
    case OV_MSG_PROGRESS:
        m->u.progress.job_id = xs("j1");
        m->u.progress.phase = xs("denoise");
        m->u.progress.step = 3;
        m->u.progress.total = 30;
        break;
    case OV_MSG_RESULT:
        m->u.result.job_id = xs("j1");
        ov_msg_add_output(m, "/spool/j1/out.png", "image/png");
        ov_kvlist_set_int(&m->u.result.meta, "seed", 77);
        ov_kvlist_set_float(&m->u.result.meta, "seconds", 2.5);
        break;
    case OV_MSG_ERROR:
        m->u.error.job_id = xs("j1");
        m->u.error.code = OV_EGPU;
        m->u.error.message = xs("out of memory");
        m->u.error.retriable = true;
        break;
    case OV_MSG_HEARTBEAT:
        m->u.heartbeat.seq = 12;
        m->u.heartbeat.state = xs("busy");
        m->u.heartbeat.vram_used_bytes = 123456;
        break;
    case OV_MSG_CANCEL: m->u.cancel.job_id = xs("j1"); break;
    case OV_MSG_SHUTDOWN: m->u.shutdown.deadline_ms = 30000; break;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_ipc_corpus DIR\n");
        return 2;
    }
    dir = argv[1];
    ov_buf all;
    ov_buf_init(&all, 1u << 20);
    for (int t = 1; t < OV_MSG_TYPE_COUNT; t++) {
        ov_msg m;
        fill(t, &m);
        ov_buf b;
        ov_buf_init(&b, 1u << 20);
        if (ov_msg_encode(&m, &b) != 0 || ov_buf_append(&all, b.data, b.len) != 0)
            return 1;
        char name[64];
        snprintf(name, sizeof name, "msg-%s", ov_msg_type_name(t));
        put(name, b.data + OV_IPC_FRAME_HEADER, b.len - OV_IPC_FRAME_HEADER);
        snprintf(name, sizeof name, "frame-%s", ov_msg_type_name(t));
        put_stream(name, (unsigned char)(t * 3), b.data, b.len);
        ov_buf_free(&b);
        ov_msg_free(&m);
    }
    put_stream("stream-all-types-chunk1", 0, all.data, all.len);
    put_stream("stream-all-types-chunk17", 16, all.data, all.len);
    put_stream("stream-all-types-smallcap", 0x85, all.data, all.len);
    ov_buf_free(&all);

    /* Hostile payloads (decoded as a whole input). */
    static const unsigned char array32_bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    static const unsigned char map32_bomb[] = {0x81, 0xa1, 't', 0xdf, 0xff, 0xff, 0xff, 0xff};
    static const unsigned char str32_bomb[] = {0x81, 0xa1, 't', 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'};
    static const unsigned char ext32_bomb[] = {0xc9, 0x7f, 0xff, 0xff, 0xff, 0x01};
    static const unsigned char reserved_c1[] = {0x81, 0xa1, 't', 0xc1};
    static const unsigned char trailing[] = {0x82, 0xa1, 't', 0xa6, 'c', 'a', 'n', 'c', 'e', 'l',
                                             0xa6, 'j', 'o', 'b', '_', 'i', 'd', 0xa1, 'j', 0xc0};
    static const unsigned char nul_in_str[] = {0x82, 0xa1, 't', 0xa6, 'c', 'a', 'n', 'c', 'e', 'l',
                                               0xa6, 'j', 'o', 'b', '_', 'i', 'd', 0xa3, 'a', 0, 'b'};
    static const unsigned char unknown_type[] = {0x81, 0xa1, 't', 0xa4, 'n', 'o', 'p', 'e'};
    static const unsigned char big_uint[] = {0x82, 0xa1, 't', 0xa9, 'h', 'e', 'a', 'r', 't', 'b', 'e', 'a',
                                             't', 0xa3, 's', 'e', 'q', 0xcf, 0xff, 0xff, 0xff, 0xff,
                                             0xff, 0xff, 0xff, 0xff};
    put("bad-array32-bomb", array32_bomb, sizeof array32_bomb);
    put("bad-map32-bomb", map32_bomb, sizeof map32_bomb);
    put("bad-str32-bomb", str32_bomb, sizeof str32_bomb);
    put("bad-ext32-bomb", ext32_bomb, sizeof ext32_bomb);
    put("bad-reserved-c1", reserved_c1, sizeof reserved_c1);
    put("bad-trailing", trailing, sizeof trailing);
    put("bad-nul-in-str", nul_in_str, sizeof nul_in_str);
    put("bad-unknown-type", unknown_type, sizeof unknown_type);
    put("bad-uint64", big_uint, sizeof big_uint);
    unsigned char depth[40];
    memset(depth, 0x91, sizeof depth);
    depth[sizeof depth - 1] = 0x01;
    put("bad-depth-bomb", depth, sizeof depth);

    /* Hostile frame streams. */
    static const unsigned char zero_len[] = {0, 0, 0, 0, 0x80};
    static const unsigned char over_cap[] = {0x00, 0x10, 0x00, 0x01, 0x80};
    static const unsigned char max_len[] = {0xff, 0xff, 0xff, 0xff};
    static const unsigned char half_frame[] = {0, 0, 0, 9, 0x81, 0xa1, 't'};
    put_stream("frame-zero-length", 3, zero_len, sizeof zero_len);
    put_stream("frame-over-cap", 3, over_cap, sizeof over_cap);
    put_stream("frame-len-ffffffff", 0, max_len, sizeof max_len);
    put_stream("frame-truncated", 1, half_frame, sizeof half_frame);
    return 0;
}
