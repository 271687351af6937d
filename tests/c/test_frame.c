/* sl_send_frame / sl_recv_frame from C: sizes, the wire format, limits,
 * end of stream, timeouts and bad arguments, over socketpairs. */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sockloop.h"
#include "harness.h"

static void fill_pattern(unsigned char *buf, size_t len, uint32_t seed) {
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (unsigned char)(seed >> 16);
    }
}

TEST(frames_of_every_size_round_trip_through_a_forked_sender) {
    const size_t sizes[] = {0, 1, 64, 2044, 2045, 70000, 3u << 20};
    const size_t count = sizeof sizes / sizeof sizes[0];
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        int ok = 1;
        for (size_t i = 0; i < count && ok; i++) {
            unsigned char *p = malloc(sizes[i] + 1);
            size_t sent = 0;
            fill_pattern(p, sizes[i], (uint32_t)i);
            ok = p && sl_send_frame(sv[1], p, sizes[i], 5000, &sent) == (ssize_t)sizes[i]
                 && sent == sizes[i] + SL_FRAME_HEADER_LEN;
            free(p);
        }
        close(sv[1]);
        _exit(ok ? 0 : 1);
    }
    close(sv[1]);
    unsigned char *buf = malloc(4u << 20), *want = malloc(4u << 20);
    CHECK(buf && want);
    for (size_t i = 0; i < count; i++) {
        size_t got = 0;
        fill_pattern(want, sizes[i], (uint32_t)i);
        CHECK(sl_recv_frame(sv[0], buf, 4u << 20, 5000, &got) == (ssize_t)sizes[i]);
        CHECK(got == sizes[i] + 4 && memcmp(buf, want, sizes[i]) == 0);
    }
    size_t got = 99;
    CHECK_ERR(sl_recv_frame(sv[0], buf, 16, 5000, &got), EPIPE);
    CHECK(got == 0); /* ended cleanly between frames */
    free(buf);
    free(want);
    close(sv[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(the_wire_format_is_a_big_endian_length_then_the_payload) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(sl_send_frame(sv[0], "hey", 3, 1000, NULL) == 3);
    CHECK(sl_send_frame(sv[0], NULL, 0, 1000, NULL) == 0);
    unsigned char raw[16];
    CHECK(recv(sv[1], raw, sizeof raw, 0) == 11);
    CHECK(memcmp(raw, "\0\0\0\3hey\0\0\0\0", 11) == 0);
    CHECK(sl_get_u32be(raw) == 3);
    close(sv[0]);
    close(sv[1]);
}

TEST(an_oversized_frame_is_emsgsize_with_the_header_handed_back) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(write(sv[1], "\0\0\0\x0a" "0123456789", 14) == 14);
    char buf[8];
    size_t got = 0;
    CHECK_ERR(sl_recv_frame(sv[0], buf, sizeof buf, 1000, &got), EMSGSIZE);
    CHECK(got == 4 && sl_get_u32be(buf) == 10);
    /* The payload was left unread: read it to go on. */
    CHECK(sl_recv_exact(sv[0], buf, 8, 1000, NULL) == 8 && memcmp(buf, "01234567", 8) == 0);
    CHECK(sl_recv_exact(sv[0], buf, 2, 1000, NULL) == 2);
    /* A declared 4 GiB: refused from the header, nothing allocated. */
    CHECK(write(sv[1], "\xff\xff\xff\xff", 4) == 4);
    CHECK_ERR(sl_recv_frame(sv[0], buf, sizeof buf, 1000, &got), EMSGSIZE);
    CHECK(got == 4);
    close(sv[0]);
    close(sv[1]);
}

TEST(sending_more_than_4_gib_minus_1_is_emsgsize_and_sends_nothing) {
    if (sl_test_slow()) return; /* valgrind cannot map 4 GiB */
    size_t len = (size_t)UINT32_MAX + 1;
    void *big = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(big != MAP_FAILED);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    size_t sent = 99;
    CHECK_ERR(sl_send_frame(sv[0], big, len, 1000, &sent), EMSGSIZE);
    CHECK(sent == 0);
    char probe;
    CHECK_ERR(recv(sv[1], &probe, 1, MSG_DONTWAIT), EAGAIN);
    munmap(big, len);
    close(sv[0]);
    close(sv[1]);
}

