/* echo_client: Real Python's echo client, and the article's looping variant.
 *
 * usage: echo_client [host] [port] [message]   (defaults: 127.0.0.1 65432)
 *
 * With a message: sends it once and prints the echo (the tutorial's single
 * exchange). Without one: sends each line of stdin and prints each echo, until
 * end of input (the looping variant).
 *
 * The tutorial reads the echo with one `s.recv(1024)` and hopes it all came
 * back at once; here sl_recv_exact waits for exactly as many bytes as were sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockloop.h"

/* Sends len bytes and reads the same number back into reply. */
static int exchange(int sock, const char *msg, size_t len, char *reply) {
    size_t got = 0;
    if (sl_send_all(sock, msg, len, 5000, NULL) < 0) {
        perror("echo_client: send");
        return -1;
    }
    if (sl_recv_exact(sock, reply, len, 5000, &got) < 0) {
        fprintf(stderr, "echo_client: received %zu of %zu bytes: ", got, len);
        perror(NULL);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 65432;
    if (argc > 4 || port <= 0 || port > 65535) {
        fprintf(stderr, "usage: %s [host] [port] [message]\n", argv[0]);
        return 2;
    }
    /* Every resolved address in turn, within one 5 s budget: no endless hang. */
    int sock = sl_tcp_connect(host, port, 5000);
    if (sock < 0) {
        perror("echo_client: connect");
        return 1;
    }

    static char line[65536], reply[65536];
    int status = 0;
    if (argc == 4) {
        size_t len = strlen(argv[3]);
        if (len > sizeof reply) {
            fprintf(stderr, "echo_client: message longer than %zu bytes\n", sizeof reply);
            status = 2;
        } else if (exchange(sock, argv[3], len, reply) < 0) {
            status = 1;
        } else {
            printf("Received %.*s\n", (int)len, reply);
        }
    } else {
        while (fgets(line, sizeof line, stdin)) {
            size_t len = strlen(line);
            if (exchange(sock, line, len, reply) < 0) {
                status = 1;
                break;
            }
            printf("%.*s", (int)len, reply);
        }
    }
    close(sock);
    return status;
}
