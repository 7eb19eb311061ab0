/* See sibling.h. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include "sibling.h"

void *emu_sibling_symbol(const char *lib, const char *symbol, const char *what) {
    Dl_info info;
    if (!dladdr((void *)emu_sibling_symbol, &info) || !info.dli_fname) return NULL;
    char path[4096];
    const char *slash = strrchr(info.dli_fname, '/');
    int dir = slash ? (int)(slash - info.dli_fname) : 1;
    const char *base = slash ? info.dli_fname : ".";
    if (snprintf(path, sizeof path, "%.*s/%s", dir, base, lib) >= (int)sizeof path) return NULL;
    void *handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    void *sym = handle ? dlsym(handle, symbol) : NULL;
    if (!sym) fprintf(stderr, "hcs emulator: %s: %s (%s unavailable)\n", path, dlerror(), what);
    return sym;
}
