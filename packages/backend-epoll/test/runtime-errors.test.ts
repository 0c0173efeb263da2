// Bad input and failing callbacks, on the epoll backend: every mistake is a typed error (ErrnoError shaped like
// Node's, or an FdloopError with a stable code), never a crash, and nothing is left registered behind it.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ErrnoError,
  FdloopError,
  Interest,
  createRuntime,
  type ErrorContext,
  type Runtime,
  type RuntimeOptions,
} from '@fdloop/core';
import { epoll, sys } from '../src/index.js';

const openFds = new Set<number>();
const runtimes: Runtime[] = [];

function pipe(): [number, number] {
  const p = sys.pipe();
  for (const fd of p) openFds.add(fd);
  return p;
}
function closeFd(fd: number): void {
  if (openFds.delete(fd)) sys.close(fd);
}
function runtime(options: Omit<RuntimeOptions, 'backend'> = {}): Runtime {
  const rt = createRuntime({ backend: epoll(), ...options });
  runtimes.push(rt);
  return rt;
}

afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.close().catch(() => {});
  for (const fd of openFds) {
    try {
      sys.close(fd);
    } catch {
      // Closed by the test.
    }
  }
  openFds.clear();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}

/** The error `fn` throws (fails the test if it does not throw). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

function expectCode(err: unknown, code: string): void {
  expect(err).toBeInstanceOf(FdloopError);
  expect((err as FdloopError).code).toBe(code);
}

/** The runtime still works and holds nothing: no watcher, nothing pending, run() resolves. */
async function expectClean(rt: Runtime): Promise<void> {
  expect(rt.watcherCount).toBe(0);
  expect(rt.pendingCount).toBe(0);
  await rt.run();
  const [r, w] = pipe();
  sys.write(w, Buffer.from('still works'));
  expect((await rt.readable(r)).readable).toBe(true);
}

describe('bad descriptors', () => {
  it('a negative, fractional or non-numeric fd is ERR_FDLOOP_INVALID_ARGUMENT (checked before any system call)', async () => {
    const rt = runtime();
    for (const fd of [-1, -9, 1.5, Number.NaN, Infinity, 2 ** 31, '3' as unknown as number, undefined as unknown as number]) {
      const err = thrown(() => rt.watch(fd, Interest.READABLE, () => {}));
      expectCode(err, 'ERR_FDLOOP_INVALID_ARGUMENT');
      expect((err as { argument?: string }).argument).toBe('fd');
      await expect(rt.readable(fd)).rejects.toMatchObject({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' });
      expect(() => rt.events(fd)).toThrowError(expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }));
    }
    await expectClean(rt);
  });

  it('a closed fd is an ErrnoError EBADF (errno -9, syscall epoll_ctl), for watch, readable() and events()', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    closeFd(r);
    closeFd(w);
    // Make sure the number is not reused by something else (the poller's own descriptor exists already).
    const err = thrown(() => rt.watch(r, Interest.READABLE, () => {}));
    expect(err).toBeInstanceOf(ErrnoError);
    expect(err).toMatchObject({ code: 'EBADF', errno: -9, syscall: 'epoll_ctl', fd: r });
    expect((err as Error).message).toMatch(/^epoll_ctl EBADF/);
    await expect(rt.readable(r)).rejects.toMatchObject({ code: 'EBADF', errno: -9, syscall: 'epoll_ctl' });
    await expect(rt.writable(r)).rejects.toBeInstanceOf(ErrnoError);
    expect(() => rt.events(r)).toThrowError(expect.objectContaining({ code: 'EBADF', syscall: 'epoll_ctl' }));
    await expectClean(rt);
  });

  it('a valid but never opened fd number is EBADF as well', async () => {
    const rt = runtime();
    expect(() => rt.watch(19_999, Interest.READABLE, () => {})).toThrowError(expect.objectContaining({ code: 'EBADF', errno: -9 }));
    await expectClean(rt);
  });

  it('a regular file is EPERM from epoll_ctl (epoll cannot poll regular files), and nothing stays registered', async () => {
    const rt = runtime();
    const dir = mkdtempSync(join(tmpdir(), 'fdloop-'));
    const file = join(dir, 'regular.txt');
    writeFileSync(file, 'data');
    const fd = openSync(file, 'r');
    try {
      const err = thrown(() => rt.watch(fd, Interest.READABLE, () => {}));
      expect(err).toBeInstanceOf(ErrnoError);
      expect(err).toMatchObject({ code: 'EPERM', errno: -1, syscall: 'epoll_ctl', fd });
      // The failed watch left nothing behind: the same call fails the same way, not with ALREADY_WATCHED.
      expect(() => rt.watch(fd, Interest.READABLE, () => {})).toThrowError(expect.objectContaining({ code: 'EPERM' }));
      await expect(rt.readable(fd)).rejects.toMatchObject({ code: 'EPERM' });
      await expectClean(rt);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a directory is EPERM too', async () => {
    const rt = runtime();
    const fd = openSync(tmpdir(), 'r');
    try {
      expect(() => rt.watch(fd, Interest.READABLE, () => {})).toThrowError(expect.objectContaining({ code: 'EPERM', syscall: 'epoll_ctl' }));
    } finally {
      closeSync(fd);
    }
    await expectClean(rt);
  });
});

