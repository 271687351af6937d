/* The version a program runs with equals the header it was compiled against:
 * sl_version() == SL_VERSION_NUM, sl_version_string() == SL_VERSION_STRING, and
 * both agree with SL_VERSION_MAJOR/MINOR/PATCH (tests/header.rs holds those
 * equal to Cargo.toml). Prints the loaded version, as a program would. */
#include <stdio.h>
#include <string.h>

#include "sockloop.h"
#include "harness.h"

/* The numeric macro is an integer literal, usable by the preprocessor. */
#if SL_VERSION_NUM != ((SL_VERSION_MAJOR << 16) | (SL_VERSION_MINOR << 8) | SL_VERSION_PATCH)
#error "SL_VERSION_NUM disagrees with SL_VERSION_MAJOR/MINOR/PATCH"
#endif

/* Every numeric constant works in the preprocessor. */
#if SL_FRAME_MAX_PAYLOAD != 4294967295 || SL_FRAME_HEADER_LEN != 4
#error "SL_FRAME_MAX_PAYLOAD or SL_FRAME_HEADER_LEN unusable in #if"
#endif
#if !(SL_READ && SL_WRITE && SL_CONN_OWN_FD && SL_ACCEPT_NONBLOCK && SL_ADDRSTRLEN)
#error "a constant is unusable in #if"
#endif

TEST(runtime_number_equals_the_header) {
    printf("     loaded sockloop %s (0x%06x); compiled against %s (0x%06x)\n",
           sl_version_string(), sl_version(), SL_VERSION_STRING, (unsigned)SL_VERSION_NUM);
    CHECK(sl_version() == SL_VERSION_NUM);
    CHECK(sl_version() >> 16 == SL_VERSION_MAJOR);
    CHECK((sl_version() >> 8 & 0xff) == SL_VERSION_MINOR);
    CHECK((sl_version() & 0xff) == SL_VERSION_PATCH);
}

TEST(runtime_string_equals_the_header) {
    char parts[32];
    const char *loaded = sl_version_string();
    CHECK(loaded != NULL);
    CHECK(strcmp(loaded, SL_VERSION_STRING) == 0);
    snprintf(parts, sizeof parts, "%d.%d.%d", SL_VERSION_MAJOR, SL_VERSION_MINOR, SL_VERSION_PATCH);
    CHECK(strncmp(loaded, parts, strlen(parts)) == 0);
}

TEST(string_is_static) {
    const char *first = sl_version_string();
    CHECK(first == sl_version_string());
}

RUN_TESTS("version", T(runtime_number_equals_the_header), T(runtime_string_equals_the_header), T(string_is_static))
