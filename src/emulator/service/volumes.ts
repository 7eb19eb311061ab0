/**
 * Activated scratch layers: vmcompute's ActivateLayer attaches <scratch>\sandbox.vhdx and gives it a
 * volume (\\?\Volume{GUID}); PrepareLayer puts the WCIFS filter over the parent layers
 * (provisioning.md 1.3). That is machine state, not files: it outlives the controller process and is
 * gone after a reboot ("these layer closers live in the shim process so they can't cleanup the layer in
 * case of a shim crash", [SHIM] wcow_mount.go). Error choices are marked CHOICE (UNVERIFIED on Windows).
 */
import { randomUUID } from 'node:crypto';

const win32 = (code: number) => (0x80070000 | code) >>> 0;
/** The Win32 errors these calls return, as HRESULTs. */
export const VOLUME_HR = {
  ERROR_ALREADY_EXISTS: win32(183),
  ERROR_NOT_FOUND: win32(1168),
  ERROR_BUSY: win32(170),
  E_INVALIDARG: 0x80070057,
} as const;

interface Volume { guid: string; parents?: string[] }

/** The volumes of one emulated host, keyed by scratch folder. */
export class VolumeTable {
  private readonly byPath = new Map<string, Volume>();

  /** Runs one call; answers `{hresult, result}` like an HCN call. */
  call(api: string, path: string | null, extra: string | null): { hresult: number; result?: string | null } {
    if (!path) return { hresult: VOLUME_HR.E_INVALIDARG };
    const vol = this.byPath.get(path);
    switch (api) {
      case 'ActivateLayer':
        // CHOICE: a second activation is refused (Docker and hcsshim never activate twice; they refcount).
        if (vol) return { hresult: VOLUME_HR.ERROR_ALREADY_EXISTS };
        this.byPath.set(path, { guid: randomUUID() });
        return { hresult: 0 };
      case 'PrepareLayer':
        if (!vol) return { hresult: VOLUME_HR.ERROR_NOT_FOUND };
        if (vol.parents) return { hresult: VOLUME_HR.ERROR_ALREADY_EXISTS };
        vol.parents = (extra ?? '').split('\n').filter((l) => l !== '');
        return { hresult: 0 };
      case 'UnprepareLayer':
        if (!vol?.parents) return { hresult: VOLUME_HR.ERROR_NOT_FOUND };
        vol.parents = undefined;
        return { hresult: 0 };
      case 'DeactivateLayer':
        if (!vol) return { hresult: VOLUME_HR.ERROR_NOT_FOUND };
        // CHOICE: the filter must be removed first (Unprepare then Deactivate, [SHIM] and [MOBY] Put).
        if (vol.parents) return { hresult: VOLUME_HR.ERROR_BUSY };
        this.byPath.delete(path);
        return { hresult: 0 };
      case 'GetLayerMountPath':
        return { hresult: 0, result: vol ? `\\\\?\\Volume{${vol.guid}}` : '' };
      default:
        return { hresult: VOLUME_HR.E_INVALIDARG };
    }
  }

  /** Is the scratch in this folder activated (attached on the host)? */
  isActivated(folder: string): boolean {
    return this.byPath.has(folder);
  }

  /** Is this `\\?\Volume{GUID}` path (with or without the trailing backslash) a prepared volume? */
  isMounted(volumePath: string): boolean {
    const guid = /^\\\\\?\\Volume\{([0-9a-f-]{36})\}\\?$/i.exec(volumePath)?.[1]?.toLowerCase();
    return guid !== undefined && [...this.byPath.values()].some((v) => v.guid === guid && v.parents !== undefined);
  }

  /** A reboot: every volume is gone (the files stay). */
  clear(): void {
    this.byPath.clear();
  }

  /** For inspection. */
  describe(): Array<{ path: string; volume: string; prepared: boolean }> {
    return [...this.byPath.entries()].map(([path, v]) => ({ path, volume: `\\\\?\\Volume{${v.guid}}`, prepared: v.parents !== undefined }));
  }
}
