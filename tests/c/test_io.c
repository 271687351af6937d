/* sl_send_all / sl_recv_exact / sl_send_allv and the byte-order helpers, from C,
 * over socketpairs, loopback TCP and pipes. */
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sockloop.h"
#include "harness.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void fill_pattern(unsigned char *buf, size_t len, uint32_t seed) {
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (unsigned char)(seed >> 16);
    }
}

TEST(round_trip_over_a_socketpair_with_a_forked_peer) {
    enum { LEN = 8 << 20 };
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    unsigned char *out = malloc(LEN), *in = malloc(LEN);
    CHECK(out && in);
    fill_pattern(out, LEN, 7);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) { /* echo peer: odd-sized reads and writes */
        close(sv[0]);
        static unsigned char chunk[7777];
        ssize_t n;
        while ((n = read(sv[1], chunk, sizeof chunk)) > 0)
            if (sl_send_all(sv[1], chunk, (size_t)n, 5000, NULL) != n) break;
        free(out); /* the parent's buffers, copied by fork */
        free(in);
        _exit(n == 0 ? 0 : 2);
    }
    close(sv[1]);
    size_t sent = 0, got = 0;
    /* Lock-step slices of growing size: the peer's reads never line up with them. */
    for (size_t at = 0, step = 1; at < LEN; at += step, step = step * 3 + 1) {
        if (step > 65536) step = 65536; /* more would fill both socket buffers: deadlock */
        if (step > LEN - at) step = LEN - at;
        CHECK(sl_send_all(sv[0], out + at, step, 5000, &sent) == (ssize_t)step && sent == step);
        CHECK(sl_recv_exact(sv[0], in + at, step, 5000, &got) == (ssize_t)step && got == step);
    }
    CHECK(memcmp(in, out, LEN) == 0);
    close(sv[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(out);
    free(in);
}

TEST(early_end_of_stream_reports_epipe_and_the_count) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(write(sv[1], "hello", 5) == 5);
    close(sv[1]);
    char buf[16];
    size_t got = 99;
    CHECK_ERR(sl_recv_exact(sv[0], buf, sizeof buf, 1000, &got), EPIPE);
    CHECK(got == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK_ERR(sl_recv_exact(sv[0], buf, sizeof buf, 1000, &got), EPIPE);
    CHECK(got == 0);
    close(sv[0]);
}

TEST(sigpipe_is_never_raised) {
    /* C programs start with SIGPIPE at its default action: death. */
    CHECK(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    int sv[2], p[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    close(sv[1]);
    CHECK_ERR(sl_send_all(sv[0], "x", 1, -1, NULL), EPIPE);
    close(sv[0]);
    CHECK(pipe(p) == 0);
    close(p[0]);
    CHECK_ERR(sl_send_all(p[1], "x", 1, -1, NULL), EPIPE);
    close(p[1]);
}

TEST(timeout_then_resume) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    char buf[8];
    size_t got = 99;
    CHECK_ERR(sl_recv_exact(sv[0], buf, 8, 0, &got), EAGAIN);
    CHECK(got == 0);
    CHECK(write(sv[1], "abc", 3) == 3);
    double t0 = now_ms();
    CHECK_ERR(sl_recv_exact(sv[0], buf, 8, 60, &got), ETIMEDOUT);
    CHECK(now_ms() - t0 >= 60.0);
    CHECK(got == 3);
    CHECK(write(sv[1], "defgh", 5) == 5);
    CHECK(sl_recv_exact(sv[0], buf + got, 8 - got, 1000, &got) == 5 && got == 5);
    CHECK(memcmp(buf, "abcdefgh", 8) == 0);
    close(sv[0]);
    close(sv[1]);
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

TEST(signal_storm_without_sa_restart) {
    const size_t LEN = sl_test_slow() ? 2 << 20 : 16 << 20;
    const suseconds_t every_us = sl_test_slow() ? 5000 : 100;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART */
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        unsigned char *data = malloc(LEN);
        if (!data) _exit(3);
        fill_pattern(data, LEN, 11);
        struct itimerval storm = {{0, every_us}, {0, every_us}};
        setitimer(ITIMER_REAL, &storm, NULL);
        ssize_t rc = sl_send_all(sv[1], data, LEN, -1, NULL);
        free(data);
        _exit(rc == (ssize_t)LEN ? 0 : 1);
    }
    close(sv[1]);
    unsigned char *got = malloc(LEN), *want = malloc(LEN);
    CHECK(got && want);
    fill_pattern(want, LEN, 11);
    struct itimerval storm = {{0, every_us}, {0, every_us}}, off = {{0, 0}, {0, 0}};
    alarms = 0;
    CHECK(setitimer(ITIMER_REAL, &storm, NULL) == 0);
    /* Read in slices so the storm lands inside many blocking calls. */
    ssize_t rc = 0;
    for (size_t at = 0; at < LEN && rc >= 0; at += 1 << 20)
        rc = sl_recv_exact(sv[0], got + at, 1 << 20, -1, NULL);
    setitimer(ITIMER_REAL, &off, NULL);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(rc == 1 << 20);
    CHECK(memcmp(got, want, LEN) == 0);
    CHECK(alarms > (sl_test_slow() ? 0 : 10));
    free(got);
    free(want);
    close(sv[0]);
}

TEST(nonblocking_fd_keeps_its_flags) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int small = 4096;
    CHECK(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
    CHECK(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK) == 0);
    int flags = fcntl(sv[0], F_GETFL);
    static char big[1 << 20];
    size_t sent = 0;
    CHECK_ERR(sl_send_all(sv[0], big, sizeof big, 50, &sent), ETIMEDOUT);
    CHECK(sent > 0 && sent < sizeof big);
    CHECK(fcntl(sv[0], F_GETFL) == flags);
    close(sv[0]);
    close(sv[1]);
}

TEST(vectored_send_over_a_pipe) {
    int p[2];
    CHECK(pipe(p) == 0);
    struct iovec iov[3] = {{"head", 4}, {"", 0}, {"-tail", 5}};
    size_t sent = 0;
    CHECK(sl_send_allv(p[1], iov, 3, 1000, &sent) == 9 && sent == 9);
    char buf[9];
    CHECK(sl_recv_exact(p[0], buf, 9, 1000, NULL) == 9);
    CHECK(memcmp(buf, "head-tail", 9) == 0);
    close(p[0]);
    close(p[1]);
}

TEST(bad_arguments) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    size_t done = 5;
    CHECK_ERR(sl_send_all(sv[0], NULL, 1, -1, &done), EINVAL);
    CHECK(done == 0);
    CHECK(sl_send_all(sv[0], NULL, 0, -1, &done) == 0 && done == 0);
    CHECK_ERR(sl_recv_exact(-1, &done, 1, -1, NULL), EINVAL);
    CHECK_ERR(sl_recv_exact(sv[0], &done, 1, -7, NULL), EINVAL);
    CHECK_ERR(sl_send_all(sv[0], "x", SIZE_MAX, -1, NULL), EINVAL);
    CHECK_ERR(sl_send_allv(sv[0], NULL, 1, -1, NULL), EINVAL);
    CHECK(sl_send_allv(sv[0], NULL, 0, -1, &done) == 0 && done == 0);
    struct iovec one = {"x", 1};
    CHECK_ERR(sl_send_allv(sv[0], &one, 1025, -1, NULL), EINVAL);
    close(sv[1]);
    int closed = sv[1];
    CHECK_ERR(sl_send_all(closed, "x", 1, -1, NULL), EBADF);
    close(sv[0]);
}

