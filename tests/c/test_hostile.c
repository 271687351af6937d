/* The hostile-input table from C (tests/hostile.rs holds the full table and the
 * check that every header function has a row): every exported function fed NULL
 * pointers, negative, closed and high (> 1024) fds, SIZE_MAX lengths, iovcnt 0
 * and over IOV_MAX, timeouts below -1, 4 GiB frames, empty delimiters and
 * unknown event bits. Run shared, static, under ASan+UBSan and valgrind: any
 * read or write past a buffer, any leak, any crash fails it. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <limits.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sockloop.h"
#include "harness.h"

/* Checks that sl_conn_new returned NULL with the given errno. */
#define CHECK_ERR_PTR_RING(expr, err) do { errno = 0; sl_ring *p_ = (expr); int e_ = errno; \
    sl_ring_free(p_); CHECK(p_ == NULL && e_ == (err)); } while (0)
#define CHECK_NULL(expr, err) do { errno = 0; sl_conn *p_ = (expr); int e_ = errno; \
    sl_conn_free(p_); /* a no-op unless the test fails */ \
    CHECK(p_ == NULL && e_ == (err)); } while (0)

enum { HIGH_FD = 1500, NEVER = -2 };

/* Shared fds: a socketpair (a, b), `a` again at HIGH_FD, a pipe, a TCP listener. */
static int a = -1, b = -1, high = -1, pipe_r = -1, pipe_w = -1, listener = -1, port;
static const unsigned char FOUR_GIB[4] = {0xff, 0xff, 0xff, 0xff};

/* A number that was an open fd a moment ago. */
static int closed_fd(void) {
    int p[2];
    if (pipe(p) != 0) return 999;
    close(p[0]);
    close(p[1]);
    return p[0];
}

static void drain(void) {
    char buf[4096];
    while (recv(a, buf, sizeof buf, MSG_DONTWAIT) > 0) {}
    while (recv(b, buf, sizeof buf, MSG_DONTWAIT) > 0) {}
}

/* A connection whose fd the caller closed behind its back. */
static sl_conn *conn_on_closed_fd(void) {
    int dup = fcntl(a, F_DUPFD_CLOEXEC, 0);
    sl_conn *c = sl_conn_new(dup, 16, 0);
    close(dup);
    return c;
}

