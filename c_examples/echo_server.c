/* echo_server: Real Python's echo server, one connection after another.
 *
 * usage: echo_server [host] [port]     (defaults: 127.0.0.1 65432)
 *
 * The tutorial binds, listens, accepts, then loops "data = conn.recv(1024);
 * if not data: break; conn.sendall(data)". In C each of those lines hides a trap
 * that sockloop closes: SO_REUSEADDR so a restart does not fail with "Address
 * already in use", sl_send_all so a partial send is finished, no SIGPIPE when
 * the client leaves early, the accepted socket is always closed, and a client
 * that goes silent is dropped after 5 s instead of blocking the next forever.
 * Ctrl-C (SIGINT) or SIGTERM stops it at once, even while it waits: an
 * interrupt check (sl_set_interrupt_check) lets the signal end the blocked
 * call; the reply being sent is finished first.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockloop.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }
/* Asked by sockloop after a signal interrupts a blocking call: stop then. */
static int should_stop(void *ctx) { (void)ctx; return stop; }

/* One connection at a time: a client silent this long is dropped, so that a
 * stalled client cannot keep the next one waiting forever. */
#define IDLE_MS 5000
/* The longest single wait. The check ends a wait at once when a signal
 * interrupts it, but it runs only after an EINTR: a signal that lands just
 * before a wait begins is seen when this much time has passed. */
#define WAIT_MS 1000

/* Echoes until the client closes. recv() may return any part of what was
 * sent: an echo server does not care where messages end. */
static void echo(int conn) {
    char buf[1024];
    int idle_ms = 0;
    while (!stop) {
        int ready = sl_wait_readable(conn, WAIT_MS);
        if (ready == 0) {
            if ((idle_ms += WAIT_MS) < IDLE_MS) continue;
            fprintf(stderr, "echo_server: client idle for %d ms, dropping it\n", IDLE_MS);
            return;
        }
        idle_ms = 0;
        if (ready < 0) {
            if (errno != EINTR) perror("echo_server: wait"); /* EINTR: stopping */
            return;
        }
        ssize_t n = recv(conn, buf, sizeof buf, 0);
        if (n == 0) return;                 /* the client closed: done */
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("echo_server: recv");
            return;
        }
        size_t sent = 0;
        if (sl_send_all(conn, buf, (size_t)n, 10000, &sent) < 0) {
            /* Stopping mid-reply: finish it (briefly), nothing is lost. */
            if (errno != EINTR || sl_send_all(conn, buf + sent, (size_t)n - sent, 100, NULL) < 0) {
                perror("echo_server: send");
                return;
            }
        }
    }
}

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 65432;
    if (argc > 3 || port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s [host] [port]\n", argv[0]);
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) {
        perror("echo_server: sigaction");
        return 1;
    }
    sl_set_interrupt_check(should_stop, NULL);

    int lsock = sl_tcp_listen(host, port, 16); /* SO_REUSEADDR, close-on-exec */
    if (lsock < 0) {
        perror("echo_server: listen");
        return 1;
    }
    printf("listening on %s:%d\n", host, sl_local_port(lsock));
    fflush(stdout);

    while (!stop) {
        char peer[SL_ADDRSTRLEN];
        int conn = sl_accept(lsock, 0, WAIT_MS, peer, sizeof peer);
        if (conn < 0) {
            if (errno == EINTR || errno == ETIMEDOUT) continue; /* the loop looks at `stop` */
            perror("echo_server: accept");
            break;
        }
        printf("connected by %s\n", peer);
        fflush(stdout);
        echo(conn);
        close(conn); /* the tutorial's `with conn:` */
    }
    close(lsock);
    return 0;
}
