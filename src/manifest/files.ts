/**
 * Which directory entries are manifests. Only `.yaml`/`.yml`; never dotfiles or the leftovers
 * of editors and atomic writers, which the kubelet famously ran as pods
 * (kubernetes/website#45758 `*.yaml-bak`, kubernetes#40331 vim `.swp`, metalk8s#3003 temp files).
 */

const BACKUP_SEGMENTS = new Set(['swp', 'swx', 'swo', 'tmp', 'temp', 'bak', 'orig', 'old', 'rej', 'dpkg-new', 'dpkg-old']);

/**
 * True when `fileName` (a base name) is a manifest: ends in `.yaml`/`.yml` (any case), is not a
 * dotfile, not `#name#` (emacs), not vim's `4913` probe, and has no backup/temp segment such
 * as `web.bak.yaml` or `web.tmp.yml`.
 */
export function isManifestFileName(fileName: string): boolean {
  if (fileName.startsWith('.') || fileName.startsWith('#') || fileName.includes('~')) return false;
  if (fileName === '4913') return false;
  const segments = fileName.toLowerCase().split('.');
  const ext = segments.pop();
  if (ext !== 'yaml' && ext !== 'yml') return false;
  if (segments.length === 0 || segments[0] === '') return false;
  return !segments.slice(1).some((s) => BACKUP_SEGMENTS.has(s));
}
