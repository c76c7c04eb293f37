/* workers/runtime/fetch: GET into memory against a real libmicrohttpd server on 127.0.0.1 (bodies, statuses,
 * size caps, deadline, redirects, host allow-list), plus URL redaction and host matching. */
#include <arpa/inet.h>
#include <check.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "workers/runtime/fetch.h"

/* ---------- the test server ---------- */

#define BODY_OK_LEN (256u << 10) /* several write callbacks, buffer growth */
#define BODY_BIG_LEN (64u << 10)
#define CHUNK_BLOCK 4096u

static struct MHD_Daemon *srv;
static int port;
static char base[64];
static unsigned char body_ok[BODY_OK_LEN];
static unsigned char body_big[BODY_BIG_LEN];
static atomic_int stopping;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int n_requests, n_small;
static char last_ua[256], last_accept_encoding[256];

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&d, NULL);
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const void *body, size_t n,
                              const char *location)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/octet-stream");
    if (location)
        MHD_add_response_header(r, "Location", location);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* Chunked (no Content-Length): body_big in CHUNK_BLOCK pieces. */
static ssize_t chunked_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos >= BODY_BIG_LEN)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = BODY_BIG_LEN - (size_t)pos;
    if (n > max)
        n = max;
    if (n > CHUNK_BLOCK)
        n = CHUNK_BLOCK;
    memcpy(buf, body_big + pos, n);
    return (ssize_t)n;
}

/* One byte every 50 ms for 3 s: each read is quick, the whole transfer is slow. */
static ssize_t trickle_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls, (void)max;
    if (pos >= 60 || atomic_load(&stopping))
        return MHD_CONTENT_READER_END_OF_STREAM;
    sleep_ms(50);
    buf[0] = 'x';
    return 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size,
                                  void **con_cls)
{
    (void)cls, (void)method, (void)version, (void)upload, (void)upload_size, (void)con_cls;
    const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
    const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    pthread_mutex_lock(&mu);
    n_requests++;
    if (strcmp(url, "/small") == 0)
        n_small++;
    snprintf(last_ua, sizeof last_ua, "%s", ua ? ua : "");
    snprintf(last_accept_encoding, sizeof last_accept_encoding, "%s", ae ? ae : "");
    pthread_mutex_unlock(&mu);

    char loc[128];
    if (strcmp(url, "/ok") == 0)
        return answer(c, 200, body_ok, sizeof body_ok, NULL);
    if (strcmp(url, "/small") == 0)
        return answer(c, 200, "hello", 5, NULL);
    if (strcmp(url, "/empty") == 0)
        return answer(c, 200, "", 0, NULL);
    if (strcmp(url, "/big") == 0)
        return answer(c, 200, body_big, sizeof body_big, NULL);
    if (strcmp(url, "/chunked") == 0) {
        struct MHD_Response *r =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, CHUNK_BLOCK, chunked_reader, NULL, NULL);
        enum MHD_Result ok = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ok;
    }
    if (strcmp(url, "/trickle") == 0) {
        struct MHD_Response *r = MHD_create_response_from_callback(60, 1, trickle_reader, NULL, NULL);
        enum MHD_Result ok = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ok;
    }
    if (strcmp(url, "/slow") == 0) { /* no headers for 3 s (cut short when the server stops) */
        for (int i = 0; i < 300 && !atomic_load(&stopping); i++)
            sleep_ms(10);
        return answer(c, 200, "late", 4, NULL);
    }
    if (strcmp(url, "/r1") == 0) /* relative Location */
        return answer(c, 302, "", 0, "/small");
    if (strcmp(url, "/r2") == 0) { /* absolute Location, to another redirect */
        snprintf(loc, sizeof loc, "%s/r1", base);
        return answer(c, 301, "moved", 5, loc);
    }
    if (strcmp(url, "/loop") == 0)
        return answer(c, 302, "again", 5, "/loop");
    if (strcmp(url, "/away") == 0) { /* the same server under another host name */
        snprintf(loc, sizeof loc, "http://localhost:%d/small", port);
        return answer(c, 302, "", 0, loc);
    }
    if (strcmp(url, "/toftp") == 0)
        return answer(c, 302, "", 0, "ftp://127.0.0.1/file");
    if (strcmp(url, "/tofile") == 0)
        return answer(c, 307, "", 0, "file:///etc/passwd");
    if (strcmp(url, "/rsecret") == 0)
        return answer(c, 302, "", 0, "/notfound/obj.png?token=REDIRECTSECRET");
    if (strcmp(url, "/rbigbody") == 0) /* a redirect whose body is longer than fetch reads of one */
        return answer(c, 302, body_ok, sizeof body_ok, "/small");
    if (strcmp(url, "/gonebig") == 0)
        return answer(c, 410, body_ok, sizeof body_ok, NULL);
    if (strcmp(url, "/teapot") == 0)
        return answer(c, 503, "busy", 4, NULL);
    return answer(c, 404, "not here", 8, NULL);
}

