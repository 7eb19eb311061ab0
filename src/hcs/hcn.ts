/**
 * The computenetwork.dll (Host Compute Network) binding: networks, endpoints, namespaces.
 *
 * Mechanical: one wrapper per export (prototypes: [MSDOCS] virtualization/api/hcn/Reference/*.md,
 * provisioning.md 4.1), every returned string (the result and the ErrorRecord) decoded and freed in
 * one chokepoint, `take`, with CoTaskMemFree: "The caller must release the buffer using
 * CoTaskMemFree" (every ErrorRecord page), and hcsshim frees the result strings the same way
 * (interop.ConvertAndFreeCoTaskMemString in hcn/*.go). A call fails when the HRESULT fails OR a
 * non-empty ErrorRecord comes back (hcsshim checkForErrors). HNS calls may block for seconds, so every
 * wrapper runs on a libuv pool thread. On Linux the symbols come from the emulator's
 * libcomputenetwork.so (src/emulator/native/hcn.c), which exports the same C ABI.
 */
import koffi, { type LibraryHandle } from 'koffi';
import { formatHresult } from './errors.ts';
import { system32Path } from './ffi.ts';
import { PoolGate } from './pool.ts';

/** HCN HRESULTs ([MSDOCS] HCNHResult.md) plus the Win32 ones HCN calls return. */
export const HCN_HRESULTS = {
  HCN_E_NETWORK_NOT_FOUND: 0x803b0001,
  HCN_E_ENDPOINT_NOT_FOUND: 0x803b0002,
  HCN_E_INVALID_NETWORK: 0x803b000a,
  HCN_E_INVALID_NETWORK_TYPE: 0x803b000b,
  HCN_E_INVALID_ENDPOINT: 0x803b000c,
  HCN_E_INVALID_POLICY: 0x803b000d,
  HCN_E_INVALID_POLICY_TYPE: 0x803b000e,
  HCN_E_NETWORK_ALREADY_EXISTS: 0x803b0010,
  HCN_E_POLICY_ALREADY_EXISTS: 0x803b0012,
  HCN_E_PORT_ALREADY_EXISTS: 0x803b0013,
  HCN_E_REQUEST_UNSUPPORTED: 0x803b0015,
  HCN_E_MAPPING_NOT_SUPPORTED: 0x803b0016,
  HCN_E_GUID_CONVERSION_FAILURE: 0x803b0019,
  HCN_E_INVALID_JSON: 0x803b001b,
  HCN_E_MANAGER_STOPPED: 0x803b0020,
  HCN_E_ENDPOINT_NAMESPACE_ALREADY_EXISTS: 0x803b002b,
  HCN_E_ENTITY_HAS_REFERENCES: 0x803b002c,
  HCN_E_INVALID_INTERNAL_PORT: 0x803b002d,
  E_POINTER: 0x80004003,
  E_HANDLE: 0x80070006,
  E_OUTOFMEMORY: 0x8007000e,
  E_INVALIDARG: 0x80070057,
  ERROR_NOT_FOUND: 0x80070490,
  RPC_S_SERVER_UNAVAILABLE: 0x800706ba,
} as const;
const NAMES = new Map<number, string>(Object.entries(HCN_HRESULTS).map(([n, v]) => [v >>> 0, n]));

/** A failed HCN call: `hcn create endpoint web: HCN_E_PORT_ALREADY_EXISTS (0x803B0013): <ErrorRecord message>`. */
export class HcnError extends Error {
  readonly hresult: number;
  constructor(readonly op: string, readonly target: string, hresult: number, readonly errorRecord: string | null) {
    const name = NAMES.get(hresult >>> 0) ?? (hresult === 0 ? 'ERROR_RECORD' : 'HRESULT');
    const detail = errorMessage(errorRecord);
    super(`hcn ${op} ${target}: ${name} (${formatHresult(hresult)})${detail ? `: ${detail}` : ''}`);
    this.name = 'HcnError';
    this.hresult = hresult | 0;
  }
}

