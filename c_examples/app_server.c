/* app_server: Real Python's app-server.py on sl_selector + sl_conn,
 * wire-compatible with the tutorial's app-client.py.
 *
 * usage: app_server [host] [port]   (defaults: 127.0.0.1 65432)
 *
 * Each connection carries one request: a 2-byte big-endian header length, a
 * JSON header, the content (see appmsg.h). The first two parts are a frame
 * with a 2-byte length prefix, so the connection is told so
 * (sl_conn_set_prefix(conn, 2, SL_PREFIX_BIG_ENDIAN)) and reads the JSON
 * header with sl_conn_read_frame. The tutorial's Message class keeps a
 * receive buffer and parses the parts as they complete; here sl_conn keeps
 * the buffer, and a read with timeout 0 takes a part only once all of it is
 * there (all or nothing), so the parser is a two-state machine.
 * A malformed request (bad JSON, a missing field, a length over the stated
 * limits) gets an error on stderr and a closed connection; the server goes on.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "appmsg.h"
#include "sockloop.h"

enum stage { JSONHEADER, CONTENT, RESPONDING };

struct message {
    sl_conn *conn;
    enum stage stage;
    int events;
    size_t content_len;
    struct app_json header;
    char addr[SL_ADDRSTRLEN];
    struct message *prev, *next; /* open connections, to close them at exit */
};

static struct message *messages;
static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static const struct { const char *query, *answer; } request_search[] = {
    {"morpheus", "Follow the white rabbit. \xf0\x9f\x90\xb0"},
    {"ring", "In the caves beneath the Misty Mountains. \xf0\x9f\x92\x8d"},
    {"\xf0\x9f\x90\xb6", "\xf0\x9f\x90\xbe Playing ball! \xf0\x9f\x8f\x90"},
};

/* Builds the response for a complete request and queues it. NULL or why not. */
static const char *create_response(struct message *m, const unsigned char *content) {
    static unsigned char out[2 + APP_MAX_HEADER + APP_MAX_CONTENT];
    static char body[APP_MAX_CONTENT];
    size_t n, at = 0;
    const char *why = NULL;
    if (strcmp(app_json_get(&m->header, "content-type")->str, "text/json") == 0) {
        struct app_json req;
        if (app_json_parse(content, m->content_len, &req, &why) < 0) return why;
        const struct app_field *action = app_json_get(&req, "action"), *value = app_json_get(&req, "value");
        if (!action || action->is_number) return "request has no \"action\" string";
        char result[APP_MAX_VALUE + 64];
        if (strcmp(action->str, "search") == 0) {
            if (!value || value->is_number) return "search request has no \"value\" string";
            snprintf(result, sizeof result, "No match for '%s'.", value->str);
            for (size_t i = 0; i < sizeof request_search / sizeof request_search[0]; i++)
                if (strcmp(value->str, request_search[i].query) == 0)
                    snprintf(result, sizeof result, "%s", request_search[i].answer);
        } else {
            snprintf(result, sizeof result, "Error: invalid action '%s'.", action->str);
        }
        if (app_put_raw(body, sizeof body, &at, "{\"result\": ") < 0 ||
            app_put_json_string(body, sizeof body, &at, result, strlen(result)) < 0 ||
            app_put_raw(body, sizeof body, &at, "}") < 0)
            return "response too long";
        n = app_build_message(out, sizeof out, "text/json", "utf-8", body, at);
    } else { /* binary: the tutorial answers with the first 10 bytes */
        at = (size_t)snprintf(body, sizeof body, "First 10 bytes of request: ");
        size_t take = m->content_len < 10 ? m->content_len : 10;
        memcpy(body + at, content, take);
        n = app_build_message(out, sizeof out, "binary/custom-server-binary-type", "binary", body, at + take);
    }
    if (n == 0 || sl_conn_queue(m->conn, out, n) < 0) return "response too long";
    return NULL;
}

/* Advances the request parser as far as the buffered bytes allow.
 * Returns NULL, or why the connection must be closed. */