static void server_up(void)
{
    /* Fresh state per test also when Check runs without fork (CK_FORK=no). */
    atomic_store(&stopping, 0);
    n_requests = n_small = 0;
    last_ua[0] = last_accept_encoding[0] = '\0';
    for (size_t i = 0; i < sizeof body_ok; i++)
        body_ok[i] = (unsigned char)((i * 2654435761u) >> 13); /* zeros and high bytes included */
    for (size_t i = 0; i < sizeof body_big; i++)
        body_big[i] = (unsigned char)(i * 31u + 7u);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(0x7f000001);
    srv = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                           on_request, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                           MHD_OPTION_END);
    ck_assert_ptr_nonnull(srv);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv, MHD_DAEMON_INFO_BIND_PORT);
    ck_assert_ptr_nonnull(di);
    port = di->port;
    ck_assert_int_gt(port, 0);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
}

static void server_down(void)
{
    atomic_store(&stopping, 1);
    if (srv)
        MHD_stop_daemon(srv);
    srv = NULL;
}

static int requests(void)
{
    pthread_mutex_lock(&mu);
    int n = n_requests;
    pthread_mutex_unlock(&mu);
    return n;
}

static int smalls(void)
{
    pthread_mutex_lock(&mu);
    int n = n_small;
    pthread_mutex_unlock(&mu);
    return n;
}

/* Options with no environment influence (each test sets what it checks). */
static ov_fetch_opts opts(void)
{
    ov_fetch_opts o;
    memset(&o, 0, sizeof o);
    o.max_bytes = OV_FETCH_DEFAULT_MAX_BYTES;
    o.timeout_ms = 5000;
    o.connect_timeout_ms = 2000;
    o.max_redirects = 3;
    o.allow_private = 1; /* the test servers are on loopback (private_refused tests the guard) */
    return o;
}

static int get(const char *path, const ov_fetch_opts *o, void **data, size_t *len, char *err, size_t errlen)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    return ov_fetch(url, o, data, len, err, errlen);
}

/* ---------- bodies and statuses ---------- */

START_TEST(ok_body_equal)
{
    ov_fetch_opts o = opts();
    void *d = NULL;
    size_t n = 0;
    char err[256];
    ck_assert_int_eq(get("/ok?token=abc", &o, &d, &n, err, sizeof err), 0);
    ck_assert_uint_eq(n, BODY_OK_LEN);
    ck_assert_int_eq(memcmp(d, body_ok, n), 0);
    ck_assert_int_eq(((unsigned char *)d)[n], 0); /* the documented trailing NUL */
    free(d);
    /* Default user agent, and no Accept-Encoding (images are compressed already). */
    ck_assert_int_eq(strncmp(last_ua, "ourvidz/", 8), 0);
    ck_assert_str_eq(last_accept_encoding, "");
}
END_TEST

START_TEST(ok_empty_and_custom_agent)
{
    ov_fetch_opts o = opts();
    o.user_agent = "ourvidz-test/9";
    void *d = NULL;
    size_t n = 7;
    char err[256];
    ck_assert_int_eq(get("/empty", &o, &d, &n, err, sizeof err), 0);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(n, 0);
    free(d);
    ck_assert_str_eq(last_ua, "ourvidz-test/9");
}
END_TEST

START_TEST(status_404_redacted)
{
    ov_fetch_opts o = opts();
    void *d = (void *)1;
    size_t n = 9;
    char err[512];
    int rc = get("/notfound/obj.png?token=SECRETTOKEN123#frag", &o, &d, &n, err, sizeof err);
    ck_assert_int_eq(rc, OV_EIO);
    ck_assert_ptr_null(d);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_nonnull(strstr(err, "404"));
    ck_assert_ptr_nonnull(strstr(err, "/notfound/obj.png"));
    ck_assert_ptr_null(strstr(err, "SECRETTOKEN123"));
    ck_assert_ptr_null(strstr(err, "token"));
    ck_assert_ptr_null(strstr(err, "frag"));
    ck_assert_ptr_null(strchr(err, '?'));
}
END_TEST

