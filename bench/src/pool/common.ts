/** What the pool suite's runner and its child processes share. */

/** P4: read many small files; P5: pbkdf2 and sha256 throughput; pool: task round trips. */
export const POOL_BENCHES = ['p4', 'p5-pbkdf2', 'p5-sha256', 'pool-rtt'] as const;
export type PoolBench = (typeof POOL_BENCHES)[number];

/** Contenders per benchmark, fdloop first, the reference (the denominator of the ratio) last. */
export const POOL_CONTENDERS: Readonly<Record<PoolBench, readonly string[]>> = {
  p4: ['mod-fs (io_uring)', 'mod-fs (pool)', 'node:fs callbacks', 'node:fs/promises'],
  'p5-pbkdf2': ['mod-crypto', 'node:crypto async'],
  'p5-sha256': ['mod-crypto', 'node:crypto sync (main thread)', 'node:crypto async'],
  'pool-rtt': ['fdloop pool', 'piscina'],
};

/** The targets: fdloop's median over the reference's. */
export const POOL_TARGETS: Readonly<Record<PoolBench, number | undefined>> = {
  p4: 1.5,
  'p5-pbkdf2': 1.0,
  'p5-sha256': 1.0,
  'pool-rtt': undefined,
};

export const POOL_TITLES: Readonly<Record<PoolBench, string>> = {
  p4: 'P4 read 4 KiB files (files/s)',
  'p5-pbkdf2': 'P5 pbkdf2-sha256, 10,000 iterations (derivations/s)',
  'p5-sha256': 'P5 sha256 of 64 KiB buffers (MB/s)',
  'pool-rtt': 'Pool task round trip, one at a time (round trips/s)',
};

export interface PoolChildParams {
  readonly bench: PoolBench;
  readonly contender: string;
  readonly seconds: number;
  readonly warmup: number;
  /** P4: the directory holding the files, and how many. */
  readonly dir: string;
  readonly files: number;
  /** Pool threads for fdloop's pool and piscina (the same number). */
  readonly threads: number;
}

export interface PoolSample {
  /** Operations (files, derivations, hashes, round trips). */
  readonly ops: number;
  readonly seconds: number;
  /** CPU time of the whole process (every thread, user + system) during the measured seconds. */
  readonly cpuSeconds: number;
  /** Bytes per operation, when the rate is reported in MB/s. */
  readonly bytesPerOp?: number;
}

export const POOL_RESULT_PREFIX = 'POOLRESULT ';