TEST(timeouts_and_end_of_stream_report_the_bytes_received) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    char buf[16];
    size_t got = 99;
    CHECK_ERR(sl_recv_frame(sv[0], buf, sizeof buf, 0, &got), EAGAIN);
    CHECK(got == 0);
    CHECK(write(sv[1], "\0\0\0\5ab", 6) == 6);
    CHECK_ERR(sl_recv_frame(sv[0], buf, sizeof buf, 30, &got), ETIMEDOUT);
    CHECK(got == 6 && memcmp(buf, "ab", 2) == 0);
    CHECK(write(sv[1], "\0", 1) == 1);
    close(sv[1]);
    CHECK_ERR(sl_recv_frame(sv[0], buf, sizeof buf, 1000, &got), EPIPE);
    CHECK(got == 1);
    close(sv[0]);
}

TEST(bad_arguments_are_einval_and_a_gone_peer_is_epipe) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    size_t done = 5;
    CHECK_ERR(sl_send_frame(sv[0], NULL, 1, 0, &done), EINVAL);
    CHECK(done == 0);
    CHECK_ERR(sl_send_frame(-1, "x", 1, 0, NULL), EINVAL);
    CHECK_ERR(sl_send_frame(sv[0], "x", 1, -5, NULL), EINVAL);
    CHECK_ERR(sl_recv_frame(sv[0], NULL, 1, 0, NULL), EINVAL);
    CHECK_ERR(sl_recv_frame(-3, NULL, 0, 0, NULL), EINVAL);
    close(sv[1]);
    CHECK_ERR(sl_send_frame(sv[0], "x", 1, 1000, NULL), EPIPE);
    close(sv[0]);
    CHECK_ERR(sl_send_frame(sv[0], "x", 1, 1000, NULL), EBADF);
}

/* Issue 17 item 7: a frame cut at every split point, mid-header and
 * mid-payload, by EAGAIN and by ETIMEDOUT, then finished: every byte intact,
 * and nothing read past the frame. */
TEST(a_resumed_frame_loses_nothing_at_any_split_point) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    unsigned char wire[4 + 19];
    sl_put_u32be(wire, 19);
    fill_pattern(wire + 4, 19, 7);
    for (size_t cut = 0; cut < sizeof wire; cut++) {
        for (int timeout_ms = 0; timeout_ms <= 3; timeout_ms += 3) {
            unsigned char buf[32];
            sl_frame_progress p = {0};
            if (cut > 0) CHECK(write(sv[1], wire, cut) == (ssize_t)cut);
            CHECK_ERR(sl_recv_frame_resume(sv[0], buf, sizeof buf, timeout_ms, &p),
                      timeout_ms == 0 ? EAGAIN : ETIMEDOUT);
            CHECK(p.received == cut);
            CHECK(p.declared == (cut >= 4 ? 19u : 0u));
            CHECK(memcmp(p.prefix, wire, cut < 4 ? cut : 4) == 0);
            CHECK(cut <= 4 || memcmp(buf, wire + 4, cut - 4) == 0);
            CHECK(write(sv[1], wire + cut, sizeof wire - cut) == (ssize_t)(sizeof wire - cut));
            CHECK(write(sv[1], "!", 1) == 1); /* the next frame's first byte */
            CHECK(sl_recv_frame_resume(sv[0], buf, sizeof buf, 1000, &p) == 19);
            CHECK(memcmp(buf, wire + 4, 19) == 0);
            CHECK(p.received == 0 && p.declared == 0);
            char next[2];
            CHECK(recv(sv[0], next, sizeof next, MSG_DONTWAIT) == 1 && next[0] == '!');
        }
    }
    close(sv[0]);
    close(sv[1]);
}

