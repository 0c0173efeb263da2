/**
 * The MQTT benchmark of `npm run bench`: messages per second through one local mosquitto broker, the libmosquitto
 * example driven by fdloop (`@fdloop/example-mosquitto`) against the npm `mqtt` client, at QoS 0 and QoS 1. Each
 * measurement runs in a fresh child process (bench/src/mqtt/child.ts); contenders are interleaved, and the report
 * gives medians, slowest–fastest ranges and the ratio fdloop/npm.
 *
 * Options (taken out of the argument list before run.ts parses the rest):
 *   --mqtt                 run only this benchmark
 *   --no-mqtt              skip it
 *   --mqtt-messages=N      measured messages per run (default 20000, --quick 5000)
 *   --mqtt-reps=N          runs per contender and QoS (default 5, --quick 3)
 *   --mqtt-window=N        messages in flight (published, not yet received back); default 500
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatRange, formatRate, formatRatio, median } from '../stats.js';
import { MQTT_CONTENDERS, MQTT_RESULT_PREFIX, type MqttChildParams, type MqttContender, type MqttSample } from './common.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // bench/dist/mqtt

/** The MQTT benchmark's settings, from the command line. */
export interface MqttOptions {
  /** Run it at all. */
  readonly enabled: boolean;
  /** Run nothing else. */
  readonly only: boolean;
  readonly messages: number;
  readonly reps: number;
  readonly window: number;
}

/** Remove the MQTT options from `argv` (so run.ts's own parser never sees them) and parse them. */
export function takeMqttArgs(argv: readonly string[]): { rest: string[]; mqtt: MqttOptions } {
  const rest: string[] = [];
  const quick = argv.includes('--quick');
  let only = false;
  let enabled = true;
  let messages = quick ? 5000 : 20_000;
  let reps = quick ? 3 : 5;
  let window = 500;
  const int = (arg: string, value: string, min: number, max: number): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${arg}: expected an integer from ${min} to ${max}`);
    return n;
  };
  for (const arg of argv) {
    const [name, value = ''] = arg.split('=', 2) as [string, string?];
    if (name === '--mqtt') only = true;
    else if (name === '--no-mqtt') enabled = false;
    else if (name === '--mqtt-messages') messages = int(arg, value, 1, 10_000_000);
    else if (name === '--mqtt-reps') reps = int(arg, value, 1, 100);
    else if (name === '--mqtt-window') window = int(arg, value, 1, 60_000);
    else rest.push(arg);
  }
  // Asking only for the epoll benchmarks (--bench/--only/--from-json) means: not this one, unless --mqtt.
  if (!only && rest.some((a) => /^--(bench|only|from-json)=/.test(a))) enabled = false;
  return { rest, mqtt: { enabled: enabled || only, only, messages, reps, window } };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Start `mosquitto -c <tmp conf>` on 127.0.0.1 at a free port; resolves once it accepts connections. */
async function startBroker(): Promise<{ port: number; child: ChildProcess; dir: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'fdloop-bench-mqtt-'));
  // No queue limit: a benchmark that loses messages would measure nothing (the window bounds memory instead).
  writeFileSync(join(dir, 'mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n`);
  const child = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  const spawned = new Promise<never>((_, reject) => {
    child.once('error', (e) => reject(new Error(`mosquitto could not be started: ${e.message}`)));
    child.once('exit', (code) => reject(new Error(`mosquitto exited with ${code}`)));
  });
  const deadline = Date.now() + 15_000;
  while (!(await Promise.race([listening(port), spawned]))) {
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  child.removeAllListeners('exit');
  child.removeAllListeners('error');
  return { port, child, dir };
}

function runChild(params: MqttChildParams): { sample?: MqttSample; error?: string } {
  const r = spawnSync(process.execPath, [join(HERE, 'child.js'), JSON.stringify(params)], {
    encoding: 'utf8',
    timeout: 120_000,
    killSignal: 'SIGKILL',
  });
  if (r.error !== undefined) return { error: r.error.message };
  if (r.status !== 0) return { error: `exit ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}` };
  const line = r.stdout.split('\n').find((l) => l.startsWith(MQTT_RESULT_PREFIX));
  if (line === undefined) return { error: 'no result line' };
  return { sample: JSON.parse(line.slice(MQTT_RESULT_PREFIX.length)) as MqttSample };
}

