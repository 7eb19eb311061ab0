/*
 * computecore.h: the computecore.dll C ABI as exported by the Linux emulator library
 * (libcomputecore.so). Prototypes follow the Microsoft HCS reference and windows-rs
 * (Win32 metadata); see /work/shared/reference/hcs-api.md §1.
 *
 * Windows types are spelled with fixed-width equivalents because Linux is LP64 and wchar_t is
 * 32-bit there: PCWSTR/PWSTR are char16_t (UTF-16), HRESULT is int32_t, DWORD is uint32_t, and
 * every handle is a pointer-sized opaque value.
 */
#ifndef HCS_EMULATOR_COMPUTECORE_H
#define HCS_EMULATOR_COMPUTECORE_H

#include <stdint.h>
#include <uchar.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HCS_API __attribute__((visibility("default")))

typedef int32_t HRESULT;
typedef uint32_t DWORD;
typedef const char16_t *PCWSTR;
typedef char16_t *PWSTR;
typedef void *HANDLE;

typedef struct HCS_SYSTEM_ *HCS_SYSTEM;
typedef struct HCS_PROCESS_ *HCS_PROCESS;
typedef struct HCS_OPERATION_ *HCS_OPERATION;

/* Opaque on Windows too; HCS requires NULL. */
typedef struct SECURITY_DESCRIPTOR SECURITY_DESCRIPTOR;

typedef enum HCS_OPERATION_TYPE {
    HcsOperationTypeNone = -1,
    HcsOperationTypeEnumerate = 0,
    HcsOperationTypeCreate = 1,
    HcsOperationTypeStart = 2,
    HcsOperationTypeShutdown = 3,
    HcsOperationTypePause = 4,
    HcsOperationTypeResume = 5,
    HcsOperationTypeSave = 6,
    HcsOperationTypeTerminate = 7,
    HcsOperationTypeModify = 8,
    HcsOperationTypeGetProperties = 9,
    HcsOperationTypeCreateProcess = 10,
    HcsOperationTypeSignalProcess = 11,
    HcsOperationTypeGetProcessInfo = 12,
    HcsOperationTypeGetProcessProperties = 13,
    HcsOperationTypeModifyProcess = 14,
    HcsOperationTypeCrash = 15
} HCS_OPERATION_TYPE;

typedef enum HCS_EVENT_TYPE {
    HcsEventInvalid = 0x00000000,
    HcsEventSystemExited = 0x00000001,
    HcsEventSystemCrashInitiated = 0x00000002,
    HcsEventSystemCrashReport = 0x00000003,
    HcsEventSystemRdpEnhancedModeStateChanged = 0x00000004,
    HcsEventSystemSiloJobCreated = 0x00000005,
    HcsEventSystemGuestConnectionClosed = 0x00000006,
    HcsEventProcessExited = 0x00010000,
    HcsEventOperationCallback = 0x01000000,
    HcsEventServiceDisconnect = 0x02000000
} HCS_EVENT_TYPE;

typedef enum HCS_EVENT_OPTIONS {
    HcsEventOptionNone = 0x00000000,
    HcsEventOptionEnableOperationCallbacks = 0x00000001
} HCS_EVENT_OPTIONS;

/* x64 layout: Type @0, EventData @8, Operation @16; sizeof 24 (same as Windows). */
typedef struct HCS_EVENT {
    int32_t Type; /* HCS_EVENT_TYPE; int32_t so the size is fixed whatever the enum width */
    PCWSTR EventData;
    HCS_OPERATION Operation;
} HCS_EVENT;

/* x64 layout: 0, 4, 8, 16, 24; sizeof 32. Std handles: libkernel32-emu.so HANDLEs when pipes were asked for, else NULL (stdio.c). */
typedef struct HCS_PROCESS_INFORMATION {
    DWORD ProcessId;
    DWORD Reserved;
    HANDLE StdInput;
    HANDLE StdOutput;
    HANDLE StdError;
} HCS_PROCESS_INFORMATION;

typedef void (*HCS_OPERATION_COMPLETION)(HCS_OPERATION operation, void *context);
typedef void (*HCS_EVENT_CALLBACK)(HCS_EVENT *event, void *context);

/* ---- operations ---- */
HCS_API HCS_OPERATION HcsCreateOperation(const void *context, HCS_OPERATION_COMPLETION callback);
HCS_API void HcsCloseOperation(HCS_OPERATION operation);
HCS_API void *HcsGetOperationContext(HCS_OPERATION operation);
HCS_API HRESULT HcsSetOperationContext(HCS_OPERATION operation, const void *context);
HCS_API HCS_SYSTEM HcsGetComputeSystemFromOperation(HCS_OPERATION operation);
HCS_API HCS_PROCESS HcsGetProcessFromOperation(HCS_OPERATION operation);
HCS_API HCS_OPERATION_TYPE HcsGetOperationType(HCS_OPERATION operation);
HCS_API uint64_t HcsGetOperationId(HCS_OPERATION operation);
HCS_API HRESULT HcsGetOperationResult(HCS_OPERATION operation, PWSTR *resultDocument);
HCS_API HRESULT HcsGetOperationResultAndProcessInfo(HCS_OPERATION operation,
                                                    HCS_PROCESS_INFORMATION *processInformation,
                                                    PWSTR *resultDocument);
