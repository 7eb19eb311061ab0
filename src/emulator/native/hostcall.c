/* hostcall.c: see host.h. One short-lived Unix-socket connection per call (these APIs are synchronous). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "host.h"
#include "sock.h"

#define F_HOST_REQUEST 8
#define F_HOST_RESPONSE 9
#define ROLE_HOST 5
#define MAX_FRAME (64u << 20)

typedef struct { uint8_t *p; size_t len, cap; int oom; } hbuf;

static void hb_put(hbuf *b, const void *src, size_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p; b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}
static void hb_u32(hbuf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    hb_put(b, x, 4);
}
static void hb_str(hbuf *b, const char *s) {
    if (!s) { hb_u32(b, 0xffffffffu); return; }
    size_t n = strlen(s);
    hb_u32(b, (uint32_t)n);
    hb_put(b, s, n);
}

static int io_all(int fd, uint8_t *p, size_t n, int sending) {
    while (n > 0) {
        ssize_t k = sending ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k; n -= (size_t)k;
    }
    return 0;
}

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* Reads one string field at *off of body[len]; returns 0 on success (*out NULL for an absent string). */
static int rd_str(const uint8_t *body, size_t len, size_t *off, char **out) {
    *out = NULL;
    if (len - *off < 4) return -1;
    uint32_t n = le32(body + *off);
    *off += 4;
    if (n == 0xffffffffu) return 0;
    if (len - *off < n) return -1;
    char *s = malloc((size_t)n + 1);
    if (!s) return -1;
    memcpy(s, body + *off, n);
    s[n] = 0;
    *off += n;
    *out = s;
    return 0;
}

static uint32_t g_seq;
static pthread_mutex_t g_seq_lock = PTHREAD_MUTEX_INITIALIZER;

int32_t host_call(const char *api, const char *a, const char *b, const char *c, char **result, char **error_record) {
    *result = NULL;
    *error_record = NULL;
    int fd = emu_sock_hello(ROLE_HOST);
    if (fd < 0) return HOST_E_UNAVAILABLE;
    pthread_mutex_lock(&g_seq_lock);
    uint32_t seq = ++g_seq;
    pthread_mutex_unlock(&g_seq_lock);
    hbuf out = {0};
    size_t at = out.len;
    hb_u32(&out, 0); hb_u32(&out, F_HOST_REQUEST); hb_u32(&out, seq);
    hb_str(&out, api); hb_str(&out, a); hb_str(&out, b); hb_str(&out, c);
    int32_t hr = HOST_E_UNAVAILABLE;
    if (out.oom) { hr = HOST_E_OUTOFMEMORY; goto done; }
    uint32_t flen = (uint32_t)(out.len - at - 4);
    out.p[at] = (uint8_t)flen; out.p[at + 1] = (uint8_t)(flen >> 8); out.p[at + 2] = (uint8_t)(flen >> 16); out.p[at + 3] = (uint8_t)(flen >> 24);
    if (io_all(fd, out.p, out.len, 1) != 0) goto done;
    uint8_t head[8];
    if (io_all(fd, head, 8, 0) != 0) goto done;
    uint32_t len = le32(head), type = le32(head + 4);
    if (len < 4 || len > MAX_FRAME || type != F_HOST_RESPONSE) goto done;
    size_t blen = len - 4;
    uint8_t *body = malloc(blen ? blen : 1);
    if (!body) { hr = HOST_E_OUTOFMEMORY; goto done; }
    if (io_all(fd, body, blen, 0) == 0 && blen >= 8 && le32(body) == seq) {
        size_t off = 8;
        if (rd_str(body, blen, &off, result) == 0 && rd_str(body, blen, &off, error_record) == 0) hr = (int32_t)le32(body + 4);
        else { free(*result); free(*error_record); *result = *error_record = NULL; }
    }
    free(body);
done:
    free(out.p);
    close(fd);
    return hr;
}

char *host_utf8(const char16_t *s) {
    if (!s) return NULL;
    size_t n = 0;
    while (s[n]) n++;
    char *o = malloc(n * 3 + 1), *q = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        if (c >= 0xd800 && c < 0xdc00 && i + 1 < n && s[i + 1] >= 0xdc00 && s[i + 1] < 0xe000) {
            c = 0x10000 + ((c - 0xd800) << 10) + (s[i + 1] - 0xdc00);
            i++;
        } else if (c >= 0xd800 && c < 0xe000) c = 0xfffd; /* lone surrogate */
        if (c < 0x80) *q++ = (char)c;
        else if (c < 0x800) { *q++ = (char)(0xc0 | c >> 6); *q++ = (char)(0x80 | (c & 0x3f)); }
        else if (c < 0x10000) { *q++ = (char)(0xe0 | c >> 12); *q++ = (char)(0x80 | ((c >> 6) & 0x3f)); *q++ = (char)(0x80 | (c & 0x3f)); }
        else { *q++ = (char)(0xf0 | c >> 18); *q++ = (char)(0x80 | ((c >> 12) & 0x3f)); *q++ = (char)(0x80 | ((c >> 6) & 0x3f)); *q++ = (char)(0x80 | (c & 0x3f)); }
    }
    *q = 0;
    return o;
}

char16_t *host_utf16(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    char16_t *o = malloc((n + 1) * sizeof *o), *q = o;
    if (!o) return NULL;
    const uint8_t *p = (const uint8_t *)s;
    while (*p) {
        uint32_t c = *p++;
        int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
        if (extra) c &= (uint32_t)(0x3f >> extra);
        for (int k = 0; k < extra && (*p & 0xc0) == 0x80; k++) c = c << 6 | (*p++ & 0x3f);
        if (c >= 0x10000) { c -= 0x10000; *q++ = (char16_t)(0xd800 + (c >> 10)); *q++ = (char16_t)(0xdc00 + (c & 0x3ff)); }
        else *q++ = (char16_t)c;
    }
    *q = 0;
    return o;
}

void host_guid_str(const void *guid, char out[37]) {
    const uint8_t *g = guid;
    uint32_t d1 = le32(g);
    unsigned d2 = (unsigned)(g[4] | g[5] << 8), d3 = (unsigned)(g[6] | g[7] << 8);
    snprintf(out, 37, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", d1, d2, d3, g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

int host_guid_parse(const char *s, void *guid) {
    unsigned d1, d2, d3, b[8];
    char tail;
    if (*s == '{') s++;
    if (sscanf(s, "%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x%c", &d1, &d2, &d3, &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &b[6], &b[7], &tail) < 11) return -1;
    uint8_t *g = guid;
    g[0] = (uint8_t)d1; g[1] = (uint8_t)(d1 >> 8); g[2] = (uint8_t)(d1 >> 16); g[3] = (uint8_t)(d1 >> 24);
    g[4] = (uint8_t)d2; g[5] = (uint8_t)(d2 >> 8); g[6] = (uint8_t)d3; g[7] = (uint8_t)(d3 >> 8);
    for (int i = 0; i < 8; i++) g[8 + i] = (uint8_t)b[i];
    return 0;
}