/** The human part of an ErrorRecord (HNS puts it in "Error"; otherwise the raw text). */
function errorMessage(record: string | null): string | undefined {
  if (!record) return undefined;
  try {
    const v = JSON.parse(record) as { Error?: unknown; ErrorMessage?: unknown };
    const m = v.Error ?? v.ErrorMessage;
    return typeof m === 'string' ? m : record;
  } catch {
    return record;
  }
}

const is = (e: unknown, ...codes: number[]) => e instanceof HcnError && codes.some((c) => (e.hresult >>> 0) === c);
const H = HCN_HRESULTS;
/** The network, endpoint or namespace does not exist (hcsshim also counts ERROR_NOT_FOUND). */
export const isHcnNotFound = (e: unknown): boolean => is(e, H.HCN_E_NETWORK_NOT_FOUND, H.HCN_E_ENDPOINT_NOT_FOUND, H.ERROR_NOT_FOUND);
/** A host port is already mapped (by HNS or held by another process). */
export const isPortInUse = (e: unknown): boolean => is(e, H.HCN_E_PORT_ALREADY_EXISTS);
/** A network with that name exists. */
export const isNetworkAlreadyExists = (e: unknown): boolean => is(e, H.HCN_E_NETWORK_ALREADY_EXISTS);
/** The object is still referenced (an endpoint in a namespace, a network with endpoints). */
export const isHcnInUse = (e: unknown): boolean => is(e, H.HCN_E_ENTITY_HAS_REFERENCES);
/** The endpoint is already in a namespace. */
export const isEndpointInNamespace = (e: unknown): boolean => is(e, H.HCN_E_ENDPOINT_NAMESPACE_ALREADY_EXISTS);
/** The request can never succeed as written (bad JSON, policy, port, network type). */
export const isHcnInvalidConfig = (e: unknown): boolean =>
  is(e, H.HCN_E_INVALID_JSON, H.HCN_E_INVALID_POLICY, H.HCN_E_INVALID_POLICY_TYPE, H.HCN_E_INVALID_ENDPOINT, H.HCN_E_INVALID_NETWORK,
    H.HCN_E_INVALID_NETWORK_TYPE, H.HCN_E_INVALID_INTERNAL_PORT, H.HCN_E_MAPPING_NOT_SUPPORTED, H.E_INVALIDARG);
/** HNS is not reachable. */
export const isHcnUnavailable = (e: unknown): boolean => is(e, H.RPC_S_SERVER_UNAVAILABLE, H.HCN_E_MANAGER_STOPPED);

koffi.struct('HCN_GUID', { Data1: 'uint32_t', Data2: 'uint16_t', Data3: 'uint16_t', Data4: koffi.array('uint8_t', 8) });

