/*
 * files.c: the kernel32.dll exports a layer writer calls ([SHIM] internal/wclayer/baselayerwriter.go
 * and legacy.go through go-winio: CreateFileW, CreateDirectoryW, CreateHardLinkW,
 * SetFileInformationByHandle, BackupWrite, GetCurrentProcess; BackupRead and the directory walk are
 * in backup-read.c and walk.c, on this file table; CloseHandle is kernel32.c's, which
 * hands the handles of this table to k32_files_close), in libkernel32-emu.so with the stdio
 * exports: Windows has one kernel32.dll, so the emulator has one stand-in for it, and GetLastError
 * is one thread-local value (SetLastError, kernel32.c).
 *
 * The token privileges (OpenProcessToken, LookupPrivilegeValueW, AdjustTokenPrivileges) are here
 * too: advapi32.dll forwards these to kernelbase.dll, which also implements kernel32's file calls,
 * so on Windows the privilege state and BackupWrite's check of it live in one module as well.
 * src/hcs/layers.ts binds them from this library on Linux. libvmcompute.so asks this library
 * (Kernel32EmuBackupPrivilegesHeld) before ProcessBaseImage / ImportLayer.
 *
 * File handles are 0x40000000 + 4 i (kernel32.c's pipe handles count up from 0x1000, so the two
 * tables never hand out the same value); the token is the pseudo value TOKEN_HANDLE.
 * Prototypes: Microsoft Learn (fileapi.h, winbase.h, securitybaseapi.h, processthreadsapi.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uchar.h>
#include <unistd.h>

#include "../layers.h"

void SetLastError(DWORD e); /* kernel32.c */

static BOOL fail(DWORD e) { SetLastError(e); return 0; }

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* Privileges the emulated token has enabled. SE_SECURITY = 8, SE_BACKUP = 17, SE_RESTORE = 18 (winnt.h LUIDs). */
static int priv_backup, priv_restore, priv_security;
int lyr_privileges_ok(void) { return priv_backup && priv_restore; }

/* Emulator-only: whether SeBackup and SeRestore are enabled (libvmcompute.so's ProcessBaseImage / ImportLayer check it). */
EXPORT BOOL Kernel32EmuBackupPrivilegesHeld(void) { return lyr_privileges_ok(); }

#define MAX_FILES 4096
#define HANDLE_BASE 0x40000000
static efile files[MAX_FILES];

static HANDLE handle_of(int i) { return (HANDLE)(HANDLE_BASE + 4 * i); }
static efile *file_of(HANDLE h) {
    intptr_t i = (h - HANDLE_BASE) / 4;
    if (h < HANDLE_BASE || (h - HANDLE_BASE) % 4 != 0 || i >= MAX_FILES || !files[i].used) return NULL;
    return &files[i];
}

/* For backup-read.c (BackupRead, GetFileInformationByHandleEx on this table's handles). */
efile *k32_file_of(HANDLE h) { return file_of(h); }
void k32_backup_read_free(efile *ef); /* backup-read.c */


static HANDLE new_file(const char *path, int fd, int is_dir) {
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_FILES; i++) {
        if (!files[i].used) {
            efile *ef = &files[i];
            memset(ef, 0, sizeof *ef);
            ef->used = 1; ef->fd = fd; ef->ads_fd = -1; ef->is_dir = is_dir;
            ef->path = strdup(path);
            pthread_mutex_unlock(&lock);
            return handle_of(i);
        }
    }
    pthread_mutex_unlock(&lock);
    return 0;
}

