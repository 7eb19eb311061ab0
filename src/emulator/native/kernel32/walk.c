/*
 * walk.c: the kernel32.dll calls a layer writer makes to walk, test and remove files when it clones
 * and changes a parent layer's utility VM image ([SHIM] internal/wclayer/legacy.go cloneTree (a
 * filepath.Walk), Add and Remove (safefile LstatRelative, RemoveRelative, RemoveAllRelative)), in
 * libkernel32-emu.so with files.c. Prototypes: Microsoft Learn (fileapi.h):
 *
 *   HANDLE FindFirstFileW(LPCWSTR lpFileName, LPWIN32_FIND_DATAW);  BOOL FindNextFileW(HANDLE, LPWIN32_FIND_DATAW);
 *   BOOL FindClose(HANDLE);  DWORD GetFileAttributesW(LPCWSTR);  BOOL DeleteFileW(LPCWSTR);
 *   BOOL RemoveDirectoryW(LPCWSTR);
 *
 * Documented behaviour modelled: FindFirstFileW lists "." and ".." in a directory that is not a
 * root, fails with ERROR_FILE_NOT_FOUND when nothing matches; FindNextFileW ends with
 * ERROR_NO_MORE_FILES; GetFileAttributesW returns INVALID_FILE_ATTRIBUTES and, for a symbolic link,
 * "the attributes for the symbolic link" (not its target); DeleteFileW does not remove a directory;
 * RemoveDirectoryW removes "an existing empty directory" (else ERROR_DIR_NOT_EMPTY) and refuses a
 * file (ERROR_DIRECTORY).
 *
 * CHOICE: only the pattern `<dir>` + `\*` (or `/` + `*`) is accepted, other wildcards are
 * ERROR_INVALID_PARAMETER (the writer asks for nothing else); the entries are a snapshot taken by
 * FindFirstFileW, sorted by name (NTFS returns its B-tree order); the emulator's own files (names
 * starting with `.hcsemu`: the metadata sidecars and HCS state layers.c describes) are not entries.
 * Deleting a file deletes its sidecars (.meta and `:<stream>`), as its NTFS metadata goes with it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../layers.h"

void SetLastError(DWORD e); /* kernel32.c */

/* WIN32_FIND_DATAW (minwinbase.h): 592 bytes, FILETIMEs as two DWORDs. */
typedef struct { uint32_t lo, hi; } FILETIME32;
typedef struct {
    DWORD dwFileAttributes;
    FILETIME32 ftCreationTime, ftLastAccessTime, ftLastWriteTime;
    DWORD nFileSizeHigh, nFileSizeLow, dwReserved0, dwReserved1;
    char16_t cFileName[260];
    char16_t cAlternateFileName[14];
} WIN32_FIND_DATAW;
_Static_assert(sizeof(WIN32_FIND_DATAW) == 592, "WIN32_FIND_DATAW layout");

#define MAX_FINDS 256
#define FIND_BASE 0x50000000 /* above files.c's handles (0x40000000 + 4 i, at most 4096 of them) */

