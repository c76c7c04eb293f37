/* safetensors reader (hostile-input validation, sharded folders) and streaming writer. */
#include "common/formats/safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/formats/fmt_err.h"
#include "common/tensor/dtype.h"

/* Checks made on every header (safetensors' own Rust `validate` is the model):
 *  - 8-byte little-endian length N, 2 <= N <= OV_ST_MAX_HEADER, 8 + N <= file size;
 *  - the header is one JSON object, no duplicate keys; `__metadata__` (optional) maps strings
 *    to strings;
 *  - every tensor: known dtype, shape an array of <= OV_ST_MAX_DIMS non-negative integers whose
 *    element count and byte size do not overflow, data_offsets [begin, end] with begin <= end
 *    <= data size and end - begin == elements x element size;
 *  - sorted by offset, tensors neither overlap nor leave gaps, and together cover the data
 *    section exactly (the reference rejects trailing bytes too). */

struct shard {
    char *path;
    int fd;
    uint64_t file_size;
    uint64_t data_start; /* 8 + N */
};

struct meta {
    char *key, *value;
};

struct ov_safetensors {
    ov_st_tensor *tensors; /* (shard, offset) order */
    size_t n_tensors;
    ov_st_tensor **by_name; /* sorted by name */
    struct meta *meta;      /* metadata of all shards, shard 0 first */
    size_t n_meta, n_meta0;
    struct shard *shards;
    int n_shards;
};

static const struct {
    const char *s;
    int dtype;
} k_st_dtypes[] = {
    {"F64", OV_DTYPE_F64},     {"F32", OV_DTYPE_F32},         {"F16", OV_DTYPE_F16},
    {"BF16", OV_DTYPE_BF16},   {"F8_E4M3", OV_DTYPE_F8_E4M3}, {"F8_E5M2", OV_DTYPE_F8_E5M2},
    {"I64", OV_DTYPE_I64},     {"I32", OV_DTYPE_I32},         {"I16", OV_DTYPE_I16},
    {"I8", OV_DTYPE_I8},       {"U8", OV_DTYPE_U8},           {"BOOL", OV_DTYPE_BOOL},
};

const char *ov_st_dtype_string(int dtype)
{
    for (size_t i = 0; i < sizeof k_st_dtypes / sizeof k_st_dtypes[0]; i++)
        if (k_st_dtypes[i].dtype == dtype)
            return k_st_dtypes[i].s;
    return NULL;
}

static int st_dtype_parse(const char *s)
{
    for (size_t i = 0; i < sizeof k_st_dtypes / sizeof k_st_dtypes[0]; i++)
        if (strcmp(k_st_dtypes[i].s, s) == 0)
            return k_st_dtypes[i].dtype;
    return -1;
}

static uint64_t ld_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void ov_st_close(ov_safetensors *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n_tensors; i++)
        free((char *)st->tensors[i].name);
    free(st->tensors);
    free(st->by_name);
    for (size_t i = 0; i < st->n_meta; i++) {
        free(st->meta[i].key);
        free(st->meta[i].value);
    }
    free(st->meta);
    for (int i = 0; i < st->n_shards; i++) {
        if (st->shards[i].fd >= 0)
            close(st->shards[i].fd);
        free(st->shards[i].path);
    }
    free(st->shards);
    free(st);
}

