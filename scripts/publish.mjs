#!/usr/bin/env node
// The publishing half of `npm run release`: publishes the tarballs that scripts/pack.mjs made and
// scripts/tarball-smoke.mjs tested (.work/pack/*.tgz), not a fresh `npm publish` of the workspace folders, so
// what reaches the registry is byte for byte what was checked, prebuilt binary included. Then creates the git tags
// with `changeset tag`.
//
//   node scripts/publish.mjs [--dry-run] [--tag <dist-tag>] [--otp <code>]
//
// - Every publishable workspace package must have its tarball in .work/pack/ at the workspace's version.
// - Packages go out in dependency order (@fdloop/core before the backends that depend on it).
// - A version already on the registry is skipped, so a release that failed half-way can simply be run again.
// - A prerelease version (1.0.0-next.0) needs --tag (npm would otherwise move "latest" to it).
// - --dry-run: `npm publish --dry-run` for each tarball, no tags.
// This replaces `changeset publish`, which runs `npm publish` in each package folder and so would publish
// @fdloop/backend-epoll without its prebuild (prebuilds are never written into the workspace).

import console from 'node:console';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import process from 'node:process';

import { npmCommand, packDir, publishablePackages, repoRoot, run } from './lib/workspaces.mjs';

const argv = process.argv.slice(2);
const dryRun = argv.includes('--dry-run');
const option = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const tag = option('--tag');
const otp = option('--otp');
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--dry-run') continue;
  if ((argv[i] === '--tag' || argv[i] === '--otp') && argv[i + 1] && !argv[i + 1].startsWith('--')) {
    i++;
    continue;
  }
  console.error(`publish: bad argument ${argv[i]}\nusage: node scripts/publish.mjs [--dry-run] [--tag <dist-tag>] [--otp <code>]`);
  process.exit(2);
}

const [npmNode, npmCli] = npmCommand();
const npm = (args, options) => run(npmNode, [npmCli, ...args], options);

function fail(message) {
  console.error(`publish: ${message}`);
  process.exit(1);
}

if (!existsSync(packDir)) fail(`${relative(repoRoot, packDir)}/ does not exist: run node scripts/pack.mjs and scripts/tarball-smoke.mjs first`);
const files = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));

const plan = publishablePackages().map((pkg) => {
  const tarball = files
    .map((f) => join(packDir, f))
    .find((file) => {
      const manifest = JSON.parse(run('tar', ['-xzOf', file, 'package/package.json'], { capture: true }).stdout);
      return manifest.name === pkg.name;
    });
  if (!tarball) fail(`no tarball for ${pkg.name} in ${relative(repoRoot, packDir)}/: run node scripts/pack.mjs`);
  const manifest = JSON.parse(run('tar', ['-xzOf', tarball, 'package/package.json'], { capture: true }).stdout);
  if (manifest.version !== pkg.version) {
    fail(`${relative(repoRoot, tarball)} is ${pkg.name}@${manifest.version} but the workspace has ${pkg.version}: run node scripts/pack.mjs`);
  }
  if (manifest.version.includes('-') && !tag) fail(`${pkg.name}@${manifest.version} is a prerelease: pass --tag <dist-tag>`);
  return { name: pkg.name, version: pkg.version, tarball, manifest };
});

/** Whether name@version is on the registry (E404 means no; any other failure stops the release). */
function isPublished(name, version) {
  const result = npm(['view', `${name}@${version}`, 'version', '--json'], { capture: true, allowFailure: true });
  if (result.ok) return result.stdout.trim() !== '' && result.stdout.trim() !== '""';
  if (/E404|404 Not Found/.test(result.stderr)) return false;
  fail(`npm view ${name}@${version} failed:\n${result.stderr}`);
}

let published = 0;
for (const { name, version, tarball, manifest } of plan) {
  if (isPublished(name, version)) {
    console.log(`== ${name}@${version} is already on the registry; skipped`);
    continue;
  }
  console.log(`== ${dryRun ? '(dry run) ' : ''}publishing ${name}@${version} from ${relative(repoRoot, tarball)}`);
  const args = ['publish', tarball];
  if (manifest.publishConfig?.access) args.push('--access', manifest.publishConfig.access);
  if (tag) args.push('--tag', tag);
  if (otp) args.push('--otp', otp);
  if (dryRun) args.push('--dry-run');
  npm(args);
  published++;
}

if (dryRun) {
  console.log(`== dry run: ${published} package(s) would be published; no git tags created`);
} else {
  // Tags every package version that has no tag yet (@fdloop/core@0.2.0, …); push them with `git push --follow-tags`.
  run(join(repoRoot, 'node_modules', '.bin', 'changeset'), ['tag']);
  console.log(`== published ${published} package(s); push the tags with: git push --follow-tags`);
}
