/**
 * Who can write the manifests folder? Whoever can write it decides what this host runs (the
 * controller creates, replaces and stops compute systems as the manifests say, with the
 * controller's privileges, which on Windows means an administrator or SYSTEM: HCS requires it).
 * So a folder writable by ordinary users is a privilege escalation path; `run` warns about it
 * and refuses to start with `--strict-folder`.
 *
 * - POSIX: the folder (symlinks resolved) must not be writable by anyone but root and the
 *   controller's own user: not other-writable, not group-writable unless the group is root, owned
 *   by root or by us. Its ancestors are checked too (whoever can rename a parent can swap the
 *   whole folder), except that a sticky other-writable ancestor such as /tmp is fine.
 * - Windows: the DACL is read by running `icacls <folder>` once at start-up (documented exception
 *   to "no shelling out": Node has no ACL API, and this is a read-only query, not an HCS call).
 *   Every allow ACE that grants a write-like right (F, M, W, WD, AD, DC, D, WDAC, WO, GA, GW, MA),
 *   to a principal other than SYSTEM, Administrators or TrustedInstaller, makes the folder
 *   "writable by non-admins". Inherit-only ACEs count (they apply to the manifest files inside).
 *   Names are compared in English; on a localised Windows an admin principal shows up under
 *   another name and is reported too: the check errs on the side of warning. The folder owner
 *   (who may rewrite the DACL) is not shown by icacls and is not checked.
 *
 * Resolves `undefined` when the check could not be made (folder missing, icacls unavailable).
 */
import { execFile } from 'node:child_process';
import { readdir, realpath, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Result of {@link checkFolderSecurity}. */
export interface FolderSecurity {
  writableByNonAdmins: boolean;
  /** Human-readable reason (which ACE or which mode bits), or why the folder is fine. */
  detail: string;
}

/** Injection points for tests. */
export interface FolderCheckOptions {
  platform?: NodeJS.Platform;
  /** Runs `icacls <path>` and resolves with its stdout (Windows only). */
  icacls?: (path: string) => Promise<string>;
  /** Effective uid of the controller (POSIX). */
  uid?: number;
  /**
   * Also check what is read inside the folder, down to this many sub-folder levels (every
   * manifest file and sub-folder; POSIX). Default: the folder and its parents only.
   */
  depth?: number;
  /** Manifest file names worth checking (the reader's rule); default: every .yaml/.yml. */
  isManifest?: (name: string) => boolean;
  /** A policy file the controller reads: it and its parents are checked too. */
  policyFile?: string;
}

/** Check whether the manifests folder can be written by someone other than an administrator. */
export async function checkFolderSecurity(path: string, opts: FolderCheckOptions = {}): Promise<FolderSecurity | undefined> {
  const platform = opts.platform ?? process.platform;
  if (platform === 'win32') {
    const output = await (opts.icacls ?? runIcacls)(path).catch(() => undefined);
    return output === undefined ? undefined : icaclsVerdict(output);
  }
  const uid = opts.uid ?? (typeof process.getuid === 'function' ? process.getuid() : 0);
  const folder = await posixVerdict(path, uid);
  if (!folder) return undefined;
  const problems = folder.writableByNonAdmins ? [folder.detail] : [];
  if (opts.depth !== undefined) problems.push(...(await treeProblems(await realpath(path), opts.depth, uid, opts.isManifest ?? ((n) => /\.ya?ml$/.test(n)))));
  if (opts.policyFile) {
    const policy = await posixVerdict(opts.policyFile, uid, 'policy file');
    if (policy?.writableByNonAdmins) problems.push(policy.detail);
  }
  return problems.length > 0 ? { writableByNonAdmins: true, detail: problems.join('; ') } : folder;
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

/** Every manifest file and sub-folder under `dir` (dot entries skipped, as the readers do). */
async function treeProblems(dir: string, depth: number, uid: number, isManifest: (name: string) => boolean): Promise<string[]> {
  const problems: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const full = join(dir, entry.name);
    const st = await stat(full).catch(() => undefined);
    if (!st) continue;
    if (st.isFile() && isManifest(entry.name)) problems.push(...entryProblems(`file ${full}`, st, uid));
    else if (st.isDirectory() && depth > 0) {
      problems.push(...entryProblems(`sub-folder ${full}`, st, uid));
      problems.push(...(await treeProblems(full, depth - 1, uid, isManifest)));
    }
  }
  return problems;
}

function runIcacls(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('icacls', [path], { windowsHide: true, timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

async function posixVerdict(path: string, uid: number, kind = 'folder'): Promise<FolderSecurity | undefined> {
  const real = await realpath(path).catch(() => undefined);
  if (!real) return undefined;
  const problems: string[] = [];
  for (let dir = real, first = true; ; first = false) {
    const st = await stat(dir).catch(() => undefined);
    if (!st) return undefined;
    problems.push(...entryProblems(`${first ? kind : 'parent'} ${dir}`, st, uid, !first));
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return problems.length > 0
    ? { writableByNonAdmins: true, detail: problems.join('; ') }
    : { writableByNonAdmins: false, detail: `${real} and its parents are writable only by root${uid === 0 ? '' : ` and uid ${uid}`}` };
}

const ADMIN_PRINCIPALS = new Set(['nt authority\\system', 'builtin\\administrators', 'nt service\\trustedinstaller']);
const WRITE_RIGHTS = new Set(['F', 'M', 'W', 'WD', 'AD', 'DC', 'D', 'WDAC', 'WO', 'GA', 'GW', 'MA']);

/** One ACE of `icacls` output. */
export interface IcaclsAce {
  principal: string;
  flags: string[];
  rights: string[];
  deny: boolean;
}

/**
 * Parse `icacls <path>` output: the first line is `<path> <ACE>`, each further ACE is indented,
 * then a blank line and "Successfully processed ..." (localised; ignored). An ACE is
 * `PRINCIPAL:(flag)...(rights,...)`, e.g. `BUILTIN\Users:(OI)(CI)(RX)` or `Everyone:(DENY)(W)`.
 */
export function parseIcacls(output: string, path?: string): IcaclsAce[] {
  const aces: IcaclsAce[] = [];
  const lines = output.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (i === 0 && path && line.startsWith(path)) line = line.slice(path.length);
    const m = /^\s*(.+?):((?:\([A-Z,]+\))+)\s*$/.exec(line);
    if (!m) continue;
    const groups = [...m[2]!.matchAll(/\(([A-Z,]+)\)/g)].map((g) => g[1]!);
    const rights = groups.filter((g) => g.includes(',') || !/^(OI|CI|IO|NP|I|DENY)$/.test(g)).flatMap((g) => g.split(','));
    const flags = groups.filter((g) => /^(OI|CI|IO|NP|I|DENY)$/.test(g));
    aces.push({ principal: m[1]!.trim(), flags, rights, deny: flags.includes('DENY') });
  }
  return aces;
}

/** Verdict from `icacls` output. */
export function icaclsVerdict(output: string, path?: string): FolderSecurity {
  const aces = parseIcacls(output, path);
  const offending = aces.filter((a) => !a.deny && !ADMIN_PRINCIPALS.has(a.principal.toLowerCase()) && a.rights.some((r) => WRITE_RIGHTS.has(r)));
  if (offending.length === 0) return { writableByNonAdmins: false, detail: `only SYSTEM, Administrators and TrustedInstaller may write (${aces.length} ACEs checked)` };
  return {
    writableByNonAdmins: true,
    detail: `writable by ${offending.map((a) => `${a.principal} (${[...a.flags, ...a.rights].join(',')})`).join(', ')}`,
  };
}
