/**
 * TypeScript view of a validated manifest. It mirrors schema.ts (the source of truth);
 * test/manifest/types.test.ts proves that every object here has exactly the schema's keys.
 * Fields with a schema `default` are required here because ajv's `useDefaults` fills them in.
 */

export type Isolation = 'process' | 'hyperv';

export interface ProcessSpec {
  commandLine: string;
  workingDirectory?: string;
  environment?: Record<string, string>;
  logs?: LogsSpec;
}

/** A process as rendered: plus the image config's `User` (src/manifest/image.ts), which the schema has no field for. */
export interface ImageProcessSpec extends ProcessSpec {
  user?: string;
}

/** Rotation override of an entrypoint's captured output (issue 16). */
export interface LogsSpec {
  maxSize?: string;
  maxFiles?: number;
}

export interface LayerSpec {
  id: string;
  path: string;
}

/** A layer as a manifest gives it: the id is optional and resolved by the loader (layer-ids.ts, audit D14). */
export interface ManifestLayerSpec {
  id?: string;
  path: string;
}

export interface MappedDirectorySpec {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
}

export interface UtilityVmSpec {
  imagePath?: string;
  scratchPath?: string;
}

/** When the controller pulls `image` (absent = IfNotPresent). */
export type ImagePullPolicy = 'IfNotPresent' | 'Always' | 'Never';

export interface ContainerSpec {
  /** Image reference; exactly one of `image` and `layers` (the image store fills `layers` in before rendering). */
  image?: string;
  imagePullPolicy?: ImagePullPolicy;
  isolation: Isolation;
  layers?: ManifestLayerSpec[];
  /** Absent: the controller creates the scratch (scratchSizeGB). */
  scratch?: string;
  scratchSizeGB?: number;
  /** `host:container[/tcp|udp]`: published on an endpoint the controller creates. */
  ports?: string[];
  /** An existing HNS network by name (default with ports: the controller's own NAT network). */
  network?: string;
  hostName?: string;
  memoryMB?: number;
  cpuCount?: number;
  mappedDirectories?: MappedDirectorySpec[];
  networkNamespace?: string;
  process?: ProcessSpec;
  utilityVm?: UtilityVmSpec;
}

export interface DiskSpec {
  path: string;
  readOnly: boolean;
}

export interface NetworkAdapterSpec {
  endpointId: string;
  macAddress?: string;
}

/** Hyper-V's secure boot templates a manifest may choose (Set-VMFirmware -SecureBootTemplate names). */
export type SecureBootTemplate = 'MicrosoftWindows' | 'MicrosoftUEFICertificateAuthority';

export interface VirtualMachineSpec {
  memoryMB: number;
  cpuCount: number;
  secureBoot: boolean;
  /** Absent: MicrosoftWindows (audit D15). */
  secureBootTemplate?: SecureBootTemplate;
  bootDisk: { path: string };
  disks?: DiskSpec[];
  networkAdapters?: NetworkAdapterSpec[];
}

/** A raw HCS ComputeSystem document (only the top level is checked). */
export interface DocumentSpec {
  SchemaVersion?: { Major: number; Minor: number };
  Container?: Record<string, unknown>;
  VirtualMachine?: Record<string, unknown>;
  HostingSystemId?: string;
  HostedSystem?: Record<string, unknown>;
  /** Rejected by the schema: the reconciler sets Owner. */
  Owner?: never;
  ShouldTerminateOnLastHandleClosed?: false;
}

export interface PlacementSpec {
  hosts?: string[];
  hostLabels?: Record<string, string>;
}

export interface BackoffSpec {
  initial: string;
  max: string;
  resetAfter: string;
}

export interface ManifestSpec {
  state: 'Running' | 'Stopped' | 'Paused';
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  stopTimeout: string;
  dependsOn?: string[];
  suspend: boolean;
  updateStrategy: 'StopBeforeCreate' | 'CreateBeforeStop';
  backoff?: BackoffSpec;
  placement?: PlacementSpec;
  container?: ContainerSpec;
  virtualMachine?: VirtualMachineSpec;
  document?: DocumentSpec;
}

export interface ManifestMetadata {
  name: string;
  labels?: Record<string, string>;
}

/** A manifest that passed schema validation (defaults applied). */
export interface Manifest {
  apiVersion: 'hcs-reconciler/v1alpha1';
  kind: 'ComputeSystem';
  metadata: ManifestMetadata;
  spec: ManifestSpec;
}

/** Limits a host administrator puts on the manifests this host accepts (see policy.ts). */
export interface ManifestPolicy {
  /** Host folders every host path of a manifest must be under (prefixes, case-insensitive, whole segments). */
  allowedHostPaths?: string[];
  /** Isolation modes allowed for containers. */
  allowedIsolation?: Isolation[];
  /** Whether virtualMachine manifests are allowed (default true). */
  allowVirtualMachine?: boolean;
  /** Largest memoryMB of a container, VM or utility VM. */
  maxMemoryMB?: number;
  /** Largest cpuCount. */
  maxCpuCount?: number;
  /** Whether `document:` passthrough is allowed (under a policy: only when true). */
  allowDocument?: boolean;
}
