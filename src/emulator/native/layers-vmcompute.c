/*
 * The vmcompute.dll layer exports, emulated (prototypes: provisioning.md 1.4, from [SHIM]
 * internal/wclayer/wclayer.go and layerutils.go):
 *   HRESULT NameToGuid(PCWSTR name, GUID *guid);
 *   HRESULT ImportLayer(DriverInfo *info, PCWSTR id, PCWSTR importFolderPath, WC_LAYER_DESCRIPTOR *parents, ULONG count);
 *   HRESULT DestroyLayer(DriverInfo *info, PCWSTR id);
 *   HRESULT LayerExists(DriverInfo *info, PCWSTR id, DWORD *exists);
 * `id` is the layer path joined to DriverInfo.HomeDir (hcsshim passes HomeDir "" and the full path).
 * ProcessBaseImage and ProcessUtilityImage are in layers-process.c. The on-disk form is described in layers.c.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "layers.h"

#include "sibling.h"

#define DIRS_SUFFIX ".$wcidirs$"

typedef struct { uint32_t Data1; uint16_t Data2, Data3; uint8_t Data4[8]; } GUID;

/*
 * The process token lives in the kernel32 stand-in (kernel32/files.c: AdjustTokenPrivileges is a
 * kernelbase export on Windows), the sibling libkernel32-emu.so; it is found the way stdio.c finds
 * it. Without it nothing holds the privileges.
 */
typedef BOOL (*held_fn)(void);
static held_fn g_held;
static pthread_once_t g_held_once = PTHREAD_ONCE_INIT;

static void held_init(void) {
    g_held = (held_fn)emu_sibling_symbol("libkernel32-emu.so", "Kernel32EmuBackupPrivilegesHeld", "layer privileges");
}

int lyr_privileges_ok(void) {
    pthread_once(&g_held_once, held_init);
    return g_held && g_held();
}

int lyr_is_dir(const char *p) { struct stat st; return stat(p, &st) == 0 && S_ISDIR(st.st_mode); }
int lyr_exists(const char *p) { struct stat st; return lstat(p, &st) == 0; }

static char *layer_path(const DriverInfo *info, const char16_t *id) {
    if (!info || info->Flavour != 1 || !id || !id[0]) return NULL; /* FilterDriver only (hcsshim stdDriverInfo) */
    char *p = lyr_utf8_of(id);
    if (info->HomeDir && info->HomeDir[0]) {
        char *home = lyr_utf8_of(info->HomeDir), *j = lyr_join2(home, p);
        free(home); free(p);
        return j;
    }
    return p;
}

HRESULT lyr_write_marker(const char *layer, const char *text) {
    char *m = lyr_join2(layer, LYR_MARKER);
    FILE *f = fopen(m, "w");
    free(m);
    if (!f) return HR_WIN32(lyr_win32_of_errno(errno));
    fputs(text, f);
    return fclose(f) == 0 ? S_OK : HR_WIN32(ERROR_WRITE_FAULT);
}

/*
 * "using the algorithm in the Host Compute Service, ensuring GUIDs generated with the same string are
 * common across all clients" ([SHIM] layerid.go). The real algorithm is unpublished (provisioning.md
 * 0.3): the emulator returns its own deterministic GUID (FNV-1a over the UTF-16 units), version 5.
 */
EXPORT HRESULT NameToGuid(const char16_t *name, GUID *guid) {
    if (!name || !guid) return E_INVALIDARG;
    uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
    for (size_t i = 0; name[i]; i++) {
        h1 = (h1 ^ name[i]) * 0x100000001b3ull;
        h2 = (h2 ^ (name[i] + 0x9e37u)) * 0x100000001b3ull;
    }
    uint8_t b[16];
    memcpy(b, &h1, 8);
    memcpy(b + 8, &h2, 8);
    b[7] = (uint8_t)((b[7] & 0x0f) | 0x50); /* version 5 (high nibble of Data3), like observed Docker layer ids */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    memcpy(&guid->Data1, b, 4); memcpy(&guid->Data2, b + 4, 2); memcpy(&guid->Data3, b + 6, 2); memcpy(guid->Data4, b + 8, 8);
    return S_OK;
}

