/*
 * vmcompute.c: the compute-system exports of vmcompute.dll (the HCS v1 C API Docker uses for
 * schema 1.0 documents), for libvmcompute.so, on the same emulated service as libcomputecore.so.
 *
 * Prototypes: hcsshim internal/vmcompute/vmcompute.go (//sys lines): every call returns an HRESULT
 * and hands documents back through `PWSTR *` out-params (freed by the caller with CoTaskMemFree,
 * hcsshim interop.ConvertAndFreeCoTaskMemString). Asynchronous calls return
 * ERROR_VMCOMPUTE_OPERATION_PENDING (0xC0370103) and complete through the notification callback
 * registered with HcsRegisterComputeSystemCallback (hcsshim internal/hcs/callback.go numbering):
 *   Create → SystemCreateCompleted (2), Start → SystemStartCompleted (3), Pause → 4, Resume → 5,
 *   ShutDown: accepted; the exit is SystemExited (1), a failure SystemShutdownFailed (0xA).
 * Terminate, GetProperties, Modify, Enumerate, Open and all process calls complete before they
 * return (hcsshim checks their result synchronously). A completion that arrives before a callback
 * is registered is kept and delivered on registration (hcsshim registers right after the call
 * returns; UNVERIFIED how HCS orders this).
 */
#include <stdlib.h>
#include <string.h>

/* computecore.h declares the v2 functions of the same names with other prototypes: hide them here. */
#define HcsEnumerateComputeSystems cc_HcsEnumerateComputeSystems
#define HcsCreateComputeSystem cc_HcsCreateComputeSystem
#define HcsOpenComputeSystem cc_HcsOpenComputeSystem
#define HcsCloseComputeSystem cc_HcsCloseComputeSystem
#define HcsStartComputeSystem cc_HcsStartComputeSystem
#define HcsTerminateComputeSystem cc_HcsTerminateComputeSystem
#define HcsPauseComputeSystem cc_HcsPauseComputeSystem
#define HcsResumeComputeSystem cc_HcsResumeComputeSystem
#define HcsGetComputeSystemProperties cc_HcsGetComputeSystemProperties
#define HcsModifyComputeSystem cc_HcsModifyComputeSystem
#define HcsCreateProcess cc_HcsCreateProcess
#define HcsOpenProcess cc_HcsOpenProcess
#define HcsCloseProcess cc_HcsCloseProcess
#define HcsTerminateProcess cc_HcsTerminateProcess
#define HcsSignalProcess cc_HcsSignalProcess
#define HcsGetProcessInfo cc_HcsGetProcessInfo
#define HcsGetProcessProperties cc_HcsGetProcessProperties
#define HcsModifyProcess cc_HcsModifyProcess
#include "emu.h"
#undef HcsEnumerateComputeSystems
#undef HcsCreateComputeSystem
#undef HcsOpenComputeSystem
#undef HcsCloseComputeSystem
#undef HcsStartComputeSystem
#undef HcsTerminateComputeSystem
#undef HcsPauseComputeSystem
#undef HcsResumeComputeSystem
#undef HcsGetComputeSystemProperties
#undef HcsModifyComputeSystem
#undef HcsCreateProcess
#undef HcsOpenProcess
#undef HcsCloseProcess
#undef HcsTerminateProcess
#undef HcsSignalProcess
#undef HcsGetProcessInfo
#undef HcsGetProcessProperties
#undef HcsModifyProcess

#define ERROR_VMCOMPUTE_OPERATION_PENDING ((HRESULT)0xC0370103)
#define N_SYSTEM_EXITED 0x1u
#define N_CREATE_COMPLETED 0x2u
#define N_START_COMPLETED 0x3u
#define N_PAUSE_COMPLETED 0x4u
#define N_RESUME_COMPLETED 0x5u
#define N_SHUTDOWN_FAILED 0xAu

typedef void *HCS_CALLBACK;
typedef struct HCS_PROCESS_INFORMATION_V1 {
    DWORD ProcessId;
    DWORD Reserved;
    HANDLE StdInput;
    HANDLE StdOutput;
    HANDLE StdError;
} HCS_PROCESS_INFORMATION_V1;

