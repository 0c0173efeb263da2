import { afterEach, describe, expect, it } from 'vitest';
import {
  CancelledError,
  InvalidArgumentError,
  PoolQueueFullError,
  PoolTaskLoadError,
  PoolWorkerExitedError,
  createThreadPool,
  print,
  setPrintOutput,
  taskKind,
  type ThreadPool,
} from '../src/index.js';

const FIXTURE = new URL('./fixtures/pool-tasks.mjs', import.meta.url);
const k = <I = unknown, O = unknown>(name: string) => taskKind<I, O>(FIXTURE, name);

const pools: ThreadPool[] = [];
function pool(options: Parameters<typeof createThreadPool>[0] = {}): ThreadPool {
  const p = createThreadPool(options);
  pools.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

function gate(): { gate: SharedArrayBuffer; view: Int32Array; open: () => void; started: (n: number) => Promise<void> } {
  const sab = new SharedArrayBuffer(8);
  const view = new Int32Array(sab);
  return {
    gate: sab,
    view,
    open: () => {
      Atomics.store(view, 0, 1);
      Atomics.notify(view, 0);
    },
    // Wait (without blocking the main thread) until n tasks entered block().
    started: async (n: number) => {
      while (Atomics.load(view, 1) < n) await new Promise((resolve) => setTimeout(resolve, 1));
    },
  };
}

describe('thread pool', () => {
  it('runs tasks on workers named pool-1…N and loads a task module once per worker', async () => {
    const p = pool({ size: 2 });
    const g = gate();
    const block = k<{ gate: SharedArrayBuffer; ms: number }, string>('block');
    const who = k<undefined, { thread: string; threadId: number; loads: number }>('whoami');
    // Occupy both workers so each starts, then ask each who it is through affinity.
    const blocked = [p.run(block, { gate: g.gate, ms: 10_000 }), p.run(block, { gate: g.gate, ms: 10_000 })];
    await g.started(2);
    expect(p.stats).toMatchObject({ workers: 2, running: 2, queued: 0 });
    g.open();
    expect(await Promise.all(blocked)).toEqual(['ok', 'ok']);
    const a = await p.run(who, undefined, { affinity: 0 });
    const b = await p.run(who, undefined, { affinity: 1 });
    const a2 = await p.run(who, undefined, { affinity: 0 });
    expect(a.thread).toBe('pool-1');
    expect(b.thread).toBe('pool-2');
    expect(a.threadId).not.toBe(b.threadId);
    expect(a2.threadId).toBe(a.threadId);
    expect(a.loads).toBe(1);
    expect(a2.loads).toBe(1);
  });

  it('moves transferable buffers both ways instead of copying', async () => {
    const p = pool({ size: 1 });
    const input = new Float64Array([1, 2, 3]);
    const len = await p.run(k<Float64Array, number>('inputByteLength'), input, { transfer: [input.buffer] });
    expect(len).toBe(24);
    expect(input.byteLength).toBe(0); // detached: it was moved
    const out = await p.run(k<Float64Array, Float64Array>('double'), new Float64Array([1.5, 2]));
    expect(Array.from(out)).toEqual([3, 4]);
  });

  it('rethrows task errors with their class, properties and both stacks', async () => {
    const p = pool({ size: 1 });
    const err = (await p.run(k<string, never>('throwsTyped'), 'errno').catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe("ENOENT: no such file or directory, open '/nope'");
    expect(err).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open', path: '/nope' });
    expect(err.stack).toContain('pool-tasks.mjs'); // the worker's frame
    expect(err.stack).toContain('<pool-1 task throwsTyped@pool-tasks.mjs>');
    expect(err.stack).toContain('pool.test.ts'); // the caller's frame
    const range = await p.run(k<string, never>('throwsTyped'), 'range').catch((e: unknown) => e);
    expect(range).toBeInstanceOf(RangeError);
    const str = (await p.run(k<string, never>('throwsTyped'), 'string').catch((e: unknown) => e)) as Error & { thrown: unknown };
    expect(str.message).toContain('non-error value');
    expect(str.thrown).toBe('a plain string');
  });

  it('reports a missing export or module as ERR_FDLOOP_POOL_TASK_LOAD and keeps the worker', async () => {
    const p = pool({ size: 1 });
    const e1 = await p.run(k('nope'), 1).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(PoolTaskLoadError);
    expect((e1 as PoolTaskLoadError).code).toBe('ERR_FDLOOP_POOL_TASK_LOAD');
    const e2 = await p.run(k('notAFunction'), 1).catch((e: unknown) => e);
    expect((e2 as Error).message).toContain('is number, not a function');
    const e3 = await p.run(taskKind(new URL('./fixtures/missing.mjs', import.meta.url), 'x'), 1).catch((e: unknown) => e);
    expect((e3 as Error).message).toContain('cannot load');
    expect(await p.run(k<number, number>('echo'), 7)).toBe(7);
    const e4 = await p.run(k('returnsFunction'), 1).catch((e: unknown) => e);
    expect((e4 as Error).name).toBe('DataCloneError');
  });

  it('rejects with PoolWorkerExitedError when a worker exits or crashes, and replaces it', async () => {
    const p = pool({ size: 1 });
    const exit = await p.run(k<number, never>('exits'), 3).catch((e: unknown) => e);
    expect(exit).toBeInstanceOf(PoolWorkerExitedError);
    expect(exit).toMatchObject({ code: 'ERR_FDLOOP_POOL_WORKER_EXITED', exitCode: 3, thread: 'pool-1' });
    const crash = (await p.run(k('crashesLater'), 0).catch((e: unknown) => e)) as PoolWorkerExitedError;
    expect(crash).toBeInstanceOf(PoolWorkerExitedError);
    expect((crash.cause as Error).message).toBe('uncaught in worker');
    expect(await p.run(k<string, string>('echo'), 'still works')).toBe('still works');
  });

  it('saturates: tasks beyond the workers queue in order, and the bound refuses or waits', async () => {
    const p = pool({ size: 1, maxQueue: 2, onFull: 'reject' });
    const g = gate();
    const block = k<{ gate: SharedArrayBuffer; ms: number }, string>('block');
    const echo = k<number, number>('echo');
    const running = p.run(block, { gate: g.gate, ms: 10_000 });
    await g.started(1);
    const q1 = p.run(echo, 1);
    const q2 = p.run(echo, 2);
    expect(p.stats).toMatchObject({ running: 1, queued: 2 });
    const refused = await p.run(echo, 3).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PoolQueueFullError);
    g.open();
    expect(await running).toBe('ok');
    expect(await Promise.all([q1, q2])).toEqual([1, 2]);

    const w = pool({ size: 1, maxQueue: 1 }); // onFull: 'wait'
    const g2 = gate();
    const r = w.run(block, { gate: g2.gate, ms: 10_000 });
    await g2.started(1);
    const a = w.run(echo, 1);
    const b = w.run(echo, 2); // waits for room
    await Promise.resolve();
    expect(w.stats).toMatchObject({ queued: 1, waiting: 1 });
    let readyResolved = false;
    const ready = w.ready().then(() => (readyResolved = true));
    await new Promise((res) => setImmediate(res));
    expect(readyResolved).toBe(false);
    g2.open();
    expect(await Promise.all([r, a, b, ready])).toEqual(['ok', 1, 2, true]);
  });

  it('cancels by AbortSignal: a queued task is dropped, a running one is told', async () => {
    const p = pool({ size: 1 });
    const g = gate();
    const block = k<{ gate: SharedArrayBuffer; ms: number }, string>('block');
    const echo = k<number, number>('echo');
    const running = p.run(block, { gate: g.gate, ms: 10_000 });
    await g.started(1);
    const ac = new AbortController();
    const queued = p.run(echo, 1, { signal: ac.signal });
    ac.abort(new Error('changed my mind'));
    await expect(queued).rejects.toThrow('changed my mind');
    expect(p.stats.queued).toBe(0);
    g.open();
    await running;

    const ac2 = new AbortController();
    const long = p.run(k<undefined, string>('untilAborted'), undefined, { signal: ac2.signal });
    await new Promise((res) => setTimeout(res, 0));
    ac2.abort(new Error('stop now'));
    await expect(long).rejects.toThrow('stop now');
    // The worker heard it, finished, and takes the next task.
    expect(await p.run(echo, 5)).toBe(5);
    await expect(p.run(echo, 1, { signal: AbortSignal.abort(new Error('already')) })).rejects.toThrow('already');
  });

  it('closes cleanly: queued and running tasks reject with CancelledError, workers exit', async () => {
    const p = pool({ size: 1 });
    const g = gate();
    const running = p.run(k<{ gate: SharedArrayBuffer; ms: number }, string>('block'), { gate: g.gate, ms: 10_000 });
    await g.started(1);
    const queued = p.run(k<number, number>('echo'), 1);
    const outcomes = Promise.allSettled([running, queued]);
    await p.close();
    const [r, q] = await outcomes;
    expect(r.status === 'rejected' && r.reason).toBeInstanceOf(CancelledError);
    expect(q.status === 'rejected' && q.reason).toBeInstanceOf(CancelledError);
    expect(p.stats).toMatchObject({ workers: 0, running: 0, queued: 0 });
    await expect(p.run(k('echo'), 1)).rejects.toBeInstanceOf(CancelledError);
    await p.close(); // idempotent
  });

  it('keeps per-worker state for tasks with the same affinity key', async () => {
    const p = pool({ size: 2 });
    const acc = k<{ key: string; value: number }, { sum: number; thread: string }>('accumulate');
    const results = await Promise.all([1, 2, 3, 4].map((value) => p.run(acc, { key: 'a', value }, { affinity: 7 })));
    expect(results.map((r) => r.sum)).toEqual([1, 3, 6, 10]);
    expect(new Set(results.map((r) => r.thread))).toEqual(new Set(['pool-2']));
  });

  it('validates its input', async () => {
    expect(() => createThreadPool({ size: 0 })).toThrow(InvalidArgumentError);
    expect(() => createThreadPool({ onFull: 'drop' as 'wait' })).toThrow(InvalidArgumentError);
    expect(() => taskKind('relative/path.js', 'x')).toThrow(InvalidArgumentError);
    expect(taskKind(FIXTURE, 'echo')).toBe(taskKind(FIXTURE.href, 'echo'));
    const p = pool({ size: 1 });
    await expect(p.run({ url: FIXTURE.href, exportName: 'echo', label: 'x', id: 1 } as never, 1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(p.run(k('echo'), 1, { affinity: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('pool workers print on the clock of the thread that started them', () => {
  it("print() in a task counts from the owner's start, not from the worker's", async () => {
    const ms = (line: string): number => Number.parseFloat(line);
    let mainLine = '';
    setPrintOutput((l) => (mainLine = l));
    try {
      await new Promise((r) => setTimeout(r, 300));
      print('before');
    } finally {
      setPrintOutput('stdout');
    }
    const p = pool({ size: 1 }); // its worker starts now, 300 ms after this thread's clock started
    const workerLine = await p.run(k<string, string>('printed'), 'from the pool');
    expect(workerLine).toMatch(/^\s*[\d.]+ms pool-1\s*\| t\d+\s*\| from the pool$/);
    expect(ms(workerLine)).toBeGreaterThanOrEqual(ms(mainLine));
  });
});
