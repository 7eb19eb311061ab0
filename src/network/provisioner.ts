/**
 * Networking for one compute system through HCN (provisioning.md 4, 8 step 6): the network (the
 * controller's own NAT network, created when missing and after a reboot, or an existing one named by
 * the manifest, which is never modified or deleted), one endpoint carrying the port mappings, one
 * namespace holding it; the namespace id goes into the document's Container.Networking.Namespace
 * ([SHIM] hcsdoc_wcow.go). Removal in hcsshim's order: endpoint out of the namespace, namespace,
 * endpoint ([SHIM] internal/uvm/network.go, [CTRD] pkg/netns/netns_windows.go).
 *
 * Ownership. Endpoints are tagged by Name, `hcsr-<system id>` ("Tag objects by Name instead, and
 * adopt by enumerating", provisioning.md 4.1: whether HNS honours a caller-chosen id is UNVERIFIED).
 * Namespaces have no Name in the schema ([MSDOCS] HNS_Schema.md HostComputeNamespace), so they are
 * ours when one of our endpoints is in them, or when our journal
 * (<data root>/network/<system id>.json, written right after each create) names them. Anything else is
 * never touched.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type HcnError, type HcnHandle, type HcnNative, ZERO_GUID, isHcnNotFound, isNetworkAlreadyExists, isPortInUse } from '../hcs/hcn.ts';
import { PROTOCOL_NUMBER, type PortSpec } from './ports.ts';

/** The name of the controller's own NAT network. */
export const OWN_NETWORK = 'hcsr-nat';
/** Endpoint names start with this. */
export const ENDPOINT_PREFIX = 'hcsr-';
/** Our NAT subnet. CHOICE: inside 172.16.0.0/12 but not the default `nat` prefix 172.16.0.0/16 ([MSDOCS] architecture.md). */
const OWN_SUBNET = { prefix: '172.30.0.0/16', gateway: '172.30.0.1' };
const SCHEMA = { Major: 2, Minor: 0 };

/** What a system needs from the network. */
export interface NetworkNeeds {
  ports: readonly PortSpec[];
  /** An existing network by name; default: the controller's own NAT network. */
  network?: string;
}

/** The provisioned objects of one system. */
export interface SystemNetwork {
  systemId: string;
  networkId: string;
  endpointId: string;
  namespaceId: string;
}

/** A host port that cannot be published: permanent for this manifest. */
export class PortInUseError extends Error {
  constructor(readonly ports: readonly PortSpec[], readonly holder: string | undefined, cause: HcnError) {
    const list = ports.map((p) => `${p.hostPort}/${p.protocol}`).join(', ');
    super(`host port ${list} is already in use${holder ? ` (held by ${holder})` : ''}: ${cause.message}`, { cause });
    this.name = 'PortInUseError';
  }
}

interface Journal { systemId: string; endpointId?: string; namespaceId?: string }
const query = (filter: Record<string, unknown>) => JSON.stringify({ SchemaVersion: SCHEMA, Flags: 0, Filter: JSON.stringify(filter) });
const ids = (json: string) => JSON.parse(json || '[]') as string[];

/** HCN provisioning for the controller's systems. */
export class NetworkProvisioner {
  private readonly journalDir: string;

  constructor(private readonly hcn: HcnNative, dataRoot: string) {
    this.journalDir = join(dataRoot, 'network');
  }

  /** The network id for a manifest: a named one must exist; ours is created when missing. */
  async networkId(name?: string): Promise<string> {
    const wanted = name ?? OWN_NETWORK;
    const found = ids(await this.hcn.enumerateNetworks(query({ Name: wanted })));
    if (found[0]) return found[0];
    if (name !== undefined && name !== OWN_NETWORK) throw new Error(`network "${name}" does not exist on this host (it is used as it is, never created)`);
    const settings = {
      Name: OWN_NETWORK, Type: 'NAT', SchemaVersion: SCHEMA,
      Ipams: [{ Type: 'Static', Subnets: [{ IpAddressPrefix: OWN_SUBNET.prefix, Routes: [{ NextHop: OWN_SUBNET.gateway, DestinationPrefix: '0.0.0.0/0' }] }] }],
    };
    try {
      const h = await this.hcn.createNetwork(ZERO_GUID, JSON.stringify(settings), OWN_NETWORK);
      try {
        return (JSON.parse(await this.hcn.queryNetworkProperties(h, '', OWN_NETWORK)) as { ID: string }).ID;
      } finally {
        await this.hcn.closeNetwork(h);
      }
    } catch (err) {
      if (!isNetworkAlreadyExists(err)) throw err; // another controller process won the race
      return this.networkId();
    }
  }

