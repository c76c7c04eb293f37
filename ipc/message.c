/* IPC messages: typed kv lists, the msgpack encoder, and a decoder that treats every byte as hostile. */
#include "ipc/message.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "ipc/frame.h"

/* Total msgpack objects one frame may hold. msgpack-c allocates sizeof(msgpack_object) (24 bytes)
 * per array element and twice that per map entry, so this bounds its zone at a few MiB whatever
 * the frame says; real messages hold a few hundred objects. */
#define OV_IPC_OBJECTS_MAX 65536u

/* ---------------------------------------------------------------- kv lists */

static char *dup_cstr(const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

static ov_kv *kv_find(const ov_kvlist *l, const char *key)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].key, key) == 0)
            return &l->items[i];
    return NULL;
}

/* The slot for key: the existing entry (its old string value freed) or a new one with a copied
 * key. NULL and *rc set on failure; the list is unchanged then. */
static ov_kv *kv_slot(ov_kvlist *l, const char *key, int *rc)
{
    if (!key) {
        *rc = OV_EINVAL;
        return NULL;
    }
    ov_kv *kv = kv_find(l, key);
    if (kv)
        return kv;
    if (l->n >= OV_IPC_KV_MAX) {
        *rc = OV_ERANGE;
        return NULL;
    }
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 8;
        if (cap > OV_IPC_KV_MAX)
            cap = OV_IPC_KV_MAX;
        ov_kv *ni = realloc(l->items, cap * sizeof *ni);
        if (!ni) {
            *rc = OV_ENOMEM;
            return NULL;
        }
        l->items = ni;
        l->cap = cap;
    }
    char *k = dup_cstr(key);
    if (!k) {
        *rc = OV_ENOMEM;
        return NULL;
    }
    kv = &l->items[l->n++];
    memset(kv, 0, sizeof *kv);
    kv->key = k;
    return kv;
}

static void kv_set_scalar(ov_kv *kv, int type, int64_t i, double f)
{
    free(kv->s);
    kv->s = NULL;
    kv->type = type;
    kv->i = i;
    kv->f = f;
}

int ov_kvlist_set_int(ov_kvlist *l, const char *key, int64_t v)
{
    int rc = 0;
    ov_kv *kv = kv_slot(l, key, &rc);
    if (!kv)
        return rc;
    kv_set_scalar(kv, OV_KV_INT, v, 0);
    return 0;
}

int ov_kvlist_set_float(ov_kvlist *l, const char *key, double v)
{
    int rc = 0;
    ov_kv *kv = kv_slot(l, key, &rc);
    if (!kv)
        return rc;
    kv_set_scalar(kv, OV_KV_FLOAT, 0, v);
    return 0;
}

int ov_kvlist_set_bool(ov_kvlist *l, const char *key, bool v)
{
    int rc = 0;
    ov_kv *kv = kv_slot(l, key, &rc);
    if (!kv)
        return rc;
    kv_set_scalar(kv, OV_KV_BOOL, v ? 1 : 0, 0);
    return 0;
}

int ov_kvlist_set_str(ov_kvlist *l, const char *key, const char *v)
{
    char *copy = dup_cstr(v);
    if (!copy)
        return OV_ENOMEM;
    int rc = 0;
    ov_kv *kv = kv_slot(l, key, &rc);
    if (!kv) {
        free(copy);
        return rc;
    }
    kv_set_scalar(kv, OV_KV_STR, 0, 0);
    kv->s = copy;
    return 0;
}

const ov_kv *ov_kvlist_get(const ov_kvlist *l, const char *key)
{
    if (!l || !key)
        return NULL;
    return kv_find(l, key);
}

int ov_kvlist_get_int(const ov_kvlist *l, const char *key, int64_t *out)
{
    const ov_kv *kv = ov_kvlist_get(l, key);
    if (!kv)
        return OV_ENOENT;
    if (kv->type != OV_KV_INT)
        return OV_EINVAL;
    *out = kv->i;
    return 0;
}