static int cmp_offset(const void *a, const void *b)
{
    const ov_st_tensor *x = a, *y = b;
    if (x->shard != y->shard)
        return x->shard < y->shard ? -1 : 1;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    if (x->n_bytes != y->n_bytes)
        return x->n_bytes < y->n_bytes ? -1 : 1;
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    const ov_st_tensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Parse one JSON integer >= 0 (jansson json_int_t is long long). */
static int json_nonneg(const json_t *v, int64_t *out)
{
    if (!json_is_integer(v))
        return -1;
    json_int_t i = json_integer_value(v);
    if (i < 0)
        return -1;
    *out = (int64_t)i;
    return 0;
}

/* Validate one shard's JSON header (json, n bytes) against its data section of data_size bytes
 * and append its tensors (absolute offsets from data_start) and metadata to st. */
static int parse_header(ov_safetensors *st, int shard, const char *label, const char *json,
                        size_t n, uint64_t data_start, uint64_t data_size, char *err, size_t cap)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fmt_fail(err, cap, OV_EFORMAT, "%s: header is not valid JSON (%s at byte %d)",
                        label, jerr.text, jerr.position);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = fmt_fail(err, cap, OV_EFORMAT, "%s: header is not a JSON object", label);
        goto out;
    }
    size_t count = json_object_size(root);
    if (st->n_tensors + count > OV_ST_MAX_TENSORS) {
        rc = fmt_fail(err, cap, OV_EFORMAT, "%s: more than %u tensors", label, OV_ST_MAX_TENSORS);
        goto out;
    }
    ov_st_tensor *nt = realloc(st->tensors, (st->n_tensors + count + 1) * sizeof *nt);
    if (!nt) {
        rc = fmt_fail(err, cap, OV_ENOMEM, "%s: out of memory", label);
        goto out;
    }
    st->tensors = nt;
    size_t first = st->n_tensors;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(val)) {
                rc = fmt_fail(err, cap, OV_EFORMAT, "%s: __metadata__ is not an object", label);
                goto out;
            }
            size_t mc = json_object_size(val);
            struct meta *nm = realloc(st->meta, (st->n_meta + mc + 1) * sizeof *nm);
            if (!nm) {
                rc = fmt_fail(err, cap, OV_ENOMEM, "%s: out of memory", label);
                goto out;
            }
            st->meta = nm;
            const char *mk;
            json_t *mv;
            json_object_foreach(val, mk, mv)
            {
                if (!json_is_string(mv)) {
                    rc = fmt_fail(err, cap, OV_EFORMAT,
                                  "%s: __metadata__ value for '%.200s' is not a string", label, mk);
                    goto out;
                }
                char *k = strdup(mk), *v = strdup(json_string_value(mv));
                if (!k || !v) {
                    free(k);
                    free(v);
                    rc = fmt_fail(err, cap, OV_ENOMEM, "%s: out of memory", label);
                    goto out;
                }
                st->meta[st->n_meta].key = k;
                st->meta[st->n_meta].value = v;
                st->n_meta++;
                if (shard == 0)
                    st->n_meta0 = st->n_meta;
            }
            continue;
        }
        ov_st_tensor t;
        memset(&t, 0, sizeof t);
        t.shard = shard;
        if (!json_is_object(val)) {
            rc = fmt_fail(err, cap, OV_EFORMAT, "%s: tensor '%.200s': entry is not an object", label, key);
            goto out;
        }
        json_t *jd = json_object_get(val, "dtype"), *js = json_object_get(val, "shape"),
               *jo = json_object_get(val, "data_offsets");
        if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo)) {
            rc = fmt_fail(err, cap, OV_EFORMAT,
                          "%s: tensor '%.200s': needs string dtype, array shape and array data_offsets",
                          label, key);
            goto out;
        }
        t.dtype = st_dtype_parse(json_string_value(jd));
        if (t.dtype < 0) {
            rc = fmt_fail(err, cap, OV_EUNSUPP, "%s: tensor '%.200s': unsupported dtype '%.32s'", label,
                          key, json_string_value(jd));
            goto out;
        }
        size_t nd = json_array_size(js);
        if (nd > OV_ST_MAX_DIMS) {
            rc = fmt_fail(err, cap, OV_EFORMAT, "%s: tensor '%.200s': %zu dimensions (max %d)", label,
                          key, nd, OV_ST_MAX_DIMS);
            goto out;
        }
        t.n_dims = (int)nd;
        int64_t elems = 1;
        for (size_t d = 0; d < nd; d++) {
            if (json_nonneg(json_array_get(js, d), &t.shape[d]) < 0) {
                rc = fmt_fail(err, cap, OV_EFORMAT,
                              "%s: tensor '%.200s': shape[%zu] is not a non-negative integer", label, key, d);
                goto out;
            }
            if (t.shape[d] != 0 && elems > INT64_MAX / 8 / t.shape[d]) {
                rc = fmt_fail(err, cap, OV_EFORMAT, "%s: tensor '%.200s': element count overflows", label,
                              key);
                goto out;
            }
            elems *= t.shape[d];
        }
        t.n_elems = elems;
        uint64_t want = (uint64_t)elems * ov_dtype_block_bytes(t.dtype);
        int64_t begin, end;
        if (json_array_size(jo) != 2 || json_nonneg(json_array_get(jo, 0), &begin) < 0 ||
            json_nonneg(json_array_get(jo, 1), &end) < 0 || end < begin) {
            rc = fmt_fail(err, cap, OV_EFORMAT,
                          "%s: tensor '%.200s': data_offsets must be [begin, end] with 0 <= begin <= end",
                          label, key);
            goto out;
        }
        if ((uint64_t)end > data_size) {
            rc = fmt_fail(err, cap, OV_EFORMAT,
                          "%s: tensor '%.200s': data_offsets end %lld is past the data section (%llu bytes)",
                          label, key, (long long)end, (unsigned long long)data_size);
            goto out;
        }
        if ((uint64_t)(end - begin) != want) {
            rc = fmt_fail(err, cap, OV_EFORMAT,
                          "%s: tensor '%.200s': data_offsets span %lld bytes but %s%s needs %llu", label,
                          key, (long long)(end - begin), json_string_value(jd), " x shape",
                          (unsigned long long)want);
            goto out;
        }
        t.offset = data_start + (uint64_t)begin;
        t.n_bytes = want;
        t.name = strdup(key);
        if (!t.name) {
            rc = fmt_fail(err, cap, OV_ENOMEM, "%s: out of memory", label);
            goto out;
        }
        st->tensors[st->n_tensors++] = t;
    }
    /* Offsets: sorted, no overlap, no gap, cover the data section exactly. */
    qsort(st->tensors + first, st->n_tensors - first, sizeof *st->tensors, cmp_offset);
    uint64_t pos = data_start;
    for (size_t i = first; i < st->n_tensors; i++) {
        const ov_st_tensor *t = &st->tensors[i];
        if (t->offset < pos) {
            rc = fmt_fail(err, cap, OV_EFORMAT, "%s: tensor '%.200s' overlaps the tensor before it (offset %llu)",
                          label, t->name, (unsigned long long)(t->offset - data_start));
            goto out;
        }
        if (t->offset > pos) {
            rc = fmt_fail(err, cap, OV_EFORMAT,
                          "%s: %llu unused bytes before tensor '%.200s' (offset %llu)", label,
                          (unsigned long long)(t->offset - pos), t->name,
                          (unsigned long long)(t->offset - data_start));
            goto out;
        }
        pos = t->offset + t->n_bytes;
    }
    if (pos != data_start + data_size)
        rc = fmt_fail(err, cap, OV_EFORMAT, "%s: tensors cover %llu of the %llu data bytes", label,
                      (unsigned long long)(pos - data_start), (unsigned long long)data_size);