TEST(setup) {
    int sv[2], p[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    a = sv[0];
    b = sv[1];
    CHECK((high = dup3(a, HIGH_FD, O_CLOEXEC)) == HIGH_FD);
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    pipe_r = p[0];
    pipe_w = p[1];
    CHECK((listener = sl_tcp_listen("127.0.0.1", 0, 4)) >= 0);
    CHECK((port = sl_local_port(listener)) > 0);
}

TEST(byteorder) {
    CHECK(sl_ntohs(sl_htons(0xffff)) == 0xffff && sl_ntohl(sl_htonl(UINT32_MAX)) == UINT32_MAX);
    CHECK(sl_ntohll(sl_htonll(UINT64_MAX)) == UINT64_MAX);
    errno = 0; CHECK(sl_put_u16be(NULL, 1) == NULL && errno == EINVAL);
    errno = 0; CHECK(sl_put_u16le(NULL, 1) == NULL && errno == EINVAL);
    errno = 0; CHECK(sl_put_u32be(NULL, 1) == NULL && errno == EINVAL);
    errno = 0; CHECK(sl_put_u32le(NULL, 1) == NULL && errno == EINVAL);
    errno = 0; CHECK(sl_put_u64be(NULL, 1) == NULL && errno == EINVAL);
    errno = 0; CHECK(sl_put_u64le(NULL, 1) == NULL && errno == EINVAL);
    errno = 0; CHECK(sl_get_u16be(NULL) == 0 && errno == EINVAL);
    errno = 0; CHECK(sl_get_u16le(NULL) == 0 && errno == EINVAL);
    errno = 0; CHECK(sl_get_u32be(NULL) == 0 && errno == EINVAL);
    errno = 0; CHECK(sl_get_u32le(NULL) == 0 && errno == EINVAL);
    errno = 0; CHECK(sl_get_u64be(NULL) == 0 && errno == EINVAL);
    errno = 0; CHECK(sl_get_u64le(NULL) == 0 && errno == EINVAL);
    unsigned char buf[9];
    CHECK(sl_put_u64be(buf + 1, UINT64_MAX) == buf + 9 && sl_get_u64le(buf + 1) == UINT64_MAX);
}

TEST(transfer_loops) {
    char buf[16] = {0};
    size_t done = 99;
    CHECK_ERR(sl_send_all(-1, buf, 16, 0, &done), EINVAL);
    CHECK(done == 0);
    CHECK_ERR(sl_send_all(closed_fd(), buf, 16, 0, NULL), EBADF);
    CHECK_ERR(sl_send_all(a, NULL, 16, 0, NULL), EINVAL);
    CHECK_ERR(sl_send_all(a, buf, SIZE_MAX, 0, NULL), EINVAL);
    CHECK_ERR(sl_send_all(a, buf, 16, NEVER, NULL), EINVAL);
    CHECK_ERR(sl_send_all(a, buf, 16, INT_MIN, NULL), EINVAL);
    CHECK(sl_send_all(high, buf, 16, 100, NULL) == 16);
    CHECK_ERR(sl_recv_exact(-1, buf, 16, 0, &done), EINVAL);
    CHECK_ERR(sl_recv_exact(closed_fd(), buf, 16, 0, NULL), EBADF);
    CHECK_ERR(sl_recv_exact(b, NULL, 16, 0, NULL), EINVAL);
    CHECK_ERR(sl_recv_exact(b, buf, SIZE_MAX, 0, NULL), EINVAL);
    CHECK_ERR(sl_recv_exact(b, buf, 16, NEVER, NULL), EINVAL);
    CHECK(sl_recv_exact(b, buf, 16, 100, &done) == 16 && done == 16);

    struct iovec one = {buf, 1};
    static struct iovec many[IOV_MAX + 1];
    for (int i = 0; i <= IOV_MAX; i++) many[i] = one;
    CHECK(sl_send_allv(a, NULL, 0, 0, &done) == 0 && done == 0);
    CHECK_ERR(sl_send_allv(a, many, IOV_MAX + 1, 0, NULL), EINVAL);
    CHECK_ERR(sl_send_allv(a, many, INT_MAX, 0, NULL), EINVAL);
    CHECK_ERR(sl_send_allv(a, many, -1, 0, NULL), EINVAL);
    CHECK_ERR(sl_send_allv(a, NULL, 1, 0, NULL), EINVAL);
    struct iovec null_base = {NULL, 8}, huge = {buf, SIZE_MAX};
    struct iovec overflow[3] = {{buf, SSIZE_MAX}, {buf, SSIZE_MAX}, {buf, SSIZE_MAX}};
    CHECK_ERR(sl_send_allv(a, &null_base, 1, 0, NULL), EINVAL);
    CHECK_ERR(sl_send_allv(a, &huge, 1, 0, NULL), EINVAL);
    CHECK_ERR(sl_send_allv(a, overflow, 3, 0, NULL), EINVAL);
    CHECK_ERR(sl_send_allv(-1, many, 1, 0, NULL), EINVAL);
    CHECK_ERR(sl_send_allv(closed_fd(), many, 1, 0, NULL), EBADF);
    CHECK_ERR(sl_send_allv(a, many, 1, NEVER, NULL), EINVAL);
    CHECK(sl_send_allv(high, many, IOV_MAX, 1000, NULL) == IOV_MAX);
    drain();
}

TEST(frames) {
    unsigned char buf[16] = {0};
    size_t done = 99;
    CHECK_ERR(sl_send_frame(-1, buf, 16, 0, &done), EINVAL);
    CHECK(done == 0);
    CHECK_ERR(sl_send_frame(closed_fd(), buf, 16, 0, NULL), EBADF);
    CHECK_ERR(sl_send_frame(a, NULL, 16, 0, NULL), EINVAL);
    CHECK_ERR(sl_send_frame(a, buf, (size_t)UINT32_MAX + 1, 0, NULL), EMSGSIZE);
    CHECK_ERR(sl_send_frame(a, buf, SIZE_MAX, 0, NULL), EINVAL);
    CHECK_ERR(sl_send_frame(a, buf, 16, NEVER, NULL), EINVAL);
    CHECK_ERR(sl_recv_frame(-1, buf, 16, 0, &done), EINVAL);
    CHECK_ERR(sl_recv_frame(closed_fd(), buf, 16, 0, NULL), EBADF);
    CHECK_ERR(sl_recv_frame(a, NULL, 16, 0, NULL), EINVAL);
    CHECK_ERR(sl_recv_frame(a, buf, SIZE_MAX, 0, NULL), EINVAL);
    CHECK_ERR(sl_recv_frame(a, buf, 16, NEVER, NULL), EINVAL);
    CHECK(send(b, FOUR_GIB, 4, 0) == 4);
    CHECK_ERR(sl_recv_frame(high, buf, 16, 100, &done), EMSGSIZE);
    CHECK(done == 4 && sl_get_u32be(buf) == UINT32_MAX);
    CHECK(send(b, FOUR_GIB, 4, 0) == 4);
    CHECK_ERR(sl_recv_frame(a, NULL, 0, 100, &done), EMSGSIZE);
    sl_frame_progress p = {0};
    CHECK_ERR(sl_recv_frame_resume(-1, buf, 16, 0, &p), EINVAL);
    CHECK_ERR(sl_recv_frame_resume(closed_fd(), buf, 16, 0, &p), EBADF);
    CHECK_ERR(sl_recv_frame_resume(a, buf, 16, 0, NULL), EINVAL);
    CHECK_ERR(sl_recv_frame_resume(a, NULL, 16, 0, &p), EINVAL);
    CHECK_ERR(sl_recv_frame_resume(a, buf, SIZE_MAX, 0, &p), EINVAL);
    CHECK_ERR(sl_recv_frame_resume(a, buf, 16, NEVER, &p), EINVAL);
    CHECK(send(b, FOUR_GIB, 4, 0) == 4);
    CHECK_ERR(sl_recv_frame_resume(high, buf, 16, 100, &p), EMSGSIZE);
    CHECK(p.received == 4 && p.declared == UINT32_MAX);
    p.received = SIZE_MAX; /* a progress no frame could leave */
    CHECK_ERR(sl_recv_frame_resume(a, buf, 16, 0, &p), EINVAL);
    /* Prefix widths other than 1, 2, 4, 8 and unknown flags. */
    p = (sl_frame_progress){0};
    const size_t bad_widths[] = {0, 3, 5, 7, 9, 16, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad_widths / sizeof bad_widths[0]; i++) {
        CHECK_ERR(sl_send_frame_prefix(a, bad_widths[i], 0, buf, 1, 0, NULL), EINVAL);
        CHECK_ERR(sl_recv_frame_prefix(a, bad_widths[i], 0, buf, 16, 0, &p), EINVAL);
    }
    CHECK_ERR(sl_send_frame_prefix(a, 4, 2, buf, 1, 0, NULL), EINVAL);
    CHECK_ERR(sl_send_frame_prefix(a, 4, -1, buf, 1, 0, NULL), EINVAL);
    CHECK_ERR(sl_recv_frame_prefix(a, 4, 2, buf, 16, 0, &p), EINVAL);
    CHECK_ERR(sl_send_frame_prefix(-1, 4, 0, buf, 1, 0, &done), EINVAL);
    CHECK(done == 0);
    CHECK_ERR(sl_send_frame_prefix(closed_fd(), 2, 0, buf, 1, 0, NULL), EBADF);
    CHECK_ERR(sl_send_frame_prefix(a, 2, 0, NULL, 1, 0, NULL), EINVAL);
    CHECK_ERR(sl_send_frame_prefix(a, 1, 0, buf, 256, 0, NULL), EMSGSIZE);
    CHECK_ERR(sl_send_frame_prefix(a, 8, 1, buf, SIZE_MAX, 0, NULL), EINVAL);
    CHECK_ERR(sl_send_frame_prefix(a, 2, 0, buf, 1, NEVER, NULL), EINVAL);
    CHECK_ERR(sl_recv_frame_prefix(closed_fd(), 2, 0, buf, 16, 0, &p), EBADF);
    CHECK_ERR(sl_recv_frame_prefix(a, 2, 0, buf, 16, 0, NULL), EINVAL);
    CHECK_ERR(sl_recv_frame_prefix(a, 2, 0, NULL, 16, 0, &p), EINVAL);
    CHECK_ERR(sl_recv_frame_prefix(a, 2, 0, buf, 16, NEVER, &p), EINVAL);
    sl_frame_progress q = {0};
    CHECK(send(b, "\xff\xff\xff\xff\xff\xff\xff\xff", 8, 0) == 8);
    CHECK_ERR(sl_recv_frame_prefix(high, 8, SL_PREFIX_LITTLE_ENDIAN, buf, 16, 100, &q), EMSGSIZE);
    CHECK(q.received == 8 && q.declared == UINT64_MAX);
    drain();
}

TEST(conn_constructor_and_getters) {
    CHECK_NULL(sl_conn_new(-1, 16, 0), EINVAL);
    CHECK_NULL(sl_conn_new(closed_fd(), 16, 0), EBADF);
    CHECK_NULL(sl_conn_new(a, SIZE_MAX, 0), EINVAL);
    CHECK_NULL(sl_conn_new(a, (size_t)UINT32_MAX + 1, 0), EINVAL);
    CHECK_NULL(sl_conn_new(a, 16, 2), EINVAL);
    CHECK_NULL(sl_conn_new(a, 16, -1), EINVAL);
    sl_conn_free(NULL);
    CHECK_ERR(sl_conn_fd(NULL), EINVAL);
    errno = 0; CHECK(sl_conn_buffered(NULL) == 0 && errno == EINVAL);
    errno = 0; CHECK(sl_conn_pending(NULL) == 0 && errno == EINVAL);
    sl_conn *c = sl_conn_new(high, UINT32_MAX, 0);
    CHECK(c && sl_conn_fd(c) == high);
    CHECK_ERR(sl_conn_set_prefix(NULL, 4, 0), EINVAL);
    const size_t bad_widths[] = {0, 3, 5, 6, 7, 9, 16, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad_widths / sizeof bad_widths[0]; i++)
        CHECK_ERR(sl_conn_set_prefix(c, bad_widths[i], 0), EINVAL);
    CHECK_ERR(sl_conn_set_prefix(c, 2, 2), EINVAL);
    CHECK_ERR(sl_conn_set_prefix(c, 2, -1), EINVAL);
    CHECK(sl_conn_set_prefix(c, 8, SL_PREFIX_LITTLE_ENDIAN) == 0);
    /* High-water marks of 0 (nothing may be queued) and SIZE_MAX (no mark). */
    CHECK_ERR(sl_conn_set_high_water(NULL, 0), EINVAL);
    CHECK(sl_conn_set_high_water(c, 0) == 0);
    CHECK_ERR(sl_conn_queue(c, "x", 1), ENOBUFS);
    CHECK_ERR(sl_conn_queue_frame(c, NULL, 0), ENOBUFS);
    CHECK(sl_conn_pending(c) == 0);
    CHECK(sl_conn_set_high_water(c, SIZE_MAX) == 0);
    CHECK(sl_conn_queue(c, "x", 1) == 1);
    sl_conn_free(c);
    CHECK(fcntl(high, F_GETFD) >= 0);
}

TEST(conn_blocking_calls) {
    char buf[16] = {0};
    const char *nl = "\n";
    CHECK_ERR(sl_conn_read_exact(NULL, buf, 16, 0), EINVAL);
    CHECK_ERR(sl_conn_read_frame(NULL, buf, 16, 0), EINVAL);
    CHECK_ERR(sl_conn_read_until(NULL, nl, 1, buf, 16, 0), EINVAL);
    CHECK_ERR(sl_conn_write_frame(NULL, buf, 16, 0), EINVAL);
    sl_conn *c = sl_conn_new(a, 16, 0);
    CHECK(c);
    CHECK_ERR(sl_conn_read_exact(c, NULL, 16, 0), EINVAL);
    CHECK_ERR(sl_conn_read_exact(c, buf, 16, NEVER), EINVAL);
    CHECK_ERR(sl_conn_read_exact(c, buf, 17, 0), EMSGSIZE);
    CHECK_ERR(sl_conn_read_exact(c, buf, SIZE_MAX, 0), EINVAL);
    CHECK_ERR(sl_conn_read_exact(c, buf, 16, 0), EAGAIN);
    CHECK_ERR(sl_conn_read_frame(c, NULL, 16, 0), EINVAL);
    CHECK_ERR(sl_conn_read_frame(c, buf, SIZE_MAX, 0), EINVAL);
    CHECK_ERR(sl_conn_read_frame(c, buf, 16, NEVER), EINVAL);
    CHECK_ERR(sl_conn_read_until(c, nl, 0, buf, 16, 0), EINVAL);
    CHECK_ERR(sl_conn_read_until(c, NULL, 1, buf, 16, 0), EINVAL);
    CHECK_ERR(sl_conn_read_until(c, nl, SIZE_MAX, buf, 16, 0), EINVAL);
    CHECK_ERR(sl_conn_read_until(c, nl, 1, NULL, 16, 0), EINVAL);
    CHECK_ERR(sl_conn_read_until(c, nl, 1, buf, SIZE_MAX, 0), EINVAL);
    CHECK_ERR(sl_conn_read_until(c, nl, 1, buf, 16, NEVER), EINVAL);
    CHECK_ERR(sl_conn_write_frame(c, NULL, 16, 0), EINVAL);
    CHECK_ERR(sl_conn_write_frame(c, buf, (size_t)UINT32_MAX + 1, 0), EMSGSIZE);
    CHECK_ERR(sl_conn_write_frame(c, buf, SIZE_MAX, 0), EINVAL);
    CHECK_ERR(sl_conn_write_frame(c, buf, 16, NEVER), EINVAL);
    CHECK(send(b, FOUR_GIB, 4, 0) == 4);
    CHECK_ERR(sl_conn_read_frame(c, buf, 16, 100), EMSGSIZE);
    sl_conn_free(c);
    c = conn_on_closed_fd();
    CHECK(c);
    CHECK_ERR(sl_conn_read_exact(c, buf, 16, 0), EBADF);
    CHECK_ERR(sl_conn_read_frame(c, buf, 16, 0), EBADF);
    CHECK_ERR(sl_conn_write_frame(c, buf, 16, 0), EBADF);
    sl_conn_free(c);
    drain();
}

TEST(conn_event_loop_steps) {
    const void *p = NULL;
    size_t n = 99;
    sl_frame frames[4];
    const size_t lens[2] = {8, 8}, huge[1] = {(size_t)UINT32_MAX + 1};
    void *slots[2] = {NULL, NULL};
    const char *nl = "\n";
    char buf[64] = {0};
    CHECK_ERR(sl_conn_fill(NULL), EINVAL);
    CHECK_ERR(sl_conn_next_frame(NULL, &p, &n), EINVAL);
    CHECK_ERR(sl_conn_next_record(NULL, nl, 1, &p, &n), EINVAL);
    CHECK_ERR(sl_conn_queue_frame(NULL, buf, 1), EINVAL);
    CHECK_ERR(sl_conn_next_frames(NULL, frames, 4), EINVAL);
    CHECK_ERR(sl_conn_queue_frames(NULL, buf, lens, 2), EINVAL);
    CHECK_ERR(sl_conn_reserve_frames(NULL, lens, 2, slots), EINVAL);
    CHECK_ERR(sl_conn_queue(NULL, buf, 1), EINVAL);
    CHECK_ERR(sl_conn_flush(NULL), EINVAL);
    sl_conn *c = sl_conn_new(a, 16, 0);
    CHECK(c);
    CHECK_ERR(sl_conn_fill(c), EAGAIN);
    CHECK_ERR(sl_conn_next_frame(c, NULL, &n), EINVAL);
    CHECK_ERR(sl_conn_next_frame(c, &p, NULL), EINVAL);
    CHECK_ERR(sl_conn_next_record(c, nl, 0, &p, &n), EINVAL);
    CHECK_ERR(sl_conn_next_record(c, NULL, 1, &p, &n), EINVAL);
    CHECK_ERR(sl_conn_next_record(c, nl, SIZE_MAX, &p, &n), EINVAL);
    CHECK_ERR(sl_conn_next_record(c, nl, 1, NULL, &n), EINVAL);
    CHECK_ERR(sl_conn_next_record(c, nl, 1, &p, NULL), EINVAL);
    CHECK_ERR(sl_conn_queue_frame(c, NULL, 1), EINVAL);
    CHECK_ERR(sl_conn_queue_frame(c, buf, (size_t)UINT32_MAX + 1), EMSGSIZE);
    CHECK_ERR(sl_conn_queue_frame(c, buf, SIZE_MAX), EINVAL);
    CHECK_ERR(sl_conn_next_frames(c, NULL, 4), EINVAL);
    CHECK_ERR(sl_conn_next_frames(c, frames, SIZE_MAX), EINVAL);
    CHECK(sl_conn_next_frames(c, NULL, 0) == 0 && sl_conn_next_frames(c, frames, 4) == 0);
    CHECK_ERR(sl_conn_queue_frames(c, buf, NULL, 2), EINVAL);
    CHECK_ERR(sl_conn_queue_frames(c, NULL, lens, 2), EINVAL);
    CHECK_ERR(sl_conn_queue_frames(c, buf, lens, SIZE_MAX), EINVAL);
    CHECK_ERR(sl_conn_queue_frames(c, buf, huge, 1), EMSGSIZE);
    CHECK_ERR(sl_conn_reserve_frames(c, NULL, 2, slots), EINVAL);
    CHECK_ERR(sl_conn_reserve_frames(c, lens, 2, NULL), EINVAL);
    CHECK_ERR(sl_conn_reserve_frames(c, lens, SIZE_MAX, slots), EINVAL);
    CHECK_ERR(sl_conn_reserve_frames(c, huge, 1, slots), EMSGSIZE);
    CHECK(slots[0] == NULL && slots[1] == NULL);
    CHECK_ERR(sl_conn_queue(c, NULL, 1), EINVAL);
    CHECK_ERR(sl_conn_queue(c, buf, SIZE_MAX), EINVAL);
    CHECK(sl_conn_pending(c) == 0);
    memset(buf, 0xab, sizeof buf);
    CHECK(send(b, FOUR_GIB, 4, 0) == 4 && send(b, buf, sizeof buf, 0) == (ssize_t)sizeof buf);
    CHECK(sl_conn_fill(c) > 0);
    CHECK_ERR(sl_conn_next_frames(c, frames, 4), EMSGSIZE);
    sl_conn_free(c);
    drain();
    c = sl_conn_new(a, 16, 0);
    CHECK(c);
    CHECK(send(b, FOUR_GIB, 4, 0) == 4 && sl_conn_fill(c) > 0);
    CHECK_ERR(sl_conn_next_frame(c, &p, &n), EMSGSIZE);
    sl_conn_free(c);
    c = sl_conn_new(a, 16, 0);
    CHECK(c);
    CHECK(send(b, buf, 40, 0) == 40 && sl_conn_fill(c) > 0);
    CHECK_ERR(sl_conn_next_record(c, nl, 1, &p, &n), EMSGSIZE);
    sl_conn_free(c);
    c = conn_on_closed_fd();
    CHECK(c);
    CHECK_ERR(sl_conn_fill(c), EBADF);
    CHECK(sl_conn_queue(c, "x", 1) == 1);
    CHECK_ERR(sl_conn_flush(c), EBADF);
    CHECK(sl_conn_pending(c) == 1);
    sl_conn_free(c);
    drain();
}

TEST(connections) {
    char peer[SL_ADDRSTRLEN];
    CHECK_ERR(sl_tcp_connect(NULL, port, 100), EINVAL);
    CHECK_ERR(sl_tcp_connect("", port, 100), EINVAL);
    CHECK_ERR(sl_tcp_connect("\xff\xfe", port, 100), EINVAL);
    CHECK_ERR(sl_tcp_connect("127.0.0.1", 0, 100), EINVAL);
    CHECK_ERR(sl_tcp_connect("127.0.0.1", 65536, 100), EINVAL);
    CHECK_ERR(sl_tcp_connect("127.0.0.1", INT_MIN, 100), EINVAL);
    CHECK_ERR(sl_tcp_connect("127.0.0.1", port, NEVER), EINVAL);
    CHECK_ERR(sl_tcp_listen("127.0.0.1", -1, 1), EINVAL);
    CHECK_ERR(sl_tcp_listen("127.0.0.1", 65536, 1), EINVAL);
    CHECK_ERR(sl_tcp_listen("127.0.0.1", 0, -1), EINVAL);
    CHECK_ERR(sl_tcp_listen("\xff", 0, 1), EINVAL);
    CHECK_ERR(sl_local_port(-1), EINVAL);
    CHECK_ERR(sl_local_port(closed_fd()), EBADF);
    CHECK_ERR(sl_local_port(pipe_r), ENOTSOCK);
    CHECK_ERR(sl_local_port(high), EAFNOSUPPORT);
    CHECK_ERR(sl_accept(-1, 0, 0, peer, sizeof peer), EINVAL);
    CHECK_ERR(sl_accept(closed_fd(), 0, 0, peer, sizeof peer), EBADF);
    CHECK_ERR(sl_accept(pipe_r, 0, 0, peer, sizeof peer), ENOTSOCK);
    CHECK_ERR(sl_accept(a, 0, 0, peer, sizeof peer), EINVAL);
    CHECK_ERR(sl_accept(listener, 2, 0, peer, sizeof peer), EINVAL);
    CHECK_ERR(sl_accept(listener, 0, 0, peer, SL_ADDRSTRLEN - 1), EINVAL);
    CHECK_ERR(sl_accept(listener, 0, NEVER, peer, sizeof peer), EINVAL);
    CHECK_ERR(sl_accept(listener, 0, 0, NULL, SIZE_MAX), EAGAIN);
    CHECK_ERR(sl_tcp_connect_start(NULL, port), EINVAL);
    CHECK_ERR(sl_tcp_connect_start("", port), EINVAL);
    CHECK_ERR(sl_tcp_connect_start("\xff\xfe", port), EINVAL);
    CHECK_ERR(sl_tcp_connect_start("127.0.0.1", 0), EINVAL);
    CHECK_ERR(sl_tcp_connect_start("127.0.0.1", 65536), EINVAL);
    /* Finishing a connect never started, on every kind of fd and timeout. */
    int never = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(never >= 0);
    int finish_timeouts[] = {0, 200, -1};
    for (size_t i = 0; i < 3; i++) {
        CHECK_ERR(sl_connect_finish(never, finish_timeouts[i]), ENOTCONN);
        CHECK_ERR(sl_connect_finish(listener, finish_timeouts[i]), EINVAL);
        CHECK_ERR(sl_connect_finish(pipe_r, finish_timeouts[i]), ENOTSOCK);
    }
    close(never);
    CHECK_ERR(sl_connect_finish(-1, 0), EINVAL);
    CHECK_ERR(sl_connect_finish(closed_fd(), 0), EBADF);
    CHECK_ERR(sl_connect_finish(a, NEVER), EINVAL);
    CHECK(sl_connect_finish(high, 0) == 0);
    int started = sl_tcp_connect_start("127.0.0.1", port);
    CHECK(started >= 0);
    CHECK(sl_connect_finish(started, 1000) == 0);
    int taken = sl_accept(listener, 0, 1000, NULL, 0);
    close(started);
    CHECK(taken >= 0);
    close(taken);
    int client = sl_tcp_connect("127.0.0.1", port, 1000);
    CHECK(client >= 0);
    int server = sl_accept(listener, 0, 1000, peer, sizeof peer);
    close(client);
    CHECK(server >= 0 && strncmp(peer, "127.0.0.1:", 10) == 0);
    close(server);
    int errs[] = {INT_MIN, -1, 0, ENOENT, EHOSTDOWN, EPROTO, 4096, INT_MAX};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        const char *s = sl_resolve_strerror(errs[i]);
        CHECK(s != NULL && s[0] != '\0');
    }
}

