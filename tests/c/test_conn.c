/* sl_conn from C: blocking reads against a peer writing one byte at a time,
 * the event-loop steps over poll(2), limits, end of stream, timeouts, memory,
 * fd ownership and bad arguments. */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sockloop.h"
#include "harness.h"

static int wait_child(pid_t pid) {
    int status;
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void put_frame(unsigned char **at, const void *payload, uint32_t len) {
    *at = sl_put_u32be(*at, len);
    memcpy(*at, payload, len);
    *at += len;
}

/* A constructor failed with NULL and this errno. */
#define CHECK_NULL(expr, err) do { errno = 0; CHECK((expr) == NULL && errno == (err)); } while (0)

static int poll_one(int fd, short events) {
    struct pollfd p = {fd, events, 0};
    return poll(&p, 1, 5000);
}

TEST(blocking_reads_of_every_kind_from_one_byte_writes) {
    unsigned char stream[512], *at = stream;
    put_frame(&at, "first", 5);
    put_frame(&at, "", 0);
    put_frame(&at, "0123456789", 10);
    static const char text[] = "GET / HTTP/1.0\r\n\r\nname\0rest ENDfixed";
    memcpy(at, text, sizeof text - 1); /* without the string's own NUL */
    at += sizeof text - 1;
    size_t len = (size_t)(at - stream);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        for (size_t i = 0; i < len; i++)
            if (write(sv[1], stream + i, 1) != 1) _exit(1);
        close(sv[1]);
        _exit(0);
    }
    close(sv[1]);
    sl_conn *c = sl_conn_new(sv[0], 64, SL_CONN_OWN_FD);
    CHECK(c != NULL && sl_conn_fd(c) == sv[0]);
    char buf[64];
    CHECK(sl_conn_read_frame(c, buf, sizeof buf, 5000) == 5 && memcmp(buf, "first", 5) == 0);
    CHECK(sl_conn_read_frame(c, buf, sizeof buf, 5000) == 0);
    CHECK(sl_conn_read_frame(c, buf, sizeof buf, 5000) == 10 && memcmp(buf, "0123456789", 10) == 0);
    CHECK(sl_conn_read_until(c, "\r\n", 2, buf, sizeof buf, 5000) == 14 && memcmp(buf, "GET / HTTP/1.0", 14) == 0);
    CHECK(sl_conn_read_until(c, "\r\n", 2, buf, sizeof buf, 5000) == 0);
    CHECK(sl_conn_read_until(c, "", 1, buf, sizeof buf, 5000) == 4 && memcmp(buf, "name", 4) == 0);
    CHECK(sl_conn_read_until(c, "END", 3, buf, sizeof buf, 5000) == 5 && memcmp(buf, "rest ", 5) == 0);
    CHECK(sl_conn_read_exact(c, buf, 5, 5000) == 5 && memcmp(buf, "fixed", 5) == 0);
    CHECK_ERR(sl_conn_read_frame(c, buf, sizeof buf, 5000), EPIPE);
    CHECK(sl_conn_buffered(c) == 0);
    sl_conn_free(c); /* closes sv[0] */
    CHECK(fcntl(sv[0], F_GETFD) == -1 && errno == EBADF);
    CHECK(wait_child(pid));
}

/* How the sender queues: one frame a call, or 50 a call, copied in or built
 * in place. Every batched sender's reader takes up to 32 a call. */
enum sending { PER_FRAME, COPIED, IN_PLACE };

/* Frames of 4..63 bytes (a counter, then zeros) through the event-loop
 * steps over a non-blocking socketpair to a forked reader. */
