/**
 * Resolving the configured manifests path, and finding what to watch to notice it changing.
 *
 * git-sync (and similar tools) publish a checkout by atomically replacing a symlink
 * (`ln -s new tmp && mv -T tmp link`). A watcher on the resolved directory keeps watching the old
 * inode and never sees the swap (libs.md §3, anchors.md pain point 7). So besides the content
 * watcher we watch, at depth 0, the directory that *contains* each symlink on the way to the
 * folder, and the folder's own parent (to see it deleted, recreated or replaced by a file).
 * The link may be any component: `--manifests /git/current/manifests` is the common case.
 */
import { lstat, realpath } from 'node:fs/promises';
import { join, parse, resolve, sep } from 'node:path';

/** Where the configured path leads right now. */
export interface PathChain {
  /** The real path the configured path resolves to; undefined when some component is missing. */
  real?: string;
  /** errno code when it does not resolve (ENOENT, EACCES, ELOOP, ...). */
  code?: string;
  /** Directory → the entries in it whose change means "re-resolve and rescan". */
  anchors: Map<string, Set<string>>;
}

function addAnchor(anchors: Map<string, Set<string>>, dir: string, entry: string): void {
  const set = anchors.get(dir) ?? new Set<string>();
  set.add(entry);
  anchors.set(dir, set);
}

function errnoCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? 'UNKNOWN';
}

/**
 * Walks `path` component by component (lstat, then realpath at each symlink) and records the
 * anchors: the parent of every symlink, the parent of the last component, and, when something
 * is missing, the deepest directory that exists (so its re-creation is noticed).
 */
export async function resolveChain(path: string): Promise<PathChain> {
  const abs = resolve(path);
  const root = parse(abs).root;
  const parts = abs.slice(root.length).split(sep).filter((p) => p !== '');
  const anchors = new Map<string, Set<string>>();
  let cur = root;
  for (const [i, part] of parts.entries()) {
    const next = join(cur, part);
    const last = i === parts.length - 1;
    let isLink: boolean;
    try {
      isLink = (await lstat(next)).isSymbolicLink();
    } catch (err) {
      addAnchor(anchors, cur, next);
      return { code: errnoCode(err), anchors };
    }
    if (isLink || last) addAnchor(anchors, cur, next);
    if (!isLink) {
      cur = next;
      continue;
    }
    try {
      cur = await realpath(next);
    } catch (err) {
      return { code: errnoCode(err), anchors }; // dangling link: its parent is already anchored
    }
  }
  return { real: cur, anchors };
}

/** A stable string for an anchor map, to tell whether the anchor watcher must be re-created. */
export function anchorKey(anchors: Map<string, Set<string>>): string {
  return [...anchors.entries()]
    .map(([dir, entries]) => `${dir}>${[...entries].sort().join('|')}`)
    .sort()
    .join('\n');
}
