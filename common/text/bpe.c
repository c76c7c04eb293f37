/* Byte-level BPE core: vocab/merge tables, the ranked merge loop, specials, streaming decode. */
#include "common/text/bpe.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/text/utf8.h"

/* ---------- id arrays ---------- */

void ov_tok_ids_init(ov_tok_ids *ids, size_t max_ids)
{
    ids->v = NULL;
    ids->len = ids->cap = 0;
    ids->max = max_ids;
}

void ov_tok_ids_free(ov_tok_ids *ids)
{
    free(ids->v);
    ids->v = NULL;
    ids->len = ids->cap = 0;
}

void ov_tok_ids_reset(ov_tok_ids *ids)
{
    ids->len = 0;
}

int ov_tok_ids_push(ov_tok_ids *ids, int32_t id)
{
    if (ids->len >= ids->max)
        return OV_ENOMEM;
    if (ids->len == ids->cap) {
        size_t nc = ids->cap ? ids->cap * 2 : 64;
        if (nc > ids->max)
            nc = ids->max;
        int32_t *nv = realloc(ids->v, nc * sizeof *nv);
        if (!nv)
            return OV_ENOMEM;
        ids->v = nv;
        ids->cap = nc;
    }
    ids->v[ids->len++] = id;
    return 0;
}

/* ---------- GPT-2 byte map ---------- */

static int byte_is_self(unsigned b)
{
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
}

uint32_t ov_bpe_byte_to_cp(uint8_t b)
{
    if (byte_is_self(b))
        return b;
    unsigned n = 0;
    for (unsigned i = 0; i < b; i++)
        if (!byte_is_self(i))
            n++;
    return 256 + n;
}

int ov_bpe_cp_to_byte(uint32_t cp)
{
    if (cp < 256)
        return byte_is_self(cp) ? (int)cp : -1;
    if (cp >= 256 + 68)
        return -1;
    unsigned n = cp - 256;
    for (unsigned i = 0; i < 256; i++)
        if (!byte_is_self(i) && n-- == 0)
            return (int)i;
    return -1;
}

/* ---------- arena of bytes ---------- */

typedef struct arena {
    uint8_t *p;
    size_t len, cap;
} arena;

#define ARENA_MAX ((size_t)1 << 30)

