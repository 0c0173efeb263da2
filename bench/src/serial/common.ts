/** What the serial benchmark's (P6) parent and child processes share. */

/** The two serial libraries measured side by side. */
export const SERIAL_CONTENDERS = ['mod-serial', 'serialport'] as const;
/** One of {@link SERIAL_CONTENDERS}. */
export type SerialContender = (typeof SERIAL_CONTENDERS)[number];

/** What one child measures: bulk throughput, or request/response round trips. */
export type SerialMode = 'throughput' | 'latency';

/** What one child process measures (passed as JSON in argv[2]). */
export interface SerialChildParams {
  readonly contender: SerialContender;
  readonly mode: SerialMode;
  /** Length of the measured part, in seconds. */
  readonly seconds: number;
  /** Unmeasured warm-up first, in seconds. */
  readonly warmup: number;
}

/** What a child prints on its last line, after `SERIALRESULT `. */
export interface SerialSample {
  /** throughput: bytes received in the measured part. latency: round trips completed. */
  readonly count: number;
  /** Wall-clock time of the measured part. */
  readonly seconds: number;
  /** latency mode: round-trip times of the measured part, in microseconds (p50, p99). */
  readonly p50?: number;
  readonly p99?: number;
  /** CPU time (user + system) of the process during the measured part, in seconds. */
  readonly cpuSeconds: number;
}

export const SERIAL_RESULT_PREFIX = 'SERIALRESULT ';
