/* The harness itself: a case that crashes, one that hangs, one that fails, one
 * that leaks an fd, and cases that pass around them. Run by `make test-c`
 * with SL_TEST_TIMEOUT=1, which checks (tests/c/selftest/check.sh) that each
 * bad case is named with its reason and that every good case still ran. */
#include "../harness.h"

TEST(passes_before) { CHECK(1 + 1 == 2); }
TEST(crashes) {
    volatile int *nowhere = NULL;
    *nowhere = 1;
}
TEST(hangs) {
    for (;;) pause();
}
TEST(fails) { CHECK(1 + 1 == 3); }
TEST(leaks_an_fd) { CHECK(dup(1) >= 0); }
TEST(passes_after) { CHECK(2 + 2 == 4); }

RUN_TESTS("harness_selftest", T(passes_before), T(crashes), T(hangs), T(fails), T(leaks_an_fd), T(passes_after))