/** Every export as its C prototype ([MSDOCS] Reference pages; REFGUID = const GUID *, handles void *). */
const PROTOTYPES = {
  HcnEnumerateNetworks: 'int32_t __stdcall HcnEnumerateNetworks(const char16_t *query, _Out_ void **networks, _Out_ void **errorRecord)',
  HcnCreateNetwork: 'int32_t __stdcall HcnCreateNetwork(const HCN_GUID *id, const char16_t *settings, _Out_ void **network, _Out_ void **errorRecord)',
  HcnOpenNetwork: 'int32_t __stdcall HcnOpenNetwork(const HCN_GUID *id, _Out_ void **network, _Out_ void **errorRecord)',
  HcnQueryNetworkProperties: 'int32_t __stdcall HcnQueryNetworkProperties(void *network, const char16_t *query, _Out_ void **properties, _Out_ void **errorRecord)',
  HcnDeleteNetwork: 'int32_t __stdcall HcnDeleteNetwork(const HCN_GUID *id, _Out_ void **errorRecord)',
  HcnCloseNetwork: 'int32_t __stdcall HcnCloseNetwork(void *network)',
  HcnModifyNetwork: 'int32_t __stdcall HcnModifyNetwork(void *network, const char16_t *settings, _Out_ void **errorRecord)',
  HcnEnumerateEndpoints: 'int32_t __stdcall HcnEnumerateEndpoints(const char16_t *query, _Out_ void **endpoints, _Out_ void **errorRecord)',
  HcnCreateEndpoint: 'int32_t __stdcall HcnCreateEndpoint(void *network, const HCN_GUID *id, const char16_t *settings, _Out_ void **endpoint, _Out_ void **errorRecord)',
  HcnOpenEndpoint: 'int32_t __stdcall HcnOpenEndpoint(const HCN_GUID *id, _Out_ void **endpoint, _Out_ void **errorRecord)',
  HcnModifyEndpoint: 'int32_t __stdcall HcnModifyEndpoint(void *endpoint, const char16_t *settings, _Out_ void **errorRecord)',
  HcnQueryEndpointProperties: 'int32_t __stdcall HcnQueryEndpointProperties(void *endpoint, const char16_t *query, _Out_ void **properties, _Out_ void **errorRecord)',
  HcnDeleteEndpoint: 'int32_t __stdcall HcnDeleteEndpoint(const HCN_GUID *id, _Out_ void **errorRecord)',
  HcnCloseEndpoint: 'int32_t __stdcall HcnCloseEndpoint(void *endpoint)',
  HcnEnumerateNamespaces: 'int32_t __stdcall HcnEnumerateNamespaces(const char16_t *query, _Out_ void **namespaces, _Out_ void **errorRecord)',
  HcnCreateNamespace: 'int32_t __stdcall HcnCreateNamespace(const HCN_GUID *id, const char16_t *settings, _Out_ void **namespace, _Out_ void **errorRecord)',
  HcnOpenNamespace: 'int32_t __stdcall HcnOpenNamespace(const HCN_GUID *id, _Out_ void **namespace, _Out_ void **errorRecord)',
  HcnModifyNamespace: 'int32_t __stdcall HcnModifyNamespace(void *namespace, const char16_t *settings, _Out_ void **errorRecord)',
  HcnQueryNamespaceProperties: 'int32_t __stdcall HcnQueryNamespaceProperties(void *namespace, const char16_t *query, _Out_ void **properties, _Out_ void **errorRecord)',
  HcnDeleteNamespace: 'int32_t __stdcall HcnDeleteNamespace(const HCN_GUID *id, _Out_ void **errorRecord)',
  HcnCloseNamespace: 'int32_t __stdcall HcnCloseNamespace(void *namespace)',
} as const;
const FREE = { CoTaskMemFree: 'void __stdcall CoTaskMemFree(void *mem)' } as const;

type NativeFn = ReturnType<LibraryHandle['func']>;
type Fns<T> = { [K in keyof T]: NativeFn };
const declare = <T extends Record<string, string>>(lib: LibraryHandle, p: T): Fns<T> =>
  Object.fromEntries(Object.entries(p).map(([n, proto]) => [n, lib.func(proto)])) as Fns<T>;

// HNS calls are few; a small share of koffi's async slots (see pool.ts) is plenty.
const gate = new PoolGate(() => 8);

/** An open HCN_NETWORK / HCN_ENDPOINT / HCN_NAMESPACE handle (an opaque pointer). */
export type HcnHandle = { readonly kind: 'network' | 'endpoint' | 'namespace'; readonly ptr: unknown };

/** The zero GUID: HNS generates the id (what hcsshim passes, provisioning.md 4.1). */
export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

