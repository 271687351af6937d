/* sl_wait_readable / sl_wait_writable / sl_select / sl_selector from C, over
 * socketpairs, loopback TCP and pipes: fd 5000, 10,000 idle connections with
 * their far ends in a child process, fairness, error codes, signal storms. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sockloop.h"
#include "far_ends.h"
#include "harness.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int fill_send_buffer(int fd) {
    static char chunk[65536];
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) return -1;
    while (send(fd, chunk, sizeof chunk, MSG_DONTWAIT) > 0) {}
    return errno == EAGAIN ? 0 : -1;
}

/* An fd number that is surely closed. */
static int closed_fd(void) {
    int p[2];
    if (pipe(p) != 0) return -1;
    close(p[0]);
    close(p[1]);
    return p[0];
}

TEST(wait_readable_and_writable) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(sl_wait_readable(sv[0], 0) == 0);
    double t0 = now_ms();
    CHECK(sl_wait_readable(sv[0], 30) == 0);
    CHECK(now_ms() - t0 >= 30.0);
    CHECK(sl_wait_writable(sv[0], 0) == 1);
    CHECK(write(sv[1], "x", 1) == 1);
    CHECK(sl_wait_readable(sv[0], -1) == 1);
    CHECK(fill_send_buffer(sv[1]) == 0);
    CHECK(sl_wait_writable(sv[1], 20) == 0);
    close(sv[0]); /* hang-up: ready, so that the send reports EPIPE */
    CHECK(sl_wait_writable(sv[1], 1000) == 1);
    CHECK(sl_wait_readable(sv[1], 1000) == 1);
    close(sv[1]);
}

TEST(wait_bad_arguments) {
    CHECK_ERR(sl_wait_readable(-1, 0), EINVAL);
    CHECK_ERR(sl_wait_writable(-1, -1), EINVAL);
    CHECK_ERR(sl_wait_readable(0, -2), EINVAL);
    int fd = closed_fd();
    CHECK(fd >= 0);
    CHECK_ERR(sl_wait_readable(fd, 1000), EBADF);
    CHECK_ERR(sl_wait_writable(fd, -1), EBADF);
}

TEST(select_ready_subsets) {
    int a[2], b[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, a) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, b) == 0);
    CHECK(write(b[1], "x", 1) == 1);
    CHECK(fill_send_buffer(a[1]) == 0); /* a[0] now has data, a[1] is full */
    int readers[] = { a[1], b[0], a[0] }, writers[] = { a[1], b[0] }, errs[] = { a[0] };
    int rr[3], rw[2], re[1];
    size_t nr = 99, nw = 99, ne = 99;
    CHECK(sl_select(readers, 3, writers, 2, errs, 1, 1000, rr, &nr, rw, &nw, re, &ne) == 3);
    CHECK(nr == 2 && rr[0] == b[0] && rr[1] == a[0]);
    CHECK(nw == 1 && rw[0] == b[0]);
    CHECK(ne == 0);
    /* Timeout: 0 and every count 0. */
    int idle[] = { a[1] };
    double t0 = now_ms();
    CHECK(sl_select(idle, 1, NULL, 0, idle, 1, 25, rr, &nr, NULL, &nw, re, &ne) == 0);
    CHECK(now_ms() - t0 >= 25.0 && nr == 0 && nw == 0 && ne == 0);
    /* In place, like FD_SET: the output array is the input. */
    int inplace[] = { a[1], b[0] };
    CHECK(sl_select(inplace, 2, NULL, 0, NULL, 0, 1000, inplace, &nr, NULL, NULL, NULL, NULL) == 1);
    CHECK(nr == 1 && inplace[0] == b[0]);
    /* Nothing at all waits out the timeout. */
    t0 = now_ms();
    CHECK(sl_select(NULL, 0, NULL, 0, NULL, 0, 20, NULL, NULL, NULL, NULL, NULL, NULL) == 0);
    CHECK(now_ms() - t0 >= 20.0);
    close(a[0]); close(a[1]); close(b[0]); close(b[1]);
}

