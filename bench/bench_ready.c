/* Readiness benchmark: with N registered fds of which one is active (a byte
 * that is never read, so it stays ready), the cost of one call that returns
 * that fd, for N = 10, 1,000 and 10,000:
 *   - sl_selector_select vs raw epoll_wait (target <= 1.2x);
 *   - sl_select vs raw poll over the same fds (target <= 1.1x);
 *   - sl_select vs raw select() where it is possible at all (every fd < 1024).
 * The N - 1 idle fds are loopback TCP connections whose far ends live in a
 * child process (the open-file limit would not hold both ends of 10,000).
 * Every figure is the median of 15 alternating sockloop/baseline runs, each
 * timing many calls; the ratio is the median of the 15 per-pair ratios, so
 * that load from other processes, which hits both runs of a pair alike,
 * cancels out. stdout gets only Markdown table rows, notes go to stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "sockloop.h"
#include "../tests/c/far_ends.h"

enum { RUNS = 15, TIMEOUT_MS = 1000 };

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The fds of one workload: fds[0 .. n-2] idle connections, fds[n-1] active. */
struct set {
    int n, *fds, peer, control;
    pid_t child;
};

static struct set make_set(int n) {
    struct set s = { .n = n, .fds = malloc(sizeof(int) * (size_t)n) };
    if (!s.fds) die("malloc");
    struct sockaddr_in addr;
    int l = loopback_listener(4096, &addr);
    s.child = far_ends_in_a_child(l, n - 1, &s.control);
    if (s.child < 0) die("fork");
    close(l);
    for (int i = 0; i < n - 1; i++) {
        s.fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s.fds[i] < 0 || connect(s.fds[i], (struct sockaddr *)&addr, sizeof addr)) die("connect");
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) die("socketpair");
    s.fds[n - 1] = sv[0];
    s.peer = sv[1];
    if (write(s.peer, "x", 1) != 1) die("write");
    return s;
}

static void free_set(struct set *s) {
    for (int i = 0; i < s->n; i++) close(s->fds[i]);
    close(s->peer);
    close(s->control);
    int status;
    waitpid(s->child, &status, 0);
    free(s->fds);
}

/* ---------------------------------------------------------------- workloads */

struct ctx {
    struct set *s;
    sl_selector *sel;
    int epfd;
    struct pollfd *pfds;
    int *ready;
};

static int check_one(int got, int fd, int want_fd) {
    if (got != 1 || fd != want_fd) {
        fprintf(stderr, "wrong result: %d ready, fd %d (wanted 1, fd %d)\n", got, fd, want_fd);
        exit(1);
    }
    return 0;
}

static void run_sl_selector(struct ctx *c, int calls) {
    sl_event ev[64];
    for (int i = 0; i < calls; i++) {
        int n = sl_selector_select(c->sel, ev, 64, TIMEOUT_MS);
        check_one(n, ev[0].fd, c->s->fds[c->s->n - 1]);
    }
}

static void run_epoll(struct ctx *c, int calls) {
    struct epoll_event ev[64];
    for (int i = 0; i < calls; i++) {
        int n = epoll_wait(c->epfd, ev, 64, TIMEOUT_MS);
        check_one(n, ev[0].data.fd, c->s->fds[c->s->n - 1]);
    }
}

static void run_sl_select(struct ctx *c, int calls) {
    for (int i = 0; i < calls; i++) {
        size_t nr = 0;
        int n = sl_select(c->s->fds, (size_t)c->s->n, NULL, 0, NULL, 0, TIMEOUT_MS, c->ready, &nr, NULL, NULL, NULL, NULL);
        check_one(n, c->ready[0], c->s->fds[c->s->n - 1]);
    }
}

static void run_poll(struct ctx *c, int calls) {
    for (int i = 0; i < calls; i++) {
        /* A select()-style loop with a ready list: what sl_select gives back. */
        int n = poll(c->pfds, (nfds_t)c->s->n, TIMEOUT_MS), found = 0, fd = -1;
        for (int k = 0; k < c->s->n && found < n; k++)
            if (c->pfds[k].revents) fd = c->ready[found++] = c->pfds[k].fd;
        check_one(n, fd, c->s->fds[c->s->n - 1]);
    }
}

static void run_select(struct ctx *c, int calls) {
    for (int i = 0; i < calls; i++) {
        fd_set r;
        FD_ZERO(&r); /* select() overwrites its sets: refill every call */
        int maxfd = -1;
        for (int k = 0; k < c->s->n; k++) {
            FD_SET(c->s->fds[k], &r);
            if (c->s->fds[k] > maxfd) maxfd = c->s->fds[k];
        }
        struct timeval tv = { TIMEOUT_MS / 1000, 0 };
        int n = select(maxfd + 1, &r, NULL, NULL, &tv), fd = -1;
        for (int k = 0; k < c->s->n; k++)
            if (FD_ISSET(c->s->fds[k], &r)) fd = c->s->fds[k];
        check_one(n, fd, c->s->fds[c->s->n - 1]);
    }
}

typedef void (*workload)(struct ctx *, int);

struct figure { double median, spread, ratio; };

