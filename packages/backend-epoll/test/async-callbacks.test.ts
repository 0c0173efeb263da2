// `async` callbacks on the epoll backend: a callback that returns a rejected promise is routed exactly like one
// that throws — to onError with the same context, or (without onError) rethrown as an uncaught exception — at
// every kind of call site: watchers, setTimeout/setInterval/setImmediate, each event source, ownFd libraries,
// module callback APIs and pool tasks. Real pipes, timerfds, eventfds and inotify throughout.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Interest,
  callbackApi,
  createRuntime,
  defineModule,
  ownFd,
  withCallback,
  type ErrorContext,
  type Runtime,
} from '@fdloop/core';
import { epoll, sys } from '../src/index.js';

interface Reported {
  readonly message: string;
  readonly context: ErrorContext;
}

const runtimes: Runtime[] = [];
const fds: number[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const rt of runtimes.splice(0)) await rt.close().catch(() => {});
  for (const fd of fds.splice(0)) {
    try {
      sys.close(fd);
    } catch {
      // Closed by the test.
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A runtime whose onError records what it receives. */
function recording(): { rt: Runtime; reported: Reported[] } {
  const reported: Reported[] = [];
  const rt = createRuntime({
    backend: epoll(),
    onError: (error, context) => reported.push({ message: (error as Error).message, context }),
  });
  runtimes.push(rt);
  return { rt, reported };
}

function pipe(): [number, number] {
  const p = sys.pipe();
  fds.push(...p);
  return p;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}

/** An async callback body: yields once (so the rejection really is asynchronous), then throws. */
async function rejectLater(message: string): Promise<void> {
  await Promise.resolve();
  throw new Error(message);
}

describe('a rejected promise from a callback goes to onError like a throw', () => {
  it('watcher: context { source: "watcher", fd }, and the watcher keeps being called', async () => {
    const { rt, reported } = recording();
    const [r, w] = pipe();
    const buf = Buffer.alloc(16);
    let calls = 0;
    rt.watch(r, Interest.READABLE, async () => {
      calls++;
      sys.read(r, buf);
      await rejectLater(`watcher ${calls}`);
    });
    sys.write(w, Buffer.from('a'));
    await waitUntil(() => reported.length === 1, 'the first rejection');
    sys.write(w, Buffer.from('b'));
    await waitUntil(() => reported.length === 2, 'the second rejection');
    expect(reported).toEqual([
      { message: 'watcher 1', context: { source: 'watcher', fd: r } },
      { message: 'watcher 2', context: { source: 'watcher', fd: r } },
    ]);
  });

  it('a rejection and a throw in the same batch both arrive, and the rest of the batch is delivered', async () => {
    const { rt, reported } = recording();
    const [r1, w1] = pipe();
    const [r2, w2] = pipe();
    const [r3, w3] = pipe();
    const buf = Buffer.alloc(16);
    const called: number[] = [];
    rt.watch(r1, Interest.READABLE, async (_ev, watcher) => {
      called.push(1);
      sys.read(r1, buf);
      watcher.close();
      throw new Error('async one');
    });
    rt.watch(r2, Interest.READABLE, (_ev, watcher) => {
      called.push(2);
      sys.read(r2, buf);
      watcher.close();
      throw new Error('sync two');
    });
    rt.watch(r3, Interest.READABLE, (_ev, watcher) => {
      called.push(3);
      sys.read(r3, buf);
      watcher.close();
    });
    for (const w of [w1, w2, w3]) sys.write(w, Buffer.from('x'));
    await waitUntil(() => reported.length === 2, 'both errors');
    expect(called.sort()).toEqual([1, 2, 3]);
    expect(reported.map((r) => r.message).sort()).toEqual(['async one', 'sync two']);
  });

  it('setTimeout, setInterval and setImmediate: contexts "timer" and "immediate"; the interval keeps its schedule', async () => {
    const { rt, reported } = recording();
    rt.setTimeout(async () => rejectLater('timeout'), 1);
    let ticks = 0;
    const interval = rt.setInterval(async () => {
      ticks++;
      if (ticks <= 2) await rejectLater(`interval ${ticks}`);
    }, 2);
    rt.setImmediate(async (what: string) => rejectLater(what), 'immediate');
    await waitUntil(() => ticks >= 4 && reported.length === 4, 'four errors and more interval ticks');
    interval.cancel();
    const byMessage = Object.fromEntries(reported.map((r) => [r.message, r.context]));
    expect(byMessage).toEqual({
      timeout: { source: 'timer' },
      'interval 1': { source: 'timer' },
      'interval 2': { source: 'timer' },
      immediate: { source: 'immediate' },
    });
  });

  it('event sources (kernel timer, notifier, path watch): context "source", and the source keeps delivering', async () => {
    const { rt, reported } = recording();
    const timer = rt.timer({ delay: 1 }, async () => rejectLater('kernel timer'));
    let notified = 0;
    const notifier = rt.notifier({ semaphore: true }, async (ev) => {
      notified += ev.count;
      await rejectLater(`notifier ${notified}`);
    });
    const dir = mkdtempSync(join(tmpdir(), 'fdloop-async-'));
    dirs.push(dir);
    const watch = rt.watchPath(dir, async (ev) => {
      if (ev.kind === 'create') await rejectLater(`path ${ev.path}`);
    });
    notifier.notify(2);
    writeFileSync(join(dir, 'f'), 'x');
    await waitUntil(() => reported.length === 4, 'four source errors');
    expect(notified).toBe(2);
    expect(reported.map((r) => r.message).sort()).toEqual(['kernel timer', 'notifier 1', 'notifier 2', `path ${join(dir, 'f')}`]);
    expect(reported.every((r) => r.context.source === 'source')).toBe(true);
    timer.close();
    notifier.close();
    watch.close();
  });

  it('ownFd: a library whose read, write and misc are async (contexts watcher, watcher, timer); it stays driven', async () => {
    const { rt, reported } = recording();
    const [r, w] = pipe();
    const buf = Buffer.alloc(16);
    let wantWrite = true;
    let reads = 0;
    const owned = ownFd(
      rt,
      {
        fd: () => r,
        wantWrite: () => wantWrite,
        read: async () => {
          reads++;
          sys.read(r, buf);
          await rejectLater(`read ${reads}`);
        },
        write: async () => {
          wantWrite = false;
          await rejectLater('write');
        },
        misc: async () => rejectLater('misc'),
      },
      { miscInterval: 5 },
    );
    // A pipe's read end is never writable: watch the write end for the write callback instead.
    const ownedWrite = ownFd(rt, {
      fd: () => w,
      wantWrite: () => wantWrite,
      read: () => {},
      write: async () => {
        wantWrite = false;
        await rejectLater('write');
      },
    });
    sys.write(w, Buffer.from('x'));
    await waitUntil(() => reported.some((x) => x.message === 'read 1') && reported.some((x) => x.message === 'write') && reported.some((x) => x.message === 'misc'), 'read, write and misc errors');
    sys.write(w, Buffer.from('y'));
    await waitUntil(() => reported.some((x) => x.message === 'read 2'), 'the second read error');
    owned.close();
    ownedWrite.close();
    const find = (message: string): ErrorContext | undefined => reported.find((x) => x.message === message)?.context;
    expect(find('read 1')).toEqual({ source: 'watcher', fd: r });
    expect(find('write')).toEqual({ source: 'watcher', fd: w });
    expect(find('misc')).toEqual({ source: 'timer' });
  });

  it('module callback API (callbackApi of rt.use): throws and rejections of its callbacks reach onError as "module"', async () => {
    const { rt, reported } = recording();
    const api = rt.use(defineModule('echo', () => ({ echo: async (value: string) => value })));
    const cb = callbackApi(api);
    const got: string[] = [];
    cb.echo('sync', (_err, value) => {
      got.push(value as string);
      throw new Error('thrown from callback');
    });
    cb.echo('async', async (_err, value) => {
      got.push(value as string);
      await rejectLater('rejected from callback');
    });
    await waitUntil(() => reported.length === 2, 'both callback errors');
    expect(got.sort()).toEqual(['async', 'sync']);
    expect(reported.map((r) => r.message).sort()).toEqual(['rejected from callback', 'thrown from callback']);
    expect(reported.every((r) => r.context.source === 'module')).toBe(true);
  });

  it('withCallback(promise, cb, runtime): a module author passes its runtime and gets the same routing', async () => {
    const { rt, reported } = recording();
    withCallback(Promise.resolve(1), async () => rejectLater('from withCallback'), rt);
    await waitUntil(() => reported.length === 1, 'the rejection');
    expect(reported[0]).toEqual({ message: 'from withCallback', context: { source: 'module' } });
  });

  it('pool task: an async task that rejects rejects the caller, with the error, and the pool goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fdloop-async-task-'));
    dirs.push(dir);
    const file = join(dir, 'tasks.mjs');
    writeFileSync(file, "export async function fail(input) { await null; throw new Error(`task ${input}`); }\nexport const ok = (x) => x * 2;\n");
    const { rt, reported } = recording();
    const api = rt.use(
      defineModule('tasks', (ctx) => {
        const fail = ctx.task<string, never>(file, 'fail');
        const ok = ctx.task<number, number>(file, 'ok');
        return { fail: (x: string) => ctx.run(fail, x), ok: (x: number) => ctx.run(ok, x) };
      }),
    );
    await expect(api.fail('one')).rejects.toThrow('task one');
    expect(await api.ok(21)).toBe(42);
    expect(reported).toEqual([]);
  });
});

describe('without onError: a rejected promise is rethrown like a thrown exception (child process)', () => {
  const fixture = fileURLToPath(new URL('./fixtures/async-uncaught.mjs', import.meta.url));

  function runChild(mode: string): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [fixture, mode], { encoding: 'utf8', timeout: 20_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('each kind of callback reaches "uncaughtException", none becomes an "unhandledRejection"', () => {
    const r = runChild('handled');
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const summary = lines.at(-1) as { uncaught: string[]; unhandled: string[] };
    expect(summary.unhandled).toEqual([]);
    expect(summary.uncaught.sort()).toEqual(['immediate', 'kernel timer', 'module callback', 'timeout', 'watcher', 'withCallback without runtime']);
  });

  it('with no handler at all the process dies of the error, as it would for a throw', () => {
    const r = runChild('unhandled');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('async watcher failed');
    expect(r.stdout).not.toContain('survived');
  });
});