TEST(readiness) {
    int fds[2] = {a, high}, out[2] = {0, 0}, neg = -1, closed = closed_fd();
    size_t n = 99;
    CHECK_ERR(sl_wait_readable(-1, 0), EINVAL);
    CHECK_ERR(sl_wait_readable(closed_fd(), 0), EBADF);
    CHECK_ERR(sl_wait_readable(a, NEVER), EINVAL);
    CHECK(sl_wait_readable(high, 0) == 0);
    CHECK_ERR(sl_wait_writable(-1, 0), EINVAL);
    CHECK_ERR(sl_wait_writable(closed_fd(), 0), EBADF);
    CHECK_ERR(sl_wait_writable(a, INT_MIN), EINVAL);
    CHECK(sl_wait_writable(high, 0) == 1);
    CHECK_ERR(sl_select(NULL, 1, NULL, 0, NULL, 0, 0, out, &n, NULL, NULL, NULL, NULL), EINVAL);
    CHECK(n == 0);
    CHECK_ERR(sl_select(fds, 2, NULL, 0, NULL, 0, NEVER, out, &n, NULL, NULL, NULL, NULL), EINVAL);
    CHECK_ERR(sl_select(fds, SIZE_MAX, NULL, 0, NULL, 0, 0, out, &n, NULL, NULL, NULL, NULL), EINVAL);
    CHECK_ERR(sl_select(&neg, 1, NULL, 0, NULL, 0, 0, out, &n, NULL, NULL, NULL, NULL), EINVAL);
    CHECK_ERR(sl_select(&closed, 1, NULL, 0, NULL, 0, 0, out, &n, NULL, NULL, NULL, NULL), EBADF);
    CHECK(sl_select(NULL, 0, NULL, 0, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL) == 0);
    CHECK(sl_select(NULL, 0, fds, 2, NULL, 0, 0, NULL, NULL, out, &n, NULL, NULL) == 2);
    CHECK(n == 2 && out[0] == a && out[1] == high);
}