TEST(a_resumed_frame_too_large_goes_on_with_a_larger_buffer) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(write(sv[1], "\0\0\0\12hello", 9) == 9);
    sl_frame_progress p = {0};
    char small[4], big[10];
    CHECK_ERR(sl_recv_frame_resume(sv[0], small, sizeof small, 100, &p), EMSGSIZE);
    CHECK(p.received == 4 && p.declared == 10);
    CHECK_ERR(sl_recv_frame_resume(sv[0], big, sizeof big, 0, &p), EAGAIN);
    CHECK(p.received == 9);
    CHECK(write(sv[1], "world", 5) == 5);
    CHECK(sl_recv_frame_resume(sv[0], big, sizeof big, 100, &p) == 10);
    CHECK(memcmp(big, "helloworld", 10) == 0);
    CHECK_ERR(sl_recv_frame_resume(sv[0], big, sizeof big, 0, NULL), EINVAL);
    close(sv[1]);
    CHECK_ERR(sl_recv_frame_resume(sv[0], big, sizeof big, 100, &p), EPIPE);
    CHECK(p.received == 0);
    close(sv[0]);
}

/* A frame built by hand: the length in `width` bytes of the given order. */
static size_t hand_frame(unsigned char *out, size_t width, int flags, const unsigned char *payload, size_t len) {
    for (size_t i = 0; i < width; i++) {
        unsigned char byte = (unsigned char)((uint64_t)len >> (8 * i));
        out[flags == SL_PREFIX_LITTLE_ENDIAN ? i : width - 1 - i] = byte;
    }
    memcpy(out + width, payload, len);
    return width + len;
}

TEST(every_prefix_width_and_order_matches_frames_built_by_hand) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    const size_t widths[] = {1, 2, 4, 8};
    const int orders[] = {SL_PREFIX_BIG_ENDIAN, SL_PREFIX_LITTLE_ENDIAN};
    unsigned char payload[300], want[308], got[308];
    fill_pattern(payload, sizeof payload, 3);
    for (size_t w = 0; w < 4; w++) {
        for (size_t o = 0; o < 2; o++) {
            size_t len = widths[w] == 1 ? 255 : 300, sent = 0;
            size_t n = hand_frame(want, widths[w], orders[o], payload, len);
            CHECK(sl_send_frame_prefix(sv[0], widths[w], orders[o], payload, len, 1000, &sent) == (ssize_t)len);
            CHECK(sent == n);
            CHECK(recv(sv[1], got, sizeof got, MSG_DONTWAIT) == (ssize_t)n);
            CHECK(memcmp(got, want, n) == 0);
            /* The hand-built frame back, in two halves with a timeout between. */
            sl_frame_progress p = {0};
            CHECK(write(sv[0], want, n / 2) == (ssize_t)(n / 2));
            CHECK_ERR(sl_recv_frame_prefix(sv[1], widths[w], orders[o], got, len, 0, &p), EAGAIN);
            CHECK(p.received == n / 2);
            CHECK(write(sv[0], want + n / 2, n - n / 2) == (ssize_t)(n - n / 2));
            CHECK(sl_recv_frame_prefix(sv[1], widths[w], orders[o], got, len, 1000, &p) == (ssize_t)len);
            CHECK(memcmp(got, payload, len) == 0);
        }
    }
    CHECK_ERR(sl_send_frame_prefix(sv[0], 1, 0, payload, 256, 100, NULL), EMSGSIZE);
    CHECK_ERR(sl_send_frame_prefix(sv[0], 3, 0, payload, 1, 100, NULL), EINVAL);
    CHECK_ERR(sl_send_frame_prefix(sv[0], 4, 2, payload, 1, 100, NULL), EINVAL);
    close(sv[0]);
    close(sv[1]);
}

RUN_TESTS("test_frame",
          T(frames_of_every_size_round_trip_through_a_forked_sender),
          T(the_wire_format_is_a_big_endian_length_then_the_payload),
          T(an_oversized_frame_is_emsgsize_with_the_header_handed_back),
          T(sending_more_than_4_gib_minus_1_is_emsgsize_and_sends_nothing),
          T(timeouts_and_end_of_stream_report_the_bytes_received),
          T(bad_arguments_are_einval_and_a_gone_peer_is_epipe),
          T(a_resumed_frame_loses_nothing_at_any_split_point),
          T(a_resumed_frame_too_large_goes_on_with_a_larger_buffer),
          T(every_prefix_width_and_order_matches_frames_built_by_hand))