TEST(select_out_of_band_data_is_an_error_condition) {
    int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(l >= 0 && c >= 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    CHECK(bind(l, (struct sockaddr *)&addr, sizeof addr) == 0 && listen(l, 1) == 0);
    CHECK(getsockname(l, (struct sockaddr *)&addr, &len) == 0);
    CHECK(connect(c, (struct sockaddr *)&addr, sizeof addr) == 0);
    int s = accept(l, NULL, NULL);
    CHECK(s >= 0);
    CHECK(send(c, "!", 1, MSG_OOB) == 1);
    int errs[] = { c, s }, re[2];
    size_t ne = 0;
    CHECK(sl_select(NULL, 0, NULL, 0, errs, 2, 5000, NULL, NULL, NULL, NULL, re, &ne) == 1);
    CHECK(ne == 1 && re[0] == s);
    close(s); close(c); close(l);
}

TEST(select_bad_arguments_leave_counts_zero) {
    int sv[2], out[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    size_t nr = 99, nw = 99;
    int bad[] = { sv[0], -1 };
    CHECK_ERR(sl_select(bad, 2, NULL, 0, NULL, 0, 0, out, &nr, NULL, &nw, NULL, NULL), EINVAL);
    CHECK(nr == 0 && nw == 0);
    CHECK_ERR(sl_select(NULL, 1, NULL, 0, NULL, 0, 0, out, &nr, NULL, NULL, NULL, NULL), EINVAL);
    CHECK_ERR(sl_select(sv, 1, NULL, 0, NULL, 0, 0, NULL, &nr, NULL, NULL, NULL, NULL), EINVAL);
    CHECK_ERR(sl_select(sv, 1, NULL, 0, NULL, 0, -2, out, &nr, NULL, NULL, NULL, NULL), EINVAL);
    int closed[] = { closed_fd() };
    nr = 99;
    CHECK_ERR(sl_select(sv, 1, closed, 1, NULL, 0, 1000, out, &nr, out, &nw, NULL, NULL), EBADF);
    CHECK(nr == 0 && nw == 0);
    close(sv[0]); close(sv[1]);
}

TEST(fd_5000_works_in_every_function) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(fcntl(5000, F_GETFD) == -1);
    CHECK(dup2(sv[0], 5000) == 5000);
    close(sv[0]);
    CHECK(sl_wait_readable(5000, 0) == 0);
    CHECK(sl_wait_writable(5000, 0) == 1);
    CHECK(write(sv[1], "x", 1) == 1);
    CHECK(sl_wait_readable(5000, 1000) == 1);
    int fds[] = { 5000 }, r[1], w[1];
    size_t nr = 0, nw = 0;
    CHECK(sl_select(fds, 1, fds, 1, NULL, 0, 1000, r, &nr, w, &nw, NULL, NULL) == 2);
    CHECK(nr == 1 && r[0] == 5000 && nw == 1 && w[0] == 5000);
    sl_selector *sel = sl_selector_new();
    CHECK(sel);
    int tag;
    CHECK(sl_selector_register(sel, 5000, SL_READ, &tag) == 0);
    CHECK_ERR(sl_selector_register(sel, 5000, SL_READ, &tag), EEXIST);
    sl_event ev[4];
    CHECK(sl_selector_select(sel, ev, 4, 1000) == 1);
    CHECK(ev[0].fd == 5000 && ev[0].events == SL_READ && ev[0].data == &tag);
    CHECK(sl_selector_modify(sel, 5000, SL_WRITE, NULL) == 0);
    int events = 0;
    void *data = &tag;
    CHECK(sl_selector_get(sel, 5000, &events, &data) == 0 && events == SL_WRITE && data == NULL);
    CHECK(sl_selector_unregister(sel, 5000) == 0);
    sl_selector_free(sel);
    close(5000);
    close(sv[1]);
}

TEST(selector_error_codes) {
    sl_selector *sel = sl_selector_new();
    CHECK(sel);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK_ERR(sl_selector_register(sel, sv[0], 0, NULL), EINVAL);
    CHECK_ERR(sl_selector_register(sel, sv[0], 4, NULL), EINVAL);
    CHECK_ERR(sl_selector_register(sel, sv[0], SL_READ | 16, NULL), EINVAL);
    CHECK_ERR(sl_selector_register(sel, -1, SL_READ, NULL), EINVAL);
    CHECK_ERR(sl_selector_register(NULL, sv[0], SL_READ, NULL), EINVAL);
    CHECK_ERR(sl_selector_register(sel, closed_fd(), SL_READ, NULL), EBADF);
    CHECK_ERR(sl_selector_modify(sel, sv[0], SL_READ, NULL), ENOENT);
    CHECK_ERR(sl_selector_unregister(sel, sv[0]), ENOENT);
    CHECK_ERR(sl_selector_get(sel, sv[0], NULL, NULL), ENOENT);
    CHECK(sl_selector_register(sel, sv[0], SL_READ, NULL) == 0);
    CHECK_ERR(sl_selector_register(sel, sv[0], SL_WRITE, NULL), EEXIST);
    CHECK_ERR(sl_selector_modify(sel, sv[0], 0, NULL), EINVAL);
    CHECK_ERR(sl_selector_modify(sel, sv[0], 3 | 4, NULL), EINVAL);
    CHECK_ERR(sl_selector_modify(NULL, sv[0], SL_READ, NULL), EINVAL);
    CHECK_ERR(sl_selector_unregister(sel, -1), EINVAL);
    CHECK_ERR(sl_selector_unregister(NULL, sv[0]), EINVAL);
    CHECK_ERR(sl_selector_get(NULL, sv[0], NULL, NULL), EINVAL);
    sl_event ev;
    CHECK_ERR(sl_selector_select(sel, NULL, 1, 0), EINVAL);
    CHECK_ERR(sl_selector_select(sel, &ev, 0, 0), EINVAL);
    CHECK_ERR(sl_selector_select(sel, &ev, 1, -2), EINVAL);
    CHECK_ERR(sl_selector_select(NULL, &ev, 1, 0), EINVAL);
    CHECK(sl_selector_unregister(sel, sv[0]) == 0);
    CHECK_ERR(sl_selector_unregister(sel, sv[0]), ENOENT);
    sl_selector_free(sel);
    sl_selector_free(NULL); /* a no-op */
    close(sv[0]); close(sv[1]);
}

TEST(selector_events_data_and_masking) {
    sl_selector *sel = sl_selector_new();
    CHECK(sel);
    int a[2], b[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, a) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, b) == 0);
    char tag_a, tag_b;
    CHECK(sl_selector_register(sel, a[0], SL_READ, &tag_a) == 0);
    CHECK(sl_selector_register(sel, b[0], SL_READ | SL_WRITE, &tag_b) == 0);
    CHECK(fill_send_buffer(b[0]) == 0);
    sl_event ev[4];
    CHECK(sl_selector_select(sel, ev, 4, 0) == 0);
    CHECK(write(a[1], "x", 1) == 1);
    CHECK(sl_selector_select(sel, ev, 4, 1000) == 1);
    CHECK(ev[0].fd == a[0] && ev[0].events == SL_READ && ev[0].data == &tag_a);
    /* Hang-up: reported as read and write, masked by the registration. */
    close(a[1]);
    close(b[1]);
    int n = sl_selector_select(sel, ev, 4, 1000);
    CHECK(n == 2);
    for (int i = 0; i < n; i++) {
        if (ev[i].fd == a[0]) CHECK(ev[i].events == SL_READ && ev[i].data == &tag_a);
        else CHECK(ev[i].fd == b[0] && ev[i].events == (SL_READ | SL_WRITE) && ev[i].data == &tag_b);
    }
    sl_selector_free(sel); /* the registered fds stay open: they are ours */
    CHECK(fcntl(a[0], F_GETFD) >= 0 && fcntl(b[0], F_GETFD) >= 0);
    close(a[0]);
    close(b[0]);
}