EXPORT HANDLE CreateFileW(const char16_t *name, DWORD access, DWORD share, void *sa, DWORD disposition, DWORD flags, HANDLE tmpl) {
    (void)access; (void)share; (void)sa;
    if (!name || !name[0] || tmpl) { SetLastError(ERROR_INVALID_PARAMETER); return INVALID_HANDLE_VALUE; }
    char *path = lyr_utf8_of(name);
    struct stat st;
    HANDLE h = INVALID_HANDLE_VALUE;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* Directories open only with FILE_FLAG_BACKUP_SEMANTICS (CreateFileW docs, "Directories"). */
        if (!(flags & FILE_FLAG_BACKUP_SEMANTICS)) SetLastError(ERROR_ACCESS_DENIED);
        else if (disposition != 3 && disposition != 4) SetLastError(ERROR_ALREADY_EXISTS);
        else h = new_file(path, -1, 1);
        /* An existing object keeps its metadata (security, times, reparse data) across opens. */
        if (h != INVALID_HANDLE_VALUE) lyr_read_meta(file_of(h));
    } else {
        int existed = disposition != 2 && disposition != 5 && stat(path, &st) == 0;
        int oflags = O_RDWR | O_CLOEXEC;
        switch (disposition) {
        case 1: oflags |= O_CREAT | O_EXCL; break;   /* CREATE_NEW */
        case 2: oflags |= O_CREAT | O_TRUNC; break;  /* CREATE_ALWAYS */
        case 3: break;                               /* OPEN_EXISTING */
        case 4: oflags |= O_CREAT; break;            /* OPEN_ALWAYS */
        case 5: oflags |= O_TRUNC; break;            /* TRUNCATE_EXISTING */
        default: SetLastError(ERROR_INVALID_PARAMETER); free(path); return INVALID_HANDLE_VALUE;
        }
        int fd = open(path, oflags, 0644);
        if (fd < 0) {
            int e = errno;
            SetLastError(e == ENOENT && disposition != 3 && disposition != 5 ? ERROR_PATH_NOT_FOUND : lyr_win32_of_errno(e));
        } else {
            h = new_file(path, fd, 0);
            if (!h) { close(fd); SetLastError(ERROR_NOT_ENOUGH_MEMORY); h = INVALID_HANDLE_VALUE; }
            else if (existed) lyr_read_meta(file_of(h));
        }
    }
    if (h != INVALID_HANDLE_VALUE) SetLastError(ERROR_SUCCESS);
    free(path);
    return h;
}

EXPORT BOOL CreateDirectoryW(const char16_t *name, void *sa) {
    (void)sa;
    if (!name || !name[0]) return fail(ERROR_INVALID_PARAMETER);
    char *path = lyr_utf8_of(name);
    int r = mkdir(path, 0755), e = errno;
    free(path);
    if (r == 0) return 1;
    return fail(e == EEXIST ? ERROR_ALREADY_EXISTS : e == ENOENT ? ERROR_PATH_NOT_FOUND : lyr_win32_of_errno(e));
}

/* Links the sidecar `<existing>` + suffix to `<new>` + suffix, when the existing one has it. */
static int link_sidecar(const char *existing, const char *created, const char *suffix) {
    char *from = lyr_sidecar(existing, suffix, 0), *to = NULL;
    struct stat st;
    int r = 0;
    if (from && stat(from, &st) == 0) {
        to = lyr_sidecar(created, suffix, 1);
        r = to && link(from, to) == 0 ? 0 : -1;
    }
    free(from); free(to);
    return r;
}

/*
 * A hard link is a second name of the same file: on NTFS its metadata (security, times, reparse
 * data) and its alternate data streams belong to the file, so the emulator links the sidecars
 * (.meta and every `:<stream>`) with the data. Directories cannot be linked ("the existing file
 * must be a file", CreateHardLinkW docs): ERROR_ACCESS_DENIED.
 */
EXPORT BOOL CreateHardLinkW(const char16_t *newName, const char16_t *existing, void *sa) {
    (void)sa;
    if (!newName || !existing) return fail(ERROR_INVALID_PARAMETER);
    char *a = lyr_utf8_of(newName), *b = lyr_utf8_of(existing);
    struct stat st;
    int r = stat(b, &st) == 0 && S_ISDIR(st.st_mode) ? (errno = EACCES, -1) : link(b, a), e = errno;
    if (r == 0) {
        efile meta;
        memset(&meta, 0, sizeof meta);
        meta.path = b;
        lyr_read_meta(&meta);
        r = link_sidecar(b, a, ".meta");
        for (char *save = NULL, *n = strtok_r(meta.ads_names, ",", &save); r == 0 && n; n = strtok_r(NULL, ",", &save)) {
            char suffix[600];
            snprintf(suffix, sizeof suffix, ":%s", n);
            r = link_sidecar(b, a, suffix);
        }
        free(meta.sd); free(meta.reparse);
        if (r != 0) { /* no half link: the new name goes again */
            char *m = lyr_sidecar(a, ".meta", 0);
            unlink(a);
            if (m) unlink(m);
            free(m); free(a); free(b);
            return fail(ERROR_WRITE_FAULT);
        }
    }
    free(a); free(b);
    return r == 0 ? 1 : fail(e == EEXIST ? ERROR_ALREADY_EXISTS : lyr_win32_of_errno(e));
}