typedef struct { int used; char **names; int n, next; char *dir; } find_state;
static find_state finds[MAX_FINDS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static BOOL fail(DWORD e) { SetLastError(e); return 0; }

static DWORD missing_error(const char *path) {
    char *parent = strdup(path), *slash = strrchr(parent, '/');
    struct stat st;
    int parent_ok = !slash || (*slash = 0, parent[0] == 0 || (stat(parent, &st) == 0 && S_ISDIR(st.st_mode)));
    free(parent);
    return parent_ok ? ERROR_FILE_NOT_FOUND : ERROR_PATH_NOT_FOUND;
}

static int by_name(const void *a, const void *b) { return strcasecmp(*(char *const *)a, *(char *const *)b); }

static void fill(const find_state *f, const char *name, WIN32_FIND_DATAW *out) {
    memset(out, 0, sizeof *out);
    char *p = lyr_join2(f->dir, name);
    struct stat st;
    efile ef;
    memset(&ef, 0, sizeof ef);
    ef.path = p;
    lyr_read_meta(&ef);
    free(ef.sd); free(ef.reparse);
    out->dwFileAttributes = lyr_attributes_of(p);
    if (stat(p, &st) == 0 && !S_ISDIR(st.st_mode)) {
        out->nFileSizeHigh = (DWORD)((uint64_t)st.st_size >> 32);
        out->nFileSizeLow = (DWORD)st.st_size;
    }
    int64_t t[3] = { ef.basic.CreationTime, ef.basic.LastAccessTime, ef.basic.LastWriteTime };
    FILETIME32 *ft[3] = { &out->ftCreationTime, &out->ftLastAccessTime, &out->ftLastWriteTime };
    for (int i = 0; i < 3; i++) { ft[i]->lo = (uint32_t)t[i]; ft[i]->hi = (uint32_t)((uint64_t)t[i] >> 32); }
    size_t i = 0;
    for (const unsigned char *c = (const unsigned char *)name; *c && i < 259; c++) out->cFileName[i++] = *c; /* CHOICE: ASCII names */
    free(p);
}

static int list(find_state *f) {
    DIR *d = opendir(f->dir);
    if (!d) return -1;
    int cap = 16;
    f->names = malloc(sizeof(char *) * (size_t)cap);
    struct dirent *de;
    while (f->names && (de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, ".hcsemu", 7) == 0) continue;
        if (f->n == cap) f->names = realloc(f->names, sizeof(char *) * (size_t)(cap *= 2));
        if (f->names) f->names[f->n++] = strdup(de->d_name);
    }
    closedir(d);
    if (!f->names) return -1;
    qsort(f->names, (size_t)f->n, sizeof(char *), by_name);
    return 0;
}

static void release(find_state *f) {
    for (int i = 0; i < f->n; i++) free(f->names[i]);
    free(f->names); free(f->dir);
    memset(f, 0, sizeof *f);
}

static find_state *find_of(HANDLE h) {
    intptr_t i = (h - FIND_BASE) / 4;
    if (h < FIND_BASE || (h - FIND_BASE) % 4 != 0 || i >= MAX_FINDS || !finds[i].used) return NULL;
    return &finds[i];
}

EXPORT HANDLE FindFirstFileW(const char16_t *pattern16, WIN32_FIND_DATAW *out) {
    if (!pattern16 || !out) { SetLastError(ERROR_INVALID_PARAMETER); return INVALID_HANDLE_VALUE; }
    char *pattern = lyr_utf8_of(pattern16);
    size_t n = strlen(pattern);
    if (n < 2 || pattern[n - 1] != '*' || (pattern[n - 2] != '/' && pattern[n - 2] != '\\') || strpbrk(pattern, "?") || strchr(pattern, '*') != pattern + n - 1) {
        free(pattern);
        SetLastError(ERROR_INVALID_PARAMETER);
        return INVALID_HANDLE_VALUE;
    }
    pattern[n - 2] = 0;
    struct stat st;
    if (stat(pattern, &st) != 0 || !S_ISDIR(st.st_mode)) {
        SetLastError(ERROR_PATH_NOT_FOUND); /* CHOICE: also when <dir> is a file */
        free(pattern);
        return INVALID_HANDLE_VALUE;
    }
    pthread_mutex_lock(&lock);
    int i = 0;
    while (i < MAX_FINDS && finds[i].used) i++;
    if (i == MAX_FINDS) { pthread_mutex_unlock(&lock); free(pattern); SetLastError(ERROR_NOT_ENOUGH_MEMORY); return INVALID_HANDLE_VALUE; }
    find_state *f = &finds[i];
    f->used = 1;
    f->dir = pattern;
    if (list(f) != 0 || f->n == 0) {
        DWORD e = f->names ? ERROR_FILE_NOT_FOUND : ERROR_NOT_ENOUGH_MEMORY;
        release(f);
        pthread_mutex_unlock(&lock);
        SetLastError(e);
        return INVALID_HANDLE_VALUE;
    }
    fill(f, f->names[f->next++], out);
    pthread_mutex_unlock(&lock);
    SetLastError(ERROR_SUCCESS);
    return (HANDLE)(FIND_BASE + 4 * i);
}

