#!/usr/bin/env node
// Packs every publishable workspace package (every workspace whose package.json is not "private") into
// .work/pack/<name>-<version>.tgz, exactly as it would be published, and checks each tarball:
//
//   1. builds them with nx (unless --skip-build: CI runs this right after `npm test`, which built everything);
//   2. checks dist/ holds no test files and nothing stale (every dist file must come from a file in src/);
//   3. stages a copy of each package from its `npm pack` file list in .work/pack-stage/, runs the package's
//      "pack:prebuild" script on the staged copy if it has one (backend-epoll: a stripped Release binary in
//      prebuilds/<platform>-<arch>/), and runs `npm pack` there. Staging keeps prebuilds out of the workspace,
//      where they would shadow the development build in build/Release (src/native.ts tries prebuilds/ first);
//   4. checks the tarball's contents (no tests, fixtures, tsconfig/tsbuildinfo, build/ intermediates, .work,
//      node_modules; a .node file only as prebuilds/<platform>-<arch>/*.node) and prints sizes;
//   5. runs publint (--strict: warnings fail too) and are-the-types-wrong on the tarball. ESM-only packages are
//      checked with attw's "esm-only" profile (see docs/guides/releasing.md for why).
//
// Exits non-zero if any check fails. Options: --skip-build, --keep-stage, --verbose (list every file).

import console from 'node:console';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import process from 'node:process';

import {
  formatBytes,
  indent,
  npmCommand,
  packDir,
  publishablePackages,
  repoRoot,
  run,
  seconds,
} from './lib/workspaces.mjs';

const args = new Set(process.argv.slice(2));
for (const arg of args) {
  if (!['--skip-build', '--keep-stage', '--verbose'].includes(arg)) {
    console.error(`pack: unknown option ${arg}\nusage: node scripts/pack.mjs [--skip-build] [--keep-stage] [--verbose]`);
    process.exit(2);
  }
}