static void set_out(PWSTR *out, char16_t *doc) {
    if (out) *out = doc;
    else free(doc);
}

/* A request answered before returning: result document and pid copied out. */
static HRESULT sync_call(void *handle, int kind, emu_request *req, char16_t **doc, uint32_t *pid) {
    if (doc) *doc = NULL;
    emu_op *op = op_new(1);
    if (!op) return E_OUTOFMEMORY;
    emu_lock();
    emu_handle *h = kind ? handle_acquire(handle, kind) : NULL;
    HRESULT hr = kind && (!h || h->invalid) ? E_HANDLE : S_OK;
    emu_unlock();
    req->target = h;
    if (hr == S_OK) hr = conn_submit(op, req);
    emu_lock();
    if (hr == S_OK) {
        hr = op_wait_locked(op, INFINITE_TIMEOUT);
        if (doc && op->doc) *doc = u16_dup(op->doc);
        if (pid) *pid = op->pid;
    }
    obj_unref(&op->o);
    if (h) obj_unref(&h->o);
    emu_unlock();
    return hr;
}

/* Splits a document between the success out-param and the error out-param. */
static HRESULT finish(HRESULT hr, char16_t *doc, PWSTR *okOut, PWSTR *result) {
    if (hr >= 0 && okOut) set_out(okOut, doc);
    else set_out(result, doc);
    return hr;
}

/* ---- asynchronous completion as notifications ---- */

typedef struct pending_note {
    uint64_t system_id;
    uint32_t type;
    uint32_t failure_type; /* notification for a failure (ShutDown: SystemShutdownFailed), 0 = same */
} pending_note;

/* Locked. Queues a notification for a handle, or keeps it until a callback is registered. */
static void notify_locked(emu_handle *h, uint32_t type, int32_t status, char16_t *data) {
    if (h->v1_callback) {
        dispatch_v1_locked(h, type, status, data);
        return;
    }
    emu_v1_note *n = calloc(1, sizeof *n);
    if (!n) {
        free(data);
        return;
    }
    n->type = type;
    n->status = status;
    n->data = data;
    emu_v1_note **tail = &h->v1_backlog;
    while (*tail) tail = &(*tail)->next;
    *tail = n;
}

/* The completion of an asynchronous call (on the dispatcher thread, unlocked). */
static void on_complete(HCS_OPERATION operation, void *context) {
    pending_note *pn = context;
    PWSTR doc = NULL;
    HRESULT hr = HcsGetOperationResult(operation, &doc);
    HcsCloseOperation(operation);
    uint32_t type = hr < 0 && pn->failure_type ? pn->failure_type : pn->type;
    emu_lock();
    emu_handle *h = (emu_handle *)obj_find(pn->system_id, OBJ_SYSTEM);
    if (h && type) notify_locked(h, type, hr, doc);
    else free(doc);
    emu_unlock();
    free(pn);
}

/* Starts a call that completes later; returns ERROR_VMCOMPUTE_OPERATION_PENDING once it is sent. */
static HRESULT async_call(HCS_SYSTEM system, emu_request *req, uint32_t type, uint32_t failure_type) {
    pending_note *pn = calloc(1, sizeof *pn);
    if (!pn) return E_OUTOFMEMORY;
    pn->system_id = req->created ? req->created->o.id : EMU_HANDLE_ID(system);
    pn->type = type;
    pn->failure_type = failure_type;
    HCS_OPERATION op = HcsCreateOperation(pn, on_complete);
    if (!op) {
        free(pn);
        return E_OUTOFMEMORY;
    }
    HRESULT hr = emu_call(op, req->created ? NULL : system, req->created ? 0 : OBJ_SYSTEM, req);
    if (hr < 0) {
        HcsCloseOperation(op);
        free(pn);
        return hr;
    }
    return ERROR_VMCOMPUTE_OPERATION_PENDING;
}

/* ---- compute systems ---- */