START_TEST(status_503)
{
    ov_fetch_opts o = opts();
    void *d = NULL;
    size_t n = 0;
    char err[256];
    ck_assert_int_eq(get("/teapot", &o, &d, &n, err, sizeof err), OV_EIO);
    ck_assert_ptr_nonnull(strstr(err, "HTTP 503"));
    /* A long error body is not read to the end, and the status is still what is reported. */
    ck_assert_int_eq(get("/gonebig", &o, &d, &n, err, sizeof err), OV_EIO);
    ck_assert_ptr_nonnull(strstr(err, "HTTP 410"));
    ck_assert_ptr_null(d);
}
END_TEST

START_TEST(userinfo_not_in_error)
{
    ov_fetch_opts o = opts();
    void *d = NULL;
    size_t n = 0;
    char url[256], err[512];
    snprintf(url, sizeof url, "http://alice:PASSWORD99@127.0.0.1:%d/notfound?sig=SIG77", port);
    ck_assert_int_eq(ov_fetch(url, &o, &d, &n, err, sizeof err), OV_EIO);
    ck_assert_ptr_nonnull(strstr(err, "404"));
    ck_assert_ptr_null(strstr(err, "PASSWORD99"));
    ck_assert_ptr_null(strstr(err, "alice"));
    ck_assert_ptr_null(strstr(err, "SIG77"));
}
END_TEST

/* ---------- size caps ---------- */

START_TEST(oversize_content_length)
{
    ov_fetch_opts o = opts();
    o.max_bytes = 10000;
    void *d = NULL;
    size_t n = 0;
    char err[256];
    ck_assert_int_eq(get("/big", &o, &d, &n, err, sizeof err), OV_ERANGE);
    ck_assert_ptr_null(d);
    ck_assert_ptr_nonnull(strstr(err, "10000"));
    /* Exactly at the cap is fine. */
    o.max_bytes = BODY_BIG_LEN;
    ck_assert_int_eq(get("/big", &o, &d, &n, err, sizeof err), 0);
    ck_assert_uint_eq(n, BODY_BIG_LEN);
    ck_assert_int_eq(memcmp(d, body_big, n), 0);
    free(d);
}
END_TEST

START_TEST(oversize_chunked)
{
    ov_fetch_opts o = opts();
    o.max_bytes = 10000;
    void *d = NULL;
    size_t n = 0;
    char err[256];
    ck_assert_int_eq(get("/chunked", &o, &d, &n, err, sizeof err), OV_ERANGE);
    ck_assert_ptr_null(d);
    o.max_bytes = BODY_BIG_LEN - 1;
    ck_assert_int_eq(get("/chunked", &o, &d, &n, err, sizeof err), OV_ERANGE);
    o.max_bytes = BODY_BIG_LEN;
    ck_assert_int_eq(get("/chunked", &o, &d, &n, err, sizeof err), 0);
    ck_assert_uint_eq(n, BODY_BIG_LEN);
    ck_assert_int_eq(memcmp(d, body_big, n), 0);
    free(d);
}
END_TEST

/* ---------- deadlines and connection errors ---------- */

START_TEST(timeout_no_answer)
{
    ov_fetch_opts o = opts();
    o.timeout_ms = 300;
    void *d = NULL;
    size_t n = 0;
    char err[256];
    int64_t t0 = mono_ms();
    ck_assert_int_eq(get("/slow?token=T", &o, &d, &n, err, sizeof err), OV_ETIMEDOUT);
    int64_t dt = mono_ms() - t0;
    ck_assert_int_ge(dt, 250);
    ck_assert_int_lt(dt, 1500);
    ck_assert_ptr_nonnull(strstr(err, "timed out"));
    ck_assert_ptr_null(d);
}
END_TEST

START_TEST(timeout_slow_body)
{
    /* Bytes keep coming, but the deadline covers the whole transfer. */
    ov_fetch_opts o = opts();
    o.timeout_ms = 300;
    void *d = NULL;
    size_t n = 0;
    char err[256];
    int64_t t0 = mono_ms();
    ck_assert_int_eq(get("/trickle", &o, &d, &n, err, sizeof err), OV_ETIMEDOUT);
    ck_assert_int_lt(mono_ms() - t0, 1500);
    ck_assert_ptr_null(d);
}
END_TEST

/* The progress hook: called while bytes trickle in, with growing counts; returning non-zero stops
 * the fetch at once with OV_ECANCELED (a job cancel), long before the deadline. */
typedef struct prog_log {
    int calls, stop_after;
    uint64_t last_got;
    int monotonic;
} prog_log;

static int on_prog(void *ud, uint64_t got, uint64_t total)
{
    prog_log *p = ud;
    (void)total;
    if (got < p->last_got)
        p->monotonic = 0;
    p->last_got = got;
    return ++p->calls >= p->stop_after;
}

