/*
 * libcomputenetwork.so: the computenetwork.dll (HCN) C ABI, emulated. Prototypes: [MSDOCS]
 * virtualization/api/hcn/Reference/<Name>.md (provisioning.md 4.1), cross-checked with [WINRS]:
 *   HRESULT HcnEnumerateNetworks(PCWSTR Query, PWSTR *Networks, PWSTR *ErrorRecord);
 *   HRESULT HcnCreateNetwork(REFGUID Id, PCWSTR Settings, PHCN_NETWORK Network, PWSTR *ErrorRecord);
 *   HRESULT HcnOpenNetwork(REFGUID Id, PHCN_NETWORK Network, PWSTR *ErrorRecord);
 *   HRESULT HcnQueryNetworkProperties(HCN_NETWORK Network, PCWSTR Query, PWSTR *Properties, PWSTR *ErrorRecord);
 *   HRESULT HcnDeleteNetwork(REFGUID Id, PWSTR *ErrorRecord);
 *   HRESULT HcnCloseNetwork(HCN_NETWORK Network);
 * and the same for endpoints (HcnCreateEndpoint takes the network handle first; HcnModifyEndpoint) and
 * namespaces (HcnModifyNamespace adds/removes endpoints: there is no HcnAddNamespaceEndpoint,
 * provisioning.md 0.4). Every out-string is allocated here and released by the caller with
 * CoTaskMemFree ("The caller must release the buffer using CoTaskMemFree", every ErrorRecord page;
 * hcsshim frees the result strings the same way), which this library exports as ole32 does.
 *
 * The objects live in the emulated service (hostcall.c), as they live in HNS on Windows: a handle here is
 * only a reference by id, so an object deleted through another handle makes later calls fail with the
 * object's not-found error.
 */
#include <stdlib.h>
#include <string.h>
#include "host.h"

#define EXPORT __attribute__((visibility("default")))
typedef int32_t HRESULT;
#define S_OK 0
#define E_POINTER ((HRESULT)0x80004003)
#define E_INVALIDARG ((HRESULT)0x80070057)
#define E_HANDLE ((HRESULT)0x80070006)

enum { K_NETWORK = 1, K_ENDPOINT = 2, K_NAMESPACE = 3 };
#define HANDLE_MAGIC 0x48434e48u /* "HCNH" */
typedef struct { uint32_t magic; int kind; char id[37]; } hcn_handle;
static const char *KIND_NAME[] = {"", "Network", "Endpoint", "Namespace"};

EXPORT void CoTaskMemFree(void *p) { free(p); }

static void store_out(char16_t **out, char *s) {
    if (out) *out = s ? host_utf16(s) : NULL;
    free(s);
}

/* One service call; result (if wanted) and error record to the caller, converted to UTF-16. */
static HRESULT call(const char *api, int kind, const char *a, const char *b, const char *c, char16_t **out, char16_t **err, char **keep) {
    char name[48];
    char *res = NULL, *er = NULL;
    strcpy(name, api);
    strcat(name, KIND_NAME[kind]);
    HRESULT hr = host_call(name, a, b, c, &res, &er);
    store_out(err, er);
    if (keep) { *keep = res; res = NULL; }
    store_out(out, res);
    return hr;
}

static hcn_handle *handle_of(void *h, int kind) {
    hcn_handle *x = h;
    return x && x->magic == HANDLE_MAGIC && x->kind == kind ? x : NULL;
}

static HRESULT new_handle(int kind, const char *id, void **out) {
    hcn_handle *h = calloc(1, sizeof *h);
    if (!h) return (HRESULT)0x8007000E;
    h->magic = HANDLE_MAGIC;
    h->kind = kind;
    strncpy(h->id, id, 36);
    *out = h;
    return S_OK;
}

static void clear_out(char16_t **err) { if (err) *err = NULL; }

static HRESULT enumerate(int kind, const char16_t *query, char16_t **list, char16_t **err) {
    clear_out(err);
    if (!list) return E_POINTER;
    *list = NULL;
    char *q = host_utf8(query);
    HRESULT hr = call("Enumerate", kind, q, NULL, NULL, list, err, NULL);
    free(q);
    return hr;
}

/* Create or open: the service answers the object's id (a zero GUID asks it to generate one, as
 * hcsshim does, provisioning.md 4.1). */
static HRESULT create_or_open(const char *api, int kind, const char *parent, const void *guid, const char16_t *settings, void **out, char16_t **err) {
    clear_out(err);
    if (!out || !guid) return out ? E_INVALIDARG : E_POINTER;
    *out = NULL;
    char id[37], *s = host_utf8(settings), *created = NULL;
    host_guid_str(guid, id);
    HRESULT hr = parent ? call(api, kind, parent, id, s, NULL, err, &created) : call(api, kind, id, s, NULL, NULL, err, &created);
    free(s);
    if (hr >= 0) hr = created ? new_handle(kind, created, out) : (HRESULT)0x8000FFFF;
    free(created);
    return hr;
}

static HRESULT query(int kind, void *h, const char16_t *q, char16_t **props, char16_t **err) {
    clear_out(err);
    if (!props) return E_POINTER;
    *props = NULL;
    hcn_handle *x = handle_of(h, kind);
    if (!x) return E_HANDLE;
    char *qq = host_utf8(q);
    HRESULT hr = call("Query", kind, x->id, qq, NULL, props, err, NULL);
    free(qq);
    return hr;
}

