/**
 * What the controller provisions for a container (issue 15): a scratch when `scratch` is absent, an
 * endpoint + namespace when `ports` or `network` is given. Rendered as the part's `provision`
 * (reconciler/ports.ts ProvisionRequest), which is part of the config hash (a changed port is a new
 * system); the core plans scratch/endpoint/namespace nodes from it and the provisioning adapter fills
 * Container.Storage.Path and Container.Networking.Namespace in at create.
 */
import type { ProvisionRequest, PublishedPort } from '../../reconciler/ports.ts';
import { shortHash } from '../../reconciler/identity.ts';
import { sha256Canonical } from './hash.ts';
import type { ContainerSpec } from './types.ts';

/** `8080:80/udp` → a published port (the schema pattern has checked the shape and range). */
export function renderPort(text: string): PublishedPort {
  const [ports, proto] = text.split('/');
  const [host, container] = ports!.split(':').map(Number);
  return { protocol: proto === 'udp' ? 'udp' : 'tcp', containerPort: container!, hostPort: host! };
}

/** The request for a container, or undefined when it brings its own scratch and namespace. */
export function provisionOf(c: ContainerSpec): ProvisionRequest | undefined {
  const scratch = c.scratch === undefined ? { ...(c.scratchSizeGB ? { sizeGB: c.scratchSizeGB } : {}) } : undefined;
  const network = c.ports !== undefined || c.network !== undefined
    ? { ports: (c.ports ?? []).map(renderPort), ...(c.network ? { network: c.network } : {}) }
    : undefined;
  if (!scratch && !network) return undefined;
  return { ...(scratch ? { scratch } : {}), ...(network ? { network } : {}), ...(c.isolation === 'hyperv' ? { isolation: 'hyperv' as const } : {}) };
}

/**
 * The ids of a part's provisioned objects (RenderedPart.provisionIds), each hashed from that
 * object's own inputs only, so the planner re-creates exactly the objects whose inputs changed:
 * - scratch: the layers it is built on (Container.Storage.Layers, or a schema 1.0 document's
 *   `Layers`) and its size. A new compute system over the same layers re-attaches the same scratch,
 *   as Docker does on every `docker start` of a stopped container (the container's windowsfilter
 *   folder is mounted again by the graph driver's Get and handed to a new HCS system; [MOBY]
 *   daemon/start.go containerStart → conditionalMountOnStart, graphdriver/windows Get).
 *   With `updateStrategy: CreateBeforeStop` the old system still runs on it while the new one is
 *   created, and two systems must never share a writable layer: the scratch is then per system.
 * - endpoint and its namespace: the network and the ports (the namespace holds only the endpoint).
 */
export function provisionIdsOf(name: string, req: ProvisionRequest, document: Record<string, unknown>, opts: { configHash: string; createBeforeStop: boolean }): { scratch?: string; network?: string } {
  const id = (what: unknown) => `${name}-${shortHash(sha256Canonical(what))}`;
  const container = document.Container as { Storage?: { Layers?: unknown } } | undefined;
  const layers = container?.Storage?.Layers ?? document.Layers ?? [];
  return {
    ...(req.scratch ? { scratch: id({ scratch: req.scratch, layers, ...(opts.createBeforeStop ? { system: opts.configHash } : {}) }) } : {}),
    ...(req.network ? { network: id({ network: req.network }) } : {}),
  };
}
