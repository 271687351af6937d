/* multiconn_server: Real Python's multiconn-server.py on sl_selector + sl_conn.
 *
 * usage: multiconn_server [host] [port]   (defaults: 127.0.0.1 65432)
 *
 * As in the tutorial: a non-blocking listening socket registered for reading,
 * accept on readiness, per-connection buffers, echo. Where it differs:
 * - each connection asks for SL_WRITE only while it has output pending. The
 *   tutorial registers EVENT_WRITE for good, so select() returns at once,
 *   forever: a busy loop;
 * - accept is retried until EAGAIN, so a burst of connections is taken at once;
 * - sl_conn keeps the buffers, and its flush keeps whatever the socket did not
 *   take (the tutorial's `data.outb = data.outb[sent:]`);
 * - back-pressure: the tutorial appends every echo to `outb`, so a client that
 *   sends and never reads makes the server's memory grow until it dies. Here
 *   each connection's output queue has a high-water mark
 *   (sl_conn_set_high_water): input is echoed only as far as the queue has
 *   room, and a client whose output is at the mark is not read from (SL_WRITE
 *   only) until it drains. Its memory stays under HIGH_WATER + CONN_LIMIT.
 * Ctrl-C (SIGINT) or SIGTERM stops it at once, even while it waits: the signal
 * handler wakes the selector (sl_selector_wakeup). The echoes already queued
 * are sent (within STOP_MS), then every connection is closed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "sockloop.h"

#define MAX_EVENTS 64
#define CONN_LIMIT 65536 /* sl_conn's buffer limit per connection */
#define HIGH_WATER (1 << 20) /* most output queued per client: stop reading it at the mark */
#define STOP_MS 80 /* at most this long to send what is queued when stopping */

struct client {
    sl_conn *conn;
    int events; /* what it is registered for now */
    char addr[SL_ADDRSTRLEN];
    struct client *prev, *next; /* every open client, to close them at exit */
};

static struct client *clients;
static unsigned long long echoed; /* bytes read and queued back, over all clients */

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static volatile sig_atomic_t stop;
static sl_selector *loop_sel; /* woken by the signal handler */
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
    sl_selector_wakeup(loop_sel); /* async-signal-safe: ends the select at once */
}

static void accept_wrapper(sl_selector *sel, int lsock) {
    for (;;) {
        struct client *c = calloc(1, sizeof *c);
        if (!c) {
            perror("multiconn_server: calloc");
            return;
        }
        int fd = sl_accept(lsock, SL_ACCEPT_NONBLOCK, 0, c->addr, sizeof c->addr);
        if (fd < 0) {
            if (errno != EAGAIN) perror("multiconn_server: accept");
            free(c);
            return;
        }
        c->conn = sl_conn_new(fd, CONN_LIMIT, SL_CONN_OWN_FD);
        c->events = SL_READ;
        if (!c->conn || sl_conn_set_high_water(c->conn, HIGH_WATER) < 0 ||
            sl_selector_register(sel, fd, c->events, c) < 0) {
            perror("multiconn_server: register");
            if (c->conn) sl_conn_free(c->conn);
            else close(fd);
            free(c);
            continue;
        }
        c->next = clients;
        if (clients) clients->prev = c;
        clients = c;
    }
}

/* Sends what is queued for `c`, waiting for the socket until `deadline_ms`
 * (a CLOCK_MONOTONIC time in ms) at most. */
static void finish_replies(struct client *c, long long deadline_ms) {
    ssize_t pending;
    while ((pending = sl_conn_flush(c->conn)) > 0) {
        long long left = deadline_ms - now_ms();
        if (left <= 0 || sl_wait_writable(sl_conn_fd(c->conn), (int)left) <= 0) return;
    }
}

