/* Worker-side HTTP(S) GET into memory (reference images): libcurl easy, manual redirects, caps, redaction. */
#include "fetch.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"

#ifdef OURVIDZ_VERSION
#define OV_FETCH_USER_AGENT "ourvidz/" OURVIDZ_VERSION
#else
#define OV_FETCH_USER_AGENT "ourvidz"
#endif

#define OV_FETCH_MAX_BYTES_CAP ((size_t)1 << 40) /* keeps len + 1 and doubling far from overflow */
#define OV_FETCH_TIMEOUT_CAP_MS ((int64_t)24 * 3600 * 1000)
#define OV_FETCH_FIRST_CAP ((size_t)64 << 10)
#define OV_FETCH_OTHER_BODY_MAX ((size_t)64 << 10) /* 3xx/4xx/5xx body bytes read (dropped) at most */
#define OV_FETCH_REDACT_MAX 256                    /* a redacted URL in a message */

/* ---------- curl_global_init exactly once, whichever thread fetches first ---------- */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_init_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---------- redaction ---------- */

static void put_bytes(char *out, size_t outlen, size_t *at, const char *s, size_t n)
{
    for (size_t i = 0; i < n && *at + 1 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        out[(*at)++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    out[*at] = '\0';
}

/* Hand parser on purpose (not curl_url): it must render whatever a caller was given, even URLs curl refuses,
 * and must never copy anything after '?' or '#' or before the last '@' of the authority. */
void ov_fetch_redact_url(const char *url, char *out, size_t outlen)
{
    if (!out || !outlen)
        return;
    out[0] = '\0';
    const char *sep = url ? strstr(url, "://") : NULL;
    size_t slen = sep ? (size_t)(sep - url) : 0;
    int ok = slen > 0 && slen <= 16 && ((url[0] | 0x20) >= 'a' && (url[0] | 0x20) <= 'z');
    for (size_t i = 0; ok && i < slen; i++) {
        char c = url[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
             c == '-' || c == '.';
    }
    if (!ok) {
        snprintf(out, outlen, "(malformed url)");
        return;
    }
    size_t at = 0;
    for (size_t i = 0; i < slen && at + 1 < outlen; i++) {
        char c = url[i];
        out[at++] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
    }
    out[at] = '\0';
    put_bytes(out, outlen, &at, "://", 3);
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#\\");
    const char *host = auth;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@')
            host = auth + i + 1;
    put_bytes(out, outlen, &at, host, (size_t)(auth + alen - host));
    const char *path = auth + alen;
    size_t plen = (*path == '/' || *path == '\\') ? strcspn(path, "?#") : 0;
    if (plen == 0) {
        put_bytes(out, outlen, &at, "/", 1);
    } else if (plen <= OV_FETCH_REDACT_PATH_MAX) {
        put_bytes(out, outlen, &at, path, plen);
    } else {
        put_bytes(out, outlen, &at, path, OV_FETCH_REDACT_PATH_MAX);
        put_bytes(out, outlen, &at, "...", 3);
    }
}

/* ---------- host allow-list ---------- */

/* Trim blanks, one pair of IPv6 brackets and one trailing dot: [*s, *s + *n). */
static void host_norm(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
    if (*n >= 2 && (*s)[0] == '[' && (*s)[*n - 1] == ']')
        (*s)++, *n -= 2;
    if (*n > 1 && (*s)[*n - 1] == '.')
        (*n)--;
}

int ov_fetch_host_allowed(const char *allow_hosts, const char *host)
{
    if (!allow_hosts || !*allow_hosts)
        return 1;
    if (!host)
        return 0;
    const char *h = host;
    size_t hl = strlen(host);
    host_norm(&h, &hl);
    if (!hl)
        return 0;
    const char *p = allow_hosts;
    for (;;) {
        size_t n = strcspn(p, ",");
        const char *e = p;
        size_t el = n;
        host_norm(&e, &el);
        if (el > 1 && e[0] == '.') {
            /* ".suffix": a proper subdomain (at least one label before the dot). */
            if (hl > el && strncasecmp(h + hl - el, e, el) == 0)
                return 1;
        } else if (el && el == hl && strncasecmp(h, e, el) == 0) {
            return 1;
        }
        if (!p[n])
            return 0;
        p += n + 1;
    }
}

/* ---------- options ---------- */

void ov_fetch_opts_default(ov_fetch_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_bytes = OV_FETCH_DEFAULT_MAX_BYTES;
    o->timeout_ms = OV_FETCH_DEFAULT_TIMEOUT_MS;
    o->connect_timeout_ms = OV_FETCH_DEFAULT_CONNECT_TIMEOUT_MS;
    o->max_redirects = OV_FETCH_DEFAULT_MAX_REDIRECTS;
    o->allow_hosts = NULL;
    o->user_agent = OV_FETCH_USER_AGENT;

    const char *v = getenv("OURVIDZ_FETCH_MAX_BYTES");
    if (v && *v) {
        char *end = NULL;
        errno = 0;
        unsigned long long x = strtoull(v, &end, 10);
        if (errno || end == v || *end || strchr(v, '-') || x == 0 || x > OV_FETCH_MAX_BYTES_CAP)
            OV_LOG_WARNING("fetch_config_invalid",
                           "var=OURVIDZ_FETCH_MAX_BYTES reason=\"not a byte count in 1..2^40\"");
        else
            o->max_bytes = (size_t)x;
    }
    v = getenv("OURVIDZ_FETCH_TIMEOUT_MS");
    if (v && *v) {
        char *end = NULL;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end || x <= 0 || x > OV_FETCH_TIMEOUT_CAP_MS)
            OV_LOG_WARNING("fetch_config_invalid",
                           "var=OURVIDZ_FETCH_TIMEOUT_MS reason=\"not milliseconds in 1..86400000\"");
        else
            o->timeout_ms = x;
    }
    v = getenv("OURVIDZ_FETCH_ALLOW_HOSTS");
    if (v && *v)
        o->allow_hosts = v;
    v = getenv("OURVIDZ_FETCH_ALLOW_PRIVATE");
    o->allow_private = v && strcmp(v, "1") == 0;
}

/* ---------- private addresses (SSRF guard) ---------- */

static int v4_private(uint32_t a /* host order */)
{
    const uint32_t b0 = a >> 24, b1 = (a >> 16) & 0xff;
    return b0 == 0 || b0 == 10 || b0 == 127 || (b0 == 169 && b1 == 254) || (b0 == 172 && (b1 & 0xf0) == 16) ||
           (b0 == 192 && b1 == 168) || (b0 == 100 && (b1 & 0xc0) == 64) || b0 >= 224;
}

int ov_fetch_addr_private(const struct sockaddr *sa)
{
    if (!sa)
        return 1;
    if (sa->sa_family == AF_INET)
        return v4_private(ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr));
    if (sa->sa_family != AF_INET6)
        return 1; /* not an internet address: nothing to fetch there */
    const uint8_t *b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(b, mapped, 12) == 0)
        return v4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
    int zero = 1;
    for (int i = 0; i < 15; i++)
        zero &= b[i] == 0;
    if (zero && (b[15] == 0 || b[15] == 1)) /* :: and ::1 */
        return 1;
    return (b[0] & 0xfe) == 0xfc /* ULA fc00::/7 */ || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 */ ||
           b[0] == 0xff /* multicast */;
}