HCS_API HRESULT HcsEnumerateComputeSystems(PCWSTR query, PWSTR *computeSystems, PWSTR *result) {
    if (computeSystems) *computeSystems = NULL;
    if (result) *result = NULL;
    emu_request req = {W_ENUMERATE, HcsOperationTypeEnumerate, NULL, NULL, 0, query, NULL};
    char16_t *doc = NULL;
    HRESULT hr = sync_call(NULL, 0, &req, &doc, NULL);
    return finish(hr, doc, computeSystems, result);
}

/* The handle is valid at once; the creation completes with SystemCreateCompleted. identity (an
 * impersonation token on Windows) has no meaning here and must be NULL. */
HCS_API HRESULT HcsCreateComputeSystem(PCWSTR id, PCWSTR configuration, HANDLE identity, HCS_SYSTEM *computeSystem,
                                       PWSTR *result) {
    if (result) *result = NULL;
    if (!computeSystem) return E_POINTER;
    *computeSystem = NULL;
    if (!id || !configuration || identity) return E_INVALIDARG;
    emu_handle *h = handle_new_id(OBJ_SYSTEM, NULL, 0);
    if (!h) return E_OUTOFMEMORY;
    emu_request req = {W_CREATE, HcsOperationTypeCreate, NULL, h, 0, id, configuration};
    HRESULT hr = async_call(NULL, &req, N_CREATE_COMPLETED, 0);
    return handle_hand_out(h, hr, hr >= 0 || hr == ERROR_VMCOMPUTE_OPERATION_PENDING, (void **)computeSystem);
}

HCS_API HRESULT HcsOpenComputeSystem(PCWSTR id, HCS_SYSTEM *computeSystem, PWSTR *result) {
    if (result) *result = NULL;
    return emu_open_system(id, (void **)computeSystem);
}

HCS_API HRESULT HcsCloseComputeSystem(HCS_SYSTEM computeSystem) {
    emu_lock();
    int known = obj_find(EMU_HANDLE_ID(computeSystem), OBJ_SYSTEM) != NULL;
    emu_unlock();
    if (!known) return E_HANDLE;
    handle_close(computeSystem, OBJ_SYSTEM, W_CLOSE_SYSTEM);
    return S_OK;
}

HCS_API HRESULT HcsStartComputeSystem(HCS_SYSTEM computeSystem, PCWSTR options, PWSTR *result) {
    if (result) *result = NULL;
    emu_request req = {W_START, HcsOperationTypeStart, NULL, NULL, 0, options, NULL};
    return async_call(computeSystem, &req, N_START_COMPLETED, 0);
}

HCS_API HRESULT HcsShutdownComputeSystem(HCS_SYSTEM computeSystem, PCWSTR options, PWSTR *result) {
    if (result) *result = NULL;
    emu_request req = {W_SHUTDOWN, HcsOperationTypeShutdown, NULL, NULL, 0, options, NULL};
    return async_call(computeSystem, &req, 0, N_SHUTDOWN_FAILED);
}

HCS_API HRESULT HcsTerminateComputeSystem(HCS_SYSTEM computeSystem, PCWSTR options, PWSTR *result) {
    emu_request req = {W_TERMINATE, HcsOperationTypeTerminate, NULL, NULL, 0, options, NULL};
    char16_t *doc = NULL;
    HRESULT hr = sync_call(computeSystem, OBJ_SYSTEM, &req, &doc, NULL);
    return finish(hr, doc, NULL, result);
}

HCS_API HRESULT HcsPauseComputeSystem(HCS_SYSTEM computeSystem, PCWSTR options, PWSTR *result) {
    if (result) *result = NULL;
    emu_request req = {W_PAUSE, HcsOperationTypePause, NULL, NULL, 0, options, NULL};
    return async_call(computeSystem, &req, N_PAUSE_COMPLETED, 0);
}

HCS_API HRESULT HcsResumeComputeSystem(HCS_SYSTEM computeSystem, PCWSTR options, PWSTR *result) {
    if (result) *result = NULL;
    emu_request req = {W_RESUME, HcsOperationTypeResume, NULL, NULL, 0, options, NULL};
    return async_call(computeSystem, &req, N_RESUME_COMPLETED, 0);
}

