/**
 * A decorator of the HcsClient port that provisions what a document asks for under PROVISION_KEY
 * (src/manifest/provision.ts) before HcsCreateComputeSystem: the scratch (src/scratch) and the
 * endpoint + namespace (provisioner.ts), filled into Container.Storage.Path and
 * Container.Networking.Namespace (provisioning.md 8, steps 5-7). The order is the one the issue asks
 * for: image (already in the store: the layers are in the document) before scratch before system;
 * endpoint and namespace before system.
 *
 * Lifetime: the provisioned objects of a system live exactly as long as the system exists in HCS.
 * A sweep (after every enumerate and after a system handle is closed) releases the objects of ours
 * whose system is gone: after the manifest was deleted, after a re-create under a new id, after a
 * reboot (systems gone; the NAT network is re-created at the next create), and after a kill -9
 * between creating a scratch and creating the system. Creates in flight are never swept.
 *
 * CHOICE (not the core's plan nodes): the scratch/endpoint/namespace steps happen inside `create`, so
 * `plan` shows them only as the document's provisioning request, and a change of `ports` alone
 * re-creates the system and with it the scratch (the scratch is per system id).
 */
import type { CallOptions, EnumerateQuery, HcsClient, HcsFailure, HcsSystem, Logger } from '../../reconciler/ports.ts';
import { PROVISION_KEY, type ProvisionRequest } from '../manifest/provision.ts';
import type { ScratchStore } from '../scratch/store.ts';
import { PortInUseError, type NetworkProvisioner } from './provisioner.ts';

/** What the decorator needs. */
export interface ProvisioningDeps {
  scratch: ScratchStore;
  network: NetworkProvisioner;
  log?: Logger;
}

/** The decorated client, plus a way to wait for background sweeps (tests, shutdown). */
export interface ProvisioningHcs extends HcsClient {
  /** Resolves when no sweep is running or scheduled. */
  idle(): Promise<void>;
  /** Runs a sweep now and waits for it. */
  sweep(): Promise<void>;
}

type Doc = Record<string, unknown>;

/** A provisioning failure in the shape the core classifies (HcsFailure). */
function failure(op: string, systemId: string, err: unknown): HcsFailure {
  const e = new Error(`${op} ${systemId}: ${(err as Error).message}`, { cause: err }) as HcsFailure;
  e.op = op;
  e.systemId = systemId;
  const port = err instanceof PortInUseError;
  e.hresult = port ? 0x803b0013 | 0 : ((err as { hresult?: number }).hresult ?? 0x80004005 | 0);
  // A host port in use is permanent for this manifest (issue 15); other provisioning failures are retried.
  e.kind = port ? 'invalidConfig' : 'transient';
  e.permanent = port;
  return e;
}

/**
 * Wraps `inner` so documents with a provisioning request get their scratch and network first.
 * `lazyDeps` may be a function: the native libraries are then loaded on first use, so a host without
 * computenetwork.dll (no Containers feature) still runs manifests that provision nothing.
 */
