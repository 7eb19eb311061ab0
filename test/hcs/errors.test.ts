/** Unit tests of src/hcs/errors.ts: names, messages, both HRESULT forms, classification. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  classifyHresult, formatHresult, HcsError, HRESULTS, hresultName, isAccessDenied, isAlreadyExists,
  isAlreadyStopped, isDisconnected, isInvalidConfig, isInvalidState, isNotFound, isNotSupported, isTimeout,
  toHcsError,
} from '../../src/hcs/errors.ts';

describe('HcsError', () => {
  it('formats op, id, symbolic name and hex exactly', () => {
    const err = new HcsError({ op: 'start', systemId: 'web', hresult: 0x80370105 });
    assert.equal(err.message, 'hcs start web: HCS_E_INVALID_STATE (0x80370105)');
    assert.equal(err.code, 'HCS_E_INVALID_STATE');
    assert.equal(err.kind, 'invalidState');
    assert.equal(err.permanent, false);
    assert.equal(err.op, 'start');
    assert.equal(err.systemId, 'web');
  });

  it('appends the ErrorMessage of the result document and keeps the document', () => {
    const doc = JSON.stringify({ Error: 0x8037010d | 0, ErrorMessage: 'Container is required' });
    const err = new HcsError({ op: 'create', systemId: 'db', hresult: 0x8037010d | 0, resultDocument: doc });
    assert.equal(err.message, 'hcs create db: HCS_E_INVALID_JSON (0x8037010D): Container is required');
    assert.equal(err.hresult, 0x8037010d, 'stored unsigned even when given the signed int32');
    assert.equal(err.resultDocument, doc);
    assert.equal(err.kind, 'invalidConfig');
    assert.equal(err.permanent, true);
  });

  it('names the 0xC037xxxx form like its 0x8037xxxx twin and tolerates junk documents', () => {
    const err = new HcsError({ op: 'shutdown', systemId: 'x', hresult: 0xc0370110, resultDocument: 'not json' });
    assert.equal(err.message, 'hcs shutdown x: HCS_E_SYSTEM_ALREADY_STOPPED (0xC0370110)');
    assert.equal(err.kind, 'alreadyStopped');
  });

  it('reports unknown codes in hex and without a system id', () => {
    const err = new HcsError({ op: 'enumerate', hresult: 0x80001234 });
    assert.equal(err.message, 'hcs enumerate: HRESULT 0x80001234');
    assert.equal(err.kind, 'unknown');
  });

  it('wraps exactly once', () => {
    const inner = new HcsError({ op: 'start', hresult: HRESULTS.E_HANDLE });
    assert.equal(toHcsError(inner, { op: 'other' }), inner);
    const wrapped = toHcsError(new Error('boom'), { op: 'open', systemId: 'a' });
    assert.equal(wrapped.hresult, HRESULTS.E_FAIL);
    assert.ok(wrapped.cause instanceof Error);
  });
});

describe('predicates', () => {
  const cases: Array<[string, (e: unknown) => boolean, number[]]> = [
    ['isNotFound', isNotFound, [0x8037010e, 0xc037010e, 0x80070490, 0x490]],
    ['isAlreadyExists', isAlreadyExists, [0x8037010f, 0xc037010f]],
    ['isAlreadyStopped', isAlreadyStopped, [0x80370110, 0xc0370110, 0x8037011f, 0xc037011f]],
    ['isInvalidState', isInvalidState, [0x80370105, 0xc0370105]],
    ['isAccessDenied', isAccessDenied, [0x8037011b, 0xc037011b, 0x80070005, 0x5]],
    ['isTimeout', isTimeout, [0x80370118, 0xc0370118, 0x80370109]],
    ['isDisconnected', isDisconnected, [0x800706ba, 0x8037011e, 0xc037011e, 0x80070006, 0x6, 0x80370114, 0x8037010a, 0x80370108]],
    ['isInvalidConfig', isInvalidConfig, [0x8037010d, 0xc037010d, 0x80070057, 0x80370112, 0x80370101]],
    ['isNotSupported', isNotSupported, [0x80070032, 0x80370102, 0x8037010b, 0xc037010b, 0x80370113, 0x8037010c, 0x8007000d, 0x80004001]],
  ];
  for (const [name, pred, codes] of cases) {
    it(`${name} accepts exactly ${codes.map(formatHresult).join(', ')} of the table`, () => {
      for (const c of codes) {
        assert.equal(pred(new HcsError({ op: 't', hresult: c })), true, `${name}(${formatHresult(c)})`);
        assert.equal(pred(c | 0), true, `${name} on a signed number ${formatHresult(c)}`);
      }
      const others = Object.values(HRESULTS).filter((v) => !codes.includes(v));
      for (const o of others) assert.equal(pred({ hresult: o }), false, `${name}(${formatHresult(o)})`);
    });
  }

  it('ignores values without an hresult and success codes', () => {
    assert.equal(isNotFound(new Error('x')), false);
    assert.equal(isNotFound(undefined), false);
    assert.equal(classifyHresult(0), 'unknown');
  });

  it('does not confuse other facilities with the same low bits', () => {
    assert.equal(isInvalidState(0x80070105), false);
    assert.equal(hresultName(0x80070105), undefined);
  });

  it('marks permanent kinds and adds the elevation hint on Windows only', () => {
    const denied = new HcsError({ op: 'create', systemId: 'a', hresult: 0x8037011b });
    assert.equal(denied.permanent, true);
    assert.equal(denied.message.includes('Hyper-V Administrators'), process.platform === 'win32');
    assert.equal(new HcsError({ op: 'x', hresult: 0x80370106 }).kind, 'transient');
    assert.equal(new HcsError({ op: 'x', hresult: 0x80370106 }).permanent, false);
  });
});
