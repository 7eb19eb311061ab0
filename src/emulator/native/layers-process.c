/*
 * The vmcompute.dll exports that post-process a layer written in place, emulated (prototypes:
 * provisioning.md 1.4, from [SHIM] internal/wclayer/wclayer.go):
 *   HRESULT ProcessBaseImage(PCWSTR path);
 *   HRESULT ProcessUtilityImage(PCWSTR path);
 * In libvmcompute.so with layers-vmcompute.c (the other layer exports and the helpers shared here).
 * The on-disk form is described in layers.c.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "layers.h"

static const char *HIVES[] = {"DEFAULT", "SAM", "SECURITY", "SOFTWARE", "SYSTEM"};

/*
 * Post-processes a base layer written with BackupWrite under <path>\Files ([SHIM] baselayerwriter.go).
 * CHOICE (UNVERIFIED which files Windows requires and creates): the five config hives must exist
 * (hcsshim's ConvertToBaseLayer creates missing ones first, so the API evidently needs them);
 * blank-base.vhdx and blank.vhdx are created (containerd copies blank.vhdx from every base layer).
 */
EXPORT HRESULT ProcessBaseImage(const char16_t *path16) {
    if (!path16 || !path16[0]) return E_INVALIDARG;
    if (!lyr_privileges_ok()) return HR_WIN32(ERROR_PRIVILEGE_NOT_HELD);
    char *path = lyr_utf8_of(path16);
    HRESULT hr = S_OK;
    char *files = lyr_join2(path, "Files"), *marker = lyr_join2(path, LYR_MARKER);
    if (!lyr_is_dir(path) || !lyr_is_dir(files)) hr = HR_WIN32(ERROR_PATH_NOT_FOUND);
    else if (lyr_exists(marker)) hr = HR_WIN32(ERROR_ALREADY_EXISTS);
    for (size_t i = 0; hr == S_OK && i < sizeof HIVES / sizeof *HIVES; i++) {
        char *h = NULL;
        if (asprintf(&h, "%s/Windows/System32/config/%s", files, HIVES[i]) < 0) { hr = E_INVALIDARG; break; }
        if (!lyr_exists(h)) hr = HR_WIN32(ERROR_FILE_NOT_FOUND);
        free(h);
    }
    static const char *vhds[] = {"blank-base.vhdx", "blank.vhdx"};
    for (size_t i = 0; hr == S_OK && i < 2; i++) {
        char *v = lyr_join2(path, vhds[i]);
        FILE *f = fopen(v, "w");
        free(v);
        if (!f || fputs("HCSEMU-VHDX placeholder\n", f) < 0 || fclose(f) != 0) hr = HR_WIN32(ERROR_WRITE_FAULT);
    }
    if (hr == S_OK) hr = lyr_write_marker(path, "kind=base\n");
    free(files); free(marker); free(path);
    return hr;
}

/* The BCD store and its logs, which utility VM processing changes ([SHIM] legacy.go mutatedUtilityVMFiles). */
static const char *BCD_FILES[] = {"BCD", "BCD.LOG", "BCD.LOG1", "BCD.LOG2"};

/*
 * The layer a UtilityVM folder is in must be processed already: a base layer (ProcessBaseImage,
 * [SHIM] baselayerwriter.go Close calls it first) or a non-base layer (ImportLayer: [SHIM]
 * importlayer.go legacyLayerWriterWrapper.Close calls ProcessUtilityVMImage after it).
 */
static int processed_layer(const char *layer) {
    char *m = lyr_join2(layer, LYR_MARKER);
    FILE *f = fopen(m, "r");
    free(m);
    char kind[64] = "";
    if (f) { if (!fgets(kind, sizeof kind, f)) kind[0] = 0; fclose(f); }
    return strcmp(kind, "kind=base\n") == 0 || strcmp(kind, "kind=import\n") == 0;
}

/*
 * Models the change processing makes to the boot files: each BCD file there gets a line naming the
 * UtilityVM folder it was processed for, written through the file (so a hard link would carry it
 * to the parent layer: the reason hcsshim's cloneTree copies these files instead of linking them,
 * legacy.go "files that will be mutated during utility VM import must be copied"). CHOICE: the
 * content of the change is the emulator's; that there is one comes from that source.
 */