/* Reads a whole transport-format file and decodes it into `dst` (attributes, then a backup stream). */
static DWORD decode_transport(const char *src, const char *dst, int dir) {
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return lyr_win32_of_errno(errno);
    efile ef;
    memset(&ef, 0, sizeof ef);
    ef.ads_fd = -1;
    ef.is_dir = dir;
    ef.path = strdup(dst);
    ef.fd = dir ? -1 : open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    DWORD e = (!dir && ef.fd < 0) ? lyr_win32_of_errno(errno) : ERROR_SUCCESS;
    uint32_t attr = 0;
    if (!e && read(in, &attr, 4) != 4) e = ERROR_INVALID_DATA;
    if (!e && (((attr & FILE_ATTRIBUTE_DIRECTORY) != 0) != (dir != 0))) e = ERROR_INVALID_DATA;
    uint8_t buf[65536];
    ssize_t n;
    while (!e && (n = read(in, buf, sizeof buf)) > 0) e = lyr_feed(&ef, buf, (size_t)n);
    if (!e && lyr_mid_record(&ef)) e = ERROR_INVALID_DATA;
    close(in);
    /* Times come from the transport file's own basic info (hcsshim sets it with attributes 0). */
    char *meta = lyr_sidecar(src, ".meta", 0);
    FILE *mf = meta ? fopen(meta, "r") : NULL;
    if (mf) {
        long long c = 0, a = 0, w = 0, ch = 0;
        char line[256];
        while (fgets(line, sizeof line, mf)) {
            sscanf(line, "creation=%lld", &c); sscanf(line, "lastaccess=%lld", &a);
            sscanf(line, "lastwrite=%lld", &w); sscanf(line, "change=%lld", &ch);
        }
        fclose(mf);
        ef.basic.CreationTime = c; ef.basic.LastAccessTime = a; ef.basic.LastWriteTime = w; ef.basic.ChangeTime = ch;
    }
    free(meta);
    ef.basic.FileAttributes = attr;
    ef.has_basic = 1;
    if (!e && lyr_write_meta(&ef) != 0) e = ERROR_WRITE_FAULT;
    lyr_release(&ef);
    return e;
}

static DWORD copy_file(const char *src, const char *dst) {
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return lyr_win32_of_errno(errno);
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) { close(in); return lyr_win32_of_errno(errno); }
    uint8_t buf[65536];
    ssize_t n;
    DWORD e = ERROR_SUCCESS;
    while ((n = read(in, buf, sizeof buf)) > 0) if (write(out, buf, (size_t)n) != n) { e = ERROR_WRITE_FAULT; break; }
    close(in);
    if (close(out) != 0) e = ERROR_WRITE_FAULT;
    return e;
}

static int ends_with(const char *s, const char *t) { size_t a = strlen(s), b = strlen(t); return a >= b && strcmp(s + a - b, t) == 0; }

/*
 * Files\ in the transport format ([SHIM] legacy.go legacyLayerWriter.Add): every file is attributes
 * + backup stream; every directory D has a marker file D.$wcidirs$ encoded the same way.
 */
static DWORD import_files(const char *src, const char *dst) {
    DIR *d = opendir(src);
    if (!d) return lyr_win32_of_errno(errno);
    DWORD e = ERROR_SUCCESS;
    struct dirent *de;
    while (!e && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || strcmp(n, ".hcsemu") == 0) continue;
        char *s = lyr_join2(src, n);
        if (lyr_is_dir(s)) {
            char *marker = NULL, *t = lyr_join2(dst, n);
            if (asprintf(&marker, "%s%s", s, DIRS_SUFFIX) < 0) e = ERROR_NOT_ENOUGH_MEMORY;
            else if (!lyr_exists(marker)) e = ERROR_INVALID_DATA; /* a directory without its $wcidirs$ marker */
            else if (mkdir(t, 0755) != 0) e = lyr_win32_of_errno(errno);
            else if ((e = decode_transport(marker, t, 1)) == ERROR_SUCCESS) e = import_files(s, t);
            free(marker); free(t);
        } else if (ends_with(n, DIRS_SUFFIX)) {
            char *dir = strndup(s, strlen(s) - strlen(DIRS_SUFFIX));
            if (!lyr_is_dir(dir)) e = ERROR_INVALID_DATA; /* a marker without its directory */
            free(dir);
        } else {
            char *t = lyr_join2(dst, n);
            e = decode_transport(s, t, 0);
            free(t);
        }
        free(s);
    }
    closedir(d);
    return e;
}

