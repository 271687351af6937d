/* The interrupt check and the selector wakeup: a signal ends a blocked call
 * only when the thread's check says so, within milliseconds, with the
 * progress reported and resumable; a check answering 0 changes nothing; a
 * wakeup from a handler or another thread ends sl_selector_select(-1) and is
 * never lost. One blocking family per test. */
#include "harness.h"
#include "sockloop.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t alarms;
static struct timespec alarm_at;       /* when the last SIGALRM was handled */
static sl_selector *wake_target;       /* woken by the handler when set */
static int answer;                     /* what the check says */
static int checks;                     /* how often it was asked */

static void on_alarm(int sig) {
    (void)sig;
    clock_gettime(CLOCK_MONOTONIC, &alarm_at);
    alarms++;
    if (wake_target) sl_selector_wakeup(wake_target);
}

static int check(void *ctx) {
    (void)ctx;
    checks++;
    return answer;
}

static double ms_since(const struct timespec *t) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) * 1e3 + (double)(now.tv_nsec - t->tv_nsec) / 1e6;
}

/* How late a call may end after the signal: 10 ms, more under valgrind. */
static double late_ms(void) { return sl_test_slow() ? 300.0 : 10.0; }

/* SIGALRM handled with or without SA_RESTART (as signal() installs it). */
static void handle_alarm(int restart) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
}

/* One SIGALRM after first_ms, then every every_ms (0: just one). */
static void arm(int first_ms, int every_ms) {
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = first_ms / 1000;
    it.it_value.tv_usec = (first_ms % 1000) * 1000;
    it.it_interval.tv_usec = every_ms * 1000;
    setitimer(ITIMER_REAL, &it, NULL);
}

static void disarm(void) { arm(0, 0); }

/* Installs the check answering `a`, with a fresh count and signal record. */
static void use_check(int a) {
    answer = a;
    checks = 0;
    alarms = 0;
    sl_set_interrupt_check(check, NULL);
}

static void no_check(void) {
    disarm();
    sl_set_interrupt_check(NULL, NULL);
    wake_target = NULL;
}

static int pair(int sv[2]) { return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv); }

/* ------------------------------------------------------------------ tests */

TEST(recv_exact_ends_on_the_check_and_resumes_without_loss) {
    for (int restart = 0; restart <= 1; restart++) {
        for (int t = 0; t < 2; t++) {
            int timeout = t ? 5000 : -1;
            int sv[2];
            CHECK(pair(sv) == 0);
            handle_alarm(restart);
            use_check(1);
            CHECK(write(sv[1], "hello", 5) == 5);
            char buf[10];
            size_t got = 99;
            arm(30, 0);
            CHECK_ERR(sl_recv_exact(sv[0], buf, sizeof buf, timeout, &got), EINTR);
            CHECK(alarms == 1 && checks == 1 && ms_since(&alarm_at) < late_ms());
            CHECK(got == 5 && memcmp(buf, "hello", 5) == 0);
            CHECK(write(sv[1], "world", 5) == 5);
            size_t more = 0;
            CHECK(sl_recv_exact(sv[0], buf + got, sizeof buf - got, timeout, &more) == 5);
            CHECK(more == 5 && memcmp(buf, "helloworld", 10) == 0);
            no_check();
            close(sv[0]);
            close(sv[1]);
        }
    }
}

