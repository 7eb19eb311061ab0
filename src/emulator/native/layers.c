/*
 * The layer emulation's shared half, compiled into libvmcompute.so (ImportLayer decodes transport
 * files with it) and into libkernel32-emu.so (BackupWrite feeds it): UTF-16 and path helpers, the
 * strict backup-stream parser (WIN32_STREAM_ID records) and the on-disk metadata it writes. The
 * exports live in layers-vmcompute.c (vmcompute.dll) and kernel32/files.c (kernel32.dll and the
 * token privileges); each library has its own copy of this code (hidden symbols).
 *
 * Sources (provisioning.md): the backup stream (WIN32_STREAM_ID records) and the transport format
 * (4-byte attributes + backup stream per file, <dir>.$wcidirs$ markers, tombstones.txt) 2.3
 * ([SHIM] internal/wclayer/legacy.go, go-winio backup.go); privileges 0.7. Behaviour no source
 * shows is marked CHOICE.
 *
 * On-disk form (for tests): file data is the plain file; its metadata is a lyr_sidecar
 * `<dir>/.hcsemu/<name>.meta` (key=value lines: attributes, the four FILE_BASIC_INFO times,
 * sd=<hex of the security descriptor>, ads=<names>, reparse=<hex>), alternate data streams are
 * `<dir>/.hcsemu/<name>:<stream>`. A processed or imported layer has `<layer>/.hcsemu-layer`.
 *
 * Stricter than Windows on purpose: a backup stream that ends inside a record (at the closing
 * BackupWrite(bAbort=TRUE)) fails with ERROR_INVALID_DATA; unknown stream ids, sparse blocks,
 * malformed security descriptors and ADS names are ERROR_INVALID_DATA.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uchar.h>
#include <unistd.h>

#include "layers.h"

/* ---- strings and paths ------------------------------------------------------------------- */

char *lyr_utf8_of(const char16_t *s) {
    if (!s) return NULL;
    size_t n = 0;
    while (s[n]) n++;
    char *out = malloc(n * 3 + 1), *p = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00);
            i++;
        }
        if (c < 0x80) *p++ = (char)c;
        else if (c < 0x800) { *p++ = (char)(0xC0 | (c >> 6)); *p++ = (char)(0x80 | (c & 0x3F)); }
        else if (c < 0x10000) { *p++ = (char)(0xE0 | (c >> 12)); *p++ = (char)(0x80 | ((c >> 6) & 0x3F)); *p++ = (char)(0x80 | (c & 0x3F)); }
        else { *p++ = (char)(0xF0 | (c >> 18)); *p++ = (char)(0x80 | ((c >> 12) & 0x3F)); *p++ = (char)(0x80 | ((c >> 6) & 0x3F)); *p++ = (char)(0x80 | (c & 0x3F)); }
    }
    *p = 0;
    return out;
}

char *lyr_join2(const char *a, const char *b) {
    char *out = NULL;
    if (asprintf(&out, "%s/%s", a, b) < 0) return NULL;
    return out;
}

/* `<dir>/.hcsemu/<name><suffix>` for a path `<dir>/<name>`; creates `.hcsemu` when `create`. */
char *lyr_sidecar(const char *path, const char *suffix, int create) {
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) : 1;
    const char *dir = slash ? path : ".";
    const char *name = slash ? slash + 1 : path;
    char *side = NULL;
    if (asprintf(&side, "%.*s/.hcsemu", (int)dlen, dir) < 0) return NULL;
    if (create && mkdir(side, 0755) != 0 && errno != EEXIST) { free(side); return NULL; }
    char *out = NULL;
    int r = asprintf(&out, "%s/%s%s", side, name, suffix);
    free(side);
    return r < 0 ? NULL : out;
}

DWORD lyr_win32_of_errno(int e) {
    switch (e) {
    case ENOENT: return ERROR_FILE_NOT_FOUND;
    case ENOTDIR: return ERROR_PATH_NOT_FOUND;
    case EEXIST: return ERROR_FILE_EXISTS;
    case EACCES: case EPERM: return ERROR_ACCESS_DENIED;
    case ENOTEMPTY: return ERROR_DIR_NOT_EMPTY;
    case ENOMEM: return ERROR_NOT_ENOUGH_MEMORY;
    default: return ERROR_WRITE_FAULT;
    }
}

