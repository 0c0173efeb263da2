import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NO_CAPABILITIES, createRuntime, knownBackendNames, loadBackend, registerBackend, type Backend } from '../src/index.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('backend resolution', () => {
  it('refuses an unknown backend name with the list of known ones', () => {
    expect(() => createRuntime({ backend: 'nosuch' })).toThrowError(
      expect.objectContaining({ code: 'ERR_FDLOOP_UNKNOWN_BACKEND', message: expect.stringContaining('epoll') }),
    );
  });

  it('refuses something that is not a backend', () => {
    expect(() => createRuntime({ backend: {} as Backend })).toThrowError(expect.objectContaining({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' }));
  });

  it('finds registered backends by name', () => {
    const fake: Backend = {
      name: 'registered-for-test',
      capabilities: NO_CAPABILITIES,
      createPoller() {
        throw new Error('not used');
      },
    };
    registerBackend('registered-for-test', () => fake);
    expect(knownBackendNames()).toContain('registered-for-test');
    expect(loadBackend('registered-for-test')).toBe(fake);
  });

  it('explains a published backend that is not installed (core alone in a fresh project)', () => {
    // Inside this monorepo every backend package is a workspace, so the check runs where a user would be: a project
    // with only @fdloop/core in node_modules.
    const project = mkdtempSync(join(tmpdir(), 'fdloop-detect-'));
    try {
      const core = join(project, 'node_modules', '@fdloop', 'core');
      mkdirSync(core, { recursive: true });
      cpSync(join(packageDir, 'dist'), join(core, 'dist'), { recursive: true });
      cpSync(join(packageDir, 'package.json'), join(core, 'package.json'));
      const script = "import('@fdloop/core').then((m) => { try { m.loadBackend('kqueue'); console.log('loaded'); } catch (e) { console.log(e.code + ' ' + e.message); } })";
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: project, encoding: 'utf8' });
      expect(out).toMatch(/^MODULE_NOT_FOUND Cannot find module '@fdloop\/backend-kqueue'/);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
