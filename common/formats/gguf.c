/* GGUF reader (every length checked before use) and writer, per ggml-org/ggml docs/gguf.md. */
#include "common/formats/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/formats/fmt_err.h"
#include "common/tensor/dtype.h"

/* Checks made on every file:
 *  - magic "GGUF", version 2 or 3, tensor and KV counts under the caps;
 *  - every string length, array count and value type checked against the caps and against the
 *    bytes that remain before it is used (a count can never make us allocate more than the file
 *    could hold); nested arrays are refused, duplicate keys refused;
 *  - general.alignment, when present, is a u32 power of two;
 *  - tensor infos: unique names of 1..255 bytes, 0..4 dims, element count without overflow,
 *    a supported ggml type (unknown ids name the tensor and the id), ne[0] a multiple of the
 *    block size, offset a multiple of the alignment, data inside the file, no overlaps. */

struct kv {
    char *key;
    int type, elem_type;
    uint64_t count;            /* arrays */
    const uint8_t *val;        /* scalar value / first array element, inside g->hdr */
    const uint8_t **strs;      /* arrays of strings: each element's start (its u64 length) */
};

struct ov_gguf {
    char *path;
    int fd;
    const uint8_t *image;      /* memory image (parse) */
    uint8_t *hdr;              /* owned header bytes (open) */
    uint64_t file_size;
    uint32_t version, alignment;
    uint64_t data_offset;
    struct kv *kvs;
    size_t n_kv;
    ov_gguf_tensor *tensors;
    size_t n_tensors;
};

static const char *const k_ggml_names[] = {
    "F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K",
    "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL",
    "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16", "Q4_0_4_4",
    "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8", "MXFP4",
};

const char *ov_ggml_type_name(int t)
{
    return t >= 0 && t < (int)(sizeof k_ggml_names / sizeof k_ggml_names[0]) ? k_ggml_names[t] : NULL;
}

static const struct {
    int ggml, dtype;
} k_map[] = {
    {OV_GGML_F32, OV_DTYPE_F32},   {OV_GGML_F16, OV_DTYPE_F16},   {OV_GGML_Q8_0, OV_DTYPE_Q8_0},
    {OV_GGML_Q4_K, OV_DTYPE_Q4_K}, {OV_GGML_Q6_K, OV_DTYPE_Q6_K}, {OV_GGML_I8, OV_DTYPE_I8},
    {OV_GGML_I16, OV_DTYPE_I16},   {OV_GGML_I32, OV_DTYPE_I32},   {OV_GGML_I64, OV_DTYPE_I64},
    {OV_GGML_F64, OV_DTYPE_F64},   {OV_GGML_BF16, OV_DTYPE_BF16},
};

int ov_gguf_dtype_from_ggml(int t)
{
    for (size_t i = 0; i < sizeof k_map / sizeof k_map[0]; i++)
        if (k_map[i].ggml == t)
            return k_map[i].dtype;
    return -1;
}

int ov_gguf_ggml_from_dtype(int d)
{
    for (size_t i = 0; i < sizeof k_map / sizeof k_map[0]; i++)
        if (k_map[i].dtype == d)
            return k_map[i].ggml;
    return -1;
}

static const uint8_t k_type_size[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

static uint64_t ld_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* ---- bounded cursor ---- */

struct cur {
    const uint8_t *p;
    uint64_t len, pos;
    int truncated; /* set when a read ran past len */
};

static int take(struct cur *c, uint64_t n, const uint8_t **at)
{
    if (n > c->len - c->pos) {
        c->truncated = 1;
        return -1;
    }
    *at = c->p + c->pos;
    c->pos += n;
    return 0;
}

static int rd_u32(struct cur *c, uint32_t *v)
{
    const uint8_t *p;
    if (take(c, 4, &p))
        return -1;
    *v = (uint32_t)ld_le(p, 4);
    return 0;
}

static int rd_u64(struct cur *c, uint64_t *v)
{
    const uint8_t *p;
    if (take(c, 8, &p))
        return -1;
    *v = ld_le(p, 8);
    return 0;
}

/* A string: u64 length + bytes, length <= cap. Returns -1 truncated, -2 too long. */
static int rd_str(struct cur *c, uint64_t cap, const uint8_t **s, uint64_t *n)
{
    if (rd_u64(c, n))
        return -1;
    if (*n > cap)
        return -2;
    return take(c, *n, s);
}

void ov_gguf_close(ov_gguf *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_kv; i++) {
        free(g->kvs[i].key);
        free(g->kvs[i].strs);
    }
    free(g->kvs);
    for (size_t i = 0; i < g->n_tensors; i++)
        free((char *)g->tensors[i].name);
    free(g->tensors);
    free(g->hdr);
    if (g->fd >= 0)
        close(g->fd);
    free(g->path);
    free(g);
}

