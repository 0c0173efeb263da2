/**
 * Signal subscriptions (`rt.signal()`): signalfd on Linux, `EVFILT_SIGNAL` on kqueue.
 *
 * @module
 */

import { constants } from 'node:os';
import type { SignalEvent, SignalRecord, SignalSource, SourceOptions } from '../contract/sources.js';
import { InvalidArgumentError } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { SourceBase, validateSourceOptions } from './base.js';

/** A signal callback: the signal's details and the source. */
export type SignalCallback = (event: SignalEvent, source: SignalSource) => void;

const SIGNALS = constants.signals as Readonly<Record<string, number>>;

/**
 * Signals that cannot be subscribed: SIGKILL and SIGSTOP cannot be caught or blocked by anyone, and the fault
 * signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP) are raised synchronously by the faulting thread, where a
 * blocked fault signal kills the process instead of being queued.
 */
const REFUSED: Readonly<Record<string, string>> = Object.freeze({
  SIGKILL: 'SIGKILL cannot be caught, blocked or ignored by any process',
  SIGSTOP: 'SIGSTOP cannot be caught, blocked or ignored by any process',
  SIGSEGV: 'SIGSEGV is a synchronous fault signal; blocking it would kill the process on the next fault',
  SIGBUS: 'SIGBUS is a synchronous fault signal; blocking it would kill the process on the next fault',
  SIGFPE: 'SIGFPE is a synchronous fault signal; blocking it would kill the process on the next fault',
  SIGILL: 'SIGILL is a synchronous fault signal; blocking it would kill the process on the next fault',
  SIGTRAP: 'SIGTRAP is used by debuggers and raised synchronously; it cannot be subscribed',
});

/** The name of signal number `signo` on this platform, or `undefined`. */
export function signalName(signo: number): string | undefined {
  for (const [name, n] of Object.entries(SIGNALS)) if (n === signo) return name;
  return undefined;
}

/**
 * Resolve a signal given by name (`'SIGUSR2'`, `'USR2'`, case-insensitive) or number to `[name, number]`.
 * @throws InvalidArgumentError for an unknown signal, and for SIGKILL, SIGSTOP and the synchronous fault signals.
 */
export function resolveSignal(signal: unknown): [string, number] {
  let name: string | undefined;
  let signo: number | undefined;
  if (typeof signal === 'string') {
    const upper = signal.toUpperCase();
    name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
    signo = SIGNALS[name];
  } else if (typeof signal === 'number' && Number.isInteger(signal)) {
    signo = signal;
    name = signalName(signal);
  }
  if (name === undefined || signo === undefined) {
    throw new InvalidArgumentError('signal', `unknown signal ${JSON.stringify(signal)}; expected a name from os.constants.signals such as 'SIGUSR2'`);
  }
  const refused = REFUSED[name];
  if (refused !== undefined) throw new InvalidArgumentError('signal', refused);
  return [name, signo];
}

/** @internal */
export class SignalSourceImpl extends SourceBase<'signal', SignalRecord, SignalEvent> implements SignalSource {
  readonly signal: string;
  readonly signo: number;

  constructor(rt: Runtime, signal: string | number, options: SourceOptions | undefined, callback: SignalCallback | undefined) {
    const [name, signo] = resolveSignal(signal);
    const opts = validateSourceOptions(options);
    super(rt, { kind: 'signal', signo }, opts, callback as ((ev: SignalEvent, s: never) => void) | undefined);
    this.signal = name;
    this.signo = signo;
  }

  protected decode(records: SignalRecord[]): SignalEvent[] {
    return records.map((r) => ({ ...r, signal: signalName(r.signo) ?? this.signal }));
  }
}
