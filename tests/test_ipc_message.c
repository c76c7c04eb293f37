/* Tests for ipc/message.c: kv lists, round trips of every message, and hostile payloads. */
#include <check.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/error.h"
#include "ipc/frame.h"
#include "ipc/message.h"

#if defined(__SANITIZE_ADDRESS__)
#define OV_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OV_TEST_ASAN 1
#endif
#endif

static char *xs(const char *s)
{
    char *d = strdup(s);
    ck_assert_ptr_nonnull(d);
    return d;
}

/* A message of this type with every field set to a distinctive non-default value. */
static void make_full(int type, ov_msg *m)
{
    ov_msg_init(m, type);
    switch (type) {
    case OV_MSG_HELLO:
        m->u.hello.kind = xs("wan");
        m->u.hello.name = xs("wan.1");
        m->u.hello.pid = 424242;
        m->u.hello.protocol = OV_IPC_PROTOCOL_VERSION;
        m->u.hello.model = xs("/models/wan2.1-t2v-1.3b.safetensors");
        m->u.hello.vram_budget_bytes = 22LL << 30;
        break;
    case OV_MSG_READY:
        m->u.ready.model = xs("sha256:abcdef");
        m->u.ready.load_ms = 81234;
        m->u.ready.vram_used_bytes = 9000000000LL;
        break;
    case OV_MSG_JOB:
        m->u.job.job_id = xs("job-7f3a");
        m->u.job.task = xs("t2v");
        ck_assert_int_eq(ov_kvlist_set_str(&m->u.job.params, "prompt", "a cat on a skateboard, \xc3\xa9t\xc3\xa9"), 0);
        ck_assert_int_eq(ov_kvlist_set_int(&m->u.job.params, "steps", 50), 0);
        ck_assert_int_eq(ov_kvlist_set_int(&m->u.job.params, "seed", -1), 0);
        ck_assert_int_eq(ov_kvlist_set_int(&m->u.job.params, "big", INT64_MIN), 0);
        ck_assert_int_eq(ov_kvlist_set_float(&m->u.job.params, "cfg", 7.25), 0);
        ck_assert_int_eq(ov_kvlist_set_float(&m->u.job.params, "tiny", -1e-300), 0);
        ck_assert_int_eq(ov_kvlist_set_bool(&m->u.job.params, "hd", true), 0);
        ck_assert_int_eq(ov_kvlist_set_bool(&m->u.job.params, "nsfw", false), 0);
        ck_assert_int_eq(ov_kvlist_set_str(&m->u.job.params, "empty", ""), 0);
        break;
    case OV_MSG_ACCEPT: m->u.accept.job_id = xs("job-7f3a"); break;
    case OV_MSG_PROGRESS:
        m->u.progress.job_id = xs("job-7f3a");
        m->u.progress.phase = xs("denoise");
        m->u.progress.step = 17;
        m->u.progress.total = 50;
        break;
    case OV_MSG_RESULT:
        m->u.result.job_id = xs("job-7f3a");
        ck_assert_int_eq(ov_msg_add_output(m, "/spool/job-7f3a/out.mp4", "video/mp4"), 0);
        ck_assert_int_eq(ov_msg_add_output(m, "/spool/job-7f3a/thumb.png", "image/png"), 0);
        ck_assert_int_eq(ov_kvlist_set_int(&m->u.result.meta, "seed", 1234567), 0);
        ck_assert_int_eq(ov_kvlist_set_float(&m->u.result.meta, "seconds", 93.5), 0);
        break;
    case OV_MSG_ERROR:
        m->u.error.job_id = xs("job-7f3a");
        m->u.error.code = OV_EGPU;
        m->u.error.message = xs("cudaErrorIllegalAddress in denoise step 3");
        m->u.error.retriable = true;
        break;
    case OV_MSG_HEARTBEAT:
        m->u.heartbeat.seq = 99;
        m->u.heartbeat.state = xs("busy");
        m->u.heartbeat.vram_used_bytes = 123456789;
        break;
    case OV_MSG_CANCEL: m->u.cancel.job_id = xs("job-7f3a"); break;
    case OV_MSG_SHUTDOWN: m->u.shutdown.deadline_ms = 30000; break;
    default: ck_abort_msg("bad type");
    }
}

/* Encode m and return the payload (without header) in a malloc'd buffer. */
static uint8_t *encode_payload(const ov_msg *m, size_t *len)
{
    ov_buf b;
    ov_buf_init(&b, 4u << 20);
    ck_assert_int_eq(ov_msg_encode(m, &b), 0);
    ck_assert_uint_ge(b.len, OV_IPC_FRAME_HEADER + 1);
    const uint8_t *h = (const uint8_t *)b.data;
    uint32_t n = ((uint32_t)h[0] << 24) | ((uint32_t)h[1] << 16) | ((uint32_t)h[2] << 8) | h[3];
    ck_assert_uint_eq(n, b.len - OV_IPC_FRAME_HEADER);
    uint8_t *p = malloc(n);
    memcpy(p, b.data + OV_IPC_FRAME_HEADER, n);
    *len = n;
    ov_buf_free(&b);
    return p;
}

static int decode(const void *p, size_t n, ov_msg *m, char *err, size_t errlen)
{
    int rc = ov_msg_decode(p, n, m, err, errlen);
    if (rc != 0) {
        /* On failure the message is left zeroed. */
        static const ov_msg zero;
        ck_assert_int_eq(memcmp(m, &zero, sizeof zero), 0);
    }
    return rc;
}

static int decode_rc(const void *p, size_t n)
{
    ov_msg m;
    char err[256];
    int rc = decode(p, n, &m, err, sizeof err);
    ov_msg_free(&m);
    return rc;
}

/* ---- hand-built payloads */

typedef struct pk {
    msgpack_sbuffer sb;
    msgpack_packer p;
} pk;

static void pk_init(pk *k)
{
    msgpack_sbuffer_init(&k->sb);
    msgpack_packer_init(&k->p, &k->sb, msgpack_sbuffer_write);
}