static void reset_parse(ov_gguf *g)
{
    for (size_t i = 0; i < g->n_kv; i++) {
        free(g->kvs[i].key);
        free(g->kvs[i].strs);
    }
    free(g->kvs);
    g->kvs = NULL;
    g->n_kv = 0;
    for (size_t i = 0; i < g->n_tensors; i++)
        free((char *)g->tensors[i].name);
    free(g->tensors);
    g->tensors = NULL;
    g->n_tensors = 0;
}

#define TRUNC_OR(c, msg)                                                                                   \
    ((c)->truncated ? fmt_fail(err, cap, OV_EFORMAT, "%s: file ends inside %s", g->path, msg)             \
                    : fmt_fail(err, cap, OV_EFORMAT, "%s: bad %s", g->path, msg))

/* Parse one value of `type` (not an array) at the cursor; *at = its first byte. */
static int skip_scalar(struct cur *c, int type, const uint8_t **at)
{
    if (type == OV_GGUF_STRING) {
        uint64_t n;
        const uint8_t *s;
        *at = c->p + c->pos;
        return rd_str(c, OV_GGUF_MAX_STRING, &s, &n);
    }
    if (type < 0 || type > OV_GGUF_F64 || type == OV_GGUF_ARRAY)
        return -3;
    return take(c, k_type_size[type], at);
}

static int cmp_off(const void *a, const void *b)
{
    const ov_gguf_tensor *const *x = a, *const *y = b;
    return (*x)->offset < (*y)->offset ? -1 : (*x)->offset > (*y)->offset;
}

/* Parse the header bytes buf[0..len) of a file of file_size bytes. Returns 0, an OV_E* error, or
 * 1 when buf ended early but the file is longer (the caller rereads more and retries). */
