/*
 * The vmcompute.dll scratch ("sandbox") exports, emulated, in libvmcompute.so next to layers-vmcompute.c
 * (which has DestroyLayer, LayerExists and the DriverInfo convention). Prototypes: provisioning.md 1.4,
 * from [SHIM] internal/wclayer/wclayer.go and layerutils.go:
 *   HRESULT CreateSandboxLayer(DriverInfo*, PCWSTR id, PCWSTR parent, WC_LAYER_DESCRIPTOR* layers, ULONG count);
 *   HRESULT ExpandSandboxSize(DriverInfo*, PCWSTR id, ULONGLONG sizeInBytes);
 *   HRESULT ActivateLayer(DriverInfo*, PCWSTR id);
 *   HRESULT DeactivateLayer(DriverInfo*, PCWSTR id);
 *   HRESULT PrepareLayer(DriverInfo*, PCWSTR id, WC_LAYER_DESCRIPTOR* layers, ULONG count);
 *   HRESULT UnprepareLayer(DriverInfo*, PCWSTR id);
 *   HRESULT GetLayerMountPath(DriverInfo*, PCWSTR id, SIZE_T* length, PWSTR buffer);
 * The scratch folder and its sandbox.vhdx are files (they survive a reboot, as on Windows); whether a
 * scratch is activated (its VHDX attached, a volume \\?\Volume{GUID} exists) and prepared (the WCIFS
 * filter over its parents) is machine state, kept by the emulated service (hostcall.c) so that it outlives
 * the controller and vanishes on `emulator reboot`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "host.h"
#include "layers.h"

#define MARKER ".hcsemu-layer"
#define SANDBOX "sandbox.vhdx"
#define ERROR_INSUFFICIENT_BUFFER 122
/* "the C: drive in a Windows container represents a virtual free size of 20GB" ([MSDOCS] container-storage.md). */
#define DEFAULT_SANDBOX_BYTES 21474836480ull

static char *scratch_path(const DriverInfo *info, const char16_t *id) {
    if (!info || info->Flavour != 1 || !id || !id[0]) return NULL; /* FilterDriver only, as layers-vmcompute.c */
    char *p = lyr_utf8_of(id);
    if (info->HomeDir && info->HomeDir[0]) {
        char *home = lyr_utf8_of(info->HomeDir), *j = lyr_join2(home, p);
        free(home); free(p);
        return j;
    }
    return p;
}

static int file_exists(const char *p) { struct stat st; return stat(p, &st) == 0 && S_ISREG(st.st_mode); }

static unsigned long long read_size(const char *dir) {
    char *m = lyr_join2(dir, MARKER);
    FILE *f = fopen(m, "r");
    free(m);
    unsigned long long size = 0;
    char line[128];
    while (f && fgets(line, sizeof line, f)) sscanf(line, "size=%llu", &size);
    if (f) fclose(f);
    return size;
}

static HRESULT write_size(const char *dir, unsigned long long size) {
    char *m = lyr_join2(dir, MARKER);
    FILE *f = fopen(m, "w");
    free(m);
    if (!f) return HR_WIN32(lyr_win32_of_errno(errno));
    fprintf(f, "kind=sandbox\nsize=%llu\n", size);
    return fclose(f) == 0 ? S_OK : HR_WIN32(ERROR_WRITE_FAULT);
}

/*
 * Makes `id` a writable layer over `layers` (top-most first, base last): the base layer's blank.vhdx
 * becomes <id>\sandbox.vhdx ("a recreation of what HCS' CreateSandboxLayer does", [CTRD]
 * copyScratchDisk). CHOICE: the folder may exist but must not hold a sandbox.vhdx yet.
 */