export function provisioningHcs(inner: HcsClient, lazyDeps: ProvisioningDeps | (() => ProvisioningDeps)): ProvisioningHcs {
  let loaded: ProvisioningDeps | undefined;
  let loadError: unknown;
  const depsOrThrow = (): ProvisioningDeps => {
    if (loaded) return loaded;
    if (typeof lazyDeps !== 'function') return (loaded = lazyDeps);
    try {
      return (loaded = lazyDeps());
    } catch (err) {
      loadError = err;
      throw err;
    }
  };
  const log = typeof lazyDeps === 'function' ? undefined : lazyDeps.log;
  const deps = {
    get scratch() { return depsOrThrow().scratch; },
    get network() { return depsOrThrow().network; },
    get log() { return loaded?.log ?? log; },
  } as ProvisioningDeps;
  const pending = new Set<string>();
  let lock: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = lock.then(fn, fn);
    lock = run.catch(() => {});
    return run;
  };

  let sweeping: Promise<void> | undefined;
  let again = false;
  /** Under the lock. keep = systems in HCS (or, for `running`, only those not stopped) and creates in flight. */
  const sweepLocked = async (running: boolean): Promise<void> => {
    if (!loaded && loadError === undefined) {
      try { depsOrThrow(); } catch { /* below */ }
    }
    if (!loaded) return; // the libraries cannot be loaded on this host: nothing can have been provisioned
    const before = new Set(pending);
    const present = (await inner.enumerate()).filter((s) => !running || (s.state !== 'Stopped' && s.stopped !== true));
    const keep = new Set([...before, ...pending, ...present.map((s) => s.id)]);
    const scratches = running ? [] : await deps.scratch.sweep(keep);
    const networks = await deps.network.sweep(keep);
    if (scratches.length + networks.length > 0) deps.log?.info('released the provisioned objects of systems that are gone', { scratches, networks });
  };
  const sweepOnce = () => exclusive(() => sweepLocked(false));
  const schedule = (): void => {
    if (sweeping) { again = true; return; }
    sweeping = (async () => {
      do {
        again = false;
        try {
          await sweepOnce();
        } catch (err) {
          deps.log?.warn('sweep of provisioned objects failed; retried at the next relist', { error: (err as Error).message });
        }
      } while (again);
      sweeping = undefined;
    })();
  };

  const wrap = (s: HcsSystem): HcsSystem => ({
    ...bind(s),
    close: async () => {
      await s.close();
      schedule();
    },
  });

  async function provisioned(id: string, doc: Doc): Promise<Doc> {
    const { [PROVISION_KEY]: req, ...rest } = doc as Doc & { [PROVISION_KEY]?: ProvisionRequest };
    const container = { ...(rest.Container as Doc) };
    if (req?.Scratch) {
      const layers = ((container.Storage as { Layers?: Array<{ Id: string; Path: string }> } | undefined)?.Layers ?? []).map((l) => ({ id: l.Id, path: l.Path }));
      const m = (await deps.scratch.mounted(id)) ?? (await deps.scratch.create(id, layers, req.Scratch.SizeGB));
      container.Storage = { ...(container.Storage as Doc), Path: m.volumePath };
    }
    if (req?.Network) {
      const ports = req.Network.Ports.map((p) => ({ hostPort: p.ExternalPort, containerPort: p.InternalPort, protocol: p.Protocol }));
      const needs = { ports, ...(req.Network.Network ? { network: req.Network.Network } : {}) };
      const n = await deps.network.provision(id, needs).catch(async (err: unknown) => {
        // StopBeforeCreate: the old system of this manifest is stopped but may still hold its endpoint
        // (and port) until it is gone from HCS. Endpoints of ours whose system is stopped or gone are
        // released first, then the create is tried once more; a port still held is the permanent error.
        if (!(err instanceof PortInUseError)) throw err;
        await sweepLocked(true);
        return deps.network.provision(id, needs);
      });
      container.Networking = { ...(container.Networking as Doc | undefined), Namespace: n.namespaceId };
    }
    return { ...rest, Container: container };
  }

  return {
    enumerate: async (q?: EnumerateQuery, o?: CallOptions) => {
      const systems = await inner.enumerate(q, o);
      schedule();
      return systems;
    },
    create: async (id: string, doc: Doc, o?: CallOptions) => {
      if (doc[PROVISION_KEY] === undefined) return wrap(await inner.create(id, doc, o));
      pending.add(id);
      try {
        let ready: Doc;
        try {
          ready = await exclusive(() => provisioned(id, doc));
        } catch (err) {
          // Nothing of a failed provisioning is left behind (the sweep would also find it).
          await exclusive(async () => { await deps.network.release(id).catch(() => {}); await deps.scratch.remove(id).catch(() => false); });
          throw failure('provision', id, err);
        }
        return wrap(await inner.create(id, ready, o));
      } finally {
        pending.delete(id);
      }
    },
    open: async (id: string, o?: CallOptions) => wrap(await inner.open(id, o)),
    close: async () => {
      await sweeping;
      await inner.close();
    },
    idle: async () => {
      while (sweeping) await sweeping;
    },
    sweep: async () => {
      while (sweeping) await sweeping;
      await sweepOnce();
    },
  };
}

/** The system's methods bound to it (a spread of a class instance would lose its prototype). */
function bind(s: HcsSystem): HcsSystem {
  return {
    id: s.id,
    start: (o) => s.start(o),
    shutdown: (o) => s.shutdown(o),
    terminate: (o) => s.terminate(o),
    pause: (o) => s.pause(o),
    resume: (o) => s.resume(o),
    properties: (q, o) => s.properties(q, o),
    modify: (r, o) => s.modify(r, o),
    createProcess: (p, o) => s.createProcess(p, o),
    openProcess: (pid, o) => s.openProcess(pid, o),
    onEvent: (l) => s.onEvent(l),
    close: () => s.close(),
  };
}