  /**
   * Creates (or, after a controller restart, adopts) the endpoint and namespace of a system. A host
   * port in use is a PortInUseError (permanent for that manifest).
   */
  async provision(systemId: string, needs: NetworkNeeds): Promise<SystemNetwork> {
    const existing = await this.find(systemId);
    if (existing) return existing;
    await this.release(systemId); // a partial leftover (endpoint without namespace, journal only)
    const networkId = await this.networkId(needs.network);
    const name = `${ENDPOINT_PREFIX}${systemId}`;
    const settings = {
      Name: name, HostComputeNetwork: networkId, SchemaVersion: SCHEMA,
      Policies: needs.ports.map((p) => ({ Type: 'PortMapping', Settings: { Protocol: PROTOCOL_NUMBER[p.protocol], InternalPort: p.containerPort, ExternalPort: p.hostPort } })),
    };
    const net = await this.hcn.openNetwork(networkId);
    let endpointId: string;
    try {
      const ep = await this.hcn.createEndpoint(net, ZERO_GUID, JSON.stringify(settings), name).catch(async (err: unknown) => {
        if (isPortInUse(err)) throw new PortInUseError(needs.ports, await holderOf(needs.ports), err as HcnError);
        throw err;
      });
      try {
        endpointId = (JSON.parse(await this.hcn.queryEndpointProperties(ep, '', name)) as { ID: string }).ID;
      } finally {
        await this.hcn.closeEndpoint(ep);
      }
    } finally {
      await this.hcn.closeNetwork(net);
    }
    this.writeJournal({ systemId, endpointId });
    const ns = await this.hcn.createNamespace(ZERO_GUID, JSON.stringify({ SchemaVersion: SCHEMA }), systemId);
    try {
      const namespaceId = (JSON.parse(await this.hcn.queryNamespaceProperties(ns, '', systemId)) as { ID: string }).ID;
      this.writeJournal({ systemId, endpointId, namespaceId });
      await this.hcn.modifyNamespace(ns, JSON.stringify({ ResourceType: 'Endpoint', RequestType: 'Add', Settings: { EndpointId: endpointId } }), namespaceId);
      return { systemId, networkId, endpointId, namespaceId };
    } finally {
      await this.hcn.closeNamespace(ns);
    }
  }

  /**
   * The endpoint alone (the `endpoint` plan node): a leftover of ours for this system is released
   * first. A host port in use is a PortInUseError.
   */
  async createEndpoint(systemId: string, needs: NetworkNeeds): Promise<string> {
    await this.release(systemId);
    const networkId = await this.networkId(needs.network);
    const name = `${ENDPOINT_PREFIX}${systemId}`;
    const settings = {
      Name: name, HostComputeNetwork: networkId, SchemaVersion: SCHEMA,
      Policies: needs.ports.map((p) => ({ Type: 'PortMapping', Settings: { Protocol: PROTOCOL_NUMBER[p.protocol], InternalPort: p.containerPort, ExternalPort: p.hostPort } })),
    };
    const net = await this.hcn.openNetwork(networkId);
    try {
      const ep = await this.hcn.createEndpoint(net, ZERO_GUID, JSON.stringify(settings), name).catch(async (err: unknown) => {
        if (isPortInUse(err)) throw new PortInUseError(needs.ports, await holderOf(needs.ports), err as HcnError);
        throw err;
      });
      try {
        const endpointId = (JSON.parse(await this.hcn.queryEndpointProperties(ep, '', name)) as { ID: string }).ID;
        this.writeJournal({ systemId, endpointId });
        return endpointId;
      } finally {
        await this.hcn.closeEndpoint(ep);
      }
    } finally {
      await this.hcn.closeNetwork(net);
    }
  }