out:
    json_decref(root);
    return rc;
}

/* Checks the 8-byte prefix; on success *n is the header length. */
static int check_prefix(const uint8_t pre[8], uint64_t file_size, const char *label, uint64_t *n,
                        char *err, size_t cap)
{
    uint64_t hn = ld_u64(pre);
    if (hn < 2 || hn > OV_ST_MAX_HEADER)
        return fmt_fail(err, cap, OV_EFORMAT, "%s: header length %llu is not plausible (2..%llu)", label,
                        (unsigned long long)hn, (unsigned long long)OV_ST_MAX_HEADER);
    if (hn > file_size - 8)
        return fmt_fail(err, cap, OV_EFORMAT,
                        "%s: header length %llu runs past the end of the file (%llu bytes): truncated?",
                        label, (unsigned long long)hn, (unsigned long long)file_size);
    *n = hn;
    return 0;
}

static int build_name_index(ov_safetensors *st, char *err, size_t cap, const char *label)
{
    st->by_name = malloc((st->n_tensors + 1) * sizeof *st->by_name);
    if (!st->by_name)
        return fmt_fail(err, cap, OV_ENOMEM, "%s: out of memory", label);
    for (size_t i = 0; i < st->n_tensors; i++)
        st->by_name[i] = &st->tensors[i];
    qsort(st->by_name, st->n_tensors, sizeof *st->by_name, cmp_name);
    for (size_t i = 1; i < st->n_tensors; i++)
        if (strcmp(st->by_name[i]->name, st->by_name[i - 1]->name) == 0)
            return fmt_fail(err, cap, OV_EFORMAT, "%s: tensor '%.200s' appears in two shards (%s, %s)",
                            label, st->by_name[i]->name, st->shards[st->by_name[i - 1]->shard].path,
                            st->shards[st->by_name[i]->shard].path);
    return 0;
}