describe('descriptors closed behind the runtime\'s back', () => {
  it('closing the descriptor before its watcher: modify() is EBADF, close() still succeeds, the number can be watched again', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    const watcher = rt.watch(r, Interest.READABLE, () => {});
    closeFd(r);
    expect(() => watcher.modify(Interest.READABLE | Interest.EDGE)).toThrowError(
      expect.objectContaining({ code: 'EBADF', errno: -9, syscall: 'epoll_ctl' }),
    );
    // The kernel dropped the registration with the descriptor; close() accepts that.
    expect(() => watcher.close()).not.toThrow();
    expect(watcher.closed).toBe(true);
    closeFd(w);
    await expectClean(rt);
  });

  it('closing the descriptor before its watcher, with the number already reused: close() does not touch the new descriptor', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    const old = rt.watch(r, Interest.READABLE, () => {});
    closeFd(r);
    const [reused, reusedW] = pipe();
    expect(reused).toBe(r);
    // epoll_ctl(DEL) now names a descriptor this poller never registered (ENOENT): accepted as "already gone".
    expect(() => old.close()).not.toThrow();
    const got: string[] = [];
    rt.watch(reused, Interest.READABLE, () => {
      const buf = Buffer.alloc(8);
      got.push(buf.subarray(0, sys.read(reused, buf)).toString());
    });
    sys.write(reusedW, Buffer.from('new'));
    await waitUntil(() => got.length === 1, 'the new watcher');
    expect(got).toEqual(['new']);
    closeFd(w);
  });

  it('closing the descriptor before its watcher, with the number reused by a regular file: close() does not throw (EPERM)', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    const old = rt.watch(r, Interest.READABLE, () => {});
    closeFd(r);
    const dir = mkdtempSync(join(tmpdir(), 'fdloop-reuse-'));
    const file = openSync(join(dir, 'plain'), 'w');
    try {
      expect(file).toBe(r);
      // epoll_ctl(DEL) on a regular file is EPERM: the registration went with the old descriptor, close() accepts it.
      expect(() => old.close()).not.toThrow();
      expect(old.closed).toBe(true);
    } finally {
      closeSync(file);
      rmSync(dir, { recursive: true, force: true });
      closeFd(w);
    }
    await expectClean(rt);
  });

  it("watching the runtime's own poller descriptor is a typed ErrnoError (EINVAL), not a crash", async () => {
    const epollFds = (): Set<string> => {
      const found = new Set<string>();
      for (const name of readdirSync('/proc/self/fd')) {
        try {
          if (readlinkSync(`/proc/self/fd/${name}`) === 'anon_inode:[eventpoll]') found.add(name);
        } catch {
          // Gone meanwhile.
        }
      }
      return found;
    };
    const before = epollFds();
    const rt = runtime();
    const mine = [...epollFds()].filter((fd) => !before.has(fd)).map(Number);
    expect(mine).toHaveLength(1);
    const own = mine[0] as number;
    expect(() => rt.watch(own, Interest.READABLE, () => {})).toThrowError(
      expect.objectContaining({ code: 'EINVAL', errno: -22, syscall: 'epoll_ctl', fd: own }),
    );
    await expectClean(rt);
  });
});