  /** The namespace holding the system's endpoint (the `namespace` plan node, after `endpoint`). */
  async createNamespace(systemId: string, needs: NetworkNeeds): Promise<string> {
    const existing = await this.find(systemId);
    if (existing) return existing.namespaceId;
    const name = `${ENDPOINT_PREFIX}${systemId}`;
    // The endpoint node made it; if it vanished since (a reboot after the list step), make it again.
    const endpointId = ids(await this.hcn.enumerateEndpoints(query({ Name: name })))[0] ?? (await this.createEndpoint(systemId, needs));
    const ns = await this.hcn.createNamespace(ZERO_GUID, JSON.stringify({ SchemaVersion: SCHEMA }), systemId);
    try {
      const namespaceId = (JSON.parse(await this.hcn.queryNamespaceProperties(ns, '', systemId)) as { ID: string }).ID;
      this.writeJournal({ systemId, endpointId, namespaceId });
      await this.hcn.modifyNamespace(ns, JSON.stringify({ ResourceType: 'Endpoint', RequestType: 'Add', Settings: { EndpointId: endpointId } }), namespaceId);
      return namespaceId;
    } finally {
      await this.hcn.closeNamespace(ns);
    }
  }

  /** Per system id of ours: whether its endpoint exists, and whether it is in a namespace. */
  async observe(): Promise<Array<{ systemId: string; endpoint: boolean; namespace: boolean; journal: boolean }>> {
    const byId = new Map<string, { systemId: string; endpoint: boolean; namespace: boolean; journal: boolean }>();
    const entry = (id: string) => byId.get(id) ?? byId.set(id, { systemId: id, endpoint: false, namespace: false, journal: false }).get(id)!;
    for (const id of ids(await this.hcn.enumerateEndpoints(''))) {
      const props = await this.endpointProps(id);
      if (!props?.Name.startsWith(ENDPOINT_PREFIX)) continue;
      const e = entry(props.Name.slice(ENDPOINT_PREFIX.length));
      e.endpoint = true;
      if (props.HostComputeNamespace) e.namespace = true;
    }
    try {
      for (const f of readdirSync(this.journalDir)) if (f.endsWith('.json')) entry(f.slice(0, -5)).journal = true;
    } catch { /* no journal yet */ }
    return [...byId.values()];
  }

  /** The id of our endpoint `hcsr-<id>`, or undefined (a Hyper-V container's network: no namespace). */
  async endpointOf(id: string): Promise<string | undefined> {
    const name = `${ENDPOINT_PREFIX}${id}`;
    for (const epId of ids(await this.hcn.enumerateEndpoints(query({ Name: name })))) {
      const props = await this.endpointProps(epId);
      if (props?.Name === name) return props.ID;
    }
    return undefined;
  }

  /** The complete provisioned network of a system (endpoint in a namespace), or undefined. */
  async find(systemId: string): Promise<SystemNetwork | undefined> {
    const name = `${ENDPOINT_PREFIX}${systemId}`;
    for (const id of ids(await this.hcn.enumerateEndpoints(query({ Name: name })))) {
      const props = await this.endpointProps(id);
      if (props?.Name === name && props.HostComputeNamespace) {
        return { systemId, networkId: props.HostComputeNetwork, endpointId: props.ID, namespaceId: props.HostComputeNamespace };
      }
    }
    return undefined;
  }

  /** Removes a system's endpoint and namespace (ours only); missing objects are fine. */
  async release(systemId: string): Promise<void> {
    const name = `${ENDPOINT_PREFIX}${systemId}`;
    const journal = this.readJournal(systemId);
    const endpoints = new Set(ids(await this.hcn.enumerateEndpoints(query({ Name: name }))));
    if (journal?.endpointId) endpoints.add(journal.endpointId);
    const namespaces = new Set<string>(journal?.namespaceId ? [journal.namespaceId] : []);
    for (const id of endpoints) {
      const props = await this.endpointProps(id);
      if (!props || props.Name !== name) continue; // gone, or not ours after all
      if (props.HostComputeNamespace) {
        namespaces.add(props.HostComputeNamespace);
        await this.removeFromNamespace(props.HostComputeNamespace, props.ID);
      }
    }
    for (const ns of namespaces) await this.hcn.deleteNamespace(ns).catch(ignoreNotFound);
    for (const id of endpoints) {
      const props = await this.endpointProps(id);
      if (props && props.Name === name) await this.hcn.deleteEndpoint(id).catch(ignoreNotFound);
    }
    rmSync(this.journalPath(systemId), { force: true });
  }

