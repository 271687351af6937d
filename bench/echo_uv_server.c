/* echo_uv_server: the libuv baselines for the echo benchmark.
 *   echo_uv_server HOST PORT          tuned: one buffer per connection, and
 *                                     uv_try_write before queueing a write
 *   echo_uv_server HOST PORT naive    as libuv's own echo example: a buffer
 *                                     malloc'ed per read, freed after the write
 * Prints "listening on HOST:PORT"; SIGTERM stops it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static int naive;
static uv_loop_t *loop;

struct conn {
    uv_tcp_t tcp;
    char buf[65536];
    uv_write_t req;
    int writing;
};

struct naive_write { uv_write_t req; uv_buf_t buf; };

static void on_close(uv_handle_t *h) { free(h); }

static void alloc_conn(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    struct conn *c = (struct conn *)h;
    *buf = uv_buf_init(c->buf, sizeof c->buf);
}

static void alloc_naive(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)h;
    *buf = uv_buf_init(malloc(suggested), (unsigned)suggested);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void after_write(uv_write_t *req, int status) {
    struct conn *c = req->data;
    c->writing = 0;
    if (status < 0) { uv_close((uv_handle_t *)&c->tcp, on_close); return; }
    uv_read_start((uv_stream_t *)&c->tcp, alloc_conn, on_read);
}

static void after_write_naive(uv_write_t *req, int status) {
    struct naive_write *w = (struct naive_write *)req;
    (void)status;
    free(w->buf.base);
    free(w);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    struct conn *c = (struct conn *)s;
    if (n < 0) {
        if (naive) free(buf->base);
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (n == 0) { if (naive) free(buf->base); return; }
    if (naive) {
        struct naive_write *w = malloc(sizeof *w);
        w->buf = uv_buf_init(buf->base, (unsigned)n);
        uv_write(&w->req, s, &w->buf, 1, after_write_naive);
        return;
    }
    uv_buf_t out = uv_buf_init(c->buf, (unsigned)n);
    int sent = uv_try_write(s, &out, 1);
    if (sent == n) return;
    if (sent < 0) sent = 0;
    /* The rest goes through a queued write; stop reading until it is done,
     * since the one buffer is still in use. */
    out = uv_buf_init(c->buf + sent, (unsigned)(n - sent));
    uv_read_stop(s);
    c->writing = 1;
    c->req.data = c;
    uv_write(&c->req, s, &out, 1, after_write);
}

static void on_connection(uv_stream_t *server, int status) {
    if (status < 0) return;
    struct conn *c = malloc(sizeof *c);
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) { uv_close((uv_handle_t *)&c->tcp, on_close); return; }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, naive ? alloc_naive : alloc_conn, on_read);
}

static void on_signal(uv_signal_t *h, int sig) { (void)sig; uv_stop(h->loop); }

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s host port [naive]\n", argv[0]); return 2; }
    naive = argc > 3 && !strcmp(argv[3], "naive");
    loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_ip4_addr(argv[1], atoi(argv[2]), &addr);
    uv_tcp_init(loop, &server);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) || uv_listen((uv_stream_t *)&server, 1024, on_connection)) {
        fprintf(stderr, "listen failed\n");
        return 1;
    }
    int len = sizeof addr;
    uv_tcp_getsockname(&server, (struct sockaddr *)&addr, &len);
    printf("listening on %s:%d\n", argv[1], ntohs(addr.sin_port));
    fflush(stdout);
    uv_signal_t sig;
    uv_signal_init(loop, &sig);
    uv_signal_start(&sig, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