static void pk_str(pk *k, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(&k->p, n);
    msgpack_pack_str_body(&k->p, s, n);
}

static void pk_kstr(pk *k, const char *key, const char *v)
{
    pk_str(k, key);
    pk_str(k, v);
}

static void pk_kint(pk *k, const char *key, int64_t v)
{
    pk_str(k, key);
    msgpack_pack_int64(&k->p, v);
}

static int pk_decode(pk *k, ov_msg *m, char *err, size_t errlen)
{
    int rc = decode(k->sb.data, k->sb.size, m, err, errlen);
    msgpack_sbuffer_destroy(&k->sb);
    return rc;
}

static int pk_rc(pk *k)
{
    ov_msg m;
    char err[256];
    int rc = pk_decode(k, &m, err, sizeof err);
    ov_msg_free(&m);
    return rc;
}

/* ---------------------------------------------------------------- tests */

START_TEST(type_names)
{
    ck_assert_str_eq(ov_msg_type_name(OV_MSG_HELLO), "hello");
    ck_assert_str_eq(ov_msg_type_name(OV_MSG_SHUTDOWN), "shutdown");
    ck_assert_ptr_null(ov_msg_type_name(0));
    ck_assert_ptr_null(ov_msg_type_name(OV_MSG_TYPE_COUNT));
    ck_assert_int_eq(ov_msg_type_from_name("progress"), OV_MSG_PROGRESS);
    ck_assert_int_eq(ov_msg_type_from_name("nope"), 0);
}
END_TEST

START_TEST(kvlist_set_get_replace_cap_copy)
{
    ov_kvlist l = {0};
    ck_assert_int_eq(ov_kvlist_set_int(&l, "a", 5), 0);
    ck_assert_int_eq(ov_kvlist_set_str(&l, "a", "five"), 0); /* replaces */
    ck_assert_uint_eq(l.n, 1);
    const char *s;
    int64_t i;
    double f;
    bool b;
    ck_assert_int_eq(ov_kvlist_get_str(&l, "a", &s), 0);
    ck_assert_str_eq(s, "five");
    ck_assert_int_eq(ov_kvlist_get_int(&l, "a", &i), OV_EINVAL);
    ck_assert_int_eq(ov_kvlist_set_int(&l, "a", 6), 0); /* string value freed (ASan) */
    i = 0;
    ck_assert_int_eq(ov_kvlist_get_int(&l, "a", &i), 0);
    ck_assert_int_eq(i, 6);
    ck_assert_int_eq(ov_kvlist_get_float(&l, "a", &f), 0); /* int accepted as float */
    ck_assert(f == 6.0);
    ck_assert_int_eq(ov_kvlist_set_bool(&l, "b", true), 0);
    ck_assert_int_eq(ov_kvlist_get_bool(&l, "b", &b), 0);
    ck_assert(b);
    i = 77;
    ck_assert_int_eq(ov_kvlist_get_int(&l, "zz", &i), OV_ENOENT);
    ck_assert_int_eq(i, 77);
    ck_assert_ptr_null(ov_kvlist_get(&l, "zz"));
    for (int k = 2; k < OV_IPC_KV_MAX; k++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", k);
        ck_assert_int_eq(ov_kvlist_set_float(&l, key, k * 0.5), 0);
    }
    ck_assert_uint_eq(l.n, OV_IPC_KV_MAX);
    ck_assert_int_eq(ov_kvlist_set_int(&l, "one-too-many", 1), OV_ERANGE);
    ck_assert_int_eq(ov_kvlist_set_str(&l, "one-too-many", "x"), OV_ERANGE);
    ck_assert_int_eq(ov_kvlist_set_int(&l, "a", 8), 0); /* replacing still works when full */
    ov_kvlist c;
    ck_assert_int_eq(ov_kvlist_copy(&c, &l), 0);
    ck_assert_uint_eq(c.n, l.n);
    ck_assert_int_eq(ov_kvlist_get_float(&c, "k100", &f), 0);
    ck_assert(f == 50.0);
    ov_kvlist_free(&l);
    ck_assert_uint_eq(l.n, 0);
    ck_assert_ptr_null(l.items);
    ov_kvlist_free(&c);
}
END_TEST

START_TEST(round_trip_every_type)
{
    for (int t = 1; t < OV_MSG_TYPE_COUNT; t++) {
        ov_msg m, d;
        make_full(t, &m);
        size_t n;
        uint8_t *p = encode_payload(&m, &n);
        char err[256];
        ck_assert_msg(decode(p, n, &d, err, sizeof err) == 0, "%s: %s", ov_msg_type_name(t), err);
        ck_assert_int_eq(d.type, t);
        ck_assert_msg(ov_msg_equal(&m, &d), "%s differs after the round trip", ov_msg_type_name(t));
        free(p);
        ov_msg_free(&d);
        ov_msg_free(&m);
    }
}
END_TEST

