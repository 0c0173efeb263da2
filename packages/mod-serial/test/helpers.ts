// Real pty pairs from socat, as the issue asks: `socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B`.
// What is written to A comes out of B and the other way round; killing socat hangs up both sides.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, type Runtime } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';

export interface SocatPair {
  readonly a: string;
  readonly b: string;
  readonly dir: string;
  /** Kill socat (both ptys hang up) and wait until it exited and removed its links. */
  stop(): Promise<void>;
  /** Start socat again with the same links. */
  start(): Promise<void>;
  /** stop() and remove the directory. */
  dispose(): Promise<void>;
}

const pairs = new Set<SocatPair>();

async function until(what: string, check: () => boolean, limitMs = 15_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function socatPair(): Promise<SocatPair> {
  const dir = mkdtempSync(join(tmpdir(), 'fdloop-serial-'));
  const a = join(dir, 'A');
  const b = join(dir, 'B');
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const pair: SocatPair = {
    a,
    b,
    dir,
    async start() {
      const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      proc = child;
      exited = new Promise((resolve) => child.once('exit', () => resolve()));
      // "starting data transfer loop" is printed once both ptys and links exist.
      await until(`socat to start (${stderr})`, () => /starting data transfer loop/.test(stderr) && existsSync(a) && existsSync(b));
    },
    async stop() {
      if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
      proc = undefined;
    },
    async dispose() {
      pairs.delete(pair);
      await pair.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await pair.start();
  pairs.add(pair);
  return pair;
}

export async function disposeAllPairs(): Promise<void> {
  await Promise.all([...pairs].map((p) => p.dispose()));
}

export function runtime(): Runtime {
  return createRuntime({ backend: epoll() });
}

/** A deterministic pseudo-random buffer (xorshift32), so a failure can be reproduced. */
export function pattern(size: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export { until };
