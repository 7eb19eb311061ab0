/*
 * sibling.h: a symbol of a sibling emulator library (the kernel32 stand-in libkernel32-emu.so), found
 * next to the library this code is linked into, as Windows finds kernel32.dll beside the caller's
 * DLLs in System32. One copy per library (hidden symbol).
 */
#ifndef HCS_EMULATOR_SIBLING_H
#define HCS_EMULATOR_SIBLING_H

/* dlopen(<dir of this library>/<lib>) and dlsym(symbol); NULL (with one line on stderr naming
 * `what` is unavailable) when either fails. */
void *emu_sibling_symbol(const char *lib, const char *symbol, const char *what);
#endif