/* Hives\ files were written with BackupWrite (legacy.go), so they are copied as they are, with sidecars. */
static DWORD copy_tree(const char *src, const char *dst) {
    if (mkdir(dst, 0755) != 0 && errno != EEXIST) return lyr_win32_of_errno(errno);
    DIR *d = opendir(src);
    if (!d) return lyr_win32_of_errno(errno);
    DWORD e = ERROR_SUCCESS;
    struct dirent *de;
    while (!e && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char *s = lyr_join2(src, de->d_name), *t = lyr_join2(dst, de->d_name);
        e = lyr_is_dir(s) ? copy_tree(s, t) : copy_file(s, t);
        free(s); free(t);
    }
    closedir(d);
    return e;
}

static DWORD check_tombstones(const char *src, const char *dst) {
    char *p = lyr_join2(src, "tombstones.txt");
    FILE *f = fopen(p, "rb");
    free(p);
    if (!f) return ERROR_SUCCESS;
    char line[4096];
    DWORD e = ERROR_SUCCESS;
    if (!fgets(line, sizeof line, f) || strncmp(line, "\xef\xbb\xbfVersion 1.0", 14) != 0) e = ERROR_INVALID_DATA;
    char *out = lyr_join2(dst, ".hcsemu-tombstones");
    FILE *o = e ? NULL : fopen(out, "w");
    free(out);
    while (o && fgets(line, sizeof line, f)) {
        if (line[0] != '\\') { e = ERROR_INVALID_DATA; break; }
        fputs(line, o);
    }
    if (o) fclose(o);
    fclose(f);
    return e;
}

/* The `Files.$wcidirs$` / `Hives.$wcidirs$` markers of the transport root give dest\Files / dest\Hives their metadata. */
static DWORD root_markers(const char *src, const char *dfiles, const char *dhives) {
    const char *names[] = {"Files" DIRS_SUFFIX, "Hives" DIRS_SUFFIX}, *targets[] = {dfiles, dhives};
    DWORD e = ERROR_SUCCESS;
    for (int i = 0; !e && i < 2; i++) {
        char *m = lyr_join2(src, names[i]);
        if (lyr_exists(m)) e = lyr_is_dir(targets[i]) ? decode_transport(m, targets[i], 1) : ERROR_INVALID_DATA; /* a marker without its directory */
        free(m);
    }
    return e;
}

/*
 * The destination may exist when it holds nothing but a UtilityVM folder: hcsshim creates the layer
 * folder before it writes (ociwclayer.ImportLayerFromTar MkdirAll) and clones the parent's utility
 * VM image into it before this call (legacy.go initUtilityVM, into destRoot). CHOICE (UNVERIFIED
 * what Windows does with other content): anything else there, or a layer marker, is
 * ERROR_ALREADY_EXISTS.
 */
static int dest_taken(const char *dst) {
    DIR *d = opendir(dst);
    if (!d) return lyr_exists(dst); /* a file there */
    struct dirent *de;
    int taken = 0;
    while (!taken && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        taken = strcmp(n, ".") && strcmp(n, "..") && strcmp(n, "UtilityVM") && strcmp(n, ".hcsemu");
    }
    closedir(d);
    return taken;
}

/*
 * Imports a non-base layer from its transport folder into `id` ([SHIM] importlayer.go). CHOICE: the
 * destination must not be taken (dest_taken), there must be at least one parent, and every parent
 * must be a processed or imported layer with the base last (hcsshim order: top-most first).
 */
