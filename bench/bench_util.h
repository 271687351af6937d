/* Helpers shared by the C benchmarks: the clock, fatal errors, pinning to a
 * CPU, sorting samples, loopback TCP sockets, and the baseline every
 * transfer is measured against, the textbook writen/readn loops (EINTR
 * retried, nothing else). */
#ifndef SL_BENCH_UTIL_H
#define SL_BENCH_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void die(const char *what) {
    perror(what);
    exit(1);
}

/* Pins the calling process to `cpu` where the machine has it (one CPU:
 * both ends share it). */
static inline void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (cpu < sysconf(_SC_NPROCESSORS_ONLN)) sched_setaffinity(0, sizeof set, &set);
}

/* A TCP listener on 127.0.0.1 at an ephemeral port; *addr gets its address. */
static inline int loopback_listener(int backlog, struct sockaddr_in *addr) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, backlog) ||
        getsockname(l, (struct sockaddr *)&a, &alen))
        die("loopback listener");
    *addr = a;
    return l;
}

/* A connected loopback TCP pair: *client connected, *server accepted. */
static inline void loopback_pair(int *client, int *server) {
    struct sockaddr_in a;
    int l = loopback_listener(1, &a);
    *client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*client < 0 || connect(*client, (struct sockaddr *)&a, sizeof a)) die("connect");
    *server = accept(l, NULL, NULL);
    if (*server < 0) die("accept");
    close(l);
}

/* qsort's comparison for doubles, ascending. */
static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline ssize_t writen(int fd, const void *buf, size_t n) {
    const char *p = buf;
    size_t left = n;
    while (left > 0) {
        ssize_t w = send(fd, p, left, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    return (ssize_t)n;
}

static inline ssize_t readn(int fd, void *buf, size_t n) {
    char *p = buf;
    size_t left = n;
    while (left > 0) {
        ssize_t r = recv(fd, p, left, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        p += r;
        left -= (size_t)r;
    }
    return (ssize_t)(n - left);
}

#endif
