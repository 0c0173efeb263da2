// The module plugin interface and the runtime's pool, seen through mod-crypto on a real epoll runtime.
import { describe, expect, it } from 'vitest';
import { CancelledError, RuntimeClosedError, callbackApi, createRuntime, defineModule, print, setPrintOutput, withCallback } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { cryptoModule } from '../src/index.js';

describe('module interface', () => {
  it('use() runs setup once per runtime and module, and gives each runtime its own API', async () => {
    let setups = 0;
    const mod = defineModule('counter', (ctx) => {
      setups++;
      return { name: ctx.name, backend: ctx.backend.name, completionIo: ctx.capabilities.completionIo };
    });
    const rt1 = createRuntime({ backend: epoll() });
    const rt2 = createRuntime({ backend: epoll() });
    const a = rt1.use(mod);
    expect(rt1.use(mod)).toBe(a);
    const b = rt2.use(mod);
    expect(b).not.toBe(a);
    expect(setups).toBe(2);
    expect(a).toEqual({ name: 'counter', backend: 'epoll', completionIo: false });
    await rt1.close();
    await rt2.close();
    expect(() => rt1.use(mod)).toThrow(RuntimeClosedError);
    expect(() => rt1.use({} as never)).toThrow(RuntimeClosedError);
  });

  it('pool tasks count as pending work: run() resolves only after they settle', async () => {
    const rt = createRuntime({ backend: epoll(), pool: { size: 1 } });
    const crypto = rt.use(cryptoModule());
    let derived: Buffer | undefined;
    let pendingDuring = 0;
    await rt.run(() => {
      // Not awaited: only the runtime's pending count keeps run() from resolving before it is done.
      void crypto.pbkdf2('pw', 'salt', 20_000, 32, 'sha256').then((k) => {
        derived = k;
      });
      pendingDuring = rt.pendingCount;
    });
    expect(pendingDuring).toBeGreaterThanOrEqual(2); // main + the task
    expect(derived?.length).toBe(32);
    expect(rt.pendingCount).toBe(0);
    await rt.close();
  });

  it('callbacks and promises: callbackApi() and withCallback()', async () => {
    const rt = createRuntime({ backend: epoll(), pool: { size: 1 } });
    const crypto = rt.use(cryptoModule());
    const cb = callbackApi(crypto);
    const viaCallback = await new Promise<string>((resolve, reject) =>
      cb.hash('sha256', 'abc', undefined, (err, digest) => (err ? reject(err) : resolve((digest as Buffer).toString('hex')))),
    );
    expect(viaCallback).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const error = await new Promise<Error | null>((resolve) => cb.hash('nope', 'abc', undefined, (err) => resolve(err)));
    expect(error).toMatchObject({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' });
    expect(() => (cb.hash as (...a: unknown[]) => void)('sha256', 'abc')).toThrow(/callback/);
    const p = withCallback(Promise.resolve(1), undefined);
    expect(await p).toBe(1);
    await rt.close();
  });

  it('tasks run on pool-N threads, and the tracer shows it', async () => {
    const lines: string[] = [];
    setPrintOutput((l) => lines.push(l));
    const rt = createRuntime({ backend: epoll(), pool: { size: 2 }, trace: { output: (l) => lines.push(l) } });
    const crypto = rt.use(cryptoModule());
    await rt.run(async () => {
      await crypto.hash('sha256', 'x');
      print('after');
    });
    setPrintOutput('stdout');
    expect(lines.some((l) => /main\s+\| .*hold: crypto: hashBatch@tasks\.js/.test(l))).toBe(true);
    expect(lines.some((l) => /release: crypto: hashBatch@tasks\.js/.test(l))).toBe(true);
    expect(lines.some((l) => l.includes('thread pool created: up to 2 workers'))).toBe(true);
    expect(lines.some((l) => l.includes('module crypto attached'))).toBe(true);
    await rt.close();
  });

  it('closing the runtime cancels pool work and shuts the workers down', async () => {
    const rt = createRuntime({ backend: epoll(), pool: { size: 1 } });
    const crypto = rt.use(cryptoModule());
    const closed: string[] = [];
    rt.use(defineModule('hooks', (ctx) => ctx.onClose(() => void closed.push('hook'))));
    const slow = crypto.scrypt('pw', 'salt', 32, { N: 2 ** 17, r: 8, p: 4, maxmem: 2 ** 30 });
    const queued = crypto.hash('sha256', 'x');
    const outcome = Promise.allSettled([slow, queued]);
    await rt.close();
    const [s, q] = await outcome;
    expect(s.status === 'rejected' && s.reason).toBeInstanceOf(CancelledError);
    // The hash was still waiting for its batch when the runtime closed: it never reached the pool.
    expect(q.status === 'rejected' && q.reason).toBeInstanceOf(RuntimeClosedError);
    expect(closed).toEqual(['hook']);
    expect(() => rt.pool).toThrow(RuntimeClosedError);
  });

  it('an AbortSignal cancels a crypto call', async () => {
    const rt = createRuntime({ backend: epoll(), pool: { size: 1 } });
    const crypto = rt.use(cryptoModule());
    const ac = new AbortController();
    const slow = crypto.pbkdf2('pw', 'salt', 5_000_000, 32, 'sha256', { signal: ac.signal });
    ac.abort(new Error('user gave up'));
    await expect(slow).rejects.toThrow('user gave up');
    await rt.close();
  });
});