function guidStruct(s: string): { Data1: number; Data2: number; Data3: number; Data4: number[] } {
  const m = /^\{?([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\}?$/i.exec(s);
  if (!m) throw new Error(`not a GUID: ${s}`);
  const d4 = (m[4]! + m[5]!).match(/../g)!.map((x) => parseInt(x, 16));
  return { Data1: parseInt(m[1]!, 16), Data2: parseInt(m[2]!, 16), Data3: parseInt(m[3]!, 16), Data4: d4 };
}

/** Where computenetwork comes from. */
export interface HcnLibraryOptions {
  /** computenetwork.dll on Windows; on Linux the emulator's libcomputenetwork.so (else env HCS_COMPUTENETWORK_LIBRARY). */
  libraryPath?: string;
}

/** The loaded computenetwork library: one async wrapper per export. */
export class HcnNative {
  readonly libraryPath: string;
  private readonly f: Fns<typeof PROTOTYPES>;
  private readonly free: Fns<typeof FREE>;

  constructor(opts: HcnLibraryOptions = {}) {
    const path = opts.libraryPath ?? process.env.HCS_COMPUTENETWORK_LIBRARY ?? (process.platform === 'win32' ? system32Path('computenetwork.dll') : undefined);
    if (!path) throw new Error('no HCN library: pass libraryPath or set HCS_COMPUTENETWORK_LIBRARY (on Linux, emulatorLibraryPath("libcomputenetwork.so"))');
    this.libraryPath = path;
    const lib = koffi.load(path);
    this.f = declare(lib, PROTOTYPES);
    this.free = process.platform === 'win32' ? declare(koffi.load(system32Path('ole32.dll')), FREE) : declare(lib, FREE);
  }

  /** The one chokepoint for native strings: decode, then CoTaskMemFree. */
  private take(ptr: unknown): string | null {
    if (ptr === null || ptr === undefined || ptr === 0n) return null;
    try {
      return koffi.decode(ptr, 'char16_t', -1) as string;
    } finally {
      this.free.CoTaskMemFree(ptr);
    }
  }

  /** Runs one export on the pool; frees every out-string; throws HcnError on failure or a non-empty ErrorRecord. */
  private async run(fn: NativeFn, op: string, target: string, args: unknown[], out?: 'string' | 'handle'): Promise<unknown> {
    const value: [unknown] = [null];
    const err: [unknown] = [null];
    const hr = await gate.run(() => new Promise<number>((resolve, reject) => {
      fn.async(...args, ...(out ? [value] : []), err, (e: unknown, r: number) => (e ? reject(e) : resolve(r)));
    }));
    const record = this.take(err[0]);
    const result = out === 'string' ? this.take(value[0]) : value[0];
    if (hr < 0 || (record !== null && record !== '')) {
      if (out === 'handle' && hr >= 0 && result) await this.closeRaw(op, result);
      throw new HcnError(op, target, hr, record);
    }
    return result;
  }

  private async closeRaw(op: string, ptr: unknown): Promise<void> {
    const fn = op.includes('network') ? this.f.HcnCloseNetwork : op.includes('endpoint') ? this.f.HcnCloseEndpoint : this.f.HcnCloseNamespace;
    await gate.run(() => new Promise<void>((resolve) => fn.async(ptr, () => resolve())));
  }

  private async close(fn: NativeFn, op: string, h: HcnHandle): Promise<void> {
    const hr = await gate.run(() => new Promise<number>((resolve, reject) => fn.async(h.ptr, (e: unknown, r: number) => (e ? reject(e) : resolve(r)))));
    if (hr < 0) throw new HcnError(op, 'handle', hr, null);
  }

  // ---- networks ------------------------------------------------------------------------------
  /** HcnEnumerateNetworks: the ids matching a HostComputeQuery (a JSON array of GUID strings). */
  async enumerateNetworks(query: string): Promise<string> {
    return (await this.run(this.f.HcnEnumerateNetworks, 'enumerate networks', query, [query], 'string')) as string;
  }
  /** HcnCreateNetwork. */
  async createNetwork(id: string, settings: string, name: string): Promise<HcnHandle> {
    return { kind: 'network', ptr: await this.run(this.f.HcnCreateNetwork, 'create network', name, [guidStruct(id), settings], 'handle') };
  }
  /** HcnOpenNetwork. */
  async openNetwork(id: string): Promise<HcnHandle> {
    return { kind: 'network', ptr: await this.run(this.f.HcnOpenNetwork, 'open network', id, [guidStruct(id)], 'handle') };
  }
  /** HcnQueryNetworkProperties. */
  async queryNetworkProperties(h: HcnHandle, query: string, target: string): Promise<string> {
    return (await this.run(this.f.HcnQueryNetworkProperties, 'query network', target, [h.ptr, query], 'string')) as string;
  }
  /** HcnDeleteNetwork. */
  async deleteNetwork(id: string): Promise<void> {
    await this.run(this.f.HcnDeleteNetwork, 'delete network', id, [guidStruct(id)]);
  }
  /** HcnModifyNetwork (never called on a network the controller did not create). */
  async modifyNetwork(h: HcnHandle, settings: string, target: string): Promise<void> {
    await this.run(this.f.HcnModifyNetwork, 'modify network', target, [h.ptr, settings]);
  }
  /** HcnCloseNetwork. */
  closeNetwork(h: HcnHandle): Promise<void> {
    return this.close(this.f.HcnCloseNetwork, 'close network', h);
  }

  // ---- endpoints -----------------------------------------------------------------------------
  /** HcnEnumerateEndpoints. */
  async enumerateEndpoints(query: string): Promise<string> {
    return (await this.run(this.f.HcnEnumerateEndpoints, 'enumerate endpoints', query, [query], 'string')) as string;
  }
  /** HcnCreateEndpoint(network, id, settings). */
  async createEndpoint(network: HcnHandle, id: string, settings: string, name: string): Promise<HcnHandle> {
    return { kind: 'endpoint', ptr: await this.run(this.f.HcnCreateEndpoint, 'create endpoint', name, [network.ptr, guidStruct(id), settings], 'handle') };
  }
  /** HcnOpenEndpoint. */
  async openEndpoint(id: string): Promise<HcnHandle> {
    return { kind: 'endpoint', ptr: await this.run(this.f.HcnOpenEndpoint, 'open endpoint', id, [guidStruct(id)], 'handle') };
  }
  /** HcnQueryEndpointProperties. */
  async queryEndpointProperties(h: HcnHandle, query: string, target: string): Promise<string> {
    return (await this.run(this.f.HcnQueryEndpointProperties, 'query endpoint', target, [h.ptr, query], 'string')) as string;
  }
  /** HcnModifyEndpoint. */
  async modifyEndpoint(h: HcnHandle, settings: string, target: string): Promise<void> {
    await this.run(this.f.HcnModifyEndpoint, 'modify endpoint', target, [h.ptr, settings]);
  }
  /** HcnDeleteEndpoint. */
  async deleteEndpoint(id: string): Promise<void> {
    await this.run(this.f.HcnDeleteEndpoint, 'delete endpoint', id, [guidStruct(id)]);
  }
  /** HcnCloseEndpoint. */
  closeEndpoint(h: HcnHandle): Promise<void> {
    return this.close(this.f.HcnCloseEndpoint, 'close endpoint', h);
  }

  // ---- namespaces ----------------------------------------------------------------------------
  /** HcnEnumerateNamespaces. */
  async enumerateNamespaces(query: string): Promise<string> {
    return (await this.run(this.f.HcnEnumerateNamespaces, 'enumerate namespaces', query, [query], 'string')) as string;
  }
  /** HcnCreateNamespace. */
  async createNamespace(id: string, settings: string, name: string): Promise<HcnHandle> {
    return { kind: 'namespace', ptr: await this.run(this.f.HcnCreateNamespace, 'create namespace', name, [guidStruct(id), settings], 'handle') };
  }
  /** HcnOpenNamespace. */
  async openNamespace(id: string): Promise<HcnHandle> {
    return { kind: 'namespace', ptr: await this.run(this.f.HcnOpenNamespace, 'open namespace', id, [guidStruct(id)], 'handle') };
  }
  /** HcnModifyNamespace (adding an endpoint is a ModifyNamespace request: there is no HcnAddNamespaceEndpoint). */
  async modifyNamespace(h: HcnHandle, settings: string, target: string): Promise<void> {
    await this.run(this.f.HcnModifyNamespace, 'modify namespace', target, [h.ptr, settings]);
  }
  /** HcnQueryNamespaceProperties. */
  async queryNamespaceProperties(h: HcnHandle, query: string, target: string): Promise<string> {
    return (await this.run(this.f.HcnQueryNamespaceProperties, 'query namespace', target, [h.ptr, query], 'string')) as string;
  }
  /** HcnDeleteNamespace. */
  async deleteNamespace(id: string): Promise<void> {
    await this.run(this.f.HcnDeleteNamespace, 'delete namespace', id, [guidStruct(id)]);
  }
  /** HcnCloseNamespace. */
  closeNamespace(h: HcnHandle): Promise<void> {
    return this.close(this.f.HcnCloseNamespace, 'close namespace', h);
  }
}
