/*
 * host.h: the synchronous "host" client shared by libcomputenetwork.so (hcn.c) and the scratch exports
 * of libvmcompute.so (scratch.c). Windows keeps networks, endpoints, namespaces and mounted volumes in
 * system services (HNS, vmcompute), not in the calling process, so the emulator keeps them in the
 * emulated service too: they outlive the controller and vanish on `emulator reboot`.
 * Wire format: PROTOCOL.md, "Host role". Not part of any ABI (hidden symbols, one copy per library).
 */
#ifndef HCS_EMULATOR_HOST_H
#define HCS_EMULATOR_HOST_H
#include <stddef.h>
#include <stdint.h>
#include <uchar.h>

/* HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE): the service is not reachable (as conn.c). */
#define HOST_E_UNAVAILABLE ((int32_t)0x800706BA)
#define HOST_E_OUTOFMEMORY ((int32_t)0x8007000E)

/* One call: api name and up to three UTF-8 string arguments (NULL = absent). On return *result and
 * *error_record are malloc'd UTF-8 strings or NULL. Returns the call's HRESULT. */
int32_t host_call(const char *api, const char *a, const char *b, const char *c, char **result, char **error_record);

/* UTF-16 → malloc'd UTF-8 (NULL in → NULL out). */
char *host_utf8(const char16_t *s);
/* UTF-8 → malloc'd UTF-16 (NULL in → NULL out). */
char16_t *host_utf16(const char *s);
/* A GUID (16 bytes, Windows layout) as "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" into out[37]. */
void host_guid_str(const void *guid, char out[37]);
/* Parses the same form (optionally in braces); 0 on success. */
int host_guid_parse(const char *s, void *guid);
#endif
