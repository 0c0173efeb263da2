/**
 * What the runner and the child processes share: benchmark and contender names, the child's result line, and the
 * timing rule every contender follows.
 */

/** P1: pipe ping-pong round trips; P2: fan-in events over many descriptors. */
export type BenchName = 'p1' | 'p2';

/** The contenders, in the order they are printed. */
export const CONTENDERS = ['fdloop', 'npm-epoll', 'node-net', 'c-epoll'] as const;
export type ContenderName = (typeof CONTENDERS)[number];

/** Contenders implemented in JavaScript (run by `child.js`); `c-epoll` is a compiled program. */
export type JsContenderName = Exclude<ContenderName, 'c-epoll'>;

export const LABELS: Readonly<Record<ContenderName, string>> = {
  fdloop: 'fdloop (epoll backend)',
  'npm-epoll': 'npm epoll',
  'node-net': 'node:net',
  'c-epoll': 'C epoll (reference)',
};

/**
 * P1 and the C reference check the clock every this many round trips, so the clock costs the same everywhere
 * (a few nanoseconds per round trip).
 */
export const CHECK_EVERY = 256;

/** Parameters handed to a child on its command line as JSON. */
export interface ChildParams {
  readonly bench: BenchName;
  readonly contender: JsContenderName;
  /** Length of the measured run, in seconds (P2: rounds repeat until this has passed, at least one round). */
  readonly seconds: number;
  /** Length of the unmeasured warm-up run before it (JIT, caches), in seconds; P2 runs at least one round. */
  readonly warmup: number;
  /** P2: eventfds to watch (fdloop, npm epoll). */
  readonly fanin: number;
  /** P2: unix socket pairs (node:net). */
  readonly pairs: number;
}

/** One measured run, printed by a child as `RESULT <json>` on its last stdout line. */
export interface Sample {
  /** Round trips (P1) or handled events (P2). */
  readonly ops: number;
  /** Measured time in seconds. */
  readonly seconds: number;
  /** P2: completed rounds. */
  readonly rounds?: number;
  /** Descriptors the benchmark itself used in this process (pipes, eventfds, sockets, the epoll fd). */
  readonly fds?: number;
  /** Events per round (P2). */
  readonly perRound?: number;
  /** How the I/O was done, when it is not obvious. */
  readonly io?: string;
  /** Setup time (creating and registering descriptors), in milliseconds. */
  readonly setupMs?: number;
  /**
   * Added by the runner: the share of the machine's CPU time that other processes used while this sample ran
   * (0 to 1; the child's own CPU time is excluded).
   */
  noise?: number;
}

export const RESULT_PREFIX = 'RESULT ';

export function formatResult(sample: Sample): string {
  return RESULT_PREFIX + JSON.stringify(sample);
}

/** Parse the `RESULT` line of a child's stdout, or undefined. */
export function parseResult(stdout: string): Sample | undefined {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(RESULT_PREFIX));
  if (line === undefined) return undefined;
  const value = JSON.parse(line.slice(RESULT_PREFIX.length)) as Sample;
  if (typeof value.ops !== 'number' || typeof value.seconds !== 'number' || !(value.seconds > 0)) return undefined;
  return value;
}

/** An 8-byte little-endian 1, the value written to an eventfd to signal it. */
export function eventfdOne(): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(1n);
  return b;
}
