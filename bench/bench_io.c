/* bench_io: sl_send_all / sl_recv_exact against the textbook writen/readn loop.
 *
 * Workloads, each run 5+ times alternating sockloop and plain C in this one run:
 * - bulk: 2 GiB over loopback TCP in 1 MiB buffers (the kernel copy is the
 *   limit; the library must add nothing): target >= 0.97x plain throughput;
 * - ping-pong: 64-byte request/response, both processes pinned to CPU 0
 *   (target <= 1.03x plain time per round trip), and unpinned for reference;
 * - ping-pong with a 5 s timeout (MSG_DONTWAIT + poll on EAGAIN), for reference.
 * The ratio is the median of the per-pair ratios (each sockloop run against the
 * plain run next to it), so load from other processes, which hits both runs of
 * a pair alike, cancels out; the medians of each side are shown as well.
 * Prints Markdown rows on stdout (see bench/run.sh), progress on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "sockloop.h"

#define RUNS 11
#define BULK_TOTAL (2ull << 30)
#define BULK_CHUNK (1u << 20)
#define PING_SIZE 64
#define PING_ROUNDS 40000

/* The baseline is writen/readn from bench_util.h. */
enum impl { PLAIN, SOCKLOOP, SOCKLOOP_TIMEOUT };

static ssize_t do_send(enum impl im, int fd, const void *buf, size_t n) {
    switch (im) {
    case PLAIN: return writen(fd, buf, n);
    case SOCKLOOP: return sl_send_all(fd, buf, n, -1, NULL);
    default: return sl_send_all(fd, buf, n, 5000, NULL);
    }
}

static ssize_t do_recv(enum impl im, int fd, void *buf, size_t n) {
    switch (im) {
    case PLAIN: return readn(fd, buf, n);
    case SOCKLOOP: return sl_recv_exact(fd, buf, n, -1, NULL);
    default: return sl_recv_exact(fd, buf, n, 5000, NULL);
    }
}

static void pin_to_cpu0(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) die("sched_setaffinity");
}

/* A connected loopback TCP pair: *server stays here, the client goes to the child. */
static void tcp_pair(int *client, int *server) {
    loopback_pair(client, server);
    int one = 1;
    setsockopt(*client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(*server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void reap(pid_t pid) {
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_io: child failed\n");
        exit(1);
    }
}

/* Seconds to move BULK_TOTAL bytes from a child sender to this receiver. */
static double bulk_run(enum impl im) {
    int c, s;
    tcp_pair(&c, &s);
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        close(s);
        char *buf = malloc(BULK_CHUNK);
        if (!buf) _exit(1);
        memset(buf, 'x', BULK_CHUNK);
        for (unsigned long long sent = 0; sent < BULK_TOTAL; sent += BULK_CHUNK)
            if (do_send(im, c, buf, BULK_CHUNK) != BULK_CHUNK) _exit(1);
        _exit(0);
    }
    close(c);
    char *buf = malloc(BULK_CHUNK);
    if (!buf) die("malloc");
    double t0 = now_s();
    for (unsigned long long got = 0; got < BULK_TOTAL; got += BULK_CHUNK)
        if (do_recv(im, s, buf, BULK_CHUNK) != BULK_CHUNK) die("bulk recv");
    double t = now_s() - t0;
    free(buf);
    close(s);
    reap(pid);
    return t;
}

/* Microseconds per 64-byte round trip against a child echo peer. */
static double ping_run(enum impl im, int pinned) {
    int c, s;
    tcp_pair(&c, &s);
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        close(s);
        if (pinned) pin_to_cpu0();
        char msg[PING_SIZE];
        for (int i = 0; i < PING_ROUNDS; i++)
            if (do_recv(im, c, msg, sizeof msg) != PING_SIZE || do_send(im, c, msg, sizeof msg) != PING_SIZE)
                _exit(1);
        _exit(0);
    }
    close(c);
    cpu_set_t old;
    sched_getaffinity(0, sizeof old, &old);
    if (pinned) pin_to_cpu0();
    char msg[PING_SIZE];
    memset(msg, 'p', sizeof msg);
    double t0 = now_s();
    for (int i = 0; i < PING_ROUNDS; i++)
        if (do_send(im, s, msg, sizeof msg) != PING_SIZE || do_recv(im, s, msg, sizeof msg) != PING_SIZE)
            die("ping");
    double t = now_s() - t0;
    sched_setaffinity(0, sizeof old, &old);
    close(s);
    reap(pid);
    return t / PING_ROUNDS * 1e6;
}

