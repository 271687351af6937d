/* Connection setup and teardown from C: sl_tcp_connect / sl_tcp_listen /
 * sl_accept / sl_local_port on loopback (IPv4 and IPv6), Unix sockets, option
 * setters and sl_close_graceful. Every returned fd must be close-on-exec, and
 * each test counts /proc/self/fd to prove it leaks none (single-threaded). */
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

static int is_cloexec(int fd) { return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }
static int is_nonblocking(int fd) { return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }

/* One message each way: the two fds are the two ends of one connection. */
static int talks(int a, int b) {
    char buf[4];
    if (sl_send_all(a, "ping", 4, 2000, NULL) != 4) return 0;
    if (sl_recv_exact(b, buf, 4, 2000, NULL) != 4 || memcmp(buf, "ping", 4) != 0) return 0;
    if (sl_send_all(b, "pong", 4, 2000, NULL) != 4) return 0;
    if (sl_recv_exact(a, buf, 4, 2000, NULL) != 4 || memcmp(buf, "pong", 4) != 0) return 0;
    return 1;
}

/* True when a non-blocking connect is still pending after 300 ms. */
static int stays_pending(int fd) {
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    return poll(&p, 1, 300) == 0;
}

static int has_ipv6_loopback(void) {
    int fd = sl_tcp_listen("::1", 0, 1);
    if (fd < 0) {
        printf("SKIP: no ::1 on this machine (%s), IPv6 part skipped\n", strerror(errno));
        return 0;
    }
    close(fd);
    return 1;
}

TEST(ipv4_connect_listen_accept_with_peer_text) {
    int fds = sl_count_open_fds();
    int l = sl_tcp_listen("127.0.0.1", 0, 16);
    CHECK(l >= 0 && is_cloexec(l) && !is_nonblocking(l));
    int port = sl_local_port(l);
    CHECK(port > 0 && port < 65536);
    int c = sl_tcp_connect("127.0.0.1", port, 2000);
    CHECK(c >= 0 && is_cloexec(c) && !is_nonblocking(c));
    char peer[SL_ADDRSTRLEN], want[SL_ADDRSTRLEN];
    int s = sl_accept(l, 0, 2000, peer, sizeof peer);
    CHECK(s >= 0 && is_cloexec(s) && !is_nonblocking(s));
    snprintf(want, sizeof want, "127.0.0.1:%d", sl_local_port(c));
    CHECK(strcmp(peer, want) == 0);
    CHECK(talks(c, s));
    close(c);
    close(s);
    close(l);
    CHECK(sl_count_open_fds() == fds);
}

TEST(ipv6_and_dual_stack) {
    if (!has_ipv6_loopback()) return;
    int fds = sl_count_open_fds();
    char peer[SL_ADDRSTRLEN], want[SL_ADDRSTRLEN];
    int l = sl_tcp_listen(NULL, 0, 16); /* every interface, both families */
    CHECK(l >= 0);
    int port = sl_local_port(l);
    int c6 = sl_tcp_connect("::1", port, 2000);
    CHECK(c6 >= 0 && is_cloexec(c6));
    int s6 = sl_accept(l, 0, 2000, peer, sizeof peer);
    CHECK(s6 >= 0);
    snprintf(want, sizeof want, "[::1]:%d", sl_local_port(c6));
    CHECK(strcmp(peer, want) == 0);
    CHECK(talks(c6, s6));
    int c4 = sl_tcp_connect("127.0.0.1", port, 2000);
    CHECK(c4 >= 0);
    int s4 = sl_accept(l, 0, 2000, peer, sizeof peer);
    CHECK(s4 >= 0);
    snprintf(want, sizeof want, "127.0.0.1:%d", sl_local_port(c4));
    CHECK(strcmp(peer, want) == 0); /* not [::ffff:127.0.0.1] */
    CHECK(talks(c4, s4));
    close(c6); close(s6); close(c4); close(s4); close(l);
    CHECK(sl_count_open_fds() == fds);
}

TEST(localhost_works_both_ways) {
    int l = sl_tcp_listen("localhost", 0, 4);
    CHECK(l >= 0);
    int c = sl_tcp_connect("localhost", sl_local_port(l), 2000);
    CHECK(c >= 0);
    int s = sl_accept(l, 0, 2000, NULL, 0);
    CHECK(s >= 0 && talks(c, s));
    close(c); close(s); close(l);
}

