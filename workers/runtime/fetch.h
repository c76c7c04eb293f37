/* Blocking HTTP(S) GET into memory for worker inputs (reference images): size cap, deadline, allow-list. */
#ifndef OV_WORKER_FETCH_H
#define OV_WORKER_FETCH_H

#include <stddef.h>
#include <stdint.h>

#define OV_FETCH_DEFAULT_MAX_BYTES ((size_t)20 << 20) /* 20 MiB */
#define OV_FETCH_DEFAULT_TIMEOUT_MS 30000             /* the original worker's requests timeout */
#define OV_FETCH_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define OV_FETCH_DEFAULT_MAX_REDIRECTS 3
#define OV_FETCH_REDACT_PATH_MAX 80 /* path bytes kept by ov_fetch_redact_url before "..." */

typedef struct ov_fetch_opts {
    size_t max_bytes;           /* larger bodies refused (Content-Length, then streaming); 0 = default */
    int64_t timeout_ms;         /* the whole fetch, redirects included; <= 0 = default */
    int64_t connect_timeout_ms; /* each connect (capped by what is left of timeout_ms); <= 0 = default */
    int max_redirects;          /* 3xx hops followed (to http/https only); 0 = none; < 0 = default */
    const char *allow_hosts;    /* NULL/"" = any host; else comma-separated exact host names or ".suffix"
                                 * patterns (".supabase.co" matches "x.supabase.co", not "supabase.co"),
                                 * checked for the first URL and for every redirect target. Not copied. */
    const char *user_agent;     /* NULL = "ourvidz/<version>" */
    /* Called from the fetching thread about every OV_FETCH_PROGRESS_MS while a transfer runs
     * (got = body bytes so far, total = Content-Length or 0 when unknown); a non-zero return stops
     * the fetch with OV_ECANCELED (a job cancel). NULL = none. */
    int (*progress)(void *ud, uint64_t got, uint64_t total);
    void *progress_ud;
    /* 0 (the default, also for a zeroed struct): never connect to a loopback, private (RFC 1918,
     * CGNAT, IPv6 ULA), link-local (cloud metadata 169.254.169.254), multicast or unspecified address,
     * checked on the address curl is about to connect to (so a DNS name that resolves there, or a
     * redirect, is caught too): OV_EINVAL "refused to connect to ...". 1: allow them
     * (OURVIDZ_FETCH_ALLOW_PRIVATE=1; tests on loopback, an internal image store). */
    int allow_private;
} ov_fetch_opts;

#define OV_FETCH_PROGRESS_MS 250

/* GET `url` into memory. `o` may be NULL (ov_fetch_opts_default). Returns 0 with *data (malloc'd, the caller
 * frees it; one NUL byte follows the body, not counted in *len) and *len; on failure *data is NULL, *len 0
 * and: OV_EINVAL     not http/https, malformed, or a host (first URL or redirect target) not allowed
 *   OV_ETIMEDOUT  the deadline passed (connect or transfer)
 *   OV_EIO        DNS/connect/TLS/transfer error, too many redirects, or an HTTP status other than 2xx
 *                 (the message says the status)
 *   OV_ERANGE     the body is larger than max_bytes
 *   OV_ECANCELED  the progress callback asked to stop
 *   OV_ENOMEM     allocation failed
 * err (may be NULL) gets one line that never holds the URL's query string, fragment or userinfo: URLs appear
 * only as ov_fetch_redact_url renders them. Blocking; thread-safe (one curl handle per call). */
int ov_fetch(const char *url, const ov_fetch_opts *o, void **data, size_t *len, char *err, size_t errlen);

/* The loggable form of a URL: scheme://host[:port]/path, with userinfo, query and fragment removed and the
 * path cut to OV_FETCH_REDACT_PATH_MAX bytes ("..." appended). Control bytes become '?'. Something that does
 * not look like scheme://... gives "(malformed url)". Always NUL-terminates out (outlen > 0). */
void ov_fetch_redact_url(const char *url, char *out, size_t outlen);

/* 1 when the socket address is one allow_private = 0 refuses (see above; IPv4-mapped IPv6 checked
 * as IPv4). */
struct sockaddr;
int ov_fetch_addr_private(const struct sockaddr *sa);

/* Fill the defaults above, then apply the environment: OURVIDZ_FETCH_MAX_BYTES (bytes, > 0),
 * OURVIDZ_FETCH_TIMEOUT_MS (> 0), OURVIDZ_FETCH_ALLOW_PRIVATE (1 allows private addresses),
 * OURVIDZ_FETCH_ALLOW_HOSTS (o->allow_hosts points into the environment:
 * valid until that variable is changed). Invalid values are logged (fetch_config_invalid) and ignored. */
void ov_fetch_opts_default(ov_fetch_opts *o);

/* 1 when `host` (as in a URL, IPv6 with or without brackets; case-insensitive; one trailing dot ignored)
 * passes `allow_hosts` (format above; NULL/"" allows everything), else 0. */
int ov_fetch_host_allowed(const char *allow_hosts, const char *host);

#endif
