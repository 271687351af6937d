/* sl_ring from C, on both backends (io_uring where the kernel allows it, and
 * the forced epoll fallback): an echo over many connections with every byte
 * checked, a peer that never reads, FIN and RST mid-message, a signal storm.
 * Each case runs in its own child (harness.h); built shared, static, under
 * ASan+UBSan and valgrind. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockloop.h"
#include "harness.h"

static const int BACKENDS[2] = {0, SL_RING_FORCE_EPOLL};

/* A connected TCP pair on loopback: *client (non-blocking) and *server. */
static int tcp_pair(int listener, int *client, int *server) {
    *client = sl_tcp_connect("127.0.0.1", sl_local_port(listener), 2000);
    if (*client < 0) return -1;
    *server = sl_accept(listener, 0, 2000, NULL, 0);
    if (*server < 0) return -1;
    return sl_set_nonblocking(*client, 1);
}

static int next_frames(sl_conn *c, unsigned char *into, size_t *at, size_t cap, int echo) {
    const void *p;
    size_t len;
    int rc;
    while ((rc = sl_conn_next_frame(c, &p, &len)) == 1) {
        if (*at + len > cap) return -1;
        memcpy(into + *at, p, len);
        *at += len;
        if (echo && sl_conn_queue_frame(c, p, len) < 0) return -1;
    }
    return rc;
}

enum { ECHO_CONNS = 100, ECHO_FRAMES = 30 };

static void echo_on(int flags) {
    int listener = sl_tcp_listen("127.0.0.1", 0, ECHO_CONNS);
    CHECK(listener >= 0);
    sl_ring *r = sl_ring_new(flags);
    CHECK(r != NULL);
    static int client[ECHO_CONNS], server[ECHO_CONNS];
    static sl_conn *conn[ECHO_CONNS];
    static unsigned char want[ECHO_CONNS][ECHO_FRAMES * 104], got[ECHO_CONNS][ECHO_FRAMES * 104];
    static size_t want_len[ECHO_CONNS], sent[ECHO_CONNS], got_len[ECHO_CONNS];
    uint32_t seed = 12345;
    for (int i = 0; i < ECHO_CONNS; i++) {
        CHECK(tcp_pair(listener, &client[i], &server[i]) == 0);
        CHECK((conn[i] = sl_conn_new(server[i], 4096, SL_CONN_OWN_FD)) != NULL);
        CHECK(sl_ring_add(r, conn[i], &conn[i]) == 0);
        want_len[i] = sent[i] = got_len[i] = 0;
        for (int f = 0; f < ECHO_FRAMES; f++) {
            seed = seed * 1103515245u + 12345u;
            size_t len = (seed >> 16) % 100;
            sl_put_u32be(want[i] + want_len[i], (uint32_t)len);
            for (size_t k = 0; k < len; k++) want[i][want_len[i] + 4 + k] = (unsigned char)(seed >> (k % 24));
            want_len[i] += 4 + len;
        }
    }
    int done = 0;
    for (int turn = 0; turn < 20000 && done < ECHO_CONNS; turn++) {
        for (int i = 0; i < ECHO_CONNS; i++) {
            if (sent[i] < want_len[i]) {
                size_t chunk = 1 + (size_t)(turn * 7 + i) % 300;
                if (chunk > want_len[i] - sent[i]) chunk = want_len[i] - sent[i];
                ssize_t n = send(client[i], want[i] + sent[i], chunk, MSG_NOSIGNAL);
                if (n > 0) sent[i] += (size_t)n;
            }
        }
        sl_ring_event ev[32];
        int n = sl_ring_wait(r, ev, 32, 10);
        CHECK(n >= 0);
        for (int e = 0; e < n; e++) {
            CHECK(ev[e].events == SL_RING_DATA);
            sl_conn **slot = ev[e].data;
            CHECK(*slot == ev[e].conn);
            size_t scratch = 0;
            static unsigned char sink[65536];
            CHECK(next_frames(ev[e].conn, sink, &scratch, sizeof sink, 1) == 0);
        }
        done = 0;
        for (int i = 0; i < ECHO_CONNS; i++) {
            ssize_t k;
            while (got_len[i] < want_len[i] &&
                   (k = recv(client[i], got[i] + got_len[i], want_len[i] - got_len[i], MSG_DONTWAIT)) > 0)
                got_len[i] += (size_t)k;
            done += got_len[i] == want_len[i];
        }
    }
    CHECK(done == ECHO_CONNS);
    for (int i = 0; i < ECHO_CONNS; i++) {
        CHECK(memcmp(got[i], want[i], want_len[i]) == 0);
        CHECK(sl_ring_remove(r, conn[i]) == 0);
        sl_conn_free(conn[i]);
        close(client[i]);
    }
    sl_ring_free(r);
    close(listener);
}

