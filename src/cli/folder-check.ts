/**
 * Who can write the manifests folder? Whoever can write it decides what this host runs (the
 * controller creates, replaces and stops compute systems as the manifests say, with the
 * controller's privileges, which on Windows means an administrator or SYSTEM: HCS requires it).
 * So a folder writable by ordinary users is a privilege escalation path; `run` warns about it
 * and refuses to start with `--strict-folder`.
 *
 * What is checked is the same on every platform: the folder (symlinks resolved) and its parents
 * (whoever can rename a parent can swap the whole folder), with `depth` every manifest file and
 * sub-folder the source reads, and the policy file with its parents.
 * - POSIX: not other-writable, not group-writable unless the group is root, owned by root or by
 *   us; a sticky other-writable parent such as /tmp is fine.
 * - Windows: the owner and DACL of each entry, read through advapi32 (src/hcs/security.ts, no
 *   shelling out) and judged by src/cli/dacl.ts: a write-like right granted to anyone but SYSTEM,
 *   Administrators, TrustedInstaller or the controller's own user, or an owner outside those.
 *   UNVERIFIED on a real Windows host (test/windows/security.test.ts is gated).
 *
 * Resolves `undefined` only when the folder itself does not exist. An entry whose permissions
 * cannot be read counts as a problem (the check errs on the side of warning).
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isFileNotFound, processUserSid, readFileSecurity } from '../hcs/security.ts';
import { daclProblems, describeSid, type EntryKind, type SecurityInfo } from './dacl.ts';

/** Result of {@link checkFolderSecurity}. */
export interface FolderSecurity {
  writableByNonAdmins: boolean;
  /** Human-readable reason (which ACE or which mode bits), or why the folder is fine. */
  detail: string;
}

/** Injection points for tests. */
export interface FolderCheckOptions {
  platform?: NodeJS.Platform;
  /** Effective uid of the controller (POSIX). */
  uid?: number;
  /** Windows: owner and DACL of a path, undefined when it does not exist (default: advapi32). */
  readSecurity?: (path: string) => SecurityInfo | undefined;
  /** Windows: the controller's own user SID (default: its process token's user). */
  selfSid?: string;
  /**
   * Also check what is read inside the folder, down to this many sub-folder levels (every
   * manifest file and sub-folder). Default: the folder and its parents only.
   */
  depth?: number;
  /** Manifest file names worth checking (the reader's rule); default: every .yaml/.yml. */
  isManifest?: (name: string) => boolean;
  /** A policy file the controller reads: it and its parents are checked too. */
  policyFile?: string;
}

/** Judges one entry: its problems, or undefined when it does not exist. */
type EntryCheck = (path: string, what: string, kind: EntryKind) => Promise<string[] | undefined>;

/** Check whether the manifests folder can be written by someone other than an administrator. */
export async function checkFolderSecurity(path: string, opts: FolderCheckOptions = {}): Promise<FolderSecurity | undefined> {
  const platform = opts.platform ?? process.platform;
  const uid = opts.uid ?? (typeof process.getuid === 'function' ? process.getuid() : 0);
  const check = platform === 'win32' ? windowsCheck(opts) : posixCheck(uid);
  const real = await realpath(path).catch(() => undefined);
  if (!real) return undefined;
  const folder = await withParents(real, 'folder', 'folder', check);
  if (!folder) return undefined;
  const problems = [...folder];
  if (opts.depth !== undefined) problems.push(...(await treeProblems(real, opts.depth, check, opts.isManifest ?? ((n) => /\.ya?ml$/.test(n)))));
  if (opts.policyFile) {
    const policy = await realpath(opts.policyFile).catch(() => undefined);
    if (policy) problems.push(...((await withParents(policy, 'policy file', 'file', check)) ?? []));
  }
  if (problems.length > 0) return { writableByNonAdmins: true, detail: problems.join('; ') };
  const who = platform === 'win32' ? 'SYSTEM, Administrators, TrustedInstaller and the controller\'s user' : `root${uid === 0 ? '' : ` and uid ${uid}`}`;
  return { writableByNonAdmins: false, detail: `${real}, its parents${opts.depth !== undefined ? ' and what is read in it' : ''} are writable only by ${who}` };
}

/** The entry, then each parent up to the root (kind `parent`); undefined when the entry is missing. */
async function withParents(real: string, label: string, kind: EntryKind, check: EntryCheck): Promise<string[] | undefined> {
  const first = await check(real, `${label} ${real}`, kind);
  if (!first) return undefined;
  const problems = [...first];
  for (let dir = dirname(real), prev = real; dir !== prev; prev = dir, dir = dirname(dir)) {
    problems.push(...((await check(dir, `parent ${dir}`, 'parent')) ?? []));
  }
  return problems;
}

/** Every manifest file and sub-folder under `dir` (dot entries skipped, as the readers do). */
async function treeProblems(dir: string, depth: number, check: EntryCheck, isManifest: (name: string) => boolean): Promise<string[]> {
  const problems: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const full = join(dir, entry.name);
    const st = await stat(full).catch(() => undefined);
    if (!st) continue;
    if (st.isFile() && isManifest(entry.name)) problems.push(...((await check(full, `file ${full}`, 'file')) ?? []));
    else if (st.isDirectory() && depth > 0) {
      problems.push(...((await check(full, `sub-folder ${full}`, 'folder')) ?? []));
      problems.push(...(await treeProblems(full, depth - 1, check, isManifest)));
    }
  }
  return problems;
}

/** POSIX: mode bits and owner of each entry. */
function posixCheck(uid: number): EntryCheck {
  return async (path, what, kind) => {
    const st = await stat(path).catch(() => undefined);
    return st ? entryProblems(what, st, uid, kind === 'parent') : undefined;
  };
}

/** Windows: owner and DACL of each entry, judged by dacl.ts. */
function windowsCheck(opts: FolderCheckOptions): EntryCheck {
  const read = opts.readSecurity ?? readOrUndefined;
  let selfSid = opts.selfSid;
  return async (path, what, kind) => {
    let info: SecurityInfo | undefined;
    try {
      selfSid ??= opts.readSecurity ? undefined : processUserSid();
      info = read(path);
    } catch (err) {
      return [`${what}: its owner and DACL could not be read (${err instanceof Error ? err.message : String(err)})`];
    }
    if (!info) return undefined;
    const desc = `${what} (owner ${info.ownerSid ? describeSid(info.ownerSid) : 'unknown'})`;
    return daclProblems(info, kind, selfSid ? { selfSid } : {}).map((p) => `${desc} ${p}`);
  };
}

function readOrUndefined(path: string): SecurityInfo | undefined {
  try {
    return readFileSecurity(path);
  } catch (err) {
    if (isFileNotFound(err)) return undefined;
    throw err;
  }
}

/** Mode/owner problems of one entry (file or folder) the controller reads. */
function entryProblems(what: string, st: { mode: number; uid: number; gid: number }, uid: number, sticky = false): string[] {
  const mode = st.mode & 0o7777;
  const desc = `${what} (mode ${mode.toString(8).padStart(4, '0')}, uid ${st.uid}, gid ${st.gid})`;
  const problems: string[] = [];
  if (sticky && mode & 0o1000) {
    // A sticky directory (like /tmp): others may create entries but not rename or delete ours.
  } else if (mode & 0o002) problems.push(`${desc} is writable by every user`);
  else if (mode & 0o020 && st.gid !== 0) problems.push(`${desc} is writable by group ${st.gid}`);
  if (st.uid !== 0 && st.uid !== uid) problems.push(`${desc} is owned by uid ${st.uid}, who can change its permissions`);
  return problems;
}