EXPORT BOOL SetFileInformationByHandle(HANDLE h, int32_t infoClass, const void *info, DWORD size) {
    efile *ef = file_of(h);
    if (!ef) return fail(ERROR_INVALID_HANDLE);
    if (infoClass != 0 /* FileBasicInfo */ || size != sizeof(FILE_BASIC_INFO) || !info) return fail(ERROR_INVALID_PARAMETER);
    const FILE_BASIC_INFO *bi = info;
    /* CHOICE: a DIRECTORY attribute on a file (or none on a directory, unless 0 = "leave") is refused. */
    if (bi->FileAttributes != 0 && ((bi->FileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0) != (ef->is_dir != 0)) return fail(ERROR_INVALID_PARAMETER);
    ef->basic = *bi;
    ef->has_basic = 1;
    ef->dirty = 1;
    return 1;
}

EXPORT BOOL BackupWrite(HANDLE h, const uint8_t *buf, DWORD n, DWORD *written, BOOL abort, BOOL processSecurity, void **context) {
    efile *ef = file_of(h);
    if (!ef) return fail(ERROR_INVALID_HANDLE);
    if (!context) return fail(ERROR_INVALID_PARAMETER);
    if (abort) {
        /* The closing call releases the context; ending inside a record is malformed (stricter than Windows). */
        int bad = ef->in_backup && lyr_mid_record(ef);
        *context = NULL;
        ef->in_backup = 0;
        return bad ? fail(ERROR_INVALID_DATA) : 1;
    }
    if (*context == NULL) {
        if (ef->in_backup) return fail(ERROR_INVALID_PARAMETER);
        ef->in_backup = 1;
        ef->process_security = processSecurity;
        *context = ef;
    } else if (*context != ef) {
        return fail(ERROR_INVALID_PARAMETER);
    }
    if (n && !buf) return fail(ERROR_INVALID_PARAMETER);
    DWORD e = lyr_feed(ef, buf, n);
    if (written) *written = e ? 0 : n;
    return e ? fail(e) : 1;
}

/*
 * kernel32.c's CloseHandle for a handle its pipe table does not have: a file of this table (its
 * metadata is written now) or the token. Returns -1 when the handle is not ours either.
 */
int k32_files_close(HANDLE h) {
    if (h == TOKEN_HANDLE || h == CURRENT_PROCESS) return 1;
    pthread_mutex_lock(&lock);
    efile *ef = file_of(h);
    if (!ef) { pthread_mutex_unlock(&lock); return -1; }
    int ok = !ef->dirty || lyr_write_meta(ef) == 0;
    k32_backup_read_free(ef);
    lyr_release(ef);
    pthread_mutex_unlock(&lock);
    return ok ? 1 : fail(ERROR_WRITE_FAULT);
}

/* ---- the token privileges layer import needs (advapi32 ABI, forwarded to kernelbase; provisioning.md 0.7) -- */

EXPORT HANDLE GetCurrentProcess(void) { return CURRENT_PROCESS; }

EXPORT BOOL OpenProcessToken(HANDLE process, DWORD access, HANDLE *token) {
    (void)access;
    if (process != CURRENT_PROCESS || !token) return fail(ERROR_INVALID_PARAMETER);
    *token = TOKEN_HANDLE;
    return 1;
}

EXPORT BOOL LookupPrivilegeValueW(const char16_t *system, const char16_t *name, LUID *luid) {
    if (system || !name || !luid) return fail(ERROR_INVALID_PARAMETER);
    char *n = lyr_utf8_of(name);
    uint32_t v = strcmp(n, "SeBackupPrivilege") == 0 ? 17 : strcmp(n, "SeRestorePrivilege") == 0 ? 18 : strcmp(n, "SeSecurityPrivilege") == 0 ? 8 : 0;
    free(n);
    if (!v) return fail(ERROR_NO_SUCH_PRIVILEGE);
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
    if (token != TOKEN_HANDLE) return fail(ERROR_INVALID_HANDLE);
    if (retLen) *retLen = 0;
    if (disableAll || !state) return fail(ERROR_INVALID_PARAMETER);
    const char *notHeld = getenv("HCSEMU_PRIVILEGES_NOT_HELD");
    if (notHeld && strcmp(notHeld, "1") == 0) { SetLastError(ERROR_NOT_ALL_ASSIGNED); return 1; }
    pthread_mutex_lock(&lock);
    for (uint32_t i = 0; i < state->PrivilegeCount; i++) {
        const LUID_AND_ATTRIBUTES *p = &state->Privileges[i];
        int on = (p->Attributes & SE_PRIVILEGE_ENABLED) != 0;
        if (p->Luid.LowPart == 17) priv_backup = on;
        else if (p->Luid.LowPart == 18) priv_restore = on;
        else if (p->Luid.LowPart == 8) priv_security = on;
    }
    pthread_mutex_unlock(&lock);
    SetLastError(ERROR_SUCCESS);
    return 1;
}