/* ---------- the body sink ---------- */

typedef struct fetch_sink {
    CURL *easy;
    unsigned char *buf;
    size_t len, cap, max;
    int too_big;   /* the body passed max */
    size_t other;  /* bytes of a 3xx/4xx/5xx body, dropped (curl only reports a redirect target of a
                    * transfer that completed, so such bodies are read, up to OV_FETCH_OTHER_BODY_MAX) */
    int other_cut; /* ... and that body was longer: the transfer was stopped */
    int oom;
    const ov_fetch_opts *o; /* for the progress callback */
    int64_t next_report;    /* now_ms() of the next progress call */
    int cancelled;          /* the callback asked to stop */
    int blocked;            /* a connection to a private address was refused */
    char blocked_addr[64];  /* that address, numeric */
} fetch_sink;

/* CURLOPT_OPENSOCKETFUNCTION: the address curl resolved and is about to connect to; private ones are
 * refused unless allowed (no socket: curl reports "couldn't connect", the sink says why). */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    fetch_sink *s = clientp;
    if (purpose == CURLSOCKTYPE_IPCXN && !s->o->allow_private && ov_fetch_addr_private(&a->addr)) {
        s->blocked = 1;
        const void *ip = a->family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)(const void *)&a->addr)->sin6_addr
                                               : (const void *)&((const struct sockaddr_in *)(const void *)&a->addr)->sin_addr;
        if (!inet_ntop(a->family, ip, s->blocked_addr, sizeof s->blocked_addr))
            snprintf(s->blocked_addr, sizeof s->blocked_addr, "(address family %d)", a->family);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

