/*
 * Emulated layer storage, in libvmcompute.so: the vmcompute.dll layer exports Docker's windowsfilter
 * driver and hcsshim use (NameToGuid, ProcessBaseImage, ImportLayer, DestroyLayer, LayerExists) and the
 * kernel32/advapi32 calls the layer writer makes (CreateFileW, CreateDirectoryW, CreateHardLinkW,
 * SetFileInformationByHandle, BackupWrite, CloseHandle, GetLastError, GetCurrentProcess,
 * OpenProcessToken, LookupPrivilegeValueW, AdjustTokenPrivileges), with the same C ABI, so the
 * binding (src/hcs/layers.ts) is the same code on Windows and Linux.
 *
 * Sources (provisioning.md): prototypes 1.4 ([SHIM] internal/wclayer/wclayer.go, layerutils.go);
 * the backup stream (WIN32_STREAM_ID records) and the transport format (4-byte attributes + backup
 * stream per file, <dir>.$wcidirs$ markers, tombstones.txt) 2.3 ([SHIM] internal/wclayer/legacy.go,
 * go-winio backup.go); privileges 0.7. Behaviour no source shows is marked CHOICE.
 *
 * On-disk form (for tests): file data is the plain file; its metadata is a lyr_sidecar
 * `<dir>/.hcsemu/<name>.meta` (key=value lines: attributes, the four FILE_BASIC_INFO times,
 * sd=<hex of the security descriptor>, ads=<names>, reparse=<hex>), alternate data streams are
 * `<dir>/.hcsemu/<name>:<stream>`. A processed or imported layer has `<layer>/.hcsemu-layer`.
 *
 * Stricter than Windows on purpose: a backup stream that ends inside a record (at the closing
 * BackupWrite(bAbort=TRUE)) fails with ERROR_INVALID_DATA; unknown stream ids, sparse blocks,
 * malformed security descriptors and ADS names are ERROR_INVALID_DATA.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uchar.h>
#include <unistd.h>

#include "layers.h"

__thread DWORD lyr_last_error;
BOOL lyr_fail(DWORD e) { lyr_last_error = e; return 0; }

/* Privileges the emulated token has enabled. SE_SECURITY = 8, SE_BACKUP = 17, SE_RESTORE = 18 (winnt.h LUIDs). */
pthread_mutex_t lyr_lock = PTHREAD_MUTEX_INITIALIZER;
static int priv_backup, priv_restore, priv_security;
int lyr_privileges_ok(void) { return priv_backup && priv_restore; }

/* ---- strings and paths ------------------------------------------------------------------- */

char *lyr_utf8_of(const char16_t *s) {
    if (!s) return NULL;
    size_t n = 0;
    while (s[n]) n++;
    char *out = malloc(n * 3 + 1), *p = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00);
            i++;
        }
        if (c < 0x80) *p++ = (char)c;
        else if (c < 0x800) { *p++ = (char)(0xC0 | (c >> 6)); *p++ = (char)(0x80 | (c & 0x3F)); }
        else if (c < 0x10000) { *p++ = (char)(0xE0 | (c >> 12)); *p++ = (char)(0x80 | ((c >> 6) & 0x3F)); *p++ = (char)(0x80 | (c & 0x3F)); }
        else { *p++ = (char)(0xF0 | (c >> 18)); *p++ = (char)(0x80 | ((c >> 12) & 0x3F)); *p++ = (char)(0x80 | ((c >> 6) & 0x3F)); *p++ = (char)(0x80 | (c & 0x3F)); }
    }
    *p = 0;
    return out;
}

char *lyr_join2(const char *a, const char *b) {
    char *out = NULL;
    if (asprintf(&out, "%s/%s", a, b) < 0) return NULL;
    return out;
}

/* `<dir>/.hcsemu/<name><suffix>` for a path `<dir>/<name>`; creates `.hcsemu` when `create`. */
char *lyr_sidecar(const char *path, const char *suffix, int create) {
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) : 1;
    const char *dir = slash ? path : ".";
    const char *name = slash ? slash + 1 : path;
    char *side = NULL;
    if (asprintf(&side, "%.*s/.hcsemu", (int)dlen, dir) < 0) return NULL;
    if (create && mkdir(side, 0755) != 0 && errno != EEXIST) { free(side); return NULL; }
    char *out = NULL;
    int r = asprintf(&out, "%s/%s%s", side, name, suffix);
    free(side);
    return r < 0 ? NULL : out;
}

