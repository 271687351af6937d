/* bench_ring_frame: 64-byte length-prefixed frames one way over loopback TCP,
 * received through sl_conn on sl_ring against a hand-buffered epoll loop.
 *
 *   ring:      the receiver registers an sl_conn per connection with one
 *              sl_ring (io_uring: multishot receives into the ring's
 *              buffers, copied into the conn's buffer) and takes every
 *              buffered frame in place with sl_conn_next_frames after each
 *              sl_ring_wait that reports DATA.
 *   ring/epoll: the same program on the forced epoll fallback (reported).
 *   hand loop: hand-written C on non-blocking sockets with a 64 KiB buffer
 *              per connection, frames parsed in place: with one connection
 *              recv until EAGAIN, then epoll_wait; with several, epoll_wait
 *              (level-triggered) and one recv per ready connection.
 *
 * The sender is the same in every run: a forked process on CPU 1 packing
 * frames into 64 KiB chunks and writing them with blocking send()s, round
 * robin over the connections (TCP_NODELAY, fixed 512 KiB kernel buffers, as
 * bench_frame). The sender cannot be on the ring: sl_ring_wait reports
 * received data, end of stream and errors, not "output drained", so a
 * sender that queues more only when its queue empties could not block in
 * it. The receiver runs on CPU 0.
 *
 * Reported: frames per second (wall time, the receiver's view) and the
 * receiver's CPU per frame, medians of RUNS alternating runs (order rotated
 * every round), ratios as the median of per-round ratios, so that load from
 * other processes, which hits both runs of a round alike, cancels out.
 *
 * stdout: Markdown rows | workload | sockloop | baseline | ratio | target | met? |
 * stderr: notes. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "sockloop.h"

#define PAYLOAD 64
#define FRAMES 4000000u
#define RUNS 11
#define BATCH 256
#define BUF (64 * 1024)
#define MAXC 8

enum kind { RING, RING_EPOLL, HAND };

/* n connected loopback TCP pairs: rx[i] receives, tx[i] sends. */
static void tcp_pairs(int n, int rx[], int tx[]) {
    struct sockaddr_in a;
    int l = loopback_listener(MAXC, &a);
    for (int i = 0; i < n; i++) {
        tx[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (tx[i] < 0 || connect(tx[i], (struct sockaddr *)&a, sizeof a)) die("connect");
        rx[i] = accept(l, NULL, NULL);
        if (rx[i] < 0) die("accept");
        int one = 1, kbuf = 512 * 1024;
        if (setsockopt(tx[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) ||
            setsockopt(tx[i], SOL_SOCKET, SO_SNDBUF, &kbuf, sizeof kbuf) ||
            setsockopt(rx[i], SOL_SOCKET, SO_RCVBUF, &kbuf, sizeof kbuf))
            die("setsockopt");
    }
    close(l);
}

static void sender(int n, const int tx[], uint32_t frames) {
    static unsigned char out[BUF];
    /* Every connection gets the same chunks: frames / n each, whole chunks. */
    size_t per_chunk = BUF / (4 + PAYLOAD);
    uint32_t each = frames / (uint32_t)n;
    for (uint32_t i = 0; i < each;) {
        size_t k = each - i < per_chunk ? each - i : per_chunk;
        for (size_t j = 0; j < k; j++) {
            uint32_t be = htonl(PAYLOAD);
            memcpy(out + j * (4 + PAYLOAD), &be, 4);
            memset(out + j * (4 + PAYLOAD) + 4, (int)((i + j) & 0xff), PAYLOAD);
        }
        for (int c = 0; c < n; c++)
            if (writen(tx[c], out, k * (4 + PAYLOAD)) < 0) die("send");
        i += (uint32_t)k;
    }
}

static uint64_t ring_receiver(int n, const int rx[], int flags) {
    sl_ring *r = sl_ring_new(flags);
    sl_conn *c[MAXC];
    if (!r) die("sl_ring_new");
    for (int i = 0; i < n; i++) {
        c[i] = sl_conn_new(rx[i], BUF, 0);
        if (!c[i] || sl_ring_add(r, c[i], NULL) < 0) die("sl_ring_add");
    }
    uint64_t frames = 0, sum = 0;
    int open = n;
    sl_ring_event ev[MAXC];
    sl_frame f[BATCH];
    while (open > 0) {
        int k = sl_ring_wait(r, ev, MAXC, 10000);
        if (k <= 0) die("sl_ring_wait");
        for (int e = 0; e < k; e++) {
            ssize_t got;
            while ((got = sl_conn_next_frames(ev[e].conn, f, BATCH)) > 0) {
                for (ssize_t j = 0; j < got; j++) sum += ((const unsigned char *)f[j].payload)[f[j].len - 1];
                frames += (uint64_t)got;
            }
            if (got < 0) die("sl_conn_next_frames");
            if (ev[e].events & SL_RING_ERROR) die("ring error");
            if (ev[e].events & SL_RING_CLOSED) open--;
        }
    }
    for (int i = 0; i < n; i++) {
        sl_ring_remove(r, c[i]);
        sl_conn_free(c[i]);
    }
    sl_ring_free(r);
    return frames + (sum & 0);
}

struct hand { unsigned char in[BUF]; size_t have; };

/* One recv into the connection's buffer and every complete frame parsed;
 * returns the recv's result. */
static ssize_t hand_read(int fd, struct hand *h, uint64_t *frames, uint64_t *sum) {
    ssize_t got = recv(fd, h->in + h->have, BUF - h->have, 0);
    if (got <= 0) return got;
    h->have += (size_t)got;
    size_t at = 0;
    while (h->have - at >= 4) {
        uint32_t be;
        memcpy(&be, h->in + at, 4);
        size_t len = ntohl(be);
        if (h->have - at - 4 < len) break;
        (*frames)++;
        *sum += h->in[at + 4 + len - 1];
        at += 4 + len;
    }
    memmove(h->in, h->in + at, h->have - at);
    h->have -= at;
    return got;
}

static uint64_t hand_receiver(int n, const int rx[]) {
    static struct hand h[MAXC];
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    for (int i = 0; i < n; i++) {
        h[i].have = 0;
        if (fcntl(rx[i], F_SETFL, fcntl(rx[i], F_GETFL) | O_NONBLOCK)) die("O_NONBLOCK");
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, rx[i], &e)) die("epoll_ctl");
    }
    uint64_t frames = 0, sum = 0;
    int open = n;
    if (n == 1) {
        for (;;) {
            ssize_t got = hand_read(rx[0], &h[0], &frames, &sum);
            if (got == 0) break;
            if (got < 0 && errno == EAGAIN) {
                struct epoll_event e;
                int k = epoll_wait(ep, &e, 1, 10000);
                if (k < 0 && errno == EINTR) continue;
                if (k != 1) die("epoll_wait");
            } else if (got < 0 && errno != EINTR) {
                die("recv");
            }
        }
        open = 0;
    }
    while (open > 0) {
        struct epoll_event e[MAXC];
        int k = epoll_wait(ep, e, MAXC, 10000);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) die("epoll_wait");
        for (int j = 0; j < k; j++) {
            int i = (int)e[j].data.u32;
            ssize_t got = hand_read(rx[i], &h[i], &frames, &sum);
            if (got == 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, rx[i], NULL);
                open--;
            } else if (got < 0 && errno != EAGAIN && errno != EINTR) {
                die("recv");
            }
        }
    }
    close(ep);
    return frames + (sum & 0);
}

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One run: frames per second; *cpu_ns gets the receiver's CPU per frame,
 * *sender_busy the share of the run's wall time the sender spent on CPU
 * (near 1: the rate is the sender's, whatever the receiver does). */
static double run(enum kind k, int n, double *cpu_ns, double *sender_busy) {
    int rx[MAXC], tx[MAXC];
    uint32_t frames = FRAMES / (uint32_t)n * (uint32_t)n;
    tcp_pairs(n, rx, tx);
    double t0 = now_s(), c0 = cpu_s();
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        for (int i = 0; i < n; i++) close(rx[i]);
        pin(1);
        sender(n, tx, frames);
        _exit(0);
    }
    for (int i = 0; i < n; i++) close(tx[i]);
    uint64_t got = k == HAND ? hand_receiver(n, rx) : ring_receiver(n, rx, k == RING_EPOLL ? SL_RING_FORCE_EPOLL : 0);
    double t = now_s() - t0, c = cpu_s() - c0;
    for (int i = 0; i < n; i++) close(rx[i]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) die("sender");
    *sender_busy = ((double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                    ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6) / t;
    if (got != frames) {
        fprintf(stderr, "received %llu of %u frames\n", (unsigned long long)got, frames);
        exit(2);
    }
    *cpu_ns = c / frames * 1e9;
    return frames / t;
}

static double median(const double *v) {
    double s[RUNS];
    memcpy(s, v, sizeof s);
    qsort(s, RUNS, sizeof *s, cmp_double);
    return s[RUNS / 2];
}

static double spread(const double *v) {
    double s[RUNS];
    memcpy(s, v, sizeof s);
    qsort(s, RUNS, sizeof *s, cmp_double);
    return (s[RUNS - 1] - s[0]) / s[RUNS / 2];
}

static double pair_ratio(const double *a, const double *b) {
    double r[RUNS];
    for (int i = 0; i < RUNS; i++) r[i] = a[i] / b[i];
    return median(r);
}

int main(void) {
    sl_ring *probe = sl_ring_new(0);
    if (!probe) die("sl_ring_new");
    const char *backend = sl_ring_backend(probe);
    sl_ring_free(probe);
    pin(0);
    const int conns[] = {1, MAXC};
    for (int ci = 0; ci < 2; ci++) {
        int n = conns[ci];
        double rate[3][RUNS], cpu[3][RUNS], busy[3][RUNS];
        for (int i = 0; i < RUNS; i++) {
            for (int s = 0; s < 3; s++) {
                int k = (s + i) % 3;
                rate[k][i] = run((enum kind)k, n, &cpu[k][i], &busy[k][i]);
            }
            fprintf(stderr, "  %d conn(s), run %d: ring %.2f, ring/epoll %.2f, hand epoll %.2f M frames/s; "
                            "receiver CPU %.1f, %.1f, %.1f ns/frame; sender busy %.0f%%, %.0f%%, %.0f%%\n",
                    n, i + 1, rate[RING][i] / 1e6, rate[RING_EPOLL][i] / 1e6, rate[HAND][i] / 1e6, cpu[RING][i],
                    cpu[RING_EPOLL][i], cpu[HAND][i], busy[RING][i] * 100, busy[RING_EPOLL][i] * 100,
                    busy[HAND][i] * 100);
        }
        double r = pair_ratio(rate[RING], rate[HAND]), rc = pair_ratio(cpu[HAND], cpu[RING]);
        char what[256];
        snprintf(what, sizeof what, "%s", n == 1 ? "one connection" : "8 connections at once");
        printf("| 64-byte frames one way, TCP loopback, %s: received through sl_conn on sl_ring (%s; DATA events + "
               "next_frames) vs hand-buffered epoll loop, same blocking sender; rate | %.2f M frames/s ±%.0f%% | "
               "%.2f M frames/s ±%.0f%% | %.2fx | %s | %s |\n",
               what, backend, median(rate[RING]) / 1e6, spread(rate[RING]) * 100, median(rate[HAND]) / 1e6,
               spread(rate[HAND]) * 100, r, n == 1 ? ">= 1.05x" : "(reported)",
               n == 1 ? (r >= 1.05 ? "yes" : "no") : "–");
        printf("| the same, %s: receiver CPU per frame (hand loop's / ring's) | %.1f ns ±%.0f%% | %.1f ns ±%.0f%% | "
               "%.2fx | (reported) | – |\n",
               what, median(cpu[RING]), spread(cpu[RING]) * 100, median(cpu[HAND]), spread(cpu[HAND]) * 100, rc);
        printf("| the same, %s: the sender's CPU, share of the run (the rate's ceiling when near 100%%) | %.0f%% | "
               "%.0f%% | – | (reported) | – |\n",
               what, median(busy[RING]) * 100, median(busy[HAND]) * 100);
        printf("| the same, %s: sl_ring on its epoll fallback vs hand-buffered epoll loop; rate | "
               "%.2f M frames/s ±%.0f%% | %.2f M frames/s ±%.0f%% | %.2fx | (reported) | – |\n",
               what, median(rate[RING_EPOLL]) / 1e6, spread(rate[RING_EPOLL]) * 100, median(rate[HAND]) / 1e6,
               spread(rate[HAND]) * 100, pair_ratio(rate[RING_EPOLL], rate[HAND]));
        fflush(stdout);
    }
    fprintf(stderr, "bench_ring_frame: %d alternating runs each, %u frames a run; ratios are medians of per-round "
                    "ratios\n",
            RUNS, FRAMES);
    return 0;
}