START_TEST(round_trip_exact_fields)
{
    /* Field by field, not only through ov_msg_equal. */
    ov_msg m, d;
    char err[256];
    size_t n;
    uint8_t *p;

    make_full(OV_MSG_HELLO, &m);
    p = encode_payload(&m, &n);
    ck_assert_int_eq(decode(p, n, &d, err, sizeof err), 0);
    ck_assert_str_eq(d.u.hello.kind, "wan");
    ck_assert_str_eq(d.u.hello.name, "wan.1");
    ck_assert_int_eq(d.u.hello.pid, 424242);
    ck_assert_int_eq(d.u.hello.protocol, 1);
    ck_assert_str_eq(d.u.hello.model, "/models/wan2.1-t2v-1.3b.safetensors");
    ck_assert_int_eq(d.u.hello.vram_budget_bytes, 22LL << 30);
    free(p);
    ov_msg_free(&d);
    ov_msg_free(&m);

    make_full(OV_MSG_JOB, &m);
    p = encode_payload(&m, &n);
    ck_assert_int_eq(decode(p, n, &d, err, sizeof err), 0);
    ck_assert_str_eq(d.u.job.job_id, "job-7f3a");
    ck_assert_str_eq(d.u.job.task, "t2v");
    ck_assert_uint_eq(d.u.job.params.n, 9);
    const char *s;
    int64_t i;
    double f;
    bool b;
    ck_assert_int_eq(ov_kvlist_get_str(&d.u.job.params, "prompt", &s), 0);
    ck_assert_str_eq(s, "a cat on a skateboard, \xc3\xa9t\xc3\xa9");
    ck_assert_int_eq(ov_kvlist_get_int(&d.u.job.params, "seed", &i), 0);
    ck_assert_int_eq(i, -1);
    ck_assert_int_eq(ov_kvlist_get_int(&d.u.job.params, "big", &i), 0);
    ck_assert(i == INT64_MIN);
    ck_assert_int_eq(ov_kvlist_get_float(&d.u.job.params, "cfg", &f), 0);
    ck_assert(f == 7.25);
    ck_assert_int_eq(ov_kvlist_get_float(&d.u.job.params, "tiny", &f), 0);
    ck_assert(f == -1e-300);
    ck_assert_int_eq(ov_kvlist_get_bool(&d.u.job.params, "nsfw", &b), 0);
    ck_assert(!b);
    ck_assert_int_eq(ov_kvlist_get_str(&d.u.job.params, "empty", &s), 0);
    ck_assert_str_eq(s, "");
    free(p);
    ov_msg_free(&d);
    ov_msg_free(&m);

    make_full(OV_MSG_RESULT, &m);
    p = encode_payload(&m, &n);
    ck_assert_int_eq(decode(p, n, &d, err, sizeof err), 0);
    ck_assert_uint_eq(d.u.result.noutputs, 2);
    ck_assert_str_eq(d.u.result.outputs[1].path, "/spool/job-7f3a/thumb.png");
    ck_assert_str_eq(d.u.result.outputs[1].mime, "image/png");
    ck_assert_int_eq(ov_kvlist_get_int(&d.u.result.meta, "seed", &i), 0);
    ck_assert_int_eq(i, 1234567);
    free(p);
    ov_msg_free(&d);
    ov_msg_free(&m);

    make_full(OV_MSG_ERROR, &m);
    p = encode_payload(&m, &n);
    ck_assert_int_eq(decode(p, n, &d, err, sizeof err), 0);
    ck_assert_int_eq(d.u.error.code, OV_EGPU); /* negative int on the wire */
    ck_assert(d.u.error.retriable);
    ck_assert_str_eq(d.u.error.message, "cudaErrorIllegalAddress in denoise step 3");
    free(p);
    ov_msg_free(&d);
    ov_msg_free(&m);
}
END_TEST

START_TEST(null_strings_encode_as_empty_and_optionals_default)
{
    ov_msg m, d;
    char err[256];
    ov_msg_init(&m, OV_MSG_ERROR); /* every string NULL */
    m.u.error.code = OV_EIO;
    size_t n;
    uint8_t *p = encode_payload(&m, &n);
    ck_assert_int_eq(decode(p, n, &d, err, sizeof err), 0);
    ck_assert_str_eq(d.u.error.job_id, "");
    ck_assert_str_eq(d.u.error.message, "");
    ck_assert(!d.u.error.retriable);
    free(p);
    ov_msg_free(&d);

    /* A hello with only its required fields: model "", budget 0. */
    pk k;
    pk_init(&k);
    msgpack_pack_map(&k.p, 5);
    pk_kstr(&k, "t", "hello");
    pk_kstr(&k, "kind", "sdxl");
    pk_kstr(&k, "name", "sdxl.0");
    pk_kint(&k, "pid", 77);
    pk_kint(&k, "protocol", 999); /* the decoder does not judge versions */
    ck_assert_int_eq(pk_decode(&k, &d, err, sizeof err), 0);
    ck_assert_str_eq(d.u.hello.model, "");
    ck_assert_int_eq(d.u.hello.vram_budget_bytes, 0);
    ck_assert_int_eq(d.u.hello.protocol, 999);
    ov_msg_free(&d);

    /* ready and shutdown have no required fields at all. */
    pk_init(&k);
    msgpack_pack_map(&k.p, 1);
    pk_kstr(&k, "t", "shutdown");
    ck_assert_int_eq(pk_decode(&k, &d, err, sizeof err), 0);
    ck_assert_int_eq(d.type, OV_MSG_SHUTDOWN);
    ck_assert_int_eq(d.u.shutdown.deadline_ms, 0);
    ov_msg_free(&d);
    pk_init(&k);
    msgpack_pack_map(&k.p, 1);
    pk_kstr(&k, "t", "ready");
    ck_assert_int_eq(pk_decode(&k, &d, err, sizeof err), 0);
    ck_assert_str_eq(d.u.ready.model, "");
    ov_msg_free(&d);
}
END_TEST

/* Required keys per type, written out here independently of the implementation's table. */
static const char *const required[OV_MSG_TYPE_COUNT][5] = {
    [OV_MSG_HELLO] = {"kind", "name", "pid", "protocol"},
    [OV_MSG_READY] = {0},
    [OV_MSG_JOB] = {"job_id", "task"},
    [OV_MSG_ACCEPT] = {"job_id"},
    [OV_MSG_PROGRESS] = {"job_id", "phase", "step", "total"},
    [OV_MSG_RESULT] = {"job_id"},
    [OV_MSG_ERROR] = {"code", "message"},
    [OV_MSG_HEARTBEAT] = {"seq"},
    [OV_MSG_CANCEL] = {"job_id"},
    [OV_MSG_SHUTDOWN] = {0},
};

static bool is_required(int t, const msgpack_object *key)
{
    for (int i = 0; i < 5 && required[t][i]; i++)
        if (key->via.str.size == strlen(required[t][i]) &&
            memcmp(key->via.str.ptr, required[t][i], key->via.str.size) == 0)
            return true;
    return false;
}

