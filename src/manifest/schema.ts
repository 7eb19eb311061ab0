/**
 * The manifest JSON Schema (draft 2020-12): the single source of truth for the manifest format.
 *
 * - ajv validates with it (validate.ts); `types.ts` mirrors it and test/manifest/types.test.ts
 *   proves the two agree key for key.
 * - `schema.json` is a generated copy for editors (`# yaml-language-server: $schema=...`);
 *   a test keeps it in sync. src/manifest/README.md's field table is generated from the
 *   `description`s here (scripts: `node --import tsx src/manifest/docgen.ts`).
 * - `x-message` / `x-at` annotate composite rules (oneOf, if/then) with the one clear message to
 *   show instead of ajv's sub-errors, and the field to point at (messages.ts).
 */

const duration = (description: string, dflt?: string) => ({
  type: 'string',
  format: 'duration',
  description,
  ...(dflt === undefined ? {} : { default: dflt }),
});
const drivePath = (description: string) => ({ type: 'string', format: 'drive-path', maxLength: 260, description });
/** 1..65535 as a regular expression (the schema checks the port range, not only the digits). */
const PORT_NUMBER = '(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})';
const guid = (description: string) => ({ type: 'string', format: 'guid', description });
const memoryMB = (description: string) => ({ type: 'integer', minimum: 64, maximum: 1_048_576, description });
const cpuCount = (description: string) => ({ type: 'integer', minimum: 1, maximum: 1024, description });
const stringMap = (description: string, keyFormat: string, maxValue: number) => ({
  type: 'object',
  description,
  propertyNames: { format: keyFormat, maxLength: 253 },
  additionalProperties: { type: 'string', maxLength: maxValue },
});

const processSpec = {
  type: 'object',
  description: "The container's entrypoint, started with HcsCreateProcess once the system runs.",
  additionalProperties: false,
  required: ['commandLine'],
  properties: {
    commandLine: { type: 'string', minLength: 1, maxLength: 32_767, description: 'Full command line, e.g. `C:\\app\\server.exe --port 80`.' },
    workingDirectory: drivePath('Working directory inside the container.'),
    environment: stringMap('Environment variables of the process.', 'env-name', 32_767),
    logs: {
      type: 'object',
      description: 'Rotation of the captured output of this entrypoint; overrides `run --log-max-size` / `--log-max-file`. Changing it does not re-create the system.',
      additionalProperties: false,
      properties: {
        maxSize: { type: 'string', pattern: '^[1-9][0-9]*[kKmMgG]?$', maxLength: 12, description: 'Rotate the log file at this size: bytes, or with k, m, g (1024-based), e.g. `10m`.' },
        maxFiles: { type: 'integer', minimum: 1, maximum: 100, description: 'Log files kept, the current one included.' },
      },
    },
  },
};

