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
    emu_handle *h = handle_new_id(OBJ_PROCESS, computeSystem, 0);
    if (!h) return E_OUTOFMEMORY;
    emu_request req = {W_CREATE_PROCESS, HcsOperationTypeCreateProcess, NULL, h, 0, processParameters, NULL};
    HRESULT hr = emu_call(operation, computeSystem, OBJ_SYSTEM, &req);
    return handle_hand_out(h, hr, hr >= 0, (void **)process);
}

/* Synchronous, like HcsOpenComputeSystem (handles.c). */
HRESULT HcsOpenProcess(HCS_SYSTEM computeSystem, DWORD processId, DWORD requestedAccess, HCS_PROCESS *process) {
    (void)requestedAccess;
    return emu_open_process(computeSystem, processId, (void **)process);
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

/* LocalFree, CoTaskMemFree and the HcsEmu* inspection exports are in handles.c. */