static const char *process_read(struct message *m) {
    static unsigned char part[APP_MAX_CONTENT];
    const char *why = NULL;
    for (;;) {
        ssize_t got;
        if (m->stage == RESPONDING) return NULL;
        if (m->stage == JSONHEADER) /* the 2-byte length, then that many bytes */
            got = sl_conn_read_frame(m->conn, part, APP_MAX_HEADER, 0);
        else
            got = sl_conn_read_exact(m->conn, part, m->content_len, 0);
        if (got < 0) { /* all of it, or wait for more */
            if (errno == EMSGSIZE) return "JSON header longer than the limit";
            return errno == EAGAIN ? NULL : errno == EPIPE ? "closed mid-request" : strerror(errno);
        }
        switch (m->stage) {
        case JSONHEADER:
            if (app_json_parse(part, (size_t)got, &m->header, &why) < 0) return why;
            if ((why = app_check_header(&m->header)) != NULL) return why;
            m->content_len = (size_t)app_json_get(&m->header, "content-length")->number;
            m->stage = CONTENT;
            break;
        case CONTENT:
            if ((why = create_response(m, part)) != NULL) return why;
            m->stage = RESPONDING;
            break;
        case RESPONDING:
            break;
        }
    }
}

static void close_message(sl_selector *sel, struct message *m) {
    sl_selector_unregister(sel, sl_conn_fd(m->conn));
    sl_conn_free(m->conn);
    if (m->prev) m->prev->next = m->next;
    else messages = m->next;
    if (m->next) m->next->prev = m->prev;
    free(m);
}

/* Returns -1 when the connection is done (answered, closed or malformed). */
static int process_events(sl_selector *sel, struct message *m, int mask) {
    if (mask & SL_READ) {
        ssize_t n = sl_conn_fill(m->conn);
        if (n < 0 && errno != EAGAIN) return -1;
        const char *why = process_read(m);
        if (why) {
            fprintf(stderr, "app_server: closing %s: %s\n", m->addr, why);
            return -1;
        }
        if (n == 0 && m->stage != RESPONDING) return -1; /* closed before a whole request */
    }
    if (m->stage != RESPONDING) return 0;
    ssize_t pending = sl_conn_flush(m->conn);
    if (pending <= 0) return -1; /* sent (or failed): one request per connection */
    if (m->events != SL_WRITE) {
        m->events = SL_WRITE;
        if (sl_selector_modify(sel, sl_conn_fd(m->conn), m->events, m) < 0) return -1;
    }
    return 0;
}

static void accept_wrapper(sl_selector *sel, int lsock) {
    for (;;) {
        struct message *m = calloc(1, sizeof *m);
        if (!m) return;
        int fd = sl_accept(lsock, SL_ACCEPT_NONBLOCK, 0, m->addr, sizeof m->addr);
        if (fd < 0) {
            if (errno != EAGAIN) perror("app_server: accept");
            free(m);
            return;
        }
        printf("accepted connection from %s\n", m->addr);
        m->events = SL_READ;
        m->conn = sl_conn_new(fd, APP_MAX_CONTENT, SL_CONN_OWN_FD);
        if (!m->conn || sl_conn_set_prefix(m->conn, 2, SL_PREFIX_BIG_ENDIAN) < 0 ||
            sl_selector_register(sel, fd, m->events, m) < 0) {
            perror("app_server: register");
            if (m->conn) sl_conn_free(m->conn);
            else close(fd);
            free(m);
            continue;
        }
        m->next = messages;
        if (messages) messages->prev = m;
        messages = m;
    }
}

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 65432;
    if (argc > 3 || port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s [host] [port]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int lsock = sl_tcp_listen(host, port, 128); /* SO_REUSEADDR, as the tutorial sets */
    if (lsock < 0 || sl_set_nonblocking(lsock, 1) < 0) {
        perror("app_server: listen");
        return 1;
    }
    printf("listening on %s:%d\n", host, sl_local_port(lsock));
    sl_selector *sel = sl_selector_new();
    if (!sel || sl_selector_register(sel, lsock, SL_READ, NULL) < 0) {
        perror("app_server: selector");
        return 1;
    }
    sl_event events[64];
    int status = 0;
    while (!stop) {
        int n = sl_selector_select(sel, events, 64, 500);
        if (n < 0) {
            perror("app_server: select");
            status = 1;
            break;
        }
        for (int i = 0; i < n; i++) {
            struct message *m = events[i].data;
            if (!m) accept_wrapper(sel, lsock);
            else if (process_events(sel, m, events[i].events) < 0) close_message(sel, m);
        }
    }
    while (messages) close_message(sel, messages);
    sl_selector_free(sel);
    close(lsock);
    return status;
}
