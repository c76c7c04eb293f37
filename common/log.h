/* Logging: one line per event, key=value fields, journald priority prefixes, secrets redacted. */
#ifndef OV_LOG_H
#define OV_LOG_H

#include <stdarg.h>

/* syslog priorities, as journald reads them from a "<N>" line prefix (sd-daemon(3)). */
enum ov_log_level {
    OV_LOG_ERR = 3,
    OV_LOG_WARN = 4,
    OV_LOG_NOTICE = 5,
    OV_LOG_INFO = 6,
    OV_LOG_DEBUG = 7
};

/* Set the component name printed as comp=NAME (copied; "supervisor", "wan.0"). Call once at start. */
void ov_log_init(const char *component);
/* Lines above this level are dropped. Default OV_LOG_INFO, or $OURVIDZ_LOG_LEVEL at init. */
void ov_log_set_level(int level);
int ov_log_get_level(void);
/* "err|warn|notice|info|debug" -> level. Returns 0 or OV_EINVAL. */
int ov_log_parse_level(const char *s, int *level_out);
/* Send lines to this fd instead of stderr (the caller keeps ownership of the fd). */
void ov_log_set_fd(int fd);
/* Register a secret (copied): every later line has each occurrence replaced by "***".
 * Secrets shorter than 4 bytes are ignored (they would redact ordinary text). Thread-safe. */
void ov_log_add_secret(const char *secret);
/* Forget all registered secrets (tests). */
void ov_log_clear_secrets(void);

/* Write one event: `event` is a short snake_case name; fmt/... render the key=value fields.
 * Values that may hold spaces should be quoted by the caller ("reason=\"%s\""); newlines in the
 * rendered line are replaced so one event is always one line. Thread-safe; one write(2) per line. */
void ov_log(int level, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ov_logv(int level, const char *event, const char *fmt, va_list ap);

#define OV_LOG_ERROR(ev, ...) ov_log(OV_LOG_ERR, ev, __VA_ARGS__)
#define OV_LOG_WARNING(ev, ...) ov_log(OV_LOG_WARN, ev, __VA_ARGS__)
#define OV_LOG_NOTE(ev, ...) ov_log(OV_LOG_NOTICE, ev, __VA_ARGS__)
#define OV_LOG_INFO_(ev, ...) ov_log(OV_LOG_INFO, ev, __VA_ARGS__)
#define OV_LOG_DBG(ev, ...) ov_log(OV_LOG_DEBUG, ev, __VA_ARGS__)

/* Copy `s` into buf (size n) made safe as a log value: quotes and backslashes escaped,
 * control characters as \xNN, truncated with "..." past n-1. Returns buf. */
const char *ov_log_escape(char *buf, unsigned long n, const char *s);

#endif
