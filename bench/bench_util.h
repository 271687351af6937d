/* Helpers shared by the C benchmarks: the clock, fatal errors, pinning to a
 * CPU, sorting samples, and the baseline every transfer is measured against,
 * the textbook writen/readn loops (EINTR retried, nothing else). */
#ifndef SL_BENCH_UTIL_H
#define SL_BENCH_UTIL_H

#include <errno.h>
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