describe('bad interest and callbacks', () => {
  it('an empty interest, modes without a condition, unknown bits or a non-number are ERR_FDLOOP_INVALID_ARGUMENT', async () => {
    const rt = runtime();
    const [r] = pipe();
    const bad = [0, Interest.EDGE, Interest.ONESHOT, Interest.EDGE | Interest.ONESHOT, 64, Interest.READABLE | 32, -1, 1.5, Number.NaN, '1' as unknown as number];
    for (const interest of bad) {
      const err = thrown(() => rt.watch(r, interest, () => {}));
      expectCode(err, 'ERR_FDLOOP_INVALID_ARGUMENT');
      expect((err as { argument?: string }).argument).toBe('interest');
      await expect(rt.wait(r, interest)).rejects.toMatchObject({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' });
    }
    expect((thrown(() => rt.watch(r, 0, () => {})) as Error).message).toMatch(/cannot be empty/);
    await expectClean(rt);
  });

  it('modify() with a bad interest throws and leaves the watcher working with its old interest', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    let calls = 0;
    const watcher = rt.watch(r, Interest.READABLE | Interest.ONESHOT, () => {
      calls += 1;
    });
    expect(() => watcher.modify(0)).toThrowError(expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }));
    expect(() => watcher.modify(Interest.READABLE, 'nope' as unknown as () => void)).toThrowError(
      expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }),
    );
    expect(watcher.interest).toBe(Interest.READABLE | Interest.ONESHOT);
    sys.write(w, Buffer.from('x'));
    await waitUntil(() => calls === 1, 'the event');
  });

  it('a callback that is not a function is ERR_FDLOOP_INVALID_ARGUMENT', async () => {
    const rt = runtime();
    const [r] = pipe();
    expect(() => rt.watch(r, Interest.READABLE, undefined as unknown as () => void)).toThrowError(
      expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }),
    );
    expect(() => rt.setTimeout(42 as unknown as () => void, 1)).toThrowError(expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }));
    expect(() => rt.setImmediate(null as unknown as () => void)).toThrowError(expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }));
    await expectClean(rt);
  });
});

describe('watching twice', () => {
  it('a second watch of the same fd is ERR_FDLOOP_ALREADY_WATCHED; after closing the first it works again', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    const first = rt.watch(r, Interest.READABLE, () => {});
    const err = thrown(() => rt.watch(r, Interest.WRITABLE, () => {}));
    expectCode(err, 'ERR_FDLOOP_ALREADY_WATCHED');
    expect(err).toMatchObject({ fd: r });
    await expect(rt.readable(r)).rejects.toMatchObject({ code: 'ERR_FDLOOP_ALREADY_WATCHED' });
    expect(() => rt.events(r)).toThrowError(expect.objectContaining({ code: 'ERR_FDLOOP_ALREADY_WATCHED' }));
    expect(rt.watcherCount).toBe(1);
    first.close();
    first.close();
    const seen: string[] = [];
    const second = rt.watch(r, Interest.READABLE, () => {
      const buf = Buffer.alloc(8);
      seen.push(buf.subarray(0, sys.read(r, buf)).toString());
    });
    sys.write(w, Buffer.from('again'));
    await waitUntil(() => seen.length === 1, 'the second watcher');
    expect(seen).toEqual(['again']);
    second.close();
    await expectClean(rt);
  });

  it('two runtimes may watch the same fd (one watcher per runtime, not per process)', async () => {
    const a = runtime();
    const b = runtime();
    const [r, w] = pipe();
    const p1 = a.readable(r);
    const p2 = b.readable(r);
    sys.write(w, Buffer.from('x'));
    const [e1, e2] = await Promise.all([p1, p2]);
    expect(e1.readable && e2.readable).toBe(true);
  });
});

