/**
 * One measurement of the serial benchmark (P6), in its own process: starts a socat pty pair
 * (`socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B`), opens both ends with one library, and measures either
 * bulk throughput A -> B (64 KiB writes with backpressure) or request/response round trips (A sends 16 bytes,
 * B echoes them, A waits for all 16 before sending the next request). Prints `SERIALRESULT {json}`.
 */

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { SERIAL_RESULT_PREFIX, type SerialChildParams, type SerialSample } from './common.js';

const params = JSON.parse(process.argv[2] ?? '{}') as SerialChildParams;
const BAUD = 115200; // ptys ignore the rate; both libraries are configured alike.

interface Ends {
  readonly a: Duplex;
  readonly b: Duplex;
  close(): Promise<void>;
}

async function openModSerial(pathA: string, pathB: string): Promise<Ends> {
  const { createRuntime } = await import('@fdloop/core');
  const { epoll } = await import('@fdloop/backend-epoll');
  const { open } = await import('@fdloop/mod-serial');
  const runtime = createRuntime({ backend: epoll() });
  const a = open(pathA, { runtime, baudRate: BAUD });
  const b = open(pathB, { runtime, baudRate: BAUD });
  return {
    a,
    b,
    async close() {
      await a.close();
      await b.close();
      await runtime.close();
    },
  };
}

async function openSerialport(pathA: string, pathB: string): Promise<Ends> {
  const { SerialPort } = await import('serialport');
  const openOne = (path: string): Promise<InstanceType<typeof SerialPort>> =>
    new Promise((resolve, reject) => {
      const p = new SerialPort({ path, baudRate: BAUD }, (err) => (err ? reject(err) : resolve(p)));
    });
  const a = await openOne(pathA);
  const b = await openOne(pathB);
  const closeOne = (p: InstanceType<typeof SerialPort>): Promise<void> => new Promise((resolve) => p.close(() => resolve()));
  return {
    a,
    b,
    async close() {
      await closeOne(a);
      await closeOne(b);
    },
  };
}

function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function throughput(ends: Ends): Promise<SerialSample> {
  const { a, b } = ends;
  const chunk = Buffer.alloc(65536, 0x5a);
  let received = 0;
  b.on('data', (d: Buffer) => (received += d.byteLength));
  let stop = false;
  const pump = async (): Promise<void> => {
    while (!stop) {
      if (!a.write(chunk)) await new Promise((r) => a.once('drain', r));
    }
  };
  const pumping = pump();
  await new Promise((r) => setTimeout(r, params.warmup * 1000));
  const r0 = received;
  const t0 = performance.now();
  const c0 = cpuNow();
  await new Promise((r) => setTimeout(r, params.seconds * 1000));
  const count = received - r0;
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = cpuNow() - c0;
  stop = true;
  await pumping;
  return { count, seconds, cpuSeconds };
}

async function latency(ends: Ends): Promise<SerialSample> {
  const { a, b } = ends;
  const request = Buffer.alloc(16, 0x41);
  b.on('data', (d: Buffer) => b.write(d));
  const times: number[] = [];
  let measuring = false;
  let got = 0;
  let sent = 0;
  let done: (() => void) | undefined;
  let stop = false;
  const send = (): void => {
    got = 0;
    sent = performance.now();
    a.write(request);
  };
  a.on('data', (d: Buffer) => {
    got += d.byteLength;
    if (got < request.byteLength) return;
    if (measuring) times.push((performance.now() - sent) * 1000);
    if (stop) done?.();
    else send();
  });
  const finished = new Promise<void>((r) => (done = r));
  send();
  await new Promise((r) => setTimeout(r, params.warmup * 1000));
  measuring = true;
  const t0 = performance.now();
  const c0 = cpuNow();
  await new Promise((r) => setTimeout(r, params.seconds * 1000));
  measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = cpuNow() - c0;
  stop = true;
  await finished;
  times.sort((x, y) => x - y);
  const pct = (p: number): number => times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? NaN;
  return { count: times.length, seconds, cpuSeconds, p50: pct(0.5), p99: pct(0.99) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fdloop-bench-serial-'));
  const pathA = join(dir, 'A');
  const pathB = join(dir, 'B');
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${pathA}`, `pty,raw,echo=0,link=${pathB}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  socat.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  try {
    const deadline = Date.now() + 15_000;
    while (!(/starting data transfer loop/.test(log) && existsSync(pathA) && existsSync(pathB))) {
      if (socat.exitCode !== null || Date.now() > deadline) throw new Error(`socat did not start: ${log.trim()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const ends = params.contender === 'mod-serial' ? await openModSerial(pathA, pathB) : await openSerialport(pathA, pathB);
    const sample = params.mode === 'throughput' ? await throughput(ends) : await latency(ends);
    await ends.close();
    process.stdout.write(`${SERIAL_RESULT_PREFIX}${JSON.stringify(sample)}\n`);
  } finally {
    socat.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
