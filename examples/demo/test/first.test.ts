import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../dist/first.js', import.meta.url));

function messages(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.includes('|'))
    .map((l) => l.split('| ').slice(2).join('| ').trim());
}

describe('first demo (npm run start:first)', () => {
  it('prints the steps in order and ends with FINISHED', async () => {
    const { stdout } = await run(process.execPath, [main], { env: { ...process.env, FDLOOP_DEMO_QUIET: '1', FDLOOP_TRACE: '' } });
    const lines = messages(stdout);
    const indexOf = (text: string) => {
      const i = lines.findIndex((l) => l.includes(text));
      expect(i, `missing line containing "${text}" in:\n${lines.join('\n')}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    const order = [
      'pipe: timer at 100 ms writes two lines',
      'pipe: read (34 bytes, 2 lines)',
      "tcp: client sends 'normal data'",
      'tcp: ordinary data',
      'interval: tick 1 of 4',
      "tcp: client sends urgent byte '!'",
      "tcp: PRIORITY event, urgent byte '!'",
      'pipe: timer at 700 ms closes the write end',
      'pipe: end of file',
      'tcp: client closes',
      'tcp: peer closed',
      'interval: tick 4 of 4',
      'interval: cancelled',
      'FINISHED',
    ];
    const positions = order.map(indexOf);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(lines.at(-1)).toBe('FINISHED');
    expect(stdout).toMatch(/main\s+\| t\d+/);
  });

  it('traces thread names and tick markers when tracing is on', async () => {
    const { stdout } = await run(process.execPath, [main], { env: { ...process.env, FDLOOP_DEMO_QUIET: '0' } });
    expect(stdout).toMatch(/main\s+\| t\d+\s+\| ──── tick \d+: poll: \d+ events? ────/);
    expect(stdout).toMatch(/──── tick \d+: timers ────/);
    expect(stdout).toContain('watch fd');
    expect(stdout).toContain('run finished: nothing pending');
    expect(stdout.trim().split('\n').at(-1)).toMatch(/FINISHED$/);
  });
});