static int arena_put(arena *a, const void *s, size_t n, uint32_t *off)
{
    if (a->len + n > ARENA_MAX)
        return OV_ENOMEM;
    if (a->len + n > a->cap) {
        size_t nc = a->cap ? a->cap : 4096;
        while (nc < a->len + n)
            nc *= 2;
        uint8_t *np = realloc(a->p, nc);
        if (!np)
            return OV_ENOMEM;
        a->p = np;
        a->cap = nc;
    }
    if (n)
        memcpy(a->p + a->len, s, n);
    *off = (uint32_t)a->len;
    a->len += n;
    return 0;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* ---------- the model ---------- */

typedef struct tok_entry {
    uint32_t str_off, str_len; /* byte-level form (or raw text for added tokens) */
    uint32_t dec_off, dec_len; /* decoded bytes */
    uint8_t present, special, added;
} tok_entry;

typedef struct merge_slot {
    uint64_t key; /* (left << 32 | right) + 1; 0 = empty */
    int32_t rank, new_id;
} merge_slot;

typedef struct special_ref {
    uint32_t off, len;
    int32_t id;
} special_ref;

typedef struct cache_slot {
    uint64_t h; /* 0 = empty */
    uint32_t w_off, w_len, ids_off, ids_len;
} cache_slot;

struct ov_bpe {
    char eow[16];
    size_t eow_len;
    tok_entry *tok;
    size_t tok_cap, n_ids; /* n_ids = max id + 1 */
    arena str, dec;
    int32_t *str_tab; /* open addressing over ids, -1 empty */
    size_t str_tab_cap, str_count;
    merge_slot *mtab;
    size_t mtab_cap, n_merges;
    special_ref *spec;
    size_t n_spec, spec_cap;
    uint8_t spec_first[256];
    int32_t byte_sym[256], byte_eow_sym[256];
    int finished;
    pthread_mutex_t cache_mu;
    cache_slot *cache;
    arena cache_words, cache_ids;
    size_t cache_count;
};

int ov_bpe_create(ov_bpe **out, const char *eow_suffix)
{
    ov_bpe *b = calloc(1, sizeof *b);
    if (!b)
        return OV_ENOMEM;
    if (eow_suffix) {
        b->eow_len = strlen(eow_suffix);
        if (b->eow_len >= sizeof b->eow) {
            free(b);
            return OV_EINVAL;
        }
        memcpy(b->eow, eow_suffix, b->eow_len);
    }
    pthread_mutex_init(&b->cache_mu, NULL);
    *out = b;
    return 0;
}

void ov_bpe_free(ov_bpe *b)
{
    if (!b)
        return;
    free(b->tok);
    free(b->str.p);
    free(b->dec.p);
    free(b->str_tab);
    free(b->mtab);
    free(b->spec);
    free(b->cache);
    free(b->cache_words.p);
    free(b->cache_ids.p);
    pthread_mutex_destroy(&b->cache_mu);
    free(b);
}

static int32_t str_find(const ov_bpe *b, const uint8_t *s, size_t n)
{
    if (!b->str_tab_cap)
        return -1;
    size_t mask = b->str_tab_cap - 1;
    for (size_t i = hash_bytes(s, n) & mask;; i = (i + 1) & mask) {
        int32_t id = b->str_tab[i];
        if (id < 0)
            return -1;
        const tok_entry *e = &b->tok[id];
        if (e->str_len == n && memcmp(b->str.p + e->str_off, s, n) == 0)
            return id;
    }
}

static int str_insert(ov_bpe *b, int32_t id)
{
    if ((b->str_count + 1) * 2 > b->str_tab_cap) {
        size_t nc = b->str_tab_cap ? b->str_tab_cap * 2 : 1024;
        int32_t *nt = malloc(nc * sizeof *nt);
        if (!nt)
            return OV_ENOMEM;
        for (size_t i = 0; i < nc; i++)
            nt[i] = -1;
        for (size_t i = 0; i < b->str_tab_cap; i++) {
            int32_t x = b->str_tab[i];
            if (x < 0)
                continue;
            const tok_entry *e = &b->tok[x];
            size_t j = hash_bytes(b->str.p + e->str_off, e->str_len) & (nc - 1);
            while (nt[j] >= 0)
                j = (j + 1) & (nc - 1);
            nt[j] = x;
        }
        free(b->str_tab);
        b->str_tab = nt;
        b->str_tab_cap = nc;
    }
    const tok_entry *e = &b->tok[id];
    size_t mask = b->str_tab_cap - 1;
    size_t j = hash_bytes(b->str.p + e->str_off, e->str_len) & mask;
    while (b->str_tab[j] >= 0)
        j = (j + 1) & mask;
    b->str_tab[j] = id;
    b->str_count++;
    return 0;
}

static int tok_reserve(ov_bpe *b, int32_t id)
{
    if (id < 0 || (uint32_t)id >= OV_BPE_MAX_VOCAB)
        return OV_EINVAL;
    if ((size_t)id >= b->tok_cap) {
        size_t nc = b->tok_cap ? b->tok_cap : 1024;
        while (nc <= (size_t)id)
            nc *= 2;
        tok_entry *nt = realloc(b->tok, nc * sizeof *nt);
        if (!nt)
            return OV_ENOMEM;
        memset(nt + b->tok_cap, 0, (nc - b->tok_cap) * sizeof *nt);
        b->tok = nt;
        b->tok_cap = nc;
    }
    return 0;
}

/* Byte-level form -> decoded bytes (into a small buffer). -1 when a char is not in the map. */
static int decode_symbol(const ov_bpe *b, const uint8_t *s, size_t n, uint8_t *out, size_t *out_n)
{
    size_t o = 0, i = 0;
    int eow = 0;
    if (b->eow_len && n >= b->eow_len && memcmp(s + n - b->eow_len, b->eow, b->eow_len) == 0) {
        n -= b->eow_len;
        eow = 1;
    }
    while (i < n) {
        uint32_t cp;
        size_t k = ov_utf8_decode1(s + i, n - i, &cp);
        if (k == 0)
            return -1;
        int byte = ov_bpe_cp_to_byte(cp);
        if (byte < 0)
            return -1;
        out[o++] = (uint8_t)byte;
        i += k;
    }
    if (eow)
        out[o++] = ' ';
    *out_n = o;
    return 0;
}

static int add_entry(ov_bpe *b, const uint8_t *s, size_t n, const uint8_t *dec, size_t dn, int32_t id,
                     int added, int special)
{
    int rc = tok_reserve(b, id);
    if (rc)
        return rc;
    tok_entry *e = &b->tok[id];
    if (e->present)
        return OV_EINVAL;
    tok_entry ne = {0};
    if ((rc = arena_put(&b->str, s, n, &ne.str_off)) || (rc = arena_put(&b->dec, dec, dn, &ne.dec_off)))
        return rc;
    ne.str_len = (uint32_t)n;
    ne.dec_len = (uint32_t)dn;
    ne.present = 1;
    ne.added = (uint8_t)added;
    ne.special = (uint8_t)special;
    b->tok[id] = ne;
    if ((rc = str_insert(b, id))) {
        b->tok[id].present = 0;
        return rc;
    }
    if ((size_t)id + 1 > b->n_ids)
        b->n_ids = (size_t)id + 1;
    return 0;
}

int ov_bpe_add_token(ov_bpe *b, const char *tok, size_t n, int32_t id)
{
    if (!b || !tok || n == 0 || n > OV_BPE_MAX_TOKEN_BYTES || b->finished)
        return OV_EINVAL;
    if (str_find(b, (const uint8_t *)tok, n) >= 0)
        return OV_EINVAL;
    uint8_t dec[OV_BPE_MAX_TOKEN_BYTES + 1];
    size_t dn;
    if (decode_symbol(b, (const uint8_t *)tok, n, dec, &dn) < 0)
        return OV_EINVAL;
    return add_entry(b, (const uint8_t *)tok, n, dec, dn, id, 0, 0);
}

static merge_slot *merge_find(const ov_bpe *b, int32_t l, int32_t r)
{
    if (!b->mtab_cap)
        return NULL;
    uint64_t key = (((uint64_t)(uint32_t)l << 32) | (uint32_t)r) + 1;
    size_t mask = b->mtab_cap - 1;
    for (size_t i = hash_u64(key) & mask;; i = (i + 1) & mask) {
        if (b->mtab[i].key == key)
            return &b->mtab[i];
        if (b->mtab[i].key == 0)
            return NULL;
    }
}

static int merge_insert(ov_bpe *b, uint64_t key, int32_t rank, int32_t new_id)
{
    if ((b->n_merges + 1) * 2 > b->mtab_cap) {
        size_t nc = b->mtab_cap ? b->mtab_cap * 2 : 1024;
        merge_slot *nt = calloc(nc, sizeof *nt);
        if (!nt)
            return OV_ENOMEM;
        for (size_t i = 0; i < b->mtab_cap; i++) {
            if (!b->mtab[i].key)
                continue;
            size_t j = hash_u64(b->mtab[i].key) & (nc - 1);
            while (nt[j].key)
                j = (j + 1) & (nc - 1);
            nt[j] = b->mtab[i];
        }
        free(b->mtab);
        b->mtab = nt;
        b->mtab_cap = nc;
    }
    size_t mask = b->mtab_cap - 1;
    size_t j = hash_u64(key) & mask;
    while (b->mtab[j].key) {
        if (b->mtab[j].key == key)
            return 0; /* duplicate merge: the first (lowest) rank wins, as in HF */
        j = (j + 1) & mask;
    }
    b->mtab[j].key = key;
    b->mtab[j].rank = rank;
    b->mtab[j].new_id = new_id;
    b->n_merges++;
    return 0;
}

int ov_bpe_add_merge(ov_bpe *b, const char *left, size_t ln, const char *right, size_t rn)
{
    if (!b || !left || !right || b->finished || ln + rn > OV_BPE_MAX_TOKEN_BYTES)
        return OV_EINVAL;
    int32_t l = str_find(b, (const uint8_t *)left, ln), r = str_find(b, (const uint8_t *)right, rn);
    if (l < 0 || r < 0)
        return OV_EFORMAT;
    char cat[2 * OV_BPE_MAX_TOKEN_BYTES];
    memcpy(cat, left, ln);
    memcpy(cat + ln, right, rn);
    int32_t m = str_find(b, (const uint8_t *)cat, ln + rn);
    if (m < 0)
        return OV_EFORMAT;
    uint64_t key = (((uint64_t)(uint32_t)l << 32) | (uint32_t)r) + 1;
    return merge_insert(b, key, (int32_t)b->n_merges, m);
}

int ov_bpe_add_special(ov_bpe *b, const char *text, size_t n, int32_t id, int special)
{
    if (!b || !text || n == 0 || n > OV_BPE_MAX_TOKEN_BYTES || b->finished)
        return OV_EINVAL;
    int32_t have = str_find(b, (const uint8_t *)text, n);
    int rc;
    if (have >= 0) {
        if (have != id)
            return OV_EINVAL;
        b->tok[id].added = 1;
        b->tok[id].special = (uint8_t)special;
        /* decode of an added token is its raw text */
        if ((rc = arena_put(&b->dec, text, n, &b->tok[id].dec_off)))
            return rc;
        b->tok[id].dec_len = (uint32_t)n;
    } else if ((rc = add_entry(b, (const uint8_t *)text, n, (const uint8_t *)text, n, id, 1, special))) {
        return rc;
    }
    if (b->n_spec == b->spec_cap) {
        size_t nc = b->spec_cap ? b->spec_cap * 2 : 32;
        special_ref *ns = realloc(b->spec, nc * sizeof *ns);
        if (!ns)
            return OV_ENOMEM;
        b->spec = ns;
        b->spec_cap = nc;
    }
    b->spec[b->n_spec++] = (special_ref){b->tok[id].dec_off, (uint32_t)n, id};
    b->spec_first[(uint8_t)text[0]] = 1;
    return 0;
}

static int spec_cmp(const void *a, const void *c)
{
    const special_ref *x = a, *y = c;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1; /* longest first */
    return x->id < y->id ? -1 : (x->id > y->id);
}

int ov_bpe_finish(ov_bpe *b)
{
    if (!b || b->finished)
        return OV_EINVAL;
    for (unsigned i = 0; i < 256; i++) {
        uint8_t s[8 + 16];
        size_t n = ov_utf8_encode1(ov_bpe_byte_to_cp((uint8_t)i), s);
        b->byte_sym[i] = str_find(b, s, n);
        b->byte_eow_sym[i] = -1;
        if (b->eow_len) {
            memcpy(s + n, b->eow, b->eow_len);
            b->byte_eow_sym[i] = str_find(b, s, n + b->eow_len);
        }
    }
    /* Added tokens must be matched longest first (HF AddedVocabulary: leftmost-longest). */
    if (b->n_spec)
        qsort(b->spec, b->n_spec, sizeof *b->spec, spec_cmp);
    b->cache = calloc(OV_BPE_CACHE_ENTRIES * 2, sizeof *b->cache);
    if (!b->cache)
        return OV_ENOMEM;
    b->finished = 1;
    return 0;
}

int32_t ov_bpe_token_id(const ov_bpe *b, const char *tok, size_t n)
{
    if (!b || !tok)
        return -1;
    return str_find(b, (const uint8_t *)tok, n);
}

size_t ov_bpe_vocab_size(const ov_bpe *b)
{
    return b ? b->n_ids : 0;
}
size_t ov_bpe_merge_count(const ov_bpe *b)
{
    return b ? b->n_merges : 0;
}

int ov_bpe_token_bytes(const ov_bpe *b, int32_t id, const uint8_t **bytes, size_t *n, int *is_special)
{
    if (!b || id < 0 || (size_t)id >= b->n_ids || !b->tok[id].present)
        return OV_ENOENT;
    const tok_entry *e = &b->tok[id];
    *bytes = b->dec.p + e->dec_off;
    *n = e->dec_len;
    if (is_special)
        *is_special = e->special;
    return 0;
}

size_t ov_bpe_match_special(const ov_bpe *b, const uint8_t *p, size_t n, int32_t *id)
{
    if (!b->n_spec || n == 0 || !b->spec_first[p[0]])
        return 0;
    for (size_t i = 0; i < b->n_spec; i++) {
        const special_ref *s = &b->spec[i];
        if (s->len <= n && memcmp(b->dec.p + s->off, p, s->len) == 0) {
            *id = s->id;
            return s->len;
        }
    }
    return 0;
}

/* ---------- merge loop (HF tokenizers word.rs: heap of (rank, pos), lazy invalidation) ---------- */

typedef struct sym {
    int32_t id;
    int32_t prev, next;
    uint32_t alive;
} sym;

typedef struct hitem {
    int32_t rank, pos, new_id;
} hitem;

static int hless(const hitem *a, const hitem *c)
{
    return a->rank < c->rank || (a->rank == c->rank && a->pos < c->pos);
}

static void hpush(hitem *h, size_t *n, hitem x)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hless(&x, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static hitem hpop(hitem *h, size_t *n)
{
    hitem top = h[0], x = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const hitem *best = &x;
        if (l < *n && hless(&h[l], best)) {
            m = l;
            best = &h[l];
        }
        if (r < *n && hless(&h[r], best))
            m = r;
        if (m == i)
            break;
        h[i] = h[m];
        i = m;
    }
    h[i] = x;
    return top;
}

static int merge_word(const ov_bpe *b, const uint8_t *w, size_t n, ov_tok_ids *out)
{
    sym sbuf[64];
    hitem hbuf[3 * 64];
    sym *s = sbuf;
    hitem *h = hbuf;
    int rc = 0;
    if (n > 64) {
        s = malloc(n * sizeof *s);
        h = malloc(3 * n * sizeof *h);
        if (!s || !h) {
            rc = OV_ENOMEM;
            goto done;
        }
    }
    for (size_t i = 0; i < n; i++) {
        int32_t id = (i + 1 == n && b->eow_len) ? b->byte_eow_sym[w[i]] : b->byte_sym[w[i]];
        if (id < 0) {
            rc = OV_EFORMAT;
            goto done;
        }
        s[i] = (sym){id, (int32_t)i - 1, i + 1 < n ? (int32_t)i + 1 : -1, 1};
    }
    /* n-1 initial pairs + at most 2 pushes per merge (n-1 merges): 3n bounds the heap. */
    size_t hn = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        const merge_slot *m = merge_find(b, s[i].id, s[i + 1].id);
        if (m)
            hpush(h, &hn, (hitem){m->rank, (int32_t)i, m->new_id});
    }
    while (hn) {
        hitem t = hpop(h, &hn);
        sym *a = &s[t.pos];
        if (!a->alive || a->next < 0)
            continue;
        sym *c = &s[a->next];
        const merge_slot *m = merge_find(b, a->id, c->id);
        if (!m || m->rank != t.rank || m->new_id != t.new_id)
            continue;
        a->id = t.new_id;
        c->alive = 0;
        a->next = c->next;
        if (c->next >= 0)
            s[c->next].prev = t.pos;
        if (a->prev >= 0) {
            const merge_slot *mp = merge_find(b, s[a->prev].id, a->id);
            if (mp)
                hpush(h, &hn, (hitem){mp->rank, a->prev, mp->new_id});
        }
        if (a->next >= 0) {
            const merge_slot *mn = merge_find(b, a->id, s[a->next].id);
            if (mn)
                hpush(h, &hn, (hitem){mn->rank, t.pos, mn->new_id});
        }
    }
    for (int32_t i = 0; i >= 0; i = s[i].next)
        if ((rc = ov_tok_ids_push(out, s[i].id)))
            goto done;
done:
    if (s != sbuf)
        free(s);
    if (h != hbuf)
        free(h);
    return rc;
}