static void stream_frames(enum sending how, size_t prefix_bytes, int prefix_flags) {
    const int batched = how != PER_FRAME;
    const uint32_t frames = sl_test_slow() ? 20000 : 300000, batch = 50;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        sl_conn *w = sl_conn_new(sv[1], 1024, SL_CONN_OWN_FD);
        int ok = w != NULL && sl_conn_set_prefix(w, prefix_bytes, prefix_flags) == 0;
        unsigned char payloads[50 * 64] = {0};
        size_t lens[50];
        void *slots[50];
        for (uint32_t i = 0; i < frames && ok; i += batch) {
            unsigned char *at = payloads;
            for (uint32_t j = 0; j < batch; j++) lens[j] = 4 + (i + j) % 60;
            if (how == IN_PLACE) {
                ok = sl_conn_reserve_frames(w, lens, batch, slots) == (ssize_t)sl_conn_pending(w);
                for (uint32_t j = 0; j < batch && ok; j++) sl_put_u32le(slots[j], i + j); /* the rest starts zeroed */
            }
            for (uint32_t j = 0; j < batch && ok && how != IN_PLACE; j++) {
                memset(at, 0, lens[j]);
                sl_put_u32le(at, i + j);
                if (how == PER_FRAME) {
                    ssize_t pending = sl_conn_queue_frame(w, at, lens[j]);
                    ok = pending == (ssize_t)sl_conn_pending(w) && pending >= (ssize_t)(prefix_bytes + lens[j]);
                }
                at += lens[j];
            }
            if (how == COPIED) ok = ok && sl_conn_queue_frames(w, payloads, lens, batch) == (ssize_t)sl_conn_pending(w);
            while (ok && sl_conn_pending(w) >= 65536) {
                ssize_t left = sl_conn_flush(w);
                ok = left >= 0 && (left < 65536 || poll_one(sv[1], POLLOUT) == 1);
            }
        }
        ssize_t left;
        while (ok && (left = sl_conn_flush(w)) > 0) ok = poll_one(sv[1], POLLOUT) == 1;
        if (!ok) fprintf(stderr, "  sender failed: errno %d\n", errno);
        sl_conn_free(w);
        _exit(ok ? 0 : 1);
    }
    close(sv[1]);
    sl_conn *c = sl_conn_new(sv[0], 1024, 0);
    CHECK(c != NULL);
    CHECK(sl_conn_set_prefix(c, prefix_bytes, prefix_flags) == 0);
    sl_frame f[32];
    uint32_t next = 0;
    int bad = 0;
    for (;;) {
        ssize_t n = sl_conn_fill(c);
        if (n == 0) break;
        if (n < 0) {
            CHECK(errno == EAGAIN);
            CHECK(poll_one(sv[0], POLLIN) == 1);
            continue;
        }
        ssize_t k;
        while ((k = batched ? sl_conn_next_frames(c, f, 32) : sl_conn_next_frame(c, &f[0].payload, &f[0].len)) > 0) {
            for (ssize_t j = 0; j < k; j++, next++)
                if (f[j].len != 4 + next % 60 || sl_get_u32le(f[j].payload) != next) bad++;
        }
        CHECK(k == 0);
        CHECK(batched || (f[0].payload == NULL && f[0].len == 0));
    }
    CHECK(bad == 0 && next == frames);
    sl_conn_free(c);
    close(sv[0]);
    CHECK(wait_child(pid));
}

TEST(event_loop_streams_frames_with_queue_flush_fill_and_next) {
    stream_frames(PER_FRAME, 4, SL_PREFIX_BIG_ENDIAN);
}

TEST(event_loop_streams_batches_with_queue_frames_and_next_frames) {
    stream_frames(COPIED, 4, SL_PREFIX_BIG_ENDIAN);
}

TEST(event_loop_streams_batches_built_in_place_with_reserve_frames) {
    stream_frames(IN_PLACE, 4, SL_PREFIX_BIG_ENDIAN);
}

TEST(event_loop_streams_with_1_2_and_8_byte_prefixes) {
    stream_frames(PER_FRAME, 1, SL_PREFIX_BIG_ENDIAN);
    stream_frames(COPIED, 2, SL_PREFIX_LITTLE_ENDIAN);
    stream_frames(IN_PLACE, 8, SL_PREFIX_LITTLE_ENDIAN);
}

TEST(blocking_frames_with_a_2_byte_prefix_match_the_wire_and_refuse_long_payloads) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    sl_conn *a = sl_conn_new(sv[0], 100000, 0), *b = sl_conn_new(sv[1], 100000, 0);
    CHECK(a && b);
    CHECK(sl_conn_set_prefix(a, 2, SL_PREFIX_BIG_ENDIAN) == 0);
    CHECK(sl_conn_write_frame(a, "hi", 2, 1000) == 2);
    unsigned char wire[8];
    CHECK(recv(sv[1], wire, sizeof wire, MSG_DONTWAIT) == 4 && memcmp(wire, "\0\2hi", 4) == 0);
    static unsigned char big[65536];
    CHECK_ERR(sl_conn_write_frame(a, big, sizeof big, 1000), EMSGSIZE);
    CHECK(sl_conn_pending(a) == 0);
    CHECK(sl_conn_write_frame(a, big, sizeof big - 1, 1000) == (ssize_t)sizeof big - 1);
    CHECK(sl_conn_set_prefix(b, 2, SL_PREFIX_BIG_ENDIAN) == 0);
    CHECK(sl_conn_read_frame(b, big, sizeof big, 1000) == (ssize_t)sizeof big - 1);
    CHECK_ERR(sl_conn_set_prefix(b, 3, 0), EINVAL);
    CHECK_ERR(sl_conn_set_prefix(b, 4, 4), EINVAL);
    CHECK_ERR(sl_conn_set_prefix(NULL, 4, 0), EINVAL);
    sl_conn_free(a);
    sl_conn_free(b);
    close(sv[0]);
    close(sv[1]);
}

