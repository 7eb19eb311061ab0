/**
 * Manifest → HCS schema 2.1 ComputeSystem documents, in the shapes hcsshim builds
 * (see /work/shared/reference/hcs-api.md §3.2 and src/manifest/README.md "Rendering"):
 *
 * - process isolation: one `Container` document (hcsshim internal/hcsoci/hcsdoc_wcow.go);
 * - `isolation: hyperv`: a utility VM (hcsshim internal/uvm/create_wcow.go prepareConfigDoc),
 *   then the container as `HostedSystem` with `HostingSystemId` = the utility VM's id, the form
 *   the HCS schema documents for hosting through HCS itself (ComputeSystem.HostingSystemId);
 * - `virtualMachine`: UEFI boot from SCSI "Primary disk" LUN 0 (MSDOCS Tutorial.md);
 * - `document`: passed through with our Owner and SchemaVersion 2.1 by default.
 *
 * Every document has `ShouldTerminateOnLastHandleClosed: false` (hcsshim uses true): workloads
 * must outlive the controller, which adopts them again by id + Owner after a restart.
 */
import type { DesiredProcess, RenderedPart } from '../../reconciler/ports.ts';
import { systemIdFor } from '../../reconciler/identity.ts';
import { sha256Canonical } from './hash.ts';
import { provisionOf } from './provision.ts';
import type { ContainerSpec, DocumentSpec, Manifest, ProcessSpec, VirtualMachineSpec } from './types.ts';

/** HCS schema version we render: 2.1, the version hcsshim uses for WCOW (schemaversion.SchemaV21). */
export const SCHEMA_VERSION = { Major: 2, Minor: 1 } as const;
/** Utility VM defaults from hcsshim (uvm.OptionsWCOW: 1024 MB, 2 processors). */
const UVM_DEFAULT_MEMORY_MB = 1024;
const UVM_DEFAULT_CPU_COUNT = 2;
/** hcsshim: "Allow administrators and SYSTEM to bind to hyper-v sockets so that we can communicate to the GCS." */
const UVM_HVSOCKET_SDDL = 'D:P(A;;FA;;;SY)(A;;FA;;;BA)';
/** The "Microsoft Windows" secure boot template (hcsshim create_wcow.go). */
const SECURE_BOOT_TEMPLATE_ID = '1734c6e8-3154-4dda-ba5f-a874cc483422';
const BOOT_CONTROLLER = 'Primary disk';

/** What a manifest renders to. */
export interface Rendering {
  configHash: string;
  parts: RenderedPart[];
  process?: DesiredProcess;
}

type Doc = Record<string, unknown>;

/**
 * Render a validated manifest. The hash is computed over the documents with ids left out
 * (the hosted container's HostingSystemId contains the hash, so it cannot be an input), plus
 * the process parameters; then the ids are filled in.
 */
export function renderManifest(manifest: Manifest, owner: string): Rendering {
  const { name } = manifest.metadata;
  const spec = manifest.spec;
  const process = spec.container?.process && renderProcess(spec.container.process);
  const drafts = draftParts(manifest, owner);
  // What is provisioned counts too (a changed port is a new system); absent for the other manifests, so their hashes do not change.
  const provisions = drafts.flatMap((d) => (d.provision ? [d.provision] : []));
  const configHash = sha256Canonical({ documents: drafts.map((d) => d.document), process: process?.parameters ?? null, ...(provisions.length > 0 ? { provision: provisions } : {}) });
  const uvmId = systemIdFor(name, configHash, 'utilityVm');
  const parts = drafts.map((d): RenderedPart => {
    const document = d.hosted ? withHostingSystem(d.document, uvmId) : d.document;
    return { id: systemIdFor(name, configHash, d.role), role: d.role, systemType: d.systemType, document, ...(d.provision ? { provision: d.provision } : {}) };
  });
  return { configHash, parts, ...(process ? { process } : {}) };
}

interface Draft extends Omit<RenderedPart, 'id'> {
  /** HostingSystemId must be filled in with the utility VM id. */
  hosted?: boolean;
}

function draftParts(manifest: Manifest, owner: string): Draft[] {
  const { spec, metadata } = manifest;
  if (spec.virtualMachine) return [{ role: 'main', systemType: 'VirtualMachine', document: top(owner, { VirtualMachine: renderVm(spec.virtualMachine) }) }];
  if (spec.document) return [renderPassthrough(spec.document, owner)];
  const c = spec.container!;
  const container = renderContainer(c, metadata.name);
  const provision = provisionOf(c);
  if (c.isolation === 'process') return [{ role: 'main', systemType: 'Container', document: top(owner, { Container: container }), ...(provision ? { provision } : {}) }];
  return [
    { role: 'utilityVm', systemType: 'VirtualMachine', document: top(owner, { VirtualMachine: renderUtilityVm(c, metadata.name) }) },
    { role: 'main', systemType: 'Container', hosted: true, document: top(owner, { HostedSystem: { SchemaVersion: SCHEMA_VERSION, Container: container } }) },
  ];
}

/** The common top level of every document we create. */
function top(owner: string, body: Doc): Doc {
  return { Owner: owner, SchemaVersion: SCHEMA_VERSION, ...body, ShouldTerminateOnLastHandleClosed: false };
}