/* ---------- per-word cache ---------- */

static int cache_get(ov_bpe *b, uint64_t hsh, const uint8_t *w, size_t n, ov_tok_ids *out, int *hit)
{
    *hit = 0;
    size_t mask = OV_BPE_CACHE_ENTRIES * 2 - 1;
    for (size_t i = hsh & mask;; i = (i + 1) & mask) {
        const cache_slot *c = &b->cache[i];
        if (!c->h)
            return 0;
        if (c->h == hsh && c->w_len == n && memcmp(b->cache_words.p + c->w_off, w, n) == 0) {
            const int32_t *ids = (const int32_t *)(b->cache_ids.p + c->ids_off);
            for (uint32_t k = 0; k < c->ids_len; k++) {
                int rc = ov_tok_ids_push(out, ids[k]);
                if (rc)
                    return rc;
            }
            *hit = 1;
            return 0;
        }
    }
}

static void cache_put(ov_bpe *b, uint64_t hsh, const uint8_t *w, size_t n, const int32_t *ids, size_t k)
{
    if (b->cache_count >= OV_BPE_CACHE_ENTRIES) {
        memset(b->cache, 0, OV_BPE_CACHE_ENTRIES * 2 * sizeof *b->cache);
        b->cache_words.len = b->cache_ids.len = 0;
        b->cache_count = 0;
    }
    /* keep ids 4-byte aligned */
    size_t pad = (4 - (b->cache_ids.len & 3)) & 3;
    uint32_t off_w, off_i, dummy;
    static const uint8_t zeros[4] = {0};
    if (pad && arena_put(&b->cache_ids, zeros, pad, &dummy))
        return;
    if (arena_put(&b->cache_words, w, n, &off_w) || arena_put(&b->cache_ids, ids, k * 4, &off_i))
        return;
    size_t mask = OV_BPE_CACHE_ENTRIES * 2 - 1;
    size_t i = hsh & mask;
    while (b->cache[i].h)
        i = (i + 1) & mask;
    b->cache[i] = (cache_slot){hsh, off_w, (uint32_t)n, off_i, (uint32_t)k};
    b->cache_count++;
}