static HRESULT modify(int kind, void *h, const char16_t *settings, char16_t **err) {
    clear_out(err);
    hcn_handle *x = handle_of(h, kind);
    if (!x) return E_HANDLE;
    if (!settings) return E_INVALIDARG;
    char *s = host_utf8(settings);
    HRESULT hr = call("Modify", kind, x->id, s, NULL, NULL, err, NULL);
    free(s);
    return hr;
}

static HRESULT delete_by_id(int kind, const void *guid, char16_t **err) {
    clear_out(err);
    if (!guid) return E_INVALIDARG;
    char id[37];
    host_guid_str(guid, id);
    return call("Delete", kind, id, NULL, NULL, NULL, err, NULL);
}

static HRESULT close_handle(int kind, void *h) {
    hcn_handle *x = handle_of(h, kind);
    if (!x) return E_HANDLE;
    x->magic = 0;
    free(x);
    return S_OK;
}

/* ---- networks ---- */
EXPORT HRESULT HcnEnumerateNetworks(const char16_t *q, char16_t **list, char16_t **err) { return enumerate(K_NETWORK, q, list, err); }
EXPORT HRESULT HcnCreateNetwork(const void *id, const char16_t *settings, void **net, char16_t **err) {
    if (!settings) { clear_out(err); return E_INVALIDARG; }
    return create_or_open("Create", K_NETWORK, NULL, id, settings, net, err);
}
EXPORT HRESULT HcnOpenNetwork(const void *id, void **net, char16_t **err) { return create_or_open("Open", K_NETWORK, NULL, id, NULL, net, err); }
EXPORT HRESULT HcnQueryNetworkProperties(void *net, const char16_t *q, char16_t **props, char16_t **err) { return query(K_NETWORK, net, q, props, err); }
EXPORT HRESULT HcnDeleteNetwork(const void *id, char16_t **err) { return delete_by_id(K_NETWORK, id, err); }
EXPORT HRESULT HcnCloseNetwork(void *net) { return close_handle(K_NETWORK, net); }
EXPORT HRESULT HcnModifyNetwork(void *net, const char16_t *settings, char16_t **err) { return modify(K_NETWORK, net, settings, err); }

/* ---- endpoints ---- */
EXPORT HRESULT HcnEnumerateEndpoints(const char16_t *q, char16_t **list, char16_t **err) { return enumerate(K_ENDPOINT, q, list, err); }
EXPORT HRESULT HcnCreateEndpoint(void *net, const void *id, const char16_t *settings, void **ep, char16_t **err) {
    hcn_handle *n = handle_of(net, K_NETWORK);
    if (!n) { clear_out(err); if (ep) *ep = NULL; return E_HANDLE; }
    if (!settings) { clear_out(err); return E_INVALIDARG; }
    return create_or_open("Create", K_ENDPOINT, n->id, id, settings, ep, err);
}
EXPORT HRESULT HcnOpenEndpoint(const void *id, void **ep, char16_t **err) { return create_or_open("Open", K_ENDPOINT, NULL, id, NULL, ep, err); }
EXPORT HRESULT HcnModifyEndpoint(void *ep, const char16_t *settings, char16_t **err) { return modify(K_ENDPOINT, ep, settings, err); }
EXPORT HRESULT HcnQueryEndpointProperties(void *ep, const char16_t *q, char16_t **props, char16_t **err) { return query(K_ENDPOINT, ep, q, props, err); }
EXPORT HRESULT HcnDeleteEndpoint(const void *id, char16_t **err) { return delete_by_id(K_ENDPOINT, id, err); }
EXPORT HRESULT HcnCloseEndpoint(void *ep) { return close_handle(K_ENDPOINT, ep); }

/* ---- namespaces ---- */
EXPORT HRESULT HcnEnumerateNamespaces(const char16_t *q, char16_t **list, char16_t **err) { return enumerate(K_NAMESPACE, q, list, err); }
EXPORT HRESULT HcnCreateNamespace(const void *id, const char16_t *settings, void **ns, char16_t **err) {
    if (!settings) { clear_out(err); return E_INVALIDARG; }
    return create_or_open("Create", K_NAMESPACE, NULL, id, settings, ns, err);
}
EXPORT HRESULT HcnOpenNamespace(const void *id, void **ns, char16_t **err) { return create_or_open("Open", K_NAMESPACE, NULL, id, NULL, ns, err); }
EXPORT HRESULT HcnModifyNamespace(void *ns, const char16_t *settings, char16_t **err) { return modify(K_NAMESPACE, ns, settings, err); }
EXPORT HRESULT HcnQueryNamespaceProperties(void *ns, const char16_t *q, char16_t **props, char16_t **err) { return query(K_NAMESPACE, ns, q, props, err); }
EXPORT HRESULT HcnDeleteNamespace(const void *id, char16_t **err) { return delete_by_id(K_NAMESPACE, id, err); }
EXPORT HRESULT HcnCloseNamespace(void *ns) { return close_handle(K_NAMESPACE, ns); }
