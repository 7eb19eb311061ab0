/*
 * C test driver for both emulator libraries (libcomputecore.so, libvmcompute.so), loaded with
 * dlopen so each keeps its own exports. It checks the documented behaviours from C, without koffi:
 * wait on an unused operation, duplicate id, open of an unknown id, start twice, shutdown of a
 * stopped system, ShouldTerminateOnLastHandleClosed both ways, and a client process that dies
 * without closing its handles. Usage: driver <libcomputecore.so> <libvmcompute.so>; the service
 * socket comes from HCS_EMULATOR_SOCKET. Prints one "ok" line per check; exit 1 on the first failure.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <uchar.h>
#include <unistd.h>

typedef int32_t HRESULT;
typedef void *H;

#define S_OK 0
#define PENDING ((HRESULT)0xC0370103)
#define NOT_STARTED ((HRESULT)0x80370115)
#define ALREADY_EXISTS ((HRESULT)0x8037010F)
#define NOT_FOUND ((HRESULT)0x8037010E)
#define INVALID_STATE ((HRESULT)0x80370105)
#define ALREADY_STOPPED ((HRESULT)0x80370110)

static void *lib(const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        exit(2);
    }
    return h;
}

static void *must(void *p, const char *name) {
    if (!p) {
        fprintf(stderr, "missing export %s\n", name);
        exit(2);
    }
    return p;
}

static int failures;
static void check(int cond, const char *what, HRESULT got) {
    printf("%s %s (0x%08X)\n", cond ? "ok" : "FAIL", what, (unsigned)got);
    if (!cond) failures++;
}

/* UTF-16 from ASCII (static buffers: one per call site is enough here). */
static char16_t *u(const char *s, char16_t *buf) {
    size_t i = 0;
    for (; s[i]; i++) buf[i] = (char16_t)s[i];
    buf[i] = 0;
    return buf;
}

/* ---- computecore.dll ---- */
typedef H (*HcsCreateOperation_t)(void *, void *);
typedef void (*HcsCloseOperation_t)(H);
typedef HRESULT (*HcsWaitForOperationResult_t)(H, uint32_t, char16_t **);
typedef HRESULT (*HcsCreateComputeSystem_t)(const char16_t *, const char16_t *, H, void *, H *);
typedef HRESULT (*HcsOpenComputeSystem_t)(const char16_t *, uint32_t, H *);
typedef void (*HcsCloseComputeSystem_t)(H);
typedef HRESULT (*HcsStartComputeSystem_t)(H, H, const char16_t *);
typedef HRESULT (*HcsShutDownComputeSystem_t)(H, H, const char16_t *);
typedef HRESULT (*HcsTerminateComputeSystem_t)(H, H, const char16_t *);
typedef void *(*LocalFree_t)(void *);

static struct {
    HcsCreateOperation_t create_op;
    HcsCloseOperation_t close_op;
    HcsWaitForOperationResult_t wait;
    HcsCreateComputeSystem_t create;
    HcsOpenComputeSystem_t open;
    HcsCloseComputeSystem_t close;
    HcsStartComputeSystem_t start;
    HcsShutDownComputeSystem_t shutdown;
    HcsTerminateComputeSystem_t terminate;
    LocalFree_t free;
} cc;

/* Runs one computecore call on a fresh operation and waits for its result. */
static HRESULT cc_wait(H op) {
    char16_t *doc = NULL;
    HRESULT hr = cc.wait(op, 10000, &doc);
    if (doc) cc.free(doc);
    cc.close_op(op);
    return hr;
}

static HRESULT cc_create(const char *id, const char *json, H *sys) {
    char16_t a[128], b[512];
    H op = cc.create_op(NULL, NULL);
    HRESULT hr = cc.create(u(id, a), u(json, b), op, NULL, sys);
    if (hr < 0) {
        cc.close_op(op);
        return hr;
    }
    return cc_wait(op);
}

static HRESULT cc_op(HRESULT (*fn)(H, H, const char16_t *), H sys) {
    H op = cc.create_op(NULL, NULL);
    HRESULT hr = fn(sys, op, NULL);
    if (hr < 0) {
        cc.close_op(op);
        return hr;
    }
    return cc_wait(op);
}