DWORD lyr_win32_of_errno(int e) {
    switch (e) {
    case ENOENT: return ERROR_FILE_NOT_FOUND;
    case ENOTDIR: return ERROR_PATH_NOT_FOUND;
    case EEXIST: return ERROR_FILE_EXISTS;
    case EACCES: case EPERM: return ERROR_ACCESS_DENIED;
    case ENOTEMPTY: return ERROR_DIR_NOT_EMPTY;
    case ENOMEM: return ERROR_NOT_ENOUGH_MEMORY;
    default: return ERROR_WRITE_FAULT;
    }
}

/* ---- files and the backup-stream parser --------------------------------------------------- */


#define MAX_FILES 4096
static efile files[MAX_FILES];

static HANDLE handle_of(int i) { return (HANDLE)(0x1000 + 4 * i); }
static efile *file_of(HANDLE h) {
    intptr_t i = (h - 0x1000) / 4;
    if (h < 0x1000 || (h - 0x1000) % 4 != 0 || i >= MAX_FILES || !files[i].used || files[i].is_token) return NULL;
    return &files[i];
}

static void hex_line(FILE *f, const char *key, const uint8_t *b, size_t n) {
    fprintf(f, "%s=", key);
    for (size_t i = 0; i < n; i++) fprintf(f, "%02x", b[i]);
    fputc('\n', f);
}

/* Writes the lyr_sidecar metadata of `ef` (CHOICE: the emulator's on-disk stand-in for NTFS metadata). */
int lyr_write_meta(efile *ef) {
    char *meta = lyr_sidecar(ef->path, ".meta", 1);
    if (!meta) return -1;
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp", meta) < 0) { free(meta); return -1; }
    FILE *f = fopen(tmp, "w");
    if (!f) { free(meta); free(tmp); return -1; }
    fprintf(f, "type=%s\n", ef->is_dir ? "directory" : "file");
    if (ef->has_basic) {
        fprintf(f, "attributes=%u\ncreation=%lld\nlastaccess=%lld\nlastwrite=%lld\nchange=%lld\n", ef->basic.FileAttributes,
                (long long)ef->basic.CreationTime, (long long)ef->basic.LastAccessTime, (long long)ef->basic.LastWriteTime, (long long)ef->basic.ChangeTime);
    }
    if (ef->sd) hex_line(f, "sd", ef->sd, ef->sd_len);
    if (ef->reparse) hex_line(f, "reparse", ef->reparse, ef->reparse_len);
    if (ef->ads_names[0]) fprintf(f, "ads=%s\n", ef->ads_names);
    int ok = fclose(f) == 0 && rename(tmp, meta) == 0;
    free(meta); free(tmp);
    return ok ? 0 : -1;
}

void lyr_release(efile *ef) {
    if (ef->fd >= 0) close(ef->fd);
    if (ef->ads_fd >= 0) close(ef->ads_fd);
    free(ef->path); free(ef->sd); free(ef->reparse);
    memset(ef, 0, sizeof *ef);
    ef->fd = ef->ads_fd = -1;
}

int lyr_mid_record(const efile *ef) { return ef->phase != 0 || ef->hdr_have != 0; }

/* A self-relative SECURITY_DESCRIPTOR: revision 1, SE_SELF_RELATIVE, offsets inside the buffer. */
static int valid_sd(const uint8_t *b, size_t n) {
    if (n < 20 || b[0] != 1) return 0;
    uint16_t control = (uint16_t)(b[2] | (b[3] << 8));
    if (!(control & SE_SELF_RELATIVE)) return 0;
    for (int i = 0; i < 4; i++) {
        uint32_t off = (uint32_t)b[4 + 4 * i] | ((uint32_t)b[5 + 4 * i] << 8) | ((uint32_t)b[6 + 4 * i] << 16) | ((uint32_t)b[7 + 4 * i] << 24);
        if (off != 0 && (off < 20 || off >= n)) return 0;
    }
    return 1;
}