TEST(event_loop_records_in_place) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    sl_conn *c = sl_conn_new(sv[0], 16, 0);
    CHECK(c != NULL);
    CHECK_ERR(sl_conn_fill(c), EAGAIN);
    CHECK(write(sv[1], "one\ntwo\n\nthree-is-far-too-long\nfour\nfi", 38) == 38);
    CHECK(sl_conn_fill(c) > 0);
    const void *rec;
    size_t len;
    CHECK(sl_conn_next_record(c, "\n", 1, &rec, &len) == 1 && len == 3 && memcmp(rec, "one", 3) == 0);
    CHECK(sl_conn_next_record(c, "\n", 1, &rec, &len) == 1 && len == 3 && memcmp(rec, "two", 3) == 0);
    CHECK(sl_conn_next_record(c, "\n", 1, &rec, &len) == 1 && len == 0);
    CHECK(sl_conn_fill(c) > 0);
    CHECK_ERR(sl_conn_next_record(c, "\n", 1, &rec, &len), EMSGSIZE);
    CHECK(sl_conn_fill(c) > 0 || errno == EAGAIN);
    CHECK(sl_conn_next_record(c, "\n", 1, &rec, &len) == 1 && len == 4 && memcmp(rec, "four", 4) == 0);
    CHECK(sl_conn_next_record(c, "\n", 1, &rec, &len) == 0 && rec == NULL);
    close(sv[1]);
    CHECK(sl_conn_fill(c) == 0); /* end of stream: 0, not EAGAIN */
    CHECK(sl_conn_buffered(c) == 2);
    sl_conn_free(c);
    close(sv[0]);
}

TEST(limits_skip_oversized_frames_and_keep_ones_too_big_for_the_buffer) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    sl_conn *c = sl_conn_new(sv[0], 8, 0);
    CHECK(c != NULL);
    unsigned char stream[64], *at = stream;
    put_frame(&at, "12345678", 8);  /* exactly the limit */
    put_frame(&at, "123456789", 9); /* one byte over */
    put_frame(&at, "abcdef", 6);
    CHECK(write(sv[1], stream, (size_t)(at - stream)) == at - stream);
    char buf[16];
    CHECK(sl_conn_read_frame(c, buf, sizeof buf, 1000) == 8);
    CHECK_ERR(sl_conn_read_frame(c, buf, sizeof buf, 1000), EMSGSIZE);
    CHECK_ERR(sl_conn_read_frame(c, buf, 3, 1000), EMSGSIZE); /* stays buffered */
    CHECK(sl_conn_read_frame(c, buf, 6, 1000) == 6 && memcmp(buf, "abcdef", 6) == 0);
    CHECK_ERR(sl_conn_read_exact(c, buf, 9, 0), EMSGSIZE);
    sl_conn_free(c);
    close(sv[0]);
    close(sv[1]);
}