int ov_st_parse(const void *image, size_t len, const char *label, ov_safetensors **out, char *err,
                size_t err_cap)
{
    *out = NULL;
    if (!label)
        label = "(memory)";
    if (!image || len < 8)
        return fmt_fail(err, err_cap, OV_EFORMAT, "%s: %zu bytes is too short for a safetensors file",
                        label, len);
    uint64_t hn = 0;
    int rc = check_prefix(image, len, label, &hn, err, err_cap);
    if (rc)
        return rc;
    ov_safetensors *st = calloc(1, sizeof *st);
    if (!st)
        return OV_ENOMEM;
    rc = parse_header(st, 0, label, (const char *)image + 8, hn, 8 + hn, len - 8 - hn, err, err_cap);
    if (!rc)
        rc = build_name_index(st, err, err_cap, label);
    if (rc) {
        ov_st_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

/* pread exactly n bytes at off; OV_EIO on error, OV_EFORMAT on a short file. */
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

/* Open shard file `path` as shard index `shard` of st and parse its header. */
static int open_shard(ov_safetensors *st, const char *path, char *err, size_t cap)
{
    struct shard *ns = realloc(st->shards, (size_t)(st->n_shards + 1) * sizeof *ns);
    if (!ns)
        return fmt_fail(err, cap, OV_ENOMEM, "%s: out of memory", path);
    st->shards = ns;
    struct shard *sh = &st->shards[st->n_shards];
    memset(sh, 0, sizeof *sh);
    sh->fd = -1;
    sh->path = strdup(path);
    if (!sh->path)
        return fmt_fail(err, cap, OV_ENOMEM, "%s: out of memory", path);
    int shard = st->n_shards++;
    sh->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (sh->fd < 0)
        return fmt_fail(err, cap, errno == ENOENT ? OV_ENOENT : OV_EIO, "%s: cannot open: %s", path,
                        strerror(errno));
    struct stat sb;
    if (fstat(sh->fd, &sb) < 0 || !S_ISREG(sb.st_mode))
        return fmt_fail(err, cap, OV_EIO, "%s: not a regular file", path);
    sh->file_size = (uint64_t)sb.st_size;
    if (sh->file_size < 8)
        return fmt_fail(err, cap, OV_EFORMAT, "%s: %llu bytes is too short for a safetensors file", path,
                        (unsigned long long)sh->file_size);
    uint8_t pre[8];
    if (pread_full(sh->fd, pre, 8, 0))
        return fmt_fail(err, cap, OV_EIO, "%s: cannot read the header length", path);
    uint64_t hn = 0;
    int rc = check_prefix(pre, sh->file_size, path, &hn, err, cap);
    if (rc)
        return rc;
    char *json = malloc(hn);
    if (!json)
        return fmt_fail(err, cap, OV_ENOMEM, "%s: cannot allocate %llu header bytes", path,
                        (unsigned long long)hn);
    rc = pread_full(sh->fd, json, hn, 8);
    if (rc) {
        free(json);
        return fmt_fail(err, cap, rc, "%s: cannot read the %llu-byte header", path, (unsigned long long)hn);
    }
    sh->data_start = 8 + hn;
    rc = parse_header(st, shard, path, json, hn, 8 + hn, sh->file_size - 8 - hn, err, cap);
    free(json);
    return rc;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* A shard name from an index file must be a plain file name in the same folder. */
static int shard_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    return strchr(s, '/') == NULL && strchr(s, '\\') == NULL;
}

static int dir_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return snprintf(dir, cap, ".") < (int)cap ? 0 : -1;
    size_t n = (size_t)(slash - path);
    if (n == 0)
        n = 1;
    if (n >= cap)
        return -1;
    memcpy(dir, path, n);
    dir[n] = 0;
    return 0;
}

/* Read and check an index.json, then open every shard it names. */
static int open_index(ov_safetensors *st, const char *index_path, char *err, size_t cap)
{
    char dir[4096];
    if (dir_of(index_path, dir, sizeof dir) < 0)
        return fmt_fail(err, cap, OV_EINVAL, "%s: path too long", index_path);
    json_error_t jerr;
    FILE *f = fopen(index_path, "rb");
    if (!f)
        return fmt_fail(err, cap, errno == ENOENT ? OV_ENOENT : OV_EIO, "%s: cannot open: %s", index_path,
                        strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) < 0 || (uint64_t)sb.st_size > OV_ST_MAX_INDEX) {
        fclose(f);
        return fmt_fail(err, cap, OV_EFORMAT, "%s: index file is larger than %llu bytes", index_path,
                        (unsigned long long)OV_ST_MAX_INDEX);
    }
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    fclose(f);
    if (!root)
        return fmt_fail(err, cap, OV_EFORMAT, "%s: not valid JSON (%s, line %d)", index_path, jerr.text,
                        jerr.line);
    int rc = 0;
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(wm)) {
        rc = fmt_fail(err, cap, OV_EFORMAT, "%s: no weight_map object", index_path);
        goto out;
    }
    /* Distinct shard names, in first-seen order. */
    const char *names[OV_ST_MAX_SHARDS];
    int n_names = 0;
    const char *key;
    json_t *val;
    json_object_foreach(wm, key, val)
    {
        if (!json_is_string(val) || !shard_name_ok(json_string_value(val))) {
            rc = fmt_fail(err, cap, OV_EFORMAT,
                          "%s: weight_map['%.200s'] must be a plain file name in the same folder", index_path,
                          key);
            goto out;
        }
        const char *sn = json_string_value(val);
        int found = 0;
        for (int i = 0; i < n_names && !found; i++)
            found = strcmp(names[i], sn) == 0;
        if (!found) {
            if (n_names == OV_ST_MAX_SHARDS) {
                rc = fmt_fail(err, cap, OV_EFORMAT, "%s: more than %d shards", index_path, OV_ST_MAX_SHARDS);
                goto out;
            }
            names[n_names++] = sn;
        }
    }
    if (n_names == 0) {
        rc = fmt_fail(err, cap, OV_EFORMAT, "%s: weight_map is empty", index_path);
        goto out;
    }
    for (int i = 0; i < n_names && !rc; i++) {
        char path[4096 + 260];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (access(path, F_OK) != 0) {
            rc = fmt_fail(err, cap, OV_ENOENT, "%s: shard '%s' named in the weight_map is missing (%s)",
                          index_path, names[i], path);
            break;
        }
        rc = open_shard(st, path, err, cap);
    }
    if (rc)
        goto out;
    rc = build_name_index(st, err, cap, index_path);
    if (rc)
        goto out;
    /* Every weight_map entry must be in the shard it names. */
    json_object_foreach(wm, key, val)
    {
        const ov_st_tensor *t = ov_st_find(st, key);
        const char *sn = json_string_value(val);
        if (!t) {
            rc = fmt_fail(err, cap, OV_ENOENT, "%s: tensor '%.200s' is in the weight_map but not in %s",
                          index_path, key, sn);
            goto out;
        }
        if (!ends_with(st->shards[t->shard].path, sn) ||
            st->shards[t->shard].path[strlen(st->shards[t->shard].path) - strlen(sn) - 1] != '/') {
            rc = fmt_fail(err, cap, OV_EFORMAT, "%s: tensor '%.200s' is mapped to %s but found in %s",
                          index_path, key, sn, st->shards[t->shard].path);
            goto out;
        }
    }
