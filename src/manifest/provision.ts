/**
 * What the controller provisions for a container (issue 15): a scratch when `scratch` is absent, an
 * endpoint + namespace when `ports` or `network` is given. Rendered as the part's `provision`
 * (reconciler/ports.ts ProvisionRequest), which is part of the config hash (a changed port is a new
 * system); the core plans scratch/endpoint/namespace nodes from it and the provisioning adapter fills
 * Container.Storage.Path and Container.Networking.Namespace in at create.
 */
import type { ProvisionRequest, PublishedPort } from '../../reconciler/ports.ts';
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
  return { ...(scratch ? { scratch } : {}), ...(network ? { network } : {}) };
}