const container = {
  type: 'object',
  description: 'A Windows Server container.',
  additionalProperties: false,
  properties: {
    image: {
      type: 'string',
      minLength: 1,
      maxLength: 1024,
      pattern: '^[^\\s]+$',
      description: 'Image reference, e.g. `mcr.microsoft.com/windows/nanoserver:ltsc2022` or `...@sha256:<digest>`; pulled and imported by the controller. Not with `layers`.',
    },
    imagePullPolicy: {
      enum: ['IfNotPresent', 'Always', 'Never'],
      description: 'When to pull `image`: `IfNotPresent` (the default when absent), `Always` (resolve the tag at every create), `Never` (only the local store).',
    },
    isolation: {
      enum: ['process', 'hyperv'],
      default: 'process',
      description: '`process` shares the host kernel; `hyperv` runs the container in its own utility VM.',
    },
    layers: {
      type: 'array',
      minItems: 1,
      maxItems: 127,
      description: 'Read-only image layers, topmost first and base layer last (hcsshim order). For advanced use; not with `image`.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path'],
        properties: {
          id: guid('Optional. HCS identifies a layer by NameToGuid of its folder name (as hcsshim and Docker do): the controller asks vmcompute!NameToGuid for it and refuses a different id.'),
          path: drivePath('Layer folder on the host.'),
        },
      },
    },
    scratch: {
      type: 'string',
      format: 'scratch-path',
      description: 'Writable scratch: for `process` the mounted volume GUID path `\\\\?\\Volume{GUID}\\` (as hcsshim requires); for `hyperv` the sandbox layer folder with sandbox.vhdx (schema 1.0 LayerFolderPath). For advanced use; when absent the controller creates one per system (see `scratchSizeGB`).',
    },
    scratchSizeGB: {
      type: 'integer',
      minimum: 1,
      maximum: 65536,
      description: 'Size of the scratch the controller creates (ExpandSandboxSize). Default: the template size, 20 GB. Not with `scratch`.',
    },
    ports: {
      type: 'array',
      maxItems: 64,
      uniqueItems: true,
      description: 'Published ports `host:container[/tcp|udp]`, e.g. `8080:80`, `5353:53/udp`, on an endpoint the controller creates. No host IP, no ranges (Windows NAT). Not with `networkNamespace`.',
      items: {
        type: 'string',
        description: '`host:container[/tcp|udp]`, ports 1 to 65535.',
        anyOf: [{ pattern: `^${PORT_NUMBER}:${PORT_NUMBER}(/(tcp|udp))?$` }],
        'x-message': 'must be "host:container[/tcp|udp]" with ports 1 to 65535, e.g. "8080:80" or "5353:53/udp" (Windows NAT has no host IP and no port ranges)',
      },
    },
    network: {
      type: 'string',
      minLength: 1,
      maxLength: 256,
      description: 'Existing HNS network to attach to (used as it is, never modified or deleted). Default with `ports`: the controller\'s own NAT network `hcsr-nat`. Not with `networkNamespace`.',
    },
    hostName: { type: 'string', format: 'hostname', maxLength: 63, description: 'Host name inside the container. Default: metadata.name.' },
    memoryMB: memoryMB('Memory limit in MiB (HCS Memory.SizeInMB).'),
    cpuCount: cpuCount('Processor count (HCS Processor.Count).'),
    mappedDirectories: {
      type: 'array',
      maxItems: 64,
      description: 'Host folders mapped into the container.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['hostPath', 'containerPath'],
        properties: {
          hostPath: drivePath('Absolute host folder `C:\\...` (no UNC, device paths or `..`).'),
          containerPath: drivePath('Folder inside the container.'),
          readOnly: { type: 'boolean', default: false, description: 'Map read-only.' },
        },
      },
    },
    networkNamespace: guid('HNS network namespace id (HCS Networking.Namespace).'),
    process: processSpec,
    utilityVm: {
      type: 'object',
      description: 'Utility VM settings, only with `isolation: hyperv`.',
      additionalProperties: false,
      properties: {
        imagePath: drivePath('Utility VM image folder (HvRuntime.ImagePath). Default: `<uppermost layer with a UtilityVM folder>\\UtilityVM`.'),
        scratchPath: drivePath('Not used: HCS manages the utility VM of a schema 1.0 Hyper-V container itself (an error if set).'),
      },
    },
  },
  oneOf: [{ required: ['layers'] }, { required: ['image'] }],
  'x-message': 'exactly one of image or layers is required',
  allOf: [
    {
      if: { required: ['imagePullPolicy'] },
      then: { required: ['image'] },
      'x-message': 'is only allowed with image',
      'x-at': 'imagePullPolicy',
    },
    {
      if: { required: ['scratch'] },
      then: { not: { required: ['scratchSizeGB'] } },
      'x-message': 'scratch and scratchSizeGB are mutually exclusive: give a scratch volume, or let the controller create one of scratchSizeGB',
      'x-at': 'scratchSizeGB',
    },
    {
      if: { required: ['networkNamespace'] },
      then: { not: { anyOf: [{ required: ['ports'] }, { required: ['network'] }] } },
      'x-message': 'networkNamespace is mutually exclusive with ports and network: give a namespace, or let the controller make the endpoint',
      'x-at': 'networkNamespace',
    },
    {
      if: { required: ['isolation'], properties: { isolation: { const: 'hyperv' } } },
      then: { not: { required: ['networkNamespace'] } },
      'x-message': 'with isolation: hyperv the network is a list of HNS endpoints (schema 1.0 EndpointList, the Docker way), not a namespace: use ports/network and the controller makes the endpoint',
      'x-at': 'networkNamespace',
    },
    {
      if: { required: ['utilityVm'] },
      then: { required: ['isolation'], properties: { isolation: { const: 'hyperv' } } },
      'x-message': 'is only allowed with isolation: hyperv',
      'x-at': 'utilityVm',
    },
  ],
};