int ov_bpe_encode_word(ov_bpe *b, const uint8_t *w, size_t n, ov_tok_ids *out)
{
    if (!b || !b->finished || !w || n == 0)
        return OV_EINVAL;
    if (n > OV_BPE_CACHE_MAX_WORD)
        return merge_word(b, w, n, out);
    uint64_t hsh = hash_bytes(w, n) | 1;
    int hit, rc;
    pthread_mutex_lock(&b->cache_mu);
    rc = cache_get(b, hsh, w, n, out, &hit);
    pthread_mutex_unlock(&b->cache_mu);
    if (rc || hit)
        return rc;
    size_t start = out->len;
    if ((rc = merge_word(b, w, n, out)))
        return rc;
    pthread_mutex_lock(&b->cache_mu);
    cache_put(b, hsh, w, n, out->v + start, out->len - start);
    pthread_mutex_unlock(&b->cache_mu);
    return 0;
}

/* ---------- decode ---------- */

int ov_bpe_decode(const ov_bpe *b, const int32_t *ids, size_t n, unsigned flags, ov_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p;
        size_t len;
        int special;
        int rc = ov_bpe_token_bytes(b, ids[i], &p, &len, &special);
        if (rc)
            return rc;
        if (special && (flags & OV_TOK_SKIP_SPECIAL))
            continue;
        if ((rc = ov_buf_append(out, p, len)))
            return rc;
    }
    return 0;
}

