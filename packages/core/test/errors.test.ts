import { describe, expect, it } from 'vitest';
import {
  AlreadyWatchedError,
  CancelledError,
  ErrnoError,
  FdloopError,
  InvalidArgumentError,
  NoBackendError,
  UnsupportedError,
  errnoError,
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