  /** Every system id with an endpoint of ours or a journal. */
  async owned(): Promise<string[]> {
    const out = new Set<string>();
    for (const id of ids(await this.hcn.enumerateEndpoints(''))) {
      const props = await this.endpointProps(id);
      if (props?.Name.startsWith(ENDPOINT_PREFIX)) out.add(props.Name.slice(ENDPOINT_PREFIX.length));
    }
    try {
      for (const f of readdirSync(this.journalDir)) if (f.endsWith('.json')) out.add(f.slice(0, -5));
    } catch { /* no journal yet */ }
    return [...out];
  }

  /** Releases everything of ours whose system is not in `keep` (leftovers of a crash). */
  async sweep(keep: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const id of await this.owned()) {
      if (keep.has(id)) continue;
      await this.release(id);
      removed.push(id);
    }
    return removed;
  }

  private async removeFromNamespace(nsId: string, endpointId: string): Promise<void> {
    let ns: HcnHandle;
    try {
      ns = await this.hcn.openNamespace(nsId);
    } catch (err) {
      return ignoreNotFound(err);
    }
    try {
      await this.hcn.modifyNamespace(ns, JSON.stringify({ ResourceType: 'Endpoint', RequestType: 'Remove', Settings: { EndpointId: endpointId } }), nsId).catch(ignoreNotFound);
    } finally {
      await this.hcn.closeNamespace(ns);
    }
  }

  private async endpointProps(id: string): Promise<{ ID: string; Name: string; HostComputeNetwork: string; HostComputeNamespace?: string } | undefined> {
    try {
      const h = await this.hcn.openEndpoint(id);
      try {
        return JSON.parse(await this.hcn.queryEndpointProperties(h, '', id));
      } finally {
        await this.hcn.closeEndpoint(h);
      }
    } catch (err) {
      return ignoreNotFound(err);
    }
  }

  private journalPath(systemId: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(systemId)) throw new Error(`network: "${systemId}" cannot name a file`);
    return join(this.journalDir, `${systemId}.json`);
  }
  private writeJournal(j: Journal): void {
    mkdirSync(this.journalDir, { recursive: true });
    const p = this.journalPath(j.systemId);
    writeFileSync(`${p}.tmp`, JSON.stringify(j) + '\n');
    rmSync(p, { force: true });
    writeFileSync(p, JSON.stringify(j) + '\n');
    rmSync(`${p}.tmp`, { force: true });
  }
  private readJournal(systemId: string): Journal | undefined {
    try {
      return JSON.parse(readFileSync(this.journalPath(systemId), 'utf8')) as Journal;
    } catch {
      return undefined;
    }
  }
}

function ignoreNotFound(err: unknown): undefined {
  if (isHcnNotFound(err)) return undefined;
  throw err;
}

/**
 * Who holds a host port, where the platform says: on Linux, /proc/net/{tcp,udp} gives the socket
 * inode and /proc/<pid>/fd the process; on Windows, iphlpapi's owner-pid TCP/UDP tables and the
 * process image name (src/hcs/ports-table.ts). Best effort: a failed lookup leaves the error naming
 * the port only, never masks it.
 */
export async function holderOf(ports: readonly PortSpec[]): Promise<string | undefined> {
  try {
    if (process.platform === 'win32') {
      const { PortTableNative } = await import('../hcs/ports-table.ts');
      const native = new PortTableNative();
      for (const p of ports) {
        const h = native.findPortHolder(p.hostPort, p.protocol);
        if (h) return h;
      }
      return undefined;
    }
    if (process.platform !== 'linux') return undefined;
    const { findPortHolder } = await import('./holder-linux.ts');
    for (const p of ports) {
      const h = findPortHolder(p);
      if (h) return h;
    }
  } catch {
    // the holder is extra information; the port error stands without it
  }
  return undefined;
}
