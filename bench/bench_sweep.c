/* bench_sweep: throughput by message size, for the chart in
 * bench/results/latest.svg. A forked sender streams messages of 64 B, 1 KiB,
 * 16 KiB, 256 KiB and 1 MiB one way over loopback TCP; this process receives
 * each with one call:
 *   sockloop: sl_send_all / sl_recv_exact (timeout -1);
 *   plain C:  the textbook writen / readn loops with EINTR retry.
 * Each size: one warm-up, then RUNS runs alternating sockloop and plain C;
 * medians and spread (max-min)/median. The Python points come from
 * bench/bench_python.py (rows "sweep ... (Python)").
 * stdout: Markdown rows | workload | sockloop | baseline | ratio | target | met? |
 * stderr: notes. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "sockloop.h"

#define RUNS 5
#define RUN_BYTES (256ull << 20) /* per run for the large sizes */
#define MAX_MESSAGES 200000ull   /* per run for the small ones: the call count */

static unsigned long long messages_for(size_t size) {
    unsigned long long n = RUN_BYTES / size;
    return n < MAX_MESSAGES ? n : MAX_MESSAGES;
}

/* MiB/s for one run of `count` messages of `size` bytes. */
static double run(int sockloop, size_t size, unsigned long long count) {
    int s, r;
    loopback_pair(&s, &r);
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        close(r);
        char *buf = malloc(size);
        if (!buf) _exit(1);
        memset(buf, 'm', size);
        for (unsigned long long i = 0; i < count; i++) {
            ssize_t n = sockloop ? sl_send_all(s, buf, size, -1, NULL) : writen(s, buf, size);
            if (n != (ssize_t)size) _exit(1);
        }
        _exit(0);
    }
    close(s);
    char *buf = malloc(size);
    if (!buf) die("malloc");
    double t0 = now_s();
    for (unsigned long long i = 0; i < count; i++) {
        ssize_t n = sockloop ? sl_recv_exact(r, buf, size, -1, NULL) : readn(r, buf, size);
        if (n != (ssize_t)size) die("recv");
    }
    double t = now_s() - t0;
    if (buf[size - 1] != 'm') die("corrupted");
    free(buf);
    close(r);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) die("sender");
    return (double)size * (double)count / t / (1 << 20);
}

static double median_spread(double *v, double *spread) {
    qsort(v, RUNS, sizeof *v, cmp_double);
    *spread = (v[RUNS - 1] - v[0]) / v[RUNS / 2] * 100;
    return v[RUNS / 2];
}

int main(void) {
    static const size_t sizes[] = {64, 1024, 16 << 10, 256 << 10, 1 << 20};
    static const char *names[] = {"64 B", "1 KiB", "16 KiB", "256 KiB", "1 MiB"};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t size = sizes[k];
        unsigned long long count = messages_for(size);
        double sl[RUNS], pl[RUNS], ssl, spl;
        run(1, size, count / 10 + 1); /* warm-up */
        for (int i = 0; i < RUNS; i++) {
            sl[i] = run(1, size, count);
            pl[i] = run(0, size, count);
        }
        double msl = median_spread(sl, &ssl), mpl = median_spread(pl, &spl);
        printf("| sweep %s (C): %llu messages one way, TCP loopback, sl_send_all/sl_recv_exact vs writen/readn "
               "| %.0f MiB/s ±%.0f%% | %.0f MiB/s ±%.0f%% | %.2f× | (reported) | – |\n",
               names[k], count, msl, ssl, mpl, spl, msl / mpl);
        fflush(stdout);
        fprintf(stderr, "bench_sweep: %s done\n", names[k]);
    }
    return 0;
}
