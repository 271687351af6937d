/* appmsg.h: Real Python's application protocol ("Socket Programming in Python",
 * app-client.py / app-server.py), for app_client.c and app_server.c.
 *
 * A message on the wire:
 *   2 bytes    big-endian length of the JSON header
 *   header     UTF-8 JSON: {"byteorder": ..., "content-type": ...,
 *              "content-encoding": ..., "content-length": N}
 *   content    N bytes: UTF-8 JSON for "text/json", raw bytes otherwise
 *
 * The JSON here is a minimal, strict encoder and decoder for exactly these flat
 * objects (string and non-negative integer values), with every limit stated:
 * a peer can make it fail, never overflow. */
#ifndef APPMSG_H
#define APPMSG_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define APP_MAX_HEADER 4096     /* JSON header bytes we accept */
#define APP_MAX_CONTENT 65536   /* content bytes we accept */
#define APP_MAX_FIELDS 8
#define APP_MAX_KEY 32
#define APP_MAX_VALUE 1024

struct app_field {
    char key[APP_MAX_KEY];
    int is_number;
    long long number;
    char str[APP_MAX_VALUE]; /* NUL-terminated UTF-8; str_len excludes the NUL */
    size_t str_len;
};

struct app_json {
    struct app_field fields[APP_MAX_FIELDS];
    int count;
};

/* ---- decoding */

struct app_cursor {
    const unsigned char *p, *end;
    const char *error;
};

static inline void app_skip_ws(struct app_cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static inline int app_fail(struct app_cursor *c, const char *why) {
    if (!c->error) c->error = why;
    return -1;
}

static inline int app_hex4(struct app_cursor *c, unsigned *out) {
    if (c->end - c->p < 4) return app_fail(c, "short \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char h = *c->p++;
        v <<= 4;
        if (h >= '0' && h <= '9') v |= (unsigned)(h - '0');
        else if (h >= 'a' && h <= 'f') v |= (unsigned)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F') v |= (unsigned)(h - 'A' + 10);
        else return app_fail(c, "bad hex digit in \\u escape");
    }
    *out = v;
    return 0;
}

/* Appends code point cp as UTF-8; -1 if it does not fit in cap (with NUL). */
static inline int app_put_utf8(char *dst, size_t cap, size_t *len, unsigned cp) {
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) { b[0] = (unsigned char)cp; n = 1; }
    else if (cp < 0x800) { b[0] = (unsigned char)(0xC0 | cp >> 6); b[1] = (unsigned char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | cp >> 12); b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | cp >> 18); b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F)); b[3] = (unsigned char)(0x80 | (cp & 0x3F)); n = 4;
    }
    if (*len + n + 1 > cap) return -1;
    memcpy(dst + *len, b, n);
    *len += n;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid: no
 * overlong forms, no surrogates, nothing above U+10FFFF. */
