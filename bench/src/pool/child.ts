/**
 * One measurement of the pool suite in its own process: `node pool/child.js '<PoolChildParams json>'`.
 * Warm-up, then rounds until the measured time has passed; prints `POOLRESULT <json>`.
 */

import * as nodeCrypto from 'node:crypto';
import * as nodeFs from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRuntime, createThreadPool, taskKind, type Runtime } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { fsModule } from '@fdloop/mod-fs';
import { cryptoModule } from '@fdloop/mod-crypto';
import { POOL_RESULT_PREFIX, type PoolChildParams, type PoolSample } from './common.js';

type Round = () => Promise<number>;

async function measure(params: PoolChildParams, round: Round, bytesPerOp?: number): Promise<PoolSample> {
  const warmEnd = performance.now() + params.warmup * 1000;
  do await round();
  while (performance.now() < warmEnd);
  let ops = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + params.seconds * 1000;
  do ops += await round();
  while (performance.now() < end);
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return bytesPerOp === undefined ? { ops, seconds, cpuSeconds } : { ops, seconds, cpuSeconds, bytesPerOp };
}

function runtime(params: PoolChildParams): Runtime {
  return createRuntime({ backend: epoll(), pool: { size: params.threads } });
}

async function p4(params: PoolChildParams): Promise<PoolSample> {
  const paths = Array.from({ length: params.files }, (_, i) => join(params.dir, `f${i}.bin`));
  switch (params.contender) {
    case 'mod-fs (io_uring)':
    case 'mod-fs (pool)': {
      const rt = runtime(params);
      const io = params.contender === 'mod-fs (pool)' ? 'pool' : 'uring';
      const fs = rt.use(fsModule({ io }));
      const sample = await measure(params, async () => (await Promise.all(paths.map((p) => fs.readFile(p)))).length);
      await rt.close();
      return sample;
    }
    case 'node:fs/promises':
      return measure(params, async () => (await Promise.all(paths.map((p) => nodeFs.promises.readFile(p)))).length);
    case 'node:fs callbacks':
      return measure(
        params,
        () =>
          new Promise((resolve, reject) => {
            let left = paths.length;
            for (const p of paths) {
              nodeFs.readFile(p, (err) => {
                if (err) reject(err);
                else if (--left === 0) resolve(paths.length);
              });
            }
          }),
      );
  }
  throw new Error(`p4: unknown contender ${params.contender}`);
}

const PBKDF2_CONCURRENCY = 32;
const SHA_CONCURRENCY = 256;
const SHA_BYTES = 65536;

async function p5pbkdf2(params: PoolChildParams): Promise<PoolSample> {
  const n = PBKDF2_CONCURRENCY;
  switch (params.contender) {
    case 'mod-crypto': {
      const rt = runtime(params);
      const crypto = rt.use(cryptoModule());
      const sample = await measure(params, async () =>
        (await Promise.all(Array.from({ length: n }, (_, i) => crypto.pbkdf2(`pw${i}`, 'salt', 10_000, 32, 'sha256')))).length,
      );
      await rt.close();
      return sample;
    }
    case 'node:crypto async':
      return measure(params, async () =>
        (
          await Promise.all(
            Array.from(
              { length: n },
              (_, i) => new Promise<Buffer>((resolve, reject) => nodeCrypto.pbkdf2(`pw${i}`, 'salt', 10_000, 32, 'sha256', (e, k) => (e ? reject(e) : resolve(k)))),
            ),
          )
        ).length,
      );
  }
  throw new Error(`p5-pbkdf2: unknown contender ${params.contender}`);
}

/**
 * P5 sha256. Every contender digests the same 64 KiB buffer SHA_CONCURRENCY times per round, all submitted in one
 * go and awaited together (`Promise.all`), round after round; both asynchronous contenders copy the input at call
 * time (the caller may change its buffer afterwards) and hash on 4 threads (libuv's pool size, and fdloop's pool
 * sized to match), and the loop thread only copies and dispatches.
 * - mod-crypto: `crypto.hash('sha256', data)`: the input is copied into a batch buffer of about 2 MiB of work;
 *   full batches are moved (transferred, not copied) to a pool worker at once, the last at the end of the tick;
 *   the worker hashes with node:crypto's `hash()` and moves the buffer back with the digests in it.
 * - node:crypto async: node:crypto has no asynchronous `createHash`; WebCrypto's `subtle.digest` copies the input
 *   and runs one job per digest on libuv's thread pool (OpenSSL, no JavaScript off the loop thread).
 * - node:crypto sync: `createHash().update().digest()` on the loop thread, for scale (blocks the loop).
 */
async function p5sha256(params: PoolChildParams): Promise<PoolSample> {
  const data = nodeCrypto.randomBytes(SHA_BYTES);
  const n = SHA_CONCURRENCY;
  switch (params.contender) {
    case 'mod-crypto': {
      const rt = runtime(params);
      const crypto = rt.use(cryptoModule());
      const sample = await measure(params, async () => (await Promise.all(Array.from({ length: n }, () => crypto.hash('sha256', data)))).length, SHA_BYTES);
      await rt.close();
      return sample;
    }
    case 'node:crypto async':
      return measure(params, async () => (await Promise.all(Array.from({ length: n }, () => nodeCrypto.webcrypto.subtle.digest('SHA-256', data)))).length, SHA_BYTES);
    case 'node:crypto sync (main thread)':
      return measure(
        params,
        async () => {
          for (let i = 0; i < n; i++) nodeCrypto.createHash('sha256').update(data).digest();
          return n;
        },
        SHA_BYTES,
      );
  }
  throw new Error(`p5-sha256: unknown contender ${params.contender}`);
}

async function poolRtt(params: PoolChildParams): Promise<PoolSample> {
  const url = new URL('./echo-task.js', import.meta.url);
  const ROUND = 256;
  switch (params.contender) {
    case 'fdloop pool': {
      const pool = createThreadPool({ size: params.threads });
      const echo = taskKind<number, number>(url, 'echo');
      const sample = await measure(params, async () => {
        for (let i = 0; i < ROUND; i++) await pool.run(echo, i);
        return ROUND;
      });
      await pool.close();
      return sample;
    }
    case 'piscina': {
      const { Piscina } = await import('piscina');
      const pool = new Piscina({ filename: url.href, minThreads: params.threads, maxThreads: params.threads });
      const sample = await measure(params, async () => {
        for (let i = 0; i < ROUND; i++) await pool.run(i);
        return ROUND;
      });
      await pool.destroy();
      return sample;
    }
  }
  throw new Error(`pool-rtt: unknown contender ${params.contender}`);
}

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('usage: pool/child.js <params json>');
  const params = JSON.parse(raw) as PoolChildParams;
  const run = { p4, 'p5-pbkdf2': p5pbkdf2, 'p5-sha256': p5sha256, 'pool-rtt': poolRtt }[params.bench];
  if (run === undefined) throw new Error(`unknown benchmark ${params.bench}`);
  const sample = await run(params);
  process.stdout.write(`${POOL_RESULT_PREFIX}${JSON.stringify(sample)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