/* ---- files and the backup-stream parser --------------------------------------------------- */



static void hex_line(FILE *f, const char *key, const uint8_t *b, size_t n) {
    fprintf(f, "%s=", key);
    for (size_t i = 0; i < n; i++) fprintf(f, "%02x", b[i]);
    fputc('\n', f);
}

/*
 * Writes the lyr_sidecar metadata of `ef` (CHOICE: the emulator's on-disk stand-in for NTFS metadata).
 * Through a temp file and a rename, except when the sidecar has several links (CreateHardLinkW links
 * it with the data, kernel32/files.c): NTFS metadata belongs to the file, not to one of its names,
 * so it is rewritten in place for every name to see.
 */
int lyr_write_meta(efile *ef) {
    char *meta = lyr_sidecar(ef->path, ".meta", 1);
    if (!meta) return -1;
    struct stat st;
    int shared = stat(meta, &st) == 0 && st.st_nlink > 1;
    char *tmp = NULL;
    if (asprintf(&tmp, shared ? "%s" : "%s.tmp", meta) < 0) { free(meta); return -1; }
    FILE *f = fopen(tmp, "w");
    if (!f) { free(meta); free(tmp); return -1; }
    fprintf(f, "type=%s\n", ef->is_dir ? "directory" : "file");
    if (ef->has_basic) {
        fprintf(f, "attributes=%u\ncreation=%lld\nlastaccess=%lld\nlastwrite=%lld\nchange=%lld\n", ef->basic.FileAttributes,
                (long long)ef->basic.CreationTime, (long long)ef->basic.LastAccessTime, (long long)ef->basic.LastWriteTime, (long long)ef->basic.ChangeTime);
    }
    if (ef->sd) hex_line(f, "sd", ef->sd, ef->sd_len);
    if (ef->reparse) hex_line(f, "reparse", ef->reparse, ef->reparse_len);
    if (ef->ads_names[0]) fprintf(f, "ads=%s\n", ef->ads_names);
    int ok = fclose(f) == 0 && (shared || rename(tmp, meta) == 0);
    free(meta); free(tmp);
    return ok ? 0 : -1;
}

static uint8_t *unhex(const char *h, size_t *n) {
    size_t len = strcspn(h, "\n") / 2;
    uint8_t *b = malloc(len ? len : 1);
    for (size_t i = 0; b && i < len; i++) {
        unsigned v = 0;
        if (sscanf(h + 2 * i, "%2x", &v) != 1) { free(b); return NULL; }
        b[i] = (uint8_t)v;
    }
    *n = b ? len : 0;
    return b;
}

void lyr_read_meta(efile *ef) {
    char *meta = lyr_sidecar(ef->path, ".meta", 0);
    FILE *f = meta ? fopen(meta, "r") : NULL;
    free(meta);
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        long long v;
        unsigned a;
        if (sscanf(line, "attributes=%u", &a) == 1) { ef->basic.FileAttributes = a; ef->has_basic = 1; }
        else if (sscanf(line, "creation=%lld", &v) == 1) ef->basic.CreationTime = v;
        else if (sscanf(line, "lastaccess=%lld", &v) == 1) ef->basic.LastAccessTime = v;
        else if (sscanf(line, "lastwrite=%lld", &v) == 1) ef->basic.LastWriteTime = v;
        else if (sscanf(line, "change=%lld", &v) == 1) ef->basic.ChangeTime = v;
        else if (strncmp(line, "sd=", 3) == 0) { free(ef->sd); ef->sd = unhex(line + 3, &ef->sd_len); }
        else if (strncmp(line, "reparse=", 8) == 0) { free(ef->reparse); ef->reparse = unhex(line + 8, &ef->reparse_len); }
        else if (strncmp(line, "ads=", 4) == 0) snprintf(ef->ads_names, sizeof ef->ads_names, "%.*s", (int)strcspn(line + 4, "\n"), line + 4);
    }
    free(line);
    fclose(f);
}

uint32_t lyr_attributes_of(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return INVALID_FILE_ATTRIBUTES;
    efile ef;
    memset(&ef, 0, sizeof ef);
    ef.path = (char *)path;
    lyr_read_meta(&ef);
    free(ef.sd); free(ef.reparse);
    if (ef.has_basic && ef.basic.FileAttributes != 0) return ef.basic.FileAttributes;
    /* CHOICE: what no metadata says: a directory, else ARCHIVE (what a new Windows file gets). */
    return S_ISDIR(st.st_mode) ? FILE_ATTRIBUTE_DIRECTORY : FILE_ATTRIBUTE_ARCHIVE;
}