static int parse(ov_gguf *g, const uint8_t *buf, uint64_t len, char *err, size_t cap)
{
    struct cur c = {buf, len, 0, 0};
    struct cur *cp = &c;
    uint32_t magic;
    uint64_t n_tensors, n_kv;
    int rc = 0;
    if (rd_u32(cp, &magic) || rd_u32(cp, &g->version))
        return fmt_fail(err, cap, OV_EFORMAT, "%s: too short for a GGUF header", g->path);
    if (magic != OV_GGUF_MAGIC)
        return fmt_fail(err, cap, OV_EFORMAT, "%s: not a GGUF file (magic 0x%08x)", g->path, magic);
    if (g->version != 2 && g->version != 3)
        return fmt_fail(err, cap, OV_EUNSUPP, "%s: GGUF version %u (only 2 and 3 are supported)", g->path,
                        g->version);
    if (rd_u64(cp, &n_tensors) || rd_u64(cp, &n_kv))
        goto trunc;
    if (n_tensors > OV_GGUF_MAX_TENSORS || n_kv > OV_GGUF_MAX_KV)
        return fmt_fail(err, cap, OV_EFORMAT, "%s: %llu tensors / %llu metadata keys is over the cap", g->path,
                        (unsigned long long)n_tensors, (unsigned long long)n_kv);
    g->kvs = calloc(n_kv + 1, sizeof *g->kvs);
    if (!g->kvs)
        return fmt_fail(err, cap, OV_ENOMEM, "%s: out of memory", g->path);
    g->alignment = OV_GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < n_kv; i++) {
        const uint8_t *ks;
        uint64_t kn;
        int r = rd_str(cp, 65535, &ks, &kn);
        if (r == -2)
            return fmt_fail(err, cap, OV_EFORMAT, "%s: metadata key %llu is %llu bytes long", g->path,
                            (unsigned long long)i, (unsigned long long)kn);
        if (r)
            goto trunc;
        struct kv *kv = &g->kvs[g->n_kv];
        kv->key = strndup((const char *)ks, kn);
        if (!kv->key)
            return fmt_fail(err, cap, OV_ENOMEM, "%s: out of memory", g->path);
        g->n_kv++;
        if (strlen(kv->key) != kn)
            return fmt_fail(err, cap, OV_EFORMAT, "%s: metadata key %llu contains a NUL byte", g->path,
                            (unsigned long long)i);
        for (size_t j = 0; j + 1 < g->n_kv; j++)
            if (strcmp(g->kvs[j].key, kv->key) == 0)
                return fmt_fail(err, cap, OV_EFORMAT, "%s: metadata key '%.200s' appears twice", g->path, kv->key);
        uint32_t t;
        if (rd_u32(cp, &t))
            goto trunc;
        kv->type = (int)t;
        if (t == OV_GGUF_ARRAY) {
            uint32_t et;
            if (rd_u32(cp, &et) || rd_u64(cp, &kv->count))
                goto trunc;
            kv->elem_type = (int)et;
            if (et > OV_GGUF_F64 || et == OV_GGUF_ARRAY)
                return fmt_fail(err, cap, et == OV_GGUF_ARRAY ? OV_EUNSUPP : OV_EFORMAT,
                                "%s: metadata '%.200s': array element type %u is not supported", g->path,
                                kv->key, et);
            uint64_t min_elem = et == OV_GGUF_STRING ? 8 : k_type_size[et];
            if (kv->count > OV_GGUF_MAX_ARRAY)
                return fmt_fail(err, cap, OV_EFORMAT, "%s: metadata '%.200s': array of %llu elements (cap %llu)",
                                g->path, kv->key, (unsigned long long)kv->count,
                                (unsigned long long)OV_GGUF_MAX_ARRAY);
            if (kv->count * min_elem > c.len - c.pos) {
                c.truncated = 1;
                goto trunc;
            }
            kv->val = c.p + c.pos;
            if (et == OV_GGUF_STRING) {
                kv->strs = malloc((kv->count + 1) * sizeof *kv->strs);
                if (!kv->strs)
                    return fmt_fail(err, cap, OV_ENOMEM, "%s: out of memory", g->path);
            }
            for (uint64_t k = 0; k < kv->count; k++) {
                const uint8_t *at;
                r = skip_scalar(cp, (int)et, &at);
                if (r == -2)
                    return fmt_fail(err, cap, OV_EFORMAT, "%s: metadata '%.200s'[%llu]: string over %llu bytes",
                                    g->path, kv->key, (unsigned long long)k,
                                    (unsigned long long)OV_GGUF_MAX_STRING);
                if (r)
                    goto trunc;
                if (kv->strs)
                    kv->strs[k] = at;
            }
        } else {
            int r2 = skip_scalar(cp, (int)t, &kv->val);
            if (r2 == -3)
                return fmt_fail(err, cap, OV_EFORMAT, "%s: metadata '%.200s' has unknown value type %u", g->path,
                                kv->key, t);
            if (r2 == -2)
                return fmt_fail(err, cap, OV_EFORMAT, "%s: metadata '%.200s': string over %llu bytes", g->path,
                                kv->key, (unsigned long long)OV_GGUF_MAX_STRING);
            if (r2)
                goto trunc;
        }
        if (strcmp(kv->key, "general.alignment") == 0) {
            uint32_t a = kv->type == OV_GGUF_U32 ? (uint32_t)ld_le(kv->val, 4) : 0;
            if (a == 0 || (a & (a - 1)))
                return fmt_fail(err, cap, OV_EFORMAT, "%s: general.alignment must be a u32 power of two", g->path);
            g->alignment = a;
        }
    }
    g->tensors = calloc(n_tensors + 1, sizeof *g->tensors);
    if (!g->tensors)
        return fmt_fail(err, cap, OV_ENOMEM, "%s: out of memory", g->path);
    for (uint64_t i = 0; i < n_tensors; i++) {
        ov_gguf_tensor *t = &g->tensors[g->n_tensors];
        const uint8_t *ns;
        uint64_t nn;
        int r = rd_str(cp, OV_GGUF_MAX_NAME, &ns, &nn);
        if (r == -2 || (r == 0 && nn == 0))
            return fmt_fail(err, cap, OV_EFORMAT, "%s: tensor %llu: name of %llu bytes (1..%d)", g->path,
                            (unsigned long long)i, (unsigned long long)nn, OV_GGUF_MAX_NAME);
        if (r)
            goto trunc;
        t->name = strndup((const char *)ns, nn);
        if (!t->name)
            return fmt_fail(err, cap, OV_ENOMEM, "%s: out of memory", g->path);
        g->n_tensors++;
        if (strlen(t->name) != nn)
            return fmt_fail(err, cap, OV_EFORMAT, "%s: tensor %llu: name contains a NUL byte", g->path,
                            (unsigned long long)i);
        uint32_t nd, type;
        if (rd_u32(cp, &nd))
            goto trunc;
        if (nd > OV_GGUF_MAX_DIMS)
            return fmt_fail(err, cap, OV_EFORMAT, "%s: tensor '%s': %u dimensions (max %d)", g->path, t->name, nd,
                            OV_GGUF_MAX_DIMS);
        t->n_dims = (int)nd;
        int64_t elems = 1;
        for (int d = 0; d < OV_GGUF_MAX_DIMS; d++)
            t->ne[d] = 1;
        for (uint32_t d = 0; d < nd; d++) {
            uint64_t v;
            if (rd_u64(cp, &v))
                goto trunc;
            if (v > (uint64_t)INT64_MAX || (v && (uint64_t)elems > (uint64_t)INT64_MAX / 8 / v))
                return fmt_fail(err, cap, OV_EFORMAT, "%s: tensor '%s': element count overflows", g->path, t->name);
            t->ne[d] = (int64_t)v;
            elems *= (int64_t)v;
        }
        t->n_elems = elems;
        if (rd_u32(cp, &type) || rd_u64(cp, &t->offset))
            goto trunc;
        t->ggml_type = (int)type;
        t->dtype = ov_gguf_dtype_from_ggml((int)type);
        if (t->dtype < 0) {
            const char *tn = ov_ggml_type_name((int)type);
            return fmt_fail(err, cap, OV_EUNSUPP, "%s: tensor '%s': ggml type id %u (%s) is not supported",
                            g->path, t->name, type, tn ? tn : "unknown");
        }
        size_t be = ov_dtype_block_elems(t->dtype);
        if (t->ne[0] % (int64_t)be)
            return fmt_fail(err, cap, OV_EFORMAT, "%s: tensor '%s': ne[0]=%lld is not a multiple of the %s block (%zu)",
                            g->path, t->name, (long long)t->ne[0], ov_dtype_name(t->dtype), be);
        t->n_bytes = (uint64_t)(elems / (int64_t)be) * ov_dtype_block_bytes(t->dtype);
        if (t->offset % g->alignment)
            return fmt_fail(err, cap, OV_EFORMAT, "%s: tensor '%s': offset %llu is not a multiple of the alignment %u",
                            g->path, t->name, (unsigned long long)t->offset, g->alignment);
        for (size_t j = 0; j + 1 < g->n_tensors; j++)
            if (strcmp(g->tensors[j].name, t->name) == 0)
                return fmt_fail(err, cap, OV_EFORMAT, "%s: tensor '%s' appears twice", g->path, t->name);
    }
    uint64_t data = c.pos + (g->alignment - c.pos % g->alignment) % g->alignment;
    if (data > g->file_size)
        return fmt_fail(err, cap, OV_EFORMAT, "%s: file ends before the data section (offset %llu)", g->path,
                        (unsigned long long)data);
    g->data_offset = data;
    uint64_t avail = g->file_size - data;
    ov_gguf_tensor **order = malloc((g->n_tensors + 1) * sizeof *order);
    if (!order)
        return fmt_fail(err, cap, OV_ENOMEM, "%s: out of memory", g->path);
    for (size_t i = 0; i < g->n_tensors; i++) {
        ov_gguf_tensor *t = &g->tensors[i];
        if (t->offset > avail || t->n_bytes > avail - t->offset) {
            rc = fmt_fail(err, cap, OV_EFORMAT,
                          "%s: tensor '%s': bytes [%llu, +%llu) run past the end of the file (truncated?)", g->path,
                          t->name, (unsigned long long)t->offset, (unsigned long long)t->n_bytes);
            break;
        }
        order[i] = t;
    }
    if (!rc) {
        qsort(order, g->n_tensors, sizeof *order, cmp_off);
        for (size_t i = 1; i < g->n_tensors; i++)
            if (order[i]->offset < order[i - 1]->offset + order[i - 1]->n_bytes) {
                rc = fmt_fail(err, cap, OV_EFORMAT, "%s: tensors '%s' and '%s' overlap", g->path, order[i - 1]->name,
                              order[i]->name);
                break;
            }
    }
    free(order);
    if (!rc)
        for (size_t i = 0; i < g->n_tensors; i++)
            g->tensors[i].offset += data;
    return rc;