/* CURLOPT_XFERINFOFUNCTION: the caller's progress hook, at most every OV_FETCH_PROGRESS_MS; non-zero
 * aborts the transfer (CURLE_ABORTED_BY_CALLBACK). */
static int on_xfer(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)ultotal, (void)ulnow;
    fetch_sink *s = userdata;
    int64_t t = now_ms();
    if (t < s->next_report)
        return 0;
    s->next_report = t + OV_FETCH_PROGRESS_MS;
    if (s->o->progress(s->o->progress_ud, dlnow > 0 ? (uint64_t)dlnow : 0, dltotal > 0 ? (uint64_t)dltotal : 0)) {
        s->cancelled = 1;
        return 1;
    }
    return 0;
}

/* Keeps 2xx bodies only, never more than max bytes (+1 for the trailing NUL); returning short stops curl. */
static size_t on_write(char *p, size_t size, size_t nmemb, void *userdata)
{
    fetch_sink *s = userdata;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code > 299) {
        if (n > OV_FETCH_OTHER_BODY_MAX - s->other) {
            s->other_cut = 1;
            return 0;
        }
        s->other += n;
        return n;
    }
    if (n > s->max - s->len) {
        s->too_big = 1;
        return 0;
    }
    if (s->len + n + 1 > s->cap) {
        size_t want = s->len + n + 1, nc = s->cap;
        if (!nc) {
            curl_off_t cl = -1;
            curl_easy_getinfo(s->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
            nc = (cl > 0 && (uint64_t)cl <= s->max) ? (size_t)cl + 1 : OV_FETCH_FIRST_CAP;
        }
        while (nc < want)
            nc *= 2;
        if (nc > s->max + 1)
            nc = s->max + 1;
        unsigned char *nb = realloc(s->buf, nc);
        if (!nb) {
            s->oom = 1;
            return 0;
        }
        s->buf = nb;
        s->cap = nc;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return n;
}

/* ---------- the fetch ---------- */

/* curl's error text, unless it could hold a secret part of the URL (then the generic text for the code). */
static const char *safe_detail(const char *errbuf, CURLcode cc)
{
    if (!errbuf[0] || strpbrk(errbuf, "?#@"))
        return curl_easy_strerror(cc);
    return errbuf;
}

static int map_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT: return OV_ETIMEDOUT;
    case CURLE_OUT_OF_MEMORY: return OV_ENOMEM;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT: return OV_EINVAL;
    case CURLE_FILESIZE_EXCEEDED: return OV_ERANGE;
    default: return OV_EIO;
    }
}

