/**
 * Ports: the interfaces the reconciler core owns and the adapters in `src/` implement.
 *
 * The core never imports from `src/`; adapters import only types from here. Keeping every
 * boundary type in this one file makes the dependency direction easy to check (see
 * test/architecture.test.ts).
 */

/** Something started that must be stopped exactly once. Shutdown disposes in reverse order. */
export interface Disposable {
  dispose(): void | Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Desired state: what the manifests ask for (produced by src/manifest)
// ---------------------------------------------------------------------------------------------

/** Where a manifest (or an error) came from: file path and 1-based line/column. */
export interface SourceLocation {
  file: string;
  line: number;
  col: number;
}

/** A manifest problem with its exact location and field path (e.g. `spec.container.memoryMB`). */
export interface ManifestError {
  file: string;
  line: number;
  col: number;
  /** Dotted field path inside the document, '' for the document itself. */
  path: string;
  /** What is wrong and what is allowed, e.g. `must be >= 64 (got 0)`. */
  message: string;
  /** Manifest name if it could be read (lets the core keep last-known-good for that name). */
  name?: string;
}

export type DesiredState = 'Running' | 'Stopped' | 'Paused';
export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';
export type UpdateStrategy = 'StopBeforeCreate' | 'CreateBeforeStop';
export type SystemType = 'Container' | 'VirtualMachine';

/** Restart backoff curve (kubelet's by default: 0 s first, then 10 s doubling to 300 s, reset after 600 s up). */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  resetAfterMs: number;
}

/**
 * One HCS compute system that a manifest renders to. A process-isolated container or a VM is one
 * part; a Hyper-V isolated container is two: its utility VM (role `utilityVm`) and the container
 * hosted in it (role `main`). Parts are listed in creation order.
 */
export interface RenderedPart {
  /** HCS id, deterministic from name + config hash (see src/manifest/identity.ts). */
  id: string;
  role: 'main' | 'utilityVm';
  systemType: SystemType;
  /** The HCS schema 2.x ComputeSystem document passed to HcsCreateComputeSystem (schema 1.0 for Hyper-V containers). */
  document: Record<string, unknown>;
  /** Options for HcsShutDownComputeSystem (VMs with the shutdown integration service, audit D7). */
  shutdownOptions?: Record<string, unknown>;
  /**
   * What the controller provisions for this part before it is created (scratch, endpoint +
   * namespace); their volume path and namespace id are filled into the document at create.
   */
  provision?: ProvisionRequest;
  /**
   * The ids of the provisioned objects this part uses (`<name>-<hash12>`), each from that object's
   * own inputs (scratch: layers + size; endpoint and namespace: network + ports), so a change that
   * leaves an object's inputs alone keeps the object (a ports-only change keeps the scratch).
   * Absent: the part's own id.
   */
  provisionIds?: { scratch?: string; network?: string };
}

/** One published port (`host:container[/tcp|udp]`). */
export interface PublishedPort {
  protocol: 'tcp' | 'udp';
  containerPort: number;
  hostPort: number;
}

/** Scratch and network a part needs (issue 15: `scratchSizeGB`, `ports`, `network`). */
export interface ProvisionRequest {
  scratch?: { sizeGB?: number };
  network?: { ports: PublishedPort[]; network?: string };
  /**
   * `hyperv`: a schema 1.0 Hyper-V container, provisioned the Docker way: the scratch is the sandbox
   * folder in LayerFolderPath, not mounted on the host, and the endpoint goes into EndpointList (no
   * namespace). Absent: process isolation (a mounted scratch volume and a namespace).
   */
  isolation?: 'hyperv';
}

/** Kinds of provisioned object, one per system. */
export type ProvisionKind = 'scratch' | 'endpoint' | 'namespace';

/**
 * A provisioned object of ours, by its id (RenderedPart.provisionIds; the system id when a part has
 * none); `ready`: usable as it is (mounted, attached).
 */
export interface ObservedProvisioned {
  id: string;
  ready: boolean;
}