static const uint8_t REPLACEMENT[3] = {0xEF, 0xBF, 0xBD};

void ov_tok_stream_init(ov_tok_stream *s)
{
    memset(s, 0, sizeof *s);
}

int ov_tok_stream_bytes(ov_tok_stream *s, const uint8_t *p, size_t n, ov_buf *out)
{
    int rc;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (s->npend) {
            /* does c continue the pending sequence? (range rules of RFC 3629 for byte 2) */
            int ok = (c & 0xC0) == 0x80;
            if (ok && s->npend == 1) {
                uint8_t l = s->pend[0];
                if ((l == 0xE0 && c < 0xA0) || (l == 0xED && c > 0x9F) || (l == 0xF0 && c < 0x90) ||
                    (l == 0xF4 && c > 0x8F))
                    ok = 0;
            }
            if (ok) {
                s->pend[s->npend++] = c;
                if (s->npend == s->need) {
                    if ((rc = ov_buf_append(out, s->pend, s->npend)))
                        return rc;
                    s->npend = 0;
                }
                continue;
            }
            /* maximal invalid subpart -> one U+FFFD, then reconsider c */
            s->npend = 0;
            if ((rc = ov_buf_append(out, REPLACEMENT, 3)))
                return rc;
        }
        if (c < 0x80) {
            if ((rc = ov_buf_append(out, &c, 1)))
                return rc;
        } else if (c >= 0xC2 && c <= 0xF4) {
            s->pend[0] = c;
            s->npend = 1;
            s->need = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        } else if ((rc = ov_buf_append(out, REPLACEMENT, 3))) {
            return rc;
        }
    }
    return 0;
}

int ov_tok_stream_push(ov_tok_stream *s, const ov_bpe *b, int32_t id, unsigned flags, ov_buf *out)
{
    const uint8_t *p;
    size_t n;
    int special;
    int rc = ov_bpe_token_bytes(b, id, &p, &n, &special);
    if (rc)
        return rc;
    if (special && (flags & OV_TOK_SKIP_SPECIAL))
        return 0;
    return ov_tok_stream_bytes(s, p, n, out);
}

int ov_tok_stream_flush(ov_tok_stream *s, ov_buf *out)
{
    if (!s->npend)
        return 0;
    s->npend = 0;
    return ov_buf_append(out, REPLACEMENT, 3);
}
