/**
 * Manifest → HCS ComputeSystem documents, in the shapes the proven callers build, for this host
 * (host-profile.ts: the host's build decides the schema features; fidelity audit round 2):
 *
 * - process isolation: one schema 2.1 `Container` document (hcsshim internal/hcsoci/hcsdoc_wcow.go);
 * - `isolation: hyperv`: the Docker way, one schema 1.0 `ContainerConfig` with `HvPartition: true`
 *   and `HvRuntime.ImagePath` = the uppermost layer that has a `UtilityVM` folder + `\UtilityVM`
 *   (hcsshim hcsdoc_wcow.go "V1 Xenon", uvmfolder.LocateUVMFolder; moby libcontainerd
 *   local_windows.go). HCS builds and manages the utility VM itself; the document is submitted
 *   through vmcompute.dll (src/hcs/vmcompute.ts). This replaces the v2 utility VM + HostedSystem
 *   pair, which could not work (audit D1, D2, D4);
 * - `virtualMachine`: UEFI boot from SCSI "Primary disk" LUN 0 (MSDOCS Tutorial.md), memory
 *   aligned to 2 MB (D12), `ApplySecureBootTemplate` Apply/Skip where the host has it (D15),
 *   `Services.Shutdown` + IntegrationService shutdown options on 20348+ (D7);
 * - `document`: passed through with our Owner and SchemaVersion 2.1 by default.
 *
 * Every document has `ShouldTerminateOnLastHandleClosed: false` (schema 1.0: the field is left
 * out, false): workloads must outlive the controller, which adopts them again by id + Owner.
 */
import type { DesiredProcess, RenderedPart } from '../../reconciler/ports.ts';
import { systemIdFor } from '../../reconciler/identity.ts';
import { sha256Canonical } from './hash.ts';
import { alignMemoryMB, DEFAULT_HOST, hostCapabilities, INTEGRATION_SHUTDOWN_OPTIONS, type HostCapabilities, type HostProfile } from './host-profile.ts';
import { provisionIdsOf, provisionOf } from './provision.ts';
import type { ContainerSpec, DocumentSpec, ImageProcessSpec, LayerSpec, Manifest, ProcessSpec, SecureBootTemplate, VirtualMachineSpec } from './types.ts';

/** HCS schema version of containers: 2.1, the version hcsshim uses for WCOW (schemaversion.SchemaV21). */
export const SCHEMA_VERSION = { Major: 2, Minor: 1 } as const;
/**
 * Hyper-V's secure boot template ids (audit D15). `MicrosoftWindows` is the one hcsshim sets
 * (internal/uvm/create_wcow.go); it trusts only Windows-signed boot loaders, so a Linux guest whose
 * shim is signed by the Microsoft UEFI CA needs `MicrosoftUEFICertificateAuthority`, the template
 * Hyper-V's own tooling selects for Linux (Set-VMFirmware -SecureBootTemplate; the id is the one
 * Get-VMFirmware reports for it, UNVERIFIED through HCS itself: no primary HCS source lists it).
 */
const SECURE_BOOT_TEMPLATE_IDS: Record<SecureBootTemplate, string> = {
  MicrosoftWindows: '1734c6e8-3154-4dda-ba5f-a874cc483422',
  MicrosoftUEFICertificateAuthority: '272e7447-90a4-4563-a4b9-8e4ab00526ce',
};
const BOOT_CONTROLLER = 'Primary disk';

/** What a manifest renders to. */
export interface Rendering {
  configHash: string;
  parts: RenderedPart[];
  process?: DesiredProcess;
}

type Doc = Record<string, unknown>;

/**
 * Render a validated manifest for a host (default: Windows Server 2022). The hash is computed
 * over the documents with ids left out (a schema 1.0 document carries its id in `Name`), plus
 * the process parameters; then the ids are filled in. An unknown host build throws
 * UnknownHostBuildError.
 */
