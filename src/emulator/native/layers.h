/* Shared by layers.c (backup-stream parser), layers-vmcompute.c (vmcompute layer exports) and kernel32/files.c (kernel32 file exports, token privileges). */
#ifndef HCS_EMULATOR_LAYERS_H
#define HCS_EMULATOR_LAYERS_H
#include <pthread.h>
#include <stdint.h>
#include <uchar.h>

#define EXPORT __attribute__((visibility("default")))

typedef int32_t HRESULT;
typedef int32_t BOOL;
typedef uint32_t DWORD;
typedef intptr_t HANDLE;

#define S_OK 0
#define E_INVALIDARG ((HRESULT)0x80070057)
#define HR_WIN32(e) ((HRESULT)(0x80070000u | (uint32_t)(e)))

#define ERROR_SUCCESS 0
#define ERROR_FILE_NOT_FOUND 2
#define ERROR_PATH_NOT_FOUND 3
#define ERROR_ACCESS_DENIED 5
#define ERROR_INVALID_HANDLE 6
#define ERROR_NOT_ENOUGH_MEMORY 8
#define ERROR_INVALID_DATA 13
#define ERROR_NO_MORE_FILES 18
#define ERROR_WRITE_FAULT 29
#define ERROR_FILE_EXISTS 80
#define ERROR_INVALID_PARAMETER 87
#define ERROR_DIR_NOT_EMPTY 145
#define ERROR_ALREADY_EXISTS 183
#define ERROR_DIRECTORY 267
#define ERROR_NOT_ALL_ASSIGNED 1300
#define ERROR_NO_SUCH_PRIVILEGE 1313
#define ERROR_PRIVILEGE_NOT_HELD 1314

#define INVALID_HANDLE_VALUE ((HANDLE)-1)
#define CURRENT_PROCESS ((HANDLE)-1)
#define TOKEN_HANDLE ((HANDLE)0x3ffffffc) /* below kernel32/files.c handles, above any pipe handle the tests reach */
#define FILE_FLAG_BACKUP_SEMANTICS 0x02000000u
#define FILE_ATTRIBUTE_DIRECTORY 0x10u
#define FILE_ATTRIBUTE_ARCHIVE 0x20u
#define FILE_ATTRIBUTE_REPARSE_POINT 0x400u
#define INVALID_FILE_ATTRIBUTES 0xffffffffu
#define SE_PRIVILEGE_ENABLED 0x2u
#define SE_SELF_RELATIVE 0x8000u

/* WIN32_STREAM_ID stream ids (winbase.h). */
#define BACKUP_DATA 1
#define BACKUP_EA_DATA 2
#define BACKUP_SECURITY_DATA 3
#define BACKUP_ALTERNATE_DATA 4
#define BACKUP_LINK 5
#define BACKUP_REPARSE_DATA 8
#define BACKUP_SPARSE_BLOCK 9
#define STREAM_HEADER 20 /* DWORD id, DWORD attributes, LARGE_INTEGER size, DWORD name size */

typedef struct { int32_t Flavour; const char16_t *HomeDir; } DriverInfo;
typedef struct { uint8_t LayerId[16]; uint32_t Flags; const char16_t *Path; } WC_LAYER_DESCRIPTOR;
typedef struct { uint32_t LowPart; int32_t HighPart; } LUID;
typedef struct { LUID Luid; uint32_t Attributes; } LUID_AND_ATTRIBUTES;
typedef struct { uint32_t PrivilegeCount; LUID_AND_ATTRIBUTES Privileges[1]; } TOKEN_PRIVILEGES;
typedef struct { int64_t CreationTime, LastAccessTime, LastWriteTime, ChangeTime; uint32_t FileAttributes; uint32_t pad; } FILE_BASIC_INFO;

typedef struct {
    int used;
    char *path;
    int fd;            /* -1 for a directory */
    int is_dir;
    int is_token;
    FILE_BASIC_INFO basic;
    int has_basic;
    /* BackupWrite state */
    int in_backup;
    uint8_t hdr[STREAM_HEADER];
    size_t hdr_have;
    uint32_t stream_id;
    uint64_t remaining;
    uint32_t name_size;
    uint8_t name_buf[1024];
    size_t name_have;
    int phase;         /* 0 header, 1 name, 2 body */
    int seen_data, seen_security, seen_reparse;
    uint8_t *sd; size_t sd_len;
    uint8_t *reparse; size_t reparse_len;
    char ads_names[2048];
    int ads_fd;
    int process_security;
    int dirty;
    void *reader;      /* BackupRead state (kernel32/backup-read.c) */
} efile;

/* SeBackup + SeRestore enabled: kernel32/files.c keeps the token; libvmcompute.so asks it (layers-vmcompute.c). */
int lyr_privileges_ok(void);
char *lyr_utf8_of(const char16_t *s);
char *lyr_join2(const char *a, const char *b);
char *lyr_sidecar(const char *path, const char *suffix, int create);
DWORD lyr_win32_of_errno(int e);
/* Tells the service that a layer call on `dir` succeeded, for its call log only (scratch.c; result ignored). */
void lyr_notify(const char *api, const char *dir);
int lyr_write_meta(efile *ef);
/* Loads the lyr_sidecar metadata of ef->path (if any) into `ef`: basic info, sd, reparse, ADS names. */
void lyr_read_meta(efile *ef);
/* Windows attributes of `path`: its metadata's, else DIRECTORY or ARCHIVE from lstat; INVALID_FILE_ATTRIBUTES when absent. */
uint32_t lyr_attributes_of(const char *path);
void lyr_release(efile *ef);
int lyr_mid_record(const efile *ef);
DWORD lyr_feed(efile *ef, const uint8_t *b, size_t n);
/* libvmcompute.so only (layers-vmcompute.c; used by layers-process.c). A processed or imported layer has LYR_MARKER. */
#define LYR_MARKER ".hcsemu-layer"
int lyr_is_dir(const char *p);
int lyr_exists(const char *p);
HRESULT lyr_write_marker(const char *layer, const char *text);
#endif
