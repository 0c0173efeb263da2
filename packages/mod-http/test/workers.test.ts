import * as http from 'node:http';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/http-worker.mjs', import.meta.url));

function start(port: number): { worker: Worker; next(type: string): Promise<Record<string, unknown>> } {
  const worker = new Worker(fixture, { workerData: { port } });
  const queue: Record<string, unknown>[] = [];
  const waiters: { type: string; resolve(m: Record<string, unknown>): void }[] = [];
  worker.on('message', (m: Record<string, unknown>) => {
    const i = waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve(m);
    else queue.push(m);
  });
  worker.on('error', (e) => {
    throw e;
  });
  return {
    worker,
    next: (type) => {
      const i = queue.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0] as Record<string, unknown>);
      return new Promise((resolve) => waiters.push({ type, resolve }));
    },
  };
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    // agent: false → a new connection per request, so the kernel spreads them over the listeners.
    http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

describe('one server per worker thread on one port (SO_REUSEPORT)', () => {
  it('spreads connections over 2 workers, each with its own runtime', async () => {
    const first = start(0);
    const { port } = (await first.next('listening')) as { port: number };
    const second = start(port);
    expect(((await second.next('listening')) as { port: number }).port).toBe(port);

    const answers: string[] = [];
    for (let i = 0; i < 20; i++) answers.push(...(await Promise.all(Array.from({ length: 10 }, () => get(port)))));
    const threads = new Set(answers);
    expect(threads.size).toBe(2);
    expect([...threads].sort()).toEqual([String(first.worker.threadId), String(second.worker.threadId)].sort());

    first.worker.postMessage('close');
    second.worker.postMessage('close');
    const closed = await Promise.all([first.next('closed'), second.next('closed')]);
    expect(closed.reduce((n, m) => n + (m.served as number), 0)).toBe(200);
    await Promise.all([first.worker.terminate(), second.worker.terminate()]);
  });
});