TEST(byte_order_layouts_at_odd_addresses) {
    unsigned char buf[32];
    memset(buf, 0xee, sizeof buf);
    unsigned char *p = buf + 1; /* deliberately misaligned */
    unsigned char *end = sl_put_u64be(sl_put_u32be(sl_put_u16be(p, 0x0102), 0x03040506), 0x0708090a0b0c0d0eULL);
    CHECK(end == p + 14);
    static const unsigned char want[14] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    CHECK(memcmp(p, want, 14) == 0 && buf[15] == 0xee);
    CHECK(sl_get_u16be(p) == 0x0102 && sl_get_u32be(p + 2) == 0x03040506);
    CHECK(sl_get_u64be(p + 6) == 0x0708090a0b0c0d0eULL);
    sl_put_u32le(buf + 3, 0x01020304);
    CHECK(buf[3] == 4 && buf[4] == 3 && buf[5] == 2 && buf[6] == 1);
    CHECK(sl_get_u32le(buf + 3) == 0x01020304);
    uint16_t net = sl_htons(1);
    CHECK(memcmp(&net, "\x00\x01", 2) == 0 && sl_ntohs(net) == 1);
    CHECK(sl_ntohll(sl_htonll(0x1122334455667788ULL)) == 0x1122334455667788ULL);
    CHECK(sl_put_u16le(NULL, 1) == NULL && errno == EINVAL);
}

RUN_TESTS("test_io",
          T(round_trip_over_a_socketpair_with_a_forked_peer),
          T(early_end_of_stream_reports_epipe_and_the_count),
          T(sigpipe_is_never_raised),
          T(timeout_then_resume),
          T(signal_storm_without_sa_restart),
          T(nonblocking_fd_keeps_its_flags),
          T(vectored_send_over_a_pipe),
          T(bad_arguments),
          T(byte_order_layouts_at_odd_addresses))
