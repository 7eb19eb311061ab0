/*
 * conn.c: the connection to the emulated compute service (PROTOCOL.md): lazy connect + HELLO,
 * request submission, the per-connection reader thread, and connection loss.
 *
 * On loss every pending operation completes with HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE),
 * every system/process handle of that connection becomes invalid (E_HANDLE; closing still frees
 * it), system handles with a callback get HcsEventServiceDisconnect, and the next call reconnects.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "emu.h"
#include "sock.h"

enum { F_REQUEST = 1, F_RESPONSE = 2, F_EVENT = 3 };
#define MAX_FRAME (64u * 1024u * 1024u)
/* HELLO role: 1 computecore; libvmcompute.so is built with -DEMU_ROLE=3u (PROTOCOL.md). */
#ifndef EMU_ROLE
#define EMU_ROLE 1u
#endif
#define ROLE_LIBRARY EMU_ROLE

typedef struct pending {
    struct pending *next;
    uint32_t seq;
    emu_op *op;           /* referenced */
    emu_handle *created;  /* referenced, or NULL */
} pending;

typedef struct conn {
    int fd;
    uint64_t gen;
    int refs;      /* g_conn's + the reader's + callers' (under emu_lock) */
    int dead;
    uint32_t next_seq;
    pending *pending;
    pthread_mutex_t send_lock;
} conn;

static conn *g_conn;          /* the live connection or NULL; under emu_lock */
static uint64_t g_gen;
static pthread_mutex_t g_connect_lock = PTHREAD_MUTEX_INITIALIZER;

static void conn_release_locked(conn *c) {
    if (--c->refs > 0) return;
    close(c->fd);
    pthread_mutex_destroy(&c->send_lock);
    free(c);
}

int conn_is_connected(void) { return g_conn != NULL && !g_conn->dead; }

static int recv_all(int fd, uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t k = recv(fd, p, n, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Writes the length prefix of a frame built with a placeholder at offset 0. */
static void patch_u32(emu_buf *b, size_t at, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    for (int i = 0; i < 4; i++) b->p[at + (size_t)i] = x[i];
}

/* A failed send shuts the socket down so the reader thread runs the loss path exactly once. */
static void conn_send(conn *c, emu_buf *b) {
    patch_u32(b, 0, (uint32_t)(b->len - 4));
    pthread_mutex_lock(&c->send_lock);
    if (emu_sock_send_all(c->fd, b->p, b->len) != 0) shutdown(c->fd, SHUT_RDWR);
    pthread_mutex_unlock(&c->send_lock);
}

static void *reader_main(void *arg);

static int connect_socket(void) { return emu_sock_hello(ROLE_LIBRARY); }

/* Called with g_connect_lock held. Returns a referenced live connection or NULL. */
static conn *conn_open(void) {
    int fd = connect_socket();
    if (fd < 0) return NULL;
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    pthread_mutex_init(&c->send_lock, NULL);
    dispatch_start();
    emu_lock();
    c->gen = ++g_gen;
    c->refs = 3; /* g_conn, the reader, the caller */
    g_conn = c;
    emu_unlock();
    pthread_attr_t attr;
    pthread_t tid;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&tid, &attr, reader_main, c) != 0) {
        shutdown(fd, SHUT_RDWR);
        reader_main(c); /* runs the loss path at once and drops the reader's reference */
    }
    pthread_attr_destroy(&attr);
    return c;
}

/* A referenced live connection, connecting lazily; NULL when the service is unreachable. */
static conn *conn_acquire(void) {
    pthread_mutex_lock(&g_connect_lock);
    emu_lock();
    conn *c = g_conn;
    if (c) c->refs++;
    emu_unlock();
    if (!c) c = conn_open();
    pthread_mutex_unlock(&g_connect_lock);
    return c;
}

static void conn_release(conn *c) {
    emu_lock();
    conn_release_locked(c);
    emu_unlock();
}

