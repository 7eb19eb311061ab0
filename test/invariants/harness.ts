/**
 * In-process composition like `hcs-reconciler run` (real watcher, real clock, real binding on a
 * private emulator) for the deterministic invariant tests.
 */
import { manifestParser } from '../../src/manifest/index.ts';
import { watchManifests } from '../../src/watch/index.ts';
import { NativeHcsClient } from '../../src/hcs/index.ts';
import { realClock } from '../../src/cli/clock.ts';
import { createController, type Controller } from '../../reconciler/index.ts';
import type { ManifestSnapshot } from '../../reconciler/ports.ts';
import { OWNER, quiet, type Rig } from '../integration/helpers.ts';

export interface Watched {
  controller: Controller;
  hcs: NativeHcsClient;
  snapshots: ManifestSnapshot[];
  dispose(): Promise<void>;
}

/** Controller + folder watcher on `path`, wired as run.ts wires them. */
export async function startWatched(rig: Rig, path: string, opts: { allowEmpty?: boolean; owner?: string } = {}): Promise<Watched> {
  const owner = opts.owner ?? OWNER;
  const hcs = new NativeHcsClient(rig.native);
  const controller = createController({ hcs, owner, clock: realClock, logger: quiet, resyncMs: 0, allowEmpty: opts.allowEmpty });
  const source = await watchManifests({ path, settleMs: 20, resyncMs: 0, logger: quiet, parser: manifestParser({ owner }) });
  const snapshots: ManifestSnapshot[] = [];
  const sub = source.onSnapshot((s) => {
    snapshots.push(s);
    controller.applySnapshot(s);
  });
  controller.applySnapshot(source.current());
  return {
    controller, hcs, snapshots,
    dispose: async () => {
      sub.dispose();
      await source.dispose();
      await controller.dispose();
      await hcs.close();
    },
  };
}

/** Stop calls (ShutDown/Terminate) in the emulator's call log. */
export async function stopCalls(rig: Rig): Promise<string[]> {
  return (await rig.emu.control.callLog()).filter((c) => c.op === 'ShutDown' || c.op === 'Terminate').map((c) => `${c.op} ${c.id}`);
}
