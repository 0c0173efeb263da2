// The runtime half: loading a package's `.node` file from the places the install step may have left it.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/**
 * `<platform>-<arch>` of this process, e.g. `linux-x64`: the name of the `prebuilds/` subfolder for this machine.
 * @returns {string}
 */
export function platformTarget() {
  return `${process.platform}-${process.arch}`;
}

/**
 * The folders (relative to the package root) an addon is looked for in, in order: the prebuild for this machine,
 * then the cmake-js build.
 * @returns {string[]} `['prebuilds/<platform>-<arch>', 'build/Release']`
 */
export function defaultAddonLocations() {
  return [`prebuilds/${platformTarget()}`, 'build/Release'];
}

/**
 * @typedef {object} AddonAttempt One place {@link loadAddon} tried, and why it did not load from there.
 * @property {string} file absolute path of the `.node` file
 * @property {string} reason `'not found'`, or the message of the error `require()` (dlopen) threw
 */

/**
 * Thrown by {@link loadAddon} when no location held a loadable addon. `code` is `'ERR_FDLOOP_ADDON_LOAD'`;
 * `tried` lists each location with the reason it failed; `cause` is the last load error (if any file existed).
 */
export class AddonLoadError extends Error {
  /**
   * Always `'AddonLoadError'`.
   * @override
   */
  name = 'AddonLoadError';

  /** Always `'ERR_FDLOOP_ADDON_LOAD'`. */
  code = 'ERR_FDLOOP_ADDON_LOAD';

  /**
   * Every location tried, in order, with the reason it failed.
   * @type {readonly AddonAttempt[]}
   */
  tried;

  /**
   * @param {string} message the full message (it already lists `tried`)
   * @param {readonly AddonAttempt[]} tried the locations tried
   * @param {unknown} [cause] the last error `require()` threw
   */
  constructor(message, tried, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.tried = tried;
  }
}

/**
 * @typedef {object} LoadAddonOptions Options of {@link loadAddon}.
 * @property {string} name the npm package name, used in the error message (e.g. `'@fdloop/backend-epoll'`)
 * @property {string} addon the addon's file name (e.g. `'fdloop_epoll.node'`)
 * @property {URL | string} root the package root: a `file:` URL (typically `new URL('../', import.meta.url)`
 *   from `src/` or `dist/`) or a path
 * @property {readonly string[]} [locations] folders under `root` to try, in order; default
 *   {@link defaultAddonLocations} (`prebuilds/<platform>-<arch>`, then `build/Release`)
 * @property {string} [note] a sentence added after "could not be loaded." (e.g. which platforms the package is for);
 *   default none
 * @property {string} [hint] how to fix it; default: build it with `npm rebuild <name>` (needs cmake, a C++17
 *   compiler and Node's headers)
 */

/**
 * Loads a native addon: the first location that has the file and whose `require()` (dlopen) succeeds wins, so a
 * prebuild that fails to load (built against a newer glibc, or for musl) is skipped in favour of a local build.
 * Call it once per thread and keep the result (Node loads an addon per environment; worker threads each load it).
 * @template T the addon's exports
 * @param {LoadAddonOptions} options
 * @returns {T} the addon's exports
 * @throws {AddonLoadError} when no location holds a loadable addon, listing each file tried and why it failed
 * @example
 * ```ts
 * import { loadAddon } from '@fdloop/native-build';
 *
 * interface Binding { hello(): string }
 * const binding = loadAddon<Binding>({
 *   name: '@me/my-addon',
 *   addon: 'my_addon.node',
 *   root: new URL('../', import.meta.url),
 * });
 * ```
 */
