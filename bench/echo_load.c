/* echo_load: the echo benchmark's client. Opens CONNS connections to PORT on
 * 127.0.0.1, keeps one 64-byte request in flight on each, verifies every
 * response byte for byte, and stops after ROUNDS round trips in all.
 * Prints "rounds R seconds S".  usage: echo_load PORT CONNS ROUNDS */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 64
struct client { int fd; unsigned seq; size_t got; unsigned char want[MSG], in[MSG]; };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int send_request(struct client *c) {
    for (int i = 0; i < MSG; i++) c->want[i] = (unsigned char)(c->seq * 31u + (unsigned)i * 7u + (unsigned)c->fd);
    c->got = 0;
    return send(c->fd, c->want, MSG, MSG_NOSIGNAL) == MSG ? 0 : -1; /* 64 B always fits */
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s port conns rounds\n", argv[0]); return 2; }
    int port = atoi(argv[1]), conns = atoi(argv[2]);
    long rounds = atol(argv[3]), done = 0, started = 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ep = epoll_create1(0), one = 1;
    struct client *cs = calloc((size_t)conns, sizeof *cs);
    if (!cs) return 1;
    for (int i = 0; i < conns; i++) {
        cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        if (cs[i].fd < 0 || connect(cs[i].fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 1; }
        setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &e);
    }
    double t0 = now();
    for (int i = 0; i < conns && started < rounds; i++, started++)
        if (send_request(&cs[i]) < 0) { perror("send"); return 1; }
    struct epoll_event evs[256];
    while (done < rounds) {
        int n = epoll_wait(ep, evs, 256, 10000);
        if (n <= 0) { fprintf(stderr, "echo_load: stalled after %ld rounds\n", done); return 1; }
        for (int i = 0; i < n; i++) {
            struct client *c = evs[i].data.ptr;
            ssize_t r = recv(c->fd, c->in + c->got, MSG - c->got, 0);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                fprintf(stderr, "echo_load: connection closed after %ld rounds\n", done);
                return 1;
            }
            c->got += (size_t)r;
            if (c->got < MSG) continue;
            if (memcmp(c->in, c->want, MSG) != 0) { fprintf(stderr, "echo_load: corrupted response\n"); return 1; }
            done++;
            c->seq++;
            if (started < rounds) {
                started++;
                if (send_request(c) < 0) { perror("send"); return 1; }
            }
        }
    }
    double t = now() - t0;
    for (int i = 0; i < conns; i++) close(cs[i].fd);
    free(cs);
    printf("rounds %ld seconds %.6f\n", done, t);
    return 0;
}