/* Re-pack the top-level map: drop entry `drop`, or replace entry `repl`'s value by mode. */
enum { REPL_NIL = 1, REPL_WRONG };
static void repack(const msgpack_object *root, uint32_t drop, uint32_t repl, int mode, pk *k)
{
    pk_init(k);
    uint32_t n = root->via.map.size;
    msgpack_pack_map(&k->p, drop < n ? n - 1 : n);
    for (uint32_t i = 0; i < n; i++) {
        if (i == drop)
            continue;
        const msgpack_object_kv *kv = &root->via.map.ptr[i];
        msgpack_pack_object(&k->p, kv->key);
        if (i != repl) {
            msgpack_pack_object(&k->p, kv->val);
        } else if (mode == REPL_NIL) {
            msgpack_pack_nil(&k->p);
        } else {
            switch (kv->val.type) {
            case MSGPACK_OBJECT_STR: msgpack_pack_int64(&k->p, 5); break;
            case MSGPACK_OBJECT_POSITIVE_INTEGER:
            case MSGPACK_OBJECT_NEGATIVE_INTEGER: pk_str(k, "5"); break;
            case MSGPACK_OBJECT_BOOLEAN: msgpack_pack_int64(&k->p, 1); break;
            case MSGPACK_OBJECT_MAP: msgpack_pack_array(&k->p, 0); break;
            case MSGPACK_OBJECT_ARRAY: msgpack_pack_map(&k->p, 0); break;
            default: ck_abort_msg("unexpected value type");
            }
        }
    }
}

START_TEST(missing_required_and_wrong_types_every_field)
{
    for (int t = 1; t < OV_MSG_TYPE_COUNT; t++) {
        ov_msg m;
        make_full(t, &m);
        size_t n;
        uint8_t *p = encode_payload(&m, &n);
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        size_t off = 0;
        ck_assert_int_eq(msgpack_unpack_next(&up, (const char *)p, n, &off), MSGPACK_UNPACK_SUCCESS);
        const msgpack_object *root = &up.data;
        ck_assert_int_eq(root->type, MSGPACK_OBJECT_MAP);
        int nreq = 0;
        for (uint32_t i = 0; i < root->via.map.size; i++) {
            const msgpack_object *key = &root->via.map.ptr[i].key;
            bool is_t = key->via.str.size == 1 && key->via.str.ptr[0] == 't';
            pk k;
            char err[256];
            ov_msg d;
            /* Drop it. */
            repack(root, i, UINT32_MAX, 0, &k);
            int rc = pk_decode(&k, &d, err, sizeof err);
            if (is_t || is_required(t, key)) {
                ck_assert_msg(rc == OV_EPROTO, "%s: dropping key %u accepted", ov_msg_type_name(t), i);
                if (!is_t)
                    ck_assert_ptr_nonnull(strstr(err, "lacks required field"));
                nreq += !is_t;
            } else {
                ck_assert_msg(rc == 0, "%s: dropping optional key %u: %s", ov_msg_type_name(t), i, err);
            }
            ov_msg_free(&d);
            /* Nil instead of the value. */
            repack(root, UINT32_MAX, i, REPL_NIL, &k);
            ck_assert_int_eq(pk_rc(&k), OV_EPROTO);
            /* A value of another type. */
            repack(root, UINT32_MAX, i, REPL_WRONG, &k);
            ck_assert_msg(pk_rc(&k) == OV_EPROTO, "%s: wrong type for key %u accepted", ov_msg_type_name(t), i);
        }
        int expect = 0;
        while (expect < 5 && required[t][expect])
            expect++;
        ck_assert_int_eq(nreq, expect);
        msgpack_unpacked_destroy(&up);
        free(p);
        ov_msg_free(&m);
    }
}
END_TEST

START_TEST(truncated_at_every_prefix)
{
    for (int t = 1; t < OV_MSG_TYPE_COUNT; t++) {
        ov_msg m;
        make_full(t, &m);
        size_t n;
        uint8_t *p = encode_payload(&m, &n);
        for (size_t cut = 0; cut < n; cut++) {
            uint8_t *q = malloc(cut ? cut : 1); /* exact size: ASan sees any over-read */
            memcpy(q, p, cut);
            ck_assert_msg(decode_rc(q, cut) == OV_EPROTO, "%s cut at %zu accepted", ov_msg_type_name(t), cut);
            free(q);
        }
        ck_assert_int_eq(decode_rc(p, n), 0);
        free(p);
        ov_msg_free(&m);
    }
}
END_TEST

START_TEST(trailing_garbage)
{
    ov_msg m;
    make_full(OV_MSG_ACCEPT, &m);
    size_t n;
    uint8_t *p = encode_payload(&m, &n);
    uint8_t *q = malloc(n + 1);
    memcpy(q, p, n);
    q[n] = 0xc0;
    char err[256];
    ov_msg d;
    ck_assert_int_eq(decode(q, n + 1, &d, err, sizeof err), OV_EPROTO);
    ck_assert_ptr_nonnull(strstr(err, "trailing"));
    /* Two whole messages in one payload are trailing bytes too. */
    uint8_t *two = malloc(2 * n);
    memcpy(two, p, n);
    memcpy(two + n, p, n);
    ck_assert_int_eq(decode_rc(two, 2 * n), OV_EPROTO);
    free(two);
    free(q);
    free(p);
    ov_msg_free(&m);
}
END_TEST

/* Hostile container headers must be refused by the pre-pass before msgpack-c allocates.
 * Outside ASan the test runs under a 512 MiB address-space limit, so an allocation sized from
 * the header (~100 GB) would fail and msgpack would answer NOMEM rather than our message. */
