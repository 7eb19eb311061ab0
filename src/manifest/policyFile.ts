/**
 * Loading a host policy file (`kind: ManifestPolicy`, one YAML document) with the same
 * guarantees as manifests: size limit, UTF-8, duplicate keys, and file:line:col errors.
 */
import { readFile } from 'node:fs/promises';
import { isMap, type Node } from 'yaml';
import type { ManifestError } from '../../reconciler/ports.ts';
import { DEFAULT_MAX_FILE_BYTES, decodeManifestText } from './decode.ts';
import { findNode, formatPath, nodePosition } from './locate.ts';
import { problemsFromAjv } from './messages.ts';
import { isEmptyDocument, parseYaml, toData, yamlProblems } from './parse.ts';
import { policySchema } from './policy.ts';
import type { ManifestPolicy } from './types.ts';
import { compileSchema } from './validate.ts';

const validatePolicy = compileSchema<ManifestPolicy & { apiVersion: string; kind: string }>(policySchema);

/** Read and validate a policy file. `policy` is set only when there are no errors. */
export async function loadPolicyFile(path: string): Promise<{ policy?: ManifestPolicy; errors: ManifestError[] }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    return { errors: [{ file: path, line: 1, col: 1, path: '', message: `cannot read policy file: ${(err as Error).message}` }] };
  }
  return parsePolicy(path, bytes);
}

/** Parse policy file content. Pure. */
export function parsePolicy(file: string, bytes: Uint8Array): { policy?: ManifestPolicy; errors: ManifestError[] } {
  const fail = (line: number, col: number, message: string, path = '') => ({ errors: [{ file, line, col, path, message }] });
  const decoded = decodeManifestText(bytes, DEFAULT_MAX_FILE_BYTES);
  if ('problem' in decoded) return fail(decoded.problem.line, decoded.problem.col, decoded.problem.message);
  const { documents, lineCounter } = parseYaml(decoded.text);
  const docs = documents.filter((d) => yamlProblems(d).length > 0 || !isEmptyDocument(d));
  const doc = docs[0];
  if (!doc) return fail(1, 1, 'policy file is empty');
  const pos = (offset: number) => lineCounter.linePos(offset);
  const syntax = yamlProblems(doc)[0];
  if (syntax) return fail(pos(syntax.offset).line, pos(syntax.offset).col, syntax.message);
  if (docs.length > 1) {
    const second = nodePosition(docs[1]!.contents as Node, lineCounter);
    return fail(second.line, second.col, 'a policy file holds exactly one document');
  }
  if (!isMap(doc.contents)) return fail(1, 1, 'must be a mapping with apiVersion, kind and policy fields');
  const data = toData(doc);
  if ('problem' in data) return fail(pos(data.problem.offset).line, pos(data.problem.offset).col, data.problem.message);
  if (validatePolicy(data.data)) {
    const { apiVersion: _a, kind: _k, ...policy } = data.data;
    return { policy, errors: [] };
  }
  const errors = problemsFromAjv(validatePolicy.errors ?? []).map((p) => ({
    file,
    ...nodePosition(findNode(doc, p.path, p.key), lineCounter),
    path: formatPath(p.path),
    message: p.message,
  }));
  return { errors: errors.sort((a, b) => a.line - b.line || a.col - b.col) };
}
