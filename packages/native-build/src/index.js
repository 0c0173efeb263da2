/**
 * The native-addon plumbing shared by fdloop's addon packages, parameterised by package directory and addon
 * name:
 *
 * - {@link buildAddon}: the cmake-js driver (offline, against Node's local headers, node-addon-api from the
 *   package's node_modules);
 * - {@link installAddon}: the npm `install` step (use the prebuild for this machine if it loads, else an earlier
 *   build, else compile);
 * - {@link prebuildAddon}: the release step (a stripped Release binary in `prebuilds/<platform>-<arch>/` of a
 *   staged package copy);
 * - {@link loadAddon}: the runtime loader (prebuild, then `build/Release`, skipping one that fails in dlopen;
 *   {@link AddonLoadError} lists what was tried).
 *
 * Pure JavaScript with no dependencies; it runs at install time before anything is built. The addon package
 * itself depends on `cmake-js` and `node-addon-api`, which {@link buildAddon} resolves from it.
 *
 * @example
 * ```ts
 * // src/native.ts of an addon package
 * import { loadAddon } from '@fdloop/native-build';
 *
 * export const binding = loadAddon<{ hello(): string }>({
 *   name: '@me/my-addon',
 *   addon: 'my_addon.node',
 *   root: new URL('../', import.meta.url),
 * });
 * ```
 *
 * @module
 */

// `export *` also re-exports the JSDoc typedefs (option and result types).
export * from './check.js';
export * from './cmake.js';
export * from './install.js';
export * from './loader.js';
export * from './prebuild.js';