export function loadAddon(options) {
  const root = options.root instanceof URL ? fileURLToPath(options.root) : options.root;
  if (!isAbsolute(root)) throw new TypeError(`loadAddon: root must be a file: URL or an absolute path, got ${root}`);
  /** @type {AddonAttempt[]} */
  const tried = [];
  /** @type {unknown} */
  let cause;
  for (const location of options.locations ?? defaultAddonLocations()) {
    const file = join(root, location, options.addon);
    if (!existsSync(file)) {
      tried.push({ file, reason: 'not found' });
      continue;
    }
    try {
      return /** @type {T} */ (require(file));
    } catch (error) {
      cause = error;
      tried.push({ file, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  const hint =
    options.hint ??
    `Build it with \`npm rebuild ${options.name}\` (needs cmake >= 3.15, a C++17 compiler and Node's headers; ` +
      'see the package README).';
  const note = options.note ? ` ${options.note}` : '';
  throw new AddonLoadError(
    `${options.name}: the native addon could not be loaded.${note} ${hint}\n  ` +
      tried.map((t) => `${t.file}: ${t.reason}`).join('\n  '),
    tried,
    cause,
  );
}

/**
 * @typedef {object} AddonLoaderFields What {@link addonLoader} adds to the options of {@link loadAddon}.
 * @property {() => (string | undefined)} [refuse] called before the first load: the message of an `Error` to throw
 *   when the addon cannot exist on this platform (nothing is tried then), or `undefined` to go ahead; default:
 *   always go ahead
 */

/**
 * @typedef {LoadAddonOptions & AddonLoaderFields} AddonLoaderOptions Options of {@link addonLoader}.
 */

/**
 * The loader shape every fdloop addon package uses in its `src/native.ts`: a function that loads the addon on its
 * first call ({@link loadAddon}) and returns the same exports afterwards. Module state is per thread, so each
 * worker thread that imports the package loads the addon into its own environment once. A failed load is not
 * remembered: the next call tries again (after `npm rebuild`, for example).
 * @template T the addon's exports
 * @param {AddonLoaderOptions} options what {@link loadAddon} takes, plus `refuse`
 * @returns {() => T} the loader
 * @throws {AddonLoadError | Error} from the returned function: what {@link loadAddon} throws, or the `refuse`
 *   message
 * @example
 * ```ts
 * import { addonLoader } from '@fdloop/native-build';
 *
 * export const loadNative = addonLoader<Binding>({
 *   name: '@me/my-addon',
 *   addon: 'my_addon.node',
 *   root: new URL('../', import.meta.url),
 *   refuse: () => (process.platform === 'win32' ? '@me/my-addon needs POSIX; this is Windows.' : undefined),
 * });
 * const binding = loadNative();
 * ```
 */
export function addonLoader(options) {
  /** @type {T | undefined} */
  let binding;
  return () => {
    if (binding === undefined) {
      const refusal = options.refuse?.();
      if (refusal !== undefined) throw new Error(refusal);
      binding = /** @type {T} */ (loadAddon(options));
    }
    return binding;
  };
}

/**
 * @typedef {object} AddonSyscallFields What an addon adds to an `Error` it throws when a system call fails.
 * @property {number} errno the error number as the addon reports it (an `errno` value on POSIX, a Win32, WSA or
 *   NTSTATUS-derived code on Windows; the package's TypeScript turns it into its typed error)
 * @property {string} syscall the failing call, e.g. `'epoll_create1'`
 */

/**
 * @typedef {Error & AddonSyscallFields} AddonSyscallError The shape of errors an fdloop addon throws when a system
 *   call fails (from a constructor, which cannot return `-errno`).
 */

/**
 * Whether `error` is a system-call failure thrown by an addon (an `Error` with a numeric `errno` and a string
 * `syscall`), as opposed to an argument error.
 * @param {unknown} error anything caught
 * @returns {error is AddonSyscallError}
 * @example
 * ```ts
 * try {
 *   poller = new binding.Poller(batchSize, onEvents);
 * } catch (error) {
 *   if (isAddonSyscallError(error)) throw errnoError(error.errno, error.syscall);
 *   throw error;
 * }
 * ```
 */
export function isAddonSyscallError(error) {
  return (
    error instanceof Error &&
    typeof (/** @type {Partial<AddonSyscallFields>} */ (error).errno) === 'number' &&
    typeof (/** @type {Partial<AddonSyscallFields>} */ (error).syscall) === 'string'
  );
}
