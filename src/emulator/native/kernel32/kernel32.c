/*
 * kernel32.c: libkernel32-emu.so, the emulator's stand-in for the three kernel32.dll exports the
 * binding uses on process stdio pipes (src/hcs/stdio.ts): ReadFile, WriteFile, CloseHandle, plus
 * GetLastError. It is loaded where kernel32.dll is on Windows, so the binding code is the same.
 *
 * Prototypes (Microsoft Learn, fileapi.h / handleapi.h / errhandlingapi.h):
 *   BOOL ReadFile(HANDLE, LPVOID, DWORD nNumberOfBytesToRead, LPDWORD lpNumberOfBytesRead, LPOVERLAPPED);
 *   BOOL WriteFile(HANDLE, LPCVOID, DWORD nNumberOfBytesToWrite, LPDWORD lpNumberOfBytesWritten, LPOVERLAPPED);
 *   BOOL CloseHandle(HANDLE);  DWORD GetLastError(void);
 * BOOL is int32, DWORD uint32, HANDLE pointer-sized.
 *
 * Handles live in this library's own table: values are multiples of 4 from 0x1000 up and never
 * reused, so a second CloseHandle of the same value fails with ERROR_INVALID_HANDLE instead of
 * closing someone else's descriptor. Each entry wraps a POSIX fd (a Unix socket to the emulated
 * service, see PROTOCOL.md "Process stdio"). libcomputecore.so adds entries through
 * Kernel32EmuAdoptFd when HcsCreateProcess asked for pipes.
 *
 * Behaviour modelled (ReadFile docs, "Pipes"): reading a pipe whose write end is closed returns
 * FALSE with ERROR_BROKEN_PIPE; writing to a pipe whose read end is closed fails (ERROR_NO_DATA,
 * "The pipe is being closed", is what a named pipe reports: UNVERIFIED for HCS's pipes).
 * Overlapped I/O is not modelled: a non-NULL OVERLAPPED gets ERROR_INVALID_PARAMETER.
 * CloseHandle while another thread is blocked in ReadFile on the same handle: the fd is shut down
 * (the blocked read returns with ERROR_BROKEN_PIPE) and closed when the last user leaves.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define API __attribute__((visibility("default")))

typedef int32_t BOOL;
typedef uint32_t DWORD;
typedef void *HANDLE;

enum {
    ERROR_INVALID_HANDLE = 6,
    ERROR_BROKEN_PIPE = 109,
    ERROR_INVALID_PARAMETER = 87,
    ERROR_NO_DATA = 232,
    ERROR_GEN_FAILURE = 31,
};

typedef struct entry {
    struct entry *next;
    uintptr_t value;
    int fd;
    int users;   /* the table's reference + calls in progress */
    int closed;  /* CloseHandle happened: invisible to lookups */
} entry;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static entry *g_entries;
static uintptr_t g_next = 0x1000;
static uint32_t g_open;
static __thread DWORD t_last_error;

static void set_error(DWORD e) { t_last_error = e; }

API DWORD GetLastError(void) { return t_last_error; }

/* errhandlingapi.h; used by files.c (the layer writer's file exports, in this library too). */
API void SetLastError(DWORD e) { t_last_error = e; }

int k32_files_close(HANDLE h); /* files.c: 1 closed, 0 failed (error set), -1 not one of its handles */

static void release_locked(entry *e) {
    if (--e->users > 0) return;
    entry **pp = &g_entries;
    while (*pp && *pp != e) pp = &(*pp)->next;
    if (*pp) *pp = e->next;
    close(e->fd);
    free(e);
}

/* A live entry with a user reference taken, or NULL (ERROR_INVALID_HANDLE set). */
static entry *acquire(HANDLE h) {
    pthread_mutex_lock(&g_lock);
    entry *e = g_entries;
    while (e && e->value != (uintptr_t)h) e = e->next;
    if (e && e->closed) e = NULL;
    if (e) e->users++;
    pthread_mutex_unlock(&g_lock);
    if (!e) set_error(ERROR_INVALID_HANDLE);
    return e;
}

static void release(entry *e) {
    pthread_mutex_lock(&g_lock);
    release_locked(e);
    pthread_mutex_unlock(&g_lock);
}

/* Emulator-only: takes ownership of fd and returns a new HANDLE for it (NULL on out of memory). */
API HANDLE Kernel32EmuAdoptFd(int fd) {
    entry *e = calloc(1, sizeof *e);
    if (!e) {
        close(fd);
        return NULL;
    }
    pthread_mutex_lock(&g_lock);
    e->value = g_next;
    g_next += 4;
    e->fd = fd;
    e->users = 1;
    e->next = g_entries;
    g_entries = e;
    g_open++;
    pthread_mutex_unlock(&g_lock);
    return (HANDLE)e->value;
}

/* Emulator-only: handles created and not yet closed (tests check "closed exactly once"). */
API uint32_t Kernel32EmuOpenHandleCount(void) {
    pthread_mutex_lock(&g_lock);
    uint32_t n = g_open;
    pthread_mutex_unlock(&g_lock);
    return n;
}

API BOOL ReadFile(HANDLE h, void *buffer, DWORD toRead, DWORD *bytesRead, void *overlapped) {
    if (bytesRead) *bytesRead = 0;
    if (overlapped || (!buffer && toRead > 0)) {
        set_error(ERROR_INVALID_PARAMETER);
        return 0;
    }
    entry *e = acquire(h);
    if (!e) return 0;
    ssize_t n;
    do n = recv(e->fd, buffer, toRead, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == ENOTSOCK) {
        do n = read(e->fd, buffer, toRead);
        while (n < 0 && errno == EINTR);
    }
    release(e);
    if (n > 0) {
        if (bytesRead) *bytesRead = (DWORD)n;
        return 1;
    }
    if (toRead == 0 && n == 0) return 1;
    /* End of stream (writer gone) or a reset connection: both are a broken pipe to the reader. */
    set_error(ERROR_BROKEN_PIPE);
    return 0;
}

API BOOL WriteFile(HANDLE h, const void *buffer, DWORD toWrite, DWORD *written, void *overlapped) {
    if (written) *written = 0;
    if (overlapped || (!buffer && toWrite > 0)) {
        set_error(ERROR_INVALID_PARAMETER);
        return 0;
    }
    entry *e = acquire(h);
    if (!e) return 0;
    const uint8_t *p = buffer;
    DWORD done = 0;
    int failed = 0;
    while (done < toWrite) {
        ssize_t n = send(e->fd, p + done, toWrite - done, MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK) n = write(e->fd, p + done, toWrite - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            failed = 1;
            break;
        }
        done += (DWORD)n;
    }
    release(e);
    if (written) *written = done;
    if (failed) {
        set_error(ERROR_NO_DATA);
        return 0;
    }
    return 1;
}

API BOOL CloseHandle(HANDLE h) {
    pthread_mutex_lock(&g_lock);
    entry *e = g_entries;
    while (e && e->value != (uintptr_t)h) e = e->next;
    if (!e || e->closed) {
        pthread_mutex_unlock(&g_lock);
        int file = k32_files_close(h);
        if (file >= 0) return file;
        set_error(ERROR_INVALID_HANDLE);
        return 0;
    }
    e->closed = 1;
    g_open--;
    shutdown(e->fd, SHUT_RDWR); /* wakes a ReadFile blocked on another thread */
    release_locked(e);
    pthread_mutex_unlock(&g_lock);
    return 1;
}