trunc:
    if (c.truncated && len < g->file_size)
        return 1;
    return fmt_fail(err, cap, OV_EFORMAT, "%s: file ends inside the header (at byte %llu)", g->path,
                    (unsigned long long)c.pos);
}

static ov_gguf *gguf_new(const char *label)
{
    ov_gguf *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->fd = -1;
    g->path = strdup(label);
    if (!g->path) {
        free(g);
        return NULL;
    }
    return g;
}

int ov_gguf_parse(const void *image, size_t len, const char *label, ov_gguf **out, char *err, size_t err_cap)
{
    *out = NULL;
    ov_gguf *g = gguf_new(label ? label : "(memory)");
    if (!g)
        return OV_ENOMEM;
    g->image = image;
    g->file_size = len;
    int rc = parse(g, image, len, err, err_cap);
    if (rc) {
        ov_gguf_close(g);
        return rc < 0 ? rc : OV_EINTERNAL;
    }
    *out = g;
    return 0;
}

static int pread_full(int fd, void *dst, size_t n, uint64_t off)
{
    uint8_t *p = dst;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return OV_EIO;
        }
        if (r == 0)
            return OV_EFORMAT;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

int ov_gguf_open(const char *path, ov_gguf **out, char *err, size_t err_cap)
{
    *out = NULL;
    ov_gguf *g = gguf_new(path);
    if (!g)
        return OV_ENOMEM;
    int rc;
    struct stat sb;
    g->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (g->fd < 0) {
        rc = fmt_fail(err, err_cap, errno == ENOENT ? OV_ENOENT : OV_EIO, "%s: cannot open: %s", path,
                      strerror(errno));
        goto fail;
    }
    if (fstat(g->fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        rc = fmt_fail(err, err_cap, OV_EIO, "%s: not a regular file", path);
        goto fail;
    }
    g->file_size = (uint64_t)sb.st_size;
    /* Read a prefix; reparse with a bigger one while the header runs past it. */
    for (uint64_t want = (uint64_t)4 << 20;; want *= 4) {
        uint64_t n = want < g->file_size ? want : g->file_size;
        if (n > OV_GGUF_MAX_HEADER)
            n = OV_GGUF_MAX_HEADER;
        free(g->hdr);
        g->hdr = malloc(n ? n : 1);
        if (!g->hdr) {
            rc = fmt_fail(err, err_cap, OV_ENOMEM, "%s: out of memory", path);
            goto fail;
        }
        if (pread_full(g->fd, g->hdr, n, 0)) {
            rc = fmt_fail(err, err_cap, OV_EIO, "%s: cannot read the header", path);
            goto fail;
        }
        reset_parse(g);
        rc = parse(g, g->hdr, n, err, err_cap);
        if (rc != 1)
            break;
        if (n == OV_GGUF_MAX_HEADER) {
            rc = fmt_fail(err, err_cap, OV_EFORMAT, "%s: header is larger than %llu bytes", path,
                          (unsigned long long)OV_GGUF_MAX_HEADER);
            break;
        }
    }
    if (rc)
        goto fail;
    *out = g;
    return 0;
fail:
    ov_gguf_close(g);
    return rc;
}

uint32_t ov_gguf_version(const ov_gguf *g)
{
    return g->version;
}

uint32_t ov_gguf_alignment(const ov_gguf *g)
{
    return g->alignment;
}

uint64_t ov_gguf_data_offset(const ov_gguf *g)
{
    return g->data_offset;
}

size_t ov_gguf_count(const ov_gguf *g)
{
    return g->n_tensors;
}

const ov_gguf_tensor *ov_gguf_at(const ov_gguf *g, size_t i)
{
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const ov_gguf_tensor *ov_gguf_find(const ov_gguf *g, const char *name)
{
    for (size_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0)
            return &g->tensors[i];
    return NULL;
}

int ov_gguf_fd(const ov_gguf *g)
{
    return g->fd;
}

const char *ov_gguf_path(const ov_gguf *g)
{
    return g->path;
}

int ov_gguf_read(const ov_gguf *g, const ov_gguf_tensor *t, void *dst, size_t dst_cap, char *err, size_t err_cap)
{
    if (dst_cap < t->n_bytes)
        return fmt_fail(err, err_cap, OV_ERANGE, "%s: tensor '%s' needs %llu bytes, buffer has %zu", g->path,
                        t->name, (unsigned long long)t->n_bytes, dst_cap);
    if (g->image) {
        memcpy(dst, g->image + t->offset, t->n_bytes);
        return 0;
    }
    int rc = pread_full(g->fd, dst, t->n_bytes, t->offset);
    if (rc)
        return fmt_fail(err, err_cap, rc, "%s: reading tensor '%s' failed (%s)", g->path, t->name,
                        rc == OV_EFORMAT ? "file shrank" : strerror(errno));
    return 0;
}

/* ---- metadata access ---- */

size_t ov_gguf_kv_count(const ov_gguf *g)
{
    return g->n_kv;
}

const char *ov_gguf_kv_key(const ov_gguf *g, size_t i)
{
    return i < g->n_kv ? g->kvs[i].key : NULL;
}

long ov_gguf_find_key(const ov_gguf *g, const char *key)
{
    for (size_t i = 0; i < g->n_kv; i++)
        if (strcmp(g->kvs[i].key, key) == 0)
            return (long)i;
    return -1;
}

int ov_gguf_kv_type(const ov_gguf *g, size_t i, int *elem_type, uint64_t *count)
{
    if (i >= g->n_kv)
        return -1;
    if (elem_type)
        *elem_type = g->kvs[i].elem_type;
    if (count)
        *count = g->kvs[i].count;
    return g->kvs[i].type;
}

static const struct kv *get(const ov_gguf *g, const char *key)
{
    long i = ov_gguf_find_key(g, key);
    return i < 0 ? NULL : &g->kvs[i];
}

/* Integer value of type t at p; 0 or OV_EINVAL (not an integer type) / OV_ERANGE (u64 > i64). */
static int int_at(int t, const uint8_t *p, int64_t *out)
{
    switch (t) {
    case OV_GGUF_U8: *out = p[0]; return 0;
    case OV_GGUF_I8: *out = (int8_t)p[0]; return 0;
    case OV_GGUF_U16: *out = (int64_t)ld_le(p, 2); return 0;
    case OV_GGUF_I16: *out = (int16_t)ld_le(p, 2); return 0;
    case OV_GGUF_U32: *out = (int64_t)ld_le(p, 4); return 0;
    case OV_GGUF_I32: *out = (int32_t)ld_le(p, 4); return 0;
    case OV_GGUF_I64: *out = (int64_t)ld_le(p, 8); return 0;
    case OV_GGUF_U64: {
        uint64_t v = ld_le(p, 8);
        if (v > (uint64_t)INT64_MAX)
            return OV_ERANGE;
        *out = (int64_t)v;
        return 0;
    }
    default: return OV_EINVAL;
    }
}

static int float_at(int t, const uint8_t *p, double *out)
{
    if (t == OV_GGUF_F32) {
        uint32_t u = (uint32_t)ld_le(p, 4);
        float f;
        memcpy(&f, &u, 4);
        *out = f;
        return 0;
    }
    if (t == OV_GGUF_F64) {
        uint64_t u = ld_le(p, 8);
        memcpy(out, &u, 8);
        return 0;
    }
    return OV_EINVAL;
}

int ov_gguf_get_int(const ov_gguf *g, const char *key, int64_t *out)
{
    const struct kv *kv = get(g, key);
    return kv ? int_at(kv->type, kv->val, out) : OV_ENOENT;
}

int ov_gguf_get_float(const ov_gguf *g, const char *key, double *out)
{
    const struct kv *kv = get(g, key);
    return kv ? float_at(kv->type, kv->val, out) : OV_ENOENT;
}

int ov_gguf_get_bool(const ov_gguf *g, const char *key, int *out)
{
    const struct kv *kv = get(g, key);
    if (!kv)
        return OV_ENOENT;
    if (kv->type != OV_GGUF_BOOL)
        return OV_EINVAL;
    *out = kv->val[0] != 0;
    return 0;
}

int ov_gguf_get_str(const ov_gguf *g, const char *key, const char **s, size_t *len)
{
    const struct kv *kv = get(g, key);
    if (!kv)
        return OV_ENOENT;
    if (kv->type != OV_GGUF_STRING)
        return OV_EINVAL;
    *len = (size_t)ld_le(kv->val, 8);
    *s = (const char *)kv->val + 8;
    return 0;
}

int ov_gguf_get_arr_count(const ov_gguf *g, const char *key, uint64_t *count)
{
    const struct kv *kv = get(g, key);
    if (!kv)
        return OV_ENOENT;
    if (kv->type != OV_GGUF_ARRAY)
        return OV_EINVAL;
    *count = kv->count;
    return 0;
}

int ov_gguf_get_arr_str(const ov_gguf *g, const char *key, uint64_t i, const char **s, size_t *len)
{
    const struct kv *kv = get(g, key);
    if (!kv)
        return OV_ENOENT;
    if (kv->type != OV_GGUF_ARRAY || kv->elem_type != OV_GGUF_STRING)
        return OV_EINVAL;
    if (i >= kv->count)
        return OV_ERANGE;
    *len = (size_t)ld_le(kv->strs[i], 8);
    *s = (const char *)kv->strs[i] + 8;
    return 0;
}

int ov_gguf_get_arr_int(const ov_gguf *g, const char *key, uint64_t i, int64_t *out)
{
    const struct kv *kv = get(g, key);
    if (!kv)
        return OV_ENOENT;
    if (kv->type != OV_GGUF_ARRAY || kv->elem_type == OV_GGUF_STRING)
        return OV_EINVAL;
    if (i >= kv->count)
        return OV_ERANGE;
    return int_at(kv->elem_type, kv->val + i * k_type_size[kv->elem_type], out);
}

int ov_gguf_get_arr_float(const ov_gguf *g, const char *key, uint64_t i, double *out)
{
    const struct kv *kv = get(g, key);
    if (!kv)
        return OV_ENOENT;
    if (kv->type != OV_GGUF_ARRAY || kv->elem_type == OV_GGUF_STRING)
        return OV_EINVAL;
    if (i >= kv->count)
        return OV_ERANGE;
    return float_at(kv->elem_type, kv->val + i * k_type_size[kv->elem_type], out);
}

/* ---- writer ---- */

struct wtensor {
    char *name;
    int dtype, n_dims;
    int64_t ne[OV_GGUF_MAX_DIMS];
    uint64_t n_bytes;
    const void *data;
};

struct ov_gguf_writer {
    uint8_t *kv;
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    uint32_t alignment;
    struct wtensor *t;
    size_t n_t, cap_t;
};

ov_gguf_writer *ov_gguf_writer_new(void)
{
    ov_gguf_writer *w = calloc(1, sizeof *w);
    if (w)
        w->alignment = OV_GGUF_DEFAULT_ALIGNMENT;
    return w;
}

void ov_gguf_writer_free(ov_gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->t);
    free(w->kv);
    free(w);
}

static int put(ov_gguf_writer *w, const void *p, size_t n)
{
    if (n == 0) /* p may be NULL (a writer with no metadata yet): memcpy(NULL, 0) is UB */
        return 0;
    if (n > ((size_t)1 << 31) - w->kv_len)
        return OV_ENOMEM;
    if (w->kv_len + n > w->kv_cap) {
        size_t nc = w->kv_cap ? w->kv_cap : 4096;
        while (nc < w->kv_len + n)
            nc *= 2;
        uint8_t *nb = realloc(w->kv, nc);
        if (!nb)
            return OV_ENOMEM;
        w->kv = nb;
        w->kv_cap = nc;
    }
    memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
    return 0;
}

static int put_le(ov_gguf_writer *w, uint64_t v, int n)
{
    uint8_t b[8];
    for (int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return put(w, b, (size_t)n);
}

static int put_str(ov_gguf_writer *w, const char *s)
{
    size_t n = strlen(s);
    int rc = put_le(w, n, 8);
    return rc ? rc : put(w, s, n);
}

/* Key + type header; rolls back nothing on failure (the writer is then unusable: caller frees). */
static int put_key(ov_gguf_writer *w, const char *key, int type)
{
    if (!key || !*key)
        return OV_EINVAL;
    int rc = put_str(w, key);
    if (!rc)
        rc = put_le(w, (uint64_t)type, 4);
    if (!rc)
        w->n_kv++;
    return rc;
}

int ov_gguf_set_u32(ov_gguf_writer *w, const char *key, uint32_t v)
{
    if (key && strcmp(key, "general.alignment") == 0) {
        if (v == 0 || (v & (v - 1)))
            return OV_EINVAL;
        w->alignment = v;
    }
    int rc = put_key(w, key, OV_GGUF_U32);
    return rc ? rc : put_le(w, v, 4);
}

int ov_gguf_set_i32(ov_gguf_writer *w, const char *key, int32_t v)
{
    int rc = put_key(w, key, OV_GGUF_I32);
    return rc ? rc : put_le(w, (uint32_t)v, 4);
}

int ov_gguf_set_u64(ov_gguf_writer *w, const char *key, uint64_t v)
{
    int rc = put_key(w, key, OV_GGUF_U64);
    return rc ? rc : put_le(w, v, 8);
}

int ov_gguf_set_f32(ov_gguf_writer *w, const char *key, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    int rc = put_key(w, key, OV_GGUF_F32);
    return rc ? rc : put_le(w, u, 4);
}

int ov_gguf_set_bool(ov_gguf_writer *w, const char *key, int v)
{
    int rc = put_key(w, key, OV_GGUF_BOOL);
    return rc ? rc : put_le(w, v ? 1 : 0, 1);
}

int ov_gguf_set_str(ov_gguf_writer *w, const char *key, const char *v)
{
    int rc = put_key(w, key, OV_GGUF_STRING);
    return rc ? rc : put_str(w, v);
}

static int put_arr_head(ov_gguf_writer *w, const char *key, int et, size_t n)
{
    int rc = put_key(w, key, OV_GGUF_ARRAY);
    if (!rc)
        rc = put_le(w, (uint64_t)et, 4);
    if (!rc)
        rc = put_le(w, n, 8);
    return rc;
}

int ov_gguf_set_arr_str(ov_gguf_writer *w, const char *key, const char *const *v, size_t n)
{
    int rc = put_arr_head(w, key, OV_GGUF_STRING, n);
    for (size_t i = 0; i < n && !rc; i++)
        rc = put_str(w, v[i]);
    return rc;
}

int ov_gguf_set_arr_i32(ov_gguf_writer *w, const char *key, const int32_t *v, size_t n)
{
    int rc = put_arr_head(w, key, OV_GGUF_I32, n);
    for (size_t i = 0; i < n && !rc; i++)
        rc = put_le(w, (uint32_t)v[i], 4);
    return rc;
}

int ov_gguf_set_arr_f32(ov_gguf_writer *w, const char *key, const float *v, size_t n)
{
    int rc = put_arr_head(w, key, OV_GGUF_F32, n);
    for (size_t i = 0; i < n && !rc; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        rc = put_le(w, u, 4);
    }
    return rc;
}

int ov_gguf_add_tensor(ov_gguf_writer *w, const char *name, int dtype, int n_dims, const int64_t *ne,
                       const void *data)
{
    if (!name || !*name || strlen(name) > OV_GGUF_MAX_NAME || n_dims < 1 || n_dims > OV_GGUF_MAX_DIMS ||
        ov_gguf_ggml_from_dtype(dtype) < 0)
        return OV_EINVAL;
    int64_t elems = 1;
    for (int d = 0; d < n_dims; d++) {
        if (ne[d] < 0 || (ne[d] && elems > INT64_MAX / 8 / ne[d]))
            return OV_EINVAL;
        elems *= ne[d];
    }
    if (ne[0] % (int64_t)ov_dtype_block_elems(dtype))
        return OV_EINVAL;
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return OV_EINVAL;
    if (w->n_t == w->cap_t) {
        size_t nc = w->cap_t ? w->cap_t * 2 : 64;
        struct wtensor *nt = realloc(w->t, nc * sizeof *nt);
        if (!nt)
            return OV_ENOMEM;
        w->t = nt;
        w->cap_t = nc;
    }
    struct wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name)
        return OV_ENOMEM;
    t->dtype = dtype;
    t->n_dims = n_dims;
    for (int d = 0; d < n_dims; d++)
        t->ne[d] = ne[d];
    t->n_bytes = ov_dtype_row_bytes(dtype, elems);
    t->data = data;
    w->n_t++;
    return 0;
}

static int fwrite_all(FILE *f, const void *p, size_t n)
{
    return n == 0 || fwrite(p, 1, n, f) == n ? 0 : OV_EIO;
}

static int pad_to(FILE *f, uint64_t *pos, uint32_t align)
{
    static const uint8_t zeros[256];
    uint64_t pad = (align - *pos % align) % align;
    while (pad) {
        size_t k = pad < sizeof zeros ? (size_t)pad : sizeof zeros;
        if (fwrite_all(f, zeros, k))
            return OV_EIO;
        pad -= k;
        *pos += k;
    }
    return 0;
}

int ov_gguf_writer_write(ov_gguf_writer *w, const char *path, char *err, size_t err_cap)
{
    /* Tensor-info section goes into a second buffer via the same helpers. */
    ov_gguf_writer ti = {0};
    uint64_t off = 0;
    int rc = put_le(&ti, OV_GGUF_MAGIC, 4);
    rc = rc ? rc : put_le(&ti, 3, 4);
    rc = rc ? rc : put_le(&ti, w->n_t, 8);
    rc = rc ? rc : put_le(&ti, w->n_kv, 8);
    rc = rc ? rc : put(&ti, w->kv, w->kv_len);
    for (size_t i = 0; i < w->n_t && !rc; i++) {
        const struct wtensor *t = &w->t[i];
        rc = put_str(&ti, t->name);
        rc = rc ? rc : put_le(&ti, (uint64_t)t->n_dims, 4);
        for (int d = 0; d < t->n_dims && !rc; d++)
            rc = put_le(&ti, (uint64_t)t->ne[d], 8);
        rc = rc ? rc : put_le(&ti, (uint64_t)ov_gguf_ggml_from_dtype(t->dtype), 4);
        rc = rc ? rc : put_le(&ti, off, 8);
        off += t->n_bytes;
        off += (w->alignment - off % w->alignment) % w->alignment;
    }
    if (rc) {
        free(ti.kv);
        return fmt_fail(err, err_cap, rc, "%s: cannot build the GGUF header", path);
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(ti.kv);
        return fmt_fail(err, err_cap, OV_EIO, "%s: cannot create: %s", path, strerror(errno));
    }
    uint64_t pos = ti.kv_len;
    rc = fwrite_all(f, ti.kv, ti.kv_len);
    free(ti.kv);
    rc = rc ? rc : pad_to(f, &pos, w->alignment);
    for (size_t i = 0; i < w->n_t && !rc; i++) {
        rc = w->t[i].n_bytes && !w->t[i].data ? OV_EINVAL : fwrite_all(f, w->t[i].data, w->t[i].n_bytes);
        pos += w->t[i].n_bytes;
        if (!rc) /* gguf-py and ggml pad after every tensor, the last one included */
            rc = pad_to(f, &pos, w->alignment);
    }
    if (fclose(f) != 0 && !rc)
        rc = OV_EIO;
    if (rc) {
        unlink(path);
        return fmt_fail(err, err_cap, rc, "%s: writing the GGUF file failed", path);
    }
    return 0;
}
