/**
 * `npm run bench` / `node bench/dist/run.js [options]`: P1 (pipe ping-pong) and P2 (fan-in) for fdloop, the npm
 * `epoll` package, node:net and a C epoll loop, each measurement in its own child process, contenders interleaved
 * so a noisy neighbour hurts them alike. Prints medians, ratios and the targets.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTENDERS, parseResult, type BenchName, type ChildParams, type ContenderName, type JsContenderName, type Sample } from './common.js';
import { machineInfo, measureBusy, type MachineInfo } from './machine.js';
import { markdownResults, replaceResults, resultsKey, svgChart, textReport } from './report.js';
import type { BenchResult, ContenderResult, RunConfig } from './results.js';
import { formatRate } from './stats.js';
import { runMqttBench, takeMqttArgs } from './mqtt/run-mqtt.js';
import { runWsBench, takeWsArgs } from './ws/run-ws.js';
import { runHttpBench, takeHttpArgs } from './http/run-http.js';
import { runPoolSuite, takePoolArgs } from './pool/suite.js';
import { runSerialBench, takeSerialArgs } from './serial/run-serial.js';
import { runTimersBench } from './timers/run-timers.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // bench/dist
const BENCH_DIR = resolve(HERE, '..');
const REPO_DIR = resolve(BENCH_DIR, '..');
const WORK_DIR = join(BENCH_DIR, '.work');
const C_DIR = join(BENCH_DIR, 'c');
const DOCS_FILE = join(REPO_DIR, 'docs', 'benchmarks.md');
/** The chart of a normal run; a `--pin` run writes bench-p1p2-pinned.svg. */
const CHART_FILE = join(REPO_DIR, 'docs', 'bench-p1p2.svg');
const PINNED_CHART_FILE = join(REPO_DIR, 'docs', 'bench-p1p2-pinned.svg');

const USAGE = `usage: node bench/dist/run.js [options]

  --quick            3 short runs per contender (a smoke run, < 60 s); numbers are indicative only
  --write-docs       rewrite the Results section of docs/benchmarks.md and docs/bench-p1p2.svg
  --reps=N           measured runs per contender and benchmark (default 5, quick 3)
  --seconds=S        length of each measured run in seconds (default 2, quick 0.5)
  --warmup=S         warm-up before each measured run, in seconds (default 0.5, quick 0.15)
  --bench=p1,p2      which benchmarks (default both)
  --only=LIST        which contenders: fdloop,npm-epoll,node-net,c-epoll (default all)
  --fanin=N          P2 eventfds (default 10000)
  --pairs=N          P2 unix socket pairs for node:net (default 5000)
  --pin=CPU          run every child on one CPU (taskset -c CPU); default: let the scheduler place them
  --cpu-prof         run the fdloop children with --cpu-prof into bench/.work/prof
  --max-noise=F      redo a run (up to --redo=N more times, default 2, quick 0) when other processes used more
                     than this share of all CPUs while it ran (default 0.1); such runs are flagged either way
  --quiet-wait=S     before the first run and before redoing a noisy one, wait up to S seconds for the other
                     processes to calm down (default 60, quick 0)
  --json=FILE        also write the raw samples as JSON
  --from-json=FILE   measure nothing: print (and with --write-docs, write) the report of a run saved with --json
  --ws, --no-ws      only / skip the WebSocket echo benchmark (mod-ws vs npm ws servers, same ws client);
                     --ws-messages=N, --ws-reps=N (see bench/src/ws/run-ws.ts)
  --mqtt, --no-mqtt  only / skip the MQTT benchmark (fdloop + libmosquitto vs npm mqtt through a local mosquitto);
                     --mqtt-messages=N, --mqtt-reps=N, --mqtt-window=N (see bench/src/mqtt/run-mqtt.ts)
  --pool, --no-pool  only / skip P4 (mod-fs vs node:fs), P5 (mod-crypto vs node:crypto) and the pool round trip
                     vs piscina; --pool-reps=N, --pool-seconds=S, --pool-files=N, --pool-only=LIST
                     (see bench/src/pool/suite.ts)
  --timers, --no-timers  only / skip P7 (1M runtime timers vs setTimeout; 1 ms periodic lateness); --timers-reps=N
  --serial, --no-serial  only / skip the serial benchmark P6 (mod-serial vs npm serialport over socat ptys);
                     --serial-reps=N, --serial-seconds=S (see bench/src/serial/run-serial.ts)
  --http, --no-http  only / skip P3 (HTTP/1.1 hello world under wrk -t1 -c50: mod-http vs node:http vs a C epoll
                     server; memory per idle connection; HttpClient vs undici vs node:http); --http-reps=N,
                     --http-seconds=S, --http-idle=N, --http-client=N (see bench/src/http/run-http.ts)
  --help             this text`;

