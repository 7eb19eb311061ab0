/*
 * wire.c: frame encoding and decoding helpers (PROTOCOL.md "Framing") and the UTF-16 <-> UTF-8
 * conversions between the Windows string ABI and the wire.
 *
 * Invalid input never fails a call: lone surrogates and malformed UTF-8 become U+FFFD, like
 * WideCharToMultiByte/MultiByteToWideChar do by default.
 */
#include <stdlib.h>
#include <string.h>

#include "emu.h"

#define STR_NULL 0xFFFFFFFFu
#define REPLACEMENT 0xFFFDu

static void buf_reserve(emu_buf *b, size_t extra) {
    if (b->oom || b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void buf_bytes(emu_buf *b, const void *src, size_t n) {
    buf_reserve(b, n);
    if (b->oom) return;
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

void buf_u32(emu_buf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buf_bytes(b, x, 4);
}

void buf_u64(emu_buf *b, uint64_t v) {
    buf_u32(b, (uint32_t)v);
    buf_u32(b, (uint32_t)(v >> 32));
}

size_t u16_len(const char16_t *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

char16_t *u16_dup(const char16_t *s) {
    if (!s) return NULL;
    size_t n = (u16_len(s) + 1) * sizeof(char16_t);
    char16_t *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Appends the UTF-8 encoding of code point cp. */
static void put_utf8(emu_buf *b, uint32_t cp) {
    uint8_t x[4];
    size_t n;
    if (cp < 0x80) {
        x[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        x[0] = (uint8_t)(0xC0 | (cp >> 6));
        x[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        x[0] = (uint8_t)(0xE0 | (cp >> 12));
        x[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        x[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        x[0] = (uint8_t)(0xF0 | (cp >> 18));
        x[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        x[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        x[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    buf_bytes(b, x, n);
}

/* A string field: u32 byteLength + UTF-8, or 0xFFFFFFFF for NULL. */
void buf_str16(emu_buf *b, const char16_t *s) {
    if (!s) {
        buf_u32(b, STR_NULL);
        return;
    }
    size_t at = b->len;
    buf_u32(b, 0); /* patched below */
    for (size_t i = 0; s[i]; i++) {
        uint32_t c = s[i];
        if (c >= 0xD800 && c <= 0xDBFF && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00);
            i++;
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            c = REPLACEMENT;
        }
        put_utf8(b, c);
    }
    if (b->oom) return;
    uint32_t n = (uint32_t)(b->len - at - 4);
    uint8_t x[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    memcpy(b->p + at, x, 4);
}

void buf_free(emu_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

uint32_t rd_u32(emu_rd *r) {
    if (r->err || r->len - r->off < 4) {
        r->err = 1;
        return 0;
    }
    const uint8_t *p = r->p + r->off;
    r->off += 4;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t rd_u64(emu_rd *r) {
    uint64_t lo = rd_u32(r);
    return lo | (uint64_t)rd_u32(r) << 32;
}

/* Decodes one UTF-8 sequence at s[*i] (n bytes in all) and advances *i; bad input -> U+FFFD. */
static uint32_t get_utf8(const uint8_t *s, size_t n, size_t *i) {
    static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
    uint8_t c = s[(*i)++];
    size_t need;
    uint32_t cp;
    if (c < 0x80) return c;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        cp = c & 0x07u;
    } else {
        return REPLACEMENT;
    }
    if (n - *i < need) return REPLACEMENT;
    for (size_t k = 0; k < need; k++) {
        uint8_t d = s[*i + k];
        if ((d & 0xC0) != 0x80) return REPLACEMENT; /* resync at d */
        cp = (cp << 6) | (d & 0x3Fu);
    }
    *i += need;
    if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return REPLACEMENT;
    return cp;
}

static char16_t *utf8_to_utf16(const uint8_t *s, size_t n) {
    char16_t *out = malloc((n + 1) * sizeof(char16_t)); /* UTF-16 never needs more units than bytes */
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp = get_utf8(s, n, &i);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            out[o++] = (char16_t)(0xD800 + (cp >> 10));
            out[o++] = (char16_t)(0xDC00 + (cp & 0x3FF));
        } else {
            out[o++] = (char16_t)cp;
        }
    }
    out[o] = 0;
    return out;
}

char16_t *rd_str16(emu_rd *r) {
    uint32_t n = rd_u32(r);
    if (r->err || n == STR_NULL) return NULL;
    if (r->len - r->off < n) {
        r->err = 1;
        return NULL;
    }
    char16_t *s = utf8_to_utf16(r->p + r->off, n);
    r->off += n;
    if (!s) r->err = 1;
    return s;
}