START_TEST(progress_and_cancel)
{
    ov_fetch_opts o = opts();
    o.timeout_ms = 10000;
    prog_log pl = {.stop_after = 3, .monotonic = 1};
    o.progress = on_prog;
    o.progress_ud = &pl;
    void *d = NULL;
    size_t n = 0;
    char err[256];
    int64_t t0 = mono_ms();
    ck_assert_int_eq(get("/trickle?token=SECRET", &o, &d, &n, err, sizeof err), OV_ECANCELED);
    int64_t dt = mono_ms() - t0;
    ck_assert_msg(dt < 3000, "cancel took %lld ms", (long long)dt);
    ck_assert_int_eq(pl.calls, 3);
    ck_assert(pl.monotonic);
    ck_assert_ptr_nonnull(strstr(err, "cancelled"));
    ck_assert_ptr_null(strstr(err, "SECRET"));
    ck_assert_ptr_null(d);
    /* a hook that never stops: the fetch completes normally */
    prog_log keep = {.stop_after = 1 << 30, .monotonic = 1};
    o.progress_ud = &keep;
    ck_assert_int_eq(get("/ok", &o, &d, &n, err, sizeof err), 0);
    ck_assert_uint_eq(n, BODY_OK_LEN);
    free(d);
}
END_TEST

/* The SSRF guard: with allow_private 0 (the default) a loopback server is never contacted, by IP or
 * by a name that resolves there; the message names the address and the switch. Address classes. */
START_TEST(private_refused)
{
    ov_fetch_opts o = opts();
    o.allow_private = 0;
    void *d = NULL;
    size_t n = 0;
    char err[512];
    pthread_mutex_lock(&mu);
    int before = n_requests;
    pthread_mutex_unlock(&mu);
    ck_assert_int_eq(get("/ok?token=SECRET", &o, &d, &n, err, sizeof err), OV_EINVAL);
    ck_assert_msg(strstr(err, "refused to connect to 127.0.0.1") && strstr(err, "OURVIDZ_FETCH_ALLOW_PRIVATE"), "%s",
                  err);
    ck_assert_ptr_null(strstr(err, "SECRET"));
    ck_assert_ptr_null(d);
    char url[128];
    snprintf(url, sizeof url, "http://localhost:%d/ok", port);
    ck_assert_int_eq(ov_fetch(url, &o, &d, &n, err, sizeof err), OV_EINVAL);
    pthread_mutex_lock(&mu);
    ck_assert_int_eq(n_requests, before); /* nothing reached the server */
    pthread_mutex_unlock(&mu);
    ov_fetch_opts def;
    ck_assert_int_eq(unsetenv("OURVIDZ_FETCH_ALLOW_PRIVATE"), 0);
    ov_fetch_opts_default(&def);
    ck_assert_int_eq(def.allow_private, 0);
    ck_assert_int_eq(setenv("OURVIDZ_FETCH_ALLOW_PRIVATE", "1", 1), 0);
    ov_fetch_opts_default(&def);
    ck_assert_int_eq(def.allow_private, 1);
    unsetenv("OURVIDZ_FETCH_ALLOW_PRIVATE");
    static const struct {
        const char *ip;
        int priv;
    } v4[] = {{"127.0.0.1", 1},     {"10.1.2.3", 1},      {"172.16.0.1", 1},   {"172.31.255.1", 1},
              {"172.32.0.1", 0},    {"192.168.1.1", 1},   {"169.254.169.254", 1}, {"100.64.0.1", 1},
              {"100.128.0.1", 0},   {"0.0.0.0", 1},       {"224.0.0.1", 1},    {"8.8.8.8", 0},
              {"104.18.0.1", 0}};
    for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET};
        ck_assert_int_eq(inet_pton(AF_INET, v4[i].ip, &a.sin_addr), 1);
        ck_assert_msg(ov_fetch_addr_private((const struct sockaddr *)&a) == v4[i].priv, "%s", v4[i].ip);
    }
    static const struct {
        const char *ip;
        int priv;
    } v6[] = {{"::1", 1}, {"::", 1}, {"fd00::1", 1}, {"fe80::1", 1}, {"ff02::1", 1}, {"::ffff:127.0.0.1", 1},
              {"::ffff:8.8.8.8", 0}, {"2606:4700::1", 0}};
    for (size_t i = 0; i < sizeof v6 / sizeof v6[0]; i++) {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6};
        ck_assert_int_eq(inet_pton(AF_INET6, v6[i].ip, &a.sin6_addr), 1);
        ck_assert_msg(ov_fetch_addr_private((const struct sockaddr *)&a) == v6[i].priv, "%s", v6[i].ip);
    }
}
END_TEST