/* A registered fd closed while a dup of its file stays open and readable,
 * then unregistered: with epoll the kernel still watches that file under the
 * old number (a stale watch). It must never be reported, never hide a ready
 * fd, never make a select spin; the same number registered anew is a new
 * registration with nothing inherited. */
TEST(selector_stale_watches_never_hide_misreport_or_spin) {
    sl_selector *sel = sl_selector_new();
    CHECK(sel);
    int old[2], live[2], fresh[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, old) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, live) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fresh) == 0);
    int keep = dup(old[0]), num = old[0];
    CHECK(keep >= 0);
    char tag_live, tag_new;
    CHECK(sl_selector_register(sel, num, SL_READ, NULL) == 0);
    CHECK(sl_selector_register(sel, live[0], SL_READ, &tag_live) == 0);
    CHECK(write(old[1], "s", 1) == 1); /* the old file stays readable */
    close(num);
    CHECK(sl_selector_unregister(sel, num) == 0);
    /* The number again, as a new idle socket (while it is surely free: a
     * select may rebuild the epoll set, whose new fd could take it). */
    CHECK(dup2(fresh[0], num) == num);
    CHECK(sl_selector_register(sel, num, SL_READ, &tag_new) == 0);
    CHECK(write(live[1], "l", 1) == 1);
    sl_event ev[16];
    for (int round = 0; round < 20; round++) {
        int timeouts[] = {0, 10};
        for (int t = 0; t < 2; t++) {
            CHECK(sl_selector_select(sel, ev, 16, timeouts[t]) == 1);
            CHECK(ev[0].fd == live[0] && ev[0].data == &tag_live);
        }
    }
    char byte;
    CHECK(read(live[0], &byte, 1) == 1);
    struct rusage before, after;
    CHECK(getrusage(RUSAGE_SELF, &before) == 0);
    double start = now_ms();
    CHECK(sl_selector_select(sel, ev, 16, 1000) == 0); /* nothing new is ready */
    CHECK(now_ms() - start >= 1000);
    CHECK(getrusage(RUSAGE_SELF, &after) == 0);
    double cpu_ms = (after.ru_utime.tv_sec - before.ru_utime.tv_sec) * 1e3 + (after.ru_utime.tv_usec - before.ru_utime.tv_usec) / 1e3 +
                    (after.ru_stime.tv_sec - before.ru_stime.tv_sec) * 1e3 + (after.ru_stime.tv_usec - before.ru_stime.tv_usec) / 1e3;
    CHECK(cpu_ms < (sl_test_slow() ? 200 : 10));
    CHECK(write(fresh[1], "n", 1) == 1);
    CHECK(sl_selector_select(sel, ev, 16, 1000) == 1);
    CHECK(ev[0].fd == num && ev[0].data == &tag_new);
    /* A change of events on a closed registration is EBADF. */
    int gone = dup(live[0]);
    CHECK(gone >= 0 && sl_selector_register(sel, gone, SL_READ, NULL) == 0);
    close(gone);
    CHECK_ERR(sl_selector_modify(sel, gone, SL_READ | SL_WRITE, NULL), EBADF);
    CHECK(sl_selector_unregister(sel, gone) == 0);
    sl_selector_free(sel);
    int fds[] = {keep, old[1], live[0], live[1], fresh[0], fresh[1], num};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) close(fds[i]);
}

