/** A description of the machine and toolchain a run was made on. */

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';

export interface MachineInfo {
  readonly date: string;
  readonly node: string;
  readonly kernel: string;
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly cc: string;
  readonly epollPackage: string;
  /** Share of all CPUs busy during one second before the run (other processes: the runner itself is idle). */
  readonly busyBefore: number;
  /** 1-minute load average before the run. */
  readonly loadBefore: number;
  /** The fdloop sources measured: the git commit, and whether packages/ had uncommitted changes. */
  readonly revision: string;
}

function revision(repoDir: string): string {
  try {
    const git = (...args: string[]): string =>
      execFileSync('git', ['-C', repoDir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--', 'packages') !== '';
    return dirty ? `${head} + uncommitted changes in packages/` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function cpuTimes(): { busy: number; total: number } | undefined {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
    const busy = user + nice + system + irq + softirq + steal;
    return { busy, total: busy + idle + iowait };
  } catch {
    return undefined;
  }
}

/** How busy the machine is without us: sampled over `ms` milliseconds while this process sleeps. */
export function measureBusy(ms = 1000): number {
  const a = cpuTimes();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  const b = cpuTimes();
  if (a === undefined || b === undefined || b.total === a.total) return NaN;
  return (b.busy - a.busy) / (b.total - a.total);
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line !== undefined) return line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // not Linux, or /proc not mounted: fall through
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function ccVersion(): string {
  try {
    return execFileSync('cc', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0] ?? 'unknown';
  } catch {
    return 'not found';
  }
}

function epollPackageVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    const pkg = require('epoll/package.json') as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

/** Describe the machine; `repoDir` is the fdloop checkout being measured. */
export function machineInfo(repoDir: string): MachineInfo {
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    nproc: os.availableParallelism(),
    cpuModel: cpuModel(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    cc: ccVersion(),
    epollPackage: epollPackageVersion(),
    busyBefore: measureBusy(),
    loadBefore: os.loadavg()[0] ?? NaN,
    revision: revision(repoDir),
  };
}