/** The adapter port for provisioned objects (src/network, src/scratch). Never touches objects it did not make. */
export interface ProvisionPort {
  observe(kind: ProvisionKind, signal?: AbortSignal): Promise<ObservedProvisioned[]>;
  /** Creates the object (cleaning a leftover of ours first). A host port in use rejects with a permanent HcsFailure. */
  create(kind: ProvisionKind, id: string, part: RenderedPart, signal?: AbortSignal): Promise<void>;
  /** Removes the object with that id; absent is fine. */
  remove(kind: ProvisionKind, id: string, signal?: AbortSignal): Promise<void>;
  /** The part's document with Container.Storage.Path / Networking.Namespace of its provisioned objects. */
  document(systemId: string, part: RenderedPart): Promise<Record<string, unknown>>;
}

/** `spec.container.imagePullPolicy`: `IfNotPresent` (default), `Always`, `Never`. */
export type ImagePullPolicy = 'IfNotPresent' | 'Always' | 'Never';

/** What the image store knows about one reference a desired system needs (src/images). */
export interface ObservedImage {
  reference: string;
  /** Stored (pulled and imported). */
  present: boolean;
  /** The stored manifest digest. */
  digest?: string;
  /** The stored image's os.version. */
  osVersion?: string;
  /** A pull of it is in flight: bytes done and total so far. */
  pulling?: ImagePullProgress;
}

/** Bytes done and total of a pull in flight (the total grows as layer sizes become known). */
export interface ImagePullProgress {
  doneBytes: number;
  totalBytes: number;
}

/**
 * The adapter port for images (src/images). `pull` makes the reference present per its policy
 * (one pull per reference however many callers) and resolves with the stored digest once the
 * manifests are rendered from it again; it rejects with `permanent: true` for a platform mismatch,
 * a digest mismatch, a bad reference or a missing image under `Never`, and otherwise with the
 * registry's own error text (the core retries with its one backoff rule).
 */
export interface ImagePort {
  observe(references: readonly string[], signal?: AbortSignal): Promise<ObservedImage[]>;
  pull(reference: string, policy: ImagePullPolicy, signal?: AbortSignal): Promise<{ digest: string; changed: boolean }>;
  /** The pull in flight for a reference (synchronous, for status). */
  progress(reference: string): ImagePullProgress | undefined;
}

/** The entrypoint of a container, started with HcsCreateProcess once the system runs. */
export interface DesiredProcess {
  /** HCS ProcessParameters document (CommandLine, WorkingDirectory, Environment, ...). */
  parameters: Record<string, unknown>;
  commandLine: string;
  /** Rotation override of its captured output (`spec.container.process.logs`); not in the config hash. */
  logs?: { maxSize?: string; maxFiles?: number };
}

/** A validated manifest, rendered and ready to be reconciled. */
export interface DesiredSystem {
  name: string;
  /** SHA-256 (hex) of the canonical rendered documents; only fields that change HCS documents count. */
  configHash: string;
  parts: RenderedPart[];
  state: DesiredState;
  restartPolicy: RestartPolicy;
  backoff?: BackoffPolicy;
  stopTimeoutMs: number;
  dependsOn: string[];
  suspend: boolean;
  updateStrategy: UpdateStrategy;
  process?: DesiredProcess;
  /**
   * For `spec.container.image` manifests: the reference as written and the stored digest it
   * rendered from. No digest: the image is not in the store, and `parts` are a placeholder
   * rendering (no layers, hash over the reference) that is never created: the plan pulls first.
   */
  image?: { reference: string; digest?: string; pullPolicy: ImagePullPolicy };
  labels: Record<string, string>;
  source: SourceLocation;
}

/** A manifest file that was skipped because its `spec.placement` does not match this host. */
export interface IgnoredManifest {
  name: string;
  source: SourceLocation;
  reason: string;
}

/**
 * A full snapshot of the manifests folder. Sources always emit whole snapshots; the reconciler
 * diffs. `folderOk` is false when the folder is missing, unreadable or not a directory: the core
 * must then keep the previous desired state and never prune.
 */