TEST(closed_port_is_refused_quickly) {
    int l = sl_tcp_listen("127.0.0.1", 0, 1);
    CHECK(l >= 0);
    int port = sl_local_port(l);
    close(l);
    double t0 = now_ms();
    CHECK_ERR(sl_tcp_connect("127.0.0.1", port, 10000), ECONNREFUSED);
    CHECK(now_ms() - t0 < 5000);
}

TEST(connect_timeout_is_respected) {
    /* A full accept queue: Linux drops further SYNs, so a connect never completes. */
    int l = sl_tcp_listen("127.0.0.1", 0, 0);
    CHECK(l >= 0);
    int port = sl_local_port(l), queued[16], n = 0, full = 0;
    while (n < 16 && !full) {
        queued[n] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        CHECK(queued[n] >= 0);
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        (void)connect(queued[n], (struct sockaddr *)&sin, sizeof sin);
        full = stays_pending(queued[n]);
        n++;
    }
    int result = 0, err = 0;
    double took = 0;
    if (full) {
        double t0 = now_ms();
        result = sl_tcp_connect("127.0.0.1", port, 300);
        err = errno;
        took = now_ms() - t0;
    } else {
        printf("SKIP: could not fill a listen backlog here\n");
    }
    for (int i = 0; i < n; i++) close(queued[i]);
    close(l);
    if (!full) return;
    CHECK(result == -1 && err == ETIMEDOUT);
    CHECK(took >= 299.0 && took < 3000.0);
}

TEST(accept_timeout_and_nonblocking_flag) {
    int l = sl_tcp_listen("127.0.0.1", 0, 4);
    CHECK(l >= 0);
    double t0 = now_ms();
    CHECK_ERR(sl_accept(l, 0, 200, NULL, 0), ETIMEDOUT);
    double took = now_ms() - t0;
    CHECK(took >= 199.0 && took < 3000.0);
    CHECK_ERR(sl_accept(l, 0, 0, NULL, 0), EAGAIN);
    CHECK(!is_nonblocking(l));
    int c = sl_tcp_connect("127.0.0.1", sl_local_port(l), 2000);
    CHECK(c >= 0);
    int s = sl_accept(l, SL_ACCEPT_NONBLOCK, 2000, NULL, 0);
    CHECK(s >= 0 && is_nonblocking(s) && is_cloexec(s));
    CHECK(talks(c, s));
    close(c); close(s); close(l);
}

TEST(returned_fds_do_not_survive_exec) {
    int l = sl_tcp_listen("127.0.0.1", 0, 4);
    CHECK(l >= 0);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "test ! -e /proc/self/fd/%d", l); /* test is a shell builtin */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    close(l);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(resolver_failure_maps_to_errno_with_its_text) {
    /* In a fresh network namespace (a child process), a DNS query cannot leave
     * the machine: the resolver fails locally. */
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        int code[2] = { -1, 0 };
        if (unshare(CLONE_NEWNET) == 0) {
            code[0] = sl_tcp_connect("no-such-host.invalid", 80, 3000);
            code[1] = errno;
        }
        ssize_t w = write(pfd[1], code, sizeof code);
        _exit(w == sizeof code ? 0 : 1);
    }
    close(pfd[1]);
    int code[2] = { 0, 0 };
    ssize_t got = read(pfd[0], code, sizeof code);
    close(pfd[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(got == sizeof code);
    if (code[1] == 0) {
        printf("SKIP: unshare(CLONE_NEWNET) not permitted\n");
        return;
    }
    CHECK(code[0] == -1 && (code[1] == ENOENT || code[1] == EHOSTDOWN));
    int eai = code[1] == ENOENT ? EAI_NONAME : EAI_AGAIN;
    CHECK(strcmp(sl_resolve_strerror(code[1]), gai_strerror(eai)) == 0);
    CHECK(strcmp(sl_resolve_strerror(ECONNREFUSED), strerror(ECONNREFUSED)) == 0);
}

TEST(unix_path_stale_file_and_live_listener) {
    int fds = sl_count_open_fds();
    char path[64];
    snprintf(path, sizeof path, "/tmp/sockloop-ctest-%d.sock", (int)getpid());
    unlink(path);
    /* A dead server's socket file. */
    int dead = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    memcpy(sun.sun_path, path, strlen(path) + 1);
    CHECK(bind(dead, (struct sockaddr *)&sun, sizeof sun) == 0 && listen(dead, 1) == 0);
    close(dead);
    CHECK_ERR(sl_unix_connect(path, 100), ECONNREFUSED);
    int l = sl_unix_listen(path, 4);
    CHECK(l >= 0 && is_cloexec(l));
    CHECK_ERR(sl_unix_listen(path, 4), EADDRINUSE); /* live: left alone */
    /* The liveness probe shows up as one connection that ends at once. */
    int probe = sl_accept(l, 0, 2000, NULL, 0);
    char b;
    CHECK(probe >= 0 && read(probe, &b, 1) == 0);
    close(probe);
    int c = sl_unix_connect(path, 2000);
    CHECK(c >= 0 && is_cloexec(c) && !is_nonblocking(c));
    char peer[SL_ADDRSTRLEN];
    int s = sl_accept(l, 0, 2000, peer, sizeof peer);
    CHECK(s >= 0 && strcmp(peer, "") == 0);
    CHECK(talks(c, s));
    close(c); close(s); close(l);
    unlink(path);
    /* A regular file is never removed. */
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fclose(f);
    CHECK_ERR(sl_unix_listen(path, 4), EADDRINUSE);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));
    unlink(path);
    CHECK(sl_count_open_fds() == fds);
}