static struct figure summarize(double *v) {
    qsort(v, RUNS, sizeof *v, cmp_double);
    struct figure f = { v[RUNS / 2], 0, 0 };
    f.spread = (v[RUNS - 1] - v[0]) / f.median * 100.0;
    return f;
}

/* Alternates a and b, RUNS times each; per-call nanoseconds. */
static void compare(struct ctx *c, workload a, workload b, struct figure *fa, struct figure *fb) {
    /* Enough calls for ~8 ms per run, after a warm-up that sizes it. */
    a(c, 3);
    b(c, 3);
    double t0 = now_ns();
    b(c, 5);
    double per = (now_ns() - t0) / 5;
    int calls = (int)(8e6 / per);
    if (calls < 5) calls = 5;
    double va[RUNS], vb[RUNS];
    for (int r = 0; r < RUNS; r++) {
        t0 = now_ns();
        a(c, calls);
        va[r] = (now_ns() - t0) / calls;
        t0 = now_ns();
        b(c, calls);
        vb[r] = (now_ns() - t0) / calls;
    }
    double ratios[RUNS];
    for (int r = 0; r < RUNS; r++) ratios[r] = va[r] / vb[r];
    *fa = summarize(va);
    *fb = summarize(vb);
    fa->ratio = summarize(ratios).median;
    fprintf(stderr, "  %d calls per run\n", calls);
}

static void fmt_time(char *out, size_t len, struct figure f) {
    if (f.median >= 1e6) snprintf(out, len, "%.2f ms ±%.0f%%", f.median / 1e6, f.spread);
    else snprintf(out, len, "%.2f µs ±%.0f%%", f.median / 1e3, f.spread);
}

static void row(const char *workload, struct figure a, struct figure b, double target) {
    char ta[64], tb[64], tt[32];
    fmt_time(ta, sizeof ta, a);
    fmt_time(tb, sizeof tb, b);
    /* Paired ratio when a and b were measured together, else of the medians. */
    double ratio = a.ratio > 0 ? a.ratio : a.median / b.median;
    if (target > 0) snprintf(tt, sizeof tt, "≤ %.1f×", target);
    else snprintf(tt, sizeof tt, "(info)");
    printf("| %s | %s | %s | %.2f× | %s | %s |\n", workload, ta, tb, ratio, tt,
           target > 0 ? (ratio <= target ? "yes" : "no") : "—");
    fflush(stdout);
}

int main(void) {
    static const int sizes[] = { 10, 1000, 10000 };
    struct figure sel_at[3];
    for (int i = 0; i < 3; i++) {
        int n = sizes[i];
        fprintf(stderr, "%d registered fds, 1 active\n", n);
        struct set s = make_set(n);
        struct ctx c = { .s = &s, .sel = sl_selector_new(), .epfd = epoll_create1(EPOLL_CLOEXEC),
                         .pfds = calloc((size_t)n, sizeof(struct pollfd)), .ready = calloc((size_t)n, sizeof(int)) };
        if (!c.sel || c.epfd < 0 || !c.pfds || !c.ready) die("setup");
        for (int k = 0; k < n; k++) {
            struct epoll_event ev = { .events = EPOLLIN, .data.fd = s.fds[k] };
            if (sl_selector_register(c.sel, s.fds[k], SL_READ, NULL) || epoll_ctl(c.epfd, EPOLL_CTL_ADD, s.fds[k], &ev))
                die("register");
            c.pfds[k] = (struct pollfd){ .fd = s.fds[k], .events = POLLIN };
        }
        char name[128];
        struct figure a, b;
        compare(&c, run_sl_selector, run_epoll, &a, &b);
        snprintf(name, sizeof name, "sl_selector_select vs epoll_wait, %d fds (1 active)", n);
        row(name, a, b, 1.2);
        sel_at[i] = a;
        compare(&c, run_sl_select, run_poll, &a, &b);
        snprintf(name, sizeof name, "sl_select vs poll, %d fds (1 active)", n);
        row(name, a, b, 1.1);
        int maxfd = 0;
        for (int k = 0; k < n; k++) if (s.fds[k] > maxfd) maxfd = s.fds[k];
        if (maxfd < FD_SETSIZE) {
            compare(&c, run_sl_select, run_select, &a, &b);
            snprintf(name, sizeof name, "sl_select vs select(), %d fds (1 active)", n);
            row(name, a, b, 0);
        } else {
            fprintf(stderr, "  select(): impossible, fd %d >= FD_SETSIZE (%d)\n", maxfd, FD_SETSIZE);
            snprintf(name, sizeof name, "sl_select vs select(), %d fds: select() impossible (fd %d ≥ FD_SETSIZE)", n, maxfd);
            printf("| %s | — | — | — | (info) | — |\n", name);
        }
        sl_selector_free(c.sel);
        close(c.epfd);
        free(c.pfds);
        free(c.ready);
        free_set(&s);
    }
    /* Flat cost: the selector's time with 10,000 fds over its time with 10. */
    sel_at[2].ratio = 0; /* measured in different runs: ratio of the medians */
    row("sl_selector_select flat in N: 10,000 fds vs 10 fds", sel_at[2], sel_at[0], 1.2);
    return 0;
}
