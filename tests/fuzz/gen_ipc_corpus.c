/* Writes the seed corpus for fuzz_ipc_decode: valid frames of every message type plus hostile ones. */
#include <msgpack.h>
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

/* Hand-packed payloads for the decoder's error paths. */
static msgpack_sbuffer sb;
static msgpack_packer pk;

static void begin(size_t nkeys, const char *type)
{
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, nkeys);
    msgpack_pack_str(&pk, 1);
    msgpack_pack_str_body(&pk, "t", 1);
    msgpack_pack_str(&pk, strlen(type));
    msgpack_pack_str_body(&pk, type, strlen(type));
}

static void s(const char *v)
{
    msgpack_pack_str(&pk, strlen(v));
    msgpack_pack_str_body(&pk, v, strlen(v));
}

static void end(const char *name)
{
    put(name, sb.data, sb.size);
}

static void hand_packed(void)
{
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

    /* Every msgpack format once, as the value of an unknown key (valid: unknown keys are skipped). */
    begin(3, "cancel");
    s("job_id");
    s("j");
    s("x");
    msgpack_pack_array(&pk, 24);
    msgpack_pack_nil(&pk);
    msgpack_pack_true(&pk);
    msgpack_pack_uint8(&pk, 200);
    msgpack_pack_uint16(&pk, 60000);
    msgpack_pack_uint32(&pk, 4000000000u);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_int8(&pk, -100);
    msgpack_pack_int16(&pk, -30000);
    msgpack_pack_int32(&pk, -2000000000);
    msgpack_pack_int64(&pk, INT64_MIN);
    msgpack_pack_float(&pk, 1.5f);
    msgpack_pack_double(&pk, -2.25);
    msgpack_pack_str(&pk, 40);
    msgpack_pack_str_body(&pk, "0123456789012345678901234567890123456789", 40);
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "bin", 3);
    for (size_t n = 1; n <= 16; n *= 2) {
        msgpack_pack_ext(&pk, n, 1);
        msgpack_pack_ext_body(&pk, "0123456789abcdef", n);
    }
    msgpack_pack_ext(&pk, 3, 2);
    msgpack_pack_ext_body(&pk, "ext", 3);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_int8(&pk, 1);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_map(&pk, 0);
    end("msg-cancel-every-format");

    begin(3, "result"); s("job_id"); s("j"); s("outputs"); s("not-an-array");
    end("bad-outputs-not-array");
    begin(3, "result"); s("job_id"); s("j"); s("outputs");
    msgpack_pack_array(&pk, 1); msgpack_pack_map(&pk, 1); s("path"); s("/p");
    end("bad-outputs-no-mime");
    begin(3, "result"); s("job_id"); s("j"); s("outputs");
    msgpack_pack_array(&pk, 1); msgpack_pack_map(&pk, 3); s("path"); s("/p"); s("mime"); s("a/b"); s("path"); s("/q");
    end("bad-outputs-dup-key");
    begin(4, "job"); s("job_id"); s("j"); s("task"); s("t"); s("params");
    msgpack_pack_map(&pk, 1); s("k"); msgpack_pack_nil(&pk);
    end("bad-params-nil-value");
    begin(3, "cancel"); s("job_id"); s("j"); s("job_id"); s("k");
    end("bad-dup-field");
    begin(2, "error"); s("code"); s("not-an-int");
    end("bad-missing-and-wrong-type");
    begin(2, "error"); s("t"); s("error");
    end("bad-t-twice");
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 1); s("t"); msgpack_pack_int8(&pk, 3);
    end("bad-t-not-string");
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, 2); s("t"); s("cancel");
    end("bad-not-a-map");
    msgpack_sbuffer_destroy(&sb);
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
    hand_packed();
    return 0;
}
