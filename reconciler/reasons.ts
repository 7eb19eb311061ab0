/**
 * Why a plan node exists: a machine-readable `reason` with its typed details, and the one place
 * that renders it as the human `cause`. The core branches on `why.reason`, never on cause text.
 */
import { formatDelay } from './backoff.ts';
import type { ExitType } from './ports.ts';

/** How a run ended, as far as the controller saw it. */
export interface ExitInfo {
  exitType?: ExitType;
  /** Exit code of the entrypoint, when the end was a process exit. */
  exitCode?: number;
}

/** Every reason a node can have, with the details its cause needs. */
export type Why =
  | { reason: 'notFound' }
  | { reason: 'exited'; restarts: number; exit?: ExitInfo }
  | { reason: 'configChanged'; from: string; to: string }
  | { reason: 'replaced'; by: string }
  | { reason: 'manifestRemoved' }
  | { reason: 'desiredStopped' }
  | { reason: 'desiredRunning' }
  | { reason: 'desiredPaused' }
  | { reason: 'created' }
  | { reason: 'notStarted' }
  | { reason: 'entrypoint'; commandLine: string }
  | { reason: 'entrypointUntracked' }
  | { reason: 'entrypointExited'; exitCode: number }
  | { reason: 'backoff'; retryInMs: number; after: { kind: 'exit'; restarts: number; exit?: ExitInfo } | { kind: 'failure'; op: string; message: string } }
  | { reason: 'dependency'; waitingFor: string[] }
  | { reason: 'suspended'; scope: 'controller' | 'manifest' }
  | { reason: 'failed'; message: string }
  | { reason: 'completed'; message: string }
  | { reason: 'neededBy'; systemId: string }
  | { reason: 'systemGone'; systemId?: string }
  | { reason: 'provisionLost'; kind: string; id: string }
  | { reason: 'imageNotStored'; reference: string; policy: string }
  | { reason: 'imageNotRendered'; reference: string }
  | { reason: 'alwaysPull'; reference: string }
  | { reason: 'waitingForImage'; reference: string; pulledFor: string };

/** The machine-readable reason of a node (`notFound`, `configChanged`, `backoff`, ...). */
export type Reason = Why['reason'];

/** How an exit reads: "exited unexpectedly" only when it was one. */
export function describeExit(exit: ExitInfo | undefined): string {
  if (exit?.exitCode !== undefined) return `entrypoint exited with code ${exit.exitCode}`;
  if (exit?.exitType === 'GracefulExit' || exit?.exitType === 'ForcedExit') return `exited (${exit.exitType})`;
  return 'exited unexpectedly';
}

/** Render the human cause of a node. The only producer of cause text. */
export function causeOf(why: Why): string {
  switch (why.reason) {
    case 'notFound': return 'not found';
    case 'exited': return `${describeExit(why.exit)} (restart ${why.restarts})`;
    case 'configChanged': return `config hash changed ${why.from}→${why.to}`;
    case 'replaced': return `replaced by ${why.by} (CreateBeforeStop)`;
    case 'manifestRemoved': return 'manifest removed';
    case 'desiredStopped': return 'desired state Stopped';
    case 'desiredRunning': return 'desired state Running';
    case 'desiredPaused': return 'desired state Paused';
    case 'created': return 'created';
    case 'notStarted': return 'created but not started';
    case 'entrypoint': return `entrypoint ${why.commandLine}`;
    case 'entrypointUntracked': return 'entrypoint not yet tracked';
    case 'entrypointExited': return `entrypoint exited with code ${why.exitCode}`;
    case 'backoff':
      return why.after.kind === 'exit'
        ? `${describeExit(why.after.exit)} (restart ${why.after.restarts}, backoff ${formatDelay(why.retryInMs)})`
        : `${why.after.op} failed: ${why.after.message}; retry in ${formatDelay(why.retryInMs)}`;
    case 'dependency': return `waiting for dependency ${why.waitingFor.join(', ')}`;
    case 'suspended': return why.scope === 'controller' ? 'controller suspended' : 'spec.suspend is true';
    case 'failed': return `failed: ${why.message}`;
    case 'completed': return why.message;
    case 'neededBy': return `needed by ${why.systemId}`;
    case 'systemGone': return why.systemId ? `its system ${why.systemId} is stopped or gone` : 'no system of ours uses it';
    case 'provisionLost': return `its ${why.kind} ${why.id} is gone`;
    case 'imageNotStored': return `image ${why.reference} is not in the local image store (imagePullPolicy ${why.policy})`;
    case 'imageNotRendered': return `image ${why.reference} is stored; the manifest is rendered from it next`;
    case 'alwaysPull': return `imagePullPolicy Always: resolve ${why.reference} again`;
    case 'waitingForImage': return `waiting for image ${why.reference} (pulled for ${why.pulledFor})`;
  }
}
