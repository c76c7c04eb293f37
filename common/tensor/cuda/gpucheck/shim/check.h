/* The slice of the Check unit-test API (libcheck.github.io) the tensor suites use, for the
 * standalone GPU-check build on a machine without Check: each test runs in a forked child with an
 * alarm() timeout; a failed assertion prints file:line and the message, and fails that test only.
 * Output mimics Check's ("N%: Checks: n, Failures: f, Errors: e" and "file:line:F:..." lines). */
#ifndef OV_GPUCHECK_CHECK_H
#define OV_GPUCHECK_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct TTest {
    const char *name;
    void (*fn)(int);
} TTest;
typedef struct TCase TCase;
typedef struct Suite Suite;
typedef struct SRunner SRunner;
enum print_output { CK_SILENT, CK_MINIMAL, CK_NORMAL, CK_VERBOSE };

#define START_TEST(tname)                                                                                    \
    static void tname##_fn(int _i __attribute__((unused)));                                                  \
    static const TTest tname##_ttest = {#tname, tname##_fn};                                                 \
    static const TTest *tname = &tname##_ttest;                                                              \
    static void tname##_fn(int _i __attribute__((unused)))
#define END_TEST

Suite *suite_create(const char *name);
TCase *tcase_create(const char *name);
void tcase_set_timeout(TCase *tc, double seconds);
#define tcase_add_test(tc, t) ov_ck_add_test((tc), (t))
void ov_ck_add_test(TCase *tc, const TTest *t);
void suite_add_tcase(Suite *s, TCase *tc);
SRunner *srunner_create(Suite *s);
void srunner_run_all(SRunner *sr, enum print_output mode);
int srunner_ntests_failed(SRunner *sr);
void srunner_free(SRunner *sr);

/* Print "file:line:F:test:0: Assertion 'expr' failed: <message>" and end this test's process. */
void ov_ck_fail(const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));

#define ck_assert_msg(expr, ...)                                                                             \
    do {                                                                                                     \
        if (!(expr))                                                                                         \
            ov_ck_fail(__FILE__, __LINE__, #expr, __VA_ARGS__);                                              \
    } while (0)
#define ck_assert(expr) ck_assert_msg(expr, "%s", "")
#define OV_CK_CMP(T, F, a, op, b)                                                                            \
    do {                                                                                                     \
        T a_ = (T)(a);                                                                                       \
        T b_ = (T)(b);                                                                                       \
        if (!(a_ op b_))                                                                                     \
            ov_ck_fail(__FILE__, __LINE__, #a " " #op " " #b, "%s == " F ", %s == " F, #a, a_, #b, b_);      \
    } while (0)
#define ck_assert_int_eq(a, b) OV_CK_CMP(intmax_t, "%jd", a, ==, b)
#define ck_assert_int_ne(a, b) OV_CK_CMP(intmax_t, "%jd", a, !=, b)
#define ck_assert_int_lt(a, b) OV_CK_CMP(intmax_t, "%jd", a, <, b)
#define ck_assert_int_le(a, b) OV_CK_CMP(intmax_t, "%jd", a, <=, b)
#define ck_assert_int_gt(a, b) OV_CK_CMP(intmax_t, "%jd", a, >, b)
#define ck_assert_int_ge(a, b) OV_CK_CMP(intmax_t, "%jd", a, >=, b)
#define ck_assert_uint_eq(a, b) OV_CK_CMP(uintmax_t, "%ju", a, ==, b)
#define ck_assert_uint_ge(a, b) OV_CK_CMP(uintmax_t, "%ju", a, >=, b)
#define ck_assert_ptr_eq(a, b) OV_CK_CMP(const void *, "%p", a, ==, b)
#define ck_assert_ptr_ne(a, b) OV_CK_CMP(const void *, "%p", a, !=, b)
#define ck_assert_ptr_null(p) ck_assert_msg((p) == NULL, "%s is not NULL", #p)
#define ck_assert_ptr_nonnull(p) ck_assert_msg((p) != NULL, "%s is NULL", #p)

#endif