export interface ManifestSnapshot {
  manifests: DesiredSystem[];
  errors: ManifestError[];
  ignored: IgnoredManifest[];
  /** Every file that was read, valid or not (lets the core tell "file removed" from "file invalid"). */
  files: string[];
  folderOk: boolean;
  /** Human-readable reason when folderOk is false. */
  folderError?: string;
}

// ---------------------------------------------------------------------------------------------
// Observed state and the HCS port (implemented by src/hcs, and by test fakes)
// ---------------------------------------------------------------------------------------------

/** HCS `State` values (schema 2.1), plus '' which HCS may report for a never-started system. */
export type HcsState = 'Created' | 'Running' | 'Paused' | 'Stopped' | 'SavedAsTemplate' | 'Unknown' | '';
export type ExitType = 'None' | 'GracefulExit' | 'ForcedExit' | 'UnexpectedExit' | 'Unknown';

/** One entry of the HcsEnumerateComputeSystems result (a `Properties` object). */
export interface ObservedSystem {
  id: string;
  systemType: string;
  owner: string;
  name?: string;
  state: HcsState;
  stopped?: boolean;
  exitType?: ExitType;
  runtimeOsType?: string;
  runtimeId?: string;
}

/** `SystemQuery` for HcsEnumerateComputeSystems. */
export interface EnumerateQuery {
  ids?: string[];
  names?: string[];
  types?: SystemType[];
  owners?: string[];
}

/** Events delivered by HCS for a system handle (HcsSetComputeSystemCallback). */
export type SystemEvent =
  | { type: 'SystemExited'; systemId: string; status: number; exitType: ExitType }
  | { type: 'ServiceDisconnect'; systemId: string };

/** Events delivered for a process handle (HcsSetProcessCallback). */
export type ProcessEvent = {
  type: 'ProcessExited';
  systemId: string;
  processId: number;
  exitCode: number;
};

/** Options accepted by every HCS call: cancellation and a timeout in ms. */
export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Shutdown also takes the HCS `ShutdownOptions` document (NULL when absent). */
export interface ShutdownCallOptions extends CallOptions {
  options?: Record<string, unknown>;
}

/** Entry in the `ProcessList` property of a compute system. */
export interface ObservedProcess {
  processId: number;
  imageName?: string;
  /** Not reported by HCS (ProcessDetails has no CommandLine, audit D5); kept for other sources. */
  commandLine?: string;
  /** ProcessDetails.CreateTimestamp (ISO 8601). */
  createTimestamp?: string;
}

/** Properties returned by HcsGetComputeSystemProperties (subset the core reads; raw kept). */
export interface SystemProperties {
  id: string;
  systemType?: string;
  owner?: string;
  state?: HcsState;
  stopped?: boolean;
  exitType?: ExitType;
  processList?: ObservedProcess[];
  raw: Record<string, unknown>;
}

/** An open HCS_PROCESS handle. */
export interface HcsProcess {
  readonly systemId: string;
  readonly processId: number;
  /** Current status (ProcessStatus: Exited, ExitCode). */
  properties(opts?: CallOptions): Promise<{ exited: boolean; exitCode?: number; raw: Record<string, unknown> }>;
  terminate(opts?: CallOptions): Promise<void>;
  /** Subscribe to ProcessExited. */
  onExit(listener: (event: ProcessEvent) => void): Disposable;
  /** Release the handle (and its callback registration) exactly once. */
  close(): Promise<void>;
}

/** An open HCS_SYSTEM handle. Shutdown/terminate of an already stopped or vanished system succeed. */
export interface HcsSystem {
  readonly id: string;
  /**
   * Resolves when the system may be started: the state query that follows a create (it closes the
   * race between the create and the event registration) has answered; at once for an opened
   * system. Rejects as that start would. `start` awaits it too; a caller that holds an HCS slot for
   * the start awaits this first, so the slot does not sit idle through the query.
   */
  ready(): Promise<void>;
  start(opts?: CallOptions): Promise<void>;
  shutdown(opts?: ShutdownCallOptions): Promise<void>;
  terminate(opts?: CallOptions): Promise<void>;
  pause(opts?: CallOptions): Promise<void>;
  resume(opts?: CallOptions): Promise<void>;
  properties(query?: { propertyTypes?: string[] }, opts?: CallOptions): Promise<SystemProperties>;
  modify(request: Record<string, unknown>, opts?: CallOptions): Promise<void>;
  createProcess(parameters: Record<string, unknown>, opts?: CallOptions): Promise<HcsProcess>;
  openProcess(processId: number, opts?: CallOptions): Promise<HcsProcess>;
  /** Subscribe to SystemExited / ServiceDisconnect for this system. */
  onEvent(listener: (event: SystemEvent) => void): Disposable;
  /** Release the handle (and its callback registration) exactly once. Never stops the system. */
  close(): Promise<void>;
}

