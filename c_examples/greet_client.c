/* greet_client: sends a length-prefixed name and prints the greeting.
 *
 * usage: greet_client [host] [port] [name]   (defaults: 127.0.0.1 65432 world)
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sockloop.h"

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 65432;
    const char *name = argc > 3 ? argv[3] : "world";
    if (argc > 4 || port <= 0 || port > 65535 || strlen(name) > 255) {
        fprintf(stderr, "usage: %s [host] [port] [name (at most 255 bytes)]\n", argv[0]);
        return 2;
    }

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "greet_client: %s is not an IPv4 address\n", host);
        return 2;
    }
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("greet_client: connect");
        return 1;
    }

    /* Header and name leave in one vectored write; sl_send_allv finishes it
     * even if the kernel takes only part. */
    unsigned char header[4];
    sl_put_u32be(header, (uint32_t)strlen(name));
    struct iovec parts[2] = {{header, 4}, {(void *)name, strlen(name)}};
    size_t sent = 0;
    if (sl_send_allv(sock, parts, 2, 5000, &sent) < 0) {
        fprintf(stderr, "greet_client: sent %zu bytes, then: ", sent);
        perror(NULL);
        close(sock);
        return 1;
    }

    char reply[512];
    if (sl_recv_exact(sock, header, 4, 5000, NULL) < 0) {
        perror("greet_client: reading the length");
        close(sock);
        return 1;
    }
    uint32_t len = sl_get_u32be(header);
    if (len >= sizeof reply) {
        fprintf(stderr, "greet_client: reply of %u bytes is too long\n", (unsigned)len);
        close(sock);
        return 1;
    }
    size_t got = 0;
    if (sl_recv_exact(sock, reply, len, 5000, &got) < 0) {
        fprintf(stderr, "greet_client: got %zu of %u bytes, then: ", got, (unsigned)len);
        perror(NULL);
        close(sock);
        return 1;
    }
    reply[len] = '\0';
    printf("greet_client: %s\n", reply);
    close(sock);
    return 0;
}