TEST(selector) {
    sl_event ev[2];
    int events = 77, bad[] = {0, 4, SL_READ | 4, -1, INT_MIN, 0x100};
    void *data = &events;
    sl_selector_free(NULL);
    CHECK_ERR(sl_selector_register(NULL, a, SL_READ, NULL), EINVAL);
    CHECK_ERR(sl_selector_modify(NULL, a, SL_READ, NULL), EINVAL);
    CHECK_ERR(sl_selector_unregister(NULL, a), EINVAL);
    CHECK_ERR(sl_selector_get(NULL, a, &events, &data), EINVAL);
    CHECK_ERR(sl_selector_select(NULL, ev, 2, 0), EINVAL);
    sl_selector *s = sl_selector_new();
    CHECK(s);
    CHECK_ERR(sl_selector_register(s, -1, SL_READ, NULL), EINVAL);
    CHECK_ERR(sl_selector_register(s, closed_fd(), SL_READ, NULL), EBADF);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ERR(sl_selector_register(s, a, bad[i], NULL), EINVAL);
    }
    CHECK_ERR(sl_selector_modify(s, -1, SL_READ, NULL), EINVAL);
    CHECK_ERR(sl_selector_modify(s, a, SL_READ, NULL), ENOENT);
    CHECK_ERR(sl_selector_unregister(s, -1), EINVAL);
    CHECK_ERR(sl_selector_unregister(s, a), ENOENT);
    CHECK_ERR(sl_selector_get(s, -1, &events, &data), EINVAL);
    CHECK_ERR(sl_selector_get(s, a, &events, &data), ENOENT);
    CHECK(events == 77 && data == &events);
    CHECK_ERR(sl_selector_select(s, NULL, 2, 0), EINVAL);
    CHECK_ERR(sl_selector_select(s, ev, 0, 0), EINVAL);
    CHECK_ERR(sl_selector_select(s, ev, 2, NEVER), EINVAL);
    CHECK(sl_selector_select(s, ev, SIZE_MAX, 0) == 0);
    CHECK(sl_selector_register(s, high, SL_WRITE, &events) == 0);
    CHECK_ERR(sl_selector_register(s, high, SL_READ, NULL), EEXIST);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_ERR(sl_selector_modify(s, high, bad[i], NULL), EINVAL);
    }
    CHECK(sl_selector_get(s, high, NULL, NULL) == 0);
    CHECK(sl_selector_select(s, ev, 1, 100) == 1 && ev[0].fd == high && ev[0].events == SL_WRITE);
    CHECK(ev[0].data == &events);
    CHECK_ERR(sl_selector_wakeup(NULL), EINVAL);
    errno = ERANGE;
    CHECK(sl_selector_wakeup(s) == 0 && sl_selector_wakeup(s) == 0 && errno == ERANGE);
    CHECK_ERR(sl_selector_select(s, ev, 1, -1), EINTR);
    CHECK(sl_selector_select(s, ev, 1, 0) == 1);
    sl_selector_free(s);
}

