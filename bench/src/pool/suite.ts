/**
 * The thread-pool suite of `npm run bench`: P4 (read 10,000 files of 4 KiB: mod-fs vs node:fs), P5 (pbkdf2 and
 * sha256 throughput: mod-crypto vs node:crypto's asynchronous APIs) and the pool's task round trip vs piscina.
 * Each measurement runs in a fresh child process (bench/src/pool/child.ts); contenders are interleaved and the
 * report gives medians, ranges and ratios against the reference, with the targets.
 *
 * Options (taken out of the argument list before run.ts parses the rest):
 *   --pool              run only this suite
 *   --no-pool           skip it
 *   --pool-reps=N       runs per contender and benchmark (default 5, --quick 3)
 *   --pool-seconds=S    measured seconds per run (default 2, --quick 0.5)
 *   --pool-files=N      P4 files (default 10000)
 *   --pool-only=LIST    which benchmarks: p4,p5-pbkdf2,p5-sha256,pool-rtt (default all)
 *   --write-docs        (shared with run.ts) also rewrite this suite's section of docs/benchmarks.md
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatRange, formatRate, formatRatio, median } from '../stats.js';
import {
  POOL_BENCHES,
  POOL_CONTENDERS,
  POOL_RESULT_PREFIX,
  POOL_TARGETS,
  POOL_TITLES,
  type PoolBench,
  type PoolChildParams,
  type PoolSample,
} from './common.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // bench/dist/pool
const BENCH_DIR = resolve(HERE, '..', '..');
const REPO_DIR = resolve(BENCH_DIR, '..');
const DOCS_FILE = join(REPO_DIR, 'docs', 'benchmarks.md');
const START = '<!-- bench:pool:start -->';
/** libuv's default thread-pool size (UV_THREADPOOL_SIZE), which node:fs and node:crypto use. */
const LIBUV_THREADS = Number(process.env['UV_THREADPOOL_SIZE'] ?? 4);
const END = '<!-- bench:pool:end -->';

/** The suite's settings, from the command line. */
export interface PoolSuiteOptions {
  readonly enabled: boolean;
  readonly only: boolean;
  readonly reps: number;
  readonly seconds: number;
  readonly warmup: number;
  readonly files: number;
  readonly benches: readonly PoolBench[];
  readonly writeDocs: boolean;
}

/** Remove this suite's options from `argv` (run.ts's parser never sees them) and parse them. */
export function takePoolArgs(argv: readonly string[]): { rest: string[]; pool: PoolSuiteOptions } {
  const rest: string[] = [];
  const quick = argv.includes('--quick');
  let enabled = true;
  let only = false;
  let reps = quick ? 3 : 5;
  let seconds = quick ? 0.5 : 2;
  let files = 10_000;
  let benches: PoolBench[] = [...POOL_BENCHES];
  const num = (raw: string, name: string, min: number, max: number): number => {
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min || v > max) throw new Error(`--${name} must be a number from ${min} to ${max}, got ${raw}`);
    return v;
  };
  for (const arg of argv) {
    const m = /^--(pool(?:-[a-z]+)?|no-pool)(?:=(.*))?$/.exec(arg);
    if (m === null) {
      rest.push(arg);
      continue;
    }
    const [, name, value = ''] = m;
    if (name === 'pool') only = true;
    else if (name === 'no-pool') enabled = false;
    else if (name === 'pool-reps') reps = Math.round(num(value, name, 1, 100));
    else if (name === 'pool-seconds') seconds = num(value, name, 0.05, 60);
    else if (name === 'pool-files') files = Math.round(num(value, name, 1, 18_000));
    else if (name === 'pool-only') {
      const items = value.split(',').filter((s) => s !== '');
      for (const i of items) if (!POOL_BENCHES.includes(i as PoolBench)) throw new Error(`--pool-only: unknown ${i}; expected some of ${POOL_BENCHES.join(',')}`);
      benches = POOL_BENCHES.filter((b) => items.includes(b));
    } else throw new Error(`unknown option --${name}`);
  }
  return {
    rest,
    pool: { enabled: enabled || only, only, reps, seconds, warmup: quick ? 0.15 : 0.5, files, benches, writeDocs: argv.includes('--write-docs') },
  };
}