describe('after close()', () => {
  it('everything that starts work is ERR_FDLOOP_RUNTIME_CLOSED; watcher.modify is ERR_FDLOOP_WATCHER_CLOSED', async () => {
    const rt = runtime();
    const [r] = pipe();
    const watcher = rt.watch(r, Interest.READABLE, () => {});
    const timer = rt.setTimeout(() => {}, 1000);
    await rt.close();
    expect(rt.closed).toBe(true);
    expect(watcher.closed).toBe(true);
    expect(timer.active).toBe(false);
    const closedCode = expect.objectContaining({ code: 'ERR_FDLOOP_RUNTIME_CLOSED' });
    expect(() => rt.watch(r, Interest.READABLE, () => {})).toThrowError(closedCode);
    expect(() => rt.setTimeout(() => {}, 1)).toThrowError(closedCode);
    expect(() => rt.setInterval(() => {}, 1)).toThrowError(closedCode);
    expect(() => rt.setImmediate(() => {})).toThrowError(closedCode);
    expect(() => rt.events(r)).toThrowError(closedCode);
    expect(() => timer.refresh()).toThrowError(closedCode);
    await expect(rt.readable(r)).rejects.toMatchObject({ code: 'ERR_FDLOOP_RUNTIME_CLOSED' });
    await expect(rt.writable(r)).rejects.toMatchObject({ code: 'ERR_FDLOOP_RUNTIME_CLOSED' });
    await expect(rt.sleep(1)).rejects.toMatchObject({ code: 'ERR_FDLOOP_RUNTIME_CLOSED' });
    await expect(rt.run()).rejects.toMatchObject({ code: 'ERR_FDLOOP_RUNTIME_CLOSED' });
    await expect(rt.run(() => {})).rejects.toMatchObject({ code: 'ERR_FDLOOP_RUNTIME_CLOSED' });
    const modifyErr = thrown(() => watcher.modify(Interest.WRITABLE));
    expectCode(modifyErr, 'ERR_FDLOOP_WATCHER_CLOSED');
    // Harmless after close: closing again, closing handles, unref/ref.
    await expect(rt.close()).resolves.toBeUndefined();
    watcher.close();
    watcher.unref().ref();
    timer.cancel();
    timer.unref().ref();
  });

  it('modify() of a watcher closed by itself is ERR_FDLOOP_WATCHER_CLOSED', () => {
    const rt = runtime();
    const [r] = pipe();
    const watcher = rt.watch(r, Interest.READABLE, () => {});
    watcher.close();
    expect(watcher.closed).toBe(true);
    expect(() => watcher.modify(Interest.READABLE)).toThrowError(expect.objectContaining({ code: 'ERR_FDLOOP_WATCHER_CLOSED' }));
  });
});

describe('backends and options', () => {
  it('an unknown backend name is ERR_FDLOOP_UNKNOWN_BACKEND naming the known ones', () => {
    const err = thrown(() => createRuntime({ backend: 'no-such-backend' }));
    expectCode(err, 'ERR_FDLOOP_UNKNOWN_BACKEND');
    expect((err as Error).message).toContain('epoll');
    expect(err).toMatchObject({ backendName: 'no-such-backend' });
  });

  it('a bad batch size, onError or epoll option is ERR_FDLOOP_INVALID_ARGUMENT', () => {
    for (const batchSize of [0, -1, 1.5, 65537]) {
      expect(() => createRuntime({ backend: epoll(), batchSize })).toThrowError(expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }));
    }
    expect(() => createRuntime({ backend: epoll(), onError: 'log' as unknown as () => void })).toThrowError(
      expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }),
    );
    expect(() => epoll({ maxRounds: 0 })).toThrowError(expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }));
  });
});

describe('timer delays', () => {
  it('NaN, negative and infinite delays are ERR_FDLOOP_INVALID_ARGUMENT; nothing is scheduled', async () => {
    const rt = runtime();
    for (const delay of [Number.NaN, -1, -0.5, Infinity, '10' as unknown as number]) {
      const err = thrown(() => rt.setTimeout(() => {}, delay));
      expectCode(err, 'ERR_FDLOOP_INVALID_ARGUMENT');
      expect((err as { argument?: string }).argument).toBe('delay');
      expect(() => rt.setInterval(() => {}, delay)).toThrowError(expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }));
      await expect(rt.sleep(delay)).rejects.toMatchObject({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' });
    }
    expect(rt.pendingCount).toBe(0);
    await expectClean(rt);
  });
});

