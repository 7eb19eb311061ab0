/*
 * registry.c: the process-wide lock, the id -> object table behind every handle value, reference
 * counting, and small time helpers.
 *
 * Handles are ids rather than pointers so that a closed (or garbage) handle is looked up and
 * rejected with E_HANDLE instead of being dereferenced, and ids are never reused so a stale handle
 * can never alias a newer object.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu.h"

#define BUCKETS 1024u

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static emu_obj *g_buckets[BUCKETS];
static uint32_t g_count;
static uint64_t g_next_id = 0x100;

void emu_lock(void) { pthread_mutex_lock(&g_lock); }
void emu_unlock(void) { pthread_mutex_unlock(&g_lock); }

/* Locked. Handle ids step by 4 like Windows handle values; they start away from 0 (NULL). */
uint64_t emu_next_id(void) {
    g_next_id += 4;
    return g_next_id;
}

void obj_register(emu_obj *o) {
    uint32_t b = (uint32_t)(o->id % BUCKETS);
    o->next = g_buckets[b];
    g_buckets[b] = o;
    o->registered = 1;
    o->refs++;
    g_count++;
}

void obj_unregister(emu_obj *o) {
    if (!o->registered) return;
    emu_obj **pp = &g_buckets[o->id % BUCKETS];
    while (*pp && *pp != o) pp = &(*pp)->next;
    if (*pp) *pp = o->next;
    o->next = NULL;
    o->registered = 0;
    g_count--;
    obj_unref(o);
}

emu_obj *obj_find(uint64_t id, int kind) {
    for (emu_obj *o = g_buckets[id % BUCKETS]; o; o = o->next) {
        if (o->id == id) return o->kind == kind ? o : NULL;
    }
    return NULL;
}

void obj_ref(emu_obj *o) { o->refs++; }

static void obj_free(emu_obj *o) {
    if (o->kind == OBJ_OPERATION) {
        emu_op *op = (emu_op *)o;
        free(op->doc);
        pthread_cond_destroy(&op->done);
    } else {
        emu_handle *h = (emu_handle *)o;
        for (emu_v1_note *n = h->v1_backlog, *next; n; n = next) {
            next = n->next;
            free(n->data);
            free(n);
        }
        pthread_cond_destroy(&h->idle);
    }
    free(o);
}

void obj_unref(emu_obj *o) {
    if (--o->refs == 0) obj_free(o);
}

uint32_t obj_count(void) { return g_count; }

void obj_each(void (*fn)(emu_obj *, void *), void *arg) {
    for (uint32_t b = 0; b < BUCKETS; b++) {
        for (emu_obj *o = g_buckets[b]; o; o = o->next) fn(o, arg);
    }
}

void emu_cond_init(pthread_cond_t *cond) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

/* Not locked: a new object with one reference owned by the caller. */
emu_handle *handle_new(int kind) {
    emu_handle *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->o.kind = kind;
    h->o.refs = 1;
    emu_cond_init(&h->idle);
    return h;
}

emu_op *op_new(int internal) {
    emu_op *op = calloc(1, sizeof *op);
    if (!op) return NULL;
    op->o.kind = OBJ_OPERATION;
    op->o.refs = 1;
    op->internal = internal;
    op->type = HcsOperationTypeNone;
    emu_cond_init(&op->done);
    return op;
}

void emu_deadline(struct timespec *ts, uint32_t ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000u;
    ts->tv_nsec += (long)(ms % 1000u) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Locked (g_lock). Waits on cond until signalled or the deadline (NULL: forever). 1 = timed out. */
int emu_cond_wait(pthread_cond_t *cond, const struct timespec *deadline) {
    if (!deadline) {
        pthread_cond_wait(cond, &g_lock);
        return 0;
    }
    return pthread_cond_timedwait(cond, &g_lock, deadline) == ETIMEDOUT;
}
