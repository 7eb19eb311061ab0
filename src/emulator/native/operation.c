/*
 * operation.c: HCS_OPERATION exports, and the helpers every call goes through (emu_call for
 * asynchronous calls, emu_call_sync for the synchronous Open calls, handle_close).
 *
 * An operation is IDLE until used (Get/Wait -> HCS_E_OPERATION_NOT_STARTED), PENDING while the
 * service works (Get -> HCS_E_OPERATION_PENDING, a new call -> HCS_E_OPERATION_ALREADY_STARTED),
 * then DONE; a DONE operation can be reused for the next call, as the HCS tutorial does.
 */
#include <stdlib.h>
#include <string.h>

#include "emu.h"

#define HCS_E_OPERATION_RESULT_ALLOCATION_FAILED ((HRESULT)0x8037011A)

emu_op *op_acquire(HCS_OPERATION operation) {
    emu_obj *o = obj_find(EMU_HANDLE_ID(operation), OBJ_OPERATION);
    if (o) obj_ref(o);
    return (emu_op *)o;
}

emu_handle *handle_acquire(void *handle, int kind) {
    emu_obj *o = obj_find(EMU_HANDLE_ID(handle), kind);
    if (o) obj_ref(o);
    return (emu_handle *)o;
}

/* Locked. Waits until the op is no longer pending or the timeout (INFINITE_TIMEOUT: none) passes. */
HRESULT op_wait_locked(emu_op *op, uint32_t timeout_ms) {
    struct timespec deadline;
    if (timeout_ms != INFINITE_TIMEOUT) emu_deadline(&deadline, timeout_ms);
    while (op->state == OP_PENDING) {
        if (emu_cond_wait(&op->done, timeout_ms == INFINITE_TIMEOUT ? NULL : &deadline)) break;
    }
    return op->state == OP_PENDING ? HCS_E_OPERATION_TIMEOUT : op->result;
}

/* Locked. Why a call may not start on this op/target before anything is sent. */
static HRESULT precheck_locked(const emu_op *op, const emu_handle *target, int kind) {
    if (!op) return E_HANDLE;
    if (kind && (!target || target->invalid)) return E_HANDLE;
    if (op->state == OP_PENDING) return HCS_E_OPERATION_ALREADY_STARTED;
    if (op->callback && target && target->o.kind == OBJ_SYSTEM &&
        (target->options & HcsEventOptionEnableOperationCallbacks)) {
        return HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET;
    }
    return S_OK;
}

/* Starts an asynchronous call on `operation` targeting `handle` (of `kind`, or 0 for none). */
HRESULT emu_call(HCS_OPERATION operation, void *handle, int kind, emu_request *req) {
    emu_lock();
    emu_op *op = op_acquire(operation);
    emu_handle *h = kind ? handle_acquire(handle, kind) : NULL;
    HRESULT hr = precheck_locked(op, h, kind);
    emu_unlock();
    req->target = h;
    if (hr == S_OK) hr = conn_submit(op, req);
    emu_lock();
    if (op) obj_unref(&op->o);
    if (h) obj_unref(&h->o);
    emu_unlock();
    return hr;
}

/* A synchronous call (HcsOpenComputeSystem, HcsOpenProcess): a private op, waited on here. On
 * failure the new handle is closed again (the service registers new handles on arrival, so it
 * is told too); the caller never sees it. */
HRESULT emu_call_sync(void *handle, int kind, emu_request *req) {
    emu_op *op = op_new(1);
    if (!op) return E_OUTOFMEMORY;
    emu_lock();
    emu_handle *h = kind ? handle_acquire(handle, kind) : NULL;
    HRESULT hr = precheck_locked(op, h, kind);
    emu_unlock();
    req->target = h;
    if (hr == S_OK) hr = conn_submit(op, req);
    emu_lock();
    if (hr == S_OK) hr = op_wait_locked(op, INFINITE_TIMEOUT);
    obj_unref(&op->o);
    if (h) obj_unref(&h->o);
    emu_unlock();
    if (hr < 0 && req->created) {
        int kind_created = req->created->o.kind;
        handle_close(EMU_HANDLE_VALUE(req->created->o.id), kind_created,
                     kind_created == OBJ_SYSTEM ? W_CLOSE_SYSTEM : W_CLOSE_PROCESS);
    }
    return hr;
}

