import { describe, expect, it } from 'vitest';
import { Interest, Ready, ReadyEvent, describeInterest, validateFd, validateInterest } from '../src/index.js';

describe('Interest', () => {
  it('accepts conditions with modes', () => {
    expect(validateInterest(Interest.READABLE)).toBe(1);
    expect(validateInterest(Interest.READABLE | Interest.WRITABLE | Interest.EDGE)).toBe(11);
    expect(validateInterest(Interest.PRIORITY | Interest.ONESHOT)).toBe(20);
    expect(Interest.LEVEL).toBe(0);
  });

  it('refuses an empty interest, a mode alone, unknown bits and non-numbers', () => {
    for (const bad of [0, Interest.EDGE, Interest.ONESHOT | Interest.EDGE, 64, -1, 1.5, Number.NaN, '1', undefined]) {
      expect(() => validateInterest(bad)).toThrowError(expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }));
    }
  });

  it('describes itself', () => {
    expect(describeInterest(Interest.READABLE | Interest.EDGE)).toBe('READABLE|EDGE');
  });
});

describe('fd validation', () => {
  it('accepts non-negative integers only', () => {
    expect(validateFd(0)).toBe(0);
    for (const bad of [-1, 1.5, Number.NaN, '3', null, 2 ** 31]) {
      expect(() => validateFd(bad)).toThrowError(expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT', argument: 'fd' }));
    }
  });
});

describe('ReadyEvent', () => {
  it('decodes flags', () => {
    const ev = new ReadyEvent(5, Ready.READABLE | Ready.HANGUP);
    expect(ev.readable).toBe(true);
    expect(ev.writable).toBe(false);
    expect(ev.hangup).toBe(true);
    expect(ev.readHangup).toBe(false);
    expect(ev.priority).toBe(false);
    expect(ev.error).toBe(false);
    expect(String(ev)).toBe('fd 5: readable|hangup');
  });
});
