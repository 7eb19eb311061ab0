/*
 * backup-read.c: the kernel32.dll reads a layer writer makes when it clones a parent layer's utility
 * VM image ([SHIM] internal/wclayer/legacy.go copyFileWithMetadata, through go-winio
 * NewBackupFileReader and GetFileBasicInfo), in libkernel32-emu.so with files.c:
 *
 *   BOOL BackupRead(HANDLE, LPBYTE lpBuffer, DWORD nNumberOfBytesToRead, LPDWORD lpNumberOfBytesRead,
 *                   BOOL bAbort, BOOL bProcessSecurity, LPVOID *lpContext);
 *   BOOL GetFileInformationByHandleEx(HANDLE, FILE_INFO_BY_HANDLE_CLASS, LPVOID, DWORD);
 *
 * Prototypes and behaviour: Microsoft Learn (winbase.h BackupRead: the data is a sequence of
 * WIN32_STREAM_ID records; "BackupRead returns ... *lpNumberOfBytesRead ... zero" at the end;
 * bAbort = TRUE releases the context; bProcessSecurity = FALSE leaves out the ACL data.
 * fileapi.h GetFileInformationByHandleEx with FileBasicInfo = 0 fills FILE_BASIC_INFO).
 *
 * The records are made from the on-disk form layers.c describes (the .meta sidecar that CreateFileW
 * loaded, the file data, the `:<stream>` sidecars). CHOICE (the order Windows uses is not
 * documented): security, reparse data, data (files that are not reparse points; directories have
 * none), then one BACKUP_ALTERNATE_DATA record per stream: the order go-winio's tar writer produces
 * and the emulated BackupWrite takes, so a BackupRead stream written back with BackupWrite makes the
 * same object.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../layers.h"

void SetLastError(DWORD e); /* kernel32.c */
efile *k32_file_of(HANDLE h); /* files.c */
void k32_backup_read_free(efile *ef);

#define MAX_SEGMENTS 64

/* One piece of the stream: bytes in memory, or `len` bytes of `fd` from offset 0. */
typedef struct { uint8_t *mem; int fd; uint64_t len; } segment;
typedef struct { segment s[MAX_SEGMENTS]; int n, cur; uint64_t off; } reader;

static BOOL fail(DWORD e) { SetLastError(e); return 0; }

static int add_mem(reader *r, uint32_t id, const char16_t *name, size_t name_bytes, uint64_t size, const uint8_t *body, size_t body_len) {
    if (r->n >= MAX_SEGMENTS) return -1;
    uint8_t *b = malloc(STREAM_HEADER + name_bytes + body_len);
    if (!b) return -1;
    uint32_t zero = 0, nb = (uint32_t)name_bytes;
    int64_t sz = (int64_t)size;
    memcpy(b, &id, 4); memcpy(b + 4, &zero, 4); memcpy(b + 8, &sz, 8); memcpy(b + 16, &nb, 4);
    if (name_bytes) memcpy(b + STREAM_HEADER, name, name_bytes);
    if (body_len) memcpy(b + STREAM_HEADER + name_bytes, body, body_len);
    r->s[r->n++] = (segment){ .mem = b, .fd = -1, .len = STREAM_HEADER + name_bytes + body_len };
    return 0;
}

static int add_fd(reader *r, int fd, uint64_t len) {
    if (r->n >= MAX_SEGMENTS) { close(fd); return -1; }
    r->s[r->n++] = (segment){ .mem = NULL, .fd = fd, .len = len };
    return 0;
}

/* `:<name>:$DATA` as UTF-16 (the name BackupWrite's ADS records carry); returns the byte count. */
static size_t ads_record_name(const char *name, char16_t *out, size_t cap) {
    char full[600];
    snprintf(full, sizeof full, ":%s:$DATA", name);
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)full; *p && n < cap; p++) out[n++] = *p; /* CHOICE: ASCII names only */
    return n * 2;
}

static int add_streams(reader *r, efile *ef) {
    char names[sizeof ef->ads_names];
    memcpy(names, ef->ads_names, sizeof names);
    for (char *save = NULL, *n = strtok_r(names, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
        char suffix[600];
        snprintf(suffix, sizeof suffix, ":%s", n);
        char *p = lyr_sidecar(ef->path, suffix, 0);
        int fd = p ? open(p, O_RDONLY | O_CLOEXEC) : -1;
        free(p);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) { if (fd >= 0) close(fd); return -1; }
        char16_t w[600];
        size_t nb = ads_record_name(n, w, 600);
        if (add_mem(r, BACKUP_ALTERNATE_DATA, w, nb, (uint64_t)st.st_size, NULL, 0) != 0 || add_fd(r, fd, (uint64_t)st.st_size) != 0) return -1;
    }
    return 0;
}

