/*
 * dispatch.c: the threads that run user callbacks, never holding the library lock:
 *  - one event dispatcher thread runs every HCS_EVENT (and vmcompute notification) in the order
 *    they were queued, so the events of a handle never overtake each other;
 *  - a small pool (HCSEMU_CALLBACK_THREADS=n, default 4; 0: the event thread does it too)
 *    of completion threads runs operation completion callbacks, each on whichever thread is
 *    free. HCS calls completions on its own thread pool, several at a time (hcsshim takes no
 *    ordering between completions of different operations for granted); with a single thread, and koffi blocking the calling thread until the JS callback returned, every
 *    completion cost one full wake-up round trip of the JS thread, one after the other (measured
 *    by the converge benchmark: docs/package.md). With several, completions that arrive together
 *    reach the JS thread together and are run in one wake-up (node's threadsafe-function queue).
 *  - HCSEMU_CALLBACK_THREADS=<n> sets the pool size (default 4; 0: completions share the event thread);
 *    HCSEMU_DISPATCH_TRACE=<file> appends one line per completion: `C <context> <queued ns>
 *    <callback start ns> <callback end ns>` (CLOCK_MONOTONIC, the clock of process.hrtime), for
 *    the benchmark's account of where converge time goes.
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
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "emu.h"

/* Completion threads by default: a small pool, as HCS calls completions on its own thread pool and
 * lets them overtake events (hcsshim callback.go keeps one channel per handle and notification type
 * and assumes no order between them). The controller must be right in every order: the pool found
 * one place where it was not (a listing answered before a crash, delivered after its SystemExited,
 * adopted the crashed system and counted the crash twice; test/reconciler/stale-listing.test.ts).
 * HCSEMU_CALLBACK_THREADS=0 puts completions back on the ordered event thread. */
enum { COMPLETION_THREADS = 4 };

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
    int64_t queued_ns; /* completion: when it was queued (trace only) */
} work;

/* A FIFO of work items and the condition its threads wait on. */
typedef struct queue {
    work *head, *tail;
    pthread_cond_t cond;
} queue;

static queue q_events = {NULL, NULL, PTHREAD_COND_INITIALIZER};
static queue q_completions = {NULL, NULL, PTHREAD_COND_INITIALIZER};
static uint32_t q_len; /* queued + running, both queues */
static pthread_t g_thread;
static int g_started;
static int g_completion_threads; /* 0: completions run on the event thread too */
static FILE *g_trace;

static void *dispatcher_main(void *arg);
static void *completion_main(void *arg);

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int start_detached(pthread_t *t, void *(*fn)(void *)) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int ok = pthread_create(t, &attr, fn, NULL) == 0;
    pthread_attr_destroy(&attr);
    return ok;
}

/* Locked. Started on first use; they then live as long as the process (callbacks can come any time). */
static void ensure_started(void) {
    if (g_started) return;
    const char *trace = getenv("HCSEMU_DISPATCH_TRACE");
    if (trace && *trace) g_trace = fopen(trace, "a");
    g_started = start_detached(&g_thread, dispatcher_main);
    /* HCSEMU_CALLBACK_THREADS=0 runs completions on the event thread (one at a time, the old way). */
    const char *want = getenv("HCSEMU_CALLBACK_THREADS");
    int threads = want && *want ? atoi(want) : COMPLETION_THREADS;
    for (int i = 0; g_started && i < threads && i < 64; i++) {
        pthread_t t;
        if (!start_detached(&t, completion_main)) break; /* fewer threads: still correct */
        g_completion_threads++;
    }
}

void dispatch_start(void) {
    emu_lock();
    ensure_started();
    emu_unlock();
}

int dispatch_is_self(void) { return g_started && pthread_equal(pthread_self(), g_thread); }

uint32_t dispatch_in_flight(void) { return q_len; }

static void enqueue_locked(queue *q, work *w) {
    ensure_started();
    w->next = NULL;
    if (q->tail) q->tail->next = w;
    else q->head = w;
    q->tail = w;
    q_len++;
    pthread_cond_signal(&q->cond);
}

/* Locked. Waits for and takes the next item of `q`. */
static work *dequeue_locked(queue *q) {
    while (!q->head) emu_cond_wait(&q->cond, NULL);
    work *w = q->head;
    q->head = w->next;
    if (!q->head) q->tail = NULL;
    return w;
}

void dispatch_op_locked(emu_op *op) {
    work *w = calloc(1, sizeof *w);
    if (!w) return; /* out of memory: the result is still readable with Get/Wait */
    w->kind = WORK_COMPLETION;
    w->obj = &op->o;
    if (g_trace) w->queued_ns = now_ns();
    obj_ref(&op->o);
    ensure_started();
    enqueue_locked(g_completion_threads > 0 ? &q_completions : &q_events, w);
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
    enqueue_locked(&q_events, w);
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
    enqueue_locked(&q_events, w);
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
static void run_completion(emu_op *op, int64_t queued_ns) {
    if (!op->o.registered || !op->callback) return;
    HCS_OPERATION_COMPLETION cb = op->callback;
    void *ctx = op->context;
    emu_unlock();
    int64_t start = g_trace ? now_ns() : 0;
    cb((HCS_OPERATION)EMU_HANDLE_VALUE(op->o.id), ctx);
    if (g_trace) {
        int64_t end = now_ns();
        flockfile(g_trace);
        fprintf(g_trace, "C %llu %lld %lld %lld\n", (unsigned long long)(uintptr_t)ctx, (long long)queued_ns, (long long)start,
                (long long)end);
        fflush(g_trace);
        funlockfile(g_trace);
    }
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

/* Locked. Done with an item: drop its references and free it. */
static void finish_locked(work *w) {
    q_len--;
    obj_unref(w->obj);
    if (w->op) obj_unref(&w->op->o);
    free(w->data);
    free(w);
}

static void *dispatcher_main(void *arg) {
    (void)arg;
    emu_lock();
    for (;;) {
        work *w = dequeue_locked(&q_events);
        if (w->kind == WORK_COMPLETION) run_completion((emu_op *)w->obj, w->queued_ns);
        else run_event((emu_handle *)w->obj, w);
        finish_locked(w);
    }
    return NULL;
}

static void *completion_main(void *arg) {
    (void)arg;
    emu_lock();
    for (;;) {
        work *w = dequeue_locked(&q_completions);
        run_completion((emu_op *)w->obj, w->queued_ns);
        finish_locked(w);
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
