/**
 * .github/workflows/windows.yml cannot run here; this keeps it well-formed (runs in `npm test`):
 * a JSON Schema of the GitHub Actions workflow fields it uses (after the runner documentation:
 * docs.github.com "Workflow syntax for GitHub Actions"), plus the steps issue 13 requires.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';

const workflow = parse(readFileSync('.github/workflows/windows.yml', 'utf8')) as Record<string, unknown>;

const step = {
  type: 'object',
  additionalProperties: false,
  properties: {
    id: { type: 'string' }, name: { type: 'string' }, if: { type: ['string', 'boolean'] },
    uses: { type: 'string', pattern: '^[\\w.-]+/[\\w.-]+(/[\\w./-]+)?@[\\w.-]+$' },
    run: { type: 'string', minLength: 1 },
    shell: { enum: ['bash', 'pwsh', 'python', 'sh', 'cmd', 'powershell'] },
    with: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
    env: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
    'continue-on-error': { type: 'boolean' }, 'timeout-minutes': { type: 'number' }, 'working-directory': { type: 'string' },
  },
  oneOf: [{ required: ['uses'] }, { required: ['run'] }],
};

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'on', 'jobs'],
  properties: {
    name: { type: 'string' },
    on: {
      type: 'object',
      additionalProperties: false,
      properties: {
        workflow_dispatch: { type: ['object', 'null'] },
        pull_request: { type: ['object', 'null'] },
        push: { type: ['object', 'null'], properties: { branches: { type: 'array', items: { type: 'string' } } } },
      },
    },
    permissions: { type: 'object', additionalProperties: { enum: ['read', 'write', 'none'] } },
    env: { type: 'object' },
    jobs: {
      type: 'object',
      minProperties: 1,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['runs-on', 'steps'],
        properties: {
          'runs-on': { type: 'string' }, 'timeout-minutes': { type: 'number' }, name: { type: 'string' },
          env: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
          steps: { type: 'array', minItems: 1, items: step },
        },
      },
    },
  },
};

test('windows.yml is a well-formed workflow (schema of the fields it uses)', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const valid = ajv.validate(schema, workflow);
  assert.ok(valid, JSON.stringify(ajv.errors, null, 2));
});

test('windows.yml runs the gated suite on windows-2022 with Docker-fetched nanoserver layers and uploads the evidence', () => {
  const job = (workflow.jobs as Record<string, { 'runs-on': string; env: Record<string, string>; steps: Array<Record<string, unknown>> }>).functional!;
  assert.equal(job['runs-on'], 'windows-2022');
  assert.equal(job.env.HCS_FUNCTIONAL, '1');
  const runs = job.steps.map((s) => String(s.run ?? ''));
  const uses = job.steps.map((s) => String(s.uses ?? ''));
  const at = (pred: (i: number) => boolean): number => job.steps.findIndex((_, i) => pred(i));
  const fetch = at((i) => /docker pull mcr\.microsoft\.com\/windows\/nanoserver:ltsc2022/.test(runs[i]!) && /HCS_TEST_LAYERS/.test(runs[i]!));
  const ci = at((i) => runs[i]!.trim() === 'npm ci');
  const suite = at((i) => runs[i]!.trim() === 'npm run test:windows');
  const upload = at((i) => uses[i]!.startsWith('actions/upload-artifact@'));
  assert.ok(uses[0]!.startsWith('actions/checkout@') && uses.some((u) => u.startsWith('actions/setup-node@')));
  assert.ok(fetch > 0 && ci > fetch && suite > ci && upload > suite, `step order: fetch ${fetch}, ci ${ci}, suite ${suite}, upload ${upload}`);
  assert.equal(job.steps[upload]!.if, 'always()');
  // Each suite writes <HCS_EVIDENCE_DIR>/<suite>.json (test/windows/helpers.ts Evidence); the folder is uploaded.
  assert.match(job.env.HCS_EVIDENCE_DIR!, /\\hcs-evidence$/);
  assert.equal((job.steps[upload]!.with as Record<string, string>).path, 'hcs-evidence');
  const foreign = at((i) => /docker run -d .*--name hcs-foreign/.test(runs[i]!));
  assert.ok(foreign > fetch && foreign < suite, 'the foreign Docker container runs before the suite');
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts['test:windows'] ?? '', /test\/run\.mjs test\/windows/);
});
