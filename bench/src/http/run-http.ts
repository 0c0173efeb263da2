/**
 * P3: HTTP/1.1 hello world with keep-alive under real `wrk -t1 -c50`, for fdloop's server (`@fdloop/mod-http`),
 * node:http and a minimal C epoll server (the physical-limit reference, compiled here), in one run, contenders
 * interleaved. Reports requests per second (wrk) AND server CPU microseconds per request (utime + stime of the
 * server process from /proc/<pid>/stat before and after the measured run), because on 2 cores wrk itself caps the
 * rate. Also: resident memory per idle keep-alive connection, and a client benchmark (fdloop's HttpClient vs
 * undici's Pool.request() and fetch vs node:http's Agent) against the C server.
 *
 * Options (taken out of the argument list before the other benchmarks see it):
 *   --http               run only this benchmark
 *   --no-http            skip it
 *   --http-reps=N        measured runs per server (default 5, quick 3)
 *   --http-seconds=S     length of each wrk run (default 5, quick 2)
 *   --http-idle=N        idle keep-alive connections for the memory measurement (default 2000, quick 500)
 *   --http-client=N      requests per client-benchmark run (default 100000, quick 20000)
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url)); // bench/dist/http
const BENCH_DIR = resolve(HERE, '..', '..');
const WORK_DIR = join(BENCH_DIR, '.work');
const C_SOURCE = join(BENCH_DIR, 'src', 'http', 'c', 'http_epoll.c');
const C_BINARY = join(WORK_DIR, 'http_epoll');
const CLK_TCK = 100; // Linux's USER_HZ for /proc/<pid>/stat times

/** Options of P3. */
export interface HttpBenchOptions {
  readonly enabled: boolean;
  readonly only: boolean;
  readonly reps: number;
  readonly seconds: number;
  readonly idle: number;
  readonly clientRequests: number;
}

/** Take the P3 options out of `argv`. */
export function takeHttpArgs(argv: readonly string[]): { rest: string[]; http: HttpBenchOptions } {
  const rest: string[] = [];
  const quick = argv.includes('--quick');
  let only = false;
  let enabled = true;
  let reps = quick ? 3 : 5;
  let seconds = quick ? 2 : 5;
  let idle = quick ? 500 : 2000;
  let clientRequests = quick ? 20_000 : 100_000;
  const num = (arg: string, value: string, min: number, max: number): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${arg}: expected a number from ${min} to ${max}`);
    return n;
  };
  for (const arg of argv) {
    const [name, value = ''] = arg.split('=', 2) as [string, string?];
    if (name === '--http') only = true;
    else if (name === '--no-http') enabled = false;
    else if (name === '--http-reps') reps = Math.round(num(arg, value, 1, 100));
    else if (name === '--http-seconds') seconds = num(arg, value, 0.5, 120);
    else if (name === '--http-idle') idle = Math.round(num(arg, value, 0, 8000));
    else if (name === '--http-client') clientRequests = Math.round(num(arg, value, 100, 10_000_000));
    else rest.push(arg);
  }
  if (!only && rest.some((a) => /^--(bench|only|from-json)=/.test(a))) enabled = false;
  return { rest, http: { enabled: enabled || only, only, reps, seconds, idle, clientRequests } };
}

const SERVERS = ['fdloop', 'fdloop-dynamic', 'node-http', 'c-epoll'] as const;
type ServerName = (typeof SERVERS)[number];
const CLIENTS = ['fdloop', 'undici', 'undici-fetch', 'node-http'] as const;
type ClientName = (typeof CLIENTS)[number];

interface ServerSample {
  readonly rps: number;
  readonly cpuMicrosPerRequest: number;
  readonly requests: number;
  readonly p99ms: number;
  readonly rssPerIdleKiB: number | undefined;
}

interface RunningServer {
  readonly child: ChildProcess;
  readonly port: number;
}

function startServer(name: ServerName): Promise<RunningServer> {
  const child =
    name === 'c-epoll'
      ? spawn(C_BINARY, ['0'], { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(process.execPath, [join(HERE, 'server.js'), name], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolvePort, reject) => {
    let out = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${name} server exited with ${String(code)} before listening`)));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m !== null) resolvePort({ child, port: Number(m[1]) });
    });
  });
}

function stopServer(server: RunningServer): Promise<void> {
  return new Promise((r) => {
    server.child.removeAllListeners('exit');
    server.child.once('exit', () => r());
    server.child.kill('SIGKILL');
  });
}

