/*
 * dispatch.c: the single dispatcher thread that runs every user callback (operation completions
 * and HCS_EVENTs), in the order they were queued, never holding the library lock.
 *
 * Guarantees (matching what hcsshim relies on from HCS):
 *  - no callback starts for a handle once HcsClose* unregistered it; a queued item for a closed
 *    handle is dropped;
 *  - the item holds a reference, so HcsCloseOperation from inside (or, with koffi, during) the
 *    operation's own completion callback only unregisters it and the free happens after the
 *    callback returns;
 *  - HcsCloseComputeSystem/HcsCloseProcess wait for `in_flight` to drop to 0 (see operation.c
 *    handle_close), except on this thread, where waiting would wait for itself.
 */
#include <stdlib.h>

#include "emu.h"

enum { WORK_COMPLETION = 1, WORK_EVENT = 2 };

typedef struct work {
    struct work *next;
    int kind;
    emu_obj *obj;   /* the op (completion) or handle (event); referenced */
    int32_t type;   /* event type */
    char16_t *data; /* event data, owned */
    emu_op *op;     /* HcsEventOperationCallback: the completed op, referenced */
    int v1;         /* a vmcompute notification: (type, context, status, data) */
    int32_t status; /* its notificationStatus */
} work;

static work *q_head, *q_tail;
static uint32_t q_len; /* queued + running */
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static pthread_t g_thread;
static int g_started;

static void *dispatcher_main(void *arg);

/* Locked. Started on first use; it then lives as long as the process (callbacks can come any time). */
static void ensure_started(void) {
    if (g_started) return;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    g_started = pthread_create(&g_thread, &attr, dispatcher_main, NULL) == 0;
    pthread_attr_destroy(&attr);
}

void dispatch_start(void) {
    emu_lock();
    ensure_started();
    emu_unlock();
}

int dispatch_is_self(void) { return g_started && pthread_equal(pthread_self(), g_thread); }

uint32_t dispatch_in_flight(void) { return q_len; }

static void enqueue_locked(work *w) {
    ensure_started();
    w->next = NULL;
    if (q_tail) q_tail->next = w;
    else q_head = w;
    q_tail = w;
    q_len++;
    pthread_cond_signal(&q_cond);
}

void dispatch_op_locked(emu_op *op) {
    work *w = calloc(1, sizeof *w);
    if (!w) return; /* out of memory: the result is still readable with Get/Wait */
    w->kind = WORK_COMPLETION;
    w->obj = &op->o;
    obj_ref(&op->o);
    enqueue_locked(w);
}

void dispatch_event_locked(emu_handle *h, int32_t type, char16_t *data, emu_op *op) {
    work *w = calloc(1, sizeof *w);
    if (!w) {
        free(data);
        return;
    }
    w->kind = WORK_EVENT;
    w->obj = &h->o;
    w->type = type;
    w->data = data;
    w->op = op;
    obj_ref(&h->o);
    if (op) obj_ref(&op->o);
    enqueue_locked(w);
}

void dispatch_v1_locked(emu_handle *h, uint32_t type, int32_t status, char16_t *data) {
    work *w = calloc(1, sizeof *w);
    if (!w) {
        free(data);
        return;
    }
    w->kind = WORK_EVENT;
    w->obj = &h->o;
    w->type = (int32_t)type;
    w->data = data;
    w->v1 = 1;
    w->status = status;
    obj_ref(&h->o);
    enqueue_locked(w);
}

/* vmcompute numbering of the events the service sends (hcsshim callback.go): SystemExited and
 * ProcessExited are the same; ServiceDisconnect is 0x01000000 there (0x02000000 in computecore). */
static uint32_t v1_type(const work *w) {
    if (w->v1) return (uint32_t)w->type;
    return w->type == HcsEventServiceDisconnect ? 0x01000000u : (uint32_t)w->type;
}

static void run_v1(emu_handle *h, const work *w) {
    if (!h->o.registered || !h->v1_callback) return;
    emu_v1_callback cb = h->v1_callback;
    void *ctx = h->v1_context;
    h->in_flight++;
    emu_unlock();
    cb(v1_type(w), ctx, w->status, w->data);
    emu_lock();
    if (--h->in_flight == 0) pthread_cond_broadcast(&h->idle);
}

/* Locked on entry and exit; unlocked while the user's callback runs. */
static void run_completion(emu_op *op) {
    if (!op->o.registered || !op->callback) return;
    HCS_OPERATION_COMPLETION cb = op->callback;
    void *ctx = op->context;
    emu_unlock();
    cb((HCS_OPERATION)EMU_HANDLE_VALUE(op->o.id), ctx);
    emu_lock();
}

static void run_event(emu_handle *h, const work *w) {
    if (w->v1 || h->v1_callback) {
        run_v1(h, w);
        return;
    }
    if (!h->o.registered || !h->callback) return;
    HCS_EVENT_CALLBACK cb = h->callback;
    void *ctx = h->context;
    HCS_EVENT ev = {w->type, w->data, w->op ? (HCS_OPERATION)EMU_HANDLE_VALUE(w->op->o.id) : NULL};
    h->in_flight++;
    emu_unlock();
    cb(&ev, ctx);
    emu_lock();
    if (--h->in_flight == 0) pthread_cond_broadcast(&h->idle);
}

static void *dispatcher_main(void *arg) {
    (void)arg;
    emu_lock();
    for (;;) {
        while (!q_head) emu_cond_wait(&q_cond, NULL);
        work *w = q_head;
        q_head = w->next;
        if (!q_head) q_tail = NULL;
        if (w->kind == WORK_COMPLETION) run_completion((emu_op *)w->obj);
        else run_event((emu_handle *)w->obj, w);
        q_len--;
        obj_unref(w->obj);
        if (w->op) obj_unref(&w->op->o);
        free(w->data);
        free(w);
    }
    return NULL;
}

/* Locked. Records the outcome, wakes waiters and queues the completion callback, if any. */
void op_complete_locked(emu_op *op, HRESULT hr, uint32_t pid, char16_t *doc) {
    op->state = OP_DONE;
    op->result = hr;
    free(op->doc);
    op->doc = doc;
    op->pid = pid;
    pthread_cond_broadcast(&op->done);
    if (!op->o.registered) return; /* closed or internal: nobody to call */
    if (op->callback) {
        dispatch_op_locked(op);
        return;
    }
    /* HcsEventOptionEnableOperationCallbacks: the system's callback gets HcsEventOperationCallback. */
    emu_obj *o = op->system_id ? obj_find(op->system_id, OBJ_SYSTEM) : NULL;
    emu_handle *sys = (emu_handle *)o;
    if (sys && sys->callback && (sys->options & HcsEventOptionEnableOperationCallbacks)) {
        dispatch_event_locked(sys, HcsEventOperationCallback, NULL, op);
    }
}