TEST(selector_fairness_when_more_are_ready_than_capacity) {
    enum { N = 7, CAP = 2 };
    sl_selector *sel = sl_selector_new();
    CHECK(sel);
    int sv[N][2], seen[N] = { 0 }, first_round[N] = { 0 };
    for (int i = 0; i < N; i++) {
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]) == 0);
        CHECK(write(sv[i][1], "x", 1) == 1); /* never read: stays ready */
        CHECK(sl_selector_register(sel, sv[i][0], SL_READ, &seen[i]) == 0);
    }
    for (int call = 0; call < N; call++) {
        sl_event ev[CAP];
        CHECK(sl_selector_select(sel, ev, CAP, 1000) == CAP);
        for (int k = 0; k < CAP; k++) {
            int i = (int)((int *)ev[k].data - seen);
            CHECK(i >= 0 && i < N && ev[k].fd == sv[i][0]);
            seen[i]++;
            if (call < (N + CAP - 1) / CAP) first_round[i] = 1;
        }
    }
    for (int i = 0; i < N; i++) {
        CHECK(first_round[i]);  /* every fd within ceil(N / CAP) calls */
        CHECK(seen[i] == CAP);  /* N calls x CAP events, round-robin */
    }
    sl_selector_free(sel);
    for (int i = 0; i < N; i++) { close(sv[i][0]); close(sv[i][1]); }
}