TEST(a_check_answering_zero_changes_nothing_under_a_storm) {
    int sv[2];
    CHECK(pair(sv) == 0);
    handle_alarm(0);
    use_check(0);
    CHECK(write(sv[1], "abc", 3) == 3);
    char buf[8];
    size_t got = 0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    arm(1, 1);
    CHECK_ERR(sl_recv_exact(sv[0], buf, sizeof buf, 200, &got), ETIMEDOUT);
    double took = ms_since(&start);
    disarm();
    CHECK(got == 3 && memcmp(buf, "abc", 3) == 0);
    CHECK(took >= 200 && took < 200 + 50 + late_ms());
    CHECK(checks > 10 && checks <= alarms);
    /* The selector and accept the same: their own deadline, no EINTR. */
    sl_selector *sel = sl_selector_new();
    CHECK(sel != NULL);
    CHECK(sl_selector_register(sel, sv[0], SL_READ, NULL) == 0);
    sl_event ev[4];
    checks = 0;
    arm(1, 1);
    CHECK(sl_selector_select(sel, ev, 4, 100) == 0);
    disarm();
    CHECK(checks > 5);
    sl_selector_free(sel);
    int listener = sl_tcp_listen("127.0.0.1", 0, 8);
    CHECK(listener >= 0);
    checks = 0;
    arm(1, 1);
    CHECK_ERR(sl_accept(listener, 0, 100, NULL, 0), ETIMEDOUT);
    disarm();
    CHECK(checks > 5);
    no_check();
    close(listener);
    close(sv[0]);
    close(sv[1]);
}

/* Fills the socket's send buffer, then a blocking send_all of more than fits
 * is interrupted; the peer then reads everything while the sender resumes
 * with timeout 0: every byte arrives once, in order. */
TEST(send_all_ends_on_the_check_and_resumes_without_loss) {
    for (int restart = 0; restart <= 1; restart++) {
        int sv[2];
        CHECK(pair(sv) == 0);
        CHECK(sl_set_buffer_sizes(sv[0], 4096, 4096) == 0);
        enum { LEN = 1 << 20 };
        static unsigned char out[LEN], in[LEN];
        for (size_t i = 0; i < LEN; i++) out[i] = (unsigned char)(i * 7 + i / 251);
        handle_alarm(restart);
        use_check(1);
        size_t sent = 0;
        arm(30, 0);
        CHECK_ERR(sl_send_all(sv[0], out, LEN, -1, &sent), EINTR);
        CHECK(ms_since(&alarm_at) < late_ms());
        CHECK(sent > 0 && sent < LEN);
        size_t received = 0;
        while (received < LEN) {
            size_t more = 0;
            if (sent < LEN && sl_send_all(sv[0], out + sent, LEN - sent, 0, &more) < 0) CHECK(errno == EAGAIN);
            sent += more;
            ssize_t n = recv(sv[1], in + received, LEN - received, MSG_DONTWAIT);
            CHECK(n > 0 || errno == EAGAIN);
            if (n > 0) received += (size_t)n;
        }
        CHECK(sent == LEN && memcmp(in, out, LEN) == 0);
        no_check();
        close(sv[0]);
        close(sv[1]);
    }
}

TEST(waits_and_select_end_on_the_check) {
    int sv[2];
    CHECK(pair(sv) == 0);
    handle_alarm(0);
    use_check(1);
    arm(20, 0);
    CHECK_ERR(sl_wait_readable(sv[0], -1), EINTR);
    CHECK(ms_since(&alarm_at) < late_ms());
    use_check(1);
    arm(20, 0);
    CHECK_ERR(sl_wait_readable(sv[0], 3000), EINTR);
    CHECK(ms_since(&alarm_at) < late_ms());
    use_check(1);
    int r[1] = {sv[0]}, ready[1];
    size_t nready = 9;
    arm(20, 0);
    CHECK_ERR(sl_select(r, 1, NULL, 0, NULL, 0, -1, ready, &nready, NULL, NULL, NULL, NULL), EINTR);
    CHECK(ms_since(&alarm_at) < late_ms() && nready == 0);
    use_check(1);
    sl_selector *sel = sl_selector_new();
    CHECK(sel != NULL);
    CHECK(sl_selector_register(sel, sv[0], SL_READ, NULL) == 0);
    sl_event ev[2];
    arm(20, 0);
    CHECK_ERR(sl_selector_select(sel, ev, 2, -1), EINTR);
    CHECK(ms_since(&alarm_at) < late_ms());
    /* Readiness is not lost: a ready fd is reported by the next call. */
    CHECK(write(sv[1], "x", 1) == 1);
    CHECK(sl_selector_select(sel, ev, 2, 1000) == 1 && ev[0].fd == sv[0]);
    sl_selector_free(sel);
    no_check();
    close(sv[0]);
    close(sv[1]);
}