const virtualMachine = {
  type: 'object',
  description: 'A UEFI virtual machine booting from a SCSI disk.',
  additionalProperties: false,
  required: ['memoryMB', 'bootDisk'],
  allOf: [
    {
      if: { required: ['secureBootTemplate'] },
      then: { required: ['secureBoot'], properties: { secureBoot: { const: true } } },
      'x-message': 'is only allowed with secureBoot: true',
      'x-at': 'secureBootTemplate',
    },
  ],
  properties: {
    memoryMB: memoryMB('Memory in MiB (ComputeTopology.Memory.SizeInMB).'),
    cpuCount: { ...cpuCount('Virtual processors (ComputeTopology.Processor.Count).'), default: 2 },
    secureBoot: { type: 'boolean', default: false, description: 'Apply a secure boot template (`secureBootTemplate`; build 19041+).' },
    secureBootTemplate: {
      enum: ['MicrosoftWindows', 'MicrosoftUEFICertificateAuthority'],
      description: 'With `secureBoot`: `MicrosoftWindows` (the default) for Windows guests; `MicrosoftUEFICertificateAuthority` for Linux guests whose shim is signed by the Microsoft UEFI CA (Ubuntu, Debian, ...), which the Windows template refuses.',
    },
    bootDisk: {
      type: 'object',
      description: 'The VHD(X) the VM boots from: SCSI controller "Primary disk", LUN 0.',
      additionalProperties: false,
      required: ['path'],
      properties: { path: drivePath('Host path of the boot VHDX.') },
    },
    disks: {
      type: 'array',
      maxItems: 63,
      description: 'More SCSI disks, attached at LUN 1, 2, ...',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path'],
        properties: {
          path: drivePath('Host path of the VHD(X).'),
          readOnly: { type: 'boolean', default: false, description: 'Attach read-only.' },
        },
      },
    },
    networkAdapters: {
      type: 'array',
      maxItems: 8,
      description: 'Network adapters connected to HNS endpoints.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['endpointId'],
        properties: {
          endpointId: guid('HNS endpoint id.'),
          macAddress: { type: 'string', format: 'mac-address', description: "MAC address, e.g. `00-15-5D-01-02-03`. Absent: the HNS endpoint's MAC, read at create (as hcsshim does; a different MAC is likely filtered by the vSwitch port)." },
        },
      },
    },
  },
};

const schemaVersion = {
  type: 'object',
  description: 'HCS schema version; default 2.1.',
  additionalProperties: false,
  required: ['Major', 'Minor'],
  properties: { Major: { const: 2, description: 'Always 2.' }, Minor: { type: 'integer', minimum: 0, maximum: 99, description: 'Minor version.' } },
};

const document = {
  type: 'object',
  description: 'A raw HCS ComputeSystem document, passed through. Owner and ShouldTerminateOnLastHandleClosed are set by the reconciler.',
  additionalProperties: false,
  properties: {
    SchemaVersion: schemaVersion,
    Container: { type: 'object', description: 'HCS Container (passed through).' },
    VirtualMachine: { type: 'object', description: 'HCS VirtualMachine (passed through).' },
    HostingSystemId: { type: 'string', minLength: 1, description: 'Id of an existing system that hosts HostedSystem.' },
    HostedSystem: { type: 'object', description: 'HCS HostedSystem (passed through), with HostingSystemId.' },
    Owner: { not: {}, description: 'Not allowed: set by the reconciler.', 'x-message': 'is set by hcs-reconciler (its owner option); remove it' },
    ShouldTerminateOnLastHandleClosed: {
      const: false,
      description: 'Optional; must be false so workloads survive a controller restart (always rendered false).',
    },
  },
  oneOf: [{ required: ['Container'] }, { required: ['VirtualMachine'] }, { required: ['HostedSystem', 'HostingSystemId'] }],
  'x-message': 'exactly one of Container, VirtualMachine or HostedSystem (with HostingSystemId) is required',
};

