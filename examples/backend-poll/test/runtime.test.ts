// The @fdloop/core runtime on the poll backend: what the runtime adds on top of a level-triggered backend without
// native one-shot (the ONESHOT emulation, EDGE refused), lookup by registered name, close from a callback, and
// scale (1,000 watched pipes).
import { constants } from 'node:os';
import {
  ErrnoError,
  FdloopError,
  Interest,
  Ready,
  UnsupportedError,
  createRuntime,
  registerBackend,
  type ReadyEvent,
  type Runtime,
} from '@fdloop/core';
import { afterEach, describe, expect, it } from 'vitest';
import { poll } from '../src/index.js';
import { priorityPair, settle, sys, waitFor } from './helpers.js';

const runtimes: Runtime[] = [];
const fds: number[] = [];

afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.close();
  for (const fd of fds.splice(0)) {
    try {
      sys.close(fd);
    } catch {
      // Closed by the test.
    }
  }
});

function runtime(): Runtime {
  const rt = createRuntime({ backend: poll() });
  runtimes.push(rt);
  return rt;
}

function pipe(): [number, number] {
  const p = sys.pipe();
  fds.push(...p);
  return p;
}

describe('runtime on poll: ONESHOT emulation', () => {
  it('a ONESHOT watcher fires once although the data stays unread; modify() re-arms it', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    const seen: ReadyEvent[] = [];
    const watcher = rt.watch(r, Interest.READABLE | Interest.ONESHOT, (ev) => seen.push(ev));
    sys.write(w, Buffer.from('x'));
    await waitFor(() => seen.length === 1, 'the event');
    await settle();
    expect(seen.length).toBe(1);
    expect(watcher.armed).toBe(false);
    // Disarmed but still open: it keeps the runtime busy until closed.
    expect(rt.watcherCount).toBe(1);

    watcher.modify(Interest.READABLE | Interest.ONESHOT);
    expect(watcher.armed).toBe(true);
    await waitFor(() => seen.length === 2, 'the re-armed event');
    await settle();
    expect(seen.length).toBe(2);
    expect(seen.every((ev) => ev.readable && ev.fd === r)).toBe(true);

    // Switching to level-triggered from a disarmed state registers again and reports every turn.
    watcher.modify(Interest.READABLE);
    await waitFor(() => seen.length >= 5, 'level-triggered reports');
    watcher.close();
    const count = seen.length;
    await settle();
    expect(seen.length).toBe(count);
  });

  it('closing a disarmed ONESHOT watcher, and closing it after its descriptor, do not throw', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    let fired = 0;
    const watcher = rt.watch(r, Interest.READABLE | Interest.ONESHOT, () => {
      fired += 1;
    });
    sys.write(w, Buffer.from('x'));
    await waitFor(() => fired === 1, 'the event');
    watcher.close();

    const [r2, w2] = sys.pipe();
    fds.push(w2);
    const other = rt.watch(r2, Interest.READABLE, () => {});
    sys.close(r2);
    // The registration is still in the poll set; deregister removes it all the same.
    expect(() => other.close()).not.toThrow();
  });

  it('readable() 200 times in a row on one pipe (each wait registers, fires once, deregisters)', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    const buf = Buffer.alloc(8);
    await rt.run(async () => {
      for (let i = 0; i < 200; i++) {
        rt.setImmediate(() => sys.write(w, Buffer.from('x')));
        const ev = await rt.readable(r);
        expect(ev.readable).toBe(true);
        expect(sys.read(r, buf)).toBe(1);
      }
    });
    expect(rt.watcherCount).toBe(0);
  });

  it('events() delivers one event per next(), never flooding a slow consumer', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    sys.write(w, Buffer.from('abc'));
    let n = 0;
    for await (const ev of rt.events(r, Interest.READABLE)) {
      expect(ev.readable).toBe(true);
      n += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (n === 5) break;
    }
    expect(n).toBe(5);
    expect(rt.watcherCount).toBe(0);
  });
});