int ov_kvlist_get_float(const ov_kvlist *l, const char *key, double *out)
{
    const ov_kv *kv = ov_kvlist_get(l, key);
    if (!kv)
        return OV_ENOENT;
    if (kv->type == OV_KV_FLOAT)
        *out = kv->f;
    else if (kv->type == OV_KV_INT)
        *out = (double)kv->i;
    else
        return OV_EINVAL;
    return 0;
}

int ov_kvlist_get_str(const ov_kvlist *l, const char *key, const char **out)
{
    const ov_kv *kv = ov_kvlist_get(l, key);
    if (!kv)
        return OV_ENOENT;
    if (kv->type != OV_KV_STR)
        return OV_EINVAL;
    *out = kv->s;
    return 0;
}

int ov_kvlist_get_bool(const ov_kvlist *l, const char *key, bool *out)
{
    const ov_kv *kv = ov_kvlist_get(l, key);
    if (!kv)
        return OV_ENOENT;
    if (kv->type != OV_KV_BOOL)
        return OV_EINVAL;
    *out = kv->i != 0;
    return 0;
}

void ov_kvlist_free(ov_kvlist *l)
{
    for (uint32_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].s);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

int ov_kvlist_copy(ov_kvlist *dst, const ov_kvlist *src)
{
    memset(dst, 0, sizeof *dst);
    for (uint32_t i = 0; i < src->n; i++) {
        const ov_kv *kv = &src->items[i];
        int rc;
        switch (kv->type) {
        case OV_KV_INT: rc = ov_kvlist_set_int(dst, kv->key, kv->i); break;
        case OV_KV_FLOAT: rc = ov_kvlist_set_float(dst, kv->key, kv->f); break;
        case OV_KV_STR: rc = ov_kvlist_set_str(dst, kv->key, kv->s); break;
        case OV_KV_BOOL: rc = ov_kvlist_set_bool(dst, kv->key, kv->i != 0); break;
        default: rc = OV_EINVAL; break;
        }
        if (rc) {
            ov_kvlist_free(dst);
            return rc;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- schema */

static const char *const type_names[OV_MSG_TYPE_COUNT] = {
    [OV_MSG_HELLO] = "hello",       [OV_MSG_READY] = "ready",     [OV_MSG_JOB] = "job",
    [OV_MSG_ACCEPT] = "accept",     [OV_MSG_PROGRESS] = "progress", [OV_MSG_RESULT] = "result",
    [OV_MSG_ERROR] = "error",       [OV_MSG_HEARTBEAT] = "heartbeat", [OV_MSG_CANCEL] = "cancel",
    [OV_MSG_SHUTDOWN] = "shutdown",
};

const char *ov_msg_type_name(int type)
{
    if (type <= 0 || type >= OV_MSG_TYPE_COUNT)
        return NULL;
    return type_names[type];
}

int ov_msg_type_from_name(const char *name)
{
    if (!name)
        return 0;
    for (int t = 1; t < OV_MSG_TYPE_COUNT; t++)
        if (strcmp(type_names[t], name) == 0)
            return t;
    return 0;
}

enum field_kind { F_STR, F_INT, F_BOOL, F_KV, F_OUTPUTS };

typedef struct field {
    const char *name;
    unsigned char kind;
    unsigned char required;
    size_t off; /* offset of the member inside ov_msg */
} field;

#define FIELDS_MAX 6
#define FLD(ty, member, kind, req) {#member, kind, req, offsetof(ov_msg, u.ty.member)}

/* One row per message type: its fields in wire order. Required fields must be present;
 * missing optional strings decode as "", missing numbers as 0, missing bools as false. */
static const field schema[OV_MSG_TYPE_COUNT][FIELDS_MAX] = {
    [OV_MSG_HELLO] = {FLD(hello, kind, F_STR, 1), FLD(hello, name, F_STR, 1), FLD(hello, pid, F_INT, 1),
                      FLD(hello, protocol, F_INT, 1), FLD(hello, model, F_STR, 0),
                      FLD(hello, vram_budget_bytes, F_INT, 0)},
    [OV_MSG_READY] = {FLD(ready, model, F_STR, 0), FLD(ready, load_ms, F_INT, 0),
                      FLD(ready, vram_used_bytes, F_INT, 0)},
    [OV_MSG_JOB] = {FLD(job, job_id, F_STR, 1), FLD(job, task, F_STR, 1), FLD(job, params, F_KV, 0)},
    [OV_MSG_ACCEPT] = {FLD(accept, job_id, F_STR, 1)},
    [OV_MSG_PROGRESS] = {FLD(progress, job_id, F_STR, 1), FLD(progress, phase, F_STR, 1),
                         FLD(progress, step, F_INT, 1), FLD(progress, total, F_INT, 1)},
    [OV_MSG_RESULT] = {FLD(result, job_id, F_STR, 1), FLD(result, outputs, F_OUTPUTS, 0),
                       FLD(result, meta, F_KV, 0)},
    [OV_MSG_ERROR] = {FLD(error, job_id, F_STR, 0), FLD(error, code, F_INT, 1), FLD(error, message, F_STR, 1),
                      FLD(error, retriable, F_BOOL, 0)},
    [OV_MSG_HEARTBEAT] = {FLD(heartbeat, seq, F_INT, 1), FLD(heartbeat, state, F_STR, 0),
                          FLD(heartbeat, vram_used_bytes, F_INT, 0)},
    [OV_MSG_CANCEL] = {FLD(cancel, job_id, F_STR, 1)},
    [OV_MSG_SHUTDOWN] = {FLD(shutdown, deadline_ms, F_INT, 0)},
};

static int field_count(int type)
{
    int n = 0;
    while (n < FIELDS_MAX && schema[type][n].name)
        n++;
    return n;
}

#define AT(m, f, T) ((T *)((char *)(m) + (f)->off))
#define AT_C(m, f, T) ((const T *)((const char *)(m) + (f)->off))

void ov_msg_init(ov_msg *m, int type)
{
    memset(m, 0, sizeof *m);
    m->type = type;
}

static void outputs_free(ov_output *o, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        free(o[i].path);
        free(o[i].mime);
    }
    free(o);
}

void ov_msg_free(ov_msg *m)
{
    if (m->type > 0 && m->type < OV_MSG_TYPE_COUNT) {
        int nf = field_count(m->type);
        for (int i = 0; i < nf; i++) {
            const field *f = &schema[m->type][i];
            switch (f->kind) {
            case F_STR: free(*AT(m, f, char *)); break;
            case F_KV: ov_kvlist_free(AT(m, f, ov_kvlist)); break;
            case F_OUTPUTS: outputs_free(m->u.result.outputs, m->u.result.noutputs); break;
            default: break;
            }
        }
    }
    memset(m, 0, sizeof *m);
}

int ov_msg_add_output(ov_msg *m, const char *path, const char *mime)
{
    if (!m || m->type != OV_MSG_RESULT || !path || !mime)
        return OV_EINVAL;
    if (m->u.result.noutputs >= OV_IPC_OUTPUTS_MAX)
        return OV_ERANGE;
    ov_output *no = realloc(m->u.result.outputs, (m->u.result.noutputs + 1) * sizeof *no);
    if (!no)
        return OV_ENOMEM;
    m->u.result.outputs = no;
    char *p = dup_cstr(path), *t = dup_cstr(mime);
    if (!p || !t) {
        free(p);
        free(t);
        return OV_ENOMEM;
    }
    no[m->u.result.noutputs].path = p;
    no[m->u.result.noutputs].mime = t;
    m->u.result.noutputs++;
    return 0;
}

/* ---------------------------------------------------------------- equality */

static bool str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool kv_eq(const ov_kvlist *a, const ov_kvlist *b)
{
    if (a->n != b->n)
        return false;
    for (uint32_t i = 0; i < a->n; i++) {
        const ov_kv *x = &a->items[i], *y = &b->items[i];
        if (x->type != y->type || !str_eq(x->key, y->key))
            return false;
        switch (x->type) {
        case OV_KV_INT: if (x->i != y->i) return false; break;
        case OV_KV_BOOL: if ((x->i != 0) != (y->i != 0)) return false; break;
        case OV_KV_FLOAT: if (memcmp(&x->f, &y->f, sizeof x->f) != 0) return false; break;
        case OV_KV_STR: if (!str_eq(x->s, y->s)) return false; break;
        default: return false;
        }
    }
    return true;
}

bool ov_msg_equal(const ov_msg *a, const ov_msg *b)
{
    if (a->type != b->type || a->type <= 0 || a->type >= OV_MSG_TYPE_COUNT)
        return false;
    int nf = field_count(a->type);
    for (int i = 0; i < nf; i++) {
        const field *f = &schema[a->type][i];
        switch (f->kind) {
        case F_STR:
            if (!str_eq(*AT_C(a, f, char *), *AT_C(b, f, char *)))
                return false;
            break;
        case F_INT:
            if (*AT_C(a, f, int64_t) != *AT_C(b, f, int64_t))
                return false;
            break;
        case F_BOOL:
            if (*AT_C(a, f, bool) != *AT_C(b, f, bool))
                return false;
            break;
        case F_KV:
            if (!kv_eq(AT_C(a, f, ov_kvlist), AT_C(b, f, ov_kvlist)))
                return false;
            break;
        case F_OUTPUTS:
            if (a->u.result.noutputs != b->u.result.noutputs)
                return false;
            for (uint32_t k = 0; k < a->u.result.noutputs; k++)
                if (!str_eq(a->u.result.outputs[k].path, b->u.result.outputs[k].path) ||
                    !str_eq(a->u.result.outputs[k].mime, b->u.result.outputs[k].mime))
                    return false;
            break;
        default: return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- encoder */

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    if (n > OV_IPC_STR_MAX)
        return OV_EINVAL;
    if (msgpack_pack_str(pk, n) != 0 || msgpack_pack_str_body(pk, s, n) != 0)
        return OV_ENOMEM;
    return 0;
}

static int pack_kv(msgpack_packer *pk, const ov_kvlist *l)
{
    if (l->n > OV_IPC_KV_MAX)
        return OV_EINVAL;
    if (msgpack_pack_map(pk, l->n) != 0)
        return OV_ENOMEM;
    for (uint32_t i = 0; i < l->n; i++) {
        const ov_kv *kv = &l->items[i];
        int rc = pack_cstr(pk, kv->key);
        if (rc)
            return rc;
        switch (kv->type) {
        case OV_KV_INT: rc = msgpack_pack_int64(pk, kv->i); break;
        case OV_KV_FLOAT: rc = msgpack_pack_double(pk, kv->f); break;
        case OV_KV_BOOL: rc = kv->i ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
        case OV_KV_STR: {
            int r2 = pack_cstr(pk, kv->s);
            if (r2)
                return r2;
            break;
        }
        default: return OV_EINVAL;
        }
        if (rc != 0)
            return OV_ENOMEM;
    }
    return 0;
}

static int pack_msg(msgpack_packer *pk, const ov_msg *m)
{
    int nf = field_count(m->type);
    if (msgpack_pack_map(pk, (size_t)nf + 1) != 0)
        return OV_ENOMEM;
    int rc = pack_cstr(pk, "t");
    if (!rc)
        rc = pack_cstr(pk, type_names[m->type]);
    for (int i = 0; i < nf && !rc; i++) {
        const field *f = &schema[m->type][i];
        rc = pack_cstr(pk, f->name);
        if (rc)
            break;
        switch (f->kind) {
        case F_STR: rc = pack_cstr(pk, *AT_C(m, f, char *)); break;
        case F_INT: rc = msgpack_pack_int64(pk, *AT_C(m, f, int64_t)) ? OV_ENOMEM : 0; break;
        case F_BOOL: rc = (*AT_C(m, f, bool) ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) ? OV_ENOMEM : 0; break;
        case F_KV: rc = pack_kv(pk, AT_C(m, f, ov_kvlist)); break;
        case F_OUTPUTS: {
            uint32_t n = m->u.result.noutputs;
            if (n > OV_IPC_OUTPUTS_MAX || (n && !m->u.result.outputs))
                return OV_EINVAL;
            if (msgpack_pack_array(pk, n) != 0)
                return OV_ENOMEM;
            for (uint32_t k = 0; k < n && !rc; k++) {
                if (msgpack_pack_map(pk, 2) != 0)
                    return OV_ENOMEM;
                rc = pack_cstr(pk, "path");
                if (!rc)
                    rc = pack_cstr(pk, m->u.result.outputs[k].path);
                if (!rc)
                    rc = pack_cstr(pk, "mime");
                if (!rc)
                    rc = pack_cstr(pk, m->u.result.outputs[k].mime);
            }
            break;
        }
        default: rc = OV_EINTERNAL; break;
        }
    }
    return rc;
}

int ov_msg_encode(const ov_msg *m, ov_buf *out)
{
    if (!m || !out || m->type <= 0 || m->type >= OV_MSG_TYPE_COUNT)
        return OV_EINVAL;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    static const char zero_hdr[OV_IPC_FRAME_HEADER] = {0};
    int rc = msgpack_sbuffer_write(&sb, zero_hdr, sizeof zero_hdr) == 0 ? 0 : OV_ENOMEM;
    if (!rc)
        rc = pack_msg(&pk, m);
    if (!rc && sb.size - OV_IPC_FRAME_HEADER > OV_IPC_FRAME_MAX)
        rc = OV_EINVAL;
    if (!rc) {
        ov_frame_put_header((uint8_t *)sb.data, (uint32_t)(sb.size - OV_IPC_FRAME_HEADER));
        rc = ov_buf_append(out, sb.data, sb.size);
    }
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* ---------------------------------------------------------------- decoder */

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Hostile bytes made printable for an error message: at most 32 characters, others as '?'. */
static const char *printable(char out[40], const char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < 32; i++)
        out[k++] = (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') ? p[i] : '?';
    if (n > 32) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* The pre-pass: walk the raw msgpack bytes and prove they are exactly one complete object whose
 * every length fits in the bytes that follow, nested at most OV_IPC_DEPTH_MAX deep, with at most
 * OV_IPC_OBJECTS_MAX objects. Only then may msgpack-c see them: it trusts container counts and
 * allocates for them before reading a single element (ECOSYSTEM.md §6.1). */
static int mp_validate(const uint8_t *p, size_t len, char *err, size_t errlen)
{
    uint64_t left[OV_IPC_DEPTH_MAX + 1]; /* items still to read at each open level; [0] = root */
    int depth = 0;
    left[0] = 1;
    size_t pos = 0, objects = 0;
    for (;;) {
        while (depth >= 0 && left[depth] == 0)
            depth--;
        if (depth < 0)
            break;
        if (pos >= len) {
            seterr(err, errlen, "truncated msgpack at byte %zu", pos);
            return OV_EPROTO;
        }
        left[depth]--;
        if (++objects > OV_IPC_OBJECTS_MAX) {
            seterr(err, errlen, "more than %u msgpack objects", OV_IPC_OBJECTS_MAX);
            return OV_EPROTO;
        }
        uint8_t b = p[pos++];
        uint64_t skip = 0;    /* payload bytes after the header */
        uint64_t items = 0;   /* container: objects inside */
        int lenbytes = 0;     /* width of an explicit length field */
        int container = 0;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool: nothing follows */
        } else if (b >= 0x80 && b <= 0x8f) {
            container = 2;
            items = b & 0x0f;
        } else if (b >= 0x90 && b <= 0x9f) {
            container = 1;
            items = b & 0x0f;
        } else if (b >= 0xa0 && b <= 0xbf) {
            skip = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4: case 0xd9: lenbytes = 1; break;           /* bin8, str8 */
            case 0xc5: case 0xda: lenbytes = 2; break;           /* bin16, str16 */
            case 0xc6: case 0xdb: lenbytes = 4; break;           /* bin32, str32 */
            case 0xc7: lenbytes = 1; skip = 1; break;            /* ext8: len, type */
            case 0xc8: lenbytes = 2; skip = 1; break;            /* ext16 */
            case 0xc9: lenbytes = 4; skip = 1; break;            /* ext32 */
            case 0xca: skip = 4; break;                          /* float32 */
            case 0xcb: skip = 8; break;                          /* float64 */
            case 0xcc: case 0xd0: skip = 1; break;               /* (u)int8 */
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xce: case 0xd2: skip = 4; break;
            case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break;                          /* fixext1..16: type + data */
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc: container = 1; lenbytes = 2; break;       /* array16 */
            case 0xdd: container = 1; lenbytes = 4; break;       /* array32 */
            case 0xde: container = 2; lenbytes = 2; break;       /* map16 */
            case 0xdf: container = 2; lenbytes = 4; break;       /* map32 */
            default:
                seterr(err, errlen, "invalid msgpack byte 0x%02x at %zu", b, pos - 1);
                return OV_EPROTO;
            }
        }
        if (lenbytes) {
            if (len - pos < (size_t)lenbytes) {
                seterr(err, errlen, "truncated length at byte %zu", pos);
                return OV_EPROTO;
            }
            uint64_t n = be(p + pos, lenbytes);
            pos += (size_t)lenbytes;
            if (container)
                items = n;
            else
                skip += n;
        }
        if (container) {
            if (container == 2)
                items *= 2;
            /* Every object takes at least one byte: a count past the bytes left is a lie. */
            if (items > len - pos) {
                seterr(err, errlen, "container at byte %zu claims %llu objects, %zu bytes left", pos,
                       (unsigned long long)items, len - pos);
                return OV_EPROTO;
            }
            if (depth + 1 > OV_IPC_DEPTH_MAX) {
                seterr(err, errlen, "nesting deeper than %d", OV_IPC_DEPTH_MAX);
                return OV_EPROTO;
            }
            if (items) {
                depth++;
                left[depth] = items;
            }
        } else {
            if (skip > len - pos) {
                seterr(err, errlen, "value at byte %zu needs %llu bytes, %zu left", pos,
                       (unsigned long long)skip, len - pos);
                return OV_EPROTO;
            }
            pos += (size_t)skip;
        }
    }
    if (pos != len) {
        seterr(err, errlen, "%zu trailing bytes after the message", len - pos);
        return OV_EPROTO;
    }
    return 0;
}

static bool key_is(const msgpack_object *k, const char *s)
{
    size_t n = strlen(s);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, s, n) == 0;
}

/* Copy a msgpack string into a new C string: STR only, capped, no embedded NUL. */
static int take_str(const msgpack_object *o, char **out, const char *what, char *err, size_t errlen)
{
    if (o->type != MSGPACK_OBJECT_STR) {
        seterr(err, errlen, "field '%s' must be a string", what);
        return OV_EPROTO;
    }
    uint32_t n = o->via.str.size;
    if (n > OV_IPC_STR_MAX) {
        seterr(err, errlen, "field '%s' is %u bytes, over the %u cap", what, n, OV_IPC_STR_MAX);
        return OV_EPROTO;
    }
    if (n && memchr(o->via.str.ptr, '\0', n)) {
        seterr(err, errlen, "field '%s' contains a NUL byte", what);
        return OV_EPROTO;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        seterr(err, errlen, "out of memory");
        return OV_EPROTO;
    }
    if (n)
        memcpy(s, o->via.str.ptr, n);
    s[n] = '\0';
    *out = s;
    return 0;
}

static int take_int(const msgpack_object *o, int64_t *out, const char *what, char *err, size_t errlen)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX) {
            seterr(err, errlen, "field '%s' is out of the int64 range", what);
            return OV_EPROTO;
        }
        *out = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return 0;
    }
    seterr(err, errlen, "field '%s' must be an integer", what);
    return OV_EPROTO;
}

