// The life cycle of a runtime on the epoll backend: run() until nothing ref'd is pending, ref/unref (for run()
// and for Node itself, checked in child processes), run(main) errors, concurrent run(), close() in the middle of
// things, `await using`, and backend auto-detection.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Interest, createRuntime, type ReadyEvent, type Runtime, type RuntimeOptions } from '@fdloop/core';
import { epoll, sys } from '../src/index.js';

const openFds = new Set<number>();
const runtimes: Runtime[] = [];

function pipe(): [number, number] {
  const p = sys.pipe();
  for (const fd of p) openFds.add(fd);
  return p;
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

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  await sleep(30);
}

/** Track whether a promise has settled, without awaiting it. */
function observe<T>(p: Promise<T>): { readonly done: boolean; readonly error: unknown; promise: Promise<T> } {
  const state = { done: false, error: undefined as unknown, promise: p };
  p.then(
    () => {
      state.done = true;
    },
    (err: unknown) => {
      state.done = true;
      state.error = err;
    },
  );
  return state;
}

describe('run() until nothing ref\'d is pending', () => {
  it('resolves right after the last ref\'d watcher closes, not before', async () => {
    const rt = runtime();
    const [r1] = pipe();
    const [r2] = pipe();
    const order: string[] = [];
    const w1 = rt.watch(r1, Interest.READABLE, () => {});
    const w2 = rt.watch(r2, Interest.READABLE, () => {});
    rt.setTimeout(() => {
      order.push('close first');
      w1.close();
    }, 20);
    setTimeout(() => {
      order.push('close last');
      w2.close();
    }, 50);
    const started = Date.now();
    await rt.run().then(() => order.push('run resolved'));
    expect(order).toEqual(['close first', 'close last', 'run resolved']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('a ref\'d watcher that is never closed keeps run() pending; closing it lets run() resolve', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    let events = 0;
    const watcher = rt.watch(r, Interest.READABLE | Interest.EDGE, () => {
      events += 1;
    });
    const run = observe(rt.run());
    sys.write(w, Buffer.from('x'));
    await sleep(200);
    expect(run.done).toBe(false);
    expect(events).toBe(1);
    expect(rt.pendingCount).toBe(1);
    watcher.close();
    await run.promise;
    expect(rt.pendingCount).toBe(0);
  });

  it('unref\'d watchers, timers and immediates do not hold run(); ref() makes them hold it again', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    sys.write(w, Buffer.from('x'));
    let events = 0;
    const watcher = rt.watch(r, Interest.READABLE, () => {
      events += 1;
    }).unref();
    expect(watcher.hasRef()).toBe(false);
    const timer = rt.setTimeout(() => {}, 60_000).unref();
    const interval = rt.setInterval(() => {}, 60_000).unref();
    rt.setImmediate(() => {}).unref();
    expect(rt.pendingCount).toBe(0);
    await rt.run();
    // Unref'd is not disabled: the watcher was delivered its events meanwhile (or will be).
    await settle();
    expect(events).toBeGreaterThan(0);
    expect(timer.active && interval.active).toBe(true);

    watcher.ref();
    expect(rt.pendingCount).toBe(1);
    const run = observe(rt.run());
    await sleep(50);
    expect(run.done).toBe(false);
    watcher.unref();
    await run.promise;
    timer.cancel();
    interval.cancel();
  });

  it('run(main) waits for main\'s promise and for what it started', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    const order: string[] = [];
    await rt
      .run(async () => {
        order.push('main start');
        rt.setTimeout(() => {
          order.push('timer');
          sys.write(w, Buffer.from('x'));
        }, 20);
        const ev = await rt.readable(r);
        order.push(`readable ${ev.readable}`);
        await rt.sleep(10);
        order.push('main end');
      })
      .then(() => order.push('run resolved'));
    expect(order).toEqual(['main start', 'timer', 'readable true', 'main end', 'run resolved']);
  });

  it('run(main) rejects when main throws or rejects, and the runtime stays usable', async () => {
    const rt = runtime();
    await expect(
      rt.run(() => {
        throw new Error('sync failure');
      }),
    ).rejects.toThrow('sync failure');
    await expect(
      rt.run(async () => {
        await rt.sleep(5);
        throw new Error('async failure');
      }),
    ).rejects.toThrow('async failure');
    expect(rt.pendingCount).toBe(0);
    let ran = false;
    await rt.run(async () => {
      await rt.sleep(1);
      ran = true;
    });
    expect(ran).toBe(true);
  });

  it('a second run() while one is in progress is ERR_FDLOOP_ALREADY_RUNNING; the first is unaffected; run() again later works', async () => {
    const rt = runtime();
    const first = rt.run(async () => {
      await rt.sleep(30);
    });
    await expect(rt.run()).rejects.toMatchObject({ code: 'ERR_FDLOOP_ALREADY_RUNNING' });
    await expect(rt.run(() => {})).rejects.toMatchObject({ code: 'ERR_FDLOOP_ALREADY_RUNNING' });
    await first;
    await rt.run();
    await rt.run(() => rt.sleep(1));
  });

  it('run() with nothing to do resolves at once', async () => {
    const rt = runtime();
    await rt.run();
    await rt.run(() => {});
  });
});