describe('runtime on poll: capabilities', () => {
  it('refuses EDGE with ERR_FDLOOP_UNSUPPORTED naming \'poll\'', () => {
    const rt = runtime();
    const [r] = pipe();
    const check = (fn: () => unknown): void => {
      let caught: unknown;
      try {
        fn();
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(UnsupportedError);
      expect(caught).toMatchObject({ code: 'ERR_FDLOOP_UNSUPPORTED', backend: 'poll' });
      expect((caught as Error).message).toMatch(/^backend 'poll' does not support edge/);
    };
    check(() => rt.watch(r, Interest.READABLE | Interest.EDGE, () => {}));
    check(() => rt.requireCapability('edge'));
    const watcher = rt.watch(r, Interest.READABLE, () => {});
    check(() => watcher.modify(Interest.READABLE | Interest.EDGE));
    // The failed modify left the watcher as it was.
    expect(watcher.interest).toBe(Interest.READABLE);
    watcher.close();
    expect(() => rt.requireCapability('priority')).not.toThrow();
  });

  it('PRIORITY through the runtime: TCP urgent data', async () => {
    const rt = runtime();
    const pair = priorityPair();
    try {
      const waiting = rt.wait(pair.fd, Interest.PRIORITY);
      pair.trigger();
      const ev = await waiting;
      expect(ev.priority).toBe(true);
      expect(ev.flags & Ready.PRIORITY).toBe(Ready.PRIORITY);
    } finally {
      pair.close();
    }
  });

  it('a backend error is a Node-shaped ErrnoError', () => {
    const rt = runtime();
    const [r, w] = sys.pipe();
    sys.close(r);
    sys.close(w);
    let caught: unknown;
    try {
      rt.watch(r, Interest.READABLE, () => {});
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ErrnoError);
    expect(caught).toMatchObject({ code: 'EBADF', errno: -constants.errno.EBADF, syscall: 'poll_ctl', fd: r });
    expect(rt.watcherCount).toBe(0);
  });

  it('is found by name once registered', async () => {
    registerBackend('poll', () => poll());
    const rt = createRuntime({ backend: 'poll' });
    runtimes.push(rt);
    expect(rt.backend.name).toBe('poll');
    const [r, w] = pipe();
    sys.write(w, Buffer.from('x'));
    const ev = await rt.readable(r);
    expect(ev.readable).toBe(true);
  });
});

describe('runtime on poll: close', () => {
  it('rt.close() from inside a watcher callback: no callback afterwards', async () => {
    const rt = runtime();
    const calls: number[] = [];
    for (let i = 0; i < 10; i++) {
      const [r, w] = pipe();
      sys.write(w, Buffer.from('x'));
      rt.watch(r, Interest.READABLE, () => {
        calls.push(i);
        void rt.close();
      });
    }
    await waitFor(() => calls.length > 0, 'the first callback');
    await settle();
    expect(calls.length).toBe(1);
    expect(rt.closed).toBe(true);
  });

  it('watcher.close() then closing the descriptor: the file is really closed (EPIPE for the writer)', async () => {
    const rt = runtime();
    for (let i = 0; i < 50; i++) {
      const [r, w] = sys.pipe();
      const watcher = rt.watch(r, Interest.READABLE, () => {});
      await new Promise((resolve) => setImmediate(resolve));
      watcher.close();
      sys.close(r);
      try {
        expect(() => sys.write(w, Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'EPIPE' }) as Error);
      } finally {
        sys.close(w);
      }
    }
  });

  it('pending promises reject with ERR_FDLOOP_CANCELLED when the runtime closes while the thread waits in poll(2)', async () => {
    const rt = runtime();
    const [r] = pipe();
    const p = rt.readable(r);
    await settle();
    await rt.close();
    await expect(p).rejects.toSatisfy((err: unknown) => err instanceof FdloopError && err.code === 'ERR_FDLOOP_CANCELLED');
  });
});

describe('runtime on poll: scale', () => {
  it('1,000 watched pipes, all written: every watcher hears its own pipe once it is written', async () => {
    const rt = runtime();
    const count = 1000;
    const pipes = Array.from({ length: count }, () => pipe());
    const heard = new Array<number>(count).fill(0);
    const buf = Buffer.alloc(16);
    await rt.run(() => {
      pipes.forEach(([r], i) => {
        const watcher = rt.watch(r, Interest.READABLE, (ev) => {
          expect(ev.fd).toBe(r);
          heard[i] = (heard[i] as number) + sys.read(r, buf);
          watcher.close();
        });
      });
      // Half now, half from a timer while the thread is polling 1,000 descriptors.
      pipes.slice(0, count / 2).forEach(([, w]) => sys.write(w, Buffer.from('x')));
      rt.setTimeout(() => pipes.slice(count / 2).forEach(([, w]) => sys.write(w, Buffer.from('y'))), 10);
    });
    expect(heard.every((n) => n === 1)).toBe(true);
    expect(rt.watcherCount).toBe(0);
  });
});
