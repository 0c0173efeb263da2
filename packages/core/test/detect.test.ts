import { describe, expect, it } from 'vitest';
import { NO_CAPABILITIES, createRuntime, knownBackendNames, loadBackend, registerBackend, type Backend } from '../src/index.js';

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

  it('explains a published backend that is not installed', () => {
    expect(() => loadBackend('kqueue')).toThrowError(/Cannot find module '@fdloop\/backend-kqueue'/);
  });
});