describe('close()', () => {
  it('during run(): run() resolves, pending promises reject with ERR_FDLOOP_CANCELLED, no callback runs afterwards', async () => {
    const rt = runtime();
    const [r1, w1] = pipe();
    const [r2, w2] = pipe();
    const [r3, w3] = pipe();
    const called: string[] = [];
    rt.watch(r1, Interest.READABLE, () => called.push('watcher'));
    rt.setInterval(() => called.push('interval'), 5);
    rt.setTimeout(() => called.push('timeout'), 100);
    const readable = observe(rt.readable(r2));
    const sleeping = observe(rt.sleep(60_000));
    const iterator = rt.events(r3);
    const next = observe(iterator.next());
    const run = observe(rt.run());
    await sleep(30);
    expect(run.done).toBe(false);
    called.length = 0;
    await rt.close();
    await run.promise;
    expect(run.error).toBeUndefined();
    await Promise.allSettled([readable.promise, sleeping.promise, next.promise]);
    for (const p of [readable, sleeping, next]) expect(p.error).toMatchObject({ code: 'ERR_FDLOOP_CANCELLED' });
    expect(rt.watcherCount).toBe(0);
    expect(rt.pendingCount).toBe(0);
    for (const w of [w1, w2, w3]) sys.write(w, Buffer.from('x'));
    await sleep(150);
    expect(called).toEqual([]);
  });

  it('an events() iterator cancelled by close() rejects its pending next() once, then reports done', async () => {
    const rt = runtime();
    const [r] = pipe();
    const iterator = rt.events(r);
    const pending = iterator.next();
    await rt.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_FDLOOP_CANCELLED' });
    await expect(iterator.next()).resolves.toEqual({ value: undefined, done: true });
  });

  it('from inside a watcher callback: the rest of the batch is not delivered, run() resolves', async () => {
    const lines: string[] = [];
    const rt = runtime({ trace: { output: (l) => lines.push(l) } });
    const pipes = [pipe(), pipe(), pipe()];
    const calls: number[] = [];
    for (const [i, [r]] of pipes.entries()) {
      rt.watch(r, Interest.READABLE, () => {
        calls.push(i);
        void rt.close();
      });
    }
    for (const [, w] of pipes) sys.write(w, Buffer.from('x'));
    await rt.run();
    await settle();
    expect(lines.some((l) => l.includes('poll: 3 events'))).toBe(true);
    expect(calls).toHaveLength(1);
    expect(rt.closed).toBe(true);
  });

  it('from inside a timer callback: later timers of the same round do not run', async () => {
    const rt = runtime();
    const calls: string[] = [];
    rt.setTimeout(() => {
      calls.push('first');
      void rt.close();
    }, 5);
    rt.setTimeout(() => calls.push('second'), 5);
    rt.setImmediate(() => {});
    await rt.run();
    await sleep(30);
    expect(calls).toEqual(['first']);
  });

  it('is idempotent, and a runtime can be closed with nothing in it', async () => {
    const rt = runtime();
    await rt.close();
    await rt.close();
    expect(rt.closed).toBe(true);
  });
});