static reader *build(efile *ef, BOOL processSecurity) {
    reader *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    int bad = 0;
    if (processSecurity && ef->sd) bad |= add_mem(r, BACKUP_SECURITY_DATA, NULL, 0, ef->sd_len, ef->sd, ef->sd_len);
    if (ef->reparse) bad |= add_mem(r, BACKUP_REPARSE_DATA, NULL, 0, ef->reparse_len, ef->reparse, ef->reparse_len);
    if (!ef->is_dir && !ef->reparse) {
        struct stat st;
        int fd = fstat(ef->fd, &st) == 0 ? dup(ef->fd) : -1;
        if (fd < 0) bad = 1;
        else bad |= add_mem(r, BACKUP_DATA, NULL, 0, (uint64_t)st.st_size, NULL, 0) | add_fd(r, fd, (uint64_t)st.st_size);
    }
    if (!ef->is_dir && !bad) bad |= add_streams(r, ef);
    if (bad) { ef->reader = r; k32_backup_read_free(ef); return NULL; }
    return r;
}

void k32_backup_read_free(efile *ef) {
    reader *r = ef->reader;
    if (!r) return;
    for (int i = 0; i < r->n; i++) {
        free(r->s[i].mem);
        if (r->s[i].fd >= 0) close(r->s[i].fd);
    }
    free(r);
    ef->reader = NULL;
}

/* Copies up to `n` bytes of the stream from the current position. */
static DWORD next_bytes(reader *r, uint8_t *buf, DWORD n, DWORD *got) {
    *got = 0;
    while (*got < n && r->cur < r->n) {
        segment *s = &r->s[r->cur];
        uint64_t left = s->len - r->off;
        DWORD take = left < (uint64_t)(n - *got) ? (DWORD)left : n - *got;
        if (s->mem) memcpy(buf + *got, s->mem + r->off, take);
        else {
            ssize_t k = pread(s->fd, buf + *got, take, (off_t)r->off);
            if (k < 0) return lyr_win32_of_errno(errno);
            if ((DWORD)k != take) return ERROR_INVALID_DATA; /* the file shrank under the reader */
        }
        *got += take;
        r->off += take;
        if (r->off == s->len) { r->cur++; r->off = 0; }
    }
    return ERROR_SUCCESS;
}

EXPORT BOOL BackupRead(HANDLE h, uint8_t *buf, DWORD n, DWORD *bytesRead, BOOL abort, BOOL processSecurity, void **context) {
    efile *ef = k32_file_of(h);
    if (!ef) return fail(ERROR_INVALID_HANDLE);
    if (!context || !bytesRead) return fail(ERROR_INVALID_PARAMETER);
    *bytesRead = 0;
    if (abort) {
        k32_backup_read_free(ef);
        *context = NULL;
        return 1;
    }
    if (*context == NULL) {
        if (ef->reader || ef->in_backup) return fail(ERROR_INVALID_PARAMETER); /* one backup context per handle */
        if (processSecurity && !lyr_privileges_ok()) return fail(ERROR_PRIVILEGE_NOT_HELD);
        if (!(ef->reader = build(ef, processSecurity))) return fail(ERROR_INVALID_DATA); /* out of memory, or metadata naming a stream that is not there */
        *context = ef->reader;
    } else if (*context != ef->reader) {
        return fail(ERROR_INVALID_PARAMETER);
    }
    if (n && !buf) return fail(ERROR_INVALID_PARAMETER);
    DWORD e = next_bytes(ef->reader, buf, n, bytesRead);
    return e ? fail(e) : 1;
}

/* FileBasicInfo (class 0) only: what the layer writer asks (go-winio GetFileBasicInfo). */
EXPORT BOOL GetFileInformationByHandleEx(HANDLE h, int32_t infoClass, void *info, DWORD size) {
    efile *ef = k32_file_of(h);
    if (!ef) return fail(ERROR_INVALID_HANDLE);
    if (infoClass != 0 || size != sizeof(FILE_BASIC_INFO) || !info) return fail(ERROR_INVALID_PARAMETER);
    FILE_BASIC_INFO bi;
    memset(&bi, 0, sizeof bi);
    if (ef->has_basic) bi = ef->basic;
    if (!ef->has_basic || bi.FileAttributes == 0) {
        /* CHOICE: no metadata: times from the Linux inode, attributes as lyr_attributes_of says. */
        struct stat st;
        if (stat(ef->path, &st) != 0) return fail(lyr_win32_of_errno(errno));
        if (!ef->has_basic) {
            int64_t t = (int64_t)st.st_mtim.tv_sec * 10000000 + st.st_mtim.tv_nsec / 100 + 116444736000000000LL;
            bi.CreationTime = bi.LastAccessTime = bi.LastWriteTime = bi.ChangeTime = t;
        }
        bi.FileAttributes = lyr_attributes_of(ef->path);
    }
    memcpy(info, &bi, sizeof bi);
    return 1;
}