/* The name of an ADS record `:<name>:$DATA` (UTF-16) as UTF-8, or NULL when malformed. */
static char *ads_name(const efile *ef) {
    size_t n = ef->name_size / 2;
    char16_t w[512];
    if (n < 8 || n >= 512) return NULL;
    memcpy(w, ef->name_buf, ef->name_size);
    w[n] = 0;
    static const char16_t tail[] = u":$DATA";
    if (w[0] != u':' || memcmp(w + n - 6, tail, 12) != 0) return NULL;
    w[n - 6] = 0;
    for (size_t i = 1; i < n - 6; i++) if (w[i] == u':' || w[i] == u'/' || w[i] == u'\\' || w[i] == 0) return NULL;
    return lyr_utf8_of(w + 1);
}

static DWORD begin_body(efile *ef) {
    switch (ef->stream_id) {
    case BACKUP_DATA:
        if (ef->name_size != 0 || ef->seen_data || ef->is_dir) return ERROR_INVALID_DATA;
        ef->seen_data = 1;
        return ERROR_SUCCESS;
    case BACKUP_SECURITY_DATA:
        if (ef->name_size != 0 || ef->seen_security || ef->remaining > 65536) return ERROR_INVALID_DATA;
        if (ef->process_security && !lyr_privileges_ok()) return ERROR_PRIVILEGE_NOT_HELD;
        ef->seen_security = 1;
        free(ef->sd);
        ef->sd = malloc(ef->remaining ? ef->remaining : 1);
        ef->sd_len = 0;
        return ef->sd ? ERROR_SUCCESS : ERROR_NOT_ENOUGH_MEMORY;
    case BACKUP_REPARSE_DATA:
        if (ef->name_size != 0 || ef->reparse || ef->remaining > 16384) return ERROR_INVALID_DATA;
        ef->reparse = malloc(ef->remaining ? ef->remaining : 1);
        ef->reparse_len = 0;
        return ef->reparse ? ERROR_SUCCESS : ERROR_NOT_ENOUGH_MEMORY;
    case BACKUP_EA_DATA:
        return ef->name_size == 0 ? ERROR_SUCCESS : ERROR_INVALID_DATA;
    case BACKUP_ALTERNATE_DATA: {
        if (ef->is_dir) return ERROR_INVALID_DATA;
        char *name = ads_name(ef);
        if (!name) return ERROR_INVALID_DATA;
        size_t used = strlen(ef->ads_names);
        if (used + strlen(name) + 2 > sizeof ef->ads_names) { free(name); return ERROR_INVALID_DATA; }
        if (used) strcat(ef->ads_names, ",");
        strcat(ef->ads_names, name);
        char suffix[600];
        snprintf(suffix, sizeof suffix, ":%s", name);
        free(name);
        char *p = lyr_sidecar(ef->path, suffix, 1);
        if (!p) return ERROR_NOT_ENOUGH_MEMORY;
        ef->ads_fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        free(p);
        return ef->ads_fd >= 0 ? ERROR_SUCCESS : lyr_win32_of_errno(errno);
    }
    default:
        return ERROR_INVALID_DATA; /* BACKUP_LINK, BACKUP_SPARSE_BLOCK, object ids, ...: not accepted here */
    }
}

static int write_all(int fd, const uint8_t *b, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        b += w; n -= (size_t)w;
    }
    return 0;
}

static DWORD body_bytes(efile *ef, const uint8_t *b, size_t n) {
    switch (ef->stream_id) {
    case BACKUP_DATA: return write_all(ef->fd, b, n) == 0 ? ERROR_SUCCESS : ERROR_WRITE_FAULT;
    case BACKUP_SECURITY_DATA: memcpy(ef->sd + ef->sd_len, b, n); ef->sd_len += n; return ERROR_SUCCESS;
    case BACKUP_REPARSE_DATA: memcpy(ef->reparse + ef->reparse_len, b, n); ef->reparse_len += n; return ERROR_SUCCESS;
    case BACKUP_ALTERNATE_DATA: return write_all(ef->ads_fd, b, n) == 0 ? ERROR_SUCCESS : ERROR_WRITE_FAULT;
    default: return ERROR_SUCCESS; /* EA data: accepted, not kept */
    }
}