TEST(unix_abstract_name_and_connect_timeout) {
    char name[64];
    snprintf(name, sizeof name, "@sockloop-ctest-%d", (int)getpid());
    int l = sl_unix_listen(name, 0);
    CHECK(l >= 0);
    int queued[64], n = 0, err = 0;
    double t0 = now_ms();
    while (n < 64) {
        int fd = sl_unix_connect(name, 200);
        if (fd < 0) { err = errno; break; }
        queued[n++] = fd;
    }
    double took = now_ms() - t0;
    for (int i = 0; i < n; i++) close(queued[i]);
    close(l);
    CHECK(n >= 1 && err == ETIMEDOUT);
    CHECK(took >= 199.0 && took < 3000.0);
    CHECK_ERR(sl_unix_connect(name, 100), ECONNREFUSED); /* gone with its listener */
}

TEST(options_round_trip) {
    int l = sl_tcp_listen("127.0.0.1", 0, 1);
    int c = sl_tcp_connect("127.0.0.1", sl_local_port(l), 2000);
    CHECK(l >= 0 && c >= 0);
    int v = 0;
    socklen_t len = sizeof v;
    CHECK(sl_set_nonblocking(c, 1) == 0 && is_nonblocking(c));
    CHECK(sl_set_nonblocking(c, 0) == 0 && !is_nonblocking(c));
    CHECK(sl_set_nodelay(c, 1) == 0);
    CHECK(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0 && v == 1);
    CHECK(sl_set_keepalive(c, 1, 60, 10, 4) == 0);
    CHECK(getsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &v, &len) == 0 && v == 1);
    CHECK(getsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len) == 0 && v == 60);
    CHECK(getsockopt(c, IPPROTO_TCP, TCP_KEEPINTVL, &v, &len) == 0 && v == 10);
    CHECK(getsockopt(c, IPPROTO_TCP, TCP_KEEPCNT, &v, &len) == 0 && v == 4);
    CHECK(sl_set_reuseaddr(c, 1) == 0);
    CHECK(getsockopt(c, SOL_SOCKET, SO_REUSEADDR, &v, &len) == 0 && v == 1);
    int snd = 0, rcv = 0;
    CHECK(sl_set_buffer_sizes(c, 50000, 40000) == 0);
    CHECK(sl_get_buffer_sizes(c, &snd, &rcv) == 0 && snd == 100000 && rcv == 80000); /* doubled */
    close(c); close(l);
}

