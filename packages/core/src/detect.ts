/**
 * Finding a backend: by object, by registered name, by package name, or by platform default.
 */

import { createRequire } from 'node:module';
import type { Backend } from './contract/index.js';
import { InvalidArgumentError, NoBackendError, UnknownBackendError } from './errors.js';

/** A function that creates a backend, as registered with {@link registerBackend}. */
export type BackendFactory = () => Backend;

/** The backends fdloop publishes, by name, with their package. */
export const KNOWN_BACKENDS: Readonly<Record<string, string>> = Object.freeze({
  epoll: '@fdloop/backend-epoll',
  kqueue: '@fdloop/backend-kqueue',
  iocp: '@fdloop/backend-iocp',
});

/** Which backends each platform tries, in order, when none is named. */
export const PLATFORM_BACKENDS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  linux: ['epoll'],
  android: ['epoll'],
  darwin: ['kqueue'],
  freebsd: ['kqueue'],
  openbsd: ['kqueue'],
  netbsd: ['kqueue'],
  win32: ['iocp'],
});

// Per thread, like all module state: every worker_thread loads its own copy of this module.
const registered = new Map<string, BackendFactory>();
const requireFromHere = createRequire(import.meta.url);

/**
 * Register a backend under a name so `createRuntime({ backend: name })` finds it; a custom backend plugin
 * calls this once when imported. Registered names take precedence over the published ones.
 *
 * @example
 * ```ts
 * registerBackend('poll', () => pollBackend());
 * const rt = createRuntime({ backend: 'poll' });
 * ```
 */
export function registerBackend(name: string, factory: BackendFactory): void {
  if (typeof name !== 'string' || name === '') throw new InvalidArgumentError('name', 'must be a non-empty string');
  if (typeof factory !== 'function') throw new InvalidArgumentError('factory', 'must be a function returning a Backend');
  registered.set(name, factory);
}

/** The names {@link loadBackend} accepts: registered ones and the published ones. */
export function knownBackendNames(): string[] {
  return [...new Set([...registered.keys(), ...Object.keys(KNOWN_BACKENDS)])];
}

interface BackendModule {
  createBackend?: () => Backend;
}

function loadPackage(name: string, packageName: string): Backend {
  const mod = requireFromHere(packageName) as BackendModule;
  if (typeof mod.createBackend !== 'function') {
    throw new InvalidArgumentError('backend', `package ${packageName} does not export createBackend(); is it an fdloop backend?`);
  }
  const backend = mod.createBackend();
  assertBackend(backend, name);
  return backend;
}

/**
 * Load a backend by name: a registered one first, then the published package of that name.
 * @throws UnknownBackendError for a name that is neither; the package's own load error (for example
 *   `MODULE_NOT_FOUND` when it is not installed) otherwise.
 */
export function loadBackend(name: string): Backend {
  const factory = registered.get(name);
  if (factory !== undefined) {
    const backend = factory();
    assertBackend(backend, name);
    return backend;
  }
  const packageName = KNOWN_BACKENDS[name];
  if (packageName === undefined) throw new UnknownBackendError(name, knownBackendNames());
  return loadPackage(name, packageName);
}

/**
 * Find the platform's backend among the installed packages (and registered backends).
 * @throws NoBackendError listing what was tried and what to install.
 */
export function detectBackend(): Backend {
  const names = PLATFORM_BACKENDS[process.platform] ?? [];
  const tried: string[] = [];
  for (const name of registered.keys()) {
    try {
      return loadBackend(name);
    } catch (err) {
      tried.push(`${name} (registered): ${(err as Error).message}`);
    }
  }
  for (const name of names) {
    const packageName = KNOWN_BACKENDS[name] as string;
    try {
      return loadPackage(name, packageName);
    } catch (err) {
      const message = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? 'not installed' : (err as Error).message.split('\n')[0];
      tried.push(`${packageName}: ${message}`);
    }
  }
  const install = names.length > 0 ? names.map((n) => `npm install ${KNOWN_BACKENDS[n]}`).join(' or ') : 'write a backend for this platform (see @fdloop/core/testing)';
  throw new NoBackendError(tried, install);
}

/** @internal */
export function resolveBackend(option: Backend | string | undefined): Backend {
  if (option === undefined) return detectBackend();
  if (typeof option === 'string') return loadBackend(option);
  assertBackend(option, 'backend');
  return option;
}

function assertBackend(value: unknown, label: string): asserts value is Backend {
  const b = value as Partial<Backend> | null;
  if (b === null || typeof b !== 'object' || typeof b.name !== 'string' || typeof b.createPoller !== 'function' || typeof b.capabilities !== 'object') {
    throw new InvalidArgumentError('backend', `${label} is not a Backend (needs name, capabilities and createPoller())`);
  }
}