/* HcsCloseComputeSystem / HcsCloseProcess. */
void handle_close(void *handle, int kind, uint32_t wire_op) {
    emu_lock();
    emu_handle *h = handle_acquire(handle, kind);
    if (!h) {
        emu_unlock();
        return;
    }
    obj_unregister(&h->o); /* no new callback starts from here on */
    /* Wait for a running callback to return, so none runs after close returns. On the
     * dispatcher thread itself that callback is our caller: waiting would never end. */
    if (!dispatch_is_self()) {
        while (h->in_flight > 0) emu_cond_wait(&h->idle, NULL);
    }
    int tell_service = !h->invalid;
    uint64_t gen = h->conn_gen, id = h->o.id;
    emu_unlock();
    if (tell_service) conn_send_close(wire_op, gen, id);
    emu_lock();
    obj_unref(&h->o);
    emu_unlock();
}

HCS_OPERATION HcsCreateOperation(const void *context, HCS_OPERATION_COMPLETION callback) {
    emu_op *op = op_new(0);
    if (!op) return NULL;
    op->context = (void *)context;
    op->callback = callback;
    emu_lock();
    op->o.id = emu_next_id();
    obj_register(&op->o);
    obj_unref(&op->o); /* the registry's reference is the only one now */
    emu_unlock();
    return (HCS_OPERATION)EMU_HANDLE_VALUE(op->o.id);
}

/* Never waits: a pending op is abandoned (its answer is discarded, as HCS does), and a completion
 * callback running right now keeps the object alive until it returns. */
void HcsCloseOperation(HCS_OPERATION operation) {
    emu_lock();
    emu_obj *o = obj_find(EMU_HANDLE_ID(operation), OBJ_OPERATION);
    if (o) obj_unregister(o);
    emu_unlock();
}

void *HcsGetOperationContext(HCS_OPERATION operation) {
    emu_lock();
    emu_obj *o = obj_find(EMU_HANDLE_ID(operation), OBJ_OPERATION);
    void *ctx = o ? ((emu_op *)o)->context : NULL;
    emu_unlock();
    return ctx;
}

HRESULT HcsSetOperationContext(HCS_OPERATION operation, const void *context) {
    emu_lock();
    emu_obj *o = obj_find(EMU_HANDLE_ID(operation), OBJ_OPERATION);
    if (o) ((emu_op *)o)->context = (void *)context;
    emu_unlock();
    return o ? S_OK : E_HANDLE;
}

HRESULT HcsSetOperationCallback(HCS_OPERATION operation, const void *context, HCS_OPERATION_COMPLETION callback) {
    emu_lock();
    emu_obj *o = obj_find(EMU_HANDLE_ID(operation), OBJ_OPERATION);
    if (o) {
        ((emu_op *)o)->context = (void *)context;
        ((emu_op *)o)->callback = callback;
    }
    emu_unlock();
    return o ? S_OK : E_HANDLE;
}

enum op_field { F_TYPE, F_SYSTEM, F_PROCESS, F_ID };

/* Reads one field of an operation; an unknown handle reads as HcsOperationTypeNone / NULL / 0. */
static uint64_t op_field(HCS_OPERATION operation, enum op_field which) {
    emu_lock();
    emu_op *op = (emu_op *)obj_find(EMU_HANDLE_ID(operation), OBJ_OPERATION);
    uint64_t v = 0;
    switch (which) {
    case F_TYPE: v = (uint64_t)(int64_t)(op ? op->type : HcsOperationTypeNone); break;
    case F_SYSTEM: v = op ? op->system_id : 0; break;
    case F_PROCESS: v = op ? op->process_id : 0; break;
    case F_ID: v = op ? op->o.id : 0; break;
    }
    emu_unlock();
    return v;
}

