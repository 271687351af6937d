/* multiconn_ring_server: Real Python's multiconn-server.py on sl_ring, the
 * sibling of multiconn_server (sl_selector): the same echo, with one call per
 * loop turn for every connection.
 *
 * usage: multiconn_ring_server [host] [port]   (defaults: 127.0.0.1 65432)
 *
 * Each turn, sl_ring_wait writes every connection's queued echo, receives
 * into every connection's sl_conn buffer and says which connections have new
 * bytes, reached end of stream or failed: on io_uring one system call for all
 * of it (on kernels without io_uring, or with SOCKLOOP_RING=epoll, the same
 * behaviour on epoll). Where it differs from the tutorial as multiconn_server
 * does:
 * - back-pressure: input is echoed only while the client's output queue is
 *   under HIGH_WATER; past it the bytes stay in the sl_conn buffer, which the
 *   ring never fills past its bound, so a client that sends and never reads
 *   holds at most HIGH_WATER + CONN_LIMIT of the server's memory;
 * - accept: the listener is tried without waiting when the ring is idle and
 *   every ACCEPT_EVERY turns, all pending connections at once.
 * SIGINT or SIGTERM stops it within WAIT_MS: the handler sets a flag that the
 * interrupt check (sl_set_interrupt_check) reads, so a wait ends at once with
 * EINTR. The echoes already queued are sent (within STOP_MS), then every
 * connection is closed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockloop.h"

#define MAX_EVENTS 64
#define CONN_LIMIT 65536 /* sl_conn's buffer limit per connection */
#define HIGH_WATER (1 << 20) /* most output queued per client */
#define WAIT_MS 50 /* one wait's bound: new connections are looked for at least this often */
#define ACCEPT_EVERY 64
#define STOP_MS 80

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }
static int should_stop(void *ctx) { (void)ctx; return stop; }

/* Echoes what is buffered, as far as the output queue has room. */
static unsigned long long echo(sl_conn *c) {
    static char buf[CONN_LIMIT];
    size_t have = sl_conn_buffered(c), room = HIGH_WATER - (sl_conn_pending(c) < HIGH_WATER ? sl_conn_pending(c) : HIGH_WATER);
    size_t n = have < room ? have : room;
    if (n > sizeof buf) n = sizeof buf;
    /* Only buffered bytes are asked for: sl_conn_read_exact reads no socket here. */
    if (n == 0 || sl_conn_read_exact(c, buf, n, 0) != (ssize_t)n || sl_conn_queue(c, buf, n) < 0) return 0;
    return n;
}

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 65432;
    if (argc > 3) {
        fprintf(stderr, "usage: %s [host] [port]\n", argv[0]);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sl_set_interrupt_check(should_stop, NULL);

    int lsock = sl_tcp_listen(host, port, 128);
    if (lsock < 0) { perror("listen"); return 1; }
    sl_ring *ring = sl_ring_new(0);
    if (!ring) { perror("sl_ring_new"); close(lsock); return 1; }
    printf("listening on %s:%d (%s)\n", host, sl_local_port(lsock), sl_ring_backend(ring));
    fflush(stdout);

    sl_ring_event ev[MAX_EVENTS];
    unsigned long long echoed = 0;
    size_t clients = 0;
    sl_conn **all = NULL; /* every open connection, to close them at the end */
    int idle = 1;
    for (unsigned long turn = 0; !stop; turn++) {
        if (idle || turn % ACCEPT_EVERY == 0) {
            int fd;
            char peer[SL_ADDRSTRLEN];
            while ((fd = sl_accept(lsock, 0, 0, peer, sizeof peer)) >= 0) {
                sl_conn *c = sl_conn_new(fd, CONN_LIMIT, SL_CONN_OWN_FD);
                sl_conn **grown = c ? realloc(all, (clients + 1) * sizeof *all) : NULL;
                if (!grown || sl_ring_add(ring, c, NULL) < 0) {
                    if (grown) all = grown;
                    sl_conn_free(c);
                    if (!c) close(fd);
                    continue;
                }
                all = grown;
                all[clients++] = c;
                printf("accepted connection from %s\n", peer);
            }
        }
        int n = sl_ring_wait(ring, ev, MAX_EVENTS, WAIT_MS);
        if (n < 0) {
            if (errno == EINTR) break;
            perror("sl_ring_wait");
            break;
        }
        idle = n == 0;
        for (int i = 0; i < n; i++) {
            sl_conn *c = ev[i].conn;
            echoed += echo(c);
            if (ev[i].events & (SL_RING_CLOSED | SL_RING_ERROR)) {
                /* Send what is queued, as the tutorial's close after its last send. */
                sl_ring_remove(ring, c);
                for (size_t k = 0; k < clients; k++)
                    if (all[k] == c) { all[k] = all[--clients]; break; }
                sl_conn_flush(c); /* out of the ring: a plain non-blocking flush */
                sl_conn_free(c);
            }
        }
        /* Connections whose echo waited for room: try again now. */
        for (size_t k = 0; k < clients; k++)
            if (sl_conn_buffered(all[k]) > 0 && sl_conn_pending(all[k]) < HIGH_WATER) echoed += echo(all[k]);
    }
    /* Stopping: the queued echoes go out within STOP_MS, then all is closed. */
    sl_set_interrupt_check(NULL, NULL);
    for (int t = 0; t < STOP_MS / 10; t++) {
        size_t left = 0;
        for (size_t k = 0; k < clients; k++) left += sl_conn_pending(all[k]);
        if (left == 0) break;
        sl_ring_wait(ring, ev, MAX_EVENTS, 10);
    }
    for (size_t k = 0; k < clients; k++) {
        sl_ring_remove(ring, all[k]);
        sl_conn_free(all[k]);
    }
    free(all);
    sl_ring_free(ring);
    close(lsock);
    printf("stopped: %llu bytes echoed\n", echoed);
    return 0;
}
