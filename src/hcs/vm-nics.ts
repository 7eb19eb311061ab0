/**
 * Audit D18: a VM network adapter carries the MAC of its HNS endpoint. hcsshim never lets HCS pick
 * one: it reads the endpoint and sends `{EndpointId: endpoint.Id, MacAddress: endpoint.MacAddress}`
 * ([SHIM] internal/uvm/network.go, and cmd/gcs compute agent ModifyNIC), verbatim, in the HNS form
 * `00-15-5D-xx-xx-xx` (the form of the HostComputeEndpoint `MacAddress` field and of a network's
 * MacPool, [SHIM] hcn/hcnendpoint.go, hcn/hcnnetwork.go, provisioning.md 4.1). Multipass does the
 * same (hcs/hyperv_hcs_network_adapter.cpp). A manifest's `macAddress`, when given, wins (it was
 * checked against the same format); an adapter without one gets its endpoint's MAC here, at create,
 * through HcnOpenEndpoint + HcnQueryEndpointProperties. The rendered document (and the config hash)
 * do not contain it: render never calls FFI, and the endpoint is external state read when used.
 */
import type { HcnHandle, HcnNative } from './hcn.ts';

/** Reads an HNS endpoint's MAC address. */
export type EndpointMacLookup = (endpointId: string) => Promise<string>;

interface Adapter {
  EndpointId?: unknown;
  MacAddress?: unknown;
}

/** The VM document's `Devices.NetworkAdapters` entries that have no MacAddress: key → endpoint id. */
export function adaptersWithoutMac(document: Record<string, unknown>): Map<string, string> {
  const out = new Map<string, string>();
  const vm = document.VirtualMachine as { Devices?: { NetworkAdapters?: Record<string, Adapter> } } | undefined;
  for (const [key, a] of Object.entries(vm?.Devices?.NetworkAdapters ?? {})) {
    if (a.MacAddress === undefined && typeof a.EndpointId === 'string') out.set(key, a.EndpointId);
  }
  return out;
}

/** `00:15:5d:01:02:03` or `00-15-5D-01-02-03` → `00-15-5D-01-02-03` (the HNS form); anything else is refused. */
export function hnsMac(mac: string): string {
  const m = /^([0-9a-f]{2})[-:]([0-9a-f]{2})[-:]([0-9a-f]{2})[-:]([0-9a-f]{2})[-:]([0-9a-f]{2})[-:]([0-9a-f]{2})$/i.exec(mac.trim());
  if (!m) throw new Error(`not a MAC address: "${mac}"`);
  return m.slice(1).join('-').toUpperCase();
}

/** The document with every adapter's MAC filled in from its endpoint (a copy; the input is not changed). */
export async function withEndpointMacs(document: Record<string, unknown>, lookup: EndpointMacLookup | undefined): Promise<Record<string, unknown>> {
  const missing = adaptersWithoutMac(document);
  if (missing.size === 0) return document;
  if (!lookup) throw new Error(`network adapter(s) ${[...missing.keys()].join(', ')} have no MacAddress and no HNS binding is available to read the endpoint's`);
  const vm = document.VirtualMachine as { Devices: { NetworkAdapters: Record<string, Adapter> } };
  const adapters = { ...vm.Devices.NetworkAdapters };
  for (const [key, endpointId] of missing) adapters[key] = { ...adapters[key], MacAddress: hnsMac(await lookup(endpointId)) };
  return { ...document, VirtualMachine: { ...vm, Devices: { ...vm.Devices, NetworkAdapters: adapters } } };
}

/** hcsshim's default HCN query (hcn/hcn.go defaultQuery: schema 2.0, no flags). */
const DEFAULT_QUERY = JSON.stringify({ SchemaVersion: { Major: 2, Minor: 0 }, Flags: 0 });

/** The lookup over an HCN binding: open the endpoint, query its properties, close it. */
export function hcnMacLookup(hcn: () => HcnNative): EndpointMacLookup {
  return async (endpointId) => {
    const native = hcn();
    const h: HcnHandle = await native.openEndpoint(endpointId);
    try {
      const props = JSON.parse(await native.queryEndpointProperties(h, DEFAULT_QUERY, endpointId)) as { MacAddress?: unknown };
      if (typeof props.MacAddress !== 'string' || props.MacAddress === '') throw new Error(`HNS endpoint ${endpointId} has no MacAddress`);
      return props.MacAddress;
    } finally {
      await native.closeEndpoint(h);
    }
  };
}
