/* Tests for common/: error names, log lines and secret redaction, capped buffers, JSON, config. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/error.h"
#include "common/log.h"

/* Capture log output through a pipe. */
static char *capture_log(void (*emit)(void))
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ov_log_set_fd(p[1]);
    emit();
    ov_log_set_fd(2);
    close(p[1]);
    static char out[8192];
    ssize_t n = read(p[0], out, sizeof out - 1);
    close(p[0]);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

static void emit_secret(void)
{
    ov_log_add_secret("s3cr3t-token-value");
    ov_log(OV_LOG_ERR, "upload_failed", "url=https://x/?key=s3cr3t-token-value reason=\"a\nb\" twice=s3cr3t-token-value");
}

START_TEST(log_redacts_secrets_and_keeps_one_line)
{
    ov_log_init("test");
    char *out = capture_log(emit_secret);
    ck_assert_ptr_null(strstr(out, "s3cr3t"));
    ck_assert_ptr_nonnull(strstr(out, "key=***"));
    ck_assert_ptr_nonnull(strstr(out, "twice=***"));
    ck_assert_ptr_nonnull(strstr(out, "level=err comp=test event=upload_failed"));
    char *nl = strchr(out, '\n');
    ck_assert_ptr_nonnull(nl);
    ck_assert_str_eq(nl + 1, ""); /* exactly one line */
}
END_TEST

static void emit_debug(void) { ov_log(OV_LOG_DEBUG, "noise", "x=1"); }
static void emit_prefixed(void) { ov_log(OV_LOG_WARN, "w", "x=1"); }

START_TEST(log_level_filter_and_journald_prefix)
{
    ov_log_set_level(OV_LOG_INFO);
    ck_assert_str_eq(capture_log(emit_debug), "");
    setenv("OURVIDZ_LOG_PREFIX", "1", 1);
    char *out = capture_log(emit_prefixed); /* fresh process (fork mode): prefix decided now */
    ck_assert_int_eq(strncmp(out, "<4>level=warn", 13), 0);
    int level;
    ck_assert_int_eq(ov_log_parse_level("debug", &level), 0);
    ck_assert_int_eq(level, OV_LOG_DEBUG);
    ck_assert_int_eq(ov_log_parse_level("loud", &level), OV_EINVAL);
}
END_TEST

START_TEST(errors_have_names)
{
    ck_assert_str_eq(ov_errname(OV_EPROTO), "EPROTO");
    ck_assert_str_eq(ov_errname(12345), "EUNKNOWN");
    ck_assert_str_ne(ov_strerror(OV_ECONFIG), "unknown error");
}
END_TEST

START_TEST(buf_cap_is_hard)
{
    ov_buf b;
    ov_buf_init(&b, 10);
    ck_assert_int_eq(ov_buf_puts(&b, "12345"), 0);
    ck_assert_int_eq(ov_buf_puts(&b, "123456"), OV_ENOMEM);
    ck_assert_int_eq(b.len, 5);
    ck_assert_str_eq(b.data, "12345");
    ck_assert_int_eq(ov_buf_printf(&b, "%05d", 42), 0);
    ck_assert_str_eq(b.data, "1234500042");
    ck_assert_int_eq(ov_buf_printf(&b, "x"), OV_ENOMEM);
    ov_buf_free(&b);
}
END_TEST

START_TEST(json_strings_are_valid)
{
    ov_buf b;
    ov_buf_init(&b, 1 << 16);
    const char nasty[] = "q\"b\\s\n\t\x01 \xC3\xA9 \xFF\xFE end \xE2\x82";
    ov_buf_puts(&b, "{");
    ov_json_key(&b, "s");
    ov_json_str(&b, nasty);
    ov_buf_puts(&b, ",");
    ov_json_key(&b, "d");
    ov_json_double(&b, 1.0 / 0.0);
    ov_buf_puts(&b, ",");
    ov_json_key(&b, "i");
    ov_json_int(&b, -42);
    ov_buf_puts(&b, "}");
    json_error_t e;
    json_t *j = json_loads(b.data, 0, &e);
    ck_assert_msg(j != NULL, "invalid JSON: %s (%s)", e.text, b.data);
    ck_assert(json_is_null(json_object_get(j, "d")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "i")), -42);
    const char *s = json_string_value(json_object_get(j, "s"));
    ck_assert_int_eq(strncmp(s, "q\"b\\s\n\t\x01 \xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD end", 21), 0);
    json_decref(j);
    ov_buf_free(&b);
}
END_TEST

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/ovcfgXXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