static int always_stop(void *ctx) { (void)ctx; return 1; }

TEST(interrupt_check) {
    char byte;
    CHECK(sl_set_interrupt_check(NULL, NULL) == 0);
    CHECK(sl_set_interrupt_check(always_stop, NULL) == 0);
    /* No EINTR, no check: the calls behave as without one. */
    CHECK_ERR(sl_recv_exact(a, &byte, 1, 0, NULL), EAGAIN);
    CHECK(sl_set_interrupt_check(NULL, NULL) == 0);
}

/* Fds that can never become ready for a call fail at once with the kernel's
 * errno, whatever the timeout (-1 included). */
TEST(wrong_direction_and_wrong_kind_fds) {
    char buf[8] = {0};
    int timeouts[] = {-1, 0, 200};
    int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(udp >= 0 && tcp >= 0);
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        int t = timeouts[i];
        CHECK_ERR(sl_send_all(pipe_r, buf, 8, t, NULL), EBADF);
        CHECK_ERR(sl_send_frame(pipe_r, buf, 8, t, NULL), EBADF);
        CHECK_ERR(sl_recv_exact(pipe_w, buf, 8, t, NULL), EBADF);
        CHECK_ERR(sl_recv_frame(pipe_w, buf, 8, t, NULL), EBADF);
        CHECK_ERR(sl_send_frame_prefix(pipe_r, 2, 0, buf, 8, t, NULL), EBADF);
        sl_frame_progress p = {0};
        CHECK_ERR(sl_recv_frame_resume(pipe_w, buf, 8, t, &p), EBADF);
        CHECK_ERR(sl_recv_frame_prefix(pipe_w, 1, SL_PREFIX_LITTLE_ENDIAN, buf, 8, t, &p), EBADF);
        CHECK_ERR(sl_accept(udp, 0, t, NULL, 0), EOPNOTSUPP);
        CHECK_ERR(sl_accept(tcp, 0, t, NULL, 0), EINVAL);
        CHECK_ERR(sl_accept(pipe_r, 0, t, NULL, 0), ENOTSOCK);
        struct iovec iov = {buf, 8};
        CHECK_ERR(sl_send_allv(pipe_r, &iov, 1, t, NULL), EBADF);
        int cudp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        CHECK(cudp >= 0 && connect(cudp, (struct sockaddr *)&to, sizeof to) == 0);
        CHECK_ERR(sl_close_graceful(cudp, t), EOPNOTSUPP); /* and closed */
    }
    close(udp);
    close(tcp);
    sl_conn *r = sl_conn_new(pipe_w, 16, 0), *w = sl_conn_new(pipe_r, 16, 0);
    CHECK(r && w);
    CHECK_ERR(sl_conn_fill(r), EBADF);
    CHECK_ERR(sl_conn_read_frame(r, buf, 8, -1), EBADF);
    CHECK_ERR(sl_conn_read_until(r, "\n", 1, buf, 8, -1), EBADF);
    CHECK(sl_conn_queue(w, buf, 8) == 8);
    CHECK_ERR(sl_conn_flush(w), EBADF);
    CHECK_ERR(sl_conn_write_frame(w, buf, 8, -1), EBADF);
    sl_conn_free(r);
    sl_conn_free(w);
}

