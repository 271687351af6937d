/* greet_server: answers each client's length-prefixed name with a greeting.
 *
 * Wire format, both ways: a 4-byte big-endian length, then that many bytes.
 * The naive version calls recv() once and hopes the whole message came; here
 * sl_recv_exact loops until it has, and sl_send_all until every byte left.
 *
 * usage: greet_server [host] [port] [count]   (defaults: 127.0.0.1 65432 1)
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockloop.h"

#define MAX_NAME 256

static int serve_one(int conn) {
    unsigned char header[4];
    char name[MAX_NAME], reply[MAX_NAME + 32];
    size_t got = 0;

    /* Read exactly the 4-byte header, however the bytes are split on the wire. */
    if (sl_recv_exact(conn, header, sizeof header, 5000, &got) < 0) {
        perror("greet_server: reading the length");
        return -1;
    }
    uint32_t len = sl_get_u32be(header); /* the wire is big-endian */
    if (len >= MAX_NAME) {
        fprintf(stderr, "greet_server: name of %u bytes is too long\n", (unsigned)len);
        return -1;
    }
    if (sl_recv_exact(conn, name, len, 5000, &got) < 0) {
        perror("greet_server: reading the name");
        return -1;
    }
    name[len] = '\0';
    printf("greet_server: got a %u-byte name: %s\n", (unsigned)len, name);

    int n = snprintf(reply + 4, sizeof reply - 4, "Hello, %s!", name);
    sl_put_u32be(reply, (uint32_t)n);
    if (sl_send_all(conn, reply, 4 + (size_t)n, 5000, NULL) < 0) {
        perror("greet_server: sending the greeting");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 65432;
    int count = argc > 3 ? atoi(argv[3]) : 1;
    if (argc > 4 || port <= 0 || port > 65535 || count <= 0) {
        fprintf(stderr, "usage: %s [host] [port] [count]\n", argv[0]);
        return 2;
    }

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "greet_server: %s is not an IPv4 address\n", host);
        return 2;
    }
    int lsock = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (lsock < 0 || setsockopt(lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lsock, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lsock, 16) < 0) {
        perror("greet_server: listen");
        return 1;
    }
    printf("greet_server: listening on %s:%d\n", host, port);
    fflush(stdout);

    int status = 0;
    for (int i = 0; i < count; i++) {
        int conn = accept(lsock, NULL, NULL);
        if (conn < 0) {
            perror("greet_server: accept");
            status = 1;
            break;
        }
        if (serve_one(conn) < 0)
            status = 1;
        close(conn); /* always: an accepted socket is ours to close */
    }
    close(lsock);
    return status;
}
