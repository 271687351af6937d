/* howto_mysocket: the HOWTO's MySocket class, then its "exercise for the reader".
 *
 * Part 1, fixed-length messages: the HOWTO's mysend() loops until MSGLEN bytes
 * went out and myreceive() loops until MSGLEN bytes came in. That is
 * sl_send_all and sl_recv_exact.
 *
 * Part 2, length-prefixed messages, which the HOWTO calls "much better" and
 * leaves to the reader: "you may end up reading the start of a following
 * message" and must keep it. The client sends three frames in one write; the
 * server's sl_conn reads them in big chunks and hands them out one by one,
 * keeping whatever it read past each.
 *
 * usage: howto_mysocket [host] [port]   (defaults: 127.0.0.1 0 = any free port)
 * It runs both sides: the server in a child process, the client in the parent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sockloop.h"

#define MSGLEN 32

/* The HOWTO's class: a socket and its two loops. */
struct mysocket { int fd; };

static int mysend(struct mysocket *s, const char msg[MSGLEN]) {
    return sl_send_all(s->fd, msg, MSGLEN, 5000, NULL) == MSGLEN ? 0 : -1;
}

static int myreceive(struct mysocket *s, char msg[MSGLEN]) {
    size_t got = 0;
    if (sl_recv_exact(s->fd, msg, MSGLEN, 5000, &got) == MSGLEN) return 0;
    fprintf(stderr, "myreceive: got %zu of %d bytes: ", got, MSGLEN);
    perror(NULL); /* EPIPE: "socket connection broken" in the HOWTO */
    return -1;
}

static int server(int lsock) {
    int fd = sl_accept(lsock, 0, 5000, NULL, 0);
    if (fd < 0) {
        perror("server: accept");
        return 1;
    }
    struct mysocket s = {fd};
    char msg[MSGLEN], reply[MSGLEN];
    for (int i = 0; i < 2; i++) { /* part 1: two fixed-length messages */
        if (myreceive(&s, msg) < 0) return 1;
        memset(reply, 0, sizeof reply);
        snprintf(reply, sizeof reply, "ok: %.*s", MSGLEN - 5, msg);
        if (mysend(&s, reply) < 0) return 1;
    }
    /* Part 2: frames. The buffered connection keeps bytes of the next frame. */
    sl_conn *conn = sl_conn_new(fd, 4096, SL_CONN_OWN_FD);
    if (!conn) {
        perror("server: sl_conn_new");
        return 1;
    }
    char payload[4096];
    int status = 0;
    for (;;) {
        ssize_t n = sl_conn_read_frame(conn, payload, sizeof payload, 5000);
        if (n < 0) {
            if (errno != EPIPE || sl_conn_buffered(conn) != 0) { /* EPIPE between frames = done */
                perror("server: read_frame");
                status = 1;
            }
            break;
        }
        printf("server: frame of %zd bytes: %.*s\n", n, (int)n, payload);
        fflush(stdout);
        if (sl_conn_write_frame(conn, payload, (size_t)n, 5000) < 0) { /* echo it */
            perror("server: write_frame");
            status = 1;
            break;
        }
    }
    sl_conn_free(conn); /* SL_CONN_OWN_FD: closes the socket too */
    return status;
}

static int client(int port) {
    int fd = sl_tcp_connect("127.0.0.1", port, 5000);
    if (fd < 0) {
        perror("client: connect");
        return 1;
    }
    struct mysocket s = {fd};
    static const char *const words[2] = {"hello, fixed world", "second message"};
    for (int i = 0; i < 2; i++) {
        char msg[MSGLEN] = {0}, reply[MSGLEN];
        strncpy(msg, words[i], MSGLEN - 1); /* fixed length: padded with NULs ("yuck") */
        if (mysend(&s, msg) < 0 || myreceive(&s, reply) < 0) return 1;
        printf("client: fixed reply: %.*s\n", MSGLEN, reply);
    }

    /* Three frames in one vectored write: they arrive as one chunk. */
    static const char *const frames[3] = {"short", "a somewhat longer message", ""};
    unsigned char headers[3][4];
    struct iovec iov[6];
    for (int i = 0; i < 3; i++) {
        sl_put_u32be(headers[i], (uint32_t)strlen(frames[i]));
        iov[2 * i] = (struct iovec){headers[i], 4};
        iov[2 * i + 1] = (struct iovec){(void *)frames[i], strlen(frames[i])};
    }
    if (sl_send_allv(fd, iov, 6, 5000, NULL) < 0) {
        perror("client: send");
        return 1;
    }
    for (int i = 0; i < 3; i++) {
        char echo[4096];
        ssize_t n = sl_recv_frame(fd, echo, sizeof echo, 5000, NULL);
        if (n < 0) {
            perror("client: recv_frame");
            return 1;
        }
        printf("client: echoed frame %d: \"%.*s\"\n", i + 1, (int)n, echo);
    }
    close(fd); /* the server sees end of stream between frames and stops */
    return 0;
}

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 0;
    if (argc > 3 || port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s [host] [port]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* both processes print: a line at a time */
    int lsock = sl_tcp_listen(host, port, 1);
    if (lsock < 0) {
        perror("howto_mysocket: listen");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        int rc = server(lsock);
        close(lsock);
        _exit(rc);
    }
    int rc = client(sl_local_port(lsock));
    close(lsock);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) rc = 1;
    return rc;
}