TEST(accept_and_connects_end_on_the_check) {
    handle_alarm(1); /* SA_RESTART: accept and connect would restart */
    int listener = sl_tcp_listen("127.0.0.1", 0, 0);
    CHECK(listener >= 0);
    use_check(1);
    arm(20, 0);
    CHECK_ERR(sl_accept(listener, 0, -1, NULL, 0), EINTR);
    CHECK(ms_since(&alarm_at) < late_ms());

    /* A full backlog: the kernel drops further SYNs, so a connect waits. */
    int port = sl_local_port(listener);
    CHECK(port > 0);
    int fillers[4], nfill = 0;
    for (; nfill < 4; nfill++) {
        fillers[nfill] = sl_tcp_connect("127.0.0.1", (unsigned short)port, 200);
        if (fillers[nfill] < 0) break;
    }
    CHECK(nfill >= 1);
    use_check(1);
    arm(30, 0);
    int fd = sl_tcp_connect("127.0.0.1", (unsigned short)port, -1);
    if (fd >= 0) close(fd);
    CHECK(fd == -1 && errno == EINTR);
    CHECK(ms_since(&alarm_at) < late_ms());
    for (int i = 0; i < nfill; i++) close(fillers[i]);
    close(listener);

    /* Unix: a full backlog makes connect block in the kernel. */
    char name[64];
    snprintf(name, sizeof name, "@sockloop-interrupt-%d", (int)getpid());
    int ul = sl_unix_listen(name, 0);
    CHECK(ul >= 0);
    int ufill[8], nu = 0;
    for (; nu < 8; nu++) {
        ufill[nu] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        size_t len = strlen(name);
        memcpy(sun.sun_path + 1, name + 1, len - 1);
        if (connect(ufill[nu], (struct sockaddr *)&sun, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0) {
            CHECK(errno == EAGAIN);
            close(ufill[nu]);
            break;
        }
    }
    use_check(1);
    arm(30, 0);
    fd = sl_unix_connect(name, -1);
    if (fd >= 0) close(fd);
    CHECK(fd == -1 && errno == EINTR);
    CHECK(ms_since(&alarm_at) < late_ms());
    for (int i = 0; i < nu; i++) close(ufill[i]);
    close(ul);
    no_check();
}

TEST(conn_reads_end_on_the_check_and_keep_the_partial_frame) {
    int sv[2];
    CHECK(pair(sv) == 0);
    sl_conn *c = sl_conn_new(sv[0], 64, 0);
    CHECK(c != NULL);
    handle_alarm(0);
    use_check(1);
    unsigned char frame[4 + 6] = {0, 0, 0, 6, 'p', 'a', 'y'};
    CHECK(write(sv[1], frame, 7) == 7);
    char buf[64];
    arm(20, 0);
    CHECK_ERR(sl_conn_read_frame(c, buf, sizeof buf, -1), EINTR);
    CHECK(ms_since(&alarm_at) < late_ms());
    CHECK(sl_conn_buffered(c) == 7);
    CHECK(write(sv[1], "ld!", 3) == 3);
    CHECK(sl_conn_read_frame(c, buf, sizeof buf, 1000) == 6 && memcmp(buf, "payld!", 6) == 0);
    sl_conn_free(c);
    no_check();
    close(sv[0]);
    close(sv[1]);
}

TEST(recv_frame_and_graceful_close_end_on_the_check) {
    int sv[2];
    CHECK(pair(sv) == 0);
    handle_alarm(0);
    use_check(1);
    unsigned char head[4] = {0, 0, 0, 4};
    CHECK(write(sv[1], head, 4) == 4);
    char buf[8];
    size_t got = 0;
    arm(20, 0);
    CHECK_ERR(sl_recv_frame(sv[0], buf, sizeof buf, -1, &got), EINTR);
    CHECK(ms_since(&alarm_at) < late_ms() && got == 4);
    use_check(1);
    arm(20, 0);
    CHECK_ERR(sl_close_graceful(sv[0], -1), EINTR); /* the peer never closes */
    CHECK(ms_since(&alarm_at) < late_ms());
    CHECK(fcntl(sv[0], F_GETFD) == -1 && errno == EBADF); /* closed all the same */
    no_check();
    close(sv[1]);
}

/* ------------------------------------------------------------------ wakeup */

TEST(a_wakeup_from_a_handler_ends_select_at_once) {
    sl_selector *sel = sl_selector_new();
    CHECK(sel != NULL);
    int sv[2];
    CHECK(pair(sv) == 0);
    CHECK(sl_selector_register(sel, sv[0], SL_READ, NULL) == 0);
    handle_alarm(1); /* epoll_wait is never restarted, but no check is set */
    wake_target = sel;
    alarms = 0;
    arm(20, 0);
    sl_event ev[2];
    CHECK_ERR(sl_selector_select(sel, ev, 2, -1), EINTR);
    CHECK(alarms == 1 && ms_since(&alarm_at) < late_ms());
    CHECK(sl_selector_select(sel, ev, 2, 0) == 0); /* consumed */
    no_check();
    sl_selector_free(sel);
    close(sv[0]);
    close(sv[1]);
}

struct waker_arg {
    sl_selector *sel;
    int rounds;
    volatile int round;  /* the round the selecting thread is in */
};

static void *wake_each_round(void *p) {
    struct waker_arg *w = p;
    for (int i = 0; i < w->rounds; i++) {
        while (__atomic_load_n(&w->round, __ATOMIC_ACQUIRE) != i) sched_yield(); /* valgrind runs one thread at a time */
        sl_selector_wakeup(w->sel);
    }
    return NULL;
}

static struct timespec woken_at;

static void *wake_later(void *p) {
    struct timespec pause = {0, 30 * 1000 * 1000};
    nanosleep(&pause, NULL);
    clock_gettime(CLOCK_MONOTONIC, &woken_at);
    sl_selector_wakeup(p);
    return NULL;
}

TEST(a_wakeup_from_another_thread_ends_select_at_once) {
    sl_selector *sel = sl_selector_new();
    CHECK(sel != NULL);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, wake_later, sel) == 0);
    sl_event ev[1];
    int rc = sl_selector_select(sel, ev, 1, -1);
    int e = errno;
    double late = ms_since(&woken_at);
    pthread_join(t, NULL);
    sl_selector_free(sel);
    errno = e;
    CHECK(rc == -1 && e == EINTR);
    CHECK(late < late_ms());
}

