/* buffer_sizes: the study note's look at the kernel's socket buffers.
 *
 * The note accepts a connection, prints SO_SNDBUF and SO_RCVBUF (65536 there),
 * then asks for 2147483647 bytes each. What the kernel grants is another
 * matter: Linux doubles the value you set (the extra half is bookkeeping) and
 * caps it at net.core.wmem_max / rmem_max. This program prints what was asked
 * and what was actually granted.
 *
 * usage: buffer_sizes [host] [port]   (defaults: 127.0.0.1 0 = any free port)
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sockloop.h"

static int show(const char *label, int fd) {
    int snd = 0, rcv = 0;
    if (sl_get_buffer_sizes(fd, &snd, &rcv) < 0) {
        perror("buffer_sizes: get");
        return -1;
    }
    printf("%-34s SO_SNDBUF=%d SO_RCVBUF=%d\n", label, snd, rcv);
    return 0;
}

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 0;
    if (argc > 3 || port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s [host] [port]\n", argv[0]);
        return 2;
    }
    int lsock = sl_tcp_listen(host, port, 1);
    if (lsock < 0) {
        perror("buffer_sizes: listen");
        return 1;
    }
    int client = sl_tcp_connect(host, sl_local_port(lsock), 5000);
    int conn = client < 0 ? -1 : sl_accept(lsock, 0, 5000, NULL, 0);
    if (conn < 0) {
        perror("buffer_sizes: connect/accept");
        return 1;
    }
    int status = 0;
    if (show("accepted socket, defaults:", conn) < 0) status = 1;
    const int asks[] = {4096, 2147483647};
    for (size_t i = 0; i < sizeof asks / sizeof asks[0] && status == 0; i++) {
        char label[64];
        if (sl_set_buffer_sizes(conn, asks[i], asks[i]) < 0) {
            perror("buffer_sizes: set");
            status = 1;
            break;
        }
        snprintf(label, sizeof label, "after asking for %d:", asks[i]);
        if (show(label, conn) < 0) status = 1;
    }
    close(conn);
    close(client);
    close(lsock);
    return status;
}