out:
    json_decref(root);
    return rc;
}

/* Find the single entry of dir ending in suffix; 1 found (path written), 0 none, -1 several. */
static int find_one(const char *dir, const char *suffix, char *path, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, suffix))
            continue;
        if (++found == 1)
            snprintf(path, cap, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    return found > 1 ? -1 : found;
}

int ov_st_open(const char *path, ov_safetensors **out, char *err, size_t err_cap)
{
    *out = NULL;
    if (!path)
        return OV_EINVAL;
    ov_safetensors *st = calloc(1, sizeof *st);
    if (!st)
        return OV_ENOMEM;
    int rc;
    struct stat sb;
    if (stat(path, &sb) < 0) {
        rc = fmt_fail(err, err_cap, errno == ENOENT ? OV_ENOENT : OV_EIO, "%s: %s", path, strerror(errno));
    } else if (S_ISDIR(sb.st_mode)) {
        char p[4096 + 260];
        int k = find_one(path, ".safetensors.index.json", p, sizeof p);
        if (k == 1) {
            rc = open_index(st, p, err, err_cap);
        } else if (k < 0) {
            rc = fmt_fail(err, err_cap, OV_EINVAL, "%s: several *.safetensors.index.json; name one", path);
        } else {
            k = find_one(path, ".safetensors", p, sizeof p);
            if (k == 1) {
                rc = open_shard(st, p, err, err_cap);
                if (!rc)
                    rc = build_name_index(st, err, err_cap, p);
            } else {
                rc = fmt_fail(err, err_cap, k < 0 ? OV_EINVAL : OV_ENOENT,
                              "%s: %s *.safetensors file and no index.json", path, k < 0 ? "more than one" : "no");
            }
        }
    } else if (ends_with(path, ".json")) {
        rc = open_index(st, path, err, err_cap);
    } else {
        rc = open_shard(st, path, err, err_cap);
        if (!rc)
            rc = build_name_index(st, err, err_cap, path);
    }
    if (rc) {
        ov_st_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

size_t ov_st_count(const ov_safetensors *st)
{
    return st->n_tensors;
}

const ov_st_tensor *ov_st_at(const ov_safetensors *st, size_t i)
{
    return i < st->n_tensors ? &st->tensors[i] : NULL;
}

const ov_st_tensor *ov_st_find(const ov_safetensors *st, const char *name)
{
    size_t lo = 0, hi = st->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->by_name[mid]->name, name);
        if (c == 0)
            return st->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *ov_st_meta(const ov_safetensors *st, const char *key)
{
    for (size_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta[i].key, key) == 0)
            return st->meta[i].value;
    return NULL;
}

size_t ov_st_meta_count(const ov_safetensors *st)
{
    return st->n_meta0;
}

void ov_st_meta_at(const ov_safetensors *st, size_t i, const char **key, const char **value)
{
    *key = i < st->n_meta0 ? st->meta[i].key : NULL;
    *value = i < st->n_meta0 ? st->meta[i].value : NULL;
}

int ov_st_shard_count(const ov_safetensors *st)
{
    return st->n_shards;
}

const char *ov_st_shard_path(const ov_safetensors *st, int shard)
{
    return shard >= 0 && shard < st->n_shards ? st->shards[shard].path : NULL;
}

int ov_st_shard_fd(const ov_safetensors *st, int shard)
{
    return shard >= 0 && shard < st->n_shards ? st->shards[shard].fd : -1;
}

int ov_st_read(const ov_safetensors *st, const ov_st_tensor *t, void *dst, size_t dst_cap, char *err,
               size_t err_cap)
{
    if (!t || t->shard >= st->n_shards)
        return fmt_fail(err, err_cap, OV_EINVAL, "safetensors: no file behind this index");
    const struct shard *sh = &st->shards[t->shard];
    if (dst_cap < t->n_bytes)
        return fmt_fail(err, err_cap, OV_ERANGE, "%s: tensor '%.200s' needs %llu bytes, buffer has %zu",
                        sh->path, t->name, (unsigned long long)t->n_bytes, dst_cap);
    int rc = pread_full(sh->fd, dst, t->n_bytes, t->offset);
    if (rc == OV_EFORMAT)
        return fmt_fail(err, err_cap, OV_EFORMAT, "%s: file ended inside tensor '%.200s' (did it shrink?)",
                        sh->path, t->name);
    if (rc)
        return fmt_fail(err, err_cap, rc, "%s: reading tensor '%.200s': %s", sh->path, t->name,
                        strerror(errno));
    return 0;
}

/* ---- writer ---- */

struct ov_st_writer {
    int fd;
    char *path;
    uint64_t expect, written;
};

static int write_full(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t r = write(fd, b, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return OV_EIO;
        }
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

void ov_st_writer_abort(ov_st_writer *w)
{
    if (!w)
        return;
    close(w->fd);
    unlink(w->path);
    free(w->path);
    free(w);
}

int ov_st_writer_begin(const char *path, const ov_st_wtensor *tensors, size_t n, const char *const *meta_kv,
                       size_t n_meta, ov_st_writer **out, char *err, size_t err_cap)
{
    *out = NULL;
    json_t *root = json_object();
    if (!root)
        return OV_ENOMEM;
    int rc = 0;
    uint64_t off = 0;
    if (n_meta) {
        json_t *m = json_object();
        json_object_set_new(root, "__metadata__", m);
        for (size_t i = 0; i < n_meta; i++)
            json_object_set_new(m, meta_kv[2 * i], json_string(meta_kv[2 * i + 1]));
    }
    for (size_t i = 0; i < n && !rc; i++) {
        const ov_st_wtensor *t = &tensors[i];
        const char *ds = ov_st_dtype_string(t->dtype);
        if (!ds || !t->name || t->n_dims < 0 || t->n_dims > OV_ST_MAX_DIMS || strcmp(t->name, "__metadata__") == 0) {
            rc = fmt_fail(err, err_cap, OV_EINVAL, "%s: tensor %zu ('%s'): bad name, dtype or rank", path, i,
                          t->name ? t->name : "?");
            break;
        }
        if (json_object_get(root, t->name)) {
            rc = fmt_fail(err, err_cap, OV_EINVAL, "%s: tensor '%s' given twice", path, t->name);
            break;
        }
        int64_t elems = 1;
        json_t *shape = json_array();
        for (int d = 0; d < t->n_dims; d++) {
            if (t->shape[d] < 0 || (t->shape[d] && elems > INT64_MAX / 8 / t->shape[d]))
                rc = fmt_fail(err, err_cap, OV_EINVAL, "%s: tensor '%s': bad shape", path, t->name);
            else
                elems *= t->shape[d];
            json_array_append_new(shape, json_integer(t->shape[d]));
        }
        uint64_t nb = (uint64_t)elems * ov_dtype_block_bytes(t->dtype);
        json_t *e = json_object();
        json_object_set_new(e, "dtype", json_string(ds));
        json_object_set_new(e, "shape", shape);
        json_t *offs = json_array();
        json_array_append_new(offs, json_integer((json_int_t)off));
        json_array_append_new(offs, json_integer((json_int_t)(off + nb)));
        json_object_set_new(e, "data_offsets", offs);
        json_object_set_new(root, t->name, e);
        off += nb;
    }
    char *hdr = rc ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc)
        return rc;
    if (!hdr)
        return fmt_fail(err, err_cap, OV_ENOMEM, "%s: cannot render the header", path);
    size_t hl = strlen(hdr), pad = (8 - hl % 8) % 8;
    ov_st_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        free(hdr);
        return OV_ENOMEM;
    }
    w->expect = off;
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        rc = fmt_fail(err, err_cap, OV_EIO, "%s: cannot create: %s", path, strerror(errno));
        free(w->path);
        free(w);
        free(hdr);
        return rc;
    }
    uint8_t pre[8];
    uint64_t total = hl + pad;
    for (int i = 0; i < 8; i++)
        pre[i] = (uint8_t)(total >> (8 * i));
    rc = write_full(w->fd, pre, 8);
    if (!rc)
        rc = write_full(w->fd, hdr, hl);
    if (!rc)
        rc = write_full(w->fd, "        ", pad);
    free(hdr);
    if (rc) {
        ov_st_writer_abort(w);
        return fmt_fail(err, err_cap, rc, "%s: write failed: %s", path, strerror(errno));
    }
    *out = w;
    return 0;
}