HCS_API HRESULT HcsGetComputeSystemProperties(HCS_SYSTEM computeSystem, PCWSTR propertyQuery, PWSTR *properties,
                                              PWSTR *result) {
    if (properties) *properties = NULL;
    if (result) *result = NULL;
    emu_request req = {W_GET_PROPERTIES, HcsOperationTypeGetProperties, NULL, NULL, 0, propertyQuery, NULL};
    char16_t *doc = NULL;
    HRESULT hr = sync_call(computeSystem, OBJ_SYSTEM, &req, &doc, NULL);
    return finish(hr, doc, properties, result);
}

HCS_API HRESULT HcsModifyComputeSystem(HCS_SYSTEM computeSystem, PCWSTR configuration, PWSTR *result) {
    if (result) *result = NULL;
    if (!configuration) return E_INVALIDARG;
    emu_request req = {W_MODIFY, HcsOperationTypeModify, NULL, NULL, 0, configuration, NULL};
    char16_t *doc = NULL;
    HRESULT hr = sync_call(computeSystem, OBJ_SYSTEM, &req, &doc, NULL);
    return finish(hr, doc, NULL, result);
}

/* One registration per handle ([MSDOCS] HCSHResult.md HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET);
 * the callback handle is the system/process handle value. Kept completions are delivered now. */
static HRESULT register_v1(void *handle, int kind, emu_v1_callback cb, void *context, HCS_CALLBACK *out) {
    if (!out) return E_POINTER;
    *out = NULL;
    if (!cb) return E_INVALIDARG;
    emu_lock();
    emu_handle *h = (emu_handle *)obj_find(EMU_HANDLE_ID(handle), kind);
    HRESULT hr = !h || h->invalid ? E_HANDLE : h->v1_callback ? HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET : S_OK;
    if (hr == S_OK) {
        h->v1_callback = cb;
        h->v1_context = context;
        emu_v1_note *n = h->v1_backlog;
        h->v1_backlog = NULL;
        while (n) {
            emu_v1_note *next = n->next;
            dispatch_v1_locked(h, n->type, n->status, n->data);
            free(n);
            n = next;
        }
        *out = handle;
    }
    emu_unlock();
    return hr;
}

/* Waits for a running notification of the handle to return (not on the dispatcher thread). */
static HRESULT unregister_v1(HCS_CALLBACK callbackHandle) {
    emu_lock();
    emu_handle *h = (emu_handle *)obj_find(EMU_HANDLE_ID(callbackHandle), OBJ_SYSTEM);
    if (!h) h = (emu_handle *)obj_find(EMU_HANDLE_ID(callbackHandle), OBJ_PROCESS);
    HRESULT hr = h && h->v1_callback ? S_OK : E_HANDLE;
    if (hr == S_OK) {
        h->v1_callback = NULL;
        h->v1_context = NULL;
        if (!dispatch_is_self()) {
            while (h->in_flight > 0) emu_cond_wait(&h->idle, NULL);
        }
    }
    emu_unlock();
    return hr;
}

HCS_API HRESULT HcsRegisterComputeSystemCallback(HCS_SYSTEM computeSystem, emu_v1_callback callback, void *context,
                                                 HCS_CALLBACK *callbackHandle) {
    return register_v1(computeSystem, OBJ_SYSTEM, callback, context, callbackHandle);
}

HCS_API HRESULT HcsUnregisterComputeSystemCallback(HCS_CALLBACK callbackHandle) { return unregister_v1(callbackHandle); }

/* ---- processes ---- */

HCS_API HRESULT HcsCreateProcess(HCS_SYSTEM computeSystem, PCWSTR processParameters,
                                 HCS_PROCESS_INFORMATION_V1 *processInformation, HCS_PROCESS *process, PWSTR *result) {
    if (result) *result = NULL;
    if (!process || !processInformation) return E_POINTER;
    *process = NULL;
    memset(processInformation, 0, sizeof *processInformation);
    if (!processParameters) return E_INVALIDARG;
    emu_handle *h = handle_new_id(OBJ_PROCESS, computeSystem, 0);
    if (!h) return E_OUTOFMEMORY;
    emu_request req = {W_CREATE_PROCESS, HcsOperationTypeCreateProcess, NULL, h, 0, processParameters, NULL};
    char16_t *doc = NULL;
    uint32_t pid = 0;
    HRESULT hr = sync_call(computeSystem, OBJ_SYSTEM, &req, &doc, &pid);
    if (hr >= 0) {
        emu_lock();
        h->pid = pid;
        emu_unlock();
        processInformation->ProcessId = pid;
        *process = (HCS_PROCESS)EMU_HANDLE_VALUE(h->o.id);
        free(doc);
        doc = NULL;
    } else if (h->o.registered) {
        handle_close(EMU_HANDLE_VALUE(h->o.id), OBJ_PROCESS, W_CLOSE_PROCESS);
    }
    emu_lock();
    obj_unref(&h->o);
    emu_unlock();
    return finish(hr, doc, NULL, result);
}