static HRESULT cc_exists(const char *id) {
    char16_t a[128];
    H sys = NULL;
    HRESULT hr = cc.open(u(id, a), 0x10000000, &sys);
    if (sys) cc.close(sys);
    return hr;
}

#define DOC_V2 "{\"SchemaVersion\":{\"Major\":2,\"Minor\":1},\"Owner\":\"c-driver\",\"Container\":{}"

static void computecore_checks(void) {
    H op = cc.create_op(NULL, NULL);
    char16_t *doc = NULL;
    check(cc.wait(op, 0, &doc) == NOT_STARTED, "computecore: wait on an unused operation -> HCS_E_OPERATION_NOT_STARTED", NOT_STARTED);
    cc.close_op(op);

    H a = NULL, b = NULL;
    HRESULT hr = cc_create("cc-dup", DOC_V2 "}", &a);
    check(hr == S_OK, "computecore: create", hr);
    hr = cc_create("cc-dup", DOC_V2 "}", &b);
    check(hr == ALREADY_EXISTS, "computecore: duplicate id -> HCS_E_SYSTEM_ALREADY_EXISTS", hr);
    if (b) cc.close(b);
    hr = cc_exists("cc-nobody");
    check(hr == NOT_FOUND, "computecore: open unknown id -> HCS_E_SYSTEM_NOT_FOUND", hr);
    hr = cc_op(cc.start, a);
    check(hr == S_OK, "computecore: start", hr);
    hr = cc_op(cc.start, a);
    check(hr == INVALID_STATE, "computecore: start twice -> HCS_E_INVALID_STATE", hr);
    hr = cc_op(cc.terminate, a);
    check(hr == S_OK, "computecore: terminate", hr);
    hr = cc_op(cc.shutdown, a);
    check(hr == ALREADY_STOPPED, "computecore: shutdown of a stopped system -> HCS_E_SYSTEM_ALREADY_STOPPED", hr);
    cc.close(a);

    H t = NULL, k = NULL;
    cc_create("cc-toc", DOC_V2 ",\"ShouldTerminateOnLastHandleClosed\":true}", &t);
    cc_create("cc-keep", DOC_V2 ",\"ShouldTerminateOnLastHandleClosed\":false}", &k);
    cc.close(t);
    cc.close(k);
    check(cc_exists("cc-toc") == NOT_FOUND, "computecore: ShouldTerminateOnLastHandleClosed true -> gone after the last close", 0);
    check(cc_exists("cc-keep") == S_OK, "computecore: ShouldTerminateOnLastHandleClosed false -> still there", 0);
}

/* ---- vmcompute.dll ---- */
typedef void (*notify_t)(uint32_t, void *, int32_t, const char16_t *);
typedef HRESULT (*V1Create_t)(const char16_t *, const char16_t *, H, H *, char16_t **);
typedef HRESULT (*V1Open_t)(const char16_t *, H *, char16_t **);
typedef HRESULT (*V1Close_t)(H);
typedef HRESULT (*V1Op_t)(H, const char16_t *, char16_t **);
typedef HRESULT (*V1Register_t)(H, notify_t, void *, H *);
typedef HRESULT (*V1Unregister_t)(H);
typedef void (*CoTaskMemFree_t)(void *);

static struct {
    V1Create_t create;
    V1Open_t open;
    V1Close_t close;
    V1Op_t start, shutdown, terminate;
    V1Register_t reg;
    V1Unregister_t unreg;
    CoTaskMemFree_t free;
} v1;

/* One slot per system: the last notification (type, status). */
typedef struct slot {
    pthread_mutex_t m;
    pthread_cond_t c;
    uint32_t type;
    int32_t status;
    int seen;
} slot;

static void on_note(uint32_t type, void *ctx, int32_t status, const char16_t *data) {
    (void)data;
    slot *s = ctx;
    pthread_mutex_lock(&s->m);
    s->type = type;
    s->status = status;
    s->seen++;
    pthread_cond_broadcast(&s->c);
    pthread_mutex_unlock(&s->m);
}

