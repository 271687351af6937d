/* chaos_proxy: a loopback TCP proxy that makes the network misbehave, for tests.
 *
 * It listens on 127.0.0.1, forwards each accepted connection to a target, and
 * on the way (in both directions, per connection, in a child process):
 *   --split N      writes every chunk as random segments of 1..N bytes
 *   --delay-us N   sleeps a random 0..N µs before each segment
 *   --stall-after B --stall-ms T   stops forwarding for T ms once B bytes went
 *   --cut-after B --cut fin|rst    ends the connection after B bytes (client to
 *                                  server), with a FIN or an RST (SO_LINGER 0)
 *   --rate BPS     throttles each direction to about BPS bytes per second
 *   --seed S       the random seed (printed; repeat a run with it)
 * It prints "port N" on stdout once listening, serves --connections N
 * connections (default 1) and exits; --max-seconds bounds its whole life.
 *
 * usage: chaos_proxy --target PORT [options]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct {
    int target_port, split, delay_us, stall_ms, connections, max_seconds, cut_rst, rate;
    long long stall_after, cut_after;
    unsigned seed;
} opt = {.connections = 1, .max_seconds = 60, .stall_after = -1, .cut_after = -1};

static unsigned rnd(unsigned *s) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

struct direction {
    int from, to;
    long long moved;
    int is_upstream; /* client -> server: where cuts apply */
};

/* Forwards one chunk with the configured misbehaviour. 1 go on, 0 cut, -1 error. */
static int forward(struct direction *d, const char *buf, size_t n, unsigned *seed) {
    size_t at = 0;
    while (at < n) {
        size_t seg = n - at;
        if (opt.split > 0) seg = 1 + rnd(seed) % (unsigned)(seg < (size_t)opt.split ? seg : (size_t)opt.split);
        if (d->is_upstream && opt.cut_after >= 0 && d->moved + (long long)seg >= opt.cut_after)
            seg = (size_t)(opt.cut_after - d->moved);
        if (opt.delay_us > 0) sleep_us(rnd(seed) % (unsigned)opt.delay_us);
        if (opt.rate > 0) sleep_us((long)(seg * 1000000ull / (unsigned)opt.rate));
        if (seg > 0 && write_all(d->to, buf + at, seg) < 0) return -1;
        long long before = d->moved;
        d->moved += (long long)seg;
        at += seg;
        if (opt.stall_after >= 0 && before < opt.stall_after && d->moved >= opt.stall_after) {
            fprintf(stderr, "chaos_proxy: stalling %d ms after %lld bytes\n", opt.stall_ms, d->moved);
            sleep_us(opt.stall_ms * 1000L);
        }
        if (d->is_upstream && opt.cut_after >= 0 && d->moved >= opt.cut_after) return 0;
    }
    return 1;
}

static void cut(int client, int server) {
    fprintf(stderr, "chaos_proxy: cutting with %s after %lld bytes\n", opt.cut_rst ? "RST" : "FIN", opt.cut_after);
    if (opt.cut_rst) {
        struct linger lg = {1, 0};
        setsockopt(client, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        setsockopt(server, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(client);
    close(server);
}

static void relay(int client, unsigned seed) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.target_port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int server = socket(AF_INET, SOCK_STREAM, 0);
    if (server < 0 || connect(server, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("chaos_proxy: connect to target");
        close(client);
        _exit(1);
    }
    struct direction dirs[2] = {{client, server, 0, 1}, {server, client, 0, 0}};
    int open_dirs = 2;
    char buf[65536];
    while (open_dirs > 0) {
        struct pollfd p[2] = {{dirs[0].from, dirs[0].from >= 0 ? POLLIN : 0, 0},
                              {dirs[1].from, dirs[1].from >= 0 ? POLLIN : 0, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (dirs[i].from < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = recv(dirs[i].from, buf, sizeof buf, 0);
            if (n <= 0) { /* end of stream (or reset): pass the FIN along */
                shutdown(dirs[i].to, SHUT_WR);
                dirs[i].from = -1;
                open_dirs--;
                continue;
            }
            int r = forward(&dirs[i], buf, (size_t)n, &seed);
            if (r == 0) {
                cut(client, server);
                _exit(0);
            }
            if (r < 0) {
                close(client);
                close(server);
                _exit(0);
            }
        }
    }
    close(client);
    close(server);
    _exit(0);
}

int main(int argc, char **argv) {
    opt.seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) goto usage;
        if (!strcmp(a, "--target")) opt.target_port = atoi(v);
        else if (!strcmp(a, "--split")) opt.split = atoi(v);
        else if (!strcmp(a, "--delay-us")) opt.delay_us = atoi(v);
        else if (!strcmp(a, "--stall-after")) opt.stall_after = atoll(v);
        else if (!strcmp(a, "--stall-ms")) opt.stall_ms = atoi(v);
        else if (!strcmp(a, "--cut-after")) opt.cut_after = atoll(v);
        else if (!strcmp(a, "--cut")) opt.cut_rst = !strcmp(v, "rst");
        else if (!strcmp(a, "--rate")) opt.rate = atoi(v);
        else if (!strcmp(a, "--seed")) opt.seed = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--connections")) opt.connections = atoi(v);
        else if (!strcmp(a, "--max-seconds")) opt.max_seconds = atoi(v);
        else goto usage;
        i++;
    }
    if (opt.target_port <= 0) goto usage;
    if (opt.seed == 0) opt.seed = 1;
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)opt.max_seconds); /* bounded life, whatever happens */

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(l, 64) < 0 ||
        getsockname(l, (struct sockaddr *)&addr, &len) < 0) {
        perror("chaos_proxy: listen");
        return 1;
    }
    printf("port %d\n", ntohs(addr.sin_port));
    fprintf(stderr, "chaos_proxy: seed %u\n", opt.seed);
    fflush(stdout);
    for (int served = 0; served < opt.connections; served++) {
        int c = accept(l, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR) { served--; continue; }
            perror("chaos_proxy: accept");
            return 1;
        }
        pid_t pid = fork();
        if (pid == 0) {
            close(l);
            relay(c, opt.seed + (unsigned)served * 7919u);
        }
        close(c);
    }
    close(l);
    while (wait(NULL) > 0 || errno == EINTR) {}
    return 0;
usage:
    fprintf(stderr, "usage: %s --target PORT [--split N] [--delay-us N] [--stall-after B --stall-ms T]\n"
                    "       [--cut-after B --cut fin|rst] [--rate BPS] [--seed S] [--connections N] [--max-seconds S]\n",
            argv[0]);
    return 2;
}
