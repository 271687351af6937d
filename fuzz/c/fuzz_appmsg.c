/* Fuzzing the examples' app-protocol header parser (c_examples/appmsg.h):
 * a whole incoming message (2-byte big-endian header length, JSON header,
 * content) through the same steps app_server takes, and the content through
 * the JSON parser too. The parser must fail cleanly, never read or write out
 * of bounds (ASan+UBSan watch), and a header it accepts must re-encode.
 *
 * Built two ways by `make fuzz`:
 *  - with libFuzzer (-fsanitize=fuzzer, -DSL_LIBFUZZER) where the compiler has it;
 *  - otherwise with the driver below: random and mutated inputs from a seed
 *    corpus of valid messages, for FUZZ_SECONDS, under ASan+UBSan. The seed of
 *    each run is printed; `fuzz_appmsg SECONDS SEED` repeats it.
 * Every input is copied into a buffer of exactly its size, so a read one byte
 * past the end is an ASan error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../c_examples/appmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static struct app_json header, content;
    const char *error = NULL;
    if (app_json_parse(data, size, &content, &error) < 0 && error == NULL) abort();
    if (size < 2) return 0;
    size_t hlen = (size_t)data[0] << 8 | data[1];
    if (hlen > APP_MAX_HEADER || 2 + hlen > size) return 0; /* the server stops here */
    if (app_json_parse(data + 2, hlen, &header, &error) < 0) return 0;
    if (header.count < 0 || header.count > APP_MAX_FIELDS) abort();
    for (int i = 0; i < header.count; i++) {
        const struct app_field *f = &header.fields[i];
        if (memchr(f->key, '\0', sizeof f->key) == NULL) abort();
        if (!f->is_number && (f->str_len >= sizeof f->str || f->str[f->str_len] != '\0')) abort();
        if (f->is_number && f->number < 0) abort();
    }
    if (app_check_header(&header) != NULL) return 0;
    /* An accepted header re-encodes into a message that parses again. */
    const struct app_field *type = app_json_get(&header, "content-type");
    const struct app_field *enc = app_json_get(&header, "content-encoding");
    const struct app_field *len = app_json_get(&header, "content-length");
    size_t body = (size_t)len->number;
    if (2 + hlen + body > size) return 0; /* content still to come */
    static unsigned char again[2 + APP_MAX_HEADER * 8 + APP_MAX_CONTENT];
    size_t n = app_build_message(again, sizeof again, type->str, enc->str, data + 2 + hlen, body);
    if (n == 0) return 0; /* escaping can make a header too long to send back: refused, fine */
    size_t hlen2 = (size_t)again[0] << 8 | again[1];
    if (app_json_parse(again + 2, hlen2, &header, &error) < 0 || app_check_header(&header) != NULL) abort();
    return 0;
}

#ifndef SL_LIBFUZZER
static uint64_t rng_state;

static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t seed_message(unsigned char *dst, size_t cap, unsigned which) {
    static const char *const contents[] = {
        "{\"action\": \"search\", \"value\": \"morpheus\"}",
        "{\"action\": \"search\", \"value\": \"\\ud83d\\udc36 \\\"q\\\" \\\\ \\u00e9\"}",
        "{\"action\": \"double\", \"value\": \"42\"}",
        "binary bytes \x01\x02\xff",
        "",
    };
    const char *c = contents[which % 5];
    return app_build_message(dst, cap, which % 5 == 3 ? "binary/custom-client-binary-type" : "text/json",
                             which % 5 == 3 ? "binary" : "utf-8", c, strlen(c));
}

static void run_one(const unsigned char *bytes, size_t n) {
    unsigned char *exact = malloc(n ? n : 1);
    if (!exact) abort();
    memcpy(exact, bytes, n);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 10;
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : (uint64_t)time(NULL) ^ (uint64_t)clock();
    if (rng_state == 0) rng_state = 1;
    fprintf(stderr, "fuzz_appmsg: %.0f s, seed %llu\n", seconds, (unsigned long long)rng_state);
    static unsigned char buf[2 + APP_MAX_HEADER + APP_MAX_CONTENT];
    unsigned long long runs = 0;
    clock_t end = clock() + (clock_t)(seconds * CLOCKS_PER_SEC);
    while (clock() < end) {
        for (int batch = 0; batch < 256; batch++, runs++) {
            size_t n = seed_message(buf, sizeof buf, (unsigned)rnd());
            switch (rnd() % 4) {
            case 0: /* random bytes, with a plausible length prefix half the time */
                n = rnd() % 600;
                for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)rnd();
                if (n >= 2 && rnd() % 2) { buf[0] = 0; buf[1] = (unsigned char)(n - 2); }
                break;
            case 1: /* flip, overwrite or insert bytes of a valid message */
                for (int k = 1 + (int)(rnd() % 8); k > 0 && n > 0; k--) {
                    size_t at = rnd() % n;
                    static const char interesting[] = "{}[]\":,\\u0123456789eE+-. \t\x00\x7f\x80\xc0\xed\xf4\xff";
                    if (rnd() % 3 == 0 && n + 1 < sizeof buf) {
                        memmove(buf + at + 1, buf + at, n - at);
                        n++;
                    }
                    buf[at] = rnd() % 2 ? (unsigned char)rnd() : (unsigned char)interesting[rnd() % (sizeof interesting - 1)];
                }
                break;
            case 2: /* truncated anywhere */
                if (n) n = rnd() % n;
                break;
            default: /* a valid message as is */
                break;
            }
            run_one(buf, n);
        }
    }
    fprintf(stderr, "fuzz_appmsg: %llu inputs, no failure\n", runs);
    return 0;
}
#endif