interface Options {
  readonly config: RunConfig;
  readonly benches: BenchName[];
  readonly contenders: ContenderName[];
  readonly writeDocs: boolean;
  readonly cpuProf: boolean;
  readonly json: string | undefined;
  readonly fromJson: string | undefined;
}

function parseArgs(argv: readonly string[]): Options {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (m === null) throw new Error(`unknown argument ${arg}\n\n${USAGE}`);
    flags.set(m[1] as string, m[2] ?? 'true');
  }
  const known = ['quick', 'write-docs', 'reps', 'seconds', 'warmup', 'bench', 'only', 'fanin', 'pairs', 'cpu-prof', 'json', 'pin', 'max-noise', 'redo', 'quiet-wait', 'from-json', 'help'];
  for (const k of flags.keys()) if (!known.includes(k)) throw new Error(`unknown option --${k}\n\n${USAGE}`);
  if (flags.has('help')) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = flags.has('quick');
  const num = (name: string, dflt: number, min: number, max: number): number => {
    const raw = flags.get(name);
    if (raw === undefined) return dflt;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min || v > max) throw new Error(`--${name} must be a number from ${min} to ${max}, got ${raw}`);
    return v;
  };
  const list = <T extends string>(name: string, all: readonly T[]): T[] => {
    const raw = flags.get(name);
    if (raw === undefined) return [...all];
    const items = raw.split(',').filter((s) => s !== '');
    for (const i of items) if (!all.includes(i as T)) throw new Error(`--${name}: unknown ${i}; expected some of ${all.join(',')}`);
    return all.filter((a) => items.includes(a));
  };
  return {
    config: {
      quick,
      reps: Math.round(num('reps', quick ? 3 : 5, 1, 100)),
      seconds: num('seconds', quick ? 0.5 : 2, 0.05, 60),
      warmup: num('warmup', quick ? 0.15 : 0.5, 0, 60),
      fanin: Math.round(num('fanin', 10000, 1, 18000)),
      pairs: Math.round(num('pairs', 5000, 1, 9000)),
      pin: flags.has('pin') ? Math.round(num('pin', 0, 0, 4095)) : undefined,
      maxNoise: num('max-noise', 0.1, 0, 1),
      redo: Math.round(num('redo', quick ? 0 : 2, 0, 10)),
      quietWait: num('quiet-wait', quick ? 0 : 60, 0, 3600),
    },
    benches: list<BenchName>('bench', ['p1', 'p2']),
    contenders: list<ContenderName>('only', CONTENDERS),
    writeDocs: flags.has('write-docs'),
    cpuProf: flags.has('cpu-prof'),
    json: flags.get('json'),
    fromJson: flags.get('from-json'),
  };
}