HCS_OPERATION_TYPE HcsGetOperationType(HCS_OPERATION operation) {
    return (HCS_OPERATION_TYPE)(int32_t)op_field(operation, F_TYPE);
}
HCS_SYSTEM HcsGetComputeSystemFromOperation(HCS_OPERATION operation) {
    return (HCS_SYSTEM)EMU_HANDLE_VALUE(op_field(operation, F_SYSTEM));
}
HCS_PROCESS HcsGetProcessFromOperation(HCS_OPERATION operation) {
    return (HCS_PROCESS)EMU_HANDLE_VALUE(op_field(operation, F_PROCESS));
}
uint64_t HcsGetOperationId(HCS_OPERATION operation) { return op_field(operation, F_ID); }

/* Locked. The process id for HCS_PROCESS_INFORMATION: the answer's, else the process handle's. */
static uint32_t op_pid_locked(const emu_op *op) {
    if (op->pid) return op->pid;
    emu_obj *p = op->process_id ? obj_find(op->process_id, OBJ_PROCESS) : NULL;
    return p ? ((emu_handle *)p)->pid : 0;
}

static HRESULT op_result(HCS_OPERATION operation, int wait, uint32_t timeout_ms, HCS_PROCESS_INFORMATION *info,
                         PWSTR *doc) {
    if (doc) *doc = NULL;
    if (info) memset(info, 0, sizeof *info);
    emu_lock();
    emu_op *op = op_acquire(operation);
    HRESULT hr = op ? S_OK : E_HANDLE;
    if (op && op->state == OP_IDLE) hr = HCS_E_OPERATION_NOT_STARTED;
    else if (op && wait) hr = op_wait_locked(op, timeout_ms);
    else if (op) hr = op->state == OP_PENDING ? HCS_E_OPERATION_PENDING : op->result;
    if (op && op->state == OP_DONE) {
        if (doc && op->doc && !(*doc = u16_dup(op->doc))) hr = HCS_E_OPERATION_RESULT_ALLOCATION_FAILED;
        if (info) {
            info->ProcessId = op_pid_locked(op);
            info->StdInput = op->std[0];
            info->StdOutput = op->std[1];
            info->StdError = op->std[2];
        }
    }
    if (op) obj_unref(&op->o);
    emu_unlock();
    return hr;
}

HRESULT HcsGetOperationResult(HCS_OPERATION operation, PWSTR *resultDocument) {
    return op_result(operation, 0, 0, NULL, resultDocument);
}

HRESULT HcsGetOperationResultAndProcessInfo(HCS_OPERATION operation, HCS_PROCESS_INFORMATION *processInformation,
                                            PWSTR *resultDocument) {
    if (!processInformation) return E_POINTER;
    return op_result(operation, 0, 0, processInformation, resultDocument);
}

HRESULT HcsWaitForOperationResult(HCS_OPERATION operation, DWORD timeoutMs, PWSTR *resultDocument) {
    return op_result(operation, 1, timeoutMs, NULL, resultDocument);
}

HRESULT HcsWaitForOperationResultAndProcessInfo(HCS_OPERATION operation, DWORD timeoutMs,
                                                HCS_PROCESS_INFORMATION *processInformation,
                                                PWSTR *resultDocument) {
    if (!processInformation) return E_POINTER;
    return op_result(operation, 1, timeoutMs, processInformation, resultDocument);
}

/* Documented as not implemented in computecore.dll: always E_NOTIMPL for a valid operation. */
HRESULT HcsCancelOperation(HCS_OPERATION operation) {
    emu_lock();
    emu_obj *o = obj_find(EMU_HANDLE_ID(operation), OBJ_OPERATION);
    emu_unlock();
    return o ? E_NOTIMPL : E_HANDLE;
}

HRESULT emu_open_sync(void *target, int kind, emu_request *req, void **out) {
    emu_handle *h = req->created;
    HRESULT hr = emu_call_sync(target, kind, req);
    if (hr >= 0) *out = (void *)EMU_HANDLE_VALUE(h->o.id);
    emu_lock();
    obj_unref(&h->o);
    emu_unlock();
    return hr;
}