static DWORD end_body(efile *ef) {
    if (ef->stream_id == BACKUP_SECURITY_DATA && !valid_sd(ef->sd, ef->sd_len)) return ERROR_INVALID_DATA;
    if (ef->stream_id == BACKUP_ALTERNATE_DATA) { close(ef->ads_fd); ef->ads_fd = -1; }
    ef->phase = 0;
    return ERROR_SUCCESS;
}

/* Feeds backup-stream bytes (any split) through the record parser. */
DWORD lyr_feed(efile *ef, const uint8_t *b, size_t n) {
    ef->dirty = 1;
    while (n > 0) {
        if (ef->phase == 0) {
            size_t take = STREAM_HEADER - ef->hdr_have < n ? STREAM_HEADER - ef->hdr_have : n;
            memcpy(ef->hdr + ef->hdr_have, b, take);
            ef->hdr_have += take; b += take; n -= take;
            if (ef->hdr_have < STREAM_HEADER) break;
            ef->hdr_have = 0;
            memcpy(&ef->stream_id, ef->hdr, 4);
            int64_t size;
            memcpy(&size, ef->hdr + 8, 8);
            memcpy(&ef->name_size, ef->hdr + 16, 4);
            if (size < 0 || ef->name_size % 2 != 0 || ef->name_size > sizeof ef->name_buf - 2) return ERROR_INVALID_DATA;
            ef->remaining = (uint64_t)size;
            ef->name_have = 0;
            ef->phase = 1;
        }
        if (ef->phase == 1) {
            size_t take = ef->name_size - ef->name_have < n ? ef->name_size - ef->name_have : n;
            memcpy(ef->name_buf + ef->name_have, b, take);
            ef->name_have += take; b += take; n -= take;
            if (ef->name_have < ef->name_size) break;
            DWORD e = begin_body(ef);
            if (e) return e;
            ef->phase = 2;
        }
        if (ef->phase == 2) {
            size_t take = ef->remaining < n ? (size_t)ef->remaining : n;
            if (take) {
                DWORD e = body_bytes(ef, b, take);
                if (e) return e;
            }
            ef->remaining -= take; b += take; n -= take;
            if (ef->remaining == 0) {
                DWORD e = end_body(ef);
                if (e) return e;
            }
        }
    }
    /* A zero-length body completes as soon as its header and name are in. */
    if (ef->phase == 2 && ef->remaining == 0) return end_body(ef);
    return ERROR_SUCCESS;
}

/* ---- kernel32 ABI ------------------------------------------------------------------------- */

EXPORT DWORD GetLastError(void) { return lyr_last_error; }

HANDLE lyr_new_file(const char *path, int fd, int is_dir) {
    pthread_mutex_lock(&lyr_lock);
    for (int i = 0; i < MAX_FILES; i++) {
        if (!files[i].used) {
            efile *ef = &files[i];
            memset(ef, 0, sizeof *ef);
            ef->used = 1; ef->fd = fd; ef->ads_fd = -1; ef->is_dir = is_dir;
            ef->path = strdup(path);
            pthread_mutex_unlock(&lyr_lock);
            return handle_of(i);
        }
    }
    pthread_mutex_unlock(&lyr_lock);
    return 0;
}

