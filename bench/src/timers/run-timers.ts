/**
 * P7 (issue 3): timers.
 *
 * - **P7a throughput**: 1,000,000 timers with deterministic pseudo-random delays of 0–49 ms, scheduled in one go
 *   and all fired; timers per second from the first schedule to the last callback. fdloop's `rt.setTimeout` (one
 *   binary heap driven by one Node timer) against Node's `setTimeout`. Kernel timers (timerfd) are not in this race:
 *   one descriptor per timer, and the process may hold 20,000.
 * - **P7b lateness** of a 1 ms periodic timer over 3,000 ticks, p50 and p99: fdloop's kernel timer (`rt.timer`,
 *   timerfd, scheduled by the kernel at start + k·1 ms, k counted from the expiration counts), fdloop's
 *   `rt.setInterval` (scheduled at due += 1 ms) and Node's `setInterval` (which re-anchors each tick at the previous
 *   callback, so its lateness is measured against previous tick + 1 ms). Each against its own schedule.
 *
 * Each measurement runs in its own child process; contenders are interleaved. Run it with
 * `node bench/dist/timers/run-timers.js [--quick] [--reps=N]`.
 *
 * @module
 */

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { formatRate, formatRatio, median } from '../stats.js';

type Contender = 'node-setTimeout' | 'fdloop-setTimeout' | 'node-setInterval' | 'fdloop-setInterval' | 'fdloop-timerfd';

interface ThroughputResult {
  readonly timers: number;
  readonly ms: number;
}
interface LatenessResult {
  readonly ticks: number;
  readonly p50: number;
  readonly p99: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function child(contender: Contender, count: number): Promise<void> {
  const { createRuntime } = await import('@fdloop/core');
  const { epoll } = await import('@fdloop/backend-epoll');
  if (contender === 'node-setTimeout' || contender === 'fdloop-setTimeout') {
    const rt = createRuntime({ backend: epoll() });
    let seed = 12345;
    let fired = 0;
    const start = performance.now();
    let end = start;
    const done = (): void => {
      fired++;
      if (fired === count) end = performance.now();
    };
    const schedule = contender === 'node-setTimeout' ? (d: number) => setTimeout(done, d) : (d: number) => rt.setTimeout(done, d);
    for (let i = 0; i < count; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      schedule(seed % 50);
    }
    await rt.run();
    while (fired < count) await new Promise((r) => setTimeout(r, 5));
    await rt.close();
    const result: ThroughputResult = { timers: count, ms: end - start };
    process.stdout.write(JSON.stringify(result));
    return;
  }
  const rt = createRuntime({ backend: epoll() });
  const lateness: number[] = [];
  const period = 1;
  await new Promise<void>((resolve) => {
    if (contender === 'fdloop-timerfd') {
      // Armed at an absolute instant of the monotonic clock (process.hrtime's), so tick k is due at exactly
      // first + (k - 1)·period and nothing between reading a start time and arming the timer counts as lateness.
      rt.timer({}).close(); // load the sources binding before measuring
      const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
      const first = nowMs() + 5;
      let k = 0;
      const t = rt.timer({ at: first, interval: period }, (ev) => {
        k += ev.expirations;
        lateness.push(nowMs() - (first + (k - 1) * period));
        if (lateness.length >= count) {
          t.close();
          resolve();
        }
      });
    } else if (contender === 'fdloop-setInterval') {
      let due = performance.now() + period;
      const t = rt.setInterval(() => {
        const now = performance.now();
        lateness.push(now - due);
        // The runtime keeps its schedule (due += delay) and skips ahead after a stall, like this.
        due += period;
        while (due <= now) due += period;
        if (lateness.length >= count) {
          t.cancel();
          resolve();
        }
      }, period);
    } else {
      let prev = performance.now();
      const t = setInterval(() => {
        const now = performance.now();
        lateness.push(now - (prev + period));
        prev = now;
        if (lateness.length >= count) {
          clearInterval(t);
          resolve();
        }
      }, period);
    }
  });
  await rt.close();
  const sorted = lateness.map((l) => Math.max(0, l)).sort((a, b) => a - b);
  const result: LatenessResult = { ticks: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  process.stdout.write(JSON.stringify(result));
}

function runChild<T>(contender: Contender, count: number): T {
  const file = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [file, `--child=${contender}`, `--count=${count}`], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`P7 child ${contender} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Run P7 and print medians and ratios. */
export function runTimersBench(options: { reps?: number; quick?: boolean } = {}): void {
  const reps = options.reps ?? (options.quick ? 2 : 5);
  const timers = options.quick ? 100_000 : 1_000_000;
  const ticks = options.quick ? 500 : 3000;
  const throughput: Record<string, number[]> = { 'node-setTimeout': [], 'fdloop-setTimeout': [] };
  const late: Record<string, LatenessResult[]> = { 'fdloop-timerfd': [], 'fdloop-setInterval': [], 'node-setInterval': [] };
  for (let i = 0; i < reps; i++) {
    for (const c of Object.keys(throughput) as Contender[]) {
      const r = runChild<ThroughputResult>(c, timers);
      (throughput[c] as number[]).push((r.timers / r.ms) * 1000);
    }
    for (const c of Object.keys(late) as Contender[]) (late[c] as LatenessResult[]).push(runChild<LatenessResult>(c, ticks));
  }
  console.log(`P7a: ${formatRate(timers)} timers (0–49 ms) scheduled and fired, timers/s, median of ${reps}`);
  const base = median(throughput['node-setTimeout'] as number[]);
  for (const [c, v] of Object.entries(throughput)) {
    const m = median(v);
    console.log(`  ${c.padEnd(20)} ${formatRate(m).padStart(12)}  ${formatRatio(m / base)} of setTimeout`);
  }
  console.log(`P7b: lateness of a 1 ms periodic timer over ${ticks} ticks (ms), median of ${reps} runs`);
  const nodeP99 = median((late['node-setInterval'] as LatenessResult[]).map((r) => r.p99));
  for (const [c, v] of Object.entries(late)) {
    const p50 = median(v.map((r) => r.p50));
    const p99 = median(v.map((r) => r.p99));
    console.log(`  ${c.padEnd(20)} p50 ${p50.toFixed(3).padStart(7)}  p99 ${p99.toFixed(3).padStart(7)}  p99 ÷ setInterval's ${formatRatio(p99 / nodeP99)}${p99 < nodeP99 ? ' (lower: better)' : p99 > nodeP99 ? ' (higher: worse)' : ''}`);
  }
}

const argv = process.argv.slice(2);
const childArg = argv.find((a) => a.startsWith('--child='));
if (childArg !== undefined) {
  const count = Number((argv.find((a) => a.startsWith('--count=')) ?? '--count=1000').slice(8));
  await child(childArg.slice(8) as Contender, count);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const reps = argv.find((a) => a.startsWith('--reps='));
  runTimersBench({ quick: argv.includes('--quick'), ...(reps ? { reps: Number(reps.slice(7)) } : {}) });
}