static int take_kv(const msgpack_object *o, ov_kvlist *l, const char *what, char *err, size_t errlen)
{
    if (o->type != MSGPACK_OBJECT_MAP) {
        seterr(err, errlen, "field '%s' must be a map", what);
        return OV_EPROTO;
    }
    uint32_t n = o->via.map.size;
    if (n > OV_IPC_KV_MAX) {
        seterr(err, errlen, "field '%s' has %u entries, over the %d cap", what, n, OV_IPC_KV_MAX);
        return OV_EPROTO;
    }
    if (n) {
        l->items = calloc(n, sizeof *l->items);
        if (!l->items) {
            seterr(err, errlen, "out of memory");
            return OV_EPROTO;
        }
        l->cap = n;
    }
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
        char *key = NULL;
        if (take_str(k, &key, "key", err, errlen))
            return OV_EPROTO;
        if (kv_find(l, key)) {
            char tmp[40];
            seterr(err, errlen, "field '%s' repeats key \"%s\"", what, printable(tmp, key, strlen(key)));
            free(key);
            return OV_EPROTO;
        }
        ov_kv *kv = &l->items[l->n++];
        kv->key = key;
        switch (v->type) {
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            kv->type = OV_KV_INT;
            if (take_int(v, &kv->i, what, err, errlen))
                return OV_EPROTO;
            break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            kv->type = OV_KV_FLOAT;
            kv->f = v->via.f64;
            break;
        case MSGPACK_OBJECT_BOOLEAN:
            kv->type = OV_KV_BOOL;
            kv->i = v->via.boolean ? 1 : 0;
            break;
        case MSGPACK_OBJECT_STR:
            kv->type = OV_KV_STR;
            if (take_str(v, &kv->s, what, err, errlen))
                return OV_EPROTO;
            break;
        default: {
            char tmp[40];
            seterr(err, errlen, "field '%s' key \"%s\": values must be int, float, string or bool", what,
                   printable(tmp, key, strlen(key)));
            return OV_EPROTO;
        }
        }
    }
    return 0;
}

