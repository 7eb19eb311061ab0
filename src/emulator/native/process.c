/*
 * process.c: the process exports (prototypes from windows-rs / the Win32 metadata, see
 * computecore.h), plus the two string-free functions and the HcsEmu* inspection exports.
 */
#include <stdlib.h>

#include "emu.h"

static HRESULT process_call(HCS_PROCESS process, HCS_OPERATION operation, uint32_t wire_op, int32_t type, PCWSTR a) {
    emu_request req = {wire_op, type, NULL, NULL, 0, a, NULL};
    return emu_call(operation, process, OBJ_PROCESS, &req);
}

/* Returns the HCS_PROCESS at once; the process id comes with the operation's result
 * (HcsGetOperationResultAndProcessInfo). */
HRESULT HcsCreateProcess(HCS_SYSTEM computeSystem, PCWSTR processParameters, HCS_OPERATION operation,
                         const SECURITY_DESCRIPTOR *securityDescriptor, HCS_PROCESS *process) {
    if (!process) return E_POINTER;
    *process = NULL;
    if (!processParameters || securityDescriptor) return E_INVALIDARG;
    emu_handle *h = handle_new(OBJ_PROCESS);
    if (!h) return E_OUTOFMEMORY;
    emu_lock();
    h->o.id = emu_next_id();
    h->system_id = EMU_HANDLE_ID(computeSystem);
    emu_unlock();
    emu_request req = {W_CREATE_PROCESS, HcsOperationTypeCreateProcess, NULL, h, 0, processParameters, NULL};
    HRESULT hr = emu_call(operation, computeSystem, OBJ_SYSTEM, &req);
    if (hr >= 0) *process = (HCS_PROCESS)EMU_HANDLE_VALUE(h->o.id);
    emu_lock();
    obj_unref(&h->o);
    emu_unlock();
    return hr;
}

/* Synchronous, like HcsOpenComputeSystem. */
HRESULT HcsOpenProcess(HCS_SYSTEM computeSystem, DWORD processId, DWORD requestedAccess, HCS_PROCESS *process) {
    (void)requestedAccess;
    if (!process) return E_POINTER;
    *process = NULL;
    emu_handle *h = handle_new(OBJ_PROCESS);
    if (!h) return E_OUTOFMEMORY;
    emu_lock();
    h->o.id = emu_next_id();
    h->system_id = EMU_HANDLE_ID(computeSystem);
    h->pid = processId;
    emu_unlock();
    emu_request req = {W_OPEN_PROCESS, HcsOperationTypeNone, NULL, h, processId, NULL, NULL};
    return emu_open_sync(computeSystem, OBJ_SYSTEM, &req, (void **)process);
}

void HcsCloseProcess(HCS_PROCESS process) { handle_close(process, OBJ_PROCESS, W_CLOSE_PROCESS); }

/* HCS_OPERATION_TYPE has no TerminateProcess value; SignalProcess is the closest (UNVERIFIED). */
HRESULT HcsTerminateProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR options) {
    return process_call(process, operation, W_TERMINATE_PROCESS, HcsOperationTypeSignalProcess, options);
}

HRESULT HcsSignalProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR options) {
    return process_call(process, operation, W_SIGNAL_PROCESS, HcsOperationTypeSignalProcess, options);
}

HRESULT HcsGetProcessInfo(HCS_PROCESS process, HCS_OPERATION operation) {
    return process_call(process, operation, W_GET_PROCESS_INFO, HcsOperationTypeGetProcessInfo, NULL);
}

HRESULT HcsGetProcessProperties(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR propertyQuery) {
    return process_call(process, operation, W_GET_PROCESS_PROPERTIES, HcsOperationTypeGetProcessProperties,
                        propertyQuery);
}

HRESULT HcsModifyProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR settings) {
    if (!settings) return E_INVALIDARG;
    return process_call(process, operation, W_MODIFY_PROCESS, HcsOperationTypeModifyProcess, settings);
}

HRESULT HcsSetProcessCallback(HCS_PROCESS process, HCS_EVENT_OPTIONS callbackOptions, const void *context,
                              HCS_EVENT_CALLBACK callback) {
    return emu_set_callback(process, OBJ_PROCESS, (uint32_t)callbackOptions, context, callback);
}

/* Result documents are malloc'd here, so both Windows free functions map to free(). LocalFree
 * returns NULL on success, like kernel32's. */
void *LocalFree(void *mem) {
    free(mem);
    return NULL;
}

void CoTaskMemFree(void *mem) { free(mem); }

uint32_t HcsEmuOpenHandleCount(void) {
    emu_lock();
    uint32_t n = obj_count();
    emu_unlock();
    return n;
}

uint32_t HcsEmuCallbacksInFlight(void) {
    emu_lock();
    uint32_t n = dispatch_in_flight();
    emu_unlock();
    return n;
}

int32_t HcsEmuIsConnected(void) {
    emu_lock();
    int32_t c = conn_is_connected();
    emu_unlock();
    return c;
}