TEST(socket_options_and_close) {
    int snd = -7, rcv = -7;
    CHECK_ERR(sl_set_nonblocking(-1, 1), EINVAL);
    CHECK_ERR(sl_set_nonblocking(closed_fd(), 1), EBADF);
    CHECK_ERR(sl_set_nodelay(-1, 1), EINVAL);
    CHECK_ERR(sl_set_nodelay(pipe_r, 1), ENOTSOCK);
    CHECK_ERR(sl_set_nodelay(high, 1), EOPNOTSUPP);
    CHECK_ERR(sl_set_reuseaddr(-1, 1), EINVAL);
    CHECK_ERR(sl_set_reuseaddr(closed_fd(), 1), EBADF);
    CHECK_ERR(sl_set_keepalive(-1, 1, 0, 0, 0), EINVAL);
    CHECK_ERR(sl_set_keepalive(listener, 1, -1, 0, 0), EINVAL);
    CHECK_ERR(sl_set_keepalive(listener, 1, INT_MAX, 0, 0), EINVAL);
    CHECK_ERR(sl_set_keepalive(listener, 1, 0, 0, 128), EINVAL);
    CHECK_ERR(sl_set_keepalive(high, 1, 10, 0, 0), EOPNOTSUPP);
    CHECK_ERR(sl_set_buffer_sizes(-1, 0, 0), EINVAL);
    CHECK_ERR(sl_set_buffer_sizes(listener, -1, 0), EINVAL);
    CHECK_ERR(sl_set_buffer_sizes(pipe_r, 4096, 0), ENOTSOCK);
    CHECK_ERR(sl_get_buffer_sizes(-1, &snd, &rcv), EINVAL);
    CHECK_ERR(sl_get_buffer_sizes(closed_fd(), &snd, &rcv), EBADF);
    CHECK(snd == -7 && rcv == -7);
    CHECK(sl_get_buffer_sizes(high, NULL, NULL) == 0);
    CHECK_ERR(sl_close_graceful(-1, 0), EINVAL);
    CHECK_ERR(sl_close_graceful(closed_fd(), 0), EBADF);
    CHECK_ERR(sl_close_graceful(a, NEVER), EINVAL);
    CHECK(fcntl(a, F_GETFD) >= 0);
    int dup = fcntl(pipe_r, F_DUPFD_CLOEXEC, 0);
    CHECK_ERR(sl_close_graceful(dup, 0), ENOTSOCK);
    CHECK(fcntl(dup, F_GETFD) == -1);
}

