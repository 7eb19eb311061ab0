/*
 * sock.h: the one way every emulator library reaches the service (PROTOCOL.md): the socket path
 * rule, connect, and the HELLO frame {type 6, version, role, pid}. Linked into each library
 * (hidden symbols, one copy per library); the role tells the service what the connection is:
 * 1 computecore, 3 vmcompute, 4 stdio, 5 host (hostcall.c).
 */
#ifndef HCS_EMULATOR_SOCK_H
#define HCS_EMULATOR_SOCK_H
#include <stddef.h>
#include <stdint.h>

#define EMU_PROTOCOL_VERSION 1u
#define EMU_F_HELLO 6u

/* $HCS_EMULATOR_SOCKET, else $XDG_RUNTIME_DIR/hcs-emulator/service.sock, else
 * ${TMPDIR:-/tmp}/hcs-emulator-<uid>/service.sock; read at every connect. 0 on success. */
int emu_sock_path(char *out, size_t n);
/* Sends all of p[n] (EINTR retried, no SIGPIPE); 0 on success. */
int emu_sock_send_all(int fd, const void *p, size_t n);
/* Connects to the service and sends HELLO with `role`; the connected fd, or -1 (unreachable). */
int emu_sock_hello(uint32_t role);
#endif
