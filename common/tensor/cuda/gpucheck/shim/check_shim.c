/* The Check-compatible runner of shim/check.h: fork per test, alarm() timeout, Check-like output. */
#include "check.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TESTS 256

struct TCase {
    const char *name;
    double timeout;
    const TTest *tests[MAX_TESTS];
    int n;
};

struct Suite {
    const char *name;
    TCase *tcs[16];
    int n;
};

struct SRunner {
    Suite *s;
    int run, failed, errors;
};

Suite *suite_create(const char *name)
{
    Suite *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->name = name;
    return s;
}

TCase *tcase_create(const char *name)
{
    TCase *tc = calloc(1, sizeof *tc);
    if (!tc)
        abort();
    tc->name = name;
    tc->timeout = getenv("CK_DEFAULT_TIMEOUT") ? strtod(getenv("CK_DEFAULT_TIMEOUT"), NULL) : 4.0;
    return tc;
}

void tcase_set_timeout(TCase *tc, double seconds)
{
    tc->timeout = seconds;
}

void ov_ck_add_test(TCase *tc, const TTest *t)
{
    if (tc->n < MAX_TESTS)
        tc->tests[tc->n++] = t;
}

void suite_add_tcase(Suite *s, TCase *tc)
{
    if (s->n < 16)
        s->tcs[s->n++] = tc;
}

SRunner *srunner_create(Suite *s)
{
    SRunner *sr = calloc(1, sizeof *sr);
    if (!sr)
        abort();
    sr->s = s;
    return sr;
}

static const char *g_test = "?";

void ov_ck_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s:%d:F:%s:0: Assertion '%s' failed: %s\n", file, line, g_test, expr, msg);
    fflush(stderr);
    _exit(1);
}

void srunner_run_all(SRunner *sr, enum print_output mode)
{
    printf("Running suite(s): %s\n", sr->s->name);
    fflush(stdout);
    for (int c = 0; c < sr->s->n; c++) {
        TCase *tc = sr->s->tcs[c];
        for (int i = 0; i < tc->n; i++) {
            const TTest *t = tc->tests[i];
            sr->run++;
            pid_t pid = fork();
            if (pid < 0) {
                sr->errors++;
                continue;
            }
            if (pid == 0) {
                g_test = t->name;
                alarm((unsigned)(tc->timeout + 0.999));
                t->fn(0);
                fflush(NULL);
                _exit(0);
            }
            int st = 0;
            while (waitpid(pid, &st, 0) < 0)
                ;
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
                if (mode == CK_VERBOSE)
                    printf("%s:P: passed\n", t->name);
                continue;
            }
            if (WIFEXITED(st)) {
                sr->failed++;
            } else {
                sr->errors++;
                fprintf(stderr, "%s:E: %s\n", t->name,
                        WTERMSIG(st) == SIGALRM ? "test timeout expired" : strsignal(WTERMSIG(st)));
            }
        }
    }
    int bad = sr->failed + sr->errors;
    printf("%d%%: Checks: %d, Failures: %d, Errors: %d\n", sr->run ? 100 * (sr->run - bad) / sr->run : 100,
           sr->run, sr->failed, sr->errors);
    fflush(stdout);
}

int srunner_ntests_failed(SRunner *sr)
{
    return sr->failed + sr->errors;
}

void srunner_free(SRunner *sr)
{
    if (!sr)
        return;
    for (int c = 0; c < sr->s->n; c++)
        free(sr->s->tcs[c]);
    free(sr->s);
    free(sr);
}