static int take_outputs(const msgpack_object *o, ov_msg *m, char *err, size_t errlen)
{
    if (o->type != MSGPACK_OBJECT_ARRAY) {
        seterr(err, errlen, "field 'outputs' must be an array");
        return OV_EPROTO;
    }
    uint32_t n = o->via.array.size;
    if (n > OV_IPC_OUTPUTS_MAX) {
        seterr(err, errlen, "field 'outputs' has %u entries, over the %d cap", n, OV_IPC_OUTPUTS_MAX);
        return OV_EPROTO;
    }
    if (n == 0)
        return 0;
    m->u.result.outputs = calloc(n, sizeof(ov_output));
    if (!m->u.result.outputs) {
        seterr(err, errlen, "out of memory");
        return OV_EPROTO;
    }
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *e = &o->via.array.ptr[i];
        ov_output *out = &m->u.result.outputs[i];
        m->u.result.noutputs = i + 1; /* so that free() sees what was filled */
        if (e->type != MSGPACK_OBJECT_MAP) {
            seterr(err, errlen, "outputs[%u] must be a map", i);
            return OV_EPROTO;
        }
        for (uint32_t k = 0; k < e->via.map.size; k++) {
            const msgpack_object *key = &e->via.map.ptr[k].key, *val = &e->via.map.ptr[k].val;
            char **slot = key_is(key, "path") ? &out->path : key_is(key, "mime") ? &out->mime : NULL;
            if (!slot)
                continue;
            if (*slot) {
                seterr(err, errlen, "outputs[%u] repeats a key", i);
                return OV_EPROTO;
            }
            if (take_str(val, slot, key_is(key, "path") ? "outputs.path" : "outputs.mime", err, errlen))
                return OV_EPROTO;
        }
        if (!out->path || !out->mime) {
            seterr(err, errlen, "outputs[%u] needs 'path' and 'mime'", i);
            return OV_EPROTO;
        }
    }
    return 0;
}