EXPORT HRESULT ImportLayer(const DriverInfo *info, const char16_t *id, const char16_t *source16, const WC_LAYER_DESCRIPTOR *parents, uint32_t count) {
    char *dst = layer_path(info, id);
    if (!dst || !source16 || (count > 0 && !parents) || count == 0) { free(dst); return E_INVALIDARG; }
    if (!lyr_privileges_ok()) { free(dst); return HR_WIN32(ERROR_PRIVILEGE_NOT_HELD); }
    char *src = lyr_utf8_of(source16);
    HRESULT hr = S_OK;
    for (uint32_t i = 0; hr == S_OK && i < count; i++) {
        char *pp = parents[i].Path ? lyr_utf8_of(parents[i].Path) : NULL;
        char *m = pp ? lyr_join2(pp, LYR_MARKER) : NULL;
        FILE *f = m ? fopen(m, "r") : NULL;
        char kind[32] = "";
        if (f) { if (!fgets(kind, sizeof kind, f)) kind[0] = 0; fclose(f); }
        if (!f) hr = HR_WIN32(ERROR_PATH_NOT_FOUND);
        else if ((i == count - 1) != (strcmp(kind, "kind=base\n") == 0)) hr = E_INVALIDARG;
        free(pp); free(m);
    }
    char *files = lyr_join2(src, "Files");
    if (hr == S_OK && (!lyr_is_dir(src) || !lyr_is_dir(files))) hr = HR_WIN32(ERROR_PATH_NOT_FOUND);
    if (hr == S_OK && dest_taken(dst)) hr = HR_WIN32(ERROR_ALREADY_EXISTS);
    DIR *d = hr == S_OK ? opendir(src) : NULL;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        /* legacyLayerWriter.Add writes a `<dir>.$wcidirs$` for every directory outside UtilityVM, Files and Hives themselves included. */
        if (strcmp(n, ".") && strcmp(n, "..") && strcmp(n, "Files") && strcmp(n, "Hives") && strcmp(n, "tombstones.txt") && strcmp(n, ".hcsemu") && strcmp(n, "Files" DIRS_SUFFIX) && strcmp(n, "Hives" DIRS_SUFFIX)) hr = HR_WIN32(ERROR_INVALID_DATA);
    }
    if (d) closedir(d);
    if (hr == S_OK && mkdir(dst, 0755) != 0 && errno != EEXIST) hr = HR_WIN32(lyr_win32_of_errno(errno));
    char *dfiles = lyr_join2(dst, "Files");
    DWORD e = ERROR_SUCCESS;
    if (hr == S_OK && mkdir(dfiles, 0755) != 0) e = lyr_win32_of_errno(errno);
    if (hr == S_OK && !e) e = import_files(files, dfiles);
    char *hives = lyr_join2(src, "Hives"), *dhives = lyr_join2(dst, "Hives");
    if (hr == S_OK && !e && lyr_is_dir(hives)) e = copy_tree(hives, dhives);
    if (hr == S_OK && !e) e = root_markers(src, dfiles, dhives);
    if (hr == S_OK && !e) e = check_tombstones(src, dst);
    if (hr == S_OK && e) hr = HR_WIN32(e);
    if (hr == S_OK) {
        char text[64];
        snprintf(text, sizeof text, "kind=import\nparents=%u\n", count);
        hr = lyr_write_marker(dst, text);
    }
    free(files); free(dfiles); free(hives); free(dhives); free(src); free(dst);
    return hr;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st; (void)flag; (void)ftw;
    return remove(p);
}

/* Removes a layer folder ("it deletes directories using high privilege rights", [MSDOCS] HcsDestroyLayer). */
EXPORT HRESULT DestroyLayer(const DriverInfo *info, const char16_t *id) {
    char *p = layer_path(info, id);
    if (!p) return E_INVALIDARG;
    HRESULT hr = S_OK;
    if (lyr_exists(p) && nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0) hr = HR_WIN32(lyr_win32_of_errno(errno));
    if (hr == S_OK) lyr_notify("DestroyLayer", p);
    free(p);
    return hr;
}

EXPORT HRESULT LayerExists(const DriverInfo *info, const char16_t *id, DWORD *out) {
    char *p = layer_path(info, id);
    if (!p || !out) { free(p); return E_INVALIDARG; }
    char *m = lyr_join2(p, LYR_MARKER);
    *out = lyr_exists(m) ? 1 : 0;
    free(m); free(p);
    return S_OK;
}