TEST(a_declared_4_gib_is_emsgsize_within_a_small_address_space) {
    /* A child with 256 MiB of address space to spare: allocating for the
     * declared length would fail there. ASan and valgrind need the room. */
#if defined(__SANITIZE_ADDRESS__)
    return;
#endif
    if (sl_test_slow()) return;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct rlimit now;
        FILE *f = fopen("/proc/self/statm", "r");
        unsigned long pages = 0;
        if (!f || fscanf(f, "%lu", &pages) != 1) _exit(3);
        fclose(f);
        now.rlim_cur = now.rlim_max = pages * (unsigned long)sysconf(_SC_PAGESIZE) + (256ul << 20);
        if (setrlimit(RLIMIT_AS, &now) != 0) _exit(4);
        sl_conn *c = sl_conn_new(sv[0], UINT32_MAX, 0);
        if (!c) _exit(5);
        if (write(sv[1], "\xff\xff\xff\xfe" "abc", 7) != 7) _exit(6);
        char buf[16];
        errno = 0;
        ssize_t r = sl_conn_read_frame(c, buf, sizeof buf, 200);
        /* The frame is within the limit but not the buffer: refused at once. */
        int ok = r == -1 && errno == EMSGSIZE && sl_conn_buffered(c) == 7;
        sl_conn_free(c);
        _exit(ok ? 0 : 1);
    }
    close(sv[0]);
    close(sv[1]);
    CHECK(wait_child(pid));
}

TEST(end_of_stream_mid_frame_and_timeout_then_resume) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    sl_conn *c = sl_conn_new(sv[0], 100, 0);
    CHECK(c != NULL);
    char buf[100];
    CHECK(write(sv[1], "\0\0\0\x06hal", 7) == 7);
    CHECK_ERR(sl_conn_read_frame(c, buf, sizeof buf, 0), EAGAIN);
    CHECK_ERR(sl_conn_read_frame(c, buf, sizeof buf, 30), ETIMEDOUT);
    CHECK(sl_conn_buffered(c) == 7);
    CHECK(write(sv[1], "ves\0\0\0\x09trunc", 12) == 12);
    CHECK(sl_conn_read_frame(c, buf, sizeof buf, 1000) == 6 && memcmp(buf, "halves", 6) == 0);
    close(sv[1]);
    CHECK_ERR(sl_conn_read_frame(c, buf, sizeof buf, 1000), EPIPE);
    CHECK(sl_conn_buffered(c) == 9); /* header + "trunc" */
    sl_conn_free(c);
    close(sv[0]);
}

TEST(a_write_that_times_out_is_finished_by_flush) {
    const size_t len = 1u << 20;
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    sl_conn *w = sl_conn_new(sv[0], 0, 0);
    CHECK(w != NULL);
    unsigned char *payload = malloc(len), *got = malloc(len);
    CHECK(payload && got);
    for (size_t i = 0; i < len; i++) payload[i] = (unsigned char)(i * 7);
    CHECK_ERR(sl_conn_write_frame(w, payload, len, 20), ETIMEDOUT);
    CHECK(sl_conn_pending(w) > 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) { /* the reader: the whole frame must arrive intact */
        sl_conn_free(w);
        close(sv[0]);
        size_t n = 0;
        ssize_t r = sl_recv_frame(sv[1], got, len, 5000, &n);
        int ok = r == (ssize_t)len && memcmp(got, payload, len) == 0;
        free(payload);
        free(got);
        close(sv[1]);
        _exit(ok ? 0 : 1);
    }
    ssize_t left;
    while ((left = sl_conn_flush(w)) > 0) CHECK(poll_one(sv[0], POLLOUT) == 1);
    CHECK(left == 0 && sl_conn_pending(w) == 0);
    CHECK(wait_child(pid));
    free(payload);
    free(got);
    sl_conn_free(w);
    close(sv[0]);
    close(sv[1]);
}