/** Compile the C references into bench/.work. Returns the reason when the compiler is missing or fails. */
function compileC(): string | undefined {
  mkdirSync(WORK_DIR, { recursive: true });
  for (const name of ['epoll_pingpong', 'epoll_fanin']) {
    const r = spawnSync('cc', ['-O2', '-Wall', '-o', join(WORK_DIR, name), join(C_DIR, `${name}.c`)], { encoding: 'utf8' });
    if (r.error !== undefined) return `cc -O2 ${name}.c failed: ${r.error.message}`;
    if (r.status !== 0) return `cc -O2 ${name}.c failed: ${lastLines(r.stderr)}`;
  }
  return undefined;
}

function lastLines(text: string, n = 2): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('at ') && !l.startsWith('^') && !l.startsWith('Node.js v'));
  // Prefer the line naming the error (Error: …, TypeError: …) over source excerpts.
  const errorLine = lines.find((l) => /^(\w*Error|Error)\b[:[]/.test(l) || /^\w+Error \[/.test(l));
  if (errorLine !== undefined) return errorLine.slice(0, 300);
  return lines.slice(-n).join(' / ').slice(0, 300) || 'no output';
}

/** Busy and total time of all CPUs since boot, in clock ticks (/proc/stat). */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
    const busy = user + nice + system + irq + softirq + steal;
    return { busy, total: busy + idle + iowait };
  } catch {
    return undefined;
  }
}

/** CPU time of this process's waited-for children (cutime + cstime of /proc/self/stat), in clock ticks. */
function childTicks(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[13]) + Number(f[14]);
  } catch {
    return undefined;
  }
}

/**
 * Wait until other processes use less than `maxNoise` of the CPUs for a whole second, at most `seconds`.
 * Returns the last measured share.
 */
function waitQuiet(maxNoise: number, seconds: number, log: (s: string) => void): number {
  const deadline = Date.now() + seconds * 1000;
  let busy = measureBusy(500);
  if (!(busy > maxNoise) || seconds <= 0) return busy;
  log(`  other processes use ${Math.round(busy * 100)}% of the CPUs; waiting up to ${seconds} s for them to calm down`);
  while (Date.now() < deadline) {
    busy = measureBusy(1000);
    if (busy <= maxNoise) break;
  }
  log(`  ${busy <= maxNoise ? 'quiet again' : 'still busy'} (${Math.round(busy * 100)}%)`);
  return busy;
}

interface Outcome {
  readonly sample?: Sample;
  readonly error?: string;
}

