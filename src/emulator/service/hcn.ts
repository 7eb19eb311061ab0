/**
 * The emulated Host Network Service (HNS, behind computenetwork.dll): networks, endpoints with their
 * port-mapping policies, and namespaces. Semantics and errors from [MSDOCS] virtualization/api/hcn
 * (Reference/*.md, HCNHResult.md, HNS_Schema.md) and hcsshim's hcn package (provisioning.md §4).
 * A published port is a real loopback listener (listeners.ts), so a test can prove which system a
 * port reaches. The state lives in the service process: it outlives the controller, and `reboot`
 * drops what a Windows reboot drops (NAT networks are not persisted on WS2019+, [MSDOCS]
 * network-drivers-topologies.md).
 */
import { randomUUID } from 'node:crypto';
import { PortListeners, type PortKey } from './listeners.ts';

/** HCN HRESULTs ([MSDOCS] HCNHResult.md) and the Win32 ones the HCN calls return. */
export const HCN_HR = {
  HCN_E_NETWORK_NOT_FOUND: 0x803b0001,
  HCN_E_ENDPOINT_NOT_FOUND: 0x803b0002,
  HCN_E_INVALID_NETWORK: 0x803b000a,
  HCN_E_INVALID_NETWORK_TYPE: 0x803b000b,
  HCN_E_INVALID_ENDPOINT: 0x803b000c,
  HCN_E_INVALID_POLICY: 0x803b000d,
  HCN_E_INVALID_POLICY_TYPE: 0x803b000e,
  HCN_E_NETWORK_ALREADY_EXISTS: 0x803b0010,
  HCN_E_PORT_ALREADY_EXISTS: 0x803b0013,
  HCN_E_REQUEST_UNSUPPORTED: 0x803b0015,
  HCN_E_MAPPING_NOT_SUPPORTED: 0x803b0016,
  HCN_E_GUID_CONVERSION_FAILURE: 0x803b0019,
  HCN_E_INVALID_JSON: 0x803b001b,
  HCN_E_ENDPOINT_NAMESPACE_ALREADY_EXISTS: 0x803b002b,
  HCN_E_ENTITY_HAS_REFERENCES: 0x803b002c,
  HCN_E_INVALID_INTERNAL_PORT: 0x803b002d,
  /** No namespace: HCNHResult.md has no namespace-not-found code; hcsshim treats ERROR_NOT_FOUND as not found. */
  ERROR_NOT_FOUND: 0x80070490,
  E_INVALIDARG: 0x80070057,
} as const;

/** The answer to one HCN call. */
export interface HcnResult {
  hresult: number;
  result?: string | null;
  errorRecord?: string | null;
}

const ZERO_GUID = '00000000-0000-0000-0000-000000000000';
/** Network types of HNS_Schema.md NetworkMode. */
const NETWORK_TYPES = new Set(['NAT', 'ICS', 'Transparent', 'L2Bridge', 'L2Tunnel', 'Overlay', 'Private', 'Internal', 'Mirrored', 'Infiniband', 'ConstrainedICS']);
/** Types that support port mapping (WinNAT; [MSDOCS] architecture.md). CHOICE: NAT and ICS only. */
const MAPPING_TYPES = new Set(['NAT', 'ICS']);

interface NetworkRecord { id: string; name: string; type: string; doc: Record<string, unknown> }
/** A port-mapping policy as HNS keeps it. */
export interface PortMapping { protocol: 'tcp' | 'udp'; internalPort: number; externalPort: number }
interface EndpointRecord { id: string; name: string; networkId: string; doc: Record<string, unknown>; ports: PortMapping[]; namespaceId?: string }
interface NamespaceRecord { id: string; doc: Record<string, unknown>; endpoints: string[] }

/**
 * Who answers a published port: the id of the running system in the endpoint's namespace, or (a
 * schema 1.0 Hyper-V container) the running system whose EndpointList names the endpoint, if any.
 */
