// The kqueue emulation's own checks (test/emulation/selftest.cc): kqueue(2) semantics that the backend relies on,
// checked directly on the emulated kevent() with real pipes and socketpairs. If these fail, the other tests here
// say nothing about a real kqueue.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EMULATION_SELFTEST } from './emulated.js';

const run = promisify(execFile);

describe('the kqueue emulation itself (emulated kqueue on Linux)', () => {
  it('passes its kqueue(2) semantics checks: receipts, level, EV_CLEAR, EV_DISPATCH, EV_ONESHOT, EV_EOF, closes', async () => {
    const { stdout } = await run(EMULATION_SELFTEST, [], { timeout: 60_000 });
    expect(stdout).toMatch(/^ok: \d+ checks$/m);
    expect(stdout).not.toMatch(/^not ok/m);
  });
});