/** The Host Compute Service, as the core needs it. */
export interface HcsClient {
  enumerate(query?: EnumerateQuery, opts?: CallOptions): Promise<ObservedSystem[]>;
  create(id: string, document: Record<string, unknown>, opts?: CallOptions): Promise<HcsSystem>;
  open(id: string, opts?: CallOptions): Promise<HcsSystem>;
  /** Close every handle still open and release the library. */
  close(): Promise<void>;
}

/**
 * How the core classifies an HCS failure. Adapters set `kind` on the errors they throw
 * (src/hcs maps HRESULTs with its predicates); the core never compares HRESULT codes itself.
 */
export type HcsFailureKind =
  | 'notFound'
  | 'alreadyExists'
  | 'alreadyStopped'
  | 'invalidState'
  | 'accessDenied'
  | 'timeout'
  | 'disconnected'
  | 'invalidConfig'
  | 'notSupported'
  | 'transient'
  | 'unknown';

/** The shape of errors thrown by HcsClient implementations. */
export interface HcsFailure extends Error {
  op: string;
  systemId?: string;
  hresult: number;
  kind: HcsFailureKind;
  /** True when retrying cannot help (bad document, feature not installed, access denied). */
  permanent: boolean;
}

// ---------------------------------------------------------------------------------------------
// Small services
// ---------------------------------------------------------------------------------------------

/** Structured logger: a constant message plus fields (`op`, `system`, `hresult`, `file`). */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Time source and timers; tests inject xstate's SimulatedClock (which has the same shape). */
export interface Clock {
  now(): number;
  setTimeout(fn: (...args: unknown[]) => void, timeoutMs: number): unknown;
  clearTimeout(id: unknown): void;
}

// ---------------------------------------------------------------------------------------------
// Per-kind resource ports: how the core drives one kind of host resource
// ---------------------------------------------------------------------------------------------

export type { ResourceKind, ResourceRef } from './graph.ts';
import type { ActionNode, ResourceKind, ResourceRef } from './graph.ts';
import type { Outcome } from './runtime.ts';

/**
 * One kind of host resource (compute system, process; later image, scratch, network, endpoint):
 * observe what exists, ensure a node's wanted state, remove. Implemented in reconciler/executor.ts
 * on top of the adapter port of that kind (HcsClient for compute systems and processes).
 */
export interface ResourcePort<N extends ActionNode, Observed> {
  readonly kind: N['resource']['kind'];
  observe(ref: ResourceRef, signal?: AbortSignal): Promise<Observed>;
  /** Perform a node that creates or changes the resource; resolves with what happened. */
  ensure(node: N, signal?: AbortSignal): Promise<Outcome[]>;
  /** Perform a node that removes (stops) the resource. */
  remove(node: N, signal?: AbortSignal): Promise<Outcome[]>;
}

/** What `observe` returns, per kind. */
export interface ObservedByKind {
  computeSystem: ObservedSystem[];
  process: ObservedProcess[];
  scratch: ObservedProvisioned[];
  endpoint: ObservedProvisioned[];
  namespace: ObservedProvisioned[];
  image: ObservedImage[];
}

/** The port of every kind, keyed by kind: a kind without a port does not compile. */
export type ResourcePorts = {
  [K in ResourceKind]: ResourcePort<Extract<ActionNode, { resource: { kind: K } }>, ObservedByKind[K]>;
};
