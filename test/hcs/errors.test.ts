/** Unit tests of src/hcs/errors.ts: names, messages, both HRESULT forms, classification. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  classifyHresult, formatHresult, HcsError, HRESULTS, hresultName, isAccessDenied, isAlreadyExists,
  isAlreadyStopped, isDisconnected, isInvalidConfig, isInvalidState, isNotFound, isNotSupported, isProcessGone, isTimeout,
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

  it('names the 0xC037xxxx form with its SDK name plus its computecore twin (D19), and tolerates junk documents', () => {
    const err = new HcsError({ op: 'shutdown', systemId: 'x', hresult: 0xc0370110, resultDocument: 'not json' });
    assert.equal(err.message, 'hcs shutdown x: ERROR_VMCOMPUTE_SYSTEM_ALREADY_STOPPED (0xC0370110 = HCS_E_SYSTEM_ALREADY_STOPPED)');
    assert.equal(err.code, 'ERROR_VMCOMPUTE_SYSTEM_ALREADY_STOPPED');
    assert.equal(err.kind, 'alreadyStopped');
    assert.equal(hresultName(0xc0370103), 'ERROR_VMCOMPUTE_OPERATION_PENDING');
    assert.equal(hresultName(0xc0370109), 'ERROR_VMCOMPUTE_TIMEOUT');
    assert.equal(hresultName(0xc0370113), 'ERROR_VMCOMPUTE_WINDOWS_INSIDER_REQUIRED');
    assert.equal(hresultName(0xc0370118), 'HCS_E_OPERATION_TIMEOUT', 'no SDK name past 0xC0370113: the twin');
    assert.equal(classifyHresult(0xc0370103), 'transient');
  });

  it('knows 0x80370120/0x80370121 and classifies 0x80370120 as notSupported (D20)', () => {
    const e = new HcsError({ op: 'shutdown', systemId: 'vm', hresult: 0x80370120 });
    assert.equal(e.message, 'hcs shutdown vm: HCS_E_SYSTEM_NOT_CONFIGURED_FOR_OPERATION (0x80370120)');
    assert.equal(e.kind, 'notSupported');
    assert.equal(e.permanent, true);
    assert.equal(hresultName(0x80370121), 'HCS_E_OPERATION_ALREADY_CANCELLED');
    assert.equal(classifyHresult(0x80370121), 'transient');
  });

  it('E_ACCESSDENIED is permanent only from create/open, HCS_E_ACCESS_DENIED always (D10)', () => {
    assert.equal(new HcsError({ op: 'create', hresult: 0x80070005 }).permanent, true);
    assert.equal(new HcsError({ op: 'open', hresult: 0x80070005 }).permanent, true);
    for (const op of ['enumerate', 'properties', 'start', 'process.terminate']) {
      const e = new HcsError({ op, hresult: 0x80070005 });
      assert.equal(e.kind, 'accessDenied');
      assert.equal(e.permanent, false, op);
    }
    assert.equal(new HcsError({ op: 'enumerate', hresult: 0x8037011b }).permanent, true);
  });

  it('E_INVALIDARG from an operation result is not permanent, from the call it is (D6)', () => {
    assert.equal(new HcsError({ op: 'process.create', hresult: 0x80070057, fromResult: true }).permanent, false);
    assert.equal(new HcsError({ op: 'process.create', hresult: 0x80070057 }).permanent, true);
    assert.equal(new HcsError({ op: 'create', hresult: 0x8037010d, fromResult: true }).permanent, true);
  });

  it('isProcessGone: already stopped, ERROR_NOT_FOUND and ERROR_ACCESS_DENIED, as hcsshim (D9)', () => {
    for (const hr of [0x8037011f, 0xc037011f, 0x80370110, 0x80070490, 0x490, 0x80070005, 0x5]) assert.equal(isProcessGone(hr), true, formatHresult(hr));
    for (const hr of [0x80370105, 0x80070006, 0x8037011b]) assert.equal(isProcessGone(hr), false, formatHresult(hr));
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
    ['isNotSupported', isNotSupported, [0x80070032, 0x80370120, 0x80370102, 0x8037010b, 0xc037010b, 0x80370113, 0x8037010c, 0x8007000d, 0x80004001]],
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