static HRESULT mutate_bcd(const char *boot, const char *uvm) {
    for (size_t i = 0; i < sizeof BCD_FILES / sizeof *BCD_FILES; i++) {
        char *b = lyr_join2(boot, BCD_FILES[i]);
        FILE *f = lyr_exists(b) ? fopen(b, "a") : NULL;
        int bad = lyr_exists(b) && (!f || fprintf(f, "\nhcsemu: ProcessUtilityImage %s", uvm) < 0);
        if (f && fclose(f) != 0) bad = 1;
        free(b);
        if (bad) return HR_WIN32(ERROR_WRITE_FAULT);
    }
    return S_OK;
}

/*
 * Post-processes the utility VM image of a layer, <layer>\UtilityVM, whose files are under
 * <path>\Files ([SHIM] processimage.go ProcessUtilityVMImage: "The files should have been extracted
 * to <path>\Files"). hcsshim calls it for a base layer after ProcessBaseImage when the tar had
 * `UtilityVM/Files` (baselayerwriter.go Close), and for a non-base layer whose tar touched the
 * UtilityVM after ImportLayer, the links and the directory times (importlayer.go
 * legacyLayerWriterWrapper.Close), so the folder's layer must be processed or imported. It creates
 * SystemTemplate.vhdx, the file containerd copies as the utility VM's scratch ([CTRD] common.go
 * createUVMScratchLayer, provisioning.md 2.5), and changes the BCD files (mutate_bcd).
 * Refused: a folder not named UtilityVM or without Files\ (ERROR_PATH_NOT_FOUND); a UtilityVM that
 * is a reparse point (hcsshim refuses it before the call, EnsureNotReparsePointRelative; what Windows
 * does is UNVERIFIED) or in an unprocessed layer (ERROR_INVALID_DATA); no
 * Files\EFI\Microsoft\Boot\BCD (ERROR_FILE_NOT_FOUND: CHOICE, processing changes it, legacy.go
 * BcdFilePath / mutatedUtilityVMFiles).
 * CHOICE (UNVERIFIED): a second call on the same folder is ERROR_ALREADY_EXISTS, and the same
 * privileges as ProcessBaseImage are required.
 */
EXPORT HRESULT ProcessUtilityImage(const char16_t *path16) {
    if (!path16 || !path16[0]) return E_INVALIDARG;
    if (!lyr_privileges_ok()) return HR_WIN32(ERROR_PRIVILEGE_NOT_HELD);
    char *path = lyr_utf8_of(path16);
    HRESULT hr = S_OK;
    char *files = lyr_join2(path, "Files"), *done = lyr_join2(path, LYR_MARKER), *parent = strdup(path);
    char *boot = lyr_join2(files, "EFI/Microsoft/Boot"), *bcd = lyr_join2(boot, "BCD");
    char *slash = strrchr(parent, '/');
    if (slash) *slash = 0;
    const char *leaf = slash ? slash + 1 : path;
    if (strcmp(leaf, "UtilityVM") != 0 || !lyr_is_dir(path) || !lyr_is_dir(files)) hr = HR_WIN32(ERROR_PATH_NOT_FOUND);
    else if ((lyr_attributes_of(path) & FILE_ATTRIBUTE_REPARSE_POINT) || !processed_layer(parent)) hr = HR_WIN32(ERROR_INVALID_DATA);
    else if (lyr_exists(done)) hr = HR_WIN32(ERROR_ALREADY_EXISTS);
    else if (!lyr_exists(bcd)) hr = HR_WIN32(ERROR_FILE_NOT_FOUND);
    if (hr == S_OK) {
        char *v = lyr_join2(path, "SystemTemplate.vhdx");
        FILE *f = fopen(v, "w");
        free(v);
        if (!f || fputs("HCSEMU-VHDX placeholder (utility VM scratch template)\n", f) < 0 || fclose(f) != 0) hr = HR_WIN32(ERROR_WRITE_FAULT);
    }
    if (hr == S_OK) hr = mutate_bcd(boot, path);
    if (hr == S_OK) hr = lyr_write_marker(path, "kind=utilityvm\n");
    free(files); free(done); free(parent); free(boot); free(bcd); free(path);
    return hr;
}
