/*
 * handles.c: what the computecore exports (system.c, process.c) and the vmcompute exports
 * (vmcompute.c) share: a new handle with a library-chosen id, handing it out, the synchronous
 * Open of a system or process, and the free/inspection exports both libraries have. The two APIs
 * differ only in how calls complete (operations vs. PWSTR* results and notifications).
 */
#include <stdlib.h>

#include "emu.h"

emu_handle *handle_new_id(int kind, void *system, uint32_t pid) {
    emu_handle *h = handle_new(kind);
    if (!h) return NULL;
    emu_lock();
    h->o.id = emu_next_id();
    if (kind == OBJ_PROCESS) {
        h->system_id = EMU_HANDLE_ID(system);
        h->pid = pid;
    }
    emu_unlock();
    return h;
}

HRESULT handle_hand_out(emu_handle *h, HRESULT hr, int ok, void **out) {
    if (ok) *out = (void *)EMU_HANDLE_VALUE(h->o.id);
    emu_lock();
    obj_unref(&h->o);
    emu_unlock();
    return hr;
}

/* Synchronous in both APIs; computecore's requestedAccess ("must be GENERIC_ALL") is not checked. */
HRESULT emu_open_system(PCWSTR id, void **out) {
    if (!out) return E_POINTER;
    *out = NULL;
    if (!id) return E_INVALIDARG;
    emu_handle *h = handle_new_id(OBJ_SYSTEM, NULL, 0);
    if (!h) return E_OUTOFMEMORY;
    emu_request req = {W_OPEN, HcsOperationTypeNone, NULL, h, 0, id, NULL};
    return emu_open_sync(NULL, 0, &req, out);
}

HRESULT emu_open_process(void *system, uint32_t pid, void **out) {
    if (!out) return E_POINTER;
    *out = NULL;
    emu_handle *h = handle_new_id(OBJ_PROCESS, system, pid);
    if (!h) return E_OUTOFMEMORY;
    emu_request req = {W_OPEN_PROCESS, HcsOperationTypeNone, NULL, h, pid, NULL, NULL};
    return emu_open_sync(system, OBJ_SYSTEM, &req, out);
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
