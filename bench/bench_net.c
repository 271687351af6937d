/* Connection setup cost: sl_tcp_connect + sl_accept against the bare system
 * calls (socket, connect, accept4), and the same for Unix sockets. The helpers
 * add a resolver call, flag checks and readiness waits; this measures what that
 * costs per connection. Then 1,000 connects at once: started together
 * (sl_tcp_connect_start) and finished in one selector loop
 * (sl_connect_finish), against 1,000 sequential sl_tcp_connect calls.
 * Prints Markdown rows on stdout, notes on stderr. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "sockloop.h"

enum { RUNS = 7, CONNS = 3000 };

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Closing with a reset (SO_LINGER 0) leaves no TIME_WAIT behind, so thousands
 * of connections do not use up the ephemeral ports; both variants do it. */
static void close_now(int fd) {
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

static int tcp_port;
static struct sockaddr_un unix_addr;
static int tcp_listener, unix_listener;
static int unix_timeout_ms; /* -1: like for like with the bare calls; 1000: bounded */

static double run_sockloop_tcp(void) {
    char peer[SL_ADDRSTRLEN];
    double t0 = now_us();
    for (int i = 0; i < CONNS; i++) {
        int c = sl_tcp_connect("127.0.0.1", tcp_port, 1000);
        int s = sl_accept(tcp_listener, 0, 1000, peer, sizeof peer);
        if (c < 0 || s < 0) die("sockloop tcp");
        close_now(c);
        close(s);
    }
    return (now_us() - t0) / CONNS;
}

static double run_baseline_tcp(void) {
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)tcp_port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    char peer[SL_ADDRSTRLEN];
    double t0 = now_us();
    for (int i = 0; i < CONNS; i++) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&sin, sizeof sin) != 0) die("connect");
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        int s = accept4(tcp_listener, (struct sockaddr *)&from, &len, SOCK_CLOEXEC);
        if (s < 0) die("accept4");
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip); /* the same work: peer as text */
        snprintf(peer, sizeof peer, "%s:%d", ip, ntohs(from.sin_port));
        close_now(c);
        close(s);
    }
    return (now_us() - t0) / CONNS;
}

static double run_sockloop_unix(void) {
    double t0 = now_us();
    for (int i = 0; i < CONNS; i++) {
        int c = sl_unix_connect(unix_addr.sun_path, unix_timeout_ms);
        int s = sl_accept(unix_listener, 0, unix_timeout_ms, NULL, 0);
        if (c < 0 || s < 0) die("sockloop unix");
        close(c);
        close(s);
    }
    return (now_us() - t0) / CONNS;
}

static double run_baseline_unix(void) {
    double t0 = now_us();
    for (int i = 0; i < CONNS; i++) {
        int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&unix_addr, sizeof unix_addr) != 0) die("connect unix");
        int s = accept4(unix_listener, NULL, NULL, SOCK_CLOEXEC);
        if (s < 0) die("accept4 unix");
        close(c);
        close(s);
    }
    return (now_us() - t0) / CONNS;
}

enum { MANY = 1000 };
static int many_fds[MANY];

/* Accepts (and closes) every connection of a batch, outside the timing. */
static void accept_batch(void) {
    for (int i = 0; i < MANY; i++) {
        int s = sl_accept(tcp_listener, 0, 5000, NULL, 0);
        if (s < 0) die("accept batch");
        close(s);
    }
    for (int i = 0; i < MANY; i++) close_now(many_fds[i]);
}

/* 1,000 connects started at once, finished as the selector reports them. */
static double run_concurrent_connects(void) {
    sl_selector *sel = sl_selector_new();
    if (!sel) die("sl_selector_new");
    double t0 = now_us();
    for (int i = 0; i < MANY; i++) {
        many_fds[i] = sl_tcp_connect_start("127.0.0.1", tcp_port);
        if (many_fds[i] < 0 || sl_selector_register(sel, many_fds[i], SL_WRITE, NULL) < 0) die("connect start");
    }
    sl_event ev[256];
    for (int open = MANY; open > 0;) {
        int n = sl_selector_select(sel, ev, 256, 5000);
        if (n <= 0) die("select");
        for (int i = 0; i < n; i++) {
            if (sl_connect_finish(ev[i].fd, 0) < 0) {
                if (errno == EAGAIN) continue;
                die("connect finish");
            }
            if (sl_selector_unregister(sel, ev[i].fd) < 0) die("unregister");
            open--;
        }
    }
    double t = now_us() - t0;
    sl_selector_free(sel);
    accept_batch();
    return t;
}