TEST(ten_thousand_idle_connections_and_one_active) {
    /* Valgrind keeps fds for itself and is slow: fewer there. */
    const int IDLE = sl_test_slow() ? 1000 : 10000;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(l >= 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    /* A backlog big enough for the burst: a dropped SYN costs a 1 s retry. */
    CHECK(bind(l, (struct sockaddr *)&addr, sizeof addr) == 0 && listen(l, 4096) == 0);
    CHECK(getsockname(l, (struct sockaddr *)&addr, &len) == 0);
    int control;
    pid_t child = far_ends_in_a_child(l, IDLE, &control);
    CHECK(child > 0);
    close(l);
    int *fds = malloc(sizeof *fds * (size_t)IDLE);
    CHECK(fds);
    sl_selector *sel = sl_selector_new();
    CHECK(sel);
    for (int i = 0; i < IDLE; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(fds[i] >= 0);
        CHECK(connect(fds[i], (struct sockaddr *)&addr, sizeof addr) == 0);
        CHECK(sl_selector_register(sel, fds[i], SL_READ, &fds[i]) == 0);
    }
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(sl_selector_register(sel, sv[0], SL_READ, sv) == 0);
    sl_event ev[64];
    CHECK(sl_selector_select(sel, ev, 64, 0) == 0);
    CHECK(write(sv[1], "x", 1) == 1);
    for (int k = 0; k < 3; k++) {
        CHECK(sl_selector_select(sel, ev, 64, 1000) == 1);
        CHECK(ev[0].fd == sv[0] && ev[0].events == SL_READ && ev[0].data == sv);
    }
    /* sl_select over the same fds finds the same one. */
    int *all = malloc(sizeof *all * (size_t)(IDLE + 1));
    CHECK(all);
    memcpy(all, fds, sizeof *fds * (size_t)IDLE);
    all[IDLE] = sv[0];
    size_t nr = 0;
    CHECK(sl_select(all, (size_t)IDLE + 1, NULL, 0, NULL, 0, 1000, all, &nr, NULL, NULL, NULL, NULL) == 1);
    CHECK(nr == 1 && all[0] == sv[0]);
    free(all);
    sl_selector_free(sel);
    for (int i = 0; i < IDLE; i++) close(fds[i]);
    free(fds);
    close(sv[0]); close(sv[1]);
    close(control);
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

TEST(signal_storm_never_ends_a_wait_early) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: every wait fails with EINTR */
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
    const suseconds_t every_us = sl_test_slow() ? 5000 : 200;
    struct itimerval storm = {{0, every_us}, {0, every_us}}, off = {{0, 0}, {0, 0}};
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    sl_selector *sel = sl_selector_new(), *empty = sl_selector_new();
    CHECK(sel && empty);
    CHECK(sl_selector_register(sel, sv[0], SL_READ, NULL) == 0);
    alarms = 0;
    CHECK(setitimer(ITIMER_REAL, &storm, NULL) == 0);
    double t0 = now_ms();
    int r1 = sl_wait_readable(sv[0], 100);
    double t1 = now_ms();
    size_t nr = 9;
    int r2 = sl_select(sv, 1, NULL, 0, NULL, 0, 100, sv + 1, &nr, NULL, NULL, NULL, NULL);
    double t2 = now_ms();
    sl_event ev[2];
    int r3 = sl_selector_select(sel, ev, 2, 100);
    double t3 = now_ms();
    int r4 = sl_selector_select(empty, ev, 2, 100);
    double t4 = now_ms();
    setitimer(ITIMER_REAL, &off, NULL);
    CHECK(alarms > (sl_test_slow() ? 5 : 50));
    CHECK(r1 == 0 && t1 - t0 >= 100.0);
    CHECK(r2 == 0 && nr == 0 && t2 - t1 >= 100.0);
    CHECK(r3 == 0 && t3 - t2 >= 100.0);
    CHECK(r4 == 0 && t4 - t3 >= 100.0);
    sl_selector_free(sel);
    sl_selector_free(empty);
    close(sv[0]); close(sv[1]);
}

RUN_TESTS("test_ready",
          T(wait_readable_and_writable),
          T(wait_bad_arguments),
          T(select_ready_subsets),
          T(select_out_of_band_data_is_an_error_condition),
          T(select_bad_arguments_leave_counts_zero),
          T(fd_5000_works_in_every_function),
          T(selector_error_codes),
          T(selector_events_data_and_masking),
          T(selector_stale_watches_never_hide_misreport_or_spin),
          T(selector_fairness_when_more_are_ready_than_capacity),
          T(ten_thousand_idle_connections_and_one_active),
          T(signal_storm_never_ends_a_wait_early))