TEST(echo_over_100_connections_on_io_uring) { echo_on(0); }
TEST(echo_over_100_connections_on_the_epoll_fallback) { echo_on(SL_RING_FORCE_EPOLL); }

TEST(the_fallback_is_epoll_and_says_so) {
    sl_ring *r = sl_ring_new(SL_RING_FORCE_EPOLL);
    CHECK(r != NULL && strcmp(sl_ring_backend(r), "epoll") == 0);
    sl_ring_free(r);
    r = sl_ring_new(0);
    CHECK(r != NULL);
    const char *name = sl_ring_backend(r);
    CHECK(strcmp(name, "io_uring") == 0 || strcmp(name, "epoll") == 0);
    sl_ring_free(r);
}

TEST(a_peer_that_never_reads_keeps_output_pending_then_gets_every_byte) {
    for (int b = 0; b < 2; b++) {
        int listener = sl_tcp_listen("127.0.0.1", 0, 4), client, server;
        CHECK(listener >= 0 && tcp_pair(listener, &client, &server) == 0);
        CHECK(sl_set_buffer_sizes(server, 16384, 16384) == 0);
        sl_ring *r = sl_ring_new(BACKENDS[b]);
        sl_conn *c = sl_conn_new(server, 64, SL_CONN_OWN_FD);
        CHECK(r != NULL && c != NULL && sl_ring_add(r, c, NULL) == 0);
        enum { TOTAL = 2 << 20 };
        unsigned char *data = malloc(TOTAL), *back = malloc(TOTAL);
        CHECK(data != NULL && back != NULL);
        for (size_t i = 0; i < TOTAL; i++) data[i] = (unsigned char)(i * 31 + i / 251);
        CHECK(sl_conn_queue(c, data, TOTAL) == TOTAL);
        sl_ring_event ev[4];
        for (int i = 0; i < 5; i++) CHECK(sl_ring_wait(r, ev, 4, 10) >= 0);
        size_t pending = sl_conn_pending(c);
        CHECK(pending > 0 && pending < TOTAL);
        size_t have = 0;
        /* Loopback TCP with a 32 KiB send buffer moves in bursts: up to 20 s. */
        for (int turn = 0; turn < 20000 && have < TOTAL; turn++) {
            CHECK(sl_ring_wait(r, ev, 4, 1) >= 0);
            ssize_t k = recv(client, back + have, TOTAL - have, MSG_DONTWAIT);
            if (k > 0) have += (size_t)k;
        }
        CHECK(have == TOTAL && sl_conn_pending(c) == 0 && memcmp(back, data, TOTAL) == 0);
        free(data);
        free(back);
        CHECK(sl_ring_remove(r, c) == 0);
        sl_conn_free(c);
        sl_ring_free(r);
        close(client);
        close(listener);
    }
}

/* The peer sends a whole frame and half of the next, then ends with a FIN
 * (rst = 0) or a reset (rst = 1). */