function runChild(bench: BenchName, contender: ContenderName, options: Options): Outcome {
  const { config } = options;
  const timeout = (60 + 10 * (config.seconds + config.warmup)) * 1000;
  let command: string;
  let args: string[];
  if (contender === 'c-epoll') {
    command = join(WORK_DIR, bench === 'p1' ? 'epoll_pingpong' : 'epoll_fanin');
    args = bench === 'p1' ? [String(config.seconds), String(config.warmup)] : [String(config.fanin), String(config.seconds), String(config.warmup)];
  } else {
    const params: ChildParams = {
      bench,
      contender: contender as JsContenderName,
      seconds: config.seconds,
      warmup: config.warmup,
      fanin: config.fanin,
      pairs: config.pairs,
    };
    command = process.execPath;
    const nodeArgs: string[] = [];
    if (options.cpuProf && contender === 'fdloop') {
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${join(WORK_DIR, 'prof')}`, `--cpu-prof-name=${bench}-${contender}-${Date.now()}.cpuprofile`);
    }
    args = [...nodeArgs, join(HERE, 'child.js'), JSON.stringify(params)];
  }
  if (config.pin !== undefined) {
    args = ['-c', String(config.pin), command, ...args];
    command = 'taskset';
  }
  const m0 = machineTicks();
  const c0 = childTicks();
  const r = spawnSync(command, args, { encoding: 'utf8', timeout, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 });
  const m1 = machineTicks();
  const c1 = childTicks();
  if (r.error !== undefined) {
    const timedOut = (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    return { error: timedOut ? `timed out after ${timeout / 1000} s` : r.error.message };
  }
  if (r.status !== 0) return { error: `exit ${r.status ?? r.signal}: ${lastLines(r.stderr)}` };
  const sample = parseResult(r.stdout);
  if (sample === undefined) return { error: `no RESULT line in output: ${lastLines(r.stdout + r.stderr)}` };
  if (m0 !== undefined && m1 !== undefined && c0 !== undefined && c1 !== undefined && m1.total > m0.total) {
    sample.noise = Math.max(0, (m1.busy - m0.busy - (c1 - c0)) / (m1.total - m0.total));
  }
  return { sample };
}

interface SavedRun {
  readonly machine: MachineInfo;
  readonly config: RunConfig;
  readonly results: BenchResult[];
}

function measure(options: Options, log: (s: string) => void): SavedRun {
  const { config } = options;
  if (!existsSync(join(HERE, 'child.js'))) throw new Error(`${join(HERE, 'child.js')} is missing: build the bench workspace first (npm run build -w @fdloop/bench)`);

  const results: BenchResult[] = options.benches.map((bench) => ({
    bench,
    rows: options.contenders.map((contender): ContenderResult => ({ contender, samples: [], failures: [], redone: 0 })),
  }));

  if (options.contenders.includes('c-epoll')) {
    const reason = compileC();
    if (reason !== undefined) for (const b of results) for (const r of b.rows) if (r.contender === 'c-epoll') r.unavailable = reason;
  }

  if (config.quietWait > 0) waitQuiet(config.maxNoise, config.quietWait, log);
  const machine = machineInfo(REPO_DIR);
  log(
    `fdloop bench: ${config.reps} run(s) × ${config.seconds} s (+${config.warmup} s warm-up) per contender; ` +
      `benchmarks ${options.benches.join(', ')}; contenders ${options.contenders.join(', ')}`,
  );
  for (let rep = 0; rep < config.reps; rep++) {
    for (const b of results) {
      // Rotate the order every repetition so no contender always runs right after the same neighbour.
      const n = b.rows.length;
      const line: string[] = [];
      for (let k = 0; k < n; k++) {
        const row = b.rows[(k + rep) % n] as ContenderResult;
        if (row.unavailable !== undefined) continue;
        let out = runChild(b.bench, row.contender, options);
        // Another process took the CPUs while this ran: measure again (config.redo times at most), keep the quietest.
        for (let retry = 0; retry < config.redo && (out.sample?.noise ?? 0) > config.maxNoise; retry++) {
          row.redone++;
          waitQuiet(config.maxNoise, config.quietWait, log);
          const again = runChild(b.bench, row.contender, options);
          if (again.sample !== undefined && (again.sample.noise ?? 0) < (out.sample?.noise ?? 0)) out = again;
        }
        if (out.sample !== undefined) {
          row.samples.push(out.sample);
          const noisy = (out.sample.noise ?? 0) > config.maxNoise ? ` (noisy: ${Math.round((out.sample.noise ?? 0) * 100)}%)` : '';
          line.push(`${row.contender} ${formatRate(out.sample.ops / out.sample.seconds)}${noisy}`);
        } else {
          const error = out.error ?? 'unknown failure';
          row.failures.push(error);
          line.push(`${row.contender} FAILED`);
          // A contender that fails on its first run cannot run here at all (missing build, missing package):
          // say why in its row instead of failing again on every repetition.
          if (row.samples.length === 0) row.unavailable = error;
        }
      }
      log(`  ${b.bench} run ${rep + 1}/${config.reps}: ${line.join(', ')}`);
    }
  }

  return { machine, config, results };
}

/** P7 (bench/src/timers) options: `--timers` runs only P7, `--no-timers` skips it, `--timers-reps=N`. */
function takeTimersArgs(argv: string[]): { rest: string[]; timers: { only: boolean; enabled: boolean; quick: boolean; reps?: number } } {
  const timers: { only: boolean; enabled: boolean; quick: boolean; reps?: number } = { only: false, enabled: true, quick: argv.includes('--quick') };
  const rest: string[] = [];
  for (const arg of argv) {
    if (arg === '--timers') timers.only = true;
    else if (arg === '--no-timers') timers.enabled = false;
    else if (arg.startsWith('--timers-reps=')) timers.reps = Number(arg.slice('--timers-reps='.length));
    else rest.push(arg);
  }
  return { rest, timers };
}

function main(): void {
  // The MQTT benchmark (bench/src/mqtt) takes its own options out first and runs after P1/P2.
  // The serial benchmark P6 (bench/src/serial) likewise; its children run synchronously, so it finishes before MQTT.
  // The pool suite (bench/src/pool: P4, P5, pool round trip) runs synchronously right after P1/P2.
  // P3 (bench/src/http: HTTP servers under wrk, HTTP clients) runs last, once everything else has finished
  // (beforeExit: the event loop is empty), so its wrk runs never overlap another benchmark.
  const { rest: afterHttp, http } = takeHttpArgs(process.argv.slice(2));
  const runHttp = (): void => void runHttpBench(http, (s) => void process.stderr.write(`${s}\n`)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  });
  if (http.only) return runHttp();
  const { rest: afterPool, pool } = takePoolArgs(afterHttp);
  const { rest: afterSerial, serial } = takeSerialArgs(afterPool);
  const { rest: afterTimers, timers } = takeTimersArgs(afterSerial);
  const { rest: afterMqtt, mqtt } = takeMqttArgs(afterTimers);
  const { rest, ws } = takeWsArgs(afterMqtt);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const runSerial = (): void => void runSerialBench(serial, log).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  });
  // P3 runs last, unless another suite was asked for alone.
  if (http.enabled && !(timers.only || pool.only || serial.only || mqtt.only || ws.only)) process.once('beforeExit', runHttp);
  if (timers.only) return runTimersBench(timers);
  if (pool.only) return runPoolSuite(pool, log);
  if (serial.only) return runSerial();
  const runMqtt = (): void => void runMqttBench(mqtt, log).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  });
  if (mqtt.only) return runMqtt();
  const runWs = (): void => void runWsBench(ws, log).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  });
  if (ws.only) return runWs();
  const options = parseArgs(rest);
  const started = Date.now();
  const { machine, config, results } =
    options.fromJson !== undefined ? (JSON.parse(readFileSync(options.fromJson, 'utf8')) as SavedRun) : measure(options, log);

  const report = textReport(results, config, machine);
  console.log('');
  console.log(report);
  console.log('');
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);

  if (options.json !== undefined) {
    writeFileSync(options.json, JSON.stringify({ machine, config, results }, null, 2) + '\n');
  }
  if (options.writeDocs) {
    const chartFile = config.pin === undefined ? CHART_FILE : PINNED_CHART_FILE;
    const chartRel = relative(dirname(DOCS_FILE), chartFile);
    writeFileSync(chartFile, svgChart(results, config, machine));
    const doc = existsSync(DOCS_FILE) ? readFileSync(DOCS_FILE, 'utf8') : '# Benchmarks\n';
    const heading = config.pin === undefined ? 'Results' : 'Results with every process pinned to one CPU';
    writeFileSync(DOCS_FILE, replaceResults(doc, markdownResults(results, config, machine, chartRel), resultsKey(config), heading));
    console.log(`wrote ${relative(process.cwd(), DOCS_FILE)} and ${relative(process.cwd(), chartFile)}`);
  }
  const anything = results.some((b) => b.rows.some((r) => r.samples.length > 0));
  if (!anything) {
    console.error('no contender produced a result');
    process.exitCode = 1;
  }
  if (timers.enabled) runTimersBench(timers);
  if (pool.enabled) runPoolSuite(pool, log);
  if (serial.enabled) runSerial();
  if (mqtt.enabled) runMqtt();
  if (ws.enabled) runWs();
}

try {
  main();
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
}