describe('disposal', () => {
  it('`await using` closes the runtime at the end of the block', async () => {
    const [r1] = pipe();
    const [r2] = pipe();
    let outer: Runtime | undefined;
    let pending: Promise<ReadyEvent> | undefined;
    {
      await using rt = createRuntime({ backend: epoll() });
      outer = rt;
      rt.watch(r1, Interest.READABLE, () => {});
      pending = rt.readable(r2);
      expect(rt.closed).toBe(false);
    }
    expect(outer.closed).toBe(true);
    expect(outer.watcherCount).toBe(0);
    await expect(pending).rejects.toMatchObject({ code: 'ERR_FDLOOP_CANCELLED' });
  });

  it('Symbol.asyncDispose is close(); `using` closes watchers and cancels timers', async () => {
    const rt = runtime();
    const [r, w] = pipe();
    let fired = false;
    {
      using watcher = rt.watch(r, Interest.READABLE, () => {});
      using timer = rt.setTimeout(() => {
        fired = true;
      }, 1);
      expect(watcher.closed || !timer.active).toBe(false);
    }
    expect(rt.watcherCount).toBe(0);
    expect(rt.pendingCount).toBe(0);
    sys.write(w, Buffer.from('x'));
    await sleep(20);
    expect(fired).toBe(false);
    await rt[Symbol.asyncDispose]();
    expect(rt.closed).toBe(true);
  });
});

describe('backend selection', () => {
  it('createRuntime() with no backend finds epoll on Linux, and it works', async () => {
    const rt = createRuntime();
    runtimes.push(rt);
    expect(rt.backend.name).toBe('epoll');
    expect(rt.backend.capabilities).toMatchObject({ edge: true, oneshot: true, priority: true, readHangup: true });
    const [r, w] = pipe();
    sys.write(w, Buffer.from('auto'));
    expect((await rt.readable(r)).readable).toBe(true);
  });

  it('createRuntime({ backend: "epoll" }) loads it by name', async () => {
    const rt = createRuntime({ backend: 'epoll' });
    runtimes.push(rt);
    expect(rt.backend.name).toBe('epoll');
    const [r, w] = pipe();
    sys.write(w, Buffer.from('named'));
    expect((await rt.readable(r)).readable).toBe(true);
  });
});

describe('keeping Node itself alive (child processes)', () => {
  const fixture = fileURLToPath(new URL('./fixtures/runtime-keepalive.mjs', import.meta.url));

  /** Run the fixture; the result says whether it exited by itself within `limitMs`. */
  function runFixture(mode: string, limitMs = 10_000): Promise<{ code: number | null; lines: Array<Record<string, unknown>>; stderr: string; killed: boolean }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [fixture, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      let killed = false;
      const guard = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, limitMs);
      child.once('error', reject);
      child.once('close', (code) => {
        clearTimeout(guard);
        const lines = stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        resolve({ code, lines, stderr, killed });
      });
    });
  }

  it('an idle runtime does not keep Node alive', async () => {
    const { code, killed, stderr } = await runFixture('idle');
    expect(killed).toBe(false);
    expect(code, stderr).toBe(0);
  });

  it('unref\'d watchers (even on a busy descriptor), timers, intervals and idle iterators do not keep Node alive', async () => {
    const { code, killed, lines, stderr } = await runFixture('unref');
    expect(killed).toBe(false);
    expect(code, stderr).toBe(0);
    expect(lines).toContainEqual({ scriptEnd: true });
    expect(lines.some((l) => 'fired' in l && l['fired'] !== 'immediate (unref)')).toBe(false);
    expect(lines.find((l) => 'exit' in l)).toMatchObject({ exit: 0 });
  });

  it('a ref\'d watcher keeps Node alive until it is closed', async () => {
    const { code, killed, lines, stderr } = await runFixture('ref');
    expect(killed).toBe(false);
    expect(code, stderr).toBe(0);
    // The closing line comes from an unref'd Node timer: it can only print if the watcher held the process.
    const closing = lines.findIndex((l) => 'closing' in l);
    const exit = lines.findIndex((l) => 'exit' in l);
    expect(closing).toBeGreaterThanOrEqual(0);
    expect(exit).toBeGreaterThan(closing);
    expect(lines[exit]?.['afterMs']).toBeGreaterThanOrEqual(250);
  });

  it('a ref\'d runtime timer keeps Node alive until it fires', async () => {
    const { code, lines, stderr } = await runFixture('ref-timer');
    expect(code, stderr).toBe(0);
    expect(lines).toContainEqual({ fired: 'timeout' });
  });

  it('a pending next() of events() keeps Node alive until its event arrives', async () => {
    const { code, lines, stderr } = await runFixture('ref-events');
    expect(code, stderr).toBe(0);
    expect(lines).toContainEqual({ event: true });
  });
});
