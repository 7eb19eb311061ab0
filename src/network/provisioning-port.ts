/**
 * The ProvisionPort (reconciler/ports.ts) on the scratch store and the network provisioner: what the
 * core's scratch, endpoint and namespace nodes call (provisioning.md 8, steps 5-6), and the
 * document a provisioned part is created with (Container.Storage.Path = the scratch volume,
 * Container.Networking.Namespace = the namespace id, [SHIM] hcsdoc_wcow.go).
 */
import type { HcsFailure, ObservedProvisioned, ProvisionKind, ProvisionPort, RenderedPart } from '../../reconciler/ports.ts';
import type { ScratchStore } from '../scratch/store.ts';
import { PortInUseError, type NetworkProvisioner } from './provisioner.ts';

/** A failure in the shape the core classifies: a host port in use is permanent for that manifest. */
function failure(op: string, systemId: string, err: unknown): HcsFailure {
  const e = new Error((err as Error).message, { cause: err }) as HcsFailure;
  const port = err instanceof PortInUseError;
  e.op = op;
  e.systemId = systemId;
  e.hresult = port ? 0x803b0013 | 0 : ((err as { hresult?: number }).hresult ?? 0x80004005 | 0);
  e.kind = port ? 'invalidConfig' : 'transient';
  e.permanent = port;
  return e;
}

/** The layers a scratch is built on: schema 2.x Container.Storage.Layers [{Id, Path}], or schema 1.0 Layers [{ID, Path}]. */
const layersOf = (part: RenderedPart) => {
  const v2 = (part.document.Container as { Storage?: { Layers?: Array<{ Id: string; Path: string }> } } | undefined)?.Storage?.Layers;
  if (v2) return v2.map((l) => ({ id: l.Id, path: l.Path }));
  return ((part.document.Layers as Array<{ ID: string; Path: string }> | undefined) ?? []).map((l) => ({ id: l.ID, path: l.Path }));
};

const needsOf = (part: RenderedPart) => {
  const net = part.provision?.network;
  return { ports: net?.ports ?? [], ...(net?.network ? { network: net.network } : {}) };
};

/** Provisioning on the real (or emulated) vmcompute and computenetwork libraries. */
export class ProvisioningPort implements ProvisionPort {
  /**
   * @param load the adapters, loaded on first use, so a host without computenetwork.dll runs manifests that provision nothing
   * @param opts.readOnly observe without finishing interrupted removals (`plan` changes nothing)
   */
  constructor(private readonly load: () => { scratch: ScratchStore; network: NetworkProvisioner }, private readonly opts: { readOnly?: boolean } = {}) {}
  private loaded?: { scratch: ScratchStore; network: NetworkProvisioner };
  private unavailable = false;
  private get deps() {
    return (this.loaded ??= this.load());
  }

  async observe(kind: ProvisionKind): Promise<ObservedProvisioned[]> {
    if (!this.loaded && !this.unavailable) {
      try {
        this.deps;
      } catch {
        this.unavailable = true; // no vmcompute/computenetwork on this host: nothing can have been provisioned
      }
    }
    if (this.unavailable) return [];
    if (kind === 'scratch') {
      const { scratch } = this.deps;
      if (!this.opts.readOnly) await scratch.cleanRemoved();
      const out: ObservedProvisioned[] = [];
      for (const id of scratch.list()) out.push({ id, ready: await scratch.ready(id) });
      return out;
    }
    const all = await this.networkObservation();
    return kind === 'endpoint'
      ? all.filter((o) => o.endpoint || o.journal).map((o) => ({ id: o.systemId, ready: o.endpoint }))
      : all.filter((o) => o.namespace || o.journal).map((o) => ({ id: o.systemId, ready: o.namespace }));
  }

  #network?: ReturnType<NetworkProvisioner['observe']>;

