/* byteorder_demo: the HOWTO's "binary data" section in C.
 *
 * The HOWTO: "a 16 bit integer with the value 1 would be two hex bytes 00 01"
 * in network order, and 01 00 on a little-endian machine. Then it sends a
 * record of mixed-width integers between two processes, portably: fields are
 * written and read at any offset with sl_put_* / sl_get_*, never by casting a
 * char pointer to an int pointer (misaligned, and host order).
 *
 * usage: byteorder_demo
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sockloop.h"

/* A record: u8 kind, u16 port, u32 id, u64 timestamp: 15 bytes, no padding. */
#define RECORD_SIZE 15

static void print_bytes(const char *label, const void *p, size_t n) {
    const unsigned char *b = p;
    printf("%-30s", label);
    for (size_t i = 0; i < n; i++) printf(" %02x", b[i]);
    printf("\n");
}

int main(int argc, char **argv) {
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: byteorder_demo\n");
        return 2;
    }
    uint16_t one = 1, net_one = sl_htons(1);
    print_bytes("16-bit 1 in host order:", &one, sizeof one);
    print_bytes("16-bit 1 in network order:", &net_one, sizeof net_one);
    printf("this machine is %s-endian\n", sl_get_u16le(&one) == 1 ? "little" : "big");

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        perror("socketpair");
        return 1;
    }
    fflush(stdout); /* or the child would print the parent's buffered lines again */
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) { /* the receiver: reads exactly one record and decodes it */
        close(sv[0]);
        unsigned char rec[RECORD_SIZE];
        if (sl_recv_exact(sv[1], rec, sizeof rec, 5000, NULL) < 0) {
            perror("receiver: sl_recv_exact");
            _exit(1);
        }
        print_bytes("record on the wire:", rec, sizeof rec);
        printf("decoded: kind=%u port=%u id=%u timestamp=%llu\n", rec[0], (unsigned)sl_get_u16be(rec + 1),
               (unsigned)sl_get_u32be(rec + 3), (unsigned long long)sl_get_u64be(rec + 7));
        close(sv[1]);
        fflush(stdout); /* _exit does not flush stdio */
        _exit(0);
    }
    close(sv[1]);
    unsigned char rec[RECORD_SIZE], *p = rec;
    *p++ = 7;
    p = sl_put_u16be(p, 8080);        /* odd offset: fine with the put helpers */
    p = sl_put_u32be(p, 123456789);
    sl_put_u64be(p, 1700000000123ULL);
    if (sl_send_all(sv[0], rec, sizeof rec, 5000, NULL) < 0) {
        perror("sender: sl_send_all");
        return 1;
    }
    close(sv[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "byteorder_demo: the receiver failed\n");
        return 1;
    }
    return 0;
}