START_TEST(huge_container_counts_fail_fast)
{
#ifndef OV_TEST_ASAN
    struct rlimit rl = {512u << 20, 512u << 20};
    ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
#endif
    static const uint8_t cases[][16] = {
        {0xdd, 0xff, 0xff, 0xff, 0xff},                         /* array32 of 2^32-1 */
        {0xdf, 0xff, 0xff, 0xff, 0xff},                         /* map32 of 2^32-1 */
        {0x81, 0xa1, 't', 0xdd, 0xff, 0xff, 0xff, 0xff},        /* nested in a valid map */
        {0x81, 0xa1, 'x', 0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0},  /* map32 with one byte left */
        {0xdc, 0xff, 0xff, 0xc0, 0xc0},                         /* array16, 2 bytes for 65535 */
        {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'},                    /* str32 of 4 GiB */
        {0xc6, 0x7f, 0xff, 0xff, 0xff},                         /* bin32 */
        {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01},                   /* ext32 */
        {0x92, 0xdd, 0x00, 0x00, 0x00, 0x01, 0xc0, 0xdd},       /* second array header truncated */
    };
    static const size_t lens[] = {5, 5, 8, 9, 5, 6, 5, 6, 8};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        char err[256];
        ov_msg d;
        ck_assert_msg(decode(cases[i], lens[i], &d, err, sizeof err) == OV_EPROTO, "case %zu accepted", i);
        ck_assert_msg(strstr(err, "msgpack rejected") == NULL, "case %zu reached msgpack-c: %s", i, err);
        if (i <= 4) /* refused at the header, before walking a single element */
            ck_assert_msg(strstr(err, "claims") != NULL, "case %zu: %s", i, err);
    }
    /* A 1 MiB payload of one array32 claiming more than the bytes left. */
    size_t big = OV_IPC_FRAME_MAX;
    uint8_t *p = calloc(1, big);
    p[0] = 0xdd;
    p[1] = p[2] = p[3] = p[4] = 0xff;
    ck_assert_int_eq(decode_rc(p, big), OV_EPROTO);
    /* The same array claiming exactly what is there (nil elements) is valid msgpack but not a map. */
    uint32_t cnt = (uint32_t)(big - 5);
    p[1] = (uint8_t)(cnt >> 24);
    p[2] = (uint8_t)(cnt >> 16);
    p[3] = (uint8_t)(cnt >> 8);
    p[4] = (uint8_t)cnt;
    memset(p + 5, 0xc0, big - 5);
    char err[256];
    ov_msg d;
    ck_assert_int_eq(decode(p, big, &d, err, sizeof err), OV_EPROTO);
    ck_assert_ptr_nonnull(strstr(err, "objects")); /* the object-count cap caught it */
    free(p);
}
END_TEST

static void pack_nested(pk *k, int levels)
{
    for (int i = 0; i < levels; i++)
        msgpack_pack_array(&k->p, 1);
    msgpack_pack_int64(&k->p, 1);
}

START_TEST(depth_bomb)
{
    /* Top-level map is depth 1; an unknown key's value nested 7 more levels = depth 8: fine. */
    pk k;
    pk_init(&k);
    msgpack_pack_map(&k.p, 3);
    pk_kstr(&k, "t", "cancel");
    pk_kstr(&k, "job_id", "j");
    pk_str(&k, "future");
    pack_nested(&k, OV_IPC_DEPTH_MAX - 1);
    ck_assert_int_eq(pk_rc(&k), 0);
    pk_init(&k);
    msgpack_pack_map(&k.p, 3);
    pk_kstr(&k, "t", "cancel");
    pk_kstr(&k, "job_id", "j");
    pk_str(&k, "future");
    pack_nested(&k, OV_IPC_DEPTH_MAX);
    char err[256];
    ov_msg d;
    ck_assert_int_eq(pk_decode(&k, &d, err, sizeof err), OV_EPROTO);
    ck_assert_ptr_nonnull(strstr(err, "nesting"));
    /* 100 000 nested fixarrays of one element (msgpack-c's own stack stops at 32). */
    size_t n = 100000;
    uint8_t *p = malloc(n + 1);
    memset(p, 0x91, n);
    p[n] = 0x01;
    ck_assert_int_eq(decode_rc(p, n + 1), OV_EPROTO);
    /* Empty containers count too. */
    memset(p, 0x91, OV_IPC_DEPTH_MAX);
    p[OV_IPC_DEPTH_MAX] = 0x90;
    ck_assert_int_eq(decode_rc(p, OV_IPC_DEPTH_MAX + 1), OV_EPROTO);
    free(p);
}
END_TEST

START_TEST(embedded_nul_and_string_cap)
{
    pk k;
    pk_init(&k);
    msgpack_pack_map(&k.p, 2);
    pk_kstr(&k, "t", "cancel");
    pk_str(&k, "job_id");
    msgpack_pack_str(&k.p, 3);
    msgpack_pack_str_body(&k.p, "a\0b", 3);
    char err[256];
    ov_msg d;
    ck_assert_int_eq(pk_decode(&k, &d, err, sizeof err), OV_EPROTO);
    ck_assert_ptr_nonnull(strstr(err, "NUL"));

    /* NUL inside a kv key and a kv string value. */
    pk_init(&k);
    msgpack_pack_map(&k.p, 4);
    pk_kstr(&k, "t", "job");
    pk_kstr(&k, "job_id", "j");
    pk_kstr(&k, "task", "t2i");
    pk_str(&k, "params");
    msgpack_pack_map(&k.p, 1);
    msgpack_pack_str(&k.p, 2);
    msgpack_pack_str_body(&k.p, "k\0", 2);
    msgpack_pack_int64(&k.p, 1);
    ck_assert_int_eq(pk_rc(&k), OV_EPROTO);
    pk_init(&k);
    msgpack_pack_map(&k.p, 4);
    pk_kstr(&k, "t", "job");
    pk_kstr(&k, "job_id", "j");
    pk_kstr(&k, "task", "t2i");
    pk_str(&k, "params");
    msgpack_pack_map(&k.p, 1);
    pk_str(&k, "prompt");
    msgpack_pack_str(&k.p, 4);
    msgpack_pack_str_body(&k.p, "ab\0c", 4);
    ck_assert_int_eq(pk_rc(&k), OV_EPROTO);

    /* Exactly OV_IPC_STR_MAX is fine; one more byte is refused by both sides. */
    char *s = malloc(OV_IPC_STR_MAX + 2);
    memset(s, 'x', OV_IPC_STR_MAX + 1);
    s[OV_IPC_STR_MAX] = '\0';
    ov_msg m;
    ov_msg_init(&m, OV_MSG_ERROR);
    m.u.error.message = s;
    size_t n;
    uint8_t *p = encode_payload(&m, &n);
    ck_assert_int_eq(decode(p, n, &d, err, sizeof err), 0);
    ck_assert_uint_eq(strlen(d.u.error.message), OV_IPC_STR_MAX);
    ov_msg_free(&d);
    free(p);
    s[OV_IPC_STR_MAX] = 'x';
    s[OV_IPC_STR_MAX + 1] = '\0';
    ov_buf b;
    ov_buf_init(&b, 4u << 20);
    ck_assert_int_eq(ov_msg_encode(&m, &b), OV_EINVAL);
    ck_assert_uint_eq(b.len, 0);
    ov_buf_free(&b);
    pk_init(&k);
    msgpack_pack_map(&k.p, 3);
    pk_kstr(&k, "t", "error");
    pk_kint(&k, "code", -1);
    pk_kstr(&k, "message", s);
    ck_assert_int_eq(pk_decode(&k, &d, err, sizeof err), OV_EPROTO);
    ck_assert_ptr_nonnull(strstr(err, "cap"));
    ov_msg_free(&m);
}
END_TEST