  /**
   * One HCN enumeration serves the endpoint and the namespace kind of the same relist (they are
   * observed one after the other): it is shared until the turn after it settled, so a later relist
   * always enumerates afresh. Each enumeration queries every endpoint on the host, Docker's too.
   */
  private networkObservation(): ReturnType<NetworkProvisioner['observe']> {
    if (this.#network) return this.#network;
    const observation = this.deps.network.observe();
    this.#network = observation;
    const forget = () => setImmediate(() => {
      if (this.#network === observation) this.#network = undefined;
    });
    observation.then(forget, forget);
    return observation;
  }

  async create(kind: ProvisionKind, id: string, part: RenderedPart): Promise<void> {
    const req = part.provision;
    try {
      if (kind === 'scratch' && req?.isolation === 'hyperv') await this.deps.scratch.createSandbox(id, layersOf(part), req.scratch?.sizeGB);
      else if (kind === 'scratch') await this.deps.scratch.create(id, layersOf(part), req?.scratch?.sizeGB);
      else if (kind === 'endpoint') await this.deps.network.createEndpoint(id, needsOf(part));
      else await this.deps.network.createNamespace(id, needsOf(part));
    } catch (err) {
      throw failure(`create ${kind}`, id, err);
    }
  }

  async remove(kind: ProvisionKind, id: string): Promise<void> {
    try {
      // Releasing the network is one step (endpoint out of the namespace, namespace, endpoint, journal), idempotent.
      if (kind === 'scratch') await this.deps.scratch.remove(id);
      else await this.deps.network.release(id);
    } catch (err) {
      throw failure(`remove ${kind}`, id, err);
    }
  }

  async document(systemId: string, part: RenderedPart): Promise<Record<string, unknown>> {
    if (part.provision?.isolation === 'hyperv') return this.schema1Document(systemId, part);
    const container = { ...(part.document.Container as Record<string, unknown>) };
    const scratchId = part.provisionIds?.scratch ?? systemId;
    const networkId = part.provisionIds?.network ?? systemId;
    if (part.provision?.scratch) {
      // Normally the scratch node made it (or kept it); when it vanished after the list step (a
      // reboot between the observation and the create), it is made here rather than failing the create.
      let m = await this.deps.scratch.mounted(scratchId);
      if (!m) {
        await this.create('scratch', scratchId, part);
        m = await this.deps.scratch.mounted(scratchId);
      }
      if (!m) throw failure('create', systemId, new Error(`the scratch ${scratchId} of ${systemId} is not mounted`));
      container.Storage = { ...(container.Storage as Record<string, unknown>), Path: m.volumePath };
    }
    if (part.provision?.network) {
      let n = await this.deps.network.find(networkId);
      if (!n) {
        await this.create('namespace', networkId, part);
        n = await this.deps.network.find(networkId);
      }
      if (!n) throw failure('create', systemId, new Error(`the namespace ${networkId} of ${systemId} does not exist`));
      container.Networking = { ...(container.Networking as Record<string, unknown> | undefined), Namespace: n.namespaceId };
    }
    return { ...part.document, Container: container };
  }

  /**
   * A schema 1.0 Hyper-V document the Docker way ([MOBY] libcontainerd local_windows.go
   * createWindows): LayerFolderPath = the sandbox folder (not mounted), EndpointList = the HNS
   * endpoint ids. As for process isolation, an object that vanished after the list step is made here.
   */
  private async schema1Document(systemId: string, part: RenderedPart): Promise<Record<string, unknown>> {
    const doc = { ...part.document };
    const scratchId = part.provisionIds?.scratch ?? systemId;
    const networkId = part.provisionIds?.network ?? systemId;
    if (part.provision?.scratch) {
      let sb = this.deps.scratch.sandbox(scratchId);
      if (!sb) {
        await this.create('scratch', scratchId, part);
        sb = this.deps.scratch.sandbox(scratchId);
      }
      if (!sb) throw failure('create', systemId, new Error(`the sandbox ${scratchId} of ${systemId} does not exist`));
      doc.LayerFolderPath = sb.dir;
    }
    if (part.provision?.network) {
      let ep = await this.deps.network.endpointOf(networkId);
      if (!ep) {
        await this.create('endpoint', networkId, part);
        ep = await this.deps.network.endpointOf(networkId);
      }
      if (!ep) throw failure('create', systemId, new Error(`the endpoint ${networkId} of ${systemId} does not exist`));
      doc.EndpointList = [ep];
    }
    return doc;
  }
}
