/* sock.c: see sock.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "sock.h"

int emu_sock_path(char *out, size_t n) {
    const char *env = getenv("HCS_EMULATOR_SOCKET"), *xdg = getenv("XDG_RUNTIME_DIR"), *tmp = getenv("TMPDIR");
    int len;
    if (env && *env) len = snprintf(out, n, "%s", env);
    else if (xdg && *xdg) len = snprintf(out, n, "%s/hcs-emulator/service.sock", xdg);
    else len = snprintf(out, n, "%s/hcs-emulator-%u/service.sock", tmp && *tmp ? tmp : "/tmp", (unsigned)getuid());
    return len > 0 && (size_t)len < n ? 0 : -1;
}

int emu_sock_send_all(int fd, const void *data, size_t n) {
    const uint8_t *p = data;
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static void le32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

int emu_sock_hello(uint32_t role) {
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (emu_sock_path(path, sizeof path) != 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int rc;
    do rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    while (rc != 0 && errno == EINTR);
    uint8_t hello[20]; /* length 16, then type, version, role, pid */
    le32(hello, 16);
    le32(hello + 4, EMU_F_HELLO);
    le32(hello + 8, EMU_PROTOCOL_VERSION);
    le32(hello + 12, role);
    le32(hello + 16, (uint32_t)getpid());
    if (rc != 0 || emu_sock_send_all(fd, hello, sizeof hello) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}