static int decode_fields(const msgpack_object *root, ov_msg *m, char *err, size_t errlen)
{
    const msgpack_object_kv *kvs = root->via.map.ptr;
    uint32_t n = root->via.map.size;

    /* The type comes first, whatever position "t" has in the map. */
    const msgpack_object *tv = NULL;
    for (uint32_t i = 0; i < n; i++) {
        if (key_is(&kvs[i].key, "t")) {
            if (tv) {
                seterr(err, errlen, "key 't' appears twice");
                return OV_EPROTO;
            }
            tv = &kvs[i].val;
        }
    }
    if (!tv) {
        seterr(err, errlen, "message has no 't' (type) key");
        return OV_EPROTO;
    }
    if (tv->type != MSGPACK_OBJECT_STR) {
        seterr(err, errlen, "'t' must be a string");
        return OV_EPROTO;
    }
    int type = 0;
    for (int t = 1; t < OV_MSG_TYPE_COUNT; t++) {
        if (key_is(tv, type_names[t])) {
            type = t;
            break;
        }
    }
    if (!type) {
        char tmp[40];
        seterr(err, errlen, "unknown message type \"%s\"", printable(tmp, tv->via.str.ptr, tv->via.str.size));
        return OV_EPROTO;
    }
    m->type = type;

    int nf = field_count(type);
    unsigned seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *k = &kvs[i].key, *v = &kvs[i].val;
        if (k->type != MSGPACK_OBJECT_STR) {
            seterr(err, errlen, "map key %u is not a string", i);
            return OV_EPROTO;
        }
        int fi = -1;
        for (int j = 0; j < nf; j++) {
            if (key_is(k, schema[type][j].name)) {
                fi = j;
                break;
            }
        }
        if (fi < 0)
            continue; /* "t", or a field a newer peer added */
        const field *f = &schema[type][fi];
        if (seen & (1u << fi)) {
            seterr(err, errlen, "field '%s' appears twice", f->name);
            return OV_EPROTO;
        }
        seen |= 1u << fi;
        int rc = 0;
        switch (f->kind) {
        case F_STR: rc = take_str(v, AT(m, f, char *), f->name, err, errlen); break;
        case F_INT: rc = take_int(v, AT(m, f, int64_t), f->name, err, errlen); break;
        case F_BOOL:
            if (v->type != MSGPACK_OBJECT_BOOLEAN) {
                seterr(err, errlen, "field '%s' must be a bool", f->name);
                rc = OV_EPROTO;
            } else {
                *AT(m, f, bool) = v->via.boolean;
            }
            break;
        case F_KV: rc = take_kv(v, AT(m, f, ov_kvlist), f->name, err, errlen); break;
        case F_OUTPUTS: rc = take_outputs(v, m, err, errlen); break;
        default: rc = OV_EPROTO; break;
        }
        if (rc)
            return OV_EPROTO;
    }
    for (int j = 0; j < nf; j++) {
        const field *f = &schema[type][j];
        if (seen & (1u << j))
            continue;
        if (f->required) {
            seterr(err, errlen, "'%s' message lacks required field '%s'", type_names[type], f->name);
            return OV_EPROTO;
        }
        if (f->kind == F_STR) {
            char *s = dup_cstr("");
            if (!s) {
                seterr(err, errlen, "out of memory");
                return OV_EPROTO;
            }
            *AT(m, f, char *) = s;
        }
    }
    return 0;
}

int ov_msg_decode(const uint8_t *payload, size_t len, ov_msg *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    seterr(err, errlen, "ok");
    if (!payload || len == 0) {
        seterr(err, errlen, "empty payload");
        return OV_EPROTO;
    }
    if (len > OV_IPC_FRAME_MAX) {
        seterr(err, errlen, "payload of %zu bytes is over the %u cap", len, OV_IPC_FRAME_MAX);
        return OV_EPROTO;
    }
    if (mp_validate(payload, len, err, errlen))
        return OV_EPROTO;

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    int rc = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&up, (const char *)payload, len, &off);
    if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
        seterr(err, errlen, "msgpack rejected the payload (%d)", (int)ur);
        rc = OV_EPROTO;
    } else if (up.data.type != MSGPACK_OBJECT_MAP) {
        seterr(err, errlen, "message is not a map");
        rc = OV_EPROTO;
    } else {
        rc = decode_fields(&up.data, m, err, errlen);
    }
    msgpack_unpacked_destroy(&up);
    if (rc) {
        ov_msg_free(m); /* leaves it zeroed */
        return OV_EPROTO;
    }
    return 0;
}
