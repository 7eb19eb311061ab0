/**
 * Stateless identity of managed compute systems.
 *
 * The HCS id of every system we create encodes the manifest name and a short config hash:
 * `<name>-<hash12>` for the main system and `<name>-<hash12>-uvm` for the utility VM of a
 * Hyper-V isolated container. Together with our `Owner`, that is all a restarted controller needs
 * to adopt what is already running: no local state file.
 *
 * Parsing is unambiguous even when a name itself ends in hex or in `-uvm`, because the hash is
 * always exactly 12 hex digits and is followed only by the end or by `-uvm`.
 */

/** Number of hex digits of the config hash kept in an HCS id. */
export const ID_HASH_LENGTH = 12;

/** Longest manifest name (a DNS label). Keeps ids well under HCS limits. */
export const MAX_NAME_LENGTH = 63;

/** Pattern a manifest name must match: lowercase DNS label. */
export const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export type PartRole = 'main' | 'utilityVm';

/** What an HCS id of ours says about the system. */
export interface ParsedSystemId {
  name: string;
  /** The 12-hex-digit config hash prefix. */
  hash: string;
  role: PartRole;
}

const ID_PATTERN = new RegExp(`^(.+)-([0-9a-f]{${ID_HASH_LENGTH}})(-uvm)?$`);

/** Short form of a full config hash, as used in ids and status output. */
export function shortHash(configHash: string): string {
  return configHash.slice(0, ID_HASH_LENGTH);
}

/** `shortHash(configHash) === short`, without making the short form (relists compare it for every system). */
export function matchesShortHash(configHash: string, short: string): boolean {
  return short.length === Math.min(ID_HASH_LENGTH, configHash.length) && configHash.startsWith(short);
}

/** The HCS id for one part of a manifest's rendering. */
export function systemIdFor(name: string, configHash: string, role: PartRole = 'main'): string {
  const base = `${name}-${shortHash(configHash)}`;
  return role === 'utilityVm' ? `${base}-uvm` : base;
}

/** Parse an id produced by {@link systemIdFor}; undefined for ids that are not ours. */
export function parseSystemId(id: string): ParsedSystemId | undefined {
  const m = ID_PATTERN.exec(id);
  if (!m) return undefined;
  const [, name, hash, uvm] = m;
  if (name === undefined || hash === undefined || !NAME_PATTERN.test(name)) return undefined;
  return { name, hash, role: uvm ? 'utilityVm' : 'main' };
}