EXPORT HRESULT CreateSandboxLayer(const DriverInfo *info, const char16_t *id, const char16_t *parent, const WC_LAYER_DESCRIPTOR *layers, uint32_t count) {
    (void)parent; /* hcsshim passes 0 */
    char *dir = scratch_path(info, id);
    if (!dir || count == 0 || !layers || !layers[count - 1].Path) { free(dir); return E_INVALIDARG; }
    char *base = lyr_utf8_of(layers[count - 1].Path), *blank = lyr_join2(base, "blank.vhdx"), *vhd = lyr_join2(dir, SANDBOX);
    HRESULT hr = S_OK;
    if (!file_exists(blank)) hr = HR_WIN32(ERROR_FILE_NOT_FOUND);
    else if (file_exists(vhd)) hr = HR_WIN32(ERROR_FILE_EXISTS);
    else if (mkdir(dir, 0755) != 0 && errno != EEXIST) hr = HR_WIN32(lyr_win32_of_errno(errno));
    if (hr == S_OK) {
        int in = open(blank, O_RDONLY | O_CLOEXEC), out = open(vhd, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        char buf[8192];
        ssize_t n;
        if (in < 0 || out < 0) hr = HR_WIN32(lyr_win32_of_errno(errno));
        while (hr == S_OK && (n = read(in, buf, sizeof buf)) > 0) if (write(out, buf, (size_t)n) != n) hr = HR_WIN32(ERROR_WRITE_FAULT);
        if (in >= 0) close(in);
        if (out >= 0 && close(out) != 0 && hr == S_OK) hr = HR_WIN32(ERROR_WRITE_FAULT);
    }
    if (hr == S_OK) hr = write_size(dir, DEFAULT_SANDBOX_BYTES);
    if (hr == S_OK) lyr_notify("CreateSandboxLayer", dir);
    free(base); free(blank); free(vhd); free(dir);
    return hr;
}

/* CHOICE (UNVERIFIED what Windows does with a smaller size): shrinking is E_INVALIDARG, as VHDX expansion only grows. */
EXPORT HRESULT ExpandSandboxSize(const DriverInfo *info, const char16_t *id, uint64_t bytes) {
    char *dir = scratch_path(info, id);
    if (!dir) return E_INVALIDARG;
    char *vhd = lyr_join2(dir, SANDBOX);
    HRESULT hr = S_OK;
    if (!file_exists(vhd)) hr = HR_WIN32(ERROR_FILE_NOT_FOUND);
    else if (bytes < read_size(dir)) hr = E_INVALIDARG;
    else hr = write_size(dir, bytes);
    if (hr == S_OK) lyr_notify("ExpandSandboxSize", dir);
    free(vhd); free(dir);
    return hr;
}

/*
 * vmcompute.dll's layer calls run in the vmcompute service on Windows; here the file work is done in
 * the caller, and the service only hears of it for its call log (`emulator calls`), so a test can
 * check which scratch calls a change made. The answer is ignored: the call's result stays the file work's.
 */
void lyr_notify(const char *api, const char *dir) {
    char *res = NULL, *er = NULL;
    (void)host_call(api, dir, NULL, NULL, &res, &er);
    free(res); free(er);
}

/* A call on the service about one scratch folder; `extra` is an optional second argument. */
static HRESULT volume_call(const char *api, const DriverInfo *info, const char16_t *id, const char *extra, char **result) {
    char *dir = scratch_path(info, id);
    if (!dir) return E_INVALIDARG;
    char *res = NULL, *er = NULL;
    HRESULT hr = host_call(api, dir, extra, NULL, &res, &er);
    free(er); free(dir);
    if (result) *result = res; else free(res);
    return hr;
}

/* Attaches <id>\sandbox.vhdx: the service gives it a volume. */
EXPORT HRESULT ActivateLayer(const DriverInfo *info, const char16_t *id) {
    char *dir = scratch_path(info, id);
    if (!dir) return E_INVALIDARG;
    char *vhd = lyr_join2(dir, SANDBOX);
    int ok = file_exists(vhd);
    free(vhd); free(dir);
    if (!ok) return HR_WIN32(ERROR_PATH_NOT_FOUND);
    return volume_call("ActivateLayer", info, id, NULL, NULL);
}

EXPORT HRESULT DeactivateLayer(const DriverInfo *info, const char16_t *id) { return volume_call("DeactivateLayer", info, id, NULL, NULL); }

/* Enables the filter over the parents (their paths go to the service, one a line, top-most first). */
EXPORT HRESULT PrepareLayer(const DriverInfo *info, const char16_t *id, const WC_LAYER_DESCRIPTOR *layers, uint32_t count) {
    if (count == 0 || !layers) return E_INVALIDARG;
    size_t cap = 1, len = 0;
    char *paths = calloc(1, 1);
    for (uint32_t i = 0; paths && i < count; i++) {
        if (!layers[i].Path) { free(paths); return E_INVALIDARG; }
        char *p = lyr_utf8_of(layers[i].Path);
        size_t n = strlen(p);
        char *grown = realloc(paths, cap + n + 1);
        if (!grown) { free(p); free(paths); return HR_WIN32(ERROR_NOT_ENOUGH_MEMORY); }
        paths = grown;
        memcpy(paths + len, p, n);
        len += n;
        paths[len++] = '\n';
        paths[len] = 0;
        cap += n + 1;
        free(p);
    }
    if (!paths) return HR_WIN32(ERROR_NOT_ENOUGH_MEMORY);
    HRESULT hr = volume_call("PrepareLayer", info, id, paths, NULL);
    free(paths);
    return hr;
}

EXPORT HRESULT UnprepareLayer(const DriverInfo *info, const char16_t *id) { return volume_call("UnprepareLayer", info, id, NULL, NULL); }

/*
 * Two-call pattern ([SHIM] getlayermountpath.go): with buffer NULL, *length receives the size in
 * UTF-16 units; hcsshim treats a length of 0 as "no mount path", which is what a scratch that is not
 * activated gets here (CHOICE, UNVERIFIED on Windows). The length counts the terminating NUL (UNVERIFIED).
 */
EXPORT HRESULT GetLayerMountPath(const DriverInfo *info, const char16_t *id, size_t *length, char16_t *buffer) {
    if (!length) return E_INVALIDARG;
    char *path = NULL;
    HRESULT hr = volume_call("GetLayerMountPath", info, id, NULL, &path);
    if (hr < 0) { free(path); return hr; }
    char16_t *w = host_utf16(path ? path : "");
    free(path);
    if (!w) return HR_WIN32(ERROR_NOT_ENOUGH_MEMORY);
    size_t n = 0;
    while (w[n]) n++;
    size_t need = n == 0 ? 0 : n + 1;
    if (buffer) {
        if (*length < need) hr = HR_WIN32(ERROR_INSUFFICIENT_BUFFER);
        else if (need) memcpy(buffer, w, need * sizeof *w);
        else if (*length > 0) buffer[0] = 0;
    }
    *length = need;
    free(w);
    return hr;
}
