/**
 * The data model of the emulated compute service: compute systems, their processes, and the
 * handles library connections hold on them.
 */

import type { ProcessPipes } from './stdio.ts';

/** Compute system states the emulator uses (subset of [SCHEMA] State, hcs-api.md §5). */
export type SystemState = 'Created' | 'Running' | 'Paused' | 'Stopped';

/** NotificationType values used as ExitType (hcs-api.md §5). */
export type ExitType = 'GracefulExit' | 'ForcedExit' | 'UnexpectedExit';

/** [SCHEMA] SystemType (hcs-api.md §2). */
export type SystemType = 'Container' | 'VirtualMachine';

/** Where events for a handle go: the library connection that owns it. */
export interface EventSink {
  /** Client process id from HELLO. */
  readonly pid: number;
  /** False once the connection is gone; events and responses to it are dropped. */
  readonly open: boolean;
  sendEvent(handle: bigint, eventType: number, eventData: string): void;
}

/** One handle a library connection holds (ids are chosen by the library). */
export interface HandleEntry {
  readonly conn: EventSink;
  readonly id: bigint;
  readonly kind: 'system' | 'process';
  /** Bound when the Create/Open/CreateProcess/OpenProcess that made it succeeds (or at once for others). */
  system?: SystemRecord;
  process?: ProcessRecord;
  closed: boolean;
}

/** A process inside a compute system. */
export interface ProcessRecord {
  pid: number;
  systemId: string;
  commandLine: string;
  imageName: string;
  workingDirectory?: string;
  environment: Record<string, string>;
  /** The ProcessParameters document as given. */
  parameters: Record<string, unknown>;
  createdAt: number;
  exited: boolean;
  exitCode: number;
  /** HCSEMU_EXIT_AFTER_MS / HCSEMU_EXIT_CODE emulator extension (scripted self-exit). */
  exitAfterMs?: number;
  scriptedExitCode?: number;
  timer?: NodeJS.Timeout;
  /** Open process handles, which receive ProcessExited. */
  handles: Set<HandleEntry>;
  /** Stdio pipes, when ProcessParameters asked for them (stdio.ts); not persisted. */
  pipes?: ProcessPipes;
}

/** A compute system. */
export interface SystemRecord {
  id: string;
  owner: string;
  systemType: SystemType;
  runtimeId: string;
  state: SystemState;
  stopped: boolean;
  exitType?: ExitType;
  /** SystemExitStatus.Status of the stop (0 or an HRESULT such as HCS_E_UNEXPECTED_EXIT). */
  exitStatus?: number;
  document: Record<string, unknown>;
  /** Epoch ms. */
  createdAt: number;
  processes: Map<number, ProcessRecord>;
  hostingSystemId?: string;
  terminateOnLastHandleClosed: boolean;
  /** Emulates a VM without a guest service: ShutDown never completes the stop. */
  shutdownIgnored: boolean;
  /** With shutdownIgnored: ShutDown fails with HCS_E_OPERATION_TIMEOUT after this many ms (else it waits). */
  shutdownTimeoutMs?: number;
  /** Created through the control `createForeign` command rather than by a library. */
  foreign: boolean;
  /** A foreign creator's handle is (notionally) open: a terminate-on-close foreign system (audit D24). */
  foreignHolder?: boolean;
  /** Accepted Modify requests, newest last (bounded). */
  modifications: unknown[];
  /** Open system handles from all connections. */
  handles: Set<HandleEntry>;
  /** Completions of ShutDown operations waiting for the stop (shutdownIgnored mode). */
  pendingShutdowns: Array<(hresult: number) => void>;
}

/** What an operation produces: the RESPONSE fields. */
export interface OpResult {
  hresult: number;
  processId?: number;
  result?: string | null;
  /** CreateProcess with pipes: the RESPONSE's stdio trailer. */
  stdio?: { token: bigint; mask: number };
}