int ov_st_writer_data(ov_st_writer *w, const void *bytes, size_t n)
{
    if (n > w->expect - w->written)
        return OV_ERANGE;
    int rc = write_full(w->fd, bytes, n);
    if (!rc)
        w->written += n;
    return rc;
}

int ov_st_writer_finish(ov_st_writer *w, char *err, size_t err_cap)
{
    int rc = 0;
    if (w->written != w->expect)
        rc = fmt_fail(err, err_cap, OV_EINVAL, "%s: %llu data bytes written, header promises %llu", w->path,
                      (unsigned long long)w->written, (unsigned long long)w->expect);
    else if (fsync(w->fd) < 0 && errno != EINVAL)
        rc = fmt_fail(err, err_cap, OV_EIO, "%s: fsync: %s", w->path, strerror(errno));
    if (rc) {
        ov_st_writer_abort(w);
        return rc;
    }
    if (close(w->fd) < 0)
        rc = fmt_fail(err, err_cap, OV_EIO, "%s: close: %s", w->path, strerror(errno));
    free(w->path);
    free(w);
    return rc;
}

int ov_st_write(const char *path, const ov_st_wtensor *tensors, size_t n, const char *const *meta_kv,
                size_t n_meta, char *err, size_t err_cap)
{
    ov_st_writer *w;
    int rc = ov_st_writer_begin(path, tensors, n, meta_kv, n_meta, &w, err, err_cap);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        int64_t elems = 1;
        for (int d = 0; d < tensors[i].n_dims; d++)
            elems *= tensors[i].shape[d];
        size_t nb = (size_t)elems * ov_dtype_block_bytes(tensors[i].dtype);
        if (nb && !tensors[i].data) {
            ov_st_writer_abort(w);
            return fmt_fail(err, err_cap, OV_EINVAL, "%s: tensor '%s' has no data", path, tensors[i].name);
        }
        rc = ov_st_writer_data(w, tensors[i].data, nb);
        if (rc) {
            ov_st_writer_abort(w);
            return fmt_fail(err, err_cap, rc, "%s: write failed: %s", path, strerror(errno));
        }
    }
    return ov_st_writer_finish(w, err, err_cap);
}

int ov_st_write_index(const char *path, const char *const *names, const char *const *shard_files, size_t n,
                      uint64_t total_size, char *err, size_t err_cap)
{
    json_t *root = json_object(), *meta = json_object(), *wm = json_object();
    json_object_set_new(meta, "total_size", json_integer((json_int_t)total_size));
    json_object_set_new(root, "metadata", meta);
    for (size_t i = 0; i < n; i++)
        json_object_set_new(wm, names[i], json_string(shard_files[i]));
    json_object_set_new(root, "weight_map", wm);
    int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc)
        return fmt_fail(err, err_cap, OV_EIO, "%s: cannot write the index", path);
    return 0;
}
