/* app_client: Real Python's app-client.py, wire-compatible with its server.
 *
 * usage: app_client <host> <port> <action> <value>
 *   app_client 127.0.0.1 65432 search morpheus   -> a text/json request
 *   app_client 127.0.0.1 65432 double 42         -> a binary request
 *
 * One request per connection, as in the tutorial. The tutorial's client reads
 * with a selector and reassembles the protoheader, the JSON header and the
 * content from whatever recv() returns; a blocking client says the same with
 * two calls: the 2-byte length and the JSON header are one frame with a
 * 2-byte big-endian prefix (sl_recv_frame_prefix), the content is
 * sl_recv_exact. Every length the server declares is checked against a
 * stated limit before anything is read into memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "appmsg.h"
#include "sockloop.h"

/* Prints bytes the way Python's repr() does for a bytes object. */
static void print_bytes_repr(const unsigned char *p, size_t n) {
    fputs("b'", stdout);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == '\\' || c == '\'') printf("\\%c", c);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c < 0x20 || c >= 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    fputs("'\n", stdout);
}

static int fail(const char *what) {
    fprintf(stderr, "app_client: %s\n", what);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s <host> <port> <action> <value>\n", argv[0]);
        return 2;
    }
    const char *host = argv[1], *action = argv[3], *value = argv[4];
    int port = atoi(argv[2]);
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: %s <host> <port> <action> <value>\n", argv[0]);
        return 2;
    }

    /* The request: JSON for "search", the tutorial's binary form otherwise. */
    static char content[APP_MAX_CONTENT];
    size_t content_len = 0;
    const char *type, *encoding;
    if (strcmp(action, "search") == 0) {
        if (app_put_raw(content, sizeof content, &content_len, "{\"action\": ") < 0 ||
            app_put_json_string(content, sizeof content, &content_len, action, strlen(action)) < 0 ||
            app_put_raw(content, sizeof content, &content_len, ", \"value\": ") < 0 ||
            app_put_json_string(content, sizeof content, &content_len, value, strlen(value)) < 0 ||
            app_put_raw(content, sizeof content, &content_len, "}") < 0)
            return fail("request too long");
        type = "text/json";
        encoding = "utf-8";
    } else {
        size_t a = strlen(action), v = strlen(value);
        if (a + v > sizeof content) return fail("request too long");
        memcpy(content, action, a);
        memcpy(content + a, value, v);
        content_len = a + v;
        type = "binary/custom-client-binary-type";
        encoding = "binary";
    }
    static unsigned char message[2 + APP_MAX_HEADER + APP_MAX_CONTENT];
    size_t message_len = app_build_message(message, sizeof message, type, encoding, content, content_len);
    if (message_len == 0) return fail("request too long");

    printf("starting connection to %s:%d\n", host, port);
    int sock = sl_tcp_connect(host, port, 5000);
    if (sock < 0) {
        perror("app_client: connect");
        return 1;
    }
    int status = 1;
    if (sl_send_all(sock, message, message_len, 5000, NULL) < 0) {
        perror("app_client: send");
        goto out;
    }

    /* The reply: protoheader and JSON header (one frame), content; each
     * length checked before it is read. */
    static char header[APP_MAX_HEADER];
    struct app_json h;
    const char *why = NULL;
    sl_frame_progress progress = {0};
    ssize_t header_len = sl_recv_frame_prefix(sock, 2, SL_PREFIX_BIG_ENDIAN, header, sizeof header, 10000, &progress);
    if (header_len < 0) {
        if (errno == EMSGSIZE) fail("JSON header longer than the limit");
        else perror("app_client: reading the JSON header");
        goto out;
    }
    if (app_json_parse(header, (size_t)header_len, &h, &why) < 0 || (why = app_check_header(&h)) != NULL) {
        fprintf(stderr, "app_client: bad JSON header: %s\n", why);
        goto out;
    }
    size_t reply_len = (size_t)app_json_get(&h, "content-length")->number;
    static unsigned char reply[APP_MAX_CONTENT];
    if (sl_recv_exact(sock, reply, reply_len, 10000, NULL) < 0) {
        perror("app_client: reading the content");
        goto out;
    }
    if (strcmp(app_json_get(&h, "content-type")->str, "text/json") == 0) {
        struct app_json body;
        const struct app_field *result;
        if (app_json_parse(reply, reply_len, &body, &why) < 0) {
            fprintf(stderr, "app_client: bad JSON content: %s\n", why);
            goto out;
        }
        if (!(result = app_json_get(&body, "result")) || result->is_number) {
            fail("JSON content has no \"result\" string");
            goto out;
        }
        printf("got result: %s\n", result->str);
    } else {
        printf("got response: ");
        print_bytes_repr(reply, reply_len);
    }
    status = 0;
out:
    close(sock); /* one request per connection, as in the tutorial */
    return status;
}