const placement = {
  type: 'object',
  description: 'Where this manifest applies. All given conditions must match; absent = every host.',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    hosts: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, maxLength: 253 }, description: 'Host names (any of).' },
    hostLabels: stringMap('Labels the host must all have.', 'label-key', 253),
  },
};

const backoff = {
  type: 'object',
  description: 'Restart backoff. Absent: the reconciler default (10s doubling to 5m, reset after 10m up).',
  additionalProperties: false,
  properties: {
    initial: { ...duration('First restart delay (at least 1s).', '10s'), format: 'backoff-duration' },
    max: { ...duration('Longest restart delay (at least 1s).', '5m'), format: 'backoff-duration' },
    resetAfter: duration('Running this long resets the backoff.', '10m'),
  },
};

const spec = {
  type: 'object',
  description: 'Desired state and workload.',
  additionalProperties: false,
  properties: {
    state: { enum: ['Running', 'Stopped', 'Paused'], default: 'Running', description: '`Paused` only for VMs and Hyper-V isolated containers.' },
    restartPolicy: { enum: ['Always', 'OnFailure', 'Never'], default: 'Always', description: 'Restart after the system or entrypoint exits.' },
    stopTimeout: duration('Graceful shutdown time before terminate.', '30s'),
    dependsOn: {
      type: 'array',
      uniqueItems: true,
      maxItems: 64,
      items: { type: 'string', format: 'hcs-name' },
      description: 'Names of manifests started before this one.',
    },
    suspend: { type: 'boolean', default: false, description: 'While true, the reconciler leaves the system alone.' },
    updateStrategy: {
      enum: ['StopBeforeCreate', 'CreateBeforeStop'],
      default: 'StopBeforeCreate',
      description: 'On a config change: stop the old system first, or create the new one first.',
    },
    backoff,
    placement,
    container,
    virtualMachine,
    document,
  },
  oneOf: [{ required: ['container'] }, { required: ['virtualMachine'] }, { required: ['document'] }],
  'x-message': 'exactly one of container, virtualMachine, document is required',
  allOf: [
    {
      if: { required: ['state'], properties: { state: { const: 'Paused' } } },
      then: {
        anyOf: [
          { required: ['virtualMachine'] },
          { required: ['container'], properties: { container: { type: 'object', required: ['isolation'], properties: { isolation: { const: 'hyperv' } } } } },
          { required: ['document'], properties: { document: { type: 'object', anyOf: [{ required: ['VirtualMachine'] }, { required: ['HostingSystemId'] }] } } },
        ],
      },
      'x-message': 'Paused needs a virtualMachine, a container with isolation: hyperv, or a document with VirtualMachine or HostingSystemId (HCS cannot pause process-isolated containers)',
      'x-at': 'state',
    },
  ],
};

/** The manifest JSON Schema (draft 2020-12). */
export const manifestSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://hcs-reconciler.dev/schemas/v1alpha1/compute-system.json',
  title: 'hcs-reconciler ComputeSystem manifest',
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'hcs-reconciler/v1alpha1', description: 'Always `hcs-reconciler/v1alpha1`.' },
    kind: { const: 'ComputeSystem', description: 'Always `ComputeSystem`.' },
    metadata: {
      type: 'object',
      description: 'Identity of the manifest.',
      additionalProperties: false,
      required: ['name'],
      properties: {
        name: { type: 'string', format: 'hcs-name', description: 'Unique per host; lowercase DNS label (≤ 63); part of the HCS id.' },
        labels: stringMap('Free-form labels; do not affect the HCS document.', 'label-key', 63),
      },
    },
    spec,
  },
} as const;