/* 10,000 rounds: the other thread wakes once per round, sometimes before the
 * select starts, sometimes during it; every round ends with EINTR. */
TEST(wakeups_from_another_thread_are_never_lost) {
    sl_selector *sel = sl_selector_new();
    CHECK(sel != NULL);
    struct waker_arg w = {sel, sl_test_slow() ? 500 : 10000, 0};
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, wake_each_round, &w) == 0);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    sl_event ev[1];
    int lost = 0;
    for (int i = 0; i < w.rounds; i++) {
        __atomic_store_n(&w.round, i, __ATOMIC_RELEASE);
        if (sl_selector_select(sel, ev, 1, 5000) != -1 || errno != EINTR) lost++;
    }
    pthread_join(t, NULL);
    CHECK(lost == 0);
    CHECK(sl_selector_select(sel, ev, 1, 0) == 0); /* none left over */
    sl_selector_free(sel);
}

RUN_TESTS("test_interrupt",
          T(recv_exact_ends_on_the_check_and_resumes_without_loss),
          T(a_check_answering_zero_changes_nothing_under_a_storm),
          T(send_all_ends_on_the_check_and_resumes_without_loss),
          T(waits_and_select_end_on_the_check),
          T(accept_and_connects_end_on_the_check),
          T(conn_reads_end_on_the_check_and_keep_the_partial_frame),
          T(recv_frame_and_graceful_close_end_on_the_check),
          T(a_wakeup_from_a_handler_ends_select_at_once),
          T(a_wakeup_from_another_thread_ends_select_at_once),
          T(wakeups_from_another_thread_are_never_lost))
