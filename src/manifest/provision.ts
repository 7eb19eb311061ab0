/**
 * What the controller provisions for a container (issue 15): a scratch when `scratch` is absent, an
 * endpoint + namespace when `ports` or `network` is given. Rendered into the document under one
 * top-level key, PROVISION_KEY, so that it is part of the config hash (a changed port is a new system)
 * and shown by `plan`; the provisioning adapter (src/network/provisioning-hcs.ts) creates the objects,
 * fills in Container.Storage.Path and Container.Networking.Namespace and removes the key before
 * HcsCreateComputeSystem.
 */
import type { ContainerSpec } from './types.ts';

/** The top-level document key that carries the provisioning request. */
export const PROVISION_KEY = 'HcsReconcilerProvision';

/** One published port, as rendered. */
export interface RenderedPort { Protocol: 'tcp' | 'udp'; InternalPort: number; ExternalPort: number }

/** The provisioning request in a document. */
export interface ProvisionRequest {
  Scratch?: { SizeGB?: number };
  Network?: { Ports: RenderedPort[]; Network?: string };
}

/** `8080:80/udp` → a rendered port (the schema pattern has checked the shape). */
export function renderPort(text: string): RenderedPort {
  const [ports, proto] = text.split('/');
  const [host, container] = ports!.split(':').map(Number);
  return { Protocol: proto === 'udp' ? 'udp' : 'tcp', InternalPort: container!, ExternalPort: host! };
}

/** The request for a container, or undefined when it brings its own scratch and namespace. */
export function provisionOf(c: ContainerSpec): ProvisionRequest | undefined {
  const scratch = c.scratch === undefined ? { ...(c.scratchSizeGB ? { SizeGB: c.scratchSizeGB } : {}) } : undefined;
  const network = c.ports !== undefined || c.network !== undefined
    ? { Ports: (c.ports ?? []).map(renderPort), ...(c.network ? { Network: c.network } : {}) }
    : undefined;
  if (!scratch && !network) return undefined;
  return { ...(scratch ? { Scratch: scratch } : {}), ...(network ? { Network: network } : {}) };
}