HCS_API HRESULT HcsWaitForOperationResult(HCS_OPERATION operation, DWORD timeoutMs, PWSTR *resultDocument);
HCS_API HRESULT HcsWaitForOperationResultAndProcessInfo(HCS_OPERATION operation, DWORD timeoutMs,
                                                        HCS_PROCESS_INFORMATION *processInformation,
                                                        PWSTR *resultDocument);
HCS_API HRESULT HcsSetOperationCallback(HCS_OPERATION operation, const void *context,
                                        HCS_OPERATION_COMPLETION callback);
HCS_API HRESULT HcsCancelOperation(HCS_OPERATION operation);

/* ---- compute systems ---- */
HCS_API HRESULT HcsEnumerateComputeSystems(PCWSTR query, HCS_OPERATION operation);
HCS_API HRESULT HcsCreateComputeSystem(PCWSTR id, PCWSTR configuration, HCS_OPERATION operation,
                                       const SECURITY_DESCRIPTOR *securityDescriptor, HCS_SYSTEM *computeSystem);
HCS_API HRESULT HcsOpenComputeSystem(PCWSTR id, DWORD requestedAccess, HCS_SYSTEM *computeSystem);
HCS_API void HcsCloseComputeSystem(HCS_SYSTEM computeSystem);
HCS_API HRESULT HcsStartComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
HCS_API HRESULT HcsShutDownComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
HCS_API HRESULT HcsTerminateComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
HCS_API HRESULT HcsPauseComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
HCS_API HRESULT HcsResumeComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
HCS_API HRESULT HcsGetComputeSystemProperties(HCS_SYSTEM computeSystem, HCS_OPERATION operation,
                                              PCWSTR propertyQuery);
HCS_API HRESULT HcsModifyComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR configuration,
                                       HANDLE identity);
HCS_API HRESULT HcsSetComputeSystemCallback(HCS_SYSTEM computeSystem, HCS_EVENT_OPTIONS callbackOptions,
                                            const void *context, HCS_EVENT_CALLBACK callback);

/* ---- processes ---- */
HCS_API HRESULT HcsCreateProcess(HCS_SYSTEM computeSystem, PCWSTR processParameters, HCS_OPERATION operation,
                                 const SECURITY_DESCRIPTOR *securityDescriptor, HCS_PROCESS *process);
HCS_API HRESULT HcsOpenProcess(HCS_SYSTEM computeSystem, DWORD processId, DWORD requestedAccess,
                               HCS_PROCESS *process);
HCS_API void HcsCloseProcess(HCS_PROCESS process);
HCS_API HRESULT HcsTerminateProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR options);
HCS_API HRESULT HcsSignalProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR options);
HCS_API HRESULT HcsGetProcessInfo(HCS_PROCESS process, HCS_OPERATION operation);
HCS_API HRESULT HcsGetProcessProperties(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR propertyQuery);
HCS_API HRESULT HcsModifyProcess(HCS_PROCESS process, HCS_OPERATION operation, PCWSTR settings);
HCS_API HRESULT HcsSetProcessCallback(HCS_PROCESS process, HCS_EVENT_OPTIONS callbackOptions, const void *context,
                                      HCS_EVENT_CALLBACK callback);

/* ---- result strings: same prototypes as kernel32 / ole32 on Windows; both call free() here ---- */
HCS_API void *LocalFree(void *mem);
HCS_API void CoTaskMemFree(void *mem);

/* ---- emulator-only inspection ---- */
/* Operations + systems + processes currently open (created and not yet closed) in this process. */
HCS_API uint32_t HcsEmuOpenHandleCount(void);
/* Callbacks queued for delivery or running right now. */
HCS_API uint32_t HcsEmuCallbacksInFlight(void);
/* 1 while connected to the emulated compute service, else 0. */
HCS_API int32_t HcsEmuIsConnected(void);

/* HRESULTs the library itself produces (the service produces the HCS_E_* outcomes). */
#define S_OK ((HRESULT)0)
#define E_NOTIMPL ((HRESULT)0x80004001)
#define E_POINTER ((HRESULT)0x80004003)
#define E_OUTOFMEMORY ((HRESULT)0x8007000E)
#define E_INVALIDARG ((HRESULT)0x80070057)
#define E_HANDLE ((HRESULT)0x80070006)
/* HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE): no service, or the connection dropped. */
#define HCS_EMU_E_SERVICE_UNAVAILABLE ((HRESULT)0x800706BA)
#define HCS_E_OPERATION_NOT_STARTED ((HRESULT)0x80370115)
#define HCS_E_OPERATION_ALREADY_STARTED ((HRESULT)0x80370116)
#define HCS_E_OPERATION_PENDING ((HRESULT)0x80370117)
#define HCS_E_OPERATION_TIMEOUT ((HRESULT)0x80370118)
#define HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET ((HRESULT)0x80370119)
#define HCS_E_PROTOCOL_ERROR ((HRESULT)0x80370111)
#define INFINITE_TIMEOUT 0xFFFFFFFFu

#ifdef __cplusplus
}
#endif

#endif /* HCS_EMULATOR_COMPUTECORE_H */
