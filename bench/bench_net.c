/* Connection setup cost: sl_tcp_connect + sl_accept against the bare system
 * calls (socket, connect, accept4), and the same for Unix sockets. The helpers
 * add a resolver call, flag checks and readiness waits; this measures what that
 * costs per connection. Prints Markdown rows on stdout, notes on stderr. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
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

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
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

int main(void) {
    tcp_listener = sl_tcp_listen("127.0.0.1", 0, 128);
    if (tcp_listener < 0) die("sl_tcp_listen");
    tcp_port = sl_local_port(tcp_listener);
    unix_addr.sun_family = AF_UNIX;
    snprintf(unix_addr.sun_path, sizeof unix_addr.sun_path, "/tmp/sockloop-bench-%d.sock", (int)getpid());
    unix_listener = sl_unix_listen(unix_addr.sun_path, 128);
    if (unix_listener < 0) die("sl_unix_listen");
    fprintf(stderr, "bench_net: connect + accept + close per connection, lower is better\n");
    row("TCP connect+accept+close, 127.0.0.1, 1 s timeout vs unbounded bare calls (per connection)", run_sockloop_tcp, run_baseline_tcp, 1.25);
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
