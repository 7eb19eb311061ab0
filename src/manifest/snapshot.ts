/**
 * Cross-file checks and the snapshot: duplicate names (an error on every declaration, neither
 * wins), `dependsOn` names that are not declared, and dependency cycles. A manifest failing a
 * check moves from `manifests` to `errors` (with `name`, so the core keeps its last-known-good).
 */
import type { DesiredSystem, ManifestError, ManifestSnapshot, SourceLocation } from '../../reconciler/ports.ts';
import type { DeclaredName, FileResult, ManifestOptions } from './file.ts';
import { portConflictErrors } from './port-conflicts.ts';
import { compareText } from '../../reconciler/order.ts';

/** Combine per-file results into one snapshot (folderOk true). Pure. */
export function combineSnapshot(results: readonly FileResult[], _opts: ManifestOptions = {}): ManifestSnapshot {
  const declared = results.flatMap((r) => r.declared);
  const ignoredNames = new Set(results.flatMap((r) => r.ignored.map((i) => i.name)));
  const errors = results.flatMap((r) => r.errors);
  let manifests = results.flatMap((r) => r.manifests);

  const duplicates = duplicateErrors(declared);
  const duplicated = new Set(duplicates.map((e) => e.name));
  manifests = manifests.filter((m) => !duplicated.has(m.name));
  errors.push(...duplicates);

  const depErrors = [...unknownDependencyErrors(manifests, declared, ignoredNames), ...cycleErrors(manifests, declared), ...portConflictErrors(manifests)];
  const failed = new Set(depErrors.map((e) => e.name));
  errors.push(...depErrors);

  return {
    manifests: manifests.filter((m) => !failed.has(m.name)).sort((a, b) => compareText(a.name, b.name)),
    errors: errors.sort(byLocation),
    ignored: results.flatMap((r) => r.ignored),
    files: results.map((r) => r.file),
    folderOk: true,
  };
}

function duplicateErrors(declared: readonly DeclaredName[]): ManifestError[] {
  const byName = groupBy(declared, (d) => d.name);
  const errors: ManifestError[] = [];
  for (const [name, decls] of byName) {
    if (decls.length < 2) continue;
    for (const d of decls) {
      const others = decls.filter((o) => o !== d).map((o) => formatLocation(o.at));
      errors.push({ ...d.at, path: 'metadata.name', name, message: `name "${name}" is declared more than once (also at ${others.join(', ')}); none of them is applied` });
    }
  }
  return errors;
}

function unknownDependencyErrors(manifests: readonly DesiredSystem[], declared: readonly DeclaredName[], ignored: Set<string>): ManifestError[] {
  const known = new Set(declared.map((d) => d.name));
  const errors: ManifestError[] = [];
  for (const m of manifests) {
    m.dependsOn.forEach((dep, i) => {
      if (known.has(dep)) return;
      const why = ignored.has(dep) ? 'which is placed on other hosts' : 'which no manifest declares';
      errors.push(dependsOnError(m, i, declared, `depends on "${dep}", ${why}`));
    });
  }
  return errors;
}

/** Every manifest on a dependency cycle gets an error at its dependsOn item that leads into the cycle. */
function cycleErrors(manifests: readonly DesiredSystem[], declared: readonly DeclaredName[]): ManifestError[] {
  const byName = new Map(manifests.map((m) => [m.name, m]));
  const errors: ManifestError[] = [];
  for (const m of manifests) {
    const cycle = shortestCycle(m.name, byName);
    if (!cycle) continue;
    const next = cycle[1]!;
    errors.push(dependsOnError(m, m.dependsOn.indexOf(next), declared, `dependency cycle: ${cycle.join(' -> ')}`));
  }
  return errors;
}

/** Shortest path start -> ... -> start through dependsOn edges (BFS), or undefined. */
function shortestCycle(start: string, byName: Map<string, DesiredSystem>): string[] | undefined {
  const parent = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const current = queue.shift()!;
    for (const dep of byName.get(current)?.dependsOn ?? []) {
      if (dep === start) return [...pathTo(current, parent, start), start];
      if (dep === current || parent.has(dep) || !byName.has(dep)) continue;
      parent.set(dep, current);
      queue.push(dep);
    }
  }
  return undefined;
}

function pathTo(node: string, parent: Map<string, string>, start: string): string[] {
  const path = [node];
  for (let n = node; n !== start; ) {
    n = parent.get(n)!;
    path.unshift(n);
  }
  return path;
}

function dependsOnError(m: DesiredSystem, index: number, declared: readonly DeclaredName[], message: string): ManifestError {
  const dep = m.dependsOn[index] ?? '';
  const decl = declared.find((d) => d.name === m.name && d.at.file === m.source.file);
  const at = decl?.dependsOnAt[dep] ?? m.source;
  return { ...at, path: `spec.dependsOn[${index}]`, name: m.name, message };
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) map.set(key(item), [...(map.get(key(item)) ?? []), item]);
  return map;
}

/** `file:line:col`. */
export function formatLocation(at: SourceLocation): string {
  return `${at.file}:${at.line}:${at.col}`;
}

function byLocation(a: ManifestError, b: ManifestError): number {
  return compareText(a.file, b.file) || a.line - b.line || a.col - b.col;
}