EXPORT HANDLE CreateFileW(const char16_t *name, DWORD access, DWORD share, void *sa, DWORD disposition, DWORD flags, HANDLE tmpl) {
    (void)access; (void)share; (void)sa;
    if (!name || !name[0] || tmpl) { lyr_last_error = ERROR_INVALID_PARAMETER; return INVALID_HANDLE_VALUE; }
    char *path = lyr_utf8_of(name);
    struct stat st;
    HANDLE h = INVALID_HANDLE_VALUE;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* Directories open only with FILE_FLAG_BACKUP_SEMANTICS (CreateFileW docs, "Directories"). */
        if (!(flags & FILE_FLAG_BACKUP_SEMANTICS)) lyr_last_error = ERROR_ACCESS_DENIED;
        else if (disposition != 3 && disposition != 4) lyr_last_error = ERROR_ALREADY_EXISTS;
        else h = lyr_new_file(path, -1, 1);
    } else {
        int oflags = O_RDWR | O_CLOEXEC;
        switch (disposition) {
        case 1: oflags |= O_CREAT | O_EXCL; break;   /* CREATE_NEW */
        case 2: oflags |= O_CREAT | O_TRUNC; break;  /* CREATE_ALWAYS */
        case 3: break;                               /* OPEN_EXISTING */
        case 4: oflags |= O_CREAT; break;            /* OPEN_ALWAYS */
        case 5: oflags |= O_TRUNC; break;            /* TRUNCATE_EXISTING */
        default: lyr_last_error = ERROR_INVALID_PARAMETER; free(path); return INVALID_HANDLE_VALUE;
        }
        int fd = open(path, oflags, 0644);
        if (fd < 0) {
            int e = errno;
            lyr_last_error = e == ENOENT && disposition != 3 && disposition != 5 ? ERROR_PATH_NOT_FOUND : lyr_win32_of_errno(e);
        } else {
            h = lyr_new_file(path, fd, 0);
            if (!h) { close(fd); lyr_last_error = ERROR_NOT_ENOUGH_MEMORY; h = INVALID_HANDLE_VALUE; }
        }
    }
    if (h != INVALID_HANDLE_VALUE) lyr_last_error = ERROR_SUCCESS;
    free(path);
    return h;
}

EXPORT BOOL CreateDirectoryW(const char16_t *name, void *sa) {
    (void)sa;
    if (!name || !name[0]) return lyr_fail(ERROR_INVALID_PARAMETER);
    char *path = lyr_utf8_of(name);
    int r = mkdir(path, 0755), e = errno;
    free(path);
    if (r == 0) return 1;
    return lyr_fail(e == EEXIST ? ERROR_ALREADY_EXISTS : e == ENOENT ? ERROR_PATH_NOT_FOUND : lyr_win32_of_errno(e));
}

EXPORT BOOL CreateHardLinkW(const char16_t *newName, const char16_t *existing, void *sa) {
    (void)sa;
    if (!newName || !existing) return lyr_fail(ERROR_INVALID_PARAMETER);
    char *a = lyr_utf8_of(newName), *b = lyr_utf8_of(existing);
    int r = link(b, a), e = errno;
    free(a); free(b);
    return r == 0 ? 1 : lyr_fail(e == EEXIST ? ERROR_ALREADY_EXISTS : lyr_win32_of_errno(e));
}