/* Waits for the next notification of `type` after `seen` (the test's notifications are ordered). */
static int32_t await_note(slot *s, uint32_t type) {
    pthread_mutex_lock(&s->m);
    while (!(s->seen > 0 && s->type == type)) pthread_cond_wait(&s->c, &s->m);
    int32_t st = s->status;
    s->seen = 0;
    s->type = 0;
    pthread_mutex_unlock(&s->m);
    return st;
}

#define DOC_V1(extra) "{\"SystemType\":\"Container\",\"Owner\":\"c-driver\",\"HvPartition\":true,\"LayerFolderPath\":\"C:\\\\s\",\"Layers\":[{\"ID\":\"8f3d9a52-6c1e-4b7a-9e2f-1d5c7b3a9e41\",\"Path\":\"C:\\\\l\"}],\"HvRuntime\":{\"ImagePath\":\"C:\\\\l\\\\UtilityVM\"}" extra "}"

static HRESULT v1_create(const char *id, const char *json, H *sys, slot *s, H *reg) {
    char16_t a[128], b[1024];
    char16_t *res = NULL;
    HRESULT hr = v1.create(u(id, a), u(json, b), NULL, sys, &res);
    if (res) v1.free(res);
    if (hr != PENDING) return hr;
    HRESULT r = v1.reg(*sys, on_note, s, reg);
    if (r < 0) return r;
    return await_note(s, 0x2);
}

static HRESULT v1_exists(const char *id) {
    char16_t a[128];
    char16_t *res = NULL;
    H sys = NULL;
    HRESULT hr = v1.open(u(id, a), &sys, &res);
    if (res) v1.free(res);
    if (sys) v1.close(sys);
    return hr;
}

static slot slots[6];

static void vmcompute_checks(void) {
    for (int i = 0; i < 6; i++) {
        pthread_mutex_init(&slots[i].m, NULL);
        pthread_cond_init(&slots[i].c, NULL);
    }
    H a = NULL, b = NULL, ra = NULL, rb = NULL;
    HRESULT hr = v1_create("v1-dup", DOC_V1(""), &a, &slots[0], &ra);
    check(hr == S_OK, "vmcompute: create -> pending, then SystemCreateCompleted S_OK", hr);
    hr = v1_create("v1-dup", DOC_V1(""), &b, &slots[1], &rb);
    check(hr == ALREADY_EXISTS, "vmcompute: duplicate id -> HCS_E_SYSTEM_ALREADY_EXISTS in SystemCreateCompleted", hr);
    if (rb) v1.unreg(rb);
    if (b) v1.close(b);
    hr = v1_exists("v1-nobody");
    check(hr == NOT_FOUND, "vmcompute: open unknown id -> HCS_E_SYSTEM_NOT_FOUND", hr);
    char16_t *res = NULL;
    hr = v1.start(a, NULL, &res);
    check(hr == PENDING && await_note(&slots[0], 0x3) == S_OK, "vmcompute: start -> pending, SystemStartCompleted S_OK", hr);
    hr = v1.start(a, NULL, &res);
    int32_t st = hr == PENDING ? await_note(&slots[0], 0x3) : hr;
    check(st == INVALID_STATE, "vmcompute: start twice -> HCS_E_INVALID_STATE", st);
    hr = v1.terminate(a, NULL, &res);
    check(hr == S_OK, "vmcompute: terminate", hr);
    hr = v1.shutdown(a, NULL, &res);
    st = hr == PENDING ? await_note(&slots[0], 0xA) : hr;
    check(st == ALREADY_STOPPED, "vmcompute: shutdown of a stopped system -> HCS_E_SYSTEM_ALREADY_STOPPED", st);
    v1.unreg(ra);
    v1.close(a);

    H t = NULL, k = NULL, rt = NULL, rk = NULL;
    v1_create("v1-toc", DOC_V1(",\"TerminateOnLastHandleClosed\":true"), &t, &slots[2], &rt);
    v1_create("v1-keep", DOC_V1(""), &k, &slots[3], &rk);
    v1.unreg(rt);
    v1.unreg(rk);
    v1.close(t);
    v1.close(k);
    check(v1_exists("v1-toc") == NOT_FOUND, "vmcompute: TerminateOnLastHandleClosed true -> gone after the last close", 0);
    check(v1_exists("v1-keep") == S_OK, "vmcompute: TerminateOnLastHandleClosed false -> still there", 0);
}

