/* A minimal test harness for sockloop's C tests: TEST() cases, CHECK()
 * assertions that report the failing expression with errno, and a main() that
 * runs every case and ends with "N passed, N failed". Each file is one program. */
#ifndef SL_TEST_HARNESS_H
#define SL_TEST_HARNESS_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*sl_test_fn)(void);
struct sl_test { const char *name; sl_test_fn fn; };

static int sl_test_failed_now;

#define CHECK(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "  %s:%d: CHECK(%s) failed (errno %d: %s)\n", \
                __FILE__, __LINE__, #cond, errno, strerror(errno)); \
        sl_test_failed_now = 1; return; \
    } } while (0)

/* Checks that a call failed with -1 (or NULL) and the given errno. */
#define CHECK_ERR(expr, err) do { \
    errno = 0; long long sl_rc_ = (long long)(expr); int sl_e_ = errno; \
    if (sl_rc_ != -1 || sl_e_ != (err)) { \
        fprintf(stderr, "  %s:%d: %s returned %lld errno %d (%s), wanted -1 errno %d (%s)\n", \
                __FILE__, __LINE__, #expr, sl_rc_, sl_e_, strerror(sl_e_), (err), strerror(err)); \
        sl_test_failed_now = 1; return; \
    } } while (0)

/* True under valgrind (the Makefile sets SL_TEST_SLOW): tests shrink their
 * sizes and signal rates so they finish in seconds, not minutes. */
static inline int sl_test_slow(void) { return getenv("SL_TEST_SLOW") != NULL; }

/* Open file descriptors of this process, for leak checks. */
static inline int sl_count_open_fds(void) {
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

static int sl_run_tests(const struct sl_test *tests, size_t count, const char *suite) {
    int passed = 0, failed = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    int fds_before = sl_count_open_fds();
    for (size_t i = 0; i < count; i++) {
        sl_test_failed_now = 0;
        tests[i].fn();
        printf("%s %s\n", sl_test_failed_now ? "FAIL" : "ok  ", tests[i].name);
        if (sl_test_failed_now) failed++; else passed++;
    }
    int fds_after = sl_count_open_fds();
    if (fds_after != fds_before) {
        printf("FAIL fd leak: %d open before, %d after\n", fds_before, fds_after);
        failed++;
    } else {
        printf("ok   no fds leaked (%d open)\n", fds_after);
        passed++;
    }
    printf("%s: %d passed, %d failed\n", suite, passed, failed);
    return failed ? 1 : 0;
}

#define TEST(name) static void name(void)
#define RUN_TESTS(suite, ...) int main(void) { \
    static const struct sl_test tests[] = { __VA_ARGS__ }; \
    return sl_run_tests(tests, sizeof tests / sizeof tests[0], suite); }
#define T(name) { #name, name }

#endif
