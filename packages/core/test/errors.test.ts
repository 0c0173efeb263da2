import { describe, expect, it } from 'vitest';
import {
  AlreadyWatchedError,
  CancelledError,
  ErrnoError,
  FdloopError,
  InvalidArgumentError,
  NoBackendError,
  UnsupportedError,
  describeReceived,
  errnoError,
  validateFd,
  validateInterest,
} from '../src/index.js';

describe('ErrnoError', () => {
  it('is shaped like a Node system error', () => {
    const err = errnoError(9, 'epoll_ctl');
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('EBADF');
    expect(err.errno).toBe(-9);
    expect(err.syscall).toBe('epoll_ctl');
    expect(err.message).toBe('epoll_ctl EBADF');
  });

  it('accepts negative errno and appends the fd or path', () => {
    expect(errnoError(-2, 'open', { path: '/nope' }).message).toBe("open ENOENT '/nope'");
    expect(errnoError(-1, 'epoll_ctl', { fd: 7 }).message).toBe('epoll_ctl EPERM (fd 7)');
    expect(errnoError(-1, 'epoll_ctl', { fd: 7 }).fd).toBe(7);
  });

  it('recognises instances by brand, as a duplicate install would create them', () => {
    const foreign = Object.assign(new Error('x'), { code: 'EBADF' });
    Object.defineProperty(foreign, Symbol.for('fdloop.error.errno'), { value: true });
    expect(foreign instanceof ErrnoError).toBe(true);
    expect(new Error('plain') instanceof ErrnoError).toBe(false);
  });
});

describe('library errors', () => {
  it('carry stable codes and are FdloopErrors', () => {
    const cases: Array<[FdloopError, string]> = [
      [new InvalidArgumentError('fd', 'bad'), 'ERR_FDLOOP_INVALID_ARGUMENT'],
      [new AlreadyWatchedError(3), 'ERR_FDLOOP_ALREADY_WATCHED'],
      [new CancelledError(), 'ERR_FDLOOP_CANCELLED'],
      [new UnsupportedError('poll', 'edge'), 'ERR_FDLOOP_UNSUPPORTED'],
      [new NoBackendError([], 'npm install x'), 'ERR_FDLOOP_NO_BACKEND'],
    ];
    for (const [err, code] of cases) {
      expect(err.code).toBe(code);
      expect(err).toBeInstanceOf(FdloopError);
      expect(err).toBeInstanceOf(Error);
    }
    expect(new InvalidArgumentError('fd', 'bad')).toBeInstanceOf(InvalidArgumentError);
    expect(new CancelledError()).not.toBeInstanceOf(InvalidArgumentError);
  });

  it('names the backend and the feature when unsupported', () => {
    const err = new UnsupportedError('kqueue', 'fanotify');
    expect(err.message).toContain("'kqueue'");
    expect(err.message).toContain('fanotify');
    expect(err.backend).toBe('kqueue');
  });

  it('subclass instanceof works across copies through the code brand', () => {
    const foreign = new Error('copy');
    Object.defineProperty(foreign, Symbol.for('fdloop.error.code'), { value: 'ERR_FDLOOP_CANCELLED' });
    expect(foreign instanceof FdloopError).toBe(true);
    expect(foreign instanceof CancelledError).toBe(true);
    expect(foreign instanceof InvalidArgumentError).toBe(false);
  });
});

describe('describeReceived: a wrong argument is named with its type, as Node does', () => {
  it('formats every kind of value', () => {
    class Port {}
    const cases: [unknown, string][] = [
      [19, '19'],
      [-1, '-1'],
      [Number.NaN, 'NaN'],
      [Infinity, 'Infinity'],
      ['19', "string '19'"],
      ['', "string ''"],
      ["it's", 'string "it\'s"'],
      ['x'.repeat(100), `string '${'x'.repeat(36)}...`],
      [true, 'boolean true'],
      [19n, 'bigint 19n'],
      [Symbol('s'), 'symbol Symbol(s)'],
      [undefined, 'undefined'],
      [null, 'null'],
      [function named() {}, 'function named'],
      [() => {}, 'an anonymous function'],
      [{}, 'an instance of Object'],
      [[1], 'an instance of Array'],
      [new Port(), 'an instance of Port'],
      [Buffer.alloc(1), 'an instance of Buffer'],
      [Object.create(null), 'an object with a null prototype'],
    ];
    for (const [value, text] of cases) expect(describeReceived(value), String(text)).toBe(text);
  });

  it("a string descriptor '19' reads as a string, not as the valid number 19 (issue 21)", () => {
    expect(() => validateFd('19')).toThrow(new InvalidArgumentError('fd', "must be a non-negative integer file descriptor, got string '19'"));
    expect(() => validateFd(-1)).toThrow('got -1');
    expect(() => validateInterest('1')).toThrow("got string '1'");
    expect(() => validateInterest(null)).toThrow('got null');
  });
});