START_TEST(connect_refused)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(0x7f000001);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd); /* nobody listens there now */
    char url[128], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x?token=Q1", ntohs(sa.sin_port));
    ov_fetch_opts o = opts();
    void *d = NULL;
    size_t n = 0;
    ck_assert_int_eq(ov_fetch(url, &o, &d, &n, err, sizeof err), OV_EIO);
    ck_assert_ptr_null(strstr(err, "Q1"));
}
END_TEST

/* ---------- redirects ---------- */

START_TEST(redirect_followed)
{
    ov_fetch_opts o = opts();
    void *d = NULL;
    size_t n = 0;
    char err[256];
    ck_assert_int_eq(get("/r1", &o, &d, &n, err, sizeof err), 0);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(memcmp(d, "hello", 5), 0);
    free(d);
    /* Two hops (301 absolute -> 302 relative); max_redirects counts hops. */
    ck_assert_int_eq(get("/r2", &o, &d, &n, err, sizeof err), 0);
    ck_assert_uint_eq(n, 5);
    free(d);
    o.max_redirects = 2;
    ck_assert_int_eq(get("/r2", &o, &d, &n, err, sizeof err), 0);
    free(d);
    o.max_redirects = 1;
    ck_assert_int_eq(get("/r2", &o, &d, &n, err, sizeof err), OV_EIO);
    ck_assert_ptr_null(d);
    o.max_redirects = 0;
    ck_assert_int_eq(get("/r1", &o, &d, &n, err, sizeof err), OV_EIO);
    ck_assert_ptr_nonnull(strstr(err, "302"));
    ck_assert_int_eq(smalls(), 3);
    /* A redirect with a 256 KiB body is not followed (only 64 KiB of such bodies are read). */
    o.max_redirects = 3;
    ck_assert_int_eq(get("/rbigbody", &o, &d, &n, err, sizeof err), OV_EIO);
    ck_assert_ptr_nonnull(strstr(err, "302"));
    ck_assert_int_eq(smalls(), 3);
}
END_TEST

START_TEST(redirect_loop)
{
    ov_fetch_opts o = opts();
    void *d = NULL;
    size_t n = 0;
    char err[256];
    ck_assert_int_eq(get("/loop", &o, &d, &n, err, sizeof err), OV_EIO);
    ck_assert_ptr_null(d);
    ck_assert_ptr_nonnull(strstr(err, "redirects"));
    ck_assert_int_eq(requests(), 4); /* the first request + 3 followed */
}
END_TEST

START_TEST(redirect_host_refused)
{
    ov_fetch_opts o = opts();
    o.allow_hosts = "127.0.0.1";
    void *d = NULL;
    size_t n = 0;
    char err[256];
    ck_assert_int_eq(get("/away", &o, &d, &n, err, sizeof err), OV_EINVAL);
    ck_assert_ptr_null(d);
    ck_assert_ptr_nonnull(strstr(err, "localhost"));
    ck_assert_ptr_nonnull(strstr(err, "not allowed"));
    ck_assert_int_eq(smalls(), 0);
    /* With localhost allowed too, the same redirect is followed. */
    o.allow_hosts = "127.0.0.1,localhost";
    ck_assert_int_eq(get("/away", &o, &d, &n, err, sizeof err), 0);
    ck_assert_uint_eq(n, 5);
    free(d);
}
END_TEST

START_TEST(redirect_scheme_refused)
{
    ov_fetch_opts o = opts();
    void *d = NULL;
    size_t n = 0;
    char err[256];
    ck_assert_int_eq(get("/toftp", &o, &d, &n, err, sizeof err), OV_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "ftp://"));
    ck_assert_int_eq(get("/tofile", &o, &d, &n, err, sizeof err), OV_EINVAL);
    ck_assert_ptr_null(d);
}
END_TEST

START_TEST(redirect_target_redacted)
{
    ov_fetch_opts o = opts();
    void *d = NULL;
    size_t n = 0;
    char err[512];
    ck_assert_int_eq(get("/rsecret", &o, &d, &n, err, sizeof err), OV_EIO);
    ck_assert_ptr_nonnull(strstr(err, "404"));
    ck_assert_ptr_null(strstr(err, "REDIRECTSECRET"));
}
END_TEST

/* ---------- allow-list and schemes ---------- */