static void request_header(emu_buf *b, uint32_t wire_op, uint64_t handle, uint64_t new_handle, uint32_t num) {
    buf_u32(b, 0); /* length */
    buf_u32(b, F_REQUEST);
    buf_u32(b, 0); /* seq, patched once assigned */
    buf_u32(b, wire_op);
    buf_u64(b, handle);
    buf_u64(b, new_handle);
    buf_u32(b, num);
}

/* Locked. Checks that the request can go out on c; registers it as pending. */
static HRESULT enqueue_locked(conn *c, emu_op *op, const emu_request *req, uint32_t *seq) {
    emu_handle *t = req->target;
    if (c->dead) return HCS_EMU_E_SERVICE_UNAVAILABLE;
    if (t && (!t->o.registered || t->invalid || t->conn_gen != c->gen)) return E_HANDLE;
    if (op->state == OP_PENDING) return HCS_E_OPERATION_ALREADY_STARTED;
    pending *p = calloc(1, sizeof *p);
    if (!p) return E_OUTOFMEMORY;
    p->seq = *seq = ++c->next_seq;
    p->op = op;
    obj_ref(&op->o);
    p->created = req->created;
    p->next = c->pending;
    c->pending = p;
    op->state = OP_PENDING;
    op->type = req->type;
    op->pid = 0;
    for (int i = 0; i < 3; i++) op->std[i] = NULL;
    free(op->doc);
    op->doc = NULL;
    op->system_id = t && t->o.kind == OBJ_SYSTEM ? t->o.id : t ? t->system_id : 0;
    op->process_id = t && t->o.kind == OBJ_PROCESS ? t->o.id : 0;
    if (req->created) {
        emu_handle *h = req->created;
        obj_ref(&h->o);
        h->conn_gen = c->gen;
        obj_register(&h->o);
        if (h->o.kind == OBJ_SYSTEM) op->system_id = h->o.id;
        else op->process_id = h->o.id;
    }
    return S_OK;
}

HRESULT conn_submit(emu_op *op, const emu_request *req) {
    emu_buf b = {0};
    request_header(&b, req->wire_op, req->target ? req->target->o.id : 0, req->created ? req->created->o.id : 0,
                   req->num);
    buf_str16(&b, req->a);
    buf_str16(&b, req->b);
    if (b.oom || b.len > MAX_FRAME) {
        buf_free(&b);
        return b.oom ? E_OUTOFMEMORY : E_INVALIDARG;
    }
    conn *c = conn_acquire();
    if (!c) {
        buf_free(&b);
        return HCS_EMU_E_SERVICE_UNAVAILABLE;
    }
    uint32_t seq = 0;
    emu_lock();
    HRESULT hr = enqueue_locked(c, op, req, &seq);
    emu_unlock();
    if (hr == S_OK) {
        patch_u32(&b, 8, seq);
        conn_send(c, &b);
    }
    buf_free(&b);
    conn_release(c);
    return hr;
}

void conn_send_close(uint32_t wire_op, uint64_t conn_gen, uint64_t handle_id) {
    emu_lock();
    conn *c = g_conn;
    if (c && (c->dead || c->gen != conn_gen)) c = NULL;
    uint32_t seq = 0;
    if (c) {
        c->refs++;
        seq = ++c->next_seq; /* no pending entry: the immediate answer is ignored */
    }
    emu_unlock();
    if (!c) return; /* the service already dropped every handle of a lost connection */
    emu_buf b = {0};
    request_header(&b, wire_op, handle_id, 0, 0);
    buf_str16(&b, NULL);
    buf_str16(&b, NULL);
    if (!b.oom) {
        patch_u32(&b, 8, seq);
        conn_send(c, &b);
    }
    buf_free(&b);
    conn_release(c);
}

/* ---- reader side ---- */