const LABEL: Record<MqttContender, string> = {
  'fdloop-mosquitto': 'fdloop + libmosquitto (examples/mosquitto)',
  'npm-mqtt': 'npm mqtt (node:net)',
};

/** Run the benchmark and print its report to stdout (progress to `log`). */
export async function runMqttBench(options: MqttOptions, log: (s: string) => void): Promise<void> {
  const version = spawnSync('mosquitto', ['-h'], { encoding: 'utf8' }).stdout?.split('\n')[0]?.trim() ?? '';
  let broker: Awaited<ReturnType<typeof startBroker>>;
  try {
    broker = await startBroker();
  } catch (err) {
    console.log(`MQTT benchmark: unavailable (${err instanceof Error ? err.message : String(err)}); install mosquitto`);
    return;
  }
  try {
    log(`mqtt bench: ${version}, port ${broker.port}; ${options.reps} run(s) × ${options.messages} messages per contender and QoS, window ${options.window}`);
    const lines: string[] = [];
    for (const qos of [0, 1] as const) {
      const samples = new Map<MqttContender, number[]>(MQTT_CONTENDERS.map((c) => [c, []]));
      const cpuPerMsg = new Map<MqttContender, number[]>(MQTT_CONTENDERS.map((c) => [c, []]));
      const failures = new Map<MqttContender, string>();
      for (let rep = 0; rep < options.reps; rep++) {
        const progress: string[] = [];
        for (let k = 0; k < MQTT_CONTENDERS.length; k++) {
          const contender = MQTT_CONTENDERS[(k + rep) % MQTT_CONTENDERS.length] as MqttContender;
          if (failures.has(contender)) continue;
          const out = runChild({
            contender,
            port: broker.port,
            qos,
            warmup: Math.min(2000, Math.ceil(options.messages / 5)),
            messages: options.messages,
            window: options.window,
            size: 64,
          });
          if (out.sample !== undefined) {
            const rate = out.sample.messages / out.sample.seconds;
            const cpuUs = (out.sample.cpuSeconds / out.sample.messages) * 1e6;
            samples.get(contender)?.push(rate);
            cpuPerMsg.get(contender)?.push(cpuUs);
            progress.push(`${contender} ${formatRate(rate)}/s (${cpuUs.toFixed(1)} µs CPU/msg)`);
          } else {
            failures.set(contender, out.error ?? 'failed');
            progress.push(`${contender} FAILED (${out.error ?? ''})`);
          }
        }
        log(`  qos ${qos} run ${rep + 1}/${options.reps}: ${progress.join(', ')}`);
      }
      const med = (c: MqttContender): number => median(samples.get(c) ?? []);
      const cpu = (c: MqttContender): number => median(cpuPerMsg.get(c) ?? []);
      lines.push(`### MQTT QoS ${qos}: messages/s (each published and received back through the broker)`, '');
      lines.push(
        '| client | median msg/s | range | vs npm mqtt | client CPU per message (median) | CPU vs npm mqtt |',
        '| --- | ---: | --- | ---: | ---: | ---: |',
      );
      for (const c of MQTT_CONTENDERS) {
        const f = failures.get(c);
        const cell = f !== undefined && (samples.get(c)?.length ?? 0) === 0 ? `unavailable: ${f}` : formatRate(med(c));
        lines.push(
          `| ${LABEL[c]} | ${cell} | ${formatRange(samples.get(c) ?? [])} | ${formatRatio(med(c) / med('npm-mqtt'))} | ` +
            `${cpu(c).toFixed(1)} µs | ${formatRatio(cpu(c) / cpu('npm-mqtt'))} |`,
        );
      }
      lines.push('');
    }
    console.log('');
    console.log(lines.join('\n'));
  } finally {
    broker.child.kill('SIGTERM');
    rmSync(broker.dir, { recursive: true, force: true });
  }
}
