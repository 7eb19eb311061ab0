/**
 * The history line an outcome gives, if any: one place for the wording of events, so that
 * `events` and the logs say what happened ("web-1a2b created", "re-created: config hash changed",
 * "exited (GracefulExit)") and never show a plan cause where a result belongs.
 */
import { formatDelay } from './backoff.ts';
import type { HistoryKind } from './history.ts';
import { describeExit } from './reasons.ts';
import { liveSince, type Outcome, type RuntimeInfo } from './runtime.ts';

/** One history entry to record. */
export interface HistoryLine {
  kind: HistoryKind;
  message: string;
  id?: string;
  hresult?: string;
}

/** Describe an outcome given the runtime before and after it (exits of deliberate stops say nothing). */
export function historyLine(o: Outcome, before: RuntimeInfo, after: RuntimeInfo, now: number): HistoryLine | undefined {
  switch (o.type) {
    case 'created':
      return undefined; // described by the `done` of its create node, which knows the reason
    case 'done': {
      const n = o.node;
      const id = n.resource.hcsId;
      if (n.op === 'create') {
        // A provisioned object says what it is: its id looks like a system's (`endpoint web-1a2b… created`).
        const what = n.resource.kind === 'computeSystem' ? id : `${n.resource.kind} ${id}`;
        if (n.reason === 'configChanged' || n.reason === 'provisionLost') return { kind: 'recreated', message: `${what} re-created: ${n.cause}`, id };
        return { kind: 'created', message: n.reason === 'notFound' ? `${what} created` : `${what} created: ${n.cause}`, id };
      }
      if (n.op === 'pause' || n.op === 'resume') return { kind: n.op === 'pause' ? 'paused' : 'resumed', message: `${id}: ${n.cause}`, id };
      return undefined;
    }
    case 'started':
      return { kind: 'started', message: `${o.id} running`, id: o.id };
    case 'stopped': {
      const id = o.node.resource.hcsId;
      return { kind: o.node.reason === 'manifestRemoved' ? 'pruned' : 'stopped', message: `${id} ${o.how}: ${o.node.cause}`, id };
    }
    case 'processStarted':
      if (o.found) return { kind: 'adopted', message: `found entrypoint pid ${o.pid} again`, id: o.id };
      return o.pid !== undefined ? { kind: 'process-started', message: `pid ${o.pid}: ${o.commandLine ?? ''}`, id: o.id } : undefined;
    case 'processMissing':
      return { kind: 'process-exited', message: 'entrypoint not running (exited while the controller was away)', id: o.id };
    case 'adopted':
      return o.running && liveSince(before, o.id) === undefined ? { kind: 'adopted', message: `${o.id} already running`, id: o.id } : undefined;
    case 'exited': {
      if (before.stopping?.includes(o.id)) {
        // Usually our own stop. But HCS delivers completions and events on its thread pool, so a
        // crash's ProcessExited can be handled, and the container stopped for it, before its
        // SystemExited arrives: an UnexpectedExit is still the crash, not the stop (counted once,
        // by the process's exit; runtime.ts).
        if (o.exit.exitCode !== undefined || o.exit.exitType !== 'UnexpectedExit') return undefined;
        return { kind: 'exited', message: `${o.id} ${describeExit(o.exit)} (ExitType UnexpectedExit) while being stopped`, id: o.id };
      }
      if (o.exit.exitCode !== undefined) return { kind: 'process-exited', message: `entrypoint pid ${o.pid ?? '?'} exited with code ${o.exit.exitCode}`, id: o.id };
      return { kind: 'exited', message: `${o.id} ${describeExit(o.exit)} (ExitType ${o.exit.exitType ?? 'Unknown'})`, id: o.id };
    }
    case 'imagePulled':
      return o.changed ? { kind: 'pulled', message: `pulled image ${o.reference} (${o.digest})` } : undefined;
    case 'failed': {
      if (o.failure === 'superseded') return undefined;
      const extra = { id: o.node.resource.hcsId, ...(o.hresult ? { hresult: o.hresult } : {}) };
      if (o.failure === 'permanent') return { kind: 'error', message: `${o.node.op} failed permanently: ${o.message}`, ...extra };
      if (o.failure === 'gone') return { kind: 'error', message: `${o.node.op} found the system gone: ${o.message}`, ...extra };
      return { kind: 'backoff', message: `${o.node.op} failed: ${o.message}; retry in ${formatDelay(Math.max(0, (after.nextRetryAt ?? now) - now))}`, ...extra };
    }
    case 'nodeStarted':
      return undefined;
  }
}