START_TEST(kv_and_outputs_caps)
{
    for (int extra = 0; extra <= 1; extra++) {
        pk k;
        pk_init(&k);
        msgpack_pack_map(&k.p, 4);
        pk_kstr(&k, "t", "job");
        pk_kstr(&k, "job_id", "j");
        pk_kstr(&k, "task", "t2i");
        pk_str(&k, "params");
        msgpack_pack_map(&k.p, OV_IPC_KV_MAX + extra);
        for (int i = 0; i < OV_IPC_KV_MAX + extra; i++) {
            char key[16];
            snprintf(key, sizeof key, "p%d", i);
            pk_kint(&k, key, i);
        }
        ov_msg d;
        char err[256];
        int rc = pk_decode(&k, &d, err, sizeof err);
        if (extra) {
            ck_assert_int_eq(rc, OV_EPROTO);
            ck_assert_ptr_nonnull(strstr(err, "cap"));
        } else {
            ck_assert_int_eq(rc, 0);
            ck_assert_uint_eq(d.u.job.params.n, OV_IPC_KV_MAX);
            int64_t v;
            ck_assert_int_eq(ov_kvlist_get_int(&d.u.job.params, "p127", &v), 0);
            ck_assert_int_eq(v, 127);
        }
        ov_msg_free(&d);
    }
    for (int extra = 0; extra <= 1; extra++) {
        pk k;
        pk_init(&k);
        msgpack_pack_map(&k.p, 3);
        pk_kstr(&k, "t", "result");
        pk_kstr(&k, "job_id", "j");
        pk_str(&k, "outputs");
        msgpack_pack_array(&k.p, OV_IPC_OUTPUTS_MAX + extra);
        for (int i = 0; i < OV_IPC_OUTPUTS_MAX + extra; i++) {
            msgpack_pack_map(&k.p, 2);
            pk_kstr(&k, "mime", "image/png");
            pk_kstr(&k, "path", "/s/x.png");
        }
        ck_assert_int_eq(pk_rc(&k), extra ? OV_EPROTO : 0);
    }
    ov_msg m;
    ov_msg_init(&m, OV_MSG_RESULT);
    for (int i = 0; i < OV_IPC_OUTPUTS_MAX; i++)
        ck_assert_int_eq(ov_msg_add_output(&m, "/s/a.png", "image/png"), 0);
    ck_assert_int_eq(ov_msg_add_output(&m, "/s/a.png", "image/png"), OV_ERANGE);
    ov_msg_free(&m);
    ov_msg_init(&m, OV_MSG_JOB);
    ck_assert_int_eq(ov_msg_add_output(&m, "/s/a.png", "image/png"), OV_EINVAL);
}
END_TEST

START_TEST(bad_kv_values_and_outputs)
{
    /* kv values: nil, array, map, bin are refused; float32 is accepted. */
    for (int v = 0; v < 5; v++) {
        pk k;
        pk_init(&k);
        msgpack_pack_map(&k.p, 3);
        pk_kstr(&k, "t", "result");
        pk_kstr(&k, "job_id", "j");
        pk_str(&k, "meta");
        msgpack_pack_map(&k.p, 1);
        pk_str(&k, "x");
        switch (v) {
        case 0: msgpack_pack_nil(&k.p); break;
        case 1: msgpack_pack_array(&k.p, 0); break;
        case 2: msgpack_pack_map(&k.p, 0); break;
        case 3: msgpack_pack_bin(&k.p, 1); msgpack_pack_bin_body(&k.p, "b", 1); break;
        case 4: msgpack_pack_float(&k.p, 0.5f); break;
        }
        ov_msg d;
        char err[256];
        int rc = pk_decode(&k, &d, err, sizeof err);
        if (v < 4) {
            ck_assert_int_eq(rc, OV_EPROTO);
        } else {
            ck_assert_int_eq(rc, 0);
            double f;
            ck_assert_int_eq(ov_kvlist_get_float(&d.u.result.meta, "x", &f), 0);
            ck_assert(f == 0.5);
        }
        ov_msg_free(&d);
    }
    /* Non-string kv key; duplicate kv key. */
    pk k;
    pk_init(&k);
    msgpack_pack_map(&k.p, 3);
    pk_kstr(&k, "t", "result");
    pk_kstr(&k, "job_id", "j");
    pk_str(&k, "meta");
    msgpack_pack_map(&k.p, 1);
    msgpack_pack_int64(&k.p, 1);
    msgpack_pack_int64(&k.p, 1);
    ck_assert_int_eq(pk_rc(&k), OV_EPROTO);
    pk_init(&k);
    msgpack_pack_map(&k.p, 3);
    pk_kstr(&k, "t", "result");
    pk_kstr(&k, "job_id", "j");
    pk_str(&k, "meta");
    msgpack_pack_map(&k.p, 2);
    pk_kint(&k, "a", 1);
    pk_kstr(&k, "a", "again");
    ck_assert_int_eq(pk_rc(&k), OV_EPROTO);
    /* Output entries: not a map; missing mime; mime not a string. */
    for (int v = 0; v < 3; v++) {
        pk_init(&k);
        msgpack_pack_map(&k.p, 3);
        pk_kstr(&k, "t", "result");
        pk_kstr(&k, "job_id", "j");
        pk_str(&k, "outputs");
        msgpack_pack_array(&k.p, 2);
        msgpack_pack_map(&k.p, 2);
        pk_kstr(&k, "path", "/ok");
        pk_kstr(&k, "mime", "image/png");
        if (v == 0) {
            pk_str(&k, "/not/a/map");
        } else if (v == 1) {
            msgpack_pack_map(&k.p, 1);
            pk_kstr(&k, "path", "/p");
        } else {
            msgpack_pack_map(&k.p, 2);
            pk_kstr(&k, "path", "/p");
            pk_kint(&k, "mime", 3);
        }
        ck_assert_int_eq(pk_rc(&k), OV_EPROTO);
    }
}
END_TEST