HCS_API HRESULT HcsOpenProcess(HCS_SYSTEM computeSystem, DWORD processId, HCS_PROCESS *process, PWSTR *result) {
    if (result) *result = NULL;
    return emu_open_process(computeSystem, processId, (void **)process);
}

HCS_API HRESULT HcsCloseProcess(HCS_PROCESS process) {
    emu_lock();
    int known = obj_find(EMU_HANDLE_ID(process), OBJ_PROCESS) != NULL;
    emu_unlock();
    if (!known) return E_HANDLE;
    handle_close(process, OBJ_PROCESS, W_CLOSE_PROCESS);
    return S_OK;
}

static HRESULT process_sync(HCS_PROCESS process, uint32_t wire_op, int32_t type, PCWSTR a, PWSTR *okOut, PWSTR *result,
                            uint32_t *pid) {
    if (okOut) *okOut = NULL;
    if (result) *result = NULL;
    emu_request req = {wire_op, type, NULL, NULL, 0, a, NULL};
    char16_t *doc = NULL;
    HRESULT hr = sync_call(process, OBJ_PROCESS, &req, &doc, pid);
    return finish(hr, doc, okOut, result);
}

HCS_API HRESULT HcsTerminateProcess(HCS_PROCESS process, PWSTR *result) {
    return process_sync(process, W_TERMINATE_PROCESS, HcsOperationTypeSignalProcess, NULL, NULL, result, NULL);
}

HCS_API HRESULT HcsSignalProcess(HCS_PROCESS process, PCWSTR options, PWSTR *result) {
    return process_sync(process, W_SIGNAL_PROCESS, HcsOperationTypeSignalProcess, options, NULL, result, NULL);
}

HCS_API HRESULT HcsGetProcessInfo(HCS_PROCESS process, HCS_PROCESS_INFORMATION_V1 *processInformation, PWSTR *result) {
    if (!processInformation) return E_POINTER;
    memset(processInformation, 0, sizeof *processInformation);
    uint32_t pid = 0;
    HRESULT hr = process_sync(process, W_GET_PROCESS_INFO, HcsOperationTypeGetProcessInfo, NULL, NULL, result, &pid);
    if (hr >= 0) processInformation->ProcessId = pid;
    return hr;
}

HCS_API HRESULT HcsGetProcessProperties(HCS_PROCESS process, PWSTR *processProperties, PWSTR *result) {
    return process_sync(process, W_GET_PROCESS_PROPERTIES, HcsOperationTypeGetProcessProperties, NULL, processProperties,
                        result, NULL);
}

HCS_API HRESULT HcsModifyProcess(HCS_PROCESS process, PCWSTR settings, PWSTR *result) {
    if (!settings) return E_INVALIDARG;
    return process_sync(process, W_MODIFY_PROCESS, HcsOperationTypeModifyProcess, settings, NULL, result, NULL);
}

HCS_API HRESULT HcsRegisterProcessCallback(HCS_PROCESS process, emu_v1_callback callback, void *context,
                                           HCS_CALLBACK *callbackHandle) {
    return register_v1(process, OBJ_PROCESS, callback, context, callbackHandle);
}

HCS_API HRESULT HcsUnregisterProcessCallback(HCS_CALLBACK callbackHandle) { return unregister_v1(callbackHandle); }

/* LocalFree, CoTaskMemFree and the HcsEmu* inspection exports: handles.c, as in libcomputecore.so. */