TEST(bad_arguments_are_einval_and_free_null_is_a_no_op) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    sl_conn_free(NULL);
    CHECK_NULL(sl_conn_new(-1, 10, 0), EINVAL);
    CHECK_NULL(sl_conn_new(sv[0], 10, 2), EINVAL);
    CHECK_NULL(sl_conn_new(sv[0], (size_t)UINT32_MAX + 1, 0), EINVAL);
    CHECK_NULL(sl_conn_new(1000, 10, 0), EBADF);
    CHECK_ERR(sl_conn_fd(NULL), EINVAL);
    CHECK_ERR(sl_conn_fill(NULL), EINVAL);
    CHECK_ERR(sl_conn_flush(NULL), EINVAL);
    CHECK(sl_conn_pending(NULL) == 0 && sl_conn_buffered(NULL) == 0);
    char buf[4];
    const void *p;
    size_t len;
    CHECK_ERR(sl_conn_read_frame(NULL, buf, 4, 0), EINVAL);
    sl_conn *c = sl_conn_new(sv[0], 10, 0);
    CHECK(c != NULL);
    CHECK_ERR(sl_conn_read_until(c, NULL, 0, buf, 4, 0), EINVAL);
    CHECK_ERR(sl_conn_read_until(c, "\n", 1, NULL, 4, 0), EINVAL);
    CHECK_ERR(sl_conn_read_exact(c, buf, 4, -2), EINVAL);
    CHECK_ERR(sl_conn_next_frame(c, NULL, &len), EINVAL);
    CHECK_ERR(sl_conn_next_record(c, "", 0, &p, &len), EINVAL);
    CHECK_ERR(sl_conn_queue(c, NULL, 1), EINVAL);
    CHECK_ERR(sl_conn_queue_frame(c, NULL, 1), EINVAL);
    CHECK_ERR(sl_conn_write_frame(c, NULL, 1, 0), EINVAL);
    CHECK(sl_conn_queue(c, "raw\n", 4) == 4 && sl_conn_pending(c) == 4);
    CHECK(sl_conn_flush(c) == 0);
    CHECK(recv(sv[1], buf, 4, 0) == 4 && memcmp(buf, "raw\n", 4) == 0);
    close(sv[1]);
    CHECK_ERR(sl_conn_write_frame(c, "x", 1, 1000), EPIPE);
    sl_conn_free(c);
    close(sv[0]);
}

/* The high-water mark: queue calls that would go over it fail with ENOBUFS
 * and queue nothing; draining makes room; 0 refuses all, SIZE_MAX none. */
TEST(the_high_water_mark_bounds_queued_output_all_or_nothing) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    sl_conn *c = sl_conn_new(sv[0], 1000, 0);
    CHECK(c != NULL);
    unsigned char data[64] = {0}, sink[64];
    size_t lens[2] = {10, 12};
    void *slots[2];
    CHECK(sl_conn_set_high_water(c, 30) == 0);
    CHECK(sl_conn_queue_frames(c, data, lens, 2) == 30);
    CHECK_ERR(sl_conn_queue(c, data, 1), ENOBUFS);
    CHECK_ERR(sl_conn_queue_frame(c, data, 0), ENOBUFS);
    CHECK_ERR(sl_conn_queue_frames(c, data, lens, 2), ENOBUFS);
    CHECK_ERR(sl_conn_reserve_frames(c, lens, 2, slots), ENOBUFS);
    CHECK_ERR(sl_conn_write_frame(c, data, 1, 100), ENOBUFS);
    CHECK(sl_conn_pending(c) == 30);
    CHECK(sl_conn_flush(c) == 0);
    CHECK(recv(sv[1], sink, sizeof sink, MSG_DONTWAIT) == 30);
    CHECK(sl_conn_reserve_frames(c, lens, 2, slots) == 30);
    CHECK(sl_conn_flush(c) == 0);
    CHECK(recv(sv[1], sink, sizeof sink, MSG_DONTWAIT) == 30);
    CHECK(sl_conn_set_high_water(c, 0) == 0);
    CHECK_ERR(sl_conn_queue(c, data, 1), ENOBUFS);
    CHECK(sl_conn_set_high_water(c, SIZE_MAX) == 0);
    for (int i = 0; i < 100; i++) CHECK(sl_conn_queue(c, data, sizeof data) == (ssize_t)(64 * (i + 1)));
    CHECK_ERR(sl_conn_set_high_water(NULL, 1), EINVAL);
    sl_conn_free(c);
    close(sv[0]);
    close(sv[1]);
}

RUN_TESTS("test_conn",
          T(blocking_reads_of_every_kind_from_one_byte_writes),
          T(event_loop_streams_frames_with_queue_flush_fill_and_next),
          T(event_loop_streams_batches_with_queue_frames_and_next_frames),
          T(event_loop_streams_batches_built_in_place_with_reserve_frames),
          T(event_loop_streams_with_1_2_and_8_byte_prefixes),
          T(blocking_frames_with_a_2_byte_prefix_match_the_wire_and_refuse_long_payloads),
          T(the_high_water_mark_bounds_queued_output_all_or_nothing),
          T(event_loop_records_in_place),
          T(limits_skip_oversized_frames_and_keep_ones_too_big_for_the_buffer),
          T(a_declared_4_gib_is_emsgsize_within_a_small_address_space),
          T(end_of_stream_mid_frame_and_timeout_then_resume),
          T(a_write_that_times_out_is_finished_by_flush),
          T(bad_arguments_are_einval_and_free_null_is_a_no_op))