START_TEST(allow_hosts_fetch)
{
    ov_fetch_opts o = opts();
    void *d = NULL;
    size_t n = 0;
    char err[256];
    const char *pass[] = {"127.0.0.1", "example.com, 127.0.0.1", " .supabase.co ,127.0.0.1 ", ".0.0.1"};
    for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++) {
        o.allow_hosts = pass[i];
        ck_assert_msg(get("/small", &o, &d, &n, err, sizeof err) == 0, "allow '%s': %s", pass[i], err);
        free(d);
    }
    const char *refuse[] = {"localhost", "127.0.0.10", "27.0.0.1", ".127.0.0.1", "example.com,.example.com"};
    for (size_t i = 0; i < sizeof refuse / sizeof refuse[0]; i++) {
        o.allow_hosts = refuse[i];
        ck_assert_int_eq(get("/small", &o, &d, &n, err, sizeof err), OV_EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "not allowed"));
    }
    ck_assert_int_eq(smalls(), 4); /* refused hosts are never contacted */
}
END_TEST

START_TEST(schemes_refused)
{
    ov_fetch_opts o = opts();
    void *d = NULL;
    size_t n = 0;
    char err[256];
    const char *bad[] = {
        "ftp://127.0.0.1/x", "file:///etc/passwd",   "gopher://127.0.0.1/", "127.0.0.1/x", "http://", "",
        "not a url",         "https://exa mple.com/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(ov_fetch(bad[i], &o, &d, &n, err, sizeof err) == OV_EINVAL, "'%s' accepted: %s", bad[i],
                      err);
        ck_assert_ptr_null(d);
    }
    ck_assert_int_eq(ov_fetch(NULL, &o, &d, &n, err, sizeof err), OV_EINVAL);
    ck_assert_int_eq(requests(), 0);
}
END_TEST

START_TEST(host_matching)
{
    ck_assert_int_eq(ov_fetch_host_allowed(NULL, "anything.example"), 1);
    ck_assert_int_eq(ov_fetch_host_allowed("", "anything.example"), 1);
    const char *al = "cdn.example.com, .supabase.co,[::1],127.0.0.1";
    ck_assert_int_eq(ov_fetch_host_allowed(al, "cdn.example.com"), 1);
    ck_assert_int_eq(ov_fetch_host_allowed(al, "CDN.Example.COM"), 1);
    ck_assert_int_eq(ov_fetch_host_allowed(al, "cdn.example.com."), 1);
    ck_assert_int_eq(ov_fetch_host_allowed(al, "x.cdn.example.com"), 0);
    ck_assert_int_eq(ov_fetch_host_allowed(al, "example.com"), 0);
    ck_assert_int_eq(ov_fetch_host_allowed(al, "abc.supabase.co"), 1);
    ck_assert_int_eq(ov_fetch_host_allowed(al, "a.b.supabase.co"), 1);
    ck_assert_int_eq(ov_fetch_host_allowed(al, "supabase.co"), 0);
    ck_assert_int_eq(ov_fetch_host_allowed(al, "evilsupabase.co"), 0);
    ck_assert_int_eq(ov_fetch_host_allowed(al, "abc.supabase.co.evil.com"), 0);
    ck_assert_int_eq(ov_fetch_host_allowed(al, "[::1]"), 1);
    ck_assert_int_eq(ov_fetch_host_allowed(al, "::1"), 1);
    ck_assert_int_eq(ov_fetch_host_allowed(al, "[::2]"), 0);
    ck_assert_int_eq(ov_fetch_host_allowed(al, "127.0.0.1"), 1);
    ck_assert_int_eq(ov_fetch_host_allowed(al, "127.0.0.11"), 0);
    ck_assert_int_eq(ov_fetch_host_allowed(al, ""), 0);
    ck_assert_int_eq(ov_fetch_host_allowed(",", "a.com"), 0);
}
END_TEST

/* ---------- redaction ---------- */

static const char *redact(const char *url)
{
    static char out[512];
    ov_fetch_redact_url(url, out, sizeof out);
    return out;
}

START_TEST(redact_forms)
{
    ck_assert_str_eq(
        redact("https://proj.supabase.co/storage/v1/object/sign/reference/u1/a.png?token=eyJhbGc.x.y"),
        "https://proj.supabase.co/storage/v1/object/sign/reference/u1/a.png");
    ck_assert_str_eq(redact("https://user:pa55@host.example:8443/p/q?x=1#frag"),
                     "https://host.example:8443/p/q");
    ck_assert_str_eq(redact("http://a@b@host/p"), "http://host/p");
    ck_assert_str_eq(redact("http://host/p#token=abc"), "http://host/p");
    ck_assert_str_eq(redact("HTTP://Host:8080?x=1"), "http://Host:8080/");
    ck_assert_str_eq(redact("http://host"), "http://host/");
    ck_assert_str_eq(redact("http://[::1]:8080/a/b?q=s"), "http://[::1]:8080/a/b");
    ck_assert_str_eq(redact("http://u:p@[2001:db8::7]/img.png?sig=1"), "http://[2001:db8::7]/img.png");
    ck_assert_str_eq(redact("http://h/a\nb\x01"), "http://h/a?b?");
    ck_assert_str_eq(redact("ftp://h/x?y"), "ftp://h/x");
    ck_assert_str_eq(redact("not a url?token=x"), "(malformed url)");
    ck_assert_str_eq(redact("://host/p"), "(malformed url)");
    ck_assert_str_eq(redact("1http://host/p"), "(malformed url)");
    ck_assert_str_eq(redact(NULL), "(malformed url)");
}
END_TEST