static inline size_t app_utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned char b = p[0];
    size_t n;
    unsigned cp, min;
    if (b < 0x80) return 1;
    if ((b & 0xE0) == 0xC0) { n = 2; cp = b & 0x1Fu; min = 0x80; }
    else if ((b & 0xF0) == 0xE0) { n = 3; cp = b & 0x0Fu; min = 0x800; }
    else if ((b & 0xF8) == 0xF0) { n = 4; cp = b & 0x07u; min = 0x10000; }
    else return 0;
    if ((size_t)(end - p) < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

/* Parses a JSON string at c->p into dst (NUL-terminated, at most cap bytes). */
static inline int app_parse_string(struct app_cursor *c, char *dst, size_t cap, size_t *out_len) {
    size_t len = 0;
    if (c->p >= c->end || *c->p != '"') return app_fail(c, "expected a string");
    c->p++;
    while (c->p < c->end && *c->p != '"') {
        unsigned char ch = *c->p;
        if (ch < 0x20) return app_fail(c, "control character in string");
        if (ch == '\\') {
            c->p++;
            if (c->p >= c->end) return app_fail(c, "unterminated escape");
            unsigned char e = *c->p++;
            unsigned cp;
            switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (app_hex4(c, &cp) < 0) return -1;
                if (cp >= 0xDC00 && cp <= 0xDFFF) return app_fail(c, "lone low surrogate");
                if (cp >= 0xD800 && cp <= 0xDBFF) { /* must be followed by \uDC00-\uDFFF */
                    unsigned lo;
                    if (c->end - c->p < 2 || c->p[0] != '\\' || c->p[1] != 'u')
                        return app_fail(c, "lone high surrogate");
                    c->p += 2;
                    if (app_hex4(c, &lo) < 0) return -1;
                    if (lo < 0xDC00 || lo > 0xDFFF) return app_fail(c, "bad surrogate pair");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                break;
            default: return app_fail(c, "unknown escape");
            }
            if (app_put_utf8(dst, cap, &len, cp) < 0) return app_fail(c, "string too long");
            continue;
        }
        size_t n = app_utf8_len(c->p, c->end);
        if (n == 0) return app_fail(c, "invalid UTF-8");
        if (len + n + 1 > cap) return app_fail(c, "string too long");
        memcpy(dst + len, c->p, n);
        len += n;
        c->p += n;
    }
    if (c->p >= c->end) return app_fail(c, "unterminated string");
    c->p++;
    dst[len] = '\0';
    *out_len = len;
    return 0;
}

/* Parses one flat JSON object of string and non-negative integer values.
 * Returns 0, or -1 with *error set to a short reason. */
static inline int app_json_parse(const void *text, size_t len, struct app_json *out, const char **error) {
    struct app_cursor c = {text, (const unsigned char *)text + len, NULL};
    out->count = 0;
    app_skip_ws(&c);
    if (c.p >= c.end || *c.p++ != '{') { *error = "expected '{'"; return -1; }
    app_skip_ws(&c);
    if (c.p < c.end && *c.p == '}') c.p++;
    else for (;;) {
        if (out->count == APP_MAX_FIELDS) { *error = "too many fields"; return -1; }
        struct app_field *f = &out->fields[out->count];
        size_t key_len;
        app_skip_ws(&c);
        if (app_parse_string(&c, f->key, sizeof f->key, &key_len) < 0) goto fail;
        app_skip_ws(&c);
        if (c.p >= c.end || *c.p++ != ':') { app_fail(&c, "expected ':'"); goto fail; }
        app_skip_ws(&c);
        if (c.p < c.end && *c.p == '"') {
            f->is_number = 0;
            if (app_parse_string(&c, f->str, sizeof f->str, &f->str_len) < 0) goto fail;
        } else if (c.p < c.end && *c.p >= '0' && *c.p <= '9') {
            f->is_number = 1;
            f->number = 0;
            if (*c.p == '0' && c.end - c.p > 1 && c.p[1] >= '0' && c.p[1] <= '9') { app_fail(&c, "leading zero"); goto fail; }
            while (c.p < c.end && *c.p >= '0' && *c.p <= '9') {
                if (f->number > (INT64_MAX - 9) / 10) { app_fail(&c, "number too large"); goto fail; }
                f->number = f->number * 10 + (*c.p++ - '0');
            }
        } else { app_fail(&c, "value must be a string or a non-negative integer"); goto fail; }
        out->count++;
        app_skip_ws(&c);
        if (c.p < c.end && *c.p == ',') { c.p++; continue; }
        if (c.p < c.end && *c.p == '}') { c.p++; break; }
        app_fail(&c, "expected ',' or '}'");
        goto fail;
    }
    app_skip_ws(&c);
    if (c.p != c.end) { *error = "trailing bytes after the object"; return -1; }
    return 0;
fail:
    *error = c.error;
    return -1;
}

static inline const struct app_field *app_json_get(const struct app_json *j, const char *key) {
    for (int i = j->count - 1; i >= 0; i--) /* the last duplicate wins, as in Python */
        if (strcmp(j->fields[i].key, key) == 0) return &j->fields[i];
    return NULL;
}

/* ---- encoding */

/* Appends the NUL-terminated text s as it is; -1 if out of room. */
static inline int app_put_raw(char *dst, size_t cap, size_t *at, const char *s) {
    size_t n = strlen(s);
    if (*at + n + 1 > cap) return -1;
    memcpy(dst + *at, s, n);
    *at += n;
    return 0;
}

/* Appends s (len bytes of UTF-8) as a quoted JSON string; -1 if out of room. */
static inline int app_put_json_string(char *dst, size_t cap, size_t *at, const char *s, size_t len) {
    if (*at + 1 >= cap) return -1;
    dst[(*at)++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[7];
        size_t n;
        if (ch == '"' || ch == '\\') { esc[0] = '\\'; esc[1] = (char)ch; n = 2; }
        else if (ch < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", ch); n = 6; }
        else { esc[0] = (char)ch; n = 1; } /* UTF-8 passes through, as ensure_ascii=False */
        if (*at + n + 1 >= cap) return -1;
        memcpy(dst + *at, esc, n);
        *at += n;
    }
    dst[(*at)++] = '"';
    return 0;
}

/* Builds a whole message (protoheader, JSON header, content) into dst.
 * Returns its length, or 0 if it does not fit in cap. */
static inline size_t app_build_message(unsigned char *dst, size_t cap, const char *content_type,
                                       const char *content_encoding, const void *content, size_t content_len) {
    char header[APP_MAX_HEADER];
    size_t at = 0;
    int n = snprintf(header, sizeof header, "{\"byteorder\": \"%s\", \"content-type\": ",
                     *(const unsigned char *)&(uint16_t){1} ? "little" : "big");
    if (n < 0) return 0;
    at = (size_t)n;
    if (app_put_json_string(header, sizeof header, &at, content_type, strlen(content_type)) < 0) return 0;
    n = snprintf(header + at, sizeof header - at, ", \"content-encoding\": ");
    if (n < 0 || (size_t)n >= sizeof header - at) return 0;
    at += (size_t)n;
    if (app_put_json_string(header, sizeof header, &at, content_encoding, strlen(content_encoding)) < 0) return 0;
    n = snprintf(header + at, sizeof header - at, ", \"content-length\": %zu}", content_len);
    if (n < 0 || (size_t)n >= sizeof header - at) return 0;
    at += (size_t)n;
    if (2 + at + content_len > cap) return 0;
    dst[0] = (unsigned char)(at >> 8); /* the 2-byte big-endian length, ">H" */
    dst[1] = (unsigned char)at;
    memcpy(dst + 2, header, at);
    memcpy(dst + 2 + at, content, content_len);
    return 2 + at + content_len;
}

/* Checks a parsed JSON header: all four fields with the right types and the
 * content length within APP_MAX_CONTENT. Returns NULL when good, else why not. */
static inline const char *app_check_header(const struct app_json *h) {
    static const char *const strings[] = {"byteorder", "content-type", "content-encoding"};
    for (size_t i = 0; i < 3; i++) {
        const struct app_field *f = app_json_get(h, strings[i]);
        if (!f || f->is_number) return "missing or non-string header field";
    }
    const struct app_field *len = app_json_get(h, "content-length");
    if (!len || !len->is_number) return "missing content-length";
    if (len->number > APP_MAX_CONTENT) return "content-length over the limit";
    return NULL;
}

#endif
