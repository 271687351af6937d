/* A minimal test harness for sockloop's C tests: TEST() cases, CHECK()
 * assertions that report the failing expression with errno, and a main() that
 * runs every case in a child process of its own under a timeout, so that a
 * case that crashes or hangs is named while the rest of the file still runs
 * (as libuv's runner does). Each child also checks that its case left no fd
 * open. Ends with "N passed, N failed". Each file is one program.
 *
 * An optional fixture (RUN_TESTS_WITH) runs in the parent before and after
 * the cases, for state they share: the fds it opens are inherited by every
 * child. SL_TEST_TIMEOUT sets the seconds a case may take (default 60). */
#ifndef SL_TEST_HARNESS_H
#define SL_TEST_HARNESS_H

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* Exit codes of a case's child. */
enum { SL_CHILD_PASS = 0, SL_CHILD_FAIL = 1, SL_CHILD_LEAK = 2 };

/* In the child: the case, then its fd count. Never returns. */
static void sl_run_child(const struct sl_test *t) {
    int fds_before = sl_count_open_fds();
    sl_test_failed_now = 0;
    t->fn();
    fflush(NULL);
    if (sl_test_failed_now) exit(SL_CHILD_FAIL);
    int fds_after = sl_count_open_fds();
    if (fds_after != fds_before) {
        fprintf(stderr, "  fd leak: %d open before, %d after\n", fds_before, fds_after);
        exit(SL_CHILD_LEAK);
    }
    exit(SL_CHILD_PASS);
}

/* Waits for the child up to `seconds`; kills it after. Returns its wait
 * status, or -1 when it had to be killed. */
static int sl_wait_child(pid_t pid, int seconds) {
    struct timespec tick = {0, 2 * 1000 * 1000};
    long ticks = (long)seconds * 500;
    for (long i = 0; i <= ticks; i++) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0 && errno != EINTR) return -1;
        nanosleep(&tick, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static int sl_run_tests(const struct sl_test *tests, size_t count, const char *suite,
                        sl_test_fn setup, sl_test_fn teardown) {
    int passed = 0, failed = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *t = getenv("SL_TEST_TIMEOUT");
    int timeout = t ? atoi(t) : 60;
    if (setup) {
        sl_test_failed_now = 0;
        setup();
        if (sl_test_failed_now) {
            printf("FAIL setup\n%s: 0 passed, %zu failed\n", suite, count);
            return 1;
        }
    }
    for (size_t i = 0; i < count; i++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) sl_run_child(&tests[i]);
        int status = sl_wait_child(pid, timeout);
        const char *verdict = "ok  ";
        char why[64] = "";
        if (status == -1) {
            verdict = "FAIL";
            snprintf(why, sizeof why, " (hung: killed after %d s)", timeout);
        } else if (WIFSIGNALED(status)) {
            verdict = "FAIL";
            snprintf(why, sizeof why, " (crashed: signal %d, %s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
        } else if (WEXITSTATUS(status) == SL_CHILD_LEAK) {
            verdict = "FAIL";
            snprintf(why, sizeof why, " (left fds open)");
        } else if (WEXITSTATUS(status) != SL_CHILD_PASS) {
            verdict = "FAIL";
            if (WEXITSTATUS(status) != SL_CHILD_FAIL) snprintf(why, sizeof why, " (exit %d)", WEXITSTATUS(status));
        }
        printf("%s %s%s\n", verdict, tests[i].name, why);
        if (verdict[0] == 'F') failed++; else passed++;
    }
    if (teardown) teardown();
    printf("%s: %d passed, %d failed\n", suite, passed, failed);
    return failed ? 1 : 0;
}

#define TEST(name) static void name(void)
#define RUN_TESTS(suite, ...) RUN_TESTS_WITH(suite, NULL, NULL, __VA_ARGS__)
#define RUN_TESTS_WITH(suite, setup, teardown, ...) int main(void) { \
    static const struct sl_test tests[] = { __VA_ARGS__ }; \
    return sl_run_tests(tests, sizeof tests / sizeof tests[0], suite, setup, teardown); }
#define T(name) { #name, name }

#endif
