/*
 * emu.h: internal declarations shared by the emulator library's C files (not installed, not
 * part of the ABI).
 *
 * Concurrency model, in one place:
 *  - one process-wide mutex (emu_lock) guards the handle registry, every object's state, the
 *    pending-request table and the connection pointer. It is never held while a user callback runs
 *    or while blocking on the socket.
 *  - one reader thread per connection decodes frames, completes operations and queues callbacks;
 *  - one dispatcher thread (process-wide) runs every user callback, in arrival order. Keeping
 *    callbacks off the reader thread means a caller blocked in a synchronous call (Open) can always
 *    be answered, even while a callback waits for a busy JS main thread.
 *  - handle values are ids (never reused), so a stale handle is detected, never dereferenced.
 */
#ifndef HCS_EMULATOR_EMU_H
#define HCS_EMULATOR_EMU_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "computecore.h"

enum emu_kind { OBJ_OPERATION = 1, OBJ_SYSTEM = 2, OBJ_PROCESS = 3 };
enum emu_op_state { OP_IDLE = 0, OP_PENDING = 1, OP_DONE = 2 };

/* Wire ops (PROTOCOL.md, REQUEST table). */
enum emu_wire_op {
    W_ENUMERATE = 1, W_CREATE = 2, W_OPEN = 3, W_CLOSE_SYSTEM = 4, W_START = 5, W_SHUTDOWN = 6,
    W_TERMINATE = 7, W_PAUSE = 8, W_RESUME = 9, W_GET_PROPERTIES = 10, W_MODIFY = 11,
    W_CREATE_PROCESS = 12, W_OPEN_PROCESS = 13, W_CLOSE_PROCESS = 14, W_TERMINATE_PROCESS = 15,
    W_GET_PROCESS_PROPERTIES = 16, W_GET_PROCESS_INFO = 17, W_SIGNAL_PROCESS = 18, W_MODIFY_PROCESS = 19,
    W_GRANT_VM_ACCESS = 20, W_REVOKE_VM_ACCESS = 21
};

typedef struct emu_obj emu_obj;

/* vmcompute.dll's notification callback: (notificationType, context, notificationStatus, notificationData)
 * (hcsshim internal/hcs/callback.go notificationWatcher). */
typedef void (*emu_v1_callback)(uint32_t type, void *context, int32_t status, const char16_t *data);

/* A vmcompute notification waiting for its callback to be registered. */
typedef struct emu_v1_note {
    struct emu_v1_note *next;
    uint32_t type;
    int32_t status;
    char16_t *data;
} emu_v1_note;
struct emu_obj {
    uint64_t id;
    int kind;
    int refs;        /* the registry holds one while registered; users take more under the lock */
    int registered;  /* 0 once closed: invisible to lookups, no new callbacks start */
    emu_obj *next;   /* registry bucket chain */
};

/* A system or process handle. */
typedef struct emu_handle {
    emu_obj o;
    uint64_t conn_gen;   /* connection the service knows this handle on */
    int invalid;         /* the connection dropped: calls fail with E_HANDLE, close still works */
    uint32_t pid;        /* process handles: the process id once known */
    uint64_t system_id;  /* process handles: the system handle it was made from */
    HCS_EVENT_CALLBACK callback;
    void *context;
    uint32_t options;    /* HCS_EVENT_OPTIONS */
    int in_flight;       /* callbacks for this handle running right now */
    pthread_cond_t idle; /* signalled when in_flight drops */
    /* vmcompute.dll (schema 1.0) handles: the HcsRegister*Callback notification callback, and the
     * completions that arrived before it was registered (delivered on registration). */
    emu_v1_callback v1_callback;
    void *v1_context;
    struct emu_v1_note *v1_backlog;
} emu_handle;

typedef struct emu_op {
    emu_obj o;
    int internal;        /* a private op backing a synchronous call; never registered */
    void *context;
    HCS_OPERATION_COMPLETION callback;
    int state;           /* enum emu_op_state */
    int32_t type;        /* HCS_OPERATION_TYPE of the last call */
    HRESULT result;
    char16_t *doc;       /* owned result document or NULL */
    uint32_t pid;        /* process id reported by the last call */
    uint64_t system_id;  /* handle ids the last call targeted (0 if none) */
    uint64_t process_id;
    void *std[3];        /* CreateProcess: StdInput/StdOutput/StdError HANDLEs (stdio.c), caller-owned */
    pthread_cond_t done;
} emu_op;

/* One request to the service (conn_submit). */
typedef struct emu_request {
    uint32_t wire_op;
    int32_t type;          /* HCS_OPERATION_TYPE recorded on the op */
    emu_handle *target;    /* must be valid on the live connection, or NULL */
    emu_handle *created;   /* registered on the live connection if the request is sent, or NULL */
    uint32_t num;
    const char16_t *a, *b;
} emu_request;

