/**
 * The WebSocket echo benchmark of `npm run bench` (`--ws` alone, `--no-ws` to skip): one echo server per
 * contender — @fdloop/mod-ws on backend-epoll vs npm `ws` on node:net — each in its own process, driven by the same
 * npm `ws` client process (bench/src/ws/client.ts). Reports median messages/s, the range, the server's CPU per
 * message and the ratios fdloop/ws. Contenders are interleaved run by run.
 */

import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatRange, formatRate, formatRatio, median } from '../stats.js';

const HERE = dirname(fileURLToPath(import.meta.url)); // bench/dist/ws
const CONTENDERS = ['fdloop', 'ws'] as const;
type Contender = (typeof CONTENDERS)[number];
const LABEL: Record<Contender, string> = { fdloop: 'fdloop @fdloop/mod-ws (backend-epoll)', ws: 'npm ws (node:net)' };

/** The WebSocket benchmark's settings, from the command line. */
export interface WsOptions {
  readonly enabled: boolean;
  readonly only: boolean;
  readonly messages: number;
  readonly reps: number;
}

/** Remove `--ws`, `--no-ws`, `--ws-messages=N`, `--ws-reps=N` from `argv` and parse them. */
export function takeWsArgs(argv: readonly string[]): { rest: string[]; ws: WsOptions } {
  const quick = argv.includes('--quick');
  const rest: string[] = [];
  let only = false;
  let enabled = true;
  let messages = quick ? 20_000 : 100_000;
  let reps = quick ? 3 : 5;
  for (const arg of argv) {
    const [name, value = ''] = arg.split('=', 2) as [string, string?];
    if (name === '--ws') only = true;
    else if (name === '--no-ws') enabled = false;
    else if (name === '--ws-messages' && Number.isInteger(Number(value)) && Number(value) > 0) messages = Number(value);
    else if (name === '--ws-reps' && Number.isInteger(Number(value)) && Number(value) > 0) reps = Number(value);
    else rest.push(arg);
  }
  if (!only && rest.some((a) => /^--(bench|only|from-json)=/.test(a))) enabled = false;
  return { rest, ws: { enabled: enabled || only, only, messages, reps } };
}

async function once(contender: Contender, messages: number): Promise<{ rate: number; cpuUs: number } | string> {
  const server = spawn(process.execPath, [join(HERE, 'server.js'), contender], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /PORT (\d+)/.exec(out);
        if (m !== null) resolve(Number(m[1]));
      });
      server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const r = spawnSync(process.execPath, [join(HERE, 'client.js'), String(port), String(Math.ceil(messages / 10)), String(messages), '64', '64'], {
      encoding: 'utf8',
      timeout: 120_000,
      killSignal: 'SIGKILL',
    });
    const line = r.stdout.split('\n').find((l) => l.startsWith('WSRESULT '));
    if (r.status !== 0 || line === undefined) return `exit ${r.status ?? r.signal}: ${r.stderr.trim()}`;
    const s = JSON.parse(line.slice('WSRESULT '.length)) as { messages: number; seconds: number; serverCpuUs: number };
    return { rate: s.messages / s.seconds, cpuUs: s.serverCpuUs / s.messages };
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    server.kill('SIGTERM');
  }
}

/** Run the benchmark and print its report to stdout (progress to `log`). */
export async function runWsBench(options: WsOptions, log: (s: string) => void): Promise<void> {
  log(`ws bench: ${options.reps} run(s) × ${options.messages} echoed 64-byte binary messages per server, window 64`);
  const rates = new Map<Contender, number[]>(CONTENDERS.map((c) => [c, []]));
  const cpus = new Map<Contender, number[]>(CONTENDERS.map((c) => [c, []]));
  const failures = new Map<Contender, string>();
  for (let rep = 0; rep < options.reps; rep++) {
    const progress: string[] = [];
    for (let k = 0; k < CONTENDERS.length; k++) {
      const c = CONTENDERS[(k + rep) % CONTENDERS.length] as Contender;
      const out = await once(c, options.messages);
      if (typeof out === 'string') {
        failures.set(c, out);
        progress.push(`${c} FAILED (${out})`);
      } else {
        rates.get(c)?.push(out.rate);
        cpus.get(c)?.push(out.cpuUs);
        progress.push(`${c} ${formatRate(out.rate)}/s (${out.cpuUs.toFixed(1)} µs server CPU/msg)`);
      }
    }
    log(`  run ${rep + 1}/${options.reps}: ${progress.join(', ')}`);
  }
  const rate = (c: Contender): number => median(rates.get(c) ?? []);
  const cpu = (c: Contender): number => median(cpus.get(c) ?? []);
  const lines = [
    '### WebSocket echo: messages/s (same npm ws client, 64-byte binary messages, 64 in flight)',
    '',
    '| server | median msg/s | range | vs ws | server CPU per message (median) | CPU vs ws |',
    '| --- | ---: | --- | ---: | ---: | ---: |',
  ];
  for (const c of CONTENDERS) {
    const f = failures.get(c);
    const cell = f !== undefined && (rates.get(c)?.length ?? 0) === 0 ? `unavailable: ${f}` : formatRate(rate(c));
    lines.push(`| ${LABEL[c]} | ${cell} | ${formatRange(rates.get(c) ?? [])} | ${formatRatio(rate(c) / rate('ws'))} | ${cpu(c).toFixed(2)} µs | ${formatRatio(cpu(c) / cpu('ws'))} |`);
  }
  console.log('');
  console.log(lines.join('\n'));
}
