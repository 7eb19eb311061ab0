/*
 * host.c: the one ntdll.dll export the binding reads host facts with, RtlGetVersion, with the
 * Windows ABI (OSVERSIONINFOW: DWORD size, major, minor, build, platform, WCHAR szCSDVersion[128];
 * [MSDOCS] wdm.h RtlGetVersion / winnt.h OSVERSIONINFOW). The emulated host's build is
 * configurable: HCSEMU_HOST_BUILD (default 20348, Windows Server 2022), read on every call.
 */
#include <stdlib.h>
#include <string.h>

#include "emu.h"

typedef struct OSVERSIONINFOW {
    DWORD dwOSVersionInfoSize;
    DWORD dwMajorVersion;
    DWORD dwMinorVersion;
    DWORD dwBuildNumber;
    DWORD dwPlatformId;
    char16_t szCSDVersion[128];
} OSVERSIONINFOW;

#define STATUS_SUCCESS ((int32_t)0)
#define STATUS_INVALID_PARAMETER ((int32_t)0xC000000D)
#define VER_PLATFORM_WIN32_NT 2
#define EMU_DEFAULT_BUILD 20348u

/* NTSTATUS RtlGetVersion(PRTL_OSVERSIONINFOW): the size field must be set by the caller, as on
 * Windows (OSVERSIONINFOW or the larger OSVERSIONINFOEXW). */
HCS_API int32_t RtlGetVersion(OSVERSIONINFOW *info) {
    if (!info || info->dwOSVersionInfoSize < sizeof(OSVERSIONINFOW)) return STATUS_INVALID_PARAMETER;
    const char *env = getenv("HCSEMU_HOST_BUILD");
    char *end = NULL;
    unsigned long build = env && *env ? strtoul(env, &end, 10) : EMU_DEFAULT_BUILD;
    if (env && *env && (!end || *end != '\0')) build = 0; /* unparsable: an unknown build */
    info->dwMajorVersion = 10;
    info->dwMinorVersion = 0;
    info->dwBuildNumber = (DWORD)build;
    info->dwPlatformId = VER_PLATFORM_WIN32_NT;
    memset(info->szCSDVersion, 0, sizeof info->szCSDVersion);
    return STATUS_SUCCESS;
}