/* ---- registry.c ---- */
void emu_lock(void);
void emu_unlock(void);
uint64_t emu_next_id(void);
void obj_register(emu_obj *o);                    /* locked; adds the registry's reference */
void obj_unregister(emu_obj *o);                  /* locked; drops it (may free) */
emu_obj *obj_find(uint64_t id, int kind);         /* locked; registered objects only, no ref */
void obj_ref(emu_obj *o);                         /* locked */
void obj_unref(emu_obj *o);                       /* locked; frees at zero */
uint32_t obj_count(void);                         /* locked */
void obj_each(void (*fn)(emu_obj *, void *), void *arg); /* locked */
emu_handle *handle_new(int kind);
emu_op *op_new(int internal);
int emu_cond_wait(pthread_cond_t *cond, const struct timespec *deadline); /* locked; 1 = timed out */
void emu_deadline(struct timespec *ts, uint32_t ms);
void emu_cond_init(pthread_cond_t *cond);

/* ---- dispatch.c ---- */
void dispatch_start(void);
int dispatch_is_self(void);
void dispatch_op_locked(emu_op *op);              /* locked; completion callback (takes a ref) */
void dispatch_event_locked(emu_handle *h, int32_t type, char16_t *data, emu_op *op); /* owns data */
void dispatch_v1_locked(emu_handle *h, uint32_t type, int32_t status, char16_t *data); /* owns data */
uint32_t dispatch_in_flight(void);                /* locked */
void op_complete_locked(emu_op *op, HRESULT hr, uint32_t pid, char16_t *doc); /* owns doc */

/* ---- conn.c ---- */
HRESULT conn_submit(emu_op *op, const emu_request *req);
void conn_send_close(uint32_t wire_op, uint64_t conn_gen, uint64_t handle_id);
int conn_is_connected(void);

/* ---- stdio.c ---- */
/* Opens the streams in `mask` (1 in, 2 out, 4 err) of a CreateProcess RESPONSE; unlocked. */
void stdio_open_streams(uint64_t token, uint32_t mask, void *out[3]);

/* ---- wire.c ---- */
typedef struct emu_buf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} emu_buf;
void buf_u32(emu_buf *b, uint32_t v);
void buf_u64(emu_buf *b, uint64_t v);
void buf_str16(emu_buf *b, const char16_t *s);   /* UTF-16 in, UTF-8 string field out */
void buf_free(emu_buf *b);

typedef struct emu_rd {
    const uint8_t *p;
    size_t len, off;
    int err;
} emu_rd;
uint32_t rd_u32(emu_rd *r);
uint64_t rd_u64(emu_rd *r);
char16_t *rd_str16(emu_rd *r);                    /* malloc'd UTF-16 or NULL (absent or error) */
char16_t *u16_dup(const char16_t *s);
size_t u16_len(const char16_t *s);

/* ---- api helpers (operation.c) ---- */
emu_op *op_acquire(HCS_OPERATION operation);      /* locked; registered op with a ref, or NULL */
emu_handle *handle_acquire(void *handle, int kind); /* locked; registered handle with a ref, or NULL */
HRESULT op_wait_locked(emu_op *op, uint32_t timeout_ms);
HRESULT emu_call(HCS_OPERATION operation, void *handle, int kind, emu_request *req);
HRESULT emu_call_sync(void *handle, int kind, emu_request *req);
/* Runs a synchronous Open* for the new handle req->created (its id already set), stores the handle value in
 * *out on success, and drops the creation reference. */
HRESULT emu_open_sync(void *target, int kind, emu_request *req, void **out);
void handle_close(void *handle, int kind, uint32_t wire_op);

/* ---- handles.c (shared by the computecore and vmcompute exports) ---- */
/* A new handle with a library-chosen id; for a process also its system handle and pid. NULL: out of memory. */
emu_handle *handle_new_id(int kind, void *system, uint32_t pid);
/* Stores the new handle's value in *out when `ok`, drops the creation reference, returns hr. */
HRESULT handle_hand_out(emu_handle *h, HRESULT hr, int ok, void **out);
/* HcsOpenComputeSystem / HcsOpenProcess of both APIs (synchronous). */
HRESULT emu_open_system(PCWSTR id, void **out);
HRESULT emu_open_process(void *system, uint32_t pid, void **out);
HRESULT emu_set_callback(void *handle, int kind, uint32_t options, const void *context, HCS_EVENT_CALLBACK cb);

#define EMU_HANDLE_VALUE(id) ((void *)(uintptr_t)(id))
#define EMU_HANDLE_ID(h) ((uint64_t)(uintptr_t)(h))

#endif /* HCS_EMULATOR_EMU_H */