TEST(graceful_close_lets_the_peer_read_every_last_byte) {
    int fds = sl_count_open_fds();
    /* Far more than both socket buffers hold, so the tail is in flight at close. */
    const long REPLY = sl_test_slow() ? 256 << 10 : 1 << 20;
    int l = sl_tcp_listen("127.0.0.1", 0, 1);
    CHECK(l >= 0);
    int port = sl_local_port(l);
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) { /* client: sends bytes the server never reads, reads slowly to EOF */
        close(l);
        close(pfd[0]);
        int c = sl_tcp_connect("127.0.0.1", port, 2000);
        sl_set_buffer_sizes(c, 0, 16384);
        if (c < 0 || sl_send_all(c, "unread request", 14, 2000, NULL) != 14) _exit(2);
        usleep(200 * 1000);
        static char chunk[65536];
        long total = 0;
        ssize_t n;
        while ((n = read(c, chunk, sizeof chunk)) > 0) total += n;
        ssize_t w = write(pfd[1], &total, sizeof total);
        close(c); /* end of stream: the server's drain ends cleanly */
        _exit(n == 0 && w == sizeof total ? 0 : 3);
    }
    close(pfd[1]);
    int s = sl_accept(l, 0, 5000, NULL, 0);
    CHECK(s >= 0);
    sl_set_buffer_sizes(s, 16384, 0);
    char *reply = calloc(1, (size_t)REPLY);
    CHECK(reply != NULL);
    CHECK(sl_send_all(s, reply, (size_t)REPLY, 10000, NULL) == REPLY);
    free(reply);
    CHECK(sl_close_graceful(s, 10000) == 0);
    long total = 0;
    CHECK(read(pfd[0], &total, sizeof total) == sizeof total);
    close(pfd[0]);
    close(l);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(total == REPLY);
    CHECK(sl_count_open_fds() == fds);
}

TEST(graceful_close_times_out_and_still_closes) {
    int fds = sl_count_open_fds();
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    double t0 = now_ms();
    CHECK_ERR(sl_close_graceful(sv[0], 150), ETIMEDOUT);
    CHECK(now_ms() - t0 >= 149.0);
    char b;
    CHECK(read(sv[1], &b, 1) == 0); /* our end is gone: end of stream */
    close(sv[1]);
    CHECK(sl_count_open_fds() == fds);
    CHECK_ERR(sl_close_graceful(sv[0], 0), EBADF); /* already closed */
}

TEST(bad_inputs_have_their_errno) {
    int fds = sl_count_open_fds();
    CHECK_ERR(sl_tcp_connect(NULL, 80, 100), EINVAL);
    CHECK_ERR(sl_tcp_connect("", 80, 100), EINVAL);
    CHECK_ERR(sl_tcp_connect("127.0.0.1", 0, 100), EINVAL);
    CHECK_ERR(sl_tcp_connect("127.0.0.1", 70000, 100), EINVAL);
    CHECK_ERR(sl_tcp_connect("127.0.0.1", 80, -2), EINVAL);
    CHECK_ERR(sl_tcp_listen("127.0.0.1", 0, -1), EINVAL);
    CHECK_ERR(sl_tcp_listen("127.0.0.1", -1, 1), EINVAL);
    CHECK_ERR(sl_accept(-1, 0, 0, NULL, 0), EINVAL);
    int l = sl_tcp_listen("127.0.0.1", 0, 1);
    CHECK(l >= 0);
    char small[16];
    CHECK_ERR(sl_accept(l, 0, 0, small, sizeof small), EINVAL);
    CHECK_ERR(sl_accept(l, 4, 0, NULL, 0), EINVAL);
    close(l);
    CHECK_ERR(sl_accept(l, 0, 0, NULL, 0), EBADF);
    char long_path[200];
    memset(long_path, 'x', sizeof long_path - 1);
    long_path[sizeof long_path - 1] = '\0';
    CHECK_ERR(sl_unix_listen(long_path, 1), ENAMETOOLONG);
    CHECK_ERR(sl_unix_connect(long_path, 100), ENAMETOOLONG);
    CHECK_ERR(sl_unix_listen(NULL, 1), EINVAL);
    CHECK_ERR(sl_unix_listen("", 1), EINVAL);
    CHECK_ERR(sl_unix_listen("@sockloop-neg", -1), EINVAL);
    CHECK_ERR(sl_local_port(-1), EINVAL);
    CHECK_ERR(sl_set_nodelay(-1, 1), EINVAL);
    CHECK_ERR(sl_set_keepalive(0, 1, -1, 0, 0), EINVAL);
    CHECK_ERR(sl_set_buffer_sizes(0, -5, 0), EINVAL);
    CHECK_ERR(sl_get_buffer_sizes(-1, NULL, NULL), EINVAL);
    CHECK_ERR(sl_close_graceful(-1, 0), EINVAL);
    CHECK(sl_count_open_fds() == fds);
}