START_TEST(type_key_problems_and_unknown_keys)
{
    char err[256];
    ov_msg d;
    pk k;
    pk_init(&k);
    msgpack_pack_map(&k.p, 2);
    pk_kstr(&k, "t", "launch_missiles\n");
    pk_kstr(&k, "job_id", "j");
    ck_assert_int_eq(pk_decode(&k, &d, err, sizeof err), OV_EPROTO);
    ck_assert_str_eq(err, "unknown message type \"launch_missiles?\"");
    /* No "t"; "t" not a string; "t" twice; not a map at all. */
    pk_init(&k);
    msgpack_pack_map(&k.p, 1);
    pk_kstr(&k, "job_id", "j");
    ck_assert_int_eq(pk_rc(&k), OV_EPROTO);
    pk_init(&k);
    msgpack_pack_map(&k.p, 1);
    pk_kint(&k, "t", 3);
    ck_assert_int_eq(pk_rc(&k), OV_EPROTO);
    pk_init(&k);
    msgpack_pack_map(&k.p, 3);
    pk_kstr(&k, "t", "cancel");
    pk_kstr(&k, "job_id", "j");
    pk_kstr(&k, "t", "cancel");
    ck_assert_int_eq(pk_rc(&k), OV_EPROTO);
    pk_init(&k);
    msgpack_pack_array(&k.p, 1);
    pk_str(&k, "cancel");
    ck_assert_int_eq(pk_decode(&k, &d, err, sizeof err), OV_EPROTO);
    ck_assert_str_eq(err, "message is not a map");
    /* Duplicate known field. */
    pk_init(&k);
    msgpack_pack_map(&k.p, 3);
    pk_kstr(&k, "t", "cancel");
    pk_kstr(&k, "job_id", "j");
    pk_kstr(&k, "job_id", "k");
    ck_assert_int_eq(pk_decode(&k, &d, err, sizeof err), OV_EPROTO);
    ck_assert_ptr_nonnull(strstr(err, "twice"));
    /* Non-string top-level key. */
    pk_init(&k);
    msgpack_pack_map(&k.p, 3);
    pk_kstr(&k, "t", "cancel");
    pk_kstr(&k, "job_id", "j");
    msgpack_pack_int64(&k.p, 1);
    msgpack_pack_int64(&k.p, 1);
    ck_assert_int_eq(pk_rc(&k), OV_EPROTO);
    /* Unknown keys of any shape are ignored; "t" need not come first. */
    pk_init(&k);
    msgpack_pack_map(&k.p, 4);
    pk_kstr(&k, "job_id", "j9");
    pk_str(&k, "added_in_v2");
    msgpack_pack_map(&k.p, 1);
    pk_str(&k, "x");
    msgpack_pack_array(&k.p, 2);
    msgpack_pack_nil(&k.p);
    msgpack_pack_bin(&k.p, 0);
    pk_str(&k, "ext");
    msgpack_pack_ext(&k.p, 2, 7);
    msgpack_pack_ext_body(&k.p, "ab", 2);
    pk_kstr(&k, "t", "cancel");
    ck_assert_int_eq(pk_decode(&k, &d, err, sizeof err), 0);
    ck_assert_int_eq(d.type, OV_MSG_CANCEL);
    ck_assert_str_eq(d.u.cancel.job_id, "j9");
    ov_msg_free(&d);
    /* Reserved byte 0xc1; empty payload; NULL err is allowed. */
    const uint8_t c1[] = {0x81, 0xa1, 't', 0xc1};
    ck_assert_int_eq(decode(c1, sizeof c1, &d, err, sizeof err), OV_EPROTO);
    ck_assert_ptr_nonnull(strstr(err, "0xc1"));
    ck_assert_int_eq(ov_msg_decode(c1, 0, &d, NULL, 0), OV_EPROTO);
}
END_TEST