TEST(unix_sockets) {
    char long_path[300] = "/tmp/";
    memset(long_path + 5, 'x', 250);
    long_path[255] = '\0';
    CHECK_ERR(sl_unix_listen(NULL, 1), EINVAL);
    CHECK_ERR(sl_unix_listen("", 1), EINVAL);
    CHECK_ERR(sl_unix_listen("@", 1), EINVAL);
    CHECK_ERR(sl_unix_listen("@sockloop-hostile-c", -1), EINVAL);
    CHECK_ERR(sl_unix_listen(long_path, 1), ENAMETOOLONG);
    CHECK_ERR(sl_unix_connect_start(NULL), EINVAL);
    CHECK_ERR(sl_unix_connect_start(""), EINVAL);
    CHECK_ERR(sl_unix_connect_start("@"), EINVAL);
    CHECK_ERR(sl_unix_connect_start(long_path), ENAMETOOLONG);
    CHECK_ERR(sl_unix_connect_start("/nonexistent-sockloop/socket"), ENOENT);
    CHECK_ERR(sl_unix_connect_start("@sockloop-hostile-c-none"), ECONNREFUSED);
    CHECK_ERR(sl_unix_connect(NULL, 100), EINVAL);
    CHECK_ERR(sl_unix_connect("", 100), EINVAL);
    CHECK_ERR(sl_unix_connect("@", 100), EINVAL);
    CHECK_ERR(sl_unix_connect("@sockloop-hostile-c-none", NEVER), EINVAL);
    CHECK_ERR(sl_unix_connect(long_path, 100), ENAMETOOLONG);
    CHECK_ERR(sl_unix_connect("/nonexistent-sockloop/socket", 100), ENOENT);
    CHECK_ERR(sl_unix_connect("@sockloop-hostile-c-none", 100), ECONNREFUSED);
}