EXPORT BOOL SetFileInformationByHandle(HANDLE h, int32_t infoClass, const void *info, DWORD size) {
    efile *ef = file_of(h);
    if (!ef) return lyr_fail(ERROR_INVALID_HANDLE);
    if (infoClass != 0 /* FileBasicInfo */ || size != sizeof(FILE_BASIC_INFO) || !info) return lyr_fail(ERROR_INVALID_PARAMETER);
    const FILE_BASIC_INFO *bi = info;
    /* CHOICE: a DIRECTORY attribute on a file (or none on a directory, unless 0 = "leave") is refused. */
    if (bi->FileAttributes != 0 && ((bi->FileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0) != (ef->is_dir != 0)) return lyr_fail(ERROR_INVALID_PARAMETER);
    ef->basic = *bi;
    ef->has_basic = 1;
    ef->dirty = 1;
    return 1;
}

EXPORT BOOL BackupWrite(HANDLE h, const uint8_t *buf, DWORD n, DWORD *written, BOOL abort, BOOL processSecurity, void **context) {
    efile *ef = file_of(h);
    if (!ef) return lyr_fail(ERROR_INVALID_HANDLE);
    if (!context) return lyr_fail(ERROR_INVALID_PARAMETER);
    if (abort) {
        /* The closing call releases the context; ending inside a record is malformed (stricter than Windows). */
        int bad = ef->in_backup && lyr_mid_record(ef);
        *context = NULL;
        ef->in_backup = 0;
        return bad ? lyr_fail(ERROR_INVALID_DATA) : 1;
    }
    if (*context == NULL) {
        if (ef->in_backup) return lyr_fail(ERROR_INVALID_PARAMETER);
        ef->in_backup = 1;
        ef->process_security = processSecurity;
        *context = ef;
    } else if (*context != ef) {
        return lyr_fail(ERROR_INVALID_PARAMETER);
    }
    if (n && !buf) return lyr_fail(ERROR_INVALID_PARAMETER);
    DWORD e = lyr_feed(ef, buf, n);
    if (written) *written = e ? 0 : n;
    return e ? lyr_fail(e) : 1;
}

EXPORT BOOL CloseHandle(HANDLE h) {
    if (h == TOKEN_HANDLE || h == CURRENT_PROCESS) return 1;
    pthread_mutex_lock(&lyr_lock);
    efile *ef = file_of(h);
    if (!ef) { pthread_mutex_unlock(&lyr_lock); return lyr_fail(ERROR_INVALID_HANDLE); }
    int ok = !ef->dirty || lyr_write_meta(ef) == 0;
    lyr_release(ef);
    pthread_mutex_unlock(&lyr_lock);
    return ok ? 1 : lyr_fail(ERROR_WRITE_FAULT);
}

/* ---- advapi32 ABI: the token privileges layer import needs (provisioning.md 0.7) --------------- */

EXPORT HANDLE GetCurrentProcess(void) { return CURRENT_PROCESS; }

EXPORT BOOL OpenProcessToken(HANDLE process, DWORD access, HANDLE *token) {
    (void)access;
    if (process != CURRENT_PROCESS || !token) return lyr_fail(ERROR_INVALID_PARAMETER);
    *token = TOKEN_HANDLE;
    return 1;
}

EXPORT BOOL LookupPrivilegeValueW(const char16_t *system, const char16_t *name, LUID *luid) {
    if (system || !name || !luid) return lyr_fail(ERROR_INVALID_PARAMETER);
    char *n = lyr_utf8_of(name);
    uint32_t v = strcmp(n, "SeBackupPrivilege") == 0 ? 17 : strcmp(n, "SeRestorePrivilege") == 0 ? 18 : strcmp(n, "SeSecurityPrivilege") == 0 ? 8 : 0;
    free(n);
    if (!v) return lyr_fail(ERROR_NO_SUCH_PRIVILEGE);
    luid->LowPart = v;
    luid->HighPart = 0;
    return 1;
}

/*
 * Documented quirk: success with GetLastError() == ERROR_NOT_ALL_ASSIGNED when the token does not
 * hold a privilege. The emulated token holds them unless HCSEMU_PRIVILEGES_NOT_HELD=1 (a
 * non-administrator), so tests can see that path.
 */
EXPORT BOOL AdjustTokenPrivileges(HANDLE token, BOOL disableAll, const TOKEN_PRIVILEGES *state, DWORD len, void *prev, DWORD *retLen) {
    (void)len; (void)prev;
    if (token != TOKEN_HANDLE) return lyr_fail(ERROR_INVALID_HANDLE);
    if (retLen) *retLen = 0;
    if (disableAll || !state) return lyr_fail(ERROR_INVALID_PARAMETER);
    const char *notHeld = getenv("HCSEMU_PRIVILEGES_NOT_HELD");
    if (notHeld && strcmp(notHeld, "1") == 0) { lyr_last_error = ERROR_NOT_ALL_ASSIGNED; return 1; }
    pthread_mutex_lock(&lyr_lock);
    for (uint32_t i = 0; i < state->PrivilegeCount; i++) {
        const LUID_AND_ATTRIBUTES *p = &state->Privileges[i];
        int on = (p->Attributes & SE_PRIVILEGE_ENABLED) != 0;
        if (p->Luid.LowPart == 17) priv_backup = on;
        else if (p->Luid.LowPart == 18) priv_restore = on;
        else if (p->Luid.LowPart == 8) priv_security = on;
    }
    pthread_mutex_unlock(&lyr_lock);
    lyr_last_error = ERROR_SUCCESS;
    return 1;
}