/** utime + stime of a process, in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]);
}

function wrk(port: number, seconds: number): Promise<{ requests: number; rps: number; p99ms: number }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn('wrk', ['-t1', '-c50', `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const requests = /(\d+) requests in/.exec(out);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
      if (code !== 0 || requests === null || rps === null) return reject(new Error(`wrk failed (${String(code)}): ${out.slice(-300)}`));
      if (/Non-2xx|Socket errors/.test(out)) return reject(new Error(`wrk saw errors: ${out.slice(-300)}`));
      const scale = p99?.[2] === 'us' ? 1e-3 : p99?.[2] === 's' ? 1e3 : 1;
      resolveRun({ requests: Number(requests[1]), rps: Number(rps[1]), p99ms: p99 === null ? NaN : Number(p99[1]) * scale });
    });
  });
}

/** Open `n` keep-alive connections, one request each, and keep them open. */
async function idleConnections(port: number, n: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  const batch = 200;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, n - i) }, () =>
        new Promise<void>((ok, fail) => {
          const s = connect(port, '127.0.0.1');
          s.once('error', fail);
          s.once('data', () => ok());
          s.write('GET / HTTP/1.1\r\nHost: bench\r\n\r\n');
          sockets.push(s);
        }),
      ),
    );
  }
  return sockets;
}

async function measureServer(name: ServerName, options: HttpBenchOptions, withMemory: boolean): Promise<ServerSample> {
  const server = await startServer(name);
  try {
    const pid = server.child.pid as number;
    await wrk(server.port, 1); // warm-up: JIT, connection setup
    const t0 = cpuTicks(pid);
    const run = await wrk(server.port, options.seconds);
    const t1 = cpuTicks(pid);
    let rssPerIdleKiB: number | undefined;
    if (withMemory && options.idle > 0) {
      const before = rssKiB(pid);
      const sockets = await idleConnections(server.port, options.idle);
      await new Promise((r) => setTimeout(r, 200));
      rssPerIdleKiB = (rssKiB(pid) - before) / options.idle;
      for (const s of sockets) s.destroy();
    }
    return {
      rps: run.rps,
      requests: run.requests,
      p99ms: run.p99ms,
      cpuMicrosPerRequest: ((t1 - t0) * (1e6 / CLK_TCK)) / run.requests,
      rssPerIdleKiB,
    };
  } finally {
    await stopServer(server);
  }
}

interface ClientSample {
  readonly rps: number;
  readonly cpuMicrosPerRequest: number;
}

function measureClient(name: ClientName, port: number, requests: number): Promise<ClientSample> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [join(HERE, 'client.js'), name, String(port), String(requests), '50'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const m = /HTTPCLIENT (\{.*\})/.exec(out);
      if (code !== 0 || m === null) return reject(new Error(`${name} client failed (${String(code)})`));
      const r = JSON.parse(m[1] as string) as { requests: number; seconds: number; cpuSeconds: number };
      resolveRun({ rps: r.requests / r.seconds, cpuMicrosPerRequest: (r.cpuSeconds * 1e6) / r.requests });
    });
  });
}

function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const pad = (s: string, n: number): string => s.padEnd(n);

