/**
 * The serial benchmark of `npm run bench` (P6): throughput (MiB/s) and request/response round-trip latency
 * (p50/p99) over a socat pty pair, `@fdloop/mod-serial` against the npm `serialport` package (13.x), both ends of
 * the pair opened by the library measured. Each measurement runs in a fresh child process (child.ts, which starts
 * its own socat); contenders are interleaved, and the report gives medians, ranges, ratios and the issue's
 * targets (throughput >= 1.5x, p50 latency <= 0.5x serialport's).
 *
 * Options (taken out of the argument list before run.ts parses the rest):
 *   --serial              run only this benchmark
 *   --no-serial           skip it
 *   --serial-reps=N       runs per contender and mode (default 5, --quick 3)
 *   --serial-seconds=S    measured seconds per run (default 2, --quick 0.5)
 */

import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatRange, formatRatio, median } from '../stats.js';
import { SERIAL_CONTENDERS, SERIAL_RESULT_PREFIX, type SerialChildParams, type SerialContender, type SerialMode, type SerialSample } from './common.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // bench/dist/serial

/** The serial benchmark's settings, from the command line. */
export interface SerialOptions {
  /** Run it at all. */
  readonly enabled: boolean;
  /** Run nothing else. */
  readonly only: boolean;
  readonly reps: number;
  readonly seconds: number;
  readonly warmup: number;
}

