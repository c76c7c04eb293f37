/* Logging: formats one key=value line per event and writes it with a single write(2). */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "assert.h"
#include "error.h"

#define OV_LOG_LINE_MAX 4096
#define OV_LOG_SECRETS_MAX 16

static char g_component[64] = "ourvidz";
static int g_level = OV_LOG_INFO;
static int g_fd = 2;
static int g_prefix = -1; /* -1: decide at first line from $JOURNAL_STREAM */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static char *g_secrets[OV_LOG_SECRETS_MAX];
static int g_nsecrets;

static const char *level_name(int level)
{
    switch (level) {
    case OV_LOG_ERR: return "err";
    case OV_LOG_WARN: return "warn";
    case OV_LOG_NOTICE: return "notice";
    case OV_LOG_INFO: return "info";
    default: return "debug";
    }
}

int ov_log_parse_level(const char *s, int *level_out)
{
    static const char *names[] = {"err", "warn", "notice", "info", "debug"};
    for (int i = 0; i < 5; i++) {
        if (s && strcmp(s, names[i]) == 0) {
            *level_out = OV_LOG_ERR + i;
            return 0;
        }
    }
    return OV_EINVAL;
}

void ov_log_init(const char *component)
{
    if (component)
        snprintf(g_component, sizeof g_component, "%s", component);
    const char *lv = getenv("OURVIDZ_LOG_LEVEL");
    int level;
    if (lv && ov_log_parse_level(lv, &level) == 0)
        g_level = level;
}

void ov_log_set_level(int level)
{
    if (level < OV_LOG_ERR)
        level = OV_LOG_ERR;
    if (level > OV_LOG_DEBUG)
        level = OV_LOG_DEBUG;
    g_level = level;
}

int ov_log_get_level(void) { return g_level; }

void ov_log_set_fd(int fd) { g_fd = fd; }

void ov_log_add_secret(const char *secret)
{
    if (!secret || strlen(secret) < 4)
        return;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < g_nsecrets; i++) {
        if (strcmp(g_secrets[i], secret) == 0) {
            pthread_mutex_unlock(&g_lock);
            return;
        }
    }
    if (g_nsecrets < OV_LOG_SECRETS_MAX) {
        char *copy = strdup(secret);
        if (copy)
            g_secrets[g_nsecrets++] = copy;
    }
    pthread_mutex_unlock(&g_lock);
}

void ov_log_clear_secrets(void)
{
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < g_nsecrets; i++)
        free(g_secrets[i]);
    g_nsecrets = 0;
    pthread_mutex_unlock(&g_lock);
}

/* Replace every registered secret in line[0..len) in place (the mask is never longer). */
static size_t redact(char *line, size_t len)
{
    for (int i = 0; i < g_nsecrets; i++) {
        size_t sl = strlen(g_secrets[i]);
        char *p = line;
        while ((p = memmem(p, len - (size_t)(p - line), g_secrets[i], sl)) != NULL) {
            memcpy(p, "***", 3);
            memmove(p + 3, p + sl, len - (size_t)(p - line) - sl);
            len -= sl - 3;
            p += 3;
        }
    }
    return len;
}

const char *ov_log_escape(char *buf, unsigned long n, const char *s)
{
    OV_ASSERT(n >= 8);
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        char tmp[8];
        size_t tl;
        if (*p == '"' || *p == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)*p;
            tl = 2;
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(tmp, sizeof tmp, "\\x%02x", *p);
            tl = 4;
        } else {
            tmp[0] = (char)*p;
            tl = 1;
        }
        if (o + tl + 4 > n) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(buf + o, tmp, tl);
        o += tl;
    }
    buf[o] = '\0';
    return buf;
}

void ov_logv(int level, const char *event, const char *fmt, va_list ap)
{
    if (level > g_level)
        return;
    if (g_prefix < 0)
        g_prefix = getenv("JOURNAL_STREAM") != NULL || getenv("OURVIDZ_LOG_PREFIX") != NULL;

    char line[OV_LOG_LINE_MAX];
    size_t len = 0;
    int n;
    if (g_prefix) {
        n = snprintf(line, sizeof line, "<%d>", level);
    } else {
        struct timeval tv;
        struct tm tm;
        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
    }
    len = (size_t)(n > 0 ? n : 0);
    n = snprintf(line + len, sizeof line - len, "level=%s comp=%s event=%s", level_name(level), g_component,
                 event ? event : "log");
    if (n > 0)
        len += (size_t)n;
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    if (fmt && *fmt && len < sizeof line - 3) {
        line[len++] = ' ';
        n = vsnprintf(line + len, sizeof line - len, fmt, ap);
        if (n > 0)
            len += (size_t)n;
        if (len > sizeof line - 2)
            len = sizeof line - 2;
    }
    for (size_t i = 0; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';

    pthread_mutex_lock(&g_lock);
    len = redact(line, len);
    line[len++] = '\n';
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(g_fd, line + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    pthread_mutex_unlock(&g_lock);
}

void ov_log(int level, const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ov_logv(level, event, fmt, ap);
    va_end(ap);
}

_Noreturn void ov_assert_fail(const char *expr, const char *file, int line)
{
    ov_log(OV_LOG_ERR, "assert_failed", "expr=\"%s\" file=%s line=%d", expr, file, line);
    abort();
}