/** Create `count` files of 4 KiB under bench/.work/p4 (once; reused by later runs). */
function ensureFiles(count: number): string {
  const dir = join(BENCH_DIR, '.work', 'p4');
  mkdirSync(dir, { recursive: true });
  const block = Buffer.alloc(4096);
  for (let i = 0; i < count; i++) {
    const path = join(dir, `f${i}.bin`);
    if (existsSync(path)) continue;
    block.fill(i & 0xff);
    writeFileSync(path, block);
  }
  return dir;
}

interface Row {
  readonly contender: string;
  readonly rates: number[];
  /** Process CPU time per operation (every thread), µs, per run. */
  readonly cpuPerOp: number[];
  failure?: string;
}

function rate(sample: PoolSample): number {
  const perSecond = sample.ops / sample.seconds;
  return sample.bytesPerOp === undefined ? perSecond : (perSecond * sample.bytesPerOp) / 1e6;
}

function runChild(params: PoolChildParams): { sample?: PoolSample; error?: string } {
  const timeout = (60 + 20 * (params.seconds + params.warmup)) * 1000;
  const r = spawnSync(process.execPath, [join(HERE, 'child.js'), JSON.stringify(params)], { encoding: 'utf8', timeout, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 });
  if (r.error !== undefined) return { error: r.error.message };
  if (r.status !== 0) return { error: `exit ${r.status ?? r.signal}: ${(r.stderr.trim().split('\n')[0] ?? '').slice(0, 300)}` };
  const line = r.stdout.split('\n').find((l) => l.startsWith(POOL_RESULT_PREFIX));
  if (line === undefined) return { error: 'no result line' };
  return { sample: JSON.parse(line.slice(POOL_RESULT_PREFIX.length)) as PoolSample };
}

/** Run the suite (synchronously, one child at a time), print the report, and write docs when asked. */
export function runPoolSuite(options: PoolSuiteOptions, log: (s: string) => void): void {
  const threads = availableParallelism();
  const dir = options.benches.includes('p4') ? ensureFiles(options.files) : '';
  const results = new Map<PoolBench, Row[]>(options.benches.map((b) => [b, POOL_CONTENDERS[b].map((contender) => ({ contender, rates: [], cpuPerOp: [] }))]));
  log(`fdloop pool suite: ${options.reps} run(s) × ${options.seconds} s per contender; ${threads} pool threads; benchmarks ${options.benches.join(', ')}`);
  for (let rep = 0; rep < options.reps; rep++) {
    for (const bench of options.benches) {
      const rows = results.get(bench) as Row[];
      const line: string[] = [];
      for (let k = 0; k < rows.length; k++) {
        // Rotate the order every repetition so no contender always follows the same neighbour.
        const row = rows[(k + rep) % rows.length] as Row;
        if (row.failure !== undefined) continue;
        // P4 and P5 compare with node:fs / node:crypto, which run on libuv's pool of 4 threads: fdloop's pool gets
        // the same 4 (on a shared machine the scheduler gives CPU per thread). The round trip uses the machine's
        // parallelism for both fdloop and piscina.
        const poolThreads = bench === 'pool-rtt' ? threads : LIBUV_THREADS;
        const out = runChild({ bench, contender: row.contender, seconds: options.seconds, warmup: options.warmup, dir, files: options.files, threads: poolThreads });
        if (out.sample !== undefined) {
          row.rates.push(rate(out.sample));
          row.cpuPerOp.push((out.sample.cpuSeconds * 1e6) / out.sample.ops);
          line.push(`${row.contender} ${formatRate(rate(out.sample))}`);
        } else {
          row.failure = out.error ?? 'unknown failure';
          line.push(`${row.contender} FAILED (${row.failure})`);
        }
      }
      log(`  ${bench} run ${rep + 1}/${options.reps}: ${line.join(', ')}`);
    }
  }
  const text = report(results, options, threads, 'text');
  console.log('');
  console.log(text);
  if (options.writeDocs) {
    const doc = existsSync(DOCS_FILE) ? readFileSync(DOCS_FILE, 'utf8') : '# Benchmarks\n';
    const section = `${START}\n<!-- Generated by \`node bench/dist/run.js --pool --write-docs\`; edits here are overwritten. -->\n\n${report(results, options, threads, 'markdown')}\n${END}`;
    const s = doc.indexOf(START);
    const e = doc.indexOf(END);
    const next = s >= 0 && e > s ? doc.slice(0, s) + section + doc.slice(e + END.length) : `${doc.trimEnd()}\n\n${section}\n`;
    writeFileSync(DOCS_FILE, next);
    console.log(`wrote the pool suite's results into ${DOCS_FILE}`);
  }
}