function withHostingSystem(document: Doc, uvmId: string): Doc {
  const { Owner, SchemaVersion, ...rest } = document;
  return { Owner, SchemaVersion, HostingSystemId: uvmId, ...rest };
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

/** The WCOW utility VM, as hcsshim's prepareConfigDoc builds it for VmbFS boot. */
function renderUtilityVm(c: ContainerSpec, name: string): Doc {
  const baseLayer = layersOf(c).at(-1)!.path;
  const memoryMB = c.memoryMB ?? UVM_DEFAULT_MEMORY_MB;
  return {
    StopOnReset: true,
    Chipset: { Uefi: { BootThis: { DevicePath: '\\EFI\\Microsoft\\Boot\\bootmgfw.efi', DeviceType: 'VmbFs' } } },
    ComputeTopology: {
      Memory: { SizeInMB: memoryMB, AllowOvercommit: true, EnableHotHint: true },
      Processor: { Count: c.cpuCount ?? UVM_DEFAULT_CPU_COUNT },
    },
    Devices: {
      Scsi: { '0': { Attachments: { '0': { Path: c.utilityVm?.scratchPath ?? defaultUvmScratch(name), Type: 'VirtualDisk' } } } },
      HvSocket: { HvSocketConfig: { DefaultBindSecurityDescriptor: UVM_HVSOCKET_SDDL } },
      VirtualSmb: {
        DirectFileMappingInMB: 1024,
        Shares: [{ Name: 'os', Path: c.utilityVm?.imagePath ?? `${trimSlash(baseLayer)}\\UtilityVM\\Files`, Options: UVM_OS_SHARE_OPTIONS }],
      },
    },
  };
}

/** hcsshim DefaultVSMBOptions(readOnly=true) + TakeBackupPrivilege, used for the "os" share. */
const UVM_OS_SHARE_OPTIONS = {
  ReadOnly: true,
  ShareRead: true,
  CacheIo: true,
  NoOplocks: true,
  NoDirectmap: false,
  PseudoOplocks: true,
  PseudoDirnotify: true,
  TakeBackupPrivilege: true,
};

function defaultUvmScratch(name: string): string {
  return `C:\\ProgramData\\hcs-reconciler\\uvm\\${name}\\sandbox.vhdx`;
}

function renderVm(vm: VirtualMachineSpec): Doc {
  const attachments: Record<string, Doc> = { '0': { Type: 'VirtualDisk', Path: vm.bootDisk.path } };
  vm.disks?.forEach((d, i) => {
    attachments[String(i + 1)] = compact({ Type: 'VirtualDisk', Path: d.path, ReadOnly: d.readOnly || undefined });
  });
  const uefi: Doc = { BootThis: { DeviceType: 'ScsiDrive', DevicePath: BOOT_CONTROLLER, DiskNumber: 0 } };
  if (vm.secureBoot) Object.assign(uefi, { ApplySecureBootTemplate: 'Apply', SecureBootTemplateId: SECURE_BOOT_TEMPLATE_ID });
  const adapters = vm.networkAdapters?.map((a) => compact({ EndpointId: a.endpointId, MacAddress: a.macAddress }));
  return {
    Chipset: { Uefi: uefi },
    ComputeTopology: { Memory: { SizeInMB: vm.memoryMB }, Processor: { Count: vm.cpuCount } },
    Devices: compact({
      Scsi: { [BOOT_CONTROLLER]: { Attachments: attachments } },
      NetworkAdapters: adapters && Object.fromEntries(adapters.map((a, i) => [String(i), a])),
    }),
  };
}

function renderPassthrough(d: DocumentSpec, owner: string): Draft {
  const { SchemaVersion, ShouldTerminateOnLastHandleClosed: _ignored, ...body } = d;
  const document = { Owner: owner, SchemaVersion: SchemaVersion ?? SCHEMA_VERSION, ...body, ShouldTerminateOnLastHandleClosed: false };
  return { role: 'main', systemType: d.VirtualMachine ? 'VirtualMachine' : 'Container', document };
}

/** HCS ProcessParameters (hcsshim schema2/process_parameters.go): no console, no stdio pipes. */
function renderProcess(p: ProcessSpec): DesiredProcess {
  const parameters = compact({
    CommandLine: p.commandLine,
    WorkingDirectory: p.workingDirectory,
    Environment: p.environment,
    EmulateConsole: false,
    CreateStdInPipe: false,
    CreateStdOutPipe: false,
    CreateStdErrPipe: false,
  });
  return { parameters, commandLine: p.commandLine };
}

/** The layers to render; an `image` manifest gets them from the image store (src/images) first. */
function layersOf(c: ContainerSpec): NonNullable<ContainerSpec['layers']> {
  if (!c.layers) throw new Error(`spec.container.image ${c.image ?? ''} is not resolved to layers yet (the image store fills them in)`);
  return c.layers;
}

/** Drop undefined members, so optional fields are absent rather than null in the document. */
function compact(o: Doc): Doc {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function trimSlash(path: string): string {
  return path.endsWith('\\') ? path.slice(0, -1) : path;
}
