/* http_get: the HOWTO's opening example, "roughly speaking, when you clicked on
 * the link that brought you to this page, your browser did something like":
 *     s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
 *     s.connect(("www.python.org", 80))
 * then sent a request and read the reply until the server closed.
 *
 * usage: http_get [host] [port] [path]   (defaults: 127.0.0.1 8000 /)
 * Try it against a local server: python3 -m http.server 8000
 *
 * An HTTP/1.0 response ends when the server closes the connection, so the
 * client reads until recv() returns 0 (end of stream) — waiting at most 10 s
 * for each piece, instead of hanging forever on a silent server.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockloop.h"

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 8000;
    const char *path = argc > 3 ? argv[3] : "/";
    if (argc > 4 || port <= 0 || port > 65535 || path[0] != '/') {
        fprintf(stderr, "usage: %s [host] [port] [path starting with /]\n", argv[0]);
        return 2;
    }
    int sock = sl_tcp_connect(host, port, 5000);
    if (sock < 0) {
        perror("http_get: connect");
        return 1;
    }
    char request[2048];
    int n = snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host);
    if (n < 0 || (size_t)n >= sizeof request) {
        fprintf(stderr, "http_get: path too long\n");
        close(sock);
        return 2;
    }
    if (sl_send_all(sock, request, (size_t)n, 5000, NULL) < 0) {
        perror("http_get: send");
        close(sock);
        return 1;
    }
    char buf[4096];
    size_t total = 0;
    int status = 0;
    for (;;) {
        int ready = sl_wait_readable(sock, 10000);
        if (ready <= 0) {
            if (ready == 0) errno = ETIMEDOUT;
            perror("http_get: waiting for the response");
            status = 1;
            break;
        }
        ssize_t got = recv(sock, buf, sizeof buf, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            perror("http_get: recv");
            status = 1;
            break;
        }
        if (got == 0) break; /* the server closed: the response is complete */
        if (fwrite(buf, 1, (size_t)got, stdout) != (size_t)got) {
            perror("http_get: stdout");
            status = 1;
            break;
        }
        total += (size_t)got;
    }
    fprintf(stderr, "http_get: %zu bytes from %s:%d%s\n", total, host, port, path);
    close(sock);
    return status;
}