export function renderManifest(manifest: Manifest, owner: string, host: HostProfile = DEFAULT_HOST): Rendering {
  const { name } = manifest.metadata;
  const spec = manifest.spec;
  const caps = hostCapabilities(host.build);
  const process = spec.container?.process && renderProcess(spec.container.process);
  const draft = draftPart(manifest, owner, host, caps);
  // What is provisioned counts too (a changed port is a new system); absent for the other manifests, so their hashes do not change.
  const configHash = sha256Canonical({ documents: [draft.document], process: process?.parameters ?? null, ...(draft.provision ? { provision: [draft.provision] } : {}) });
  const id = systemIdFor(name, configHash, 'main');
  const document = draft.named ? { ...draft.document, Name: id } : draft.document;
  const { named: _named, ...part } = draft;
  const provisionIds = part.provision && provisionIdsOf(name, part.provision, document, { configHash, createBeforeStop: spec.updateStrategy === 'CreateBeforeStop' });
  return { configHash, parts: [{ id, ...part, document, ...(provisionIds ? { provisionIds } : {}) }], ...(process ? { process } : {}) };
}

interface Draft extends Omit<RenderedPart, 'id'> {
  /** Schema 1.0: the id goes into `Name` once known. */
  named?: boolean;
}

function draftPart(manifest: Manifest, owner: string, host: HostProfile, caps: HostCapabilities): Draft {
  const { spec, metadata } = manifest;
  if (spec.virtualMachine) return renderVmPart(spec.virtualMachine, owner, caps);
  if (spec.document) return renderPassthrough(spec.document, owner);
  const c = spec.container!;
  const provision = provisionOf(c);
  if (c.isolation === 'hyperv') return { role: 'main', systemType: 'Container', named: true, document: renderHyperVContainer(c, metadata.name, owner, host), ...(provision ? { provision } : {}) };
  return { role: 'main', systemType: 'Container', document: top(owner, SCHEMA_VERSION, { Container: renderContainer(c, metadata.name) }), ...(provision ? { provision } : {}) };
}

/** The common top level of every schema 2.x document we create. */
function top(owner: string, version: { Major: number; Minor: number }, body: Doc): Doc {
  return { Owner: owner, SchemaVersion: version, ...body, ShouldTerminateOnLastHandleClosed: false };
}

function renderContainer(c: ContainerSpec, name: string): Doc {
  return compact({
    GuestOs: { HostName: c.hostName ?? name },
    Storage: { Layers: layersOf(c).map((l) => ({ Id: l.id, Path: l.path })), Path: c.scratch },
    MappedDirectories: c.mappedDirectories?.map((m) => ({ HostPath: m.hostPath, ContainerPath: m.containerPath, ReadOnly: m.readOnly })),
    Memory: c.memoryMB === undefined ? undefined : { SizeInMB: c.memoryMB },
    Processor: c.cpuCount === undefined ? undefined : { Count: c.cpuCount },
    Networking: c.networkNamespace === undefined ? undefined : { Namespace: c.networkNamespace },
  });
}

/**
 * The schema 1.0 "V1 Xenon" ContainerConfig (hcsshim internal/schema1 field names): layers with
 * their ids, the sandbox layer folder as LayerFolderPath, the utility VM image, the container's
 * limits (HCS sizes the utility VM from them, as for Docker; audit D17).
 */
function renderHyperVContainer(c: ContainerSpec, name: string, owner: string, host: HostProfile): Doc {
  return compact({
    SystemType: 'Container',
    Owner: owner,
    HvPartition: true,
    HostName: c.hostName ?? name,
    LayerFolderPath: c.scratch,
    Layers: layersOf(c).map((l) => ({ ID: l.id, Path: l.path })),
    HvRuntime: { ImagePath: c.utilityVm?.imagePath ?? `${trimSlash(utilityVmLayer(c, host))}\\UtilityVM` },
    MappedDirectories: c.mappedDirectories?.map((m) => ({ HostPath: m.hostPath, ContainerPath: m.containerPath, ReadOnly: m.readOnly })),
    MemoryMaximumInMB: c.memoryMB === undefined ? undefined : alignMemoryMB(c.memoryMB),
    ProcessorCount: c.cpuCount,
  });
}

/**
 * The uppermost layer that has a `UtilityVM` folder (hcsshim uvmfolder.LocateUVMFolder; audit
 * D11). Without a way to look (off Windows), the base layer, where Windows base images carry it.
 */
function utilityVmLayer(c: ContainerSpec, host: HostProfile): string {
  const probe = host.hasUtilityVm;
  const layers = layersOf(c);
  const found = probe ? layers.find((l) => probe(l.path)) : undefined;
  return (found ?? layers[layers.length - 1]!).path;
}