/** Remove the serial options from `argv` (so run.ts's own parser never sees them) and parse them. */
export function takeSerialArgs(argv: readonly string[]): { rest: string[]; serial: SerialOptions } {
  const rest: string[] = [];
  const quick = argv.includes('--quick');
  let only = false;
  let enabled = true;
  let reps = quick ? 3 : 5;
  let seconds = quick ? 0.5 : 2;
  for (const arg of argv) {
    const [name, value = ''] = arg.split('=', 2) as [string, string?];
    const num = (min: number, max: number): number => {
      const n = Number(value);
      if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${arg}: expected a number from ${min} to ${max}`);
      return n;
    };
    if (name === '--serial') only = true;
    else if (name === '--no-serial') enabled = false;
    else if (name === '--serial-reps') reps = Math.round(num(1, 100));
    else if (name === '--serial-seconds') seconds = num(0.1, 60);
    else rest.push(arg);
  }
  // Asking only for other benchmarks (--bench/--only/--from-json, --mqtt) means: not this one, unless --serial.
  if (!only && rest.some((a) => /^--(bench|only|from-json)=/.test(a) || a === '--mqtt')) enabled = false;
  return { rest, serial: { enabled: enabled || only, only, reps, seconds, warmup: quick ? 0.2 : 0.5 } };
}

function runChild(params: SerialChildParams): { sample?: SerialSample; error?: string } {
  const r = spawnSync(process.execPath, [join(HERE, 'child.js'), JSON.stringify(params)], {
    encoding: 'utf8',
    timeout: 60_000 + (params.seconds + params.warmup) * 10_000,
    killSignal: 'SIGKILL',
  });
  if (r.error !== undefined) return { error: r.error.message };
  if (r.status !== 0) return { error: `exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}` };
  const line = r.stdout.split('\n').find((l) => l.startsWith(SERIAL_RESULT_PREFIX));
  if (line === undefined) return { error: 'no result line' };
  return { sample: JSON.parse(line.slice(SERIAL_RESULT_PREFIX.length)) as SerialSample };
}

const LABEL: Record<SerialContender, string> = {
  'mod-serial': '@fdloop/mod-serial (readiness on the loop thread)',
  serialport: 'npm serialport 13 (bindings-cpp)',
};

const MIB = 1024 * 1024;

/** Run the benchmark and print its report to stdout (progress to `log`). */
export async function runSerialBench(options: SerialOptions, log: (s: string) => void): Promise<void> {
  if (spawnSync('socat', ['-V'], { encoding: 'utf8' }).error !== undefined) {
    console.log('Serial benchmark (P6): unavailable (socat is not installed)');
    return;
  }
  log(`serial bench (P6): ${options.reps} run(s) × ${options.seconds} s (+${options.warmup} s warm-up) per contender and mode, over socat pty pairs`);
  const values = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  const failures = new Map<string, string>();
  const key = (mode: SerialMode, c: SerialContender, what: string): string => `${mode}:${c}:${what}`;
  const push = (m: Map<string, number[]>, k: string, v: number): void => void (m.get(k) ?? m.set(k, []).get(k))?.push(v);
  for (const mode of ['throughput', 'latency'] as const) {
    for (let rep = 0; rep < options.reps; rep++) {
      const progress: string[] = [];
      for (let k = 0; k < SERIAL_CONTENDERS.length; k++) {
        const contender = SERIAL_CONTENDERS[(k + rep) % SERIAL_CONTENDERS.length] as SerialContender;
        if (failures.has(`${mode}:${contender}`)) continue;
        const out = runChild({ contender, mode, seconds: options.seconds, warmup: options.warmup });
        const s = out.sample;
        if (s === undefined) {
          failures.set(`${mode}:${contender}`, out.error ?? 'failed');
          progress.push(`${contender} FAILED (${out.error ?? ''})`);
          continue;
        }
        if (mode === 'throughput') {
          const rate = s.count / MIB / s.seconds;
          push(values, key(mode, contender, 'rate'), rate);
          push(cpu, key(mode, contender, 'cpu'), (s.cpuSeconds / s.seconds) * 100);
          progress.push(`${contender} ${rate.toFixed(1)} MiB/s`);
        } else {
          push(values, key(mode, contender, 'p50'), s.p50 ?? NaN);
          push(values, key(mode, contender, 'p99'), s.p99 ?? NaN);
          push(values, key(mode, contender, 'rate'), s.count / s.seconds);
          push(cpu, key(mode, contender, 'cpu'), ((s.cpuSeconds / Math.max(1, s.count)) * 1e6));
          progress.push(`${contender} p50 ${(s.p50 ?? NaN).toFixed(0)} µs p99 ${(s.p99 ?? NaN).toFixed(0)} µs`);
        }
      }
      log(`  ${mode} run ${rep + 1}/${options.reps}: ${progress.join(', ')}`);
    }
  }
  const med = (k: string): number => median(values.get(k) ?? []);
  const medCpu = (k: string): number => median(cpu.get(k) ?? []);
  const unavailable = (mode: SerialMode, c: SerialContender): string | undefined =>
    (values.get(key(mode, c, 'rate'))?.length ?? 0) === 0 ? failures.get(`${mode}:${c}`) ?? 'no result' : undefined;
  const lines: string[] = [];
  lines.push('### P6 serial throughput over a socat pty pair (MiB/s, 64 KiB writes with backpressure)', '');
  lines.push('| library | median MiB/s | range | vs serialport | process CPU (median) |', '| --- | ---: | --- | ---: | ---: |');
  for (const c of SERIAL_CONTENDERS) {
    const u = unavailable('throughput', c);
    const rate = med(key('throughput', c, 'rate'));
    lines.push(
      `| ${LABEL[c]} | ${u ?? rate.toFixed(1)} | ${formatRange(values.get(key('throughput', c, 'rate')) ?? [])} | ` +
        `${formatRatio(rate / med(key('throughput', 'serialport', 'rate')))} | ${medCpu(key('throughput', c, 'cpu')).toFixed(0)} % |`,
    );
  }
  lines.push('', '### P6 serial request/response round trip (16 bytes out, echoed back; µs)', '');
  lines.push('| library | p50 µs | p99 µs | round trips/s | p50 vs serialport | CPU per round trip |', '| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const c of SERIAL_CONTENDERS) {
    const u = unavailable('latency', c);
    const p50 = med(key('latency', c, 'p50'));
    lines.push(
      `| ${LABEL[c]} | ${u ?? p50.toFixed(0)} | ${med(key('latency', c, 'p99')).toFixed(0)} | ${med(key('latency', c, 'rate')).toFixed(0)} | ` +
        `${formatRatio(p50 / med(key('latency', 'serialport', 'p50')))} | ${medCpu(key('latency', c, 'cpu')).toFixed(1)} µs |`,
    );
  }
  const tput = med(key('throughput', 'mod-serial', 'rate')) / med(key('throughput', 'serialport', 'rate'));
  const lat = med(key('latency', 'mod-serial', 'p50')) / med(key('latency', 'serialport', 'p50'));
  lines.push('', '### P6 targets', '', '| target | measured | met |', '| --- | ---: | --- |');
  lines.push(`| throughput ≥ 1.5× serialport | ${formatRatio(tput)} | ${Number.isFinite(tput) ? (tput >= 1.5 ? 'yes' : 'no') : 'n/a'} |`);
  lines.push(`| p50 latency ≤ 0.5× serialport | ${formatRatio(lat)} | ${Number.isFinite(lat) ? (lat <= 0.5 ? 'yes' : 'no') : 'n/a'} |`);
  console.log('');
  console.log(lines.join('\n'));
}
