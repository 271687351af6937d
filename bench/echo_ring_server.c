/* echo_ring_server: the echo benchmark's server on sl_ring: every connection's
 * output written, input received and news reported in one sl_ring_wait per
 * loop turn (one io_uring_enter on io_uring; SOCKLOOP_RING=epoll runs the
 * epoll fallback). Echoes raw bytes: what a DATA event brings is taken from
 * the conn's buffer and queued back. The listener is polled with a
 * non-blocking accept only while connections arrive, then every 256 turns.
 * usage: echo_ring_server 127.0.0.1 PORT   (prints "listening on HOST:PORT") */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockloop.h"

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s host port\n", argv[0]); return 2; }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int l = sl_tcp_listen(argv[1], atoi(argv[2]), 4096);
    if (l < 0) { perror("listen"); return 1; }
    sl_ring *r = sl_ring_new(0);
    if (!r) { perror("sl_ring_new"); return 1; }
    printf("listening on %s:%d\n", argv[1], sl_local_port(l));
    fflush(stdout);
    fprintf(stderr, "echo_ring_server: backend %s\n", sl_ring_backend(r));
    enum { CAP = 512 };
    static sl_ring_event ev[CAP];
    static char buf[65536];
    int accepting = 1;
    for (unsigned long turn = 0; !stop; turn++) {
        if (accepting || turn % 256 == 0) {
            int fd;
            accepting = 0;
            while ((fd = sl_accept(l, 0, 0, NULL, 0)) >= 0) {
                sl_set_nodelay(fd, 1);
                sl_conn *c = sl_conn_new(fd, sizeof buf, SL_CONN_OWN_FD);
                if (!c || sl_ring_add(r, c, NULL) < 0) { sl_conn_free(c); continue; }
                accepting = 1;
            }
        }
        int n = sl_ring_wait(r, ev, CAP, accepting ? 0 : 50);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("sl_ring_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            sl_conn *c = ev[i].conn;
            size_t have = sl_conn_buffered(c);
            /* Only buffered bytes are asked for: no read of the fd happens. */
            if (have > 0 && sl_conn_read_exact(c, buf, have, 0) == (ssize_t)have) sl_conn_queue(c, buf, have);
            if (ev[i].events & (SL_RING_CLOSED | SL_RING_ERROR)) {
                sl_ring_remove(r, c);
                sl_conn_free(c);
            }
        }
        if (n == 0 && !accepting) accepting = 1; /* idle: look for new connections */
    }
    sl_ring_free(r);
    close(l);
    return 0;
}