const stageRoot = join(repoRoot, '.work', 'pack-stage');
const bin = (name) => join(repoRoot, 'node_modules', '.bin', name);
const [npmNode, npmCli] = npmCommand();
const npm = (npmArgs, options) => run(npmNode, [npmCli, ...npmArgs], options);
const target = `${process.platform}-${process.arch}`;
const env = { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true' };

const started = performance.now();
const packages = publishablePackages();
if (packages.length === 0) {
  console.error('pack: no publishable workspace package found');
  process.exit(1);
}
console.log(`== pack: ${packages.map((p) => `${p.name}@${p.version} (${p.rel})`).join(', ')}`);

// 1. Build.
if (!args.has('--skip-build')) {
  const t = performance.now();
  const projects = packages.map((p) => p.name).join(',');
  run(bin('nx'), ['run-many', '-t', 'build', `--projects=${projects}`, '--outputStyle=static'], { env });
  console.log(`== built in ${seconds(t)}`);
}

rmSync(packDir, { recursive: true, force: true });
rmSync(stageRoot, { recursive: true, force: true });
mkdirSync(packDir, { recursive: true });

/** Files that never belong in a tarball, with the reason. */
const FORBIDDEN = [
  [/(^|\/)(test|tests|__tests__|__mocks__)\//, 'test directory'],
  [/(^|\/)fixtures?\//, 'test fixture'],
  [/\.(test|spec)\.[cm]?[jt]sx?(\.map)?$|\.(test|spec)\.d\.[cm]?ts(\.map)?$/, 'test file'],
  [/\.tsbuildinfo$/, 'tsbuildinfo'],
  [/(^|\/)tsconfig[^/]*\.json$/, 'tsconfig'],
  [/(^|\/)(vitest|vite|jest|typedoc|eslint)\.config\.[cm]?[jt]s$|(^|\/)typedoc\.json$/, 'tool config'],
  [/^build\//, 'build/ intermediate'],
  [/(^|\/)(CMakeFiles|CMakeCache\.txt|build\.ninja|rules\.ninja|Makefile|cmake_install\.cmake)(\/|$)/, 'CMake intermediate'],
  [/\.(o|obj|a|lib|so|dylib|dll|exp|pdb)$/, 'object file'],
  [/(^|\/)(\.work|\.nx|node_modules|coverage|\.git)\//, 'workspace-only directory'],
  [/(^|\/)\.(env|npmrc)$/, 'local configuration'],
];
const PREBUILD = /^prebuilds\/[a-z0-9]+-[a-z0-9]+\/[^/]+\.node$/;
const TESTLIKE = FORBIDDEN.slice(0, 3);

function listFiles(dir, base = dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = join(dir, entry.name);
    return entry.isDirectory() ? listFiles(full, base) : [relative(base, full)];
  });
}

const SOURCE_SUFFIX = /(\.d)?\.([cm]?js|[cm]?ts)(\.map)?$/;
const SOURCE_EXTS = ['.ts', '.tsx', '.mts', '.cts', '.js', '.mjs', '.cjs'];

/** dist/ must hold no test output and nothing without a source in src/ (a stale file from an earlier build). */
function checkDist(pkg) {
  const problems = [];
  const distDir = join(pkg.dir, 'dist');
  const srcDir = join(pkg.dir, 'src');
  const files = listFiles(distDir).map((f) => f.split('\\').join('/'));
  if (files.length === 0) problems.push('dist/ is missing or empty: build first');
  for (const file of files) {
    for (const [re, what] of TESTLIKE) if (re.test(`dist/${file}`)) problems.push(`dist/${file}: ${what} in dist/`);
    if (existsSync(srcDir) && SOURCE_SUFFIX.test(file)) {
      const stem = file.replace(SOURCE_SUFFIX, '');
      if (!SOURCE_EXTS.some((ext) => existsSync(join(srcDir, stem + ext)))) {
        problems.push(`dist/${file}: no src/${stem}.ts; stale output of an earlier build (delete dist/ and rebuild)`);
      }
    }
  }
  return problems;
}

function checkContents(pkg, files) {
  const problems = [];
  const paths = files.map((f) => f.path);
  for (const path of paths) {
    for (const [re, what] of FORBIDDEN) if (re.test(path)) problems.push(`${path}: ${what}`);
    if (path.endsWith('.node') && !PREBUILD.test(path)) problems.push(`${path}: a .node file outside prebuilds/<platform>-<arch>/`);
  }
  for (const required of ['package.json', 'README.md', 'LICENSE']) {
    if (!paths.includes(required)) problems.push(`${required} is missing`);
  }
  if (pkg.manifest.scripts?.['pack:prebuild'] && !paths.some((p) => p.startsWith(`prebuilds/${target}/`))) {
    problems.push(`prebuilds/${target}/ is missing although the package has a pack:prebuild script`);
  }
  return problems;
}

/** ESM only: "type": "module" and no export condition or file that gives CommonJS. */
function isEsmOnly(manifest) {
  const exportsText = JSON.stringify(manifest.exports ?? {});
  return manifest.type === 'module' && !/"require"|\.cjs"/.test(exportsText) && !String(manifest.main ?? '').endsWith('.cjs');
}

const results = [];
let failed = false;

for (const pkg of packages) {
  const t = performance.now();
  const result = { pkg, problems: [] };
  results.push(result);
  console.log(`\n== ${pkg.name}@${pkg.version} (${pkg.rel})`);

  // 2. dist/.
  result.problems.push(...checkDist(pkg));
  for (const script of ['prepack', 'prepare', 'postpack', 'prepublishOnly']) {
    if (pkg.manifest.scripts?.[script]) {
      console.log(`  note: the "${script}" script is not run here (packing uses --ignore-scripts); build with nx instead`);
    }
  }

  // 3. Stage the `npm pack` file list, add prebuilds, pack.
  const dry = JSON.parse(npm(['pack', '--dry-run', '--json', '--ignore-scripts', '-w', pkg.rel], { capture: true }).stdout);
  const stage = join(stageRoot, basename(pkg.dir));
  mkdirSync(stage, { recursive: true });
  for (const { path } of dry[0].files) {
    if (path.startsWith('prebuilds/')) {
      console.log(`  warning: ${pkg.rel}/${path} exists in the workspace; not packed (it shadows build/Release: delete it)`);
      continue;
    }
    mkdirSync(dirname(join(stage, path)), { recursive: true });
    copyFileSync(join(pkg.dir, path), join(stage, path));
  }
  if (pkg.manifest.scripts?.['pack:prebuild']) {
    const tp = performance.now();
    console.log(`  running ${pkg.name}'s pack:prebuild on the staged copy`);
    npm(['run', 'pack:prebuild', '--silent', '-w', pkg.rel, '--', stage], { env });
    console.log(`  prebuild done in ${seconds(tp)}`);
  }
  const packed = JSON.parse(
    npm(['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], { cwd: stage, capture: true }).stdout,
  )[0];
  result.tarball = join(packDir, packed.filename);
  result.packed = packed;

  // 4. Contents and sizes.
  result.problems.push(...checkContents(pkg, packed.files));
  const prebuilds = packed.files.filter((f) => PREBUILD.test(f.path));
  console.log(
    `  ${relative(repoRoot, result.tarball)}: ${formatBytes(packed.size)} packed, ${formatBytes(packed.unpackedSize)} ` +
      `unpacked, ${packed.entryCount} files` +
      (prebuilds.length ? `; prebuilds: ${prebuilds.map((f) => `${f.path} (${formatBytes(f.size)})`).join(', ')}` : ''),
  );
  const byDir = new Map();
  for (const f of packed.files) {
    const top = f.path.includes('/') ? `${f.path.split('/')[0]}/` : f.path;
    byDir.set(top, (byDir.get(top) ?? 0) + f.size);
  }
  console.log(`  by top-level entry: ${[...byDir].map(([k, v]) => `${k} ${formatBytes(v)}`).join(', ')}`);
  if (args.has('--verbose')) for (const f of packed.files) console.log(`    ${formatBytes(f.size).padStart(9)}  ${f.path}`);

  // 5. publint and attw on the tarball itself (what gets published, prebuild included).
  const publint = run(bin('publint'), ['run', result.tarball, '--strict'], { capture: true, allowFailure: true });
  const publintOut = `${publint.stdout}${publint.stderr}`.split('\n').filter((l) => l && !/^(Running publint|Unpacking tarball|Linting)/.test(l));
  result.publint = publint.ok ? 'ok' : 'FAILED';
  console.log(`  publint --strict: ${publint.ok ? 'ok' : 'FAILED'}`);
  process.stdout.write(indent(publintOut.join('\n'), '    '));
  if (!publint.ok) result.problems.push('publint reported errors or warnings');

  const profile = isEsmOnly(pkg.manifest) ? 'esm-only' : 'strict';
  const attwArgs = [result.tarball, '--profile', profile, '--no-definitely-typed', '--format', 'table-flipped', '--no-emoji', '--no-color'];
  const attw = run(bin('attw'), attwArgs, { capture: true, allowFailure: true });
  result.attw = attw.ok ? `ok (${profile})` : `FAILED (${profile})`;
  console.log(`  attw --profile ${profile}: ${attw.ok ? 'ok' : 'FAILED'}`);
  process.stdout.write(indent(`${attw.stdout}${attw.stderr}`.trim(), '    '));
  if (!attw.ok) result.problems.push(`attw (profile ${profile}) reported problems`);

  for (const problem of result.problems) console.log(`  ERROR: ${problem}`);
  if (result.problems.length) failed = true;
  console.log(`  done in ${seconds(t)}`);
}

if (!args.has('--keep-stage')) rmSync(stageRoot, { recursive: true, force: true });

console.log('\n== summary');
for (const r of results) {
  const size = r.packed ? `${formatBytes(r.packed.size)} (${r.packed.entryCount} files)` : '-';
  const status = r.problems.length ? `${r.problems.length} problem(s)` : 'OK';
  console.log(
    `  ${`${r.pkg.name}@${r.pkg.version}`.padEnd(30)} ${(r.tarball ? relative(repoRoot, r.tarball) : '-').padEnd(42)} ` +
      `${size.padEnd(22)} publint ${r.publint ?? '-'}, attw ${r.attw ?? '-'}: ${status}`,
  );
}
console.log(`== pack ${failed ? 'FAILED' : 'OK'} in ${seconds(started)}; tarballs in ${relative(repoRoot, packDir)}/`);
const leftovers = packages.filter((p) => existsSync(join(p.dir, 'prebuilds')) && statSync(join(p.dir, 'prebuilds')).isDirectory());
for (const p of leftovers) console.log(`warning: ${p.rel}/prebuilds/ exists in the workspace and shadows build/Release; delete it`);
process.exit(failed ? 1 : 0);