function renderVmPart(vm: VirtualMachineSpec, owner: string, caps: HostCapabilities): Draft {
  const attachments: Record<string, Doc> = { '0': { Type: 'VirtualDisk', Path: vm.bootDisk.path } };
  vm.disks?.forEach((d, i) => {
    attachments[String(i + 1)] = compact({ Type: 'VirtualDisk', Path: d.path, ReadOnly: d.readOnly || undefined });
  });
  const uefi: Doc = { BootThis: { DeviceType: 'ScsiDrive', DevicePath: BOOT_CONTROLLER, DiskNumber: 0 } };
  // hcsshim sets "Skip" explicitly when secure boot is off (create_wcow.go); the field is schema 2.3.
  if (vm.secureBoot) Object.assign(uefi, { ApplySecureBootTemplate: 'Apply', SecureBootTemplateId: SECURE_BOOT_TEMPLATE_IDS[vm.secureBootTemplate ?? 'MicrosoftWindows'] });
  else if (caps.secureBootTemplate) uefi.ApplySecureBootTemplate = 'Skip';
  const adapters = vm.networkAdapters?.map((a) => compact({ EndpointId: a.endpointId, MacAddress: a.macAddress }));
  const body = compact({
    Chipset: { Uefi: uefi },
    ComputeTopology: { Memory: { SizeInMB: alignMemoryMB(vm.memoryMB) }, Processor: { Count: vm.cpuCount } },
    Devices: compact({
      Scsi: { [BOOT_CONTROLLER]: { Attachments: attachments } },
      NetworkAdapters: adapters && Object.fromEntries(adapters.map((a, i) => [String(i), a])),
    }),
    // The shutdown integration service, so HcsShutDownComputeSystem can work (multipass renders
    // Shutdown + Heartbeat on 2.5 hosts; MSDOCS Tutorial.md: without a guest service it cannot).
    Services: caps.integrationShutdown ? { Shutdown: {}, Heartbeat: {} } : undefined,
  });
  // Declare the lowest version that has every field used (multipass declares the host's features
  // rather than one fixed version; commit 66461e371).
  const minor = caps.integrationShutdown ? 5 : 'ApplySecureBootTemplate' in uefi ? 3 : 1;
  const part: Draft = { role: 'main', systemType: 'VirtualMachine', document: top(owner, { Major: 2, Minor: Math.min(minor, caps.schemaMinor) }, { VirtualMachine: body }) };
  if (caps.integrationShutdown) part.shutdownOptions = { ...INTEGRATION_SHUTDOWN_OPTIONS };
  return part;
}

function renderPassthrough(d: DocumentSpec, owner: string): Draft {
  const { SchemaVersion, ShouldTerminateOnLastHandleClosed: _ignored, ...body } = d;
  const document = { Owner: owner, SchemaVersion: SchemaVersion ?? SCHEMA_VERSION, ...body, ShouldTerminateOnLastHandleClosed: false };
  return { role: 'main', systemType: d.VirtualMachine ? 'VirtualMachine' : 'Container', document };
}

/** HCS ProcessParameters (hcsshim schema2/process_parameters.go): no console, no stdio pipes. */
function renderProcess(p: ImageProcessSpec): DesiredProcess {
  const parameters = compact({
    CommandLine: p.commandLine,
    WorkingDirectory: p.workingDirectory,
    Environment: p.environment,
    User: p.user, // the image config's User: ProcessParameters.User ([MSDOCS] SchemaReference.md, provisioning.md section 5); absent otherwise
    EmulateConsole: false,
    CreateStdInPipe: false,
    CreateStdOutPipe: false,
    CreateStdErrPipe: false,
  });
  return { parameters, commandLine: p.commandLine, ...(p.logs ? { logs: p.logs } : {}) };
}

/** The layers to render; an `image` manifest gets them from the image store (src/images) first. */
function layersOf(c: ContainerSpec): LayerSpec[] {
  if (!c.layers) throw new Error(`spec.container.image ${c.image ?? ''} is not resolved to layers yet (the image store fills them in)`);
  // Ids are resolved by the loader (layer-ids.ts, NameToGuid through an injected resolver): render never calls FFI.
  return c.layers.map(({ id, path }) => {
    if (id === undefined) throw new Error(`layer ${path} has no id yet (the manifest loader resolves it with NameToGuid)`);
    return { id, path };
  });
}

/** Drop undefined members, so optional fields are absent rather than null in the document. */
function compact(o: Doc): Doc {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function trimSlash(path: string): string {
  return path.endsWith('\\') ? path.slice(0, -1) : path;
}