START_TEST(config_file_values_and_env_override)
{
    char *p = write_tmp("# comment\n[supervisor]\nruntime_dir = /tmp/ovx\ndrain_timeout = 2m\n"
                        "[worker.wan]\ninstances = 2\ngpus = 0, 1\nvram_budget = 20G\n"
                        "[heartbeat]\ninterval = 250ms\n");
    ov_config c;
    char err[256];
    setenv("OURVIDZ_WORKER_SDXL_INSTANCES", "3", 1);
    setenv("OURVIDZ_RESTART_BACKOFF_MAX", "30s", 1);
    int rc = ov_config_load(&c, p, err, sizeof err);
    unlink(p);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_str_eq(c.runtime_dir, "/tmp/ovx");
    ck_assert_int_eq(c.drain_timeout_ms, 120000);
    ck_assert_int_eq(c.workers[OV_KIND_WAN].instances, 2);
    ck_assert_int_eq(c.workers[OV_KIND_WAN].ngpus, 2);
    ck_assert_int_eq(c.workers[OV_KIND_WAN].gpus[1], 1);
    ck_assert_int_eq(c.workers[OV_KIND_WAN].vram_budget_bytes, 20LL << 30);
    ck_assert_int_eq(c.workers[OV_KIND_SDXL].instances, 3);
    ck_assert_int_eq(c.backoff_max_ms, 30000);
    ck_assert_int_eq(c.heartbeat_interval_ms, 250);
    ck_assert_str_eq(c.storage_layout, "legacy");
    ck_assert_str_eq(c.redis_wan_queue, "wan_queue");
    char err2[256];
    ck_assert_int_eq(ov_config_set(&c, "storage", "layout", "workspace", "t", err2, sizeof err2), 0);
    ck_assert_str_eq(c.storage_layout, "workspace");
    setenv("REDIS_URL", "unix:///tmp/r.sock", 1);
    ck_assert_int_eq(ov_config_load(&c, NULL, err2, sizeof err2), 0);
    ck_assert_str_eq(c.redis_url, "unix:///tmp/r.sock");
}
END_TEST

static void expect_config_error(const char *text, const char *needle)
{
    char *p = write_tmp(text);
    ov_config c;
    char err[256] = "";
    int rc = ov_config_load(&c, p, err, sizeof err);
    ck_assert_int_eq(rc, OV_ECONFIG);
    ck_assert_msg(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
    /* every error that comes from a line of the file names the file */
    if (needle[0] == ':')
        ck_assert_msg(strstr(err, p) != NULL, "error '%s' does not name %s", err, p);
    unlink(p);
}

START_TEST(config_errors_name_file_and_line)
{
    expect_config_error("[supervisor]\nspawn_workers = true\nbogus = 1\n", ":3: unknown key 'bogus' in [supervisor]");
    expect_config_error("[nope]\n", ":1: unknown section [nope]");
    expect_config_error("[worker.wan]\ninstances = 99\n", ":2: worker.wan.instances = 99 is out of range");
    expect_config_error("[worker.gpt]\n", ":1: unknown section [worker.gpt]");
    expect_config_error("[heartbeat]\ninterval = fast\n", ":2: heartbeat.interval must be a duration");
    expect_config_error("[worker.sdxl]\ngpus = 0,,1\n", ":2: worker.sdxl.gpus must be");
    expect_config_error("instances = 1\n", ":1: key 'instances' outside any [section]");
    expect_config_error("[supervisor]\nlog_level = loud\n", ":2: supervisor.log_level must be");
    expect_config_error("[restart]\nbackoff_initial = 10s\nbackoff_max = 1s\n", "backoff_initial");
    expect_config_error("[storage]\nlayout = flat\n", ":2: storage.layout must be one of legacy|workspace, not 'flat'");
}
END_TEST

START_TEST(config_env_error_names_variable)
{
    ov_config c;
    char err[256];
    setenv("OURVIDZ_WORKER_QWEN_ENABLED", "maybe", 1);
    ck_assert_int_eq(ov_config_load(&c, NULL, err, sizeof err), OV_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "OURVIDZ_WORKER_QWEN_ENABLED"));
    unsetenv("OURVIDZ_WORKER_QWEN_ENABLED");
    ck_assert_int_eq(ov_config_load(&c, "/nonexistent/ourvidz.conf", err, sizeof err), OV_ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/ourvidz.conf"));
}
END_TEST

START_TEST(config_shipped_file_loads)
{
    const char *src = getenv("OURVIDZ_SOURCE_DIR");
    ck_assert_ptr_nonnull(src);
    char path[1024];
    snprintf(path, sizeof path, "%s/config/ourvidz.conf", src);
    ov_config c;
    char err[256];
    int rc = ov_config_load(&c, path, err, sizeof err);
    ck_assert_msg(rc == 0, "%s", err);
}
END_TEST

START_TEST(parsers)
{
    int64_t v;
    ck_assert_int_eq(ov_parse_duration_ms("1h", &v), 0);
    ck_assert_int_eq(v, 3600000);
    ck_assert_int_eq(ov_parse_duration_ms("-1s", &v), OV_EINVAL);
    ck_assert_int_eq(ov_parse_size_bytes("512MiB", &v), 0);
    ck_assert_int_eq(v, 512LL << 20);
    ck_assert_int_ne(ov_parse_size_bytes("99999999999999999999G", &v), 0);
    ck_assert_int_eq(ov_parse_int64("12x", &v), OV_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("common");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, log_redacts_secrets_and_keeps_one_line);
    tcase_add_test(tc, log_level_filter_and_journald_prefix);
    tcase_add_test(tc, errors_have_names);
    tcase_add_test(tc, buf_cap_is_hard);
    tcase_add_test(tc, json_strings_are_valid);
    tcase_add_test(tc, config_file_values_and_env_override);
    tcase_add_test(tc, config_errors_name_file_and_line);
    tcase_add_test(tc, config_env_error_names_variable);
    tcase_add_test(tc, config_shipped_file_loads);
    tcase_add_test(tc, parsers);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