START_TEST(int_ranges)
{
    /* uint64 above INT64_MAX is refused; int64 extremes and small negative encodings pass. */
    pk k;
    pk_init(&k);
    msgpack_pack_map(&k.p, 2);
    pk_kstr(&k, "t", "heartbeat");
    pk_str(&k, "seq");
    msgpack_pack_uint64(&k.p, (uint64_t)INT64_MAX + 1);
    ck_assert_int_eq(pk_rc(&k), OV_EPROTO);
    const int64_t vals[] = {INT64_MAX, INT64_MIN, 0, -1, -32, -33, 127, 128, 65536, -2147483649LL};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        pk_init(&k);
        msgpack_pack_map(&k.p, 2);
        pk_kstr(&k, "t", "heartbeat");
        pk_kint(&k, "seq", vals[i]);
        ov_msg d;
        char err[256];
        ck_assert_int_eq(pk_decode(&k, &d, err, sizeof err), 0);
        ck_assert(d.u.heartbeat.seq == vals[i]);
        ov_msg_free(&d);
    }
    /* A float where an int is expected. */
    pk_init(&k);
    msgpack_pack_map(&k.p, 2);
    pk_kstr(&k, "t", "heartbeat");
    pk_str(&k, "seq");
    msgpack_pack_double(&k.p, 1.0);
    ck_assert_int_eq(pk_rc(&k), OV_EPROTO);
}
END_TEST

START_TEST(encode_limits_leave_buffer_unchanged)
{
    ov_msg m;
    make_full(OV_MSG_JOB, &m);
    ov_buf b;
    ov_buf_init(&b, 40); /* too small for the frame */
    ck_assert_int_eq(ov_buf_puts(&b, "keep"), 0);
    ck_assert_int_eq(ov_msg_encode(&m, &b), OV_ENOMEM);
    ck_assert_uint_eq(b.len, 4);
    ck_assert_int_eq(memcmp(b.data, "keep", 4), 0);
    ov_buf_free(&b);
    ov_msg_free(&m);

    /* Over the 1 MiB frame cap: three 512 KiB strings. */
    ov_msg_init(&m, OV_MSG_JOB);
    char *s = malloc(OV_IPC_STR_MAX + 1);
    memset(s, 'y', OV_IPC_STR_MAX);
    s[OV_IPC_STR_MAX] = '\0';
    ck_assert_int_eq(ov_kvlist_set_str(&m.u.job.params, "a", s), 0);
    ck_assert_int_eq(ov_kvlist_set_str(&m.u.job.params, "b", s), 0);
    ck_assert_int_eq(ov_kvlist_set_str(&m.u.job.params, "c", s), 0);
    free(s);
    ov_buf_init(&b, 8u << 20);
    ck_assert_int_eq(ov_msg_encode(&m, &b), OV_EINVAL);
    ck_assert_uint_eq(b.len, 0);
    ov_buf_free(&b);
    ov_msg_free(&m);

    ov_msg_init(&m, 0);
    ov_buf_init(&b, 1024);
    ck_assert_int_eq(ov_msg_encode(&m, &b), OV_EINVAL);
    m.type = OV_MSG_TYPE_COUNT;
    ck_assert_int_eq(ov_msg_encode(&m, &b), OV_EINVAL);
    ov_buf_free(&b);
}
END_TEST

START_TEST(encode_appends_whole_frames_the_reader_accepts)
{
    ov_buf b;
    ov_buf_init(&b, 1u << 20);
    ov_msg ms[OV_MSG_TYPE_COUNT];
    for (int t = 1; t < OV_MSG_TYPE_COUNT; t++) {
        make_full(t, &ms[t]);
        ck_assert_int_eq(ov_msg_encode(&ms[t], &b), 0);
    }
    ov_frame_reader r;
    ov_frame_reader_init(&r, 0);
    ck_assert_int_eq(ov_frame_reader_feed(&r, b.data, b.len), 0);
    for (int t = 1; t < OV_MSG_TYPE_COUNT; t++) {
        const uint8_t *p;
        size_t n;
        ck_assert_int_eq(ov_frame_reader_next(&r, &p, &n), 1);
        ov_msg d;
        char err[256];
        ck_assert_int_eq(decode(p, n, &d, err, sizeof err), 0);
        ck_assert(ov_msg_equal(&ms[t], &d));
        ov_msg_free(&d);
        ov_msg_free(&ms[t]);
    }
    const uint8_t *p;
    size_t n;
    ck_assert_int_eq(ov_frame_reader_next(&r, &p, &n), 0);
    ov_frame_reader_free(&r);
    ov_buf_free(&b);
}
END_TEST

START_TEST(equal_detects_differences)
{
    ov_msg a, b;
    make_full(OV_MSG_JOB, &a);
    make_full(OV_MSG_JOB, &b);
    ck_assert(ov_msg_equal(&a, &b));
    ck_assert_int_eq(ov_kvlist_set_int(&b.u.job.params, "steps", 51), 0);
    ck_assert(!ov_msg_equal(&a, &b));
    ov_msg_free(&b);
    make_full(OV_MSG_CANCEL, &b);
    ck_assert(!ov_msg_equal(&a, &b));
    ov_msg_free(&a);
    ov_msg_free(&b);
}
END_TEST

static Suite *message_suite(void)
{
    Suite *s = suite_create("ipc_message");
    TCase *tc = tcase_create("message");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, type_names);
    tcase_add_test(tc, kvlist_set_get_replace_cap_copy);
    tcase_add_test(tc, round_trip_every_type);
    tcase_add_test(tc, round_trip_exact_fields);
    tcase_add_test(tc, null_strings_encode_as_empty_and_optionals_default);
    tcase_add_test(tc, missing_required_and_wrong_types_every_field);
    tcase_add_test(tc, truncated_at_every_prefix);
    tcase_add_test(tc, trailing_garbage);
    tcase_add_test(tc, huge_container_counts_fail_fast);
    tcase_add_test(tc, depth_bomb);
    tcase_add_test(tc, embedded_nul_and_string_cap);
    tcase_add_test(tc, kv_and_outputs_caps);
    tcase_add_test(tc, bad_kv_values_and_outputs);
    tcase_add_test(tc, type_key_problems_and_unknown_keys);
    tcase_add_test(tc, int_ranges);
    tcase_add_test(tc, encode_limits_leave_buffer_unchanged);
    tcase_add_test(tc, encode_appends_whole_frames_the_reader_accepts);
    tcase_add_test(tc, equal_detects_differences);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(message_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