/* 1,000 sl_tcp_connect calls, one after another. */
static double run_sequential_connects(void) {
    double t0 = now_us();
    for (int i = 0; i < MANY; i++)
        if ((many_fds[i] = sl_tcp_connect("127.0.0.1", tcp_port, 5000)) < 0) die("sl_tcp_connect");
    double t = now_us() - t0;
    accept_batch();
    return t;
}

static double median(double *v, int n, double *spread) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double m = v[n / 2];
    *spread = (v[n - 1] - v[0]) / m * 100.0;
    return m;
}

static void row(const char *workload, double (*ours)(void), double (*base)(void), double target) {
    double a[RUNS], b[RUNS], sa, sb;
    ours(); /* warm-up */
    base();
    for (int i = 0; i < RUNS; i++) { /* alternate, so drift hits both alike */
        a[i] = ours();
        b[i] = base();
    }
    double ma = median(a, RUNS, &sa), mb = median(b, RUNS, &sb);
    double ratio = ma / mb;
    printf("| %s | %.1f µs ±%.0f%% | %.1f µs ±%.0f%% | %.2f | ≤ %.2f | %s |\n", workload, ma, sa, mb, sb, ratio,
           target, ratio <= target ? "yes" : "no");
    fprintf(stderr, "%s: %d runs of %d connections each\n", workload, RUNS, CONNS);
}

/* The 1,000-connect row: total milliseconds for the batch. Reported, with
 * no target: on loopback the kernel completes a handshake within the
 * connect call's own microseconds, so there is no round trip for the
 * concurrent starts to overlap; over a network, N sequential connects cost
 * N round trips and N started at once about one. What the row shows here is
 * that the start/finish path and its selector loop cost no more than the
 * sequential calls. */
static void many_row(void) {
    double a[RUNS], b[RUNS], sa, sb;
    run_concurrent_connects(); /* warm-up */
    run_sequential_connects();
    for (int i = 0; i < RUNS; i++) {
        a[i] = run_concurrent_connects() / 1000;
        b[i] = run_sequential_connects() / 1000;
    }
    double ma = median(a, RUNS, &sa), mb = median(b, RUNS, &sb), ratio = ma / mb;
    printf("| 1,000 TCP connects to 127.0.0.1 at once: sl_tcp_connect_start + one selector loop of sl_connect_finish"
           " vs 1,000 sequential sl_tcp_connect (time until all are connected) | %.1f ms ±%.0f%% | %.1f ms ±%.0f%% |"
           " %.2f | (reported) | – |\n", ma, sa, mb, sb, ratio);
    fprintf(stderr, "1,000 connects: %d alternating runs; accepting them is not timed\n", RUNS);
}

int main(void) {
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < 4096 && lim.rlim_max >= 4096) {
        lim.rlim_cur = 4096;
        if (setrlimit(RLIMIT_NOFILE, &lim) < 0) die("setrlimit");
    }
    tcp_listener = sl_tcp_listen("127.0.0.1", 0, 2 * MANY);
    if (tcp_listener < 0) die("sl_tcp_listen");
    tcp_port = sl_local_port(tcp_listener);
    unix_addr.sun_family = AF_UNIX;
    snprintf(unix_addr.sun_path, sizeof unix_addr.sun_path, "/tmp/sockloop-bench-%d.sock", (int)getpid());
    unix_listener = sl_unix_listen(unix_addr.sun_path, 128);
    if (unix_listener < 0) die("sl_unix_listen");
    fprintf(stderr, "bench_net: connect + accept + close per connection, lower is better\n");
    row("TCP connect+accept+close, 127.0.0.1, 1 s timeout vs unbounded bare calls (per connection)", run_sockloop_tcp, run_baseline_tcp, 1.25);
    many_row();
    unix_timeout_ms = -1;
    row("Unix connect+accept+close, no timeout (per connection)", run_sockloop_unix, run_baseline_unix, 1.25);
    /* A bound costs syscalls the bare calls do not make: SO_SNDTIMEO set and
     * reset on connect, F_GETFL and poll before accept. */
    unix_timeout_ms = 1000;
    row("Unix connect+accept+close, 1 s timeout vs unbounded bare calls (per connection)", run_sockloop_unix,
        run_baseline_unix, 1.25);
    close(tcp_listener);
    close(unix_listener);
    unlink(unix_addr.sun_path);
    return 0;
}