START_TEST(redact_long_path_and_small_buffer)
{
    char url[400];
    int k = snprintf(url, sizeof url, "https://h.example/");
    for (int i = 0; i < 200; i++)
        url[k++] = (char)('a' + i % 26);
    snprintf(url + k, sizeof url - (size_t)k, "?token=SECRET");
    const char *r = redact(url);
    ck_assert_uint_eq(strlen(r), strlen("https://h.example") + OV_FETCH_REDACT_PATH_MAX + 3);
    ck_assert_int_eq(strncmp(r, url, strlen("https://h.example") + OV_FETCH_REDACT_PATH_MAX), 0);
    ck_assert_str_eq(r + strlen(r) - 3, "...");
    ck_assert_ptr_null(strstr(r, "SECRET"));
    char small[10];
    ov_fetch_redact_url("https://host.example/path?token=x", small, sizeof small);
    ck_assert_str_eq(small, "https://h");
    ov_fetch_redact_url("https://host/", small, 1);
    ck_assert_str_eq(small, "");
}
END_TEST

static unsigned lcg(uint32_t *x)
{
    *x = *x * 1103515245u + 12345u;
    return (*x >> 8) & 0xffffu;
}

/* Random URLs with secrets in userinfo, query and fragment: none survives, output always fits (under ASan
 * this doubles as a small fuzz run of both parsers). Fixed seed: failures reproduce. */
START_TEST(redact_random)
{
    static const char pathc[] = "abcXYZ019/-._~%!$&'()*+,;=:@";
    static const char hostc[] = "abcdefghijklmnopqrstuvwxyz0123456789.-";
    uint32_t x = 12345u;
#define RND() lcg(&x)
    for (int it = 0; it < 3000; it++) {
        char url[600], out[300];
        size_t k = 0;
        k += (size_t)snprintf(url + k, sizeof url - k, "%s://", RND() % 2 ? "https" : "HTTP");
        if (RND() % 2)
            k += (size_t)snprintf(url + k, sizeof url - k, "u%uSECRETU:p%u@", RND(), RND());
        if (RND() % 4 == 0) {
            k += (size_t)snprintf(url + k, sizeof url - k, "[::%x]", RND());
        } else {
            for (unsigned n = 1 + RND() % 30; n--;)
                url[k++] = hostc[RND() % (sizeof hostc - 1)];
        }
        if (RND() % 2)
            k += (size_t)snprintf(url + k, sizeof url - k, ":%u", RND());
        for (unsigned n = RND() % 150; n--;)
            url[k++] = pathc[RND() % (sizeof pathc - 1)];
        if (RND() % 4)
            k += (size_t)snprintf(url + k, sizeof url - k, "?a=%u&token=SECRETQ%u/x@y", RND(), RND());
        if (RND() % 2)
            k += (size_t)snprintf(url + k, sizeof url - k, "#SECRETF%u", RND());
        url[k] = '\0';
        size_t outlen = 1 + RND() % sizeof out;
        memset(out, 'Z', sizeof out);
        ov_fetch_redact_url(url, out, outlen);
        ck_assert_uint_lt(strlen(out), outlen);
        ck_assert_msg(!strstr(out, "SECRET"), "%s -> %s", url, out);
        ck_assert_msg(!strchr(out, '?') && !strchr(out, '#'), "%s -> %s", url, out);
        ov_fetch_host_allowed(".b.c, a.b.c ,[::1]", url + 8);
        /* Raw bytes, any length. */
        for (size_t i = 0; i + 1 < k; i++)
            url[i] = (char)(RND() % 255 + 1);
        ov_fetch_redact_url(url, out, outlen);
        ck_assert_uint_lt(strlen(out), outlen);
        ov_fetch_host_allowed(url, url + k / 2);
    }
#undef RND
}
END_TEST

/* ---------- defaults and environment ---------- */

