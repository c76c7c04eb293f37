/* OV_ASSERT: an invariant check that logs file and line, then aborts (Redis serverAssert). */
#ifndef OV_ASSERT_H
#define OV_ASSERT_H

_Noreturn void ov_assert_fail(const char *expr, const char *file, int line);

#define OV_ASSERT(e) ((e) ? (void)0 : ov_assert_fail(#e, __FILE__, __LINE__))

#endif