/** Median process CPU per operation, in µs. */
function formatCpu(values: readonly number[]): string {
  if (values.length === 0) return '-';
  const m = median(values);
  return m >= 100 ? m.toFixed(0) : m.toFixed(1);
}

function report(results: Map<PoolBench, Row[]>, options: PoolSuiteOptions, threads: number, style: 'text' | 'markdown'): string {
  const out: string[] = [];
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  out.push(
    `${style === 'markdown' ? '' : 'Pool suite: '}${options.reps} run(s) × ${options.seconds} s per contender, Node ${process.version}, ${threads} CPU(s) (${cpu}), ` +
      `fdloop's pool has ${LIBUV_THREADS} threads in P4 and P5 (libuv's pool size, which node:fs and node:crypto use) and ${threads} in the round trip (as piscina); P4 reads ${options.files} files of 4 KiB from the page cache; medians, slowest–fastest in brackets.`,
  );
  for (const [bench, rows] of results) {
    const reference = rows[rows.length - 1] as Row;
    const refMedian = reference.rates.length > 0 ? median(reference.rates) : NaN;
    const target = POOL_TARGETS[bench];
    out.push('');
    out.push(style === 'markdown' ? `### ${POOL_TITLES[bench]}` : POOL_TITLES[bench]);
    out.push('');
    if (style === 'markdown') {
      out.push(`| contender | median | range | vs ${reference.contender} | CPU µs/op |`);
      out.push('| --- | ---: | ---: | ---: | ---: |');
    }
    for (const row of rows) {
      const m = row.rates.length > 0 ? median(row.rates) : NaN;
      const cells =
        row.failure !== undefined && row.rates.length === 0
          ? [row.contender, 'failed', row.failure, '', '']
          : [row.contender, formatRate(m), formatRange(row.rates), row === reference ? '1.00×' : formatRatio(m / refMedian), formatCpu(row.cpuPerOp)];
      out.push(
        style === 'markdown' ? `| ${cells.join(' | ')} |` : `  ${cells[0]?.padEnd(32)} ${cells[1]?.padStart(10)}  ${cells[2]?.padEnd(11)} ${cells[3]?.padStart(6)}  CPU ${cells[4]} µs/op`,
      );
    }
    const first = rows[0] as Row;
    if (target !== undefined && first.rates.length > 0 && reference.rates.length > 0) {
      const ratio = median(first.rates) / refMedian;
      // Runs are interleaved: the ratio within each repetition cancels some of a shared machine's drift.
      const paired = first.rates.slice(0, reference.rates.length).map((r, i) => r / (reference.rates[i] as number));
      out.push('');
      out.push(
        `Target: ${first.contender} ≥ ${target.toFixed(1)}× ${reference.contender}: ${formatRatio(ratio)} — ${ratio >= target ? 'met' : 'not met'}` +
          (paired.length > 1 ? ` (ratio within each repetition: median ${formatRatio(median(paired))}, ${formatRatio(Math.min(...paired))}–${formatRatio(Math.max(...paired))}).` : '.'),
      );
    }
  }
  return out.join('\n');
}