/* Parse `url` into *u and check scheme and host. 0, OV_EINVAL or OV_ENOMEM (message in err). */
static int check_url(CURLU *u, const char *url, const char *allow, const char *what, const char *red,
                     char *err, size_t errlen)
{
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (uc == CURLUE_OUT_OF_MEMORY) {
        set_err(err, errlen, "%s %s: out of memory", what, red);
        return OV_ENOMEM;
    }
    if (uc != CURLUE_OK) {
        set_err(err, errlen, "%s %s: malformed URL (%s)", what, red, curl_url_strerror(uc));
        return OV_EINVAL;
    }
    char *scheme = NULL, *host = NULL;
    int rc = 0;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || !scheme ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        set_err(err, errlen, "%s %s: only http and https URLs are fetched", what, red);
        rc = OV_EINVAL;
    } else if (curl_url_get(u, CURLUPART_HOST, &host, CURLU_URLDECODE) != CURLUE_OK || !host || !host[0]) {
        set_err(err, errlen, "%s %s: URL has no host", what, red);
        rc = OV_EINVAL;
    } else if (!ov_fetch_host_allowed(allow, host)) {
        set_err(err, errlen, "%s %s: host not allowed (OURVIDZ_FETCH_ALLOW_HOSTS)", what, red);
        rc = OV_EINVAL;
    }
    curl_free(scheme);
    curl_free(host);
    return rc;
}

static void setup_easy(CURL *e, const ov_fetch_opts *o, fetch_sink *s, char *errbuf)
{
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_FAILONERROR, 0L);    /* the status is read and reported here */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* followed by hand: every hop's host is checked */
#if LIBCURL_VERSION_NUM >= 0x075500                  /* 7.85.0 */
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    /* Images are compressed already: no Accept-Encoding, and no decoding of an unasked-for one (no bombs). */
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, NULL);
    curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max);
    curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : OV_FETCH_USER_AGENT);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, s);
    if (o->progress) {
        curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_xfer);
        curl_easy_setopt(e, CURLOPT_XFERINFODATA, s);
        curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    }
}