void lyr_release(efile *ef) {
    if (ef->fd >= 0) close(ef->fd);
    if (ef->ads_fd >= 0) close(ef->ads_fd);
    free(ef->path); free(ef->sd); free(ef->reparse);
    memset(ef, 0, sizeof *ef);
    ef->fd = ef->ads_fd = -1;
}

int lyr_mid_record(const efile *ef) { return ef->phase != 0 || ef->hdr_have != 0; }

/* A self-relative SECURITY_DESCRIPTOR: revision 1, SE_SELF_RELATIVE, offsets inside the buffer. */
static int valid_sd(const uint8_t *b, size_t n) {
    if (n < 20 || b[0] != 1) return 0;
    uint16_t control = (uint16_t)(b[2] | (b[3] << 8));
    if (!(control & SE_SELF_RELATIVE)) return 0;
    for (int i = 0; i < 4; i++) {
        uint32_t off = (uint32_t)b[4 + 4 * i] | ((uint32_t)b[5 + 4 * i] << 8) | ((uint32_t)b[6 + 4 * i] << 16) | ((uint32_t)b[7 + 4 * i] << 24);
        if (off != 0 && (off < 20 || off >= n)) return 0;
    }
    return 1;
}

/* The name of an ADS record `:<name>:$DATA` (UTF-16) as UTF-8, or NULL when malformed. */
static char *ads_name(const efile *ef) {
    size_t n = ef->name_size / 2;
    char16_t w[512];
    if (n < 8 || n >= 512) return NULL;
    memcpy(w, ef->name_buf, ef->name_size);
    w[n] = 0;
    static const char16_t tail[] = u":$DATA";
    if (w[0] != u':' || memcmp(w + n - 6, tail, 12) != 0) return NULL;
    w[n - 6] = 0;
    for (size_t i = 1; i < n - 6; i++) if (w[i] == u':' || w[i] == u'/' || w[i] == u'\\' || w[i] == 0) return NULL;
    return lyr_utf8_of(w + 1);
}

static int ads_listed(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] ? 1 : 0))
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == 0)) return 1;
    return 0;
}

static DWORD begin_body(efile *ef) {
    switch (ef->stream_id) {
    case BACKUP_DATA:
        if (ef->name_size != 0 || ef->seen_data || ef->is_dir) return ERROR_INVALID_DATA;
        ef->seen_data = 1;
        return ERROR_SUCCESS;
    case BACKUP_SECURITY_DATA:
        if (ef->name_size != 0 || ef->seen_security || ef->remaining > 65536) return ERROR_INVALID_DATA;
        if (ef->process_security && !lyr_privileges_ok()) return ERROR_PRIVILEGE_NOT_HELD;
        ef->seen_security = 1;
        free(ef->sd);
        ef->sd = malloc(ef->remaining ? ef->remaining : 1);
        ef->sd_len = 0;
        return ef->sd ? ERROR_SUCCESS : ERROR_NOT_ENOUGH_MEMORY;
    case BACKUP_REPARSE_DATA:
        if (ef->name_size != 0 || ef->seen_reparse || ef->remaining > 16384) return ERROR_INVALID_DATA;
        ef->seen_reparse = 1;
        free(ef->reparse); /* an existing object's reparse data (lyr_read_meta) is replaced */
        ef->reparse = malloc(ef->remaining ? ef->remaining : 1);
        ef->reparse_len = 0;
        return ef->reparse ? ERROR_SUCCESS : ERROR_NOT_ENOUGH_MEMORY;
    case BACKUP_EA_DATA:
        return ef->name_size == 0 ? ERROR_SUCCESS : ERROR_INVALID_DATA;
    case BACKUP_ALTERNATE_DATA: {
        if (ef->is_dir) return ERROR_INVALID_DATA;
        char *name = ads_name(ef);
        if (!name) return ERROR_INVALID_DATA;
        size_t used = strlen(ef->ads_names);
        if (used + strlen(name) + 2 > sizeof ef->ads_names) { free(name); return ERROR_INVALID_DATA; }
        if (!ads_listed(ef->ads_names, name)) { /* an existing object's stream is rewritten, not listed twice */
            if (used) strcat(ef->ads_names, ",");
            strcat(ef->ads_names, name);
        }
        char suffix[600];
        snprintf(suffix, sizeof suffix, ":%s", name);
        free(name);
        char *p = lyr_sidecar(ef->path, suffix, 1);
        if (!p) return ERROR_NOT_ENOUGH_MEMORY;
        ef->ads_fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        free(p);
        return ef->ads_fd >= 0 ? ERROR_SUCCESS : lyr_win32_of_errno(errno);
    }
    default:
        return ERROR_INVALID_DATA; /* BACKUP_LINK, BACKUP_SPARSE_BLOCK, object ids, ...: not accepted here */
    }
}

