/**
 * The host role (HELLO role 5): the connection libcomputenetwork.so and libvmcompute.so's scratch
 * exports use (PROTOCOL.md, "Host role"). One HOST_REQUEST per connection is typical (the C calls are
 * synchronous), but any number may be sent; each gets one HOST_RESPONSE.
 */
import { BodyReader, FrameType, ProtocolError, Role, type RawFrame } from '../protocol.ts';
import { Connection, type ServiceCore } from './connection.ts';
import { HcnState, type HcnResult } from './hcn.ts';
import type { SystemStore } from './state.ts';
import { VolumeTable } from './volumes.ts';

/** Frame types and the role of the host protocol. */
export const HOST_ROLE = Role.Host;
export const HOST_REQUEST = FrameType.HostRequest;
export const HOST_RESPONSE = FrameType.HostResponse;

const VOLUME_APIS = new Set(['ActivateLayer', 'DeactivateLayer', 'PrepareLayer', 'UnprepareLayer', 'GetLayerMountPath']);
/** Layer calls done in the caller (native/scratch.c lyr_notify): the service only logs them. */
const NOTICES = new Set(['CreateSandboxLayer', 'ExpandSandboxSize', 'DestroyLayer']);

/** The host state of one service: HNS objects and mounted scratch volumes. */
export class HostServices {
  readonly hcn: HcnState;
  readonly volumes = new VolumeTable();

  constructor(store: () => SystemStore) {
    this.hcn = new HcnState((ns, ep) => runningSystemIn(store(), ns, ep));
  }

  /** A Windows reboot: mounted volumes, endpoints, namespaces and NAT networks vanish. */
  async reboot(): Promise<void> {
    this.volumes.clear();
    await this.hcn.reboot();
  }

  async clear(): Promise<void> {
    this.volumes.clear();
    await this.hcn.clear();
  }
}

/**
 * The running system whose document names this namespace (Container.Networking.Namespace), or, for
 * a schema 1.0 document, this endpoint in its EndpointList ([MOBY] local_windows.go createWindows).
 */
function runningSystemIn(store: SystemStore, namespaceId: string | undefined, endpointId: string): string | undefined {
  for (const sys of store.systems.values()) {
    if (sys.state !== 'Running') continue;
    const doc = sys.document as { Container?: { Networking?: { Namespace?: unknown } }; EndpointList?: unknown };
    const ns = doc.Container?.Networking?.Namespace;
    if (namespaceId && typeof ns === 'string' && ns.toLowerCase() === namespaceId.toLowerCase()) return sys.id;
    if (Array.isArray(doc.EndpointList) && doc.EndpointList.some((e) => typeof e === 'string' && e.toLowerCase() === endpointId.toLowerCase())) return sys.id;
  }
  return undefined;
}

function encodeHostResponse(seq: number, hresult: number, result: string | null | undefined, errorRecord: string | null | undefined): Buffer {
  const parts: Buffer[] = [];
  const u32 = (v: number) => { const b = Buffer.allocUnsafe(4); b.writeUInt32LE(v >>> 0); parts.push(b); };
  const str = (s: string | null | undefined) => {
    if (s === null || s === undefined) return u32(0xffffffff);
    const b = Buffer.from(s, 'utf8');
    u32(b.length);
    parts.push(b);
  };
  u32(seq); u32(hresult); str(result); str(errorRecord);
  const body = Buffer.concat(parts);
  const head = Buffer.allocUnsafe(8);
  head.writeUInt32LE(body.length + 4, 0);
  head.writeUInt32LE(HOST_RESPONSE, 4);
  return Buffer.concat([head, body]);
}

/** A host-role client. */
export class HostConnection extends Connection {
  constructor(socket: ConstructorParameters<typeof Connection>[0], pid: number, core: ServiceCore, private readonly host: HostServices) {
    super(socket, pid, core);
  }

  override onFrame(frame: RawFrame): void {
    if (frame.type !== HOST_REQUEST) throw new ProtocolError(`host client sent frame type ${frame.type}`);
    const r = new BodyReader(frame.body);
    const seq = r.u32();
    const api = r.str() ?? '';
    const a = r.str(), b = r.str(), c = r.str();
    r.end();
    const arrived = performance.now();
    void this.run(api, a, b, c).then(
      (res) => {
        this.write(encodeHostResponse(seq, res.hresult, res.result, res.errorRecord));
        // Host calls are in the call log too (op = the API, id = its first argument: a folder or an HCN id).
        const durationMs = Math.round((performance.now() - arrived) * 1000) / 1000;
        this.core.callLog.add({ at: Math.round(arrived - this.core.startedAt), clientPid: this.pid, op: api, id: a ?? '', hresult: res.hresult >>> 0, durationMs });
        if (this.core.verbose) this.core.log(`host pid=${this.pid} ${api} ${a ?? ''} -> 0x${(res.hresult >>> 0).toString(16)}`);
      },
      (err: unknown) => {
        this.core.log(`host ${api} threw: ${(err as Error).stack ?? String(err)}`);
        this.write(encodeHostResponse(seq, 0x8000ffff, null, null));
      },
    );
  }

  private async run(api: string, a: string | null, b: string | null, c: string | null): Promise<HcnResult> {
    if (NOTICES.has(api)) return { hresult: 0 };
    if (VOLUME_APIS.has(api)) return this.host.volumes.call(api, a, b);
    return this.host.hcn.call(api, a, b, c);
  }
}
