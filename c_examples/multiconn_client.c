/* multiconn_client: Real Python's multiconn-client.py on sl_selector + sl_conn.
 *
 * usage: multiconn_client <host> <port> <num_connections>
 *
 * Opens num_connections connections. Each sends the tutorial's two messages and
 * closes once every byte it sent has come back. As in the tutorial the sockets
 * are non-blocking, every connect is started at once (sl_tcp_connect_start,
 * the tutorial's connect_ex) and one selector drives them all: N connections
 * to a slow server cost one round trip, not N. Unlike the tutorial, a
 * connection learns whether its connect worked (sl_connect_finish, the errno
 * of a refusal) before it sends, asks for SL_WRITE only while it has output
 * pending, and a loop with no progress in 5 s gives up instead of waiting
 * forever for a connect that never finishes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockloop.h"

static const char *const messages[] = {"Message 1 from client.", "Message 2 from client."};

struct connection {
    int id;
    sl_conn *conn;
    int events; /* what it is registered for now */
    int connecting; /* the connect was started and not yet finished */
    size_t msg_total, recv_total;
};

/* Handles one event; returns -1 when the connection is finished. */
static int service_connection(struct connection *c, int mask) {
    if (c->connecting) { /* the first event: writable, or an error */
        if (sl_connect_finish(sl_conn_fd(c->conn), 0) < 0) {
            if (errno == EAGAIN) return 0; /* still in progress */
            fprintf(stderr, "multiconn_client: connection %d: connect: %s\n", c->id, strerror(errno));
            return -1;
        }
        c->connecting = 0;
    }
    if (mask & SL_READ) {
        ssize_t n = sl_conn_fill(c->conn);
        if (n < 0 && errno != EAGAIN) {
            perror("multiconn_client: recv");
            return -1;
        }
        size_t have = sl_conn_buffered(c->conn);
        char buf[256];
        while (have > 0) { /* take what arrived, in pieces */
            size_t take = have < sizeof buf ? have : sizeof buf;
            if (sl_conn_read_exact(c->conn, buf, take, 0) < 0) return -1;
            printf("received '%.*s' from connection %d\n", (int)take, buf, c->id);
            c->recv_total += take;
            have -= take;
        }
        if (n == 0 || c->recv_total == c->msg_total) {
            printf("closing connection %d\n", c->id);
            return -1;
        }
    }
    if (mask & SL_WRITE && sl_conn_flush(c->conn) < 0) {
        perror("multiconn_client: send");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4 || atoi(argv[2]) <= 0 || atoi(argv[2]) > 65535 || atoi(argv[3]) <= 0) {
        fprintf(stderr, "usage: %s <host> <port> <num_connections>\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]), num_conns = atoi(argv[3]);
    setvbuf(stdout, NULL, _IOLBF, 0);

    sl_selector *sel = sl_selector_new();
    struct connection *conns = calloc((size_t)num_conns, sizeof *conns);
    if (!sel || !conns) {
        perror("multiconn_client");
        return 1;
    }
    int open_conns = 0, status = 0;
    for (int i = 0; i < num_conns; i++) {
        struct connection *c = &conns[i];
        c->id = i + 1;
        printf("starting connection %d to %s:%d\n", c->id, host, port);
        int fd = sl_tcp_connect_start(host, port); /* non-blocking, in progress */
        if (fd < 0 || !(c->conn = sl_conn_new(fd, 4096, SL_CONN_OWN_FD))) {
            perror("multiconn_client: connect");
            if (fd >= 0) close(fd);
            status = 1;
            continue;
        }
        c->connecting = 1;
        for (size_t m = 0; m < sizeof messages / sizeof messages[0]; m++) {
            if (sl_conn_queue(c->conn, messages[m], strlen(messages[m])) < 0) status = 1;
            c->msg_total += strlen(messages[m]);
        }
        c->events = SL_READ | SL_WRITE;
        if (sl_selector_register(sel, fd, c->events, c) < 0) {
            perror("multiconn_client: register");
            sl_conn_free(c->conn);
            status = 1;
            continue;
        }
        open_conns++;
    }

    sl_event events[64];
    while (open_conns > 0) {
        int n = sl_selector_select(sel, events, 64, 5000);
        if (n <= 0) {
            fprintf(stderr, "multiconn_client: %s\n", n == 0 ? "no progress in 5 s, giving up" : strerror(errno));
            status = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            struct connection *c = events[i].data;
            if (service_connection(c, events[i].events) < 0) {
                if (c->recv_total != c->msg_total) status = 1;
                sl_selector_unregister(sel, sl_conn_fd(c->conn));
                sl_conn_free(c->conn);
                c->conn = NULL;
                open_conns--;
            } else if (c->events != SL_READ && sl_conn_pending(c->conn) == 0) {
                c->events = SL_READ; /* all sent: from now on, reading only */
                if (sl_selector_modify(sel, sl_conn_fd(c->conn), c->events, c) < 0) status = 1;
            }
        }
    }
    for (int i = 0; i < num_conns; i++)
        if (conns[i].conn) sl_conn_free(conns[i].conn);
    free(conns);
    sl_selector_free(sel);
    return status;
}