/* The event-loop connect: 64 connects started at once, finished as the
 * selector reports each writable, then every one accepted and talking. */
TEST(started_connects_finish_in_a_selector_loop) {
    enum { N = 64 };
    int l = sl_tcp_listen("127.0.0.1", 0, N);
    CHECK(l >= 0);
    int port = sl_local_port(l), fds[N], open = 0;
    sl_selector *sel = sl_selector_new();
    CHECK(sel != NULL);
    for (int i = 0; i < N; i++) {
        fds[i] = sl_tcp_connect_start("127.0.0.1", port);
        CHECK(fds[i] >= 0 && is_nonblocking(fds[i]) && is_cloexec(fds[i]));
        CHECK(sl_selector_register(sel, fds[i], SL_WRITE, &fds[i]) == 0);
        open++;
    }
    double end = now_ms() + 5000;
    sl_event ev[16];
    while (open > 0 && now_ms() < end) {
        int n = sl_selector_select(sel, ev, 16, 1000);
        CHECK(n >= 0);
        for (int i = 0; i < n; i++) {
            int rc = sl_connect_finish(ev[i].fd, 0);
            if (rc < 0 && errno == EAGAIN) continue;
            CHECK(rc == 0);
            CHECK(sl_selector_unregister(sel, ev[i].fd) == 0);
            open--;
        }
    }
    CHECK(open == 0);
    for (int i = 0; i < N; i++) {
        int s = sl_accept(l, 0, 2000, NULL, 0);
        CHECK(s >= 0);
        CHECK(sl_set_nonblocking(fds[i], 0) == 0);
        close(s);
        close(fds[i]);
    }
    CHECK_ERR(sl_connect_finish(fds[0], 0), EBADF);
    sl_selector_free(sel);
    close(l);
}

TEST(a_started_connect_reports_refusal_and_a_unix_start_is_connected_at_once) {
    int l = sl_tcp_listen("127.0.0.1", 0, 1);
    CHECK(l >= 0);
    int port = sl_local_port(l);
    close(l); /* nothing listens there now */
    int fd = sl_tcp_connect_start("127.0.0.1", port);
    if (fd >= 0) {
        CHECK_ERR(sl_connect_finish(fd, 2000), ECONNREFUSED);
        CHECK_ERR(sl_connect_finish(fd, 0), ENOTCONN); /* reported once */
        close(fd);
    } else {
        CHECK(errno == ECONNREFUSED);
    }
    char path[64];
    snprintf(path, sizeof path, "@sockloop-test-net-start-%d", (int)getpid());
    int ul = sl_unix_listen(path, 4);
    CHECK(ul >= 0);
    int u = sl_unix_connect_start(path);
    CHECK(u >= 0 && is_nonblocking(u));
    CHECK(sl_connect_finish(u, 0) == 0);
    int us = sl_accept(ul, 0, 1000, NULL, 0);
    CHECK(us >= 0);
    CHECK(sl_set_nonblocking(u, 0) == 0);
    CHECK(talks(u, us));
    close(u);
    close(us);
    close(ul);
    CHECK_ERR(sl_unix_connect_start(path), ECONNREFUSED);
}

RUN_TESTS("test_net",
          T(ipv4_connect_listen_accept_with_peer_text),
          T(ipv6_and_dual_stack),
          T(localhost_works_both_ways),
          T(closed_port_is_refused_quickly),
          T(connect_timeout_is_respected),
          T(accept_timeout_and_nonblocking_flag),
          T(returned_fds_do_not_survive_exec),
          T(resolver_failure_maps_to_errno_with_its_text),
          T(unix_path_stale_file_and_live_listener),
          T(unix_abstract_name_and_connect_timeout),
          T(options_round_trip),
          T(graceful_close_lets_the_peer_read_every_last_byte),
          T(graceful_close_times_out_and_still_closes),
          T(bad_inputs_have_their_errno),
          T(started_connects_finish_in_a_selector_loop),
          T(a_started_connect_reports_refusal_and_a_unix_start_is_connected_at_once))