/** Run P3 and print its tables. */
export async function runHttpBench(options: HttpBenchOptions, log: (s: string) => void): Promise<void> {
  mkdirSync(WORK_DIR, { recursive: true });
  let cReason: string | undefined;
  const cc = spawnSync('cc', ['-O2', '-Wall', '-o', C_BINARY, C_SOURCE], { encoding: 'utf8' });
  if (cc.error !== undefined || cc.status !== 0) cReason = `cc failed: ${cc.error?.message ?? cc.stderr.slice(0, 200)}`;
  const which = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  if (which.error !== undefined) throw new Error('P3 needs wrk (apt-get install wrk)');

  const servers = SERVERS.filter((s) => s !== 'c-epoll' || cReason === undefined);
  const samples = new Map<ServerName, ServerSample[]>(servers.map((s) => [s, []]));
  log(`P3 HTTP hello world: wrk -t1 -c50, ${options.reps} run(s) × ${options.seconds} s per server; servers ${servers.join(', ')}`);
  for (let rep = 0; rep < options.reps; rep++) {
    const line: string[] = [];
    for (let k = 0; k < servers.length; k++) {
      const name = servers[(k + rep) % servers.length] as ServerName;
      const s = await measureServer(name, options, rep === 0);
      (samples.get(name) as ServerSample[]).push(s);
      line.push(`${name} ${Math.round(s.rps)} req/s ${fmt(s.cpuMicrosPerRequest)} µs/req`);
    }
    log(`  P3 run ${rep + 1}/${options.reps}: ${line.join(', ')}`);
  }

  const med = (name: ServerName, f: (s: ServerSample) => number | undefined): number => median((samples.get(name) ?? []).map((s) => f(s) ?? NaN));
  const rows: string[] = [];
  rows.push(`${pad('server', 34)} ${pad('req/s', 9)} ${pad('CPU µs/req', 11)} ${pad('p99 ms', 7)} ${pad('KiB/idle conn', 13)} req/s vs C  CPU vs C   req/s vs node`);
  for (const name of [...servers, 'uWebSockets.js' as const]) {
    if (name === 'uWebSockets.js') {
      rows.push(`${pad('uWebSockets.js', 34)} unavailable: not on the npm registry (only GitHub); its @btc-vision build needs glibc 2.38, Debian 12 has 2.36`);
      continue;
    }
    const rps = med(name, (s) => s.rps);
    const cpu = med(name, (s) => s.cpuMicrosPerRequest);
    const label =
      name === 'fdloop'
        ? 'fdloop (@fdloop/mod-http)'
        : name === 'fdloop-dynamic'
          ? 'fdloop, body new per request'
          : name === 'c-epoll'
            ? 'C epoll (physical-limit reference)'
            : 'node:http';
    const cRps = servers.includes('c-epoll') ? med('c-epoll', (s) => s.rps) : NaN;
    const cCpu = servers.includes('c-epoll') ? med('c-epoll', (s) => s.cpuMicrosPerRequest) : NaN;
    rows.push(
      `${pad(label, 34)} ${pad(String(Math.round(rps)), 9)} ${pad(fmt(cpu), 11)} ${pad(fmt(med(name, (s) => s.p99ms), 2), 7)} ${pad(fmt(med(name, (s) => s.rssPerIdleKiB)), 13)} ` +
        `${pad(fmt(rps / cRps, 2) + '×', 11)} ${pad(fmt(cpu / cCpu, 2) + '×', 10)} ${fmt(rps / med('node-http', (s) => s.rps), 2)}×`,
    );
  }
  if (cReason !== undefined) rows.push(`C epoll reference unavailable: ${cReason}`);
  const f = {
    rps: med('fdloop', (s) => s.rps),
    cpu: med('fdloop', (s) => s.cpuMicrosPerRequest),
    mem: med('fdloop', (s) => s.rssPerIdleKiB),
  };
  const targets = [
    `req/s ≥ 0.85× C: ${fmt(f.rps / med('c-epoll', (s) => s.rps), 2)}×`,
    `req/s ≥ 2× node:http: ${fmt(f.rps / med('node-http', (s) => s.rps), 2)}×`,
    `CPU/req ≤ 1.3× C: ${fmt(f.cpu / med('c-epoll', (s) => s.cpuMicrosPerRequest), 2)}×`,
    `memory/idle connection ≤ node:http: ${fmt(f.mem)} vs ${fmt(med('node-http', (s) => s.rssPerIdleKiB))} KiB`,
  ];

  // Client benchmark against the C server (the cheapest peer, so the client's own cost dominates).
  const clientRows: string[] = [];
  if (cReason === undefined) {
    const server = await startServer('c-epoll');
    try {
      const clientSamples = new Map<ClientName, ClientSample[]>(CLIENTS.map((c) => [c, []]));
      const reps = Math.max(1, Math.min(options.reps, 3));
      for (let rep = 0; rep < reps; rep++) {
        for (let k = 0; k < CLIENTS.length; k++) {
          const name = CLIENTS[(k + rep) % CLIENTS.length] as ClientName;
          (clientSamples.get(name) as ClientSample[]).push(await measureClient(name, server.port, options.clientRequests));
        }
      }
      const cm = (name: ClientName, f2: (s: ClientSample) => number): number => median((clientSamples.get(name) ?? []).map(f2));
      clientRows.push(`${pad('client (50 in flight, keep-alive)', 34)} ${pad('req/s', 9)} ${pad('CPU µs/req', 11)} req/s vs undici`);
      for (const name of CLIENTS) {
        const label = name === 'fdloop' ? 'fdloop HttpClient' : name === 'undici' ? 'undici Pool.request()' : name === 'undici-fetch' ? "undici fetch (Node's)" : 'node:http Agent';
        clientRows.push(`${pad(label, 34)} ${pad(String(Math.round(cm(name, (s) => s.rps))), 9)} ${pad(fmt(cm(name, (s) => s.cpuMicrosPerRequest)), 11)} ${fmt(cm(name, (s) => s.rps) / cm('undici', (s) => s.rps), 2)}×`);
      }
    } finally {
      await stopServer(server);
    }
  }

  console.log('');
  console.log(`P3 — HTTP/1.1 hello world, keep-alive, wrk -t1 -c50 (medians of ${options.reps}; memory from the first run, ${options.idle} idle connections)`);
  console.log(rows.join('\n'));
  console.log(`targets: ${targets.join('; ')}`);
  if (clientRows.length > 0) {
    console.log('');
    console.log(`P3 client — ${options.clientRequests} GETs against the C server`);
    console.log(clientRows.join('\n'));
  }
}
