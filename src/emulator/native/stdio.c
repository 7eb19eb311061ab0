/*
 * stdio.c: the process stdio pipes of HcsCreateProcess (PROTOCOL.md "Process stdio").
 *
 * When the service answers a CreateProcess whose ProcessParameters asked for pipes
 * (CreateStdInPipe/CreateStdOutPipe/CreateStdErrPipe), the RESPONSE carries a token and a mask of
 * the streams it made. For each stream this library opens one more Unix socket to the service
 * (HELLO role 4, then STDIO_ATTACH {token, stream}, then waits for the one-byte acknowledgement),
 * and hands the socket to libkernel32-emu.so's handle table. The resulting HANDLE values are what
 * HcsGetOperationResultAndProcessInfo / HcsWaitForOperationResultAndProcessInfo return in
 * HCS_PROCESS_INFORMATION.StdInput/StdOutput/StdError; the caller owns them and ends them with
 * CloseHandle, exactly as with the real computecore.dll ([MSDOCS] HcsCreateProcess.md Remarks;
 * hcsshim internal/hcs/v2/utils.go makeOpenFiles wraps the same three values).
 *
 * libkernel32-emu.so is found next to this library (dladdr), so both agree on one handle table
 * whichever of them koffi loads first (glibc maps one file once).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "emu.h"
#include "sock.h"
#include "sibling.h"

enum { F_STDIO_ATTACH = 7 };
#define ROLE_STDIO 4u

typedef void *(*adopt_fn)(int fd);

static adopt_fn g_adopt;
static pthread_once_t g_adopt_once = PTHREAD_ONCE_INIT;

static void kernel32_init(void) {
    g_adopt = (adopt_fn)emu_sibling_symbol("libkernel32-emu.so", "Kernel32EmuAdoptFd", "stdio pipes");
}

static adopt_fn kernel32_adopt(void) {
    pthread_once(&g_adopt_once, kernel32_init);
    return g_adopt;
}

/* One stdio socket for (token, stream), acknowledged by the service; -1 on failure. */
static int stdio_connect(uint64_t token, uint32_t stream) {
    int fd = emu_sock_hello(ROLE_STDIO);
    if (fd < 0) return -1;
    emu_buf b = {0};
    buf_u32(&b, 16); /* STDIO_ATTACH: type + token + stream */
    buf_u32(&b, F_STDIO_ATTACH);
    buf_u64(&b, token);
    buf_u32(&b, stream);
    uint8_t ack = 0;
    ssize_t n = -1;
    if (!b.oom && emu_sock_send_all(fd, b.p, b.len) == 0) {
        do n = recv(fd, &ack, 1, 0);
        while (n < 0 && errno == EINTR);
    }
    buf_free(&b);
    if (n != 1 || ack != 1) {
        close(fd);
        return -1;
    }
    return fd;
}

void stdio_open_streams(uint64_t token, uint32_t mask, void *out[3]) {
    for (uint32_t i = 0; i < 3; i++) {
        out[i] = NULL;
        if (!(mask & (1u << i))) continue;
        adopt_fn adopt = kernel32_adopt();
        int fd = adopt ? stdio_connect(token, i) : -1;
        if (fd >= 0) out[i] = adopt(fd);
    }
}