TEST(version) {
    errno = EBADMSG;
    CHECK(sl_version() == SL_VERSION_NUM && errno == EBADMSG);
    CHECK(sl_version_string() != NULL && errno == EBADMSG);
    CHECK(sl_version_string() == sl_version_string());
}

TEST(ring) {
    sl_ring_event ev[2];
    CHECK_ERR_PTR_RING(sl_ring_new(2), EINVAL);
    CHECK_ERR_PTR_RING(sl_ring_new(-1), EINVAL);
    sl_ring_free(NULL);
    errno = 0;
    CHECK(sl_ring_backend(NULL) == NULL && errno == EINVAL);
    CHECK_ERR(sl_ring_wait(NULL, ev, 2, 0), EINVAL);
    const int flags[] = {0, SL_RING_FORCE_EPOLL};
    for (size_t i = 0; i < 2; i++) {
        sl_ring *r = sl_ring_new(flags[i]);
        CHECK(r != NULL);
        sl_conn *c = sl_conn_new(a, 16, 0);
        CHECK(c != NULL);
        CHECK_ERR(sl_ring_add(NULL, c, NULL), EINVAL);
        CHECK_ERR(sl_ring_add(r, NULL, NULL), EINVAL);
        CHECK_ERR(sl_ring_remove(NULL, c), EINVAL);
        CHECK_ERR(sl_ring_remove(r, NULL), EINVAL);
        CHECK_ERR(sl_ring_remove(r, c), ENOENT);
        CHECK_ERR(sl_ring_wait(r, NULL, 2, 0), EINVAL);
        CHECK_ERR(sl_ring_wait(r, ev, 0, 0), EINVAL);
        CHECK_ERR(sl_ring_wait(r, ev, 2, NEVER), EINVAL);
        CHECK(sl_ring_wait(r, ev, SIZE_MAX, 0) == 0);
        CHECK(sl_ring_add(r, c, ev) == 0);
        CHECK_ERR(sl_ring_add(r, c, NULL), EEXIST);
        sl_ring *other = sl_ring_new(flags[i]); /* a conn is in one ring at a time */
        CHECK(other != NULL);
        CHECK_ERR(sl_ring_add(other, c, NULL), EEXIST);
        sl_ring_free(other);
        CHECK(send(b, "\0\0\0\1z", 5, 0) == 5);
        int n = 0;
        for (int k = 0; k < 50 && n == 0; k++) n = sl_ring_wait(r, ev, 2, 100);
        CHECK(n == 1 && ev[0].conn == c && ev[0].data == ev && ev[0].events == SL_RING_DATA);
        CHECK(sl_ring_remove(r, c) == 0 && sl_conn_buffered(c) == 5);
        sl_conn_free(c);
        sl_ring_free(r);
    }
}

TEST(teardown) {
    int fds[] = {a, b, high, pipe_r, pipe_w, listener};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) close(fds[i]);
}

RUN_TESTS_WITH("hostile", setup, teardown, T(byteorder), T(transfer_loops), T(frames), T(conn_constructor_and_getters),
          T(conn_blocking_calls), T(conn_event_loop_steps), T(connections), T(readiness), T(selector), T(interrupt_check), T(wrong_direction_and_wrong_kind_fds),
          T(socket_options_and_close), T(unix_sockets), T(version), T(ring))
