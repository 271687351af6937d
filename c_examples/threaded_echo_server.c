/* threaded_echo_server: the article's multi-connection echo server, one thread
 * per connection, with its three bugs fixed: listen() is called once, outside
 * the loop; the thread is actually started (the article wrote `t.start`
 * without the call); and each thread closes its own socket.
 *
 * usage: threaded_echo_server [host] [port]   (defaults: 127.0.0.1 4000)
 * Ctrl-C (SIGINT) or SIGTERM stops accepting; running threads finish first.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockloop.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static void *echo(void *arg) {
    int conn = (int)(intptr_t)arg;
    char buf[1024];
    for (;;) {
        ssize_t n = recv(conn, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* closed by the client, or an error */
        if (sl_send_all(conn, buf, (size_t)n, 10000, NULL) < 0) {
            perror("threaded_echo_server: send");
            break;
        }
    }
    close(conn); /* fix 3: the thread owns and closes its socket */
    return NULL;
}

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 4000;
    if (argc > 3 || port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s [host] [port]\n", argv[0]);
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int lsock = sl_tcp_listen(host, port, 64); /* fix 1: listen once */
    if (lsock < 0) {
        perror("threaded_echo_server: listen");
        return 1;
    }
    printf("listening on %s:%d\n", host, sl_local_port(lsock));
    fflush(stdout);

    pthread_attr_t detached;
    if (pthread_attr_init(&detached) != 0 || pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED) != 0) {
        fprintf(stderr, "threaded_echo_server: pthread_attr failed\n");
        return 1;
    }
    while (!stop) {
        int conn = sl_accept(lsock, 0, 500, NULL, 0);
        if (conn < 0) {
            if (errno == ETIMEDOUT || errno == EINTR) continue;
            perror("threaded_echo_server: accept");
            break;
        }
        pthread_t t;
        int err = pthread_create(&t, &detached, echo, (void *)(intptr_t)conn); /* fix 2: started */
        if (err != 0) {
            fprintf(stderr, "threaded_echo_server: pthread_create: %s\n", strerror(err));
            close(conn);
        }
    }
    pthread_attr_destroy(&detached);
    close(lsock);
    pthread_exit(NULL); /* lets running connections finish before the process ends */
}
