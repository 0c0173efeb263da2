/** The collected results of a run, the targets, and their evaluation. */

import type { BenchName, ContenderName, Sample } from './common.js';
import { median } from './stats.js';

export interface ContenderResult {
  readonly contender: ContenderName;
  /** Successful measured runs. */
  readonly samples: Sample[];
  /** Why runs failed (one entry per failed run). */
  readonly failures: string[];
  /** Runs measured again because other processes were busy while they ran. */
  redone: number;
  /** Set when the contender could not run at all (build failure, missing package…): the reason. */
  unavailable?: string;
}

export interface BenchResult {
  readonly bench: BenchName;
  readonly rows: ContenderResult[];
}

export interface RunConfig {
  readonly quick: boolean;
  readonly reps: number;
  /** Measured seconds per run. */
  readonly seconds: number;
  /** Warm-up seconds per run. */
  readonly warmup: number;
  /** P2: eventfds (fdloop, npm epoll, C). */
  readonly fanin: number;
  /** P2: unix socket pairs (node:net). */
  readonly pairs: number;
  /** Redo a run when other processes used more than this share of all CPUs during it. */
  readonly maxNoise: number;
  /** How many times a noisy run may be redone. */
  readonly redo: number;
  /** Seconds to wait for a quiet machine before the first run and before each redo. */
  readonly quietWait: number;
  /** The CPU every child was pinned to (`taskset -c`), or undefined when the scheduler placed them freely. */
  readonly pin: number | undefined;
}

export const BENCH_TITLES: Readonly<Record<BenchName, string>> = {
  p1: 'P1 pipe ping-pong',
  p2: 'P2 fan-in',
};

export const BENCH_UNITS: Readonly<Record<BenchName, string>> = {
  p1: 'round trips/s',
  p2: 'events/s',
};

export function rates(row: ContenderResult): number[] {
  return row.samples.map((s) => s.ops / s.seconds);
}

export function medianRate(row: ContenderResult | undefined): number {
  if (row === undefined || row.samples.length === 0) return NaN;
  return median(rates(row));
}

/** P2: rounds per second, from the samples that report rounds. */
export function medianRounds(row: ContenderResult): number {
  const r = row.samples.filter((s) => s.rounds !== undefined).map((s) => (s.rounds as number) / s.seconds);
  return r.length > 0 ? median(r) : NaN;
}

export interface Target {
  readonly bench: BenchName;
  /** fdloop's median divided by this contender's median… */
  readonly against: ContenderName;
  /** …must be at least this. */
  readonly min: number;
}

/** The targets of the benchmarks issue. */
export const TARGETS: readonly Target[] = [
  { bench: 'p1', against: 'node-net', min: 1.5 },
  { bench: 'p1', against: 'c-epoll', min: 0.5 },
  { bench: 'p2', against: 'npm-epoll', min: 10 },
];

export interface TargetOutcome {
  readonly target: Target;
  readonly ratio: number;
  /** `pass`, `miss`, or `n/a` when a side is unavailable (with the reason). */
  readonly verdict: 'pass' | 'miss' | 'n/a';
  readonly reason?: string;
}

export function findRow(results: readonly BenchResult[], bench: BenchName, contender: ContenderName): ContenderResult | undefined {
  return results.find((b) => b.bench === bench)?.rows.find((r) => r.contender === contender);
}

export function evaluateTargets(results: readonly BenchResult[]): TargetOutcome[] {
  const out: TargetOutcome[] = [];
  for (const target of TARGETS) {
    if (!results.some((b) => b.bench === target.bench)) continue;
    const mine = findRow(results, target.bench, 'fdloop');
    const theirs = findRow(results, target.bench, target.against);
    const ratio = medianRate(mine) / medianRate(theirs);
    if (!Number.isFinite(ratio)) {
      const missing = !Number.isFinite(medianRate(mine)) ? mine : theirs;
      const reason =
        missing === undefined ? 'not run (filtered out)' : `${missing.contender} unavailable: ${missing.unavailable ?? missing.failures[0] ?? 'no result'}`;
      out.push({ target, ratio: NaN, verdict: 'n/a', reason });
      continue;
    }
    out.push({ target, ratio, verdict: ratio >= target.min ? 'pass' : 'miss' });
  }
  return out;
}