static void close_client(sl_selector *sel, struct client *c) {
    sl_selector_unregister(sel, sl_conn_fd(c->conn));
    sl_conn_free(c->conn); /* closes the socket: SL_CONN_OWN_FD */
    if (c->prev) c->prev->next = c->next;
    else clients = c->next;
    if (c->next) c->next->prev = c->prev;
    free(c);
}

/* Echoes buffered input as far as the output queue has room below the
 * high-water mark; the rest stays buffered. Returns -1 on an error. */
static int echo_buffered(struct client *c) {
    static char buf[CONN_LIMIT];
    size_t have;
    while ((have = sl_conn_buffered(c->conn)) > 0) { /* echo: input becomes output */
        size_t room = HIGH_WATER - sl_conn_pending(c->conn);
        size_t take = have < sizeof buf ? have : sizeof buf;
        if (take > room) take = room;
        if (take == 0) return 0; /* at the mark: wait for the client to read */
        /* Within the room, so the queue cannot say ENOBUFS. */
        if (sl_conn_read_exact(c->conn, buf, take, 0) < 0 || sl_conn_queue(c->conn, buf, take) < 0) return -1;
        echoed += take;
    }
    return 0;
}

/* Echoes what arrived; returns -1 when the connection is finished. */
static int service_connection(sl_selector *sel, struct client *c, int mask) {
    if (mask & SL_READ) {
        ssize_t n = sl_conn_fill(c->conn);
        if (n == 0) return -1; /* the client closed */
        if (n < 0 && errno != EAGAIN) return -1;
    }
    if (echo_buffered(c) < 0) return -1;
    ssize_t pending = sl_conn_flush(c->conn); /* what the socket takes; the rest stays queued */
    if (pending < 0 || echo_buffered(c) < 0) return -1; /* the flush made room */
    pending = (ssize_t)sl_conn_pending(c->conn);
    /* Back-pressure: input that could not be echoed (the queue is at the
     * mark) stays buffered, and the client is not read from until its
     * output drains. */
    int blocked = sl_conn_buffered(c->conn) > 0;
    int want = blocked ? SL_WRITE : pending > 0 ? SL_READ | SL_WRITE : SL_READ;
    if (want != c->events) {
        if (sl_selector_modify(sel, sl_conn_fd(c->conn), want, c) < 0) return -1;
        c->events = want;
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 65432;
    if (argc > 3 || port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s [host] [port]\n", argv[0]);
        return 2;
    }
    int lsock = sl_tcp_listen(host, port, 1024);
    if (lsock < 0 || sl_set_nonblocking(lsock, 1) < 0) {
        perror("multiconn_server: listen");
        return 1;
    }
    printf("listening on %s:%d\n", host, sl_local_port(lsock));
    fflush(stdout);
    sl_selector *sel = sl_selector_new();
    if (!sel || sl_selector_register(sel, lsock, SL_READ, NULL) < 0) { /* data NULL: the listener */
        perror("multiconn_server: selector");
        return 1;
    }
    loop_sel = sel; /* before the handlers, which wake it */
    struct sigaction sa = {.sa_handler = on_signal};
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) {
        perror("multiconn_server: sigaction");
        return 1;
    }
    sl_event events[MAX_EVENTS];
    int status = 0;
    while (!stop) {
        int n = sl_selector_select(sel, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue; /* woken: the loop looks at `stop` */
            perror("multiconn_server: select");
            status = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            struct client *c = events[i].data;
            if (c == NULL) accept_wrapper(sel, lsock);
            else if (service_connection(sel, c, events[i].events) < 0) close_client(sel, c);
        }
    }
    long long deadline = now_ms() + STOP_MS;
    for (struct client *c = clients; c; c = c->next) finish_replies(c, deadline);
    while (clients) close_client(sel, clients);
    signal(SIGINT, SIG_DFL); /* no handler may wake a freed selector */
    signal(SIGTERM, SIG_DFL);
    sl_selector_free(sel);
    close(lsock);
    printf("stopped: %llu bytes echoed\n", echoed);
    return status;
}