EXPORT BOOL FindNextFileW(HANDLE h, WIN32_FIND_DATAW *out) {
    pthread_mutex_lock(&lock);
    find_state *f = find_of(h);
    DWORD e = !f ? ERROR_INVALID_HANDLE : !out ? ERROR_INVALID_PARAMETER : f->next >= f->n ? ERROR_NO_MORE_FILES : ERROR_SUCCESS;
    if (!e) fill(f, f->names[f->next++], out);
    pthread_mutex_unlock(&lock);
    return e ? fail(e) : 1;
}

EXPORT BOOL FindClose(HANDLE h) {
    pthread_mutex_lock(&lock);
    find_state *f = find_of(h);
    if (f) release(f);
    pthread_mutex_unlock(&lock);
    return f ? 1 : fail(ERROR_INVALID_HANDLE);
}

EXPORT DWORD GetFileAttributesW(const char16_t *name) {
    if (!name || !name[0]) { SetLastError(ERROR_INVALID_PARAMETER); return INVALID_FILE_ATTRIBUTES; }
    char *p = lyr_utf8_of(name);
    DWORD a = lyr_attributes_of(p);
    SetLastError(a == INVALID_FILE_ATTRIBUTES ? missing_error(p) : ERROR_SUCCESS);
    free(p);
    return a;
}

/* Removes `<dir>/.hcsemu/<name>.meta` and every `<dir>/.hcsemu/<name>:<stream>`. */
static void remove_sidecars(const char *path) {
    char *meta = lyr_sidecar(path, ".meta", 0), *prefix = lyr_sidecar(path, ":", 0);
    if (meta) unlink(meta);
    char *slash = prefix ? strrchr(prefix, '/') : NULL;
    if (slash) {
        *slash = 0;
        DIR *d = opendir(prefix);
        size_t n = strlen(slash + 1);
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            if (strncmp(de->d_name, slash + 1, n) != 0) continue;
            char *s = lyr_join2(prefix, de->d_name);
            unlink(s);
            free(s);
        }
        if (d) closedir(d);
    }
    free(meta); free(prefix);
}

EXPORT BOOL DeleteFileW(const char16_t *name) {
    if (!name || !name[0]) return fail(ERROR_INVALID_PARAMETER);
    char *p = lyr_utf8_of(name);
    struct stat st;
    DWORD e = lstat(p, &st) != 0 ? missing_error(p) : S_ISDIR(st.st_mode) ? ERROR_ACCESS_DENIED : ERROR_SUCCESS;
    if (!e && unlink(p) != 0) e = lyr_win32_of_errno(errno);
    if (!e) remove_sidecars(p);
    free(p);
    return e ? fail(e) : 1;
}

/* Empty but for the emulator's `.hcsemu` sidecar folder (whose leftovers are removed with it). */
static DWORD remove_empty_dir(const char *p) {
    DIR *d = opendir(p);
    if (!d) return lyr_win32_of_errno(errno);
    struct dirent *de;
    DWORD e = ERROR_SUCCESS;
    while (!e && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, ".hcsemu")) e = ERROR_DIR_NOT_EMPTY;
    closedir(d);
    char *side = lyr_join2(p, ".hcsemu");
    DIR *s = e ? NULL : opendir(side);
    while (s && (de = readdir(s)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char *f = lyr_join2(side, de->d_name);
        unlink(f);
        free(f);
    }
    if (s) { closedir(s); rmdir(side); }
    free(side);
    if (!e && rmdir(p) != 0) e = lyr_win32_of_errno(errno);
    return e;
}

EXPORT BOOL RemoveDirectoryW(const char16_t *name) {
    if (!name || !name[0]) return fail(ERROR_INVALID_PARAMETER);
    char *p = lyr_utf8_of(name);
    struct stat st;
    DWORD e = lstat(p, &st) != 0 ? missing_error(p) : !S_ISDIR(st.st_mode) ? ERROR_DIRECTORY : remove_empty_dir(p);
    if (!e) remove_sidecars(p);
    free(p);
    return e ? fail(e) : 1;
}
