// The matrix's probe: copied to <cache>/probe/probe.test.mjs and run by vitest (pool 'forks', as the packages'
// configs use) under each Node binary before the packages' own suites. It checks that what the suites rely on
// really runs on the version under test, so a green cell cannot come from the machine's own Node:
//   - vitest's forked test process, children spawned with process.execPath, `node` on PATH and worker_threads all
//     run the expected version;
//   - the already-built N-API addon (prebuilds/<platform>-<arch>/ or build/Release/fdloop_epoll.node,
//     NAPI_VERSION 8) loads, on the main thread and in a worker;
//   - @fdloop/core's backend auto-detection, which require()s the ESM package @fdloop/backend-epoll
//     (require(esm): Node >= 20.19 / 22.12), finds the epoll backend.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { expect, test } from 'vitest';

const expected = process.env.FDLOOP_MATRIX_EXPECT;
const root = process.env.FDLOOP_MATRIX_ROOT;
// As the package's loadNative() looks: a prebuilt binary for this platform first, else the local build.
const addon = [
  join(root, 'packages', 'backend-epoll', 'prebuilds', `${process.platform}-${process.arch}`, 'fdloop_epoll.node'),
  join(root, 'packages', 'backend-epoll', 'build', 'Release', 'fdloop_epoll.node'),
].find((file) => existsSync(file));

function inWorker(source) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { addon } });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited ${code} without answering`)));
  });
}

test('the vitest fork runs the Node under test', () => {
  expect(expected).toMatch(/^v\d+\./);
  expect(process.version).toBe(expected);
});

test('a child spawned with process.execPath runs the same Node', () => {
  const child = spawnSync(process.execPath, ['-p', 'process.version'], { encoding: 'utf8' });
  expect(child.stdout.trim()).toBe(expected);
});

test('`node` on PATH is the same Node', () => {
  const child = spawnSync('node', ['-p', 'process.version'], { encoding: 'utf8' });
  expect(child.stdout.trim()).toBe(expected);
});

test('the N-API addon loads (N-API >= 8)', () => {
  expect(addon, 'fdloop_epoll.node is built').toBeDefined();
  expect(Number(process.versions.napi)).toBeGreaterThanOrEqual(8);
  const binding = createRequire(import.meta.url)(addon);
  expect(Object.keys(binding).length).toBeGreaterThan(0);
});

test('a worker_thread runs the same Node and loads the addon there too', async () => {
  const answer = await inWorker(`
    const { parentPort, workerData } = require('node:worker_threads');
    const binding = require(workerData.addon);
    parentPort.postMessage({ version: process.version, exports: Object.keys(binding).length });
  `);
  expect(answer.version).toBe(expected);
  expect(answer.exports).toBeGreaterThan(0);
});

test('core auto-detects the epoll backend (require(esm) of @fdloop/backend-epoll)', async () => {
  const core = await import(pathToFileURL(join(root, 'packages', 'core', 'dist', 'index.js')).href);
  const backend = core.detectBackend();
  expect(backend.name).toBe('epoll');
  const rt = core.createRuntime();
  expect(rt.closed).toBe(false);
  await rt.close();
  expect(rt.closed).toBe(true);
});