static int is_redirect(long code)
{
    return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

int ov_fetch(const char *url, const ov_fetch_opts *o, void **data, size_t *len, char *err, size_t errlen)
{
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (err && errlen)
        err[0] = '\0';
    if (!url || !data || !len) {
        set_err(err, errlen, "fetch: no URL or output");
        return OV_EINVAL;
    }
    ov_fetch_opts def;
    if (!o) {
        ov_fetch_opts_default(&def);
        o = &def;
    }
    size_t max = o->max_bytes ? o->max_bytes : OV_FETCH_DEFAULT_MAX_BYTES;
    if (max > OV_FETCH_MAX_BYTES_CAP)
        max = OV_FETCH_MAX_BYTES_CAP;
    int64_t timeout = o->timeout_ms > 0 ? o->timeout_ms : OV_FETCH_DEFAULT_TIMEOUT_MS;
    int64_t ctimeout =
        o->connect_timeout_ms > 0 ? o->connect_timeout_ms : OV_FETCH_DEFAULT_CONNECT_TIMEOUT_MS;
    int max_redirects = o->max_redirects >= 0 ? o->max_redirects : OV_FETCH_DEFAULT_MAX_REDIRECTS;

    char red[OV_FETCH_REDACT_MAX], red2[OV_FETCH_REDACT_MAX];
    ov_fetch_redact_url(url, red, sizeof red);
    pthread_once(&g_once, global_init);
    if (g_init_rc != CURLE_OK) {
        set_err(err, errlen, "fetch %s: curl_global_init failed", red);
        return OV_EIO;
    }
    int64_t deadline = now_ms() + timeout;
    CURL *e = curl_easy_init();
    CURLU *u = curl_url();
    char *cur = strdup(url);
    char errbuf[CURL_ERROR_SIZE];
    fetch_sink s = {.easy = e, .max = max, .o = o};
    int rc = 0;
    if (!e || !u || !cur) {
        set_err(err, errlen, "fetch %s: out of memory", red);
        rc = OV_ENOMEM;
        goto done;
    }
    setup_easy(e, o, &s, errbuf);
    rc = check_url(u, cur, o->allow_hosts, "fetch", red, err, errlen);
    for (int hop = 0; rc == 0; hop++) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            set_err(err, errlen, "fetch %s: timed out after %lld ms", red, (long long)timeout);
            rc = OV_ETIMEDOUT;
            break;
        }
        curl_easy_setopt(e, CURLOPT_CURLU, u); /* exactly the parse that check_url approved */
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)left);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(ctimeout < left ? ctimeout : left));
        errbuf[0] = '\0';
        s.len = 0;
        s.other = 0;
        s.too_big = s.other_cut = s.oom = s.blocked = 0;
        CURLcode cc = curl_easy_perform(e);
        long code = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
        if (s.cancelled) {
            set_err(err, errlen, "fetch %s: cancelled", red);
            rc = OV_ECANCELED;
        } else if (s.blocked && cc != CURLE_OK) { /* (another address of the name may have connected) */
            set_err(err, errlen,
                    "fetch %s: refused to connect to %s, a loopback/private/link-local address "
                    "(OURVIDZ_FETCH_ALLOW_PRIVATE=1 allows it)",
                    red, s.blocked_addr);
            rc = OV_EINVAL;
        } else if (s.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
            set_err(err, errlen, "fetch %s: body larger than %zu bytes", red, max);
            rc = OV_ERANGE;
        } else if (s.oom) {
            set_err(err, errlen, "fetch %s: out of memory", red);
            rc = OV_ENOMEM;
        } else if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && s.other_cut)) {
            rc = map_curl(cc);
            if (rc == OV_ETIMEDOUT)
                set_err(err, errlen, "fetch %s: timed out after %lld ms (%s)", red, (long long)timeout,
                        safe_detail(errbuf, cc));
            else
                set_err(err, errlen, "fetch %s: %s", red, safe_detail(errbuf, cc));
        } else if (code >= 200 && code <= 299) {
            break; /* done: the body is in s */
        } else if (is_redirect(code)) {
            char *next = NULL;
            curl_easy_getinfo(e, CURLINFO_REDIRECT_URL, &next);
            if (!next || !next[0]) {
                set_err(err, errlen, "fetch %s: HTTP %ld without a usable Location%s", red, code,
                        s.other_cut ? " (body too long to follow)" : "");
                rc = OV_EIO;
            } else if (hop >= max_redirects) {
                set_err(err, errlen, "fetch %s: HTTP %ld: more than %d redirects", red, code, max_redirects);
                rc = OV_EIO;
            } else {
                char *dup = strdup(next);
                if (!dup) {
                    set_err(err, errlen, "fetch %s: out of memory", red);
                    rc = OV_ENOMEM;
                    break;
                }
                free(cur);
                cur = dup;
                ov_fetch_redact_url(cur, red2, sizeof red2);
                char what[OV_FETCH_REDACT_MAX + 32];
                snprintf(what, sizeof what, "redirect from %s to", red);
                rc = check_url(u, cur, o->allow_hosts, what, red2, err, errlen);
                memcpy(red, red2, sizeof red);
            }
        } else {
            set_err(err, errlen, "fetch %s: HTTP %ld", red, code);
            rc = OV_EIO;
        }
    }
    if (rc == 0) {
        if (!s.buf) { /* empty body */
            s.buf = malloc(1);
            if (!s.buf) {
                set_err(err, errlen, "fetch %s: out of memory", red);
                rc = OV_ENOMEM;
                goto done;
            }
        }
        s.buf[s.len] = '\0';
        *data = s.buf;
        *len = s.len;
        s.buf = NULL;
    }
done:
    free(s.buf);
    free(cur);
    if (u)
        curl_url_cleanup(u);
    if (e)
        curl_easy_cleanup(e);
    return rc;
}
