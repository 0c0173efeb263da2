/**
 * Process-exit waits (`rt.processExit()`): pidfd on Linux, `EVFILT_PROC` on kqueue, a process handle on Windows.
 *
 * @module
 */

import type { ProcessExitEvent, ProcessExitRecord, ProcessExitSource, SourceOptions } from '../contract/sources.js';
import { CancelledError, InvalidArgumentError, describeReceived } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { SourceBase, validateSourceOptions } from './base.js';
import { signalName } from './signal.js';

/** A process-exit callback. */
export type ProcessExitCallback = (event: ProcessExitEvent, source: ProcessExitSource) => void;

/** @internal */
export class ProcessExitImpl extends SourceBase<'processExit', ProcessExitRecord, ProcessExitEvent> implements ProcessExitSource {
  readonly pid: number;
  private result: ProcessExitEvent | undefined;
  private failure: unknown;
  private promise: Promise<ProcessExitEvent> | undefined;
  private settle: { resolve(ev: ProcessExitEvent): void; reject(e: unknown): void } | undefined;

  constructor(rt: Runtime, pid: number, options: SourceOptions | undefined, callback: ProcessExitCallback | undefined) {
    if (typeof pid !== 'number' || !Number.isInteger(pid) || pid < 1 || pid > 0x7fffffff) {
      throw new InvalidArgumentError('pid', `must be a positive integer process id, got ${describeReceived(pid)}`);
    }
    const opts = validateSourceOptions(options);
    super(rt, { kind: 'processExit', pid }, opts, callback as ((ev: ProcessExitEvent, s: never) => void) | undefined);
    this.pid = pid;
  }

  /** Created on first use, so an `exited` nobody reads never becomes an unhandled rejection. */
  get exited(): Promise<ProcessExitEvent> {
    if (this.promise === undefined) {
      if (this.result !== undefined) this.promise = Promise.resolve(this.result);
      else if (this.closed) this.promise = Promise.reject(this.failure ?? new CancelledError('the processExit source was closed before the process exited'));
      else this.promise = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    }
    return this.promise;
  }

  protected decode(records: ProcessExitRecord[]): ProcessExitEvent[] {
    const r = records[0];
    if (r === undefined || this.result !== undefined) return [];
    this.result = { ...r, signal: r.signo === null ? null : (signalName(r.signo) ?? `signal ${r.signo}`) };
    return [this.result];
  }

  protected override afterDelivery(): void {
    if (this.result === undefined) return;
    this.settle?.resolve(this.result);
    this.settle = undefined;
    this.close();
  }

  protected override onClosed(): void {
    if (this.result === undefined) {
      this.failure = new CancelledError('the processExit source was closed before the process exited');
      this.settle?.reject(this.failure);
      this.settle = undefined;
    }
  }
}