static void on_response(conn *c, emu_rd *r) {
    uint32_t seq = rd_u32(r);
    HRESULT hr = (HRESULT)rd_u32(r);
    uint32_t pid = rd_u32(r);
    char16_t *doc = rd_str16(r);
    if (r->err) return; /* rd_str16 returned NULL: nothing to free */
    /* Optional trailer of a CreateProcess that made stdio pipes (PROTOCOL.md "Process stdio"). */
    void *std[3] = {NULL, NULL, NULL};
    if (r->len - r->off >= 12) {
        uint64_t token = rd_u64(r);
        uint32_t mask = rd_u32(r);
        if (!r->err && mask) stdio_open_streams(token, mask, std);
        r->err = 0;
    }
    emu_lock();
    pending **pp = &c->pending;
    while (*pp && (*pp)->seq != seq) pp = &(*pp)->next;
    pending *p = *pp;
    if (p) *pp = p->next;
    if (!p) free(doc); /* e.g. the answer to a CloseSystem/CloseProcess */
    else {
        if (p->created && pid) p->created->pid = pid;
        for (int i = 0; i < 3; i++) p->op->std[i] = std[i];
        op_complete_locked(p->op, hr, pid, doc);
        obj_unref(&p->op->o);
        if (p->created) obj_unref(&p->created->o);
    }
    emu_unlock();
    free(p);
}

static void on_event(conn *c, emu_rd *r) {
    uint64_t id = rd_u64(r);
    int32_t type = (int32_t)rd_u32(r);
    char16_t *data = rd_str16(r);
    if (r->err) return;
    emu_lock();
    emu_obj *o = obj_find(id, OBJ_SYSTEM);
    if (!o) o = obj_find(id, OBJ_PROCESS);
    emu_handle *h = (emu_handle *)o;
    if (h && h->conn_gen == c->gen && (h->callback || h->v1_callback)) dispatch_event_locked(h, type, data, NULL);
    else free(data);
    emu_unlock();
}

/* Locked. Invalidates one handle of the lost connection; system callbacks hear about it. */
static void lose_handle(emu_obj *o, void *arg) {
    conn *c = arg;
    if (o->kind == OBJ_OPERATION) return;
    emu_handle *h = (emu_handle *)o;
    if (h->conn_gen != c->gen || h->invalid) return;
    h->invalid = 1;
    if (o->kind == OBJ_SYSTEM && (h->callback || h->v1_callback)) dispatch_event_locked(h, HcsEventServiceDisconnect, NULL, NULL);
}

static void conn_lost(conn *c) {
    emu_lock();
    c->dead = 1;
    if (g_conn == c) {
        g_conn = NULL;
        conn_release_locked(c); /* g_conn's reference; the reader still holds one */
    }
    pending *list = c->pending;
    c->pending = NULL;
    while (list) {
        pending *p = list;
        list = p->next;
        op_complete_locked(p->op, HCS_EMU_E_SERVICE_UNAVAILABLE, 0, NULL);
        obj_unref(&p->op->o);
        if (p->created) obj_unref(&p->created->o);
        free(p);
    }
    obj_each(lose_handle, c);
    emu_unlock();
}

static int read_frame(conn *c) {
    uint8_t hdr[4];
    if (recv_all(c->fd, hdr, 4) != 0) return -1;
    uint32_t len = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
    if (len < 4 || len > MAX_FRAME) return -1;
    uint8_t *body = malloc(len);
    if (!body || recv_all(c->fd, body, len) != 0) {
        free(body);
        return -1;
    }
    emu_rd r = {body, len, 0, 0};
    uint32_t type = rd_u32(&r);
    if (type == F_RESPONSE) on_response(c, &r);
    else if (type == F_EVENT) on_event(c, &r);
    free(body);
    return r.err ? -1 : 0; /* a malformed frame means we no longer agree on the stream */
}

static void *reader_main(void *arg) {
    conn *c = arg;
    while (read_frame(c) == 0) {
    }
    conn_lost(c);
    conn_release(c);
    return NULL;
}
