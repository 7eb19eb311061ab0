/*
 * system.c: the compute-system exports. Each one validates its arguments the way the Windows
 * API does (E_POINTER for a missing out-param, E_INVALIDARG for a missing required string or a
 * non-NULL reserved argument, E_HANDLE for an unknown/closed/invalidated handle) and then starts
 * the request; the outcome arrives through the operation.
 */
#include <stddef.h>

#include "emu.h"

static HRESULT system_call(HCS_SYSTEM system, HCS_OPERATION operation, uint32_t wire_op, int32_t type, PCWSTR a) {
    emu_request req = {wire_op, type, NULL, NULL, 0, a, NULL};
    return emu_call(operation, system, OBJ_SYSTEM, &req);
}

HRESULT HcsEnumerateComputeSystems(PCWSTR query, HCS_OPERATION operation) {
    emu_request req = {W_ENUMERATE, HcsOperationTypeEnumerate, NULL, NULL, 0, query, NULL};
    return emu_call(operation, NULL, 0, &req);
}

/* The handle is returned at once, before the operation completes (library-chosen id). If the
 * creation then fails, the caller still owns the handle and closes it. */
HRESULT HcsCreateComputeSystem(PCWSTR id, PCWSTR configuration, HCS_OPERATION operation,
                               const SECURITY_DESCRIPTOR *securityDescriptor, HCS_SYSTEM *computeSystem) {
    if (!computeSystem) return E_POINTER;
    *computeSystem = NULL;
    if (!id || !configuration || securityDescriptor) return E_INVALIDARG;
    emu_handle *h = handle_new_id(OBJ_SYSTEM, NULL, 0);
    if (!h) return E_OUTOFMEMORY;
    emu_request req = {W_CREATE, HcsOperationTypeCreate, NULL, h, 0, id, configuration};
    HRESULT hr = emu_call(operation, NULL, 0, &req);
    return handle_hand_out(h, hr, hr >= 0, (void **)computeSystem);
}

/* Synchronous, like the real API (handles.c). */
HRESULT HcsOpenComputeSystem(PCWSTR id, DWORD requestedAccess, HCS_SYSTEM *computeSystem) {
    (void)requestedAccess;
    return emu_open_system(id, (void **)computeSystem);
}

void HcsCloseComputeSystem(HCS_SYSTEM computeSystem) { handle_close(computeSystem, OBJ_SYSTEM, W_CLOSE_SYSTEM); }

HRESULT HcsStartComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options) {
    return system_call(computeSystem, operation, W_START, HcsOperationTypeStart, options);
}

HRESULT HcsShutDownComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options) {
    return system_call(computeSystem, operation, W_SHUTDOWN, HcsOperationTypeShutdown, options);
}

HRESULT HcsTerminateComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options) {
    return system_call(computeSystem, operation, W_TERMINATE, HcsOperationTypeTerminate, options);
}

HRESULT HcsPauseComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options) {
    return system_call(computeSystem, operation, W_PAUSE, HcsOperationTypePause, options);
}

HRESULT HcsResumeComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options) {
    return system_call(computeSystem, operation, W_RESUME, HcsOperationTypeResume, options);
}

HRESULT HcsGetComputeSystemProperties(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR propertyQuery) {
    return system_call(computeSystem, operation, W_GET_PROPERTIES, HcsOperationTypeGetProperties, propertyQuery);
}

/* identity (an access token on Windows) has no meaning here and is ignored. */
HRESULT HcsModifyComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR configuration,
                               HANDLE identity) {
    (void)identity;
    if (!configuration) return E_INVALIDARG;
    return system_call(computeSystem, operation, W_MODIFY, HcsOperationTypeModify, configuration);
}

/* Shared by systems and processes: stores the callback locally; the service sends events for
 * every open handle and the library filters (PROTOCOL.md, EVENT). A NULL callback removes it.
 * A second registration while one is set fails: [MSDOCS] HCSHResult.md,
 * HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET "An event callback has already been registered on
 * this handle" (audit D23). */
HRESULT emu_set_callback(void *handle, int kind, uint32_t options, const void *context, HCS_EVENT_CALLBACK cb) {
    emu_lock();
    emu_obj *o = obj_find(EMU_HANDLE_ID(handle), kind);
    emu_handle *h = (emu_handle *)o;
    HRESULT hr = !h || h->invalid ? E_HANDLE : S_OK;
    if (hr == S_OK && cb && h->callback) hr = HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET;
    if (hr == S_OK) {
        h->options = options;
        h->context = (void *)context;
        h->callback = cb;
    }
    emu_unlock();
    return hr;
}

/* HcsGrantVmAccess / HcsRevokeVmAccess (computecore.dll, [MSDOCS] HcsGrantVmAccess.md): synchronous;
 * the service records the grant, and a VM whose disks were not granted cannot start (audit D3). */
HCS_API HRESULT HcsGrantVmAccess(PCWSTR vmId, PCWSTR filePath) {
    if (!vmId || !filePath) return E_INVALIDARG;
    emu_request req = {W_GRANT_VM_ACCESS, HcsOperationTypeNone, NULL, NULL, 0, vmId, filePath};
    return emu_call_sync(NULL, 0, &req);
}

HCS_API HRESULT HcsRevokeVmAccess(PCWSTR vmId, PCWSTR filePath) {
    if (!vmId || !filePath) return E_INVALIDARG;
    emu_request req = {W_REVOKE_VM_ACCESS, HcsOperationTypeNone, NULL, NULL, 0, vmId, filePath};
    return emu_call_sync(NULL, 0, &req);
}

HRESULT HcsSetComputeSystemCallback(HCS_SYSTEM computeSystem, HCS_EVENT_OPTIONS callbackOptions, const void *context,
                                    HCS_EVENT_CALLBACK callback) {
    return emu_set_callback(computeSystem, OBJ_SYSTEM, (uint32_t)callbackOptions, context, callback);
}
