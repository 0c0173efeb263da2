/**
 * Kernel timers (`rt.timer()`): timerfd on Linux, `EVFILT_TIMER` on kqueue, waitable timers on Windows.
 *
 * @module
 */

import type {
  KernelTimer,
  KernelTimerOptions,
  KernelTimerSetting,
  TimerArming,
  TimerClock,
  TimerExpiration,
  TimerRecord,
} from '../contract/sources.js';
import { InvalidArgumentError, describeReceived } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { SourceBase, validateSourceOptions } from './base.js';

/** The smallest positive arming value: a zero delay means "as soon as possible", and 0 would disarm. */
const MIN_VALUE_MS = 1e-6;
const CLOCKS: readonly TimerClock[] = ['monotonic', 'realtime', 'boottime'];

/** A timer callback: the expiration report and the timer. */
export type KernelTimerCallback = (expiration: TimerExpiration, timer: KernelTimer) => void;

function checkMs(name: string, value: unknown, allowZero: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new InvalidArgumentError(
      name,
      `must be a finite number of milliseconds ${allowZero ? '>= 0' : '> 0'}, got ${describeReceived(value)}`,
    );
  }
  return value;
}

/** @internal Validate a setting and turn it into the backend's {@link TimerArming}; `undefined` = stay disarmed. */
export function toArming(setting: KernelTimerSetting, clock: TimerClock): TimerArming | undefined {
  if (setting === null || typeof setting !== 'object') {
    throw new InvalidArgumentError('setting', `must be an object with delay, at or interval, got ${describeReceived(setting)}`);
  }
  const { delay, at, interval } = setting;
  if (delay !== undefined && at !== undefined) throw new InvalidArgumentError('at', 'give either delay or at, not both');
  const period = interval === undefined ? 0 : checkMs('interval', interval, false);
  if (at !== undefined) {
    let value: number;
    if (at instanceof Date) {
      if (clock !== 'realtime') throw new InvalidArgumentError('at', `a Date needs clock 'realtime', not '${clock}'`);
      value = at.getTime();
      if (Number.isNaN(value)) throw new InvalidArgumentError('at', 'is an invalid Date');
    } else {
      value = checkMs('at', at, true);
    }
    return { value: Math.max(value, MIN_VALUE_MS), absolute: true, interval: period };
  }
  if (delay === undefined) {
    if (period === 0) return undefined;
    return { value: period, absolute: false, interval: period };
  }
  return { value: Math.max(checkMs('delay', delay, true), MIN_VALUE_MS), absolute: false, interval: period };
}

/** @internal */
export class KernelTimerImpl extends SourceBase<'timer', TimerRecord, TimerExpiration> implements KernelTimer {
  readonly clock: TimerClock;
  private isArmed = false;
  private periodic = false;

  constructor(rt: Runtime, options: KernelTimerOptions, callback: KernelTimerCallback | undefined) {
    const opts = validateSourceOptions(options) as KernelTimerOptions;
    const clock = opts.clock ?? 'monotonic';
    if (!CLOCKS.includes(clock)) {
      throw new InvalidArgumentError('clock', `must be one of ${CLOCKS.join(', ')}, got ${describeReceived(clock)}`);
    }
    // Validate before anything is created, so bad input leaves nothing behind.
    const arming = toArming(opts, clock);
    super(rt, { kind: 'timer', clock }, opts, callback as ((ev: TimerExpiration, s: never) => void) | undefined);
    this.clock = clock;
    try {
      this.apply(arming);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  get armed(): boolean {
    return this.isArmed;
  }

  set(setting: KernelTimerSetting): void {
    if (this.closed) throw new InvalidArgumentError('timer', 'is closed');
    this.apply(toArming(setting, this.clock));
  }

  cancel(): void {
    if (this.closed || !this.isArmed) return;
    this.handle.disarm();
    this.isArmed = false;
    this.setActive(false);
  }

  private apply(arming: TimerArming | undefined): void {
    if (arming === undefined) {
      this.handle.disarm();
      this.isArmed = false;
    } else {
      this.handle.arm(arming);
      this.isArmed = true;
      this.periodic = arming.interval > 0;
    }
    this.setActive(this.isArmed);
  }

  protected decode(records: TimerRecord[]): TimerExpiration[] {
    if (!this.periodic) this.isArmed = false;
    return records.map((r) => ({ expirations: r.expirations }));
  }

  protected override afterDelivery(): void {
    // A one-shot timer that fired (and was not re-armed by its callback) is no longer pending work.
    if (!this.isArmed) this.setActive(false);
  }
}
