// The pure parts of the runtime's event sources: validation of timer settings and signal names. The sources
// themselves run on real kernel objects in the conformance suite (src/testing/sources.ts), which every backend
// package runs; a backend without sources (examples/backend-poll) proves the ERR_FDLOOP_UNSUPPORTED path.
import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, resolveSignal, signalName, SOURCE_KINDS } from '../src/index.js';
import { toArming } from '../src/sources/timer.js';

describe('toArming', () => {
  it('turns delay/at/interval into the backend arming', () => {
    expect(toArming({ delay: 5 }, 'monotonic')).toEqual({ value: 5, absolute: false, interval: 0 });
    expect(toArming({ delay: 5, interval: 10 }, 'monotonic')).toEqual({ value: 5, absolute: false, interval: 10 });
    expect(toArming({ interval: 10 }, 'monotonic')).toEqual({ value: 10, absolute: false, interval: 10 });
    expect(toArming({ at: new Date(1000) }, 'realtime')).toEqual({ value: 1000, absolute: true, interval: 0 });
    expect(toArming({ at: 250.5 }, 'monotonic')).toEqual({ value: 250.5, absolute: true, interval: 0 });
    expect(toArming({}, 'monotonic')).toBeUndefined();
  });

  it('keeps a zero delay armed (the smallest positive value, since 0 disarms a kernel timer)', () => {
    const a = toArming({ delay: 0 }, 'monotonic');
    expect(a?.value).toBeGreaterThan(0);
    expect(a?.value).toBeLessThan(0.001);
  });

  it('refuses NaN, negative, infinite and contradictory settings', () => {
    for (const bad of [{ delay: NaN }, { delay: -1 }, { delay: Infinity }, { interval: 0 }, { interval: NaN }, { delay: 1, at: 2 }, { at: -1 }]) {
      expect(() => toArming(bad, 'monotonic'), JSON.stringify(bad)).toThrow(InvalidArgumentError);
    }
    expect(() => toArming({ at: new Date(0) }, 'monotonic')).toThrow(/realtime/);
    expect(() => toArming({ at: new Date(NaN) }, 'realtime')).toThrow(InvalidArgumentError);
  });
});

describe('resolveSignal', () => {
  it('accepts names with or without SIG, any case, and numbers', () => {
    expect(resolveSignal('SIGUSR2')).toEqual(['SIGUSR2', constants.signals.SIGUSR2]);
    expect(resolveSignal('usr1')).toEqual(['SIGUSR1', constants.signals.SIGUSR1]);
    expect(resolveSignal(constants.signals.SIGHUP)).toEqual(['SIGHUP', constants.signals.SIGHUP]);
    expect(signalName(constants.signals.SIGTERM)).toBe('SIGTERM');
  });

  it('refuses unknown signals, SIGKILL, SIGSTOP and fault signals with clear messages', () => {
    expect(() => resolveSignal('SIGBOGUS')).toThrow(/unknown signal "SIGBOGUS"/);
    expect(() => resolveSignal(999)).toThrow(InvalidArgumentError);
    expect(() => resolveSignal('SIGKILL')).toThrow(/cannot be caught, blocked or ignored/);
    expect(() => resolveSignal('STOP')).toThrow(/cannot be caught, blocked or ignored/);
    expect(() => resolveSignal('SIGSEGV')).toThrow(/synchronous fault/);
    expect(() => resolveSignal(undefined)).toThrow(InvalidArgumentError);
  });
});

describe('SOURCE_KINDS', () => {
  it('lists the five portable kinds, each a capability name', () => {
    expect(SOURCE_KINDS).toEqual(['timer', 'signal', 'notifier', 'pathWatch', 'processExit']);
  });
});
