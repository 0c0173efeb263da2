/**
 * The runtime side of the portable event sources (see `contract/sources.ts` for the contract). The `Runtime`
 * methods `timer()`, `signal()`, `notifier()`, `watchPath()` and `processExit()` construct these classes.
 *
 * @module
 */

export { KernelTimerImpl, toArming, type KernelTimerCallback } from './timer.js';
export { SignalSourceImpl, resolveSignal, signalName, type SignalCallback } from './signal.js';
export { NotifierImpl, notifyRemote, type NotifierCallback } from './notifier.js';
export { PathWatcherImpl, type PathWatchCallback } from './path.js';
export { ProcessExitImpl, type ProcessExitCallback } from './process.js';
export { splitArgs } from './base.js';