static void cut_mid_message(int rst) {
    for (int b = 0; b < 2; b++) {
        int listener = sl_tcp_listen("127.0.0.1", 0, 4), client, server;
        CHECK(listener >= 0 && tcp_pair(listener, &client, &server) == 0);
        sl_ring *r = sl_ring_new(BACKENDS[b]);
        sl_conn *c = sl_conn_new(server, 64, SL_CONN_OWN_FD);
        CHECK(r != NULL && c != NULL && sl_ring_add(r, c, NULL) == 0);
        CHECK(send(client, "\0\0\0\2ok\0\0\0\11ha", 12, 0) == 12);
        sl_ring_event ev[4];
        for (int turn = 0; turn < 200 && sl_conn_buffered(c) < 12; turn++) CHECK(sl_ring_wait(r, ev, 4, 10) >= 0);
        CHECK(sl_conn_buffered(c) == 12);
        if (rst) {
            struct linger lg = {1, 0};
            CHECK(setsockopt(client, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
            CHECK(sl_conn_queue(c, "reply", 5) == 5);
        } else {
            CHECK(shutdown(client, SHUT_WR) == 0);
        }
        close(client);
        int seen = 0, error = 0;
        for (int turn = 0; turn < 200 && !(seen & (SL_RING_CLOSED | SL_RING_ERROR)); turn++) {
            if (rst) sl_conn_queue(c, "more", 4);
            int n = sl_ring_wait(r, ev, 4, 10);
            CHECK(n >= 0);
            for (int e = 0; e < n; e++) {
                seen |= ev[e].events;
                if (ev[e].events & SL_RING_ERROR) error = ev[e].error;
            }
        }
        if (rst) {
            CHECK(seen & (SL_RING_ERROR | SL_RING_CLOSED));
            if (seen & SL_RING_ERROR) CHECK(error == ECONNRESET || error == EPIPE);
        } else {
            CHECK((seen & SL_RING_CLOSED) && !(seen & SL_RING_ERROR));
        }
        const void *p;
        size_t len;
        CHECK(sl_conn_next_frame(c, &p, &len) == 1 && len == 2 && memcmp(p, "ok", 2) == 0);
        CHECK(sl_conn_next_frame(c, &p, &len) == 0 && sl_conn_buffered(c) == 6);
        CHECK(sl_ring_remove(r, c) == 0);
        sl_conn_free(c);
        sl_ring_free(r);
        close(listener);
    }
}

TEST(fin_mid_message_is_closed_with_the_partial_frame_kept) { cut_mid_message(0); }
TEST(rst_mid_message_is_an_error_with_the_partial_frame_kept) { cut_mid_message(1); }

/* A conn with a small bound is received into directly on io_uring: between
 * waits the kernel may write into its buffer, so a fill or a blocking read
 * (which sl_ring_add forbids) is refused with EBUSY, and nothing moves. */
TEST(a_fill_while_the_ring_receives_into_the_buffer_is_ebusy) {
    int listener = sl_tcp_listen("127.0.0.1", 0, 4), client, server;
    CHECK(listener >= 0 && tcp_pair(listener, &client, &server) == 0);
    sl_ring *r = sl_ring_new(0);
    sl_conn *c = sl_conn_new(server, 64, SL_CONN_OWN_FD);
    CHECK(r != NULL && c != NULL && sl_ring_add(r, c, NULL) == 0);
    sl_ring_event ev[4];
    CHECK(sl_ring_wait(r, ev, 4, 0) == 0);
    if (strcmp(sl_ring_backend(r), "io_uring") == 0) {
        char buf[16];
        CHECK(sl_conn_fill(c) == -1 && errno == EBUSY);
        CHECK(sl_conn_read_frame(c, buf, sizeof buf, 10) == -1 && errno == EBUSY);
    }
    CHECK(send(client, "\0\0\0\2ok", 6, 0) == 6);
    int n = 0;
    for (int turn = 0; turn < 200 && n == 0; turn++) CHECK((n = sl_ring_wait(r, ev, 4, 10)) >= 0);
    const void *p;
    size_t len;
    CHECK(n == 1 && ev[0].conn == c && ev[0].events == SL_RING_DATA);
    CHECK(sl_conn_next_frame(c, &p, &len) == 1 && len == 2 && memcmp(p, "ok", 2) == 0);
    CHECK(sl_ring_remove(r, c) == 0);
    sl_conn_free(c);
    sl_ring_free(r);
    close(client);
    close(listener);
}

static void on_signal(int sig) { (void)sig; }

struct storm { pthread_t target; volatile int stop; int sent; };

static void *storm_thread(void *arg) {
    struct storm *s = arg;
    while (!s->stop) {
        pthread_kill(s->target, SIGUSR1);
        s->sent++;
        usleep(300);
    }
    return NULL;
}

static int always_stop(void *ctx) { (void)ctx; return 1; }

TEST(a_signal_storm_never_ends_a_wait_unless_the_check_says_so) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART */
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    for (int b = 0; b < 2; b++) {
        sl_ring *r = sl_ring_new(BACKENDS[b]);
        CHECK(r != NULL);
        struct storm s = {pthread_self(), 0, 0};
        pthread_t t;
        CHECK(pthread_create(&t, NULL, storm_thread, &s) == 0);
        sl_ring_event ev[2];
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int n = sl_ring_wait(r, ev, 2, 150);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        sl_set_interrupt_check(always_stop, NULL);
        int rc = sl_ring_wait(r, ev, 2, sl_test_slow() ? 500 : 5000);
        int e = errno;
        sl_set_interrupt_check(NULL, NULL);
        s.stop = 1;
        pthread_join(t, NULL);
        CHECK(n == 0 && ms >= 150);
        /* Valgrind holds signals back from a thread blocked in
         * io_uring_enter (it does not know the call blocks), so there the
         * wait runs to its timeout: that part is checked outside valgrind. */
        if (!(sl_test_slow() && BACKENDS[b] == 0)) CHECK(rc == -1 && e == EINTR);
        CHECK(s.sent > 3 || sl_test_slow());
        sl_ring_free(r);
    }
}

RUN_TESTS("ring", T(echo_over_100_connections_on_io_uring), T(echo_over_100_connections_on_the_epoll_fallback),
          T(the_fallback_is_epoll_and_says_so), T(a_peer_that_never_reads_keeps_output_pending_then_gets_every_byte),
          T(fin_mid_message_is_closed_with_the_partial_frame_kept),
          T(rst_mid_message_is_an_error_with_the_partial_frame_kept),
          T(a_fill_while_the_ring_receives_into_the_buffer_is_ebusy),
          T(a_signal_storm_never_ends_a_wait_unless_the_check_says_so))
