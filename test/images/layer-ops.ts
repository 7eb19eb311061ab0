/** The emulator's layer binding for the image tests, and a recorder of the calls a writer makes. */
import { emulatorLibraryPath, ensureEmulatorLibrary } from '../../src/emulator/native/build.mjs';
import { LayerNative } from '../../src/hcs/layers.ts';

let ops: LayerNative | undefined;

/** LayerNative on libvmcompute.so (built on first use), with SeBackup/SeRestore enabled; one per process. */
export function emulatedLayerOps(): LayerNative {
  if (!ops) {
    ensureEmulatorLibrary();
    ops = new LayerNative({ libraryPath: emulatorLibraryPath('libvmcompute.so') });
    ops.enableBackupPrivileges();
  }
  return ops;
}

const RECORDED = ['processBaseImage', 'processUtilityImage', 'importLayer'];

/**
 * The emulated binding, recording `<call> <label(first argument)>` into `calls` for
 * ProcessBaseImage, ProcessUtilityImage and ImportLayer, and passing every call on.
 */
export function recordingLayerOps(calls: string[], label: (path: string) => string = (p) => p): LayerNative {
  const real = emulatedLayerOps();
  return new Proxy(real, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      if (!RECORDED.includes(String(prop))) return v.bind(target);
      return (...args: unknown[]) => {
        calls.push(`${String(prop)} ${label(String(args[0]))}`);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