describe('callbacks that throw', () => {
  it('with onError: the error arrives with {source: "watcher", fd}, the rest of the batch is delivered, the watcher keeps working', async () => {
    const errors: Array<{ error: unknown; context: ErrorContext }> = [];
    const lines: string[] = [];
    const rt = runtime({ onError: (error, context) => errors.push({ error, context }), trace: { output: (l) => lines.push(l) } });
    const pipes = [pipe(), pipe(), pipe()];
    const calls: number[] = [];
    let thrower = -1;
    pipes.forEach(([r], i) =>
      rt.watch(r, Interest.READABLE, () => {
        calls.push(i);
        sys.read(r, Buffer.alloc(16));
        // The first callback of each batch throws.
        if (thrower === -1 || thrower === i) {
          thrower = i;
          throw new Error(`boom ${i}`);
        }
      }),
    );
    for (const [, w] of pipes) sys.write(w, Buffer.from('x'));
    await waitUntil(() => calls.length === 3, 'all three callbacks');
    expect(lines.some((l) => l.includes('poll: 3 events'))).toBe(true);
    expect(new Set(calls)).toEqual(new Set([0, 1, 2]));
    expect(errors).toHaveLength(1);
    expect((errors[0]?.error as Error).message).toBe(`boom ${thrower}`);
    expect(errors[0]?.context).toEqual({ source: 'watcher', fd: pipes[thrower]?.[0] });
    // The watcher that threw is still registered and is called again for new data.
    sys.write(pipes[thrower]?.[1] as number, Buffer.from('y'));
    await waitUntil(() => calls.length === 4, 'the throwing watcher again');
    expect(calls[3]).toBe(thrower);
    expect(errors).toHaveLength(2);
    expect(rt.watcherCount).toBe(3);
  });

  it('with onError: timers and immediates report {source: "timer"} / {source: "immediate"}; an interval keeps going', async () => {
    const errors: Array<{ message: string; context: ErrorContext }> = [];
    const rt = runtime({ onError: (error, context) => errors.push({ message: (error as Error).message, context }) });
    let ticks = 0;
    const interval = rt.setInterval(() => {
      ticks += 1;
      if (ticks === 3) interval.cancel();
      throw new Error(`interval ${ticks}`);
    }, 2);
    rt.setTimeout(() => {
      throw new Error('timeout');
    }, 1);
    rt.setImmediate(() => {
      throw new Error('immediate');
    });
    await rt.run();
    expect(ticks).toBe(3);
    expect(errors).toContainEqual({ message: 'timeout', context: { source: 'timer' } });
    expect(errors).toContainEqual({ message: 'immediate', context: { source: 'immediate' } });
    expect(errors.filter((e) => e.context.source === 'timer' && e.message.startsWith('interval'))).toHaveLength(3);
  });

  it('with onError: a throwing callback does not break run() or later batches', async () => {
    const rt = runtime({ onError: () => {} });
    const [r, w] = pipe();
    await rt.run(async () => {
      const watcher = rt.watch(r, Interest.READABLE, () => {
        sys.read(r, Buffer.alloc(8));
        watcher.close();
        throw new Error('after close');
      });
      sys.write(w, Buffer.from('x'));
    });
    expect(rt.watcherCount).toBe(0);
  });

  const fixture = fileURLToPath(new URL('./fixtures/runtime-uncaught.mjs', import.meta.url));
  const runFixture = (mode: string) => {
    const result = spawnSync(process.execPath, [fixture, mode], { encoding: 'utf8', timeout: 15_000 });
    const lines = result.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { ...result, lines };
  };

  it('without onError: the error reaches process "uncaughtException" (child process), the batch and the watcher carry on', () => {
    const { status, signal, stderr, lines } = runFixture('handled');
    expect(signal, stderr).toBeNull();
    expect(status, stderr).toBe(0);
    const uncaught = lines.filter((l) => 'uncaught' in l);
    const messages = uncaught.map((l) => l['uncaught'] as string).sort();
    expect(messages).toHaveLength(2);
    expect(messages[0]).toBe('boom from timer');
    expect(messages[1]).toMatch(/^boom from watcher [01]$/);
    expect(uncaught.every((l) => l['origin'] === 'uncaughtException')).toBe(true);
    const summary = lines.at(-1) as { calls: number[]; uncaughtCount: number };
    expect(summary.uncaughtCount).toBe(2);
    // Both watchers were called in the first batch despite the throw, and both again for the second write.
    expect(summary.calls.slice(0, 2).sort()).toEqual([0, 1]);
    expect(summary.calls.slice(2).sort()).toEqual([0, 1]);
  });

  it('without onError and without a handler: the process dies of the error like any uncaught exception', () => {
    const { status, stderr, lines } = runFixture('unhandled');
    expect(status).toBe(1);
    expect(stderr).toMatch(/Error: boom from watcher [01]/);
    // It died before reaching its summary.
    expect(lines.some((l) => 'calls' in l)).toBe(false);
  });

  it('an onError handler that throws: its error reaches "uncaughtException" (child process)', () => {
    const { status, stderr, lines } = runFixture('handler-throws');
    expect(status, stderr).toBe(0);
    const handled = lines.filter((l) => 'onError' in l);
    expect(handled.length).toBeGreaterThanOrEqual(1);
    expect(handled[0]?.['context']).toMatchObject({ source: 'watcher' });
    const uncaught = lines.filter((l) => 'uncaught' in l);
    expect(uncaught[0]?.['uncaught']).toMatch(/^handler failed while handling: boom from watcher [01]$/);
  });
});