START_TEST(defaults_and_env)
{
    unsetenv("OURVIDZ_FETCH_MAX_BYTES");
    unsetenv("OURVIDZ_FETCH_TIMEOUT_MS");
    unsetenv("OURVIDZ_FETCH_ALLOW_HOSTS");
    ov_fetch_opts o;
    ov_fetch_opts_default(&o);
    ck_assert_uint_eq(o.max_bytes, 20u << 20);
    ck_assert_int_eq(o.timeout_ms, 30000);
    ck_assert_int_eq(o.connect_timeout_ms, 10000);
    ck_assert_int_eq(o.max_redirects, 3);
    ck_assert_ptr_null(o.allow_hosts);
    ck_assert_int_eq(strncmp(o.user_agent, "ourvidz/", 8), 0);
    setenv("OURVIDZ_FETCH_MAX_BYTES", "1234", 1);
    setenv("OURVIDZ_FETCH_TIMEOUT_MS", "500", 1);
    setenv("OURVIDZ_FETCH_ALLOW_HOSTS", ".supabase.co", 1);
    ov_fetch_opts_default(&o);
    ck_assert_uint_eq(o.max_bytes, 1234);
    ck_assert_int_eq(o.timeout_ms, 500);
    ck_assert_str_eq(o.allow_hosts, ".supabase.co");
    const char *bad[] = {"abc", "-5", "0", "12x", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("OURVIDZ_FETCH_MAX_BYTES", bad[i], 1);
        setenv("OURVIDZ_FETCH_TIMEOUT_MS", bad[i], 1);
        ov_fetch_opts_default(&o);
        ck_assert_uint_eq(o.max_bytes, 20u << 20);
        ck_assert_int_eq(o.timeout_ms, 30000);
    }
    unsetenv("OURVIDZ_FETCH_MAX_BYTES");
    unsetenv("OURVIDZ_FETCH_TIMEOUT_MS");
    unsetenv("OURVIDZ_FETCH_ALLOW_HOSTS");
}
END_TEST

START_TEST(null_opts_use_env)
{
    setenv("OURVIDZ_FETCH_ALLOW_PRIVATE", "1", 1); /* the server is on loopback */
    setenv("OURVIDZ_FETCH_MAX_BYTES", "4", 1);
    void *d = NULL;
    size_t n = 0;
    char err[256];
    ck_assert_int_eq(get("/small", NULL, &d, &n, err, sizeof err), OV_ERANGE);
    setenv("OURVIDZ_FETCH_MAX_BYTES", "5", 1);
    setenv("OURVIDZ_FETCH_ALLOW_HOSTS", "127.0.0.1", 1);
    ck_assert_int_eq(get("/small", NULL, &d, &n, err, sizeof err), 0);
    ck_assert_uint_eq(n, 5);
    free(d);
    setenv("OURVIDZ_FETCH_ALLOW_HOSTS", "example.com", 1);
    ck_assert_int_eq(get("/small", NULL, &d, &n, err, sizeof err), OV_EINVAL);
    unsetenv("OURVIDZ_FETCH_MAX_BYTES");
    unsetenv("OURVIDZ_FETCH_ALLOW_HOSTS");
    unsetenv("OURVIDZ_FETCH_ALLOW_PRIVATE");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("fetch");
    TCase *net = tcase_create("net");
    tcase_add_checked_fixture(net, server_up, server_down);
    tcase_set_timeout(net, 10);
    tcase_add_test(net, ok_body_equal);
    tcase_add_test(net, ok_empty_and_custom_agent);
    tcase_add_test(net, status_404_redacted);
    tcase_add_test(net, status_503);
    tcase_add_test(net, userinfo_not_in_error);
    tcase_add_test(net, oversize_content_length);
    tcase_add_test(net, oversize_chunked);
    tcase_add_test(net, timeout_no_answer);
    tcase_add_test(net, timeout_slow_body);
    tcase_add_test(net, progress_and_cancel);
    tcase_add_test(net, private_refused);
    tcase_add_test(net, connect_refused);
    tcase_add_test(net, redirect_followed);
    tcase_add_test(net, redirect_loop);
    tcase_add_test(net, redirect_host_refused);
    tcase_add_test(net, redirect_scheme_refused);
    tcase_add_test(net, redirect_target_redacted);
    tcase_add_test(net, allow_hosts_fetch);
    tcase_add_test(net, schemes_refused);
    tcase_add_test(net, null_opts_use_env);
    suite_add_tcase(s, net);
    TCase *unit = tcase_create("unit");
    tcase_add_test(unit, host_matching);
    tcase_add_test(unit, redact_forms);
    tcase_add_test(unit, redact_long_path_and_small_buffer);
    tcase_add_test(unit, redact_random);
    tcase_add_test(unit, defaults_and_env);
    suite_add_tcase(s, unit);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