/* A child creates systems and exits without closing anything: its connection drops. */
static void dying_client(void) {
    pid_t pid = fork();
    if (pid == 0) {
        H s1 = NULL, s2 = NULL;
        cc_create("dead-toc", DOC_V2 ",\"ShouldTerminateOnLastHandleClosed\":true}", &s1);
        cc_create("dead-keep", DOC_V2 "}", &s2);
        _exit(s1 && s2 ? 0 : 3);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "dying client created its systems", status);
    /* The service notices the dropped connection asynchronously: poll briefly (bounded). */
    HRESULT hr = S_OK;
    for (int i = 0; i < 200 && (hr = cc_exists("dead-toc")) == S_OK; i++) usleep(10000);
    check(hr == NOT_FOUND, "a client that dies without closing: its terminate-on-close system is terminated", hr);
    check(cc_exists("dead-keep") == S_OK, "a client that dies without closing: other systems keep running", 0);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s libcomputecore.so libvmcompute.so\n", argv[0]);
        return 2;
    }
    void *l = lib(argv[1]);
    cc.create_op = (HcsCreateOperation_t)must(dlsym(l, "HcsCreateOperation"), "HcsCreateOperation");
    cc.close_op = (HcsCloseOperation_t)must(dlsym(l, "HcsCloseOperation"), "HcsCloseOperation");
    cc.wait = (HcsWaitForOperationResult_t)must(dlsym(l, "HcsWaitForOperationResult"), "HcsWaitForOperationResult");
    cc.create = (HcsCreateComputeSystem_t)must(dlsym(l, "HcsCreateComputeSystem"), "HcsCreateComputeSystem");
    cc.open = (HcsOpenComputeSystem_t)must(dlsym(l, "HcsOpenComputeSystem"), "HcsOpenComputeSystem");
    cc.close = (HcsCloseComputeSystem_t)must(dlsym(l, "HcsCloseComputeSystem"), "HcsCloseComputeSystem");
    cc.start = (HcsStartComputeSystem_t)must(dlsym(l, "HcsStartComputeSystem"), "HcsStartComputeSystem");
    cc.shutdown = (HcsShutDownComputeSystem_t)must(dlsym(l, "HcsShutDownComputeSystem"), "HcsShutDownComputeSystem");
    cc.terminate = (HcsTerminateComputeSystem_t)must(dlsym(l, "HcsTerminateComputeSystem"), "HcsTerminateComputeSystem");
    cc.free = (LocalFree_t)must(dlsym(l, "LocalFree"), "LocalFree");
    void *v = lib(argv[2]);
    v1.create = (V1Create_t)must(dlsym(v, "HcsCreateComputeSystem"), "HcsCreateComputeSystem");
    v1.open = (V1Open_t)must(dlsym(v, "HcsOpenComputeSystem"), "HcsOpenComputeSystem");
    v1.close = (V1Close_t)must(dlsym(v, "HcsCloseComputeSystem"), "HcsCloseComputeSystem");
    v1.start = (V1Op_t)must(dlsym(v, "HcsStartComputeSystem"), "HcsStartComputeSystem");
    v1.shutdown = (V1Op_t)must(dlsym(v, "HcsShutdownComputeSystem"), "HcsShutdownComputeSystem");
    v1.terminate = (V1Op_t)must(dlsym(v, "HcsTerminateComputeSystem"), "HcsTerminateComputeSystem");
    v1.reg = (V1Register_t)must(dlsym(v, "HcsRegisterComputeSystemCallback"), "HcsRegisterComputeSystemCallback");
    v1.unreg = (V1Unregister_t)must(dlsym(v, "HcsUnregisterComputeSystemCallback"), "HcsUnregisterComputeSystemCallback");
    v1.free = (CoTaskMemFree_t)must(dlsym(v, "CoTaskMemFree"), "CoTaskMemFree");
    dying_client(); /* first: fork before this process has library threads */
    computecore_checks();
    vmcompute_checks();
    printf("%d failure(s)\n", failures);
    return failures == 0 ? 0 : 1;
}