export type SystemForNamespace = (namespaceId: string | undefined, endpointId: string) => string | undefined;

const fail = (hresult: number, message: string): HcnResult => ({
  hresult, errorRecord: JSON.stringify({ Success: false, Error: message, ErrorCode: hresult >>> 0 }),
});
const ok = (result: string | null = null): HcnResult => ({ hresult: 0, result });

function parseObject(json: string | null | undefined): Record<string, unknown> | undefined {
  if (json === null || json === undefined || json === '') return {};
  try {
    const v: unknown = JSON.parse(json);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** HostComputeQuery ({"Filter": "<stringified JSON>"}; provisioning.md 4.2): the filter as an object. */
function queryFilter(query: string | null | undefined): Record<string, unknown> | undefined {
  const q = parseObject(query);
  if (!q) return undefined;
  if (q.Filter === undefined || q.Filter === '') return {};
  return typeof q.Filter === 'string' ? parseObject(q.Filter) : undefined;
}

const matches = (doc: Record<string, unknown>, filter: Record<string, unknown>): boolean =>
  Object.entries(filter).every(([k, v]) => {
    const actual = Object.entries(doc).find(([dk]) => dk.toLowerCase() === k.toLowerCase())?.[1];
    return typeof v === 'string' && typeof actual === 'string' ? v.toLowerCase() === actual.toLowerCase() : JSON.stringify(v) === JSON.stringify(actual);
  });

const normId = (id: string) => id.toLowerCase();
const isGuid = (id: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);

/**
 * PortMapping policies of an endpoint document. Protocol: hcsshim and every real caller send the IP
 * protocol number (6 TCP, 17 UDP); [MSDOCS] types it as "TCP"/"UDP" strings: both are accepted.
 */
function portMappings(doc: Record<string, unknown>): PortMapping[] | HcnResult {
  const policies = doc.Policies ?? [];
  if (!Array.isArray(policies)) return fail(HCN_HR.HCN_E_INVALID_POLICY, 'Policies must be an array');
  const out: PortMapping[] = [];
  for (const p of policies as Array<Record<string, unknown>>) {
    if (typeof p !== 'object' || p === null || typeof p.Type !== 'string') return fail(HCN_HR.HCN_E_INVALID_POLICY, 'a policy needs a Type');
    if (p.Type !== 'PortMapping') continue;
    const s = (p.Settings ?? {}) as Record<string, unknown>;
    const proto = s.Protocol === 6 || s.Protocol === 'TCP' ? 'tcp' : s.Protocol === 17 || s.Protocol === 'UDP' ? 'udp' : undefined;
    if (!proto) return fail(HCN_HR.HCN_E_INVALID_POLICY, `PortMapping Protocol ${JSON.stringify(s.Protocol)} is not TCP (6) or UDP (17)`);
    const internal = s.InternalPort, external = s.ExternalPort;
    if (typeof internal !== 'number' || !Number.isInteger(internal) || internal < 1 || internal > 65535) {
      return fail(HCN_HR.HCN_E_INVALID_INTERNAL_PORT, 'The internal port must exist and cannot be zero');
    }
    // CHOICE: ExternalPort 0 (let HNS pick) is not modelled; it is refused.
    if (typeof external !== 'number' || !Number.isInteger(external) || external < 1 || external > 65535) {
      return fail(HCN_HR.HCN_E_INVALID_POLICY, `PortMapping ExternalPort ${JSON.stringify(external)} is not a port`);
    }
    out.push({ protocol: proto, internalPort: internal, externalPort: external });
  }
  return out;
}

/** The HNS model of one service. */
export class HcnState {
  readonly networks = new Map<string, NetworkRecord>();
  readonly endpoints = new Map<string, EndpointRecord>();
  readonly namespaces = new Map<string, NamespaceRecord>();
  readonly listeners: PortListeners;

  constructor(systemFor: SystemForNamespace) {
    this.listeners = new PortListeners((key) => this.answer(key, systemFor));
  }

  private answer(key: PortKey, systemFor: SystemForNamespace): string | undefined {
    for (const ep of this.endpoints.values()) {
      const m = ep.ports.find((p) => p.protocol === key.protocol && p.externalPort === key.port);
      if (!m) continue;
      const sys = systemFor(ep.namespaceId, ep.id);
      return sys ? `hcs-emulator ${sys} ${m.internalPort}\n` : undefined;
    }
    return undefined;
  }

  /** Does this HNS endpoint exist (a schema 1.0 EndpointList entry)? */
  hasEndpoint(id: string): boolean {
    return this.endpoints.has(normId(id));
  }

  /** Runs one call (api = Enumerate|Create|Open|Query|Modify|Delete + Network|Endpoint|Namespace). */
  async call(api: string, a: string | null, b: string | null, c: string | null): Promise<HcnResult> {
    switch (api) {
      case 'EnumerateNetwork': return this.enumerate(this.networks, a, (n) => ({ ID: n.id, Name: n.name, Type: n.type }));
      case 'EnumerateEndpoint': return this.enumerate(this.endpoints, a, (e) => ({ ID: e.id, Name: e.name, HostComputeNetwork: e.networkId, ...e.doc }));
      case 'EnumerateNamespace': return this.enumerate(this.namespaces, a, (n) => ({ ID: n.id, ...n.doc }));
      case 'CreateNetwork': return this.createNetwork(a ?? '', b);
      case 'CreateEndpoint': return this.createEndpoint(a ?? '', b ?? '', c);
      case 'CreateNamespace': return this.createNamespace(a ?? '', b);
      case 'OpenNetwork': return this.open(this.networks, a, HCN_HR.HCN_E_NETWORK_NOT_FOUND);
      case 'OpenEndpoint': return this.open(this.endpoints, a, HCN_HR.HCN_E_ENDPOINT_NOT_FOUND);
      case 'OpenNamespace': return this.open(this.namespaces, a, HCN_HR.ERROR_NOT_FOUND);
      case 'QueryNetwork': return this.query(this.networks.get(normId(a ?? '')), HCN_HR.HCN_E_NETWORK_NOT_FOUND, (n) => this.networkProps(n));
      case 'QueryEndpoint': return this.query(this.endpoints.get(normId(a ?? '')), HCN_HR.HCN_E_ENDPOINT_NOT_FOUND, (e) => this.endpointProps(e));
      case 'QueryNamespace': return this.query(this.namespaces.get(normId(a ?? '')), HCN_HR.ERROR_NOT_FOUND, (n) => this.namespaceProps(n));
      case 'ModifyNamespace': return this.modifyNamespace(a ?? '', b);
      case 'ModifyNetwork':
      case 'ModifyEndpoint': return fail(HCN_HR.HCN_E_REQUEST_UNSUPPORTED, `${api} is not modelled by the emulator`);
      case 'DeleteNetwork': return this.deleteNetwork(a ?? '');
      case 'DeleteEndpoint': return this.deleteEndpoint(a ?? '');
      case 'DeleteNamespace': return this.deleteNamespace(a ?? '');
      default: return fail(HCN_HR.HCN_E_REQUEST_UNSUPPORTED, `unknown HCN call ${api}`);
    }
  }

  private enumerate<T extends { id: string }>(map: Map<string, T>, query: string | null, view: (x: T) => Record<string, unknown>): HcnResult {
    const filter = queryFilter(query);
    if (!filter) return fail(HCN_HR.HCN_E_INVALID_JSON, 'Invalid JSON document string');
    return ok(JSON.stringify([...map.values()].filter((x) => matches(view(x), filter)).map((x) => x.id)));
  }

  private open<T>(map: Map<string, T>, id: string | null, notFound: number): HcnResult {
    return map.has(normId(id ?? '')) ? ok(normId(id ?? '')) : fail(notFound, `${id} was not found`);
  }

  private query<T>(rec: T | undefined, notFound: number, props: (x: T) => Record<string, unknown>): HcnResult {
    return rec ? ok(JSON.stringify(props(rec))) : fail(notFound, 'the object was not found');
  }

  private newId(requested: string, taken: Map<string, unknown>): string | HcnResult {
    if (!isGuid(requested)) return fail(HCN_HR.HCN_E_GUID_CONVERSION_FAILURE, `"${requested}" is not a GUID`);
    // hcsshim passes a zero GUID and reads the generated ID back (provisioning.md 4.1). CHOICE: a non-zero one is honoured.
    const id = requested === ZERO_GUID ? randomUUID() : normId(requested);
    return taken.has(id) ? fail(HCN_HR.E_INVALIDARG, `an object with id ${id} already exists`) : id;
  }

  private createNetwork(requested: string, settings: string | null): HcnResult {
    const doc = parseObject(settings);
    if (!doc) return fail(HCN_HR.HCN_E_INVALID_JSON, 'Invalid JSON document string');
    const type = doc.Type;
    if (typeof type !== 'string' || !NETWORK_TYPES.has(type)) return fail(HCN_HR.HCN_E_INVALID_NETWORK_TYPE, `Invalid network type ${JSON.stringify(type)}`);
    const name = typeof doc.Name === 'string' ? doc.Name : '';
    if (name === '') return fail(HCN_HR.HCN_E_INVALID_NETWORK, 'the network needs a Name');
    if ([...this.networks.values()].some((n) => n.name.toLowerCase() === name.toLowerCase())) {
      return fail(HCN_HR.HCN_E_NETWORK_ALREADY_EXISTS, 'A network with this name already exists');
    }
    const id = this.newId(requested, this.networks);
    if (typeof id !== 'string') return id;
    this.networks.set(id, { id, name, type, doc });
    return ok(id);
  }

  private async createEndpoint(networkId: string, requested: string, settings: string | null): Promise<HcnResult> {
    const net = this.networks.get(normId(networkId));
    if (!net) return fail(HCN_HR.HCN_E_NETWORK_NOT_FOUND, 'The network was not found');
    const doc = parseObject(settings);
    if (!doc) return fail(HCN_HR.HCN_E_INVALID_JSON, 'Invalid JSON document string');
    // "endpoint json HostComputeNamespace is read only and should not be set" ([SHIM] HostComputeEndpoint.Create).
    if (doc.HostComputeNamespace !== undefined) return fail(HCN_HR.HCN_E_INVALID_ENDPOINT, 'HostComputeNamespace is read only');
    const ports = portMappings(doc);
    if (!Array.isArray(ports)) return ports;
    if (ports.length > 0 && !MAPPING_TYPES.has(net.type)) return fail(HCN_HR.HCN_E_MAPPING_NOT_SUPPORTED, 'Port mapping is not supported on the given network');
    const id = this.newId(requested, this.endpoints);
    if (typeof id !== 'string') return id;
    // A second endpoint with the same ExternalPort/protocol: HCN_E_PORT_ALREADY_EXISTS ([SHIM] hcnerrors_test.go).
    for (const p of ports) {
      const holder = [...this.endpoints.values()].find((e) => e.ports.some((q) => q.protocol === p.protocol && q.externalPort === p.externalPort));
      if (holder) return fail(HCN_HR.HCN_E_PORT_ALREADY_EXISTS, `The specified port already exists: ${p.externalPort}/${p.protocol} (endpoint ${holder.id} "${holder.name}")`);
    }
    // WinNAT binds the host port; a port some other process holds cannot be mapped either (CHOICE:
    // the same error; UNVERIFIED which code Windows returns for a port held outside HNS).
    const opened: PortKey[] = [];
    for (const p of ports) {
      const key = { protocol: p.protocol, port: p.externalPort };
      const err = await this.listeners.open(key);
      if (err) {
        for (const k of opened) await this.listeners.close(k);
        return fail(HCN_HR.HCN_E_PORT_ALREADY_EXISTS, `The specified port already exists: ${p.externalPort}/${p.protocol} is in use on the host (${err})`);
      }
      opened.push(key);
    }
    const name = typeof doc.Name === 'string' ? doc.Name : '';
    // HNS gives every endpoint a MacAddress, from the network's MacPool (hcsshim reads it back for
    // a VM's NetworkAdapter, internal/uvm/network.go; audit D18); a requested one is kept.
    const mac = typeof doc.MacAddress === 'string' ? doc.MacAddress : this.nextMac(net);
    this.endpoints.set(id, { id, name, networkId: net.id, doc: { ...doc, MacAddress: mac }, ports });
    return ok(id);
  }

  #macs = 0;

  /**
   * The next MAC in the HNS form `00-15-5D-xx-xx-xx`: from the network's first MacPool range when
   * it has one ([SHIM] hcn/hcnnetwork.go MacPool; provisioning.md 4.1), else after the Hyper-V
   * OUI 00-15-5D that such pools use. CHOICE: sequential, never reused (UNVERIFIED how HNS picks).
   */
  private nextMac(net: NetworkRecord): string {
    const start = (net.doc.MacPool as { Ranges?: Array<{ StartMacAddress?: unknown }> } | undefined)?.Ranges?.[0]?.StartMacAddress;
    const base = typeof start === 'string' && /^([0-9a-f]{2}-){5}[0-9a-f]{2}$/i.test(start) ? parseInt(start.replace(/-/g, ''), 16) : 0x00155d000000;
    const n = base + ++this.#macs;
    return n.toString(16).padStart(12, '0').toUpperCase().match(/../g)!.join('-');
  }

  private createNamespace(requested: string, settings: string | null): HcnResult {
    const doc = parseObject(settings);
    if (!doc) return fail(HCN_HR.HCN_E_INVALID_JSON, 'Invalid JSON document string');
    const id = this.newId(requested, this.namespaces);
    if (typeof id !== 'string') return id;
    this.namespaces.set(id, { id, doc, endpoints: [] });
    return ok(id);
  }

  /** {"ResourceType":"Endpoint","RequestType":"Add"|"Remove","Settings":{"EndpointId":...}} ([SHIM] hcnnamespace.go). */
  private modifyNamespace(nsId: string, settings: string | null): HcnResult {
    const ns = this.namespaces.get(normId(nsId));
    if (!ns) return fail(HCN_HR.ERROR_NOT_FOUND, 'the namespace was not found');
    const req = parseObject(settings);
    if (!req) return fail(HCN_HR.HCN_E_INVALID_JSON, 'Invalid JSON document string');
    const epId = normId(String((req.Settings as Record<string, unknown> | undefined)?.EndpointId ?? ''));
    if (req.ResourceType !== 'Endpoint' || (req.RequestType !== 'Add' && req.RequestType !== 'Remove')) {
      return fail(HCN_HR.HCN_E_REQUEST_UNSUPPORTED, 'The specified request is unsupported');
    }
    const ep = this.endpoints.get(epId);
    if (!ep) return fail(HCN_HR.HCN_E_ENDPOINT_NOT_FOUND, 'The endpoint was not found');
    if (req.RequestType === 'Add') {
      if (ep.namespaceId) return fail(HCN_HR.HCN_E_ENDPOINT_NAMESPACE_ALREADY_EXISTS, 'endpoint is already part of a network namespace');
      ep.namespaceId = ns.id;
      ns.endpoints.push(ep.id);
    } else {
      if (ep.namespaceId !== ns.id) return fail(HCN_HR.HCN_E_ENDPOINT_NOT_FOUND, 'The endpoint is not in this namespace');
      ep.namespaceId = undefined;
      ns.endpoints = ns.endpoints.filter((e) => e !== ep.id);
    }
    return ok();
  }

  private deleteNetwork(id: string): HcnResult {
    const net = this.networks.get(normId(id));
    if (!net) return fail(HCN_HR.HCN_E_NETWORK_NOT_FOUND, 'The network was not found');
    if ([...this.endpoints.values()].some((e) => e.networkId === net.id)) {
      return fail(HCN_HR.HCN_E_ENTITY_HAS_REFERENCES, 'The specified entity cannot be removed while it still has references');
    }
    this.networks.delete(net.id);
    return ok();
  }

  private async deleteEndpoint(id: string): Promise<HcnResult> {
    const ep = this.endpoints.get(normId(id));
    if (!ep) return fail(HCN_HR.HCN_E_ENDPOINT_NOT_FOUND, 'The endpoint was not found');
    // CHOICE (UNVERIFIED): an endpoint still in a namespace is referenced; hcsshim removes it first (cleanup order, §4.3).
    if (ep.namespaceId) return fail(HCN_HR.HCN_E_ENTITY_HAS_REFERENCES, 'The specified entity cannot be removed while it still has references');
    this.endpoints.delete(ep.id);
    for (const p of ep.ports) await this.listeners.close({ protocol: p.protocol, port: p.externalPort });
    return ok();
  }

  private deleteNamespace(id: string): HcnResult {
    const ns = this.namespaces.get(normId(id));
    if (!ns) return fail(HCN_HR.ERROR_NOT_FOUND, 'the namespace was not found');
    // Deleting a namespace releases its endpoints (they stay, detached).
    for (const e of ns.endpoints) {
      const ep = this.endpoints.get(e);
      if (ep) ep.namespaceId = undefined;
    }
    this.namespaces.delete(ns.id);
    return ok();
  }

  private networkProps(n: NetworkRecord): Record<string, unknown> {
    return { ...n.doc, ID: n.id, Name: n.name, Type: n.type, SchemaVersion: n.doc.SchemaVersion ?? { Major: 2, Minor: 0 } };
  }
  private endpointProps(e: EndpointRecord): Record<string, unknown> {
    return { ...e.doc, ID: e.id, Name: e.name, HostComputeNetwork: e.networkId, HostComputeNamespace: e.namespaceId ?? '', SchemaVersion: e.doc.SchemaVersion ?? { Major: 2, Minor: 0 } };
  }
  private namespaceProps(n: NamespaceRecord): Record<string, unknown> {
    return {
      ...n.doc, ID: n.id, Type: n.doc.Type ?? 'HostDefault', SchemaVersion: n.doc.SchemaVersion ?? { Major: 2, Minor: 0 },
      Resources: n.endpoints.map((id) => ({ Type: 'Endpoint', Data: { Id: id } })),
    };
  }

  /** A Windows reboot: NAT networks, every endpoint and namespace (and their ports) are gone; other networks stay. */
  async reboot(): Promise<void> {
    await this.listeners.closeAll();
    this.endpoints.clear();
    this.namespaces.clear();
    for (const [id, n] of this.networks) if (n.type === 'NAT') this.networks.delete(id);
  }

  /** Everything gone (control `reset`, service stop). */
  async clear(): Promise<void> {
    await this.listeners.closeAll();
    this.endpoints.clear();
    this.namespaces.clear();
    this.networks.clear();
  }

  /** For `emulator network ls` and tests. */
  describe(): Record<string, unknown> {
    return {
      networks: [...this.networks.values()].map((n) => this.networkProps(n)),
      endpoints: [...this.endpoints.values()].map((e) => ({ ...this.endpointProps(e), ports: e.ports })),
      namespaces: [...this.namespaces.values()].map((n) => this.namespaceProps(n)),
      listeners: this.listeners.keys(),
    };
  }
}