static int write_all(int fd, const uint8_t *b, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        b += w; n -= (size_t)w;
    }
    return 0;
}

static DWORD body_bytes(efile *ef, const uint8_t *b, size_t n) {
    switch (ef->stream_id) {
    case BACKUP_DATA: return write_all(ef->fd, b, n) == 0 ? ERROR_SUCCESS : ERROR_WRITE_FAULT;
    case BACKUP_SECURITY_DATA: memcpy(ef->sd + ef->sd_len, b, n); ef->sd_len += n; return ERROR_SUCCESS;
    case BACKUP_REPARSE_DATA: memcpy(ef->reparse + ef->reparse_len, b, n); ef->reparse_len += n; return ERROR_SUCCESS;
    case BACKUP_ALTERNATE_DATA: return write_all(ef->ads_fd, b, n) == 0 ? ERROR_SUCCESS : ERROR_WRITE_FAULT;
    default: return ERROR_SUCCESS; /* EA data: accepted, not kept */
    }
}

static DWORD end_body(efile *ef) {
    if (ef->stream_id == BACKUP_SECURITY_DATA && !valid_sd(ef->sd, ef->sd_len)) return ERROR_INVALID_DATA;
    if (ef->stream_id == BACKUP_ALTERNATE_DATA) { close(ef->ads_fd); ef->ads_fd = -1; }
    ef->phase = 0;
    return ERROR_SUCCESS;
}

/* Feeds backup-stream bytes (any split) through the record parser. */
DWORD lyr_feed(efile *ef, const uint8_t *b, size_t n) {
    ef->dirty = 1;
    while (n > 0) {
        if (ef->phase == 0) {
            size_t take = STREAM_HEADER - ef->hdr_have < n ? STREAM_HEADER - ef->hdr_have : n;
            memcpy(ef->hdr + ef->hdr_have, b, take);
            ef->hdr_have += take; b += take; n -= take;
            if (ef->hdr_have < STREAM_HEADER) break;
            ef->hdr_have = 0;
            memcpy(&ef->stream_id, ef->hdr, 4);
            int64_t size;
            memcpy(&size, ef->hdr + 8, 8);
            memcpy(&ef->name_size, ef->hdr + 16, 4);
            if (size < 0 || ef->name_size % 2 != 0 || ef->name_size > sizeof ef->name_buf - 2) return ERROR_INVALID_DATA;
            ef->remaining = (uint64_t)size;
            ef->name_have = 0;
            ef->phase = 1;
        }
        if (ef->phase == 1) {
            size_t take = ef->name_size - ef->name_have < n ? ef->name_size - ef->name_have : n;
            memcpy(ef->name_buf + ef->name_have, b, take);
            ef->name_have += take; b += take; n -= take;
            if (ef->name_have < ef->name_size) break;
            DWORD e = begin_body(ef);
            if (e) return e;
            ef->phase = 2;
        }
        if (ef->phase == 2) {
            size_t take = ef->remaining < n ? (size_t)ef->remaining : n;
            if (take) {
                DWORD e = body_bytes(ef, b, take);
                if (e) return e;
            }
            ef->remaining -= take; b += take; n -= take;
            if (ef->remaining == 0) {
                DWORD e = end_body(ef);
                if (e) return e;
            }
        }
    }
    /* A zero-length body completes as soon as its header and name are in. */
    if (ef->phase == 2 && ef->remaining == 0) return end_body(ef);
    return ERROR_SUCCESS;
}