struct stat_ { double median, spread; };

static struct stat_ summarize(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    struct stat_ s = {v[n / 2], (v[n - 1] - v[0]) / v[n / 2] * 100.0};
    return s;
}

typedef double (*run_fn)(enum impl, int);

static double bulk_adapter(enum impl im, int unused) {
    (void)unused;
    return bulk_run(im);
}

/* Alternates A and B RUNS times and fills their medians; returns the median
 * of the per-pair ratios a/b. */
static double compare(run_fn fn, enum impl a, enum impl b, int arg, struct stat_ *sa, struct stat_ *sb) {
    double va[RUNS], vb[RUNS], r[RUNS];
    fn(a, arg); /* warm-up */
    for (int i = 0; i < RUNS; i++) {
        va[i] = fn(a, arg);
        vb[i] = fn(b, arg);
        r[i] = va[i] / vb[i];
        fprintf(stderr, "  run %d: %.4f vs %.4f\n", i + 1, va[i], vb[i]);
    }
    *sa = summarize(va, RUNS);
    *sb = summarize(vb, RUNS);
    return summarize(r, RUNS).median;
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    struct stat_ sl, pl;
    double gib = (double)BULK_TOTAL / (1u << 30);

    fprintf(stderr, "bulk: 2 GiB in 1 MiB buffers, seconds per run (sockloop vs plain)\n");
    double ratio = 1 / compare(bulk_adapter, SOCKLOOP, PLAIN, 0, &sl, &pl); /* throughput ratio */
    printf("| bulk 2 GiB over loopback TCP, 1 MiB buffers | %.2f GiB/s ±%.0f%% | %.2f GiB/s ±%.0f%% | %.3f× | ≥ 0.97× | %s |\n",
           gib / sl.median, sl.spread, gib / pl.median, pl.spread, ratio, ratio >= 0.97 ? "yes" : "no");

    fprintf(stderr, "ping-pong pinned to CPU 0: µs per round trip (sockloop vs plain)\n");
    ratio = compare(ping_run, SOCKLOOP, PLAIN, 1, &sl, &pl); /* time ratio */
    printf("| ping-pong 64 B, both pinned to one CPU | %.2f µs ±%.0f%% | %.2f µs ±%.0f%% | %.3f× | ≤ 1.03× | %s |\n",
           sl.median, sl.spread, pl.median, pl.spread, ratio, ratio <= 1.03 ? "yes" : "no");

    fprintf(stderr, "ping-pong unpinned\n");
    ratio = compare(ping_run, SOCKLOOP, PLAIN, 0, &sl, &pl);
    printf("| ping-pong 64 B, unpinned | %.2f µs ±%.0f%% | %.2f µs ±%.0f%% | %.3f× | (reported) | – |\n",
           sl.median, sl.spread, pl.median, pl.spread, ratio);

    fprintf(stderr, "ping-pong pinned, sockloop with a 5 s timeout (MSG_DONTWAIT, poll on EAGAIN)\n");
    ratio = compare(ping_run, SOCKLOOP_TIMEOUT, PLAIN, 1, &sl, &pl);
    printf("| ping-pong 64 B pinned, sockloop with 5 s timeout | %.2f µs ±%.0f%% | %.2f µs ±%.0f%% | %.3f× | (reported) | – |\n",
           sl.median, sl.spread, pl.median, pl.spread, ratio);
    return 0;
}
