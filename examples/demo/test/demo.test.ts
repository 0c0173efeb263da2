import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));

interface Line {
  readonly thread: string;
  readonly text: string;
}

function parse(stdout: string): Line[] {
  return stdout
    .split('\n')
    .filter((l) => l.includes('|'))
    .map((l) => {
      const [head = '', , ...rest] = l.split('| ');
      return { thread: head.replace(/^\s*[\d.]+ms\s+/, '').trim(), text: rest.join('| ').trim() };
    });
}

describe('demo (npm start): the seed main example', () => {
  it('prints the steps of the seed example in order and ends with FINISHED', async () => {
    const { stdout } = await run(process.execPath, [main], { env: { ...process.env, FDLOOP_DEMO_QUIET: '1', FDLOOP_TRACE: '' } });
    const lines = parse(stdout);
    const texts = lines.map((l) => l.text);
    const indexOf = (text: string): number => {
      const i = texts.findIndex((l) => l.includes(text));
      expect(i, `missing line containing "${text}" in:\n${texts.join('\n')}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    const inOrder = (...steps: string[]): void => {
      const positions = steps.map(indexOf);
      expect(positions, steps.join(' < ')).toEqual([...positions].sort((a, b) => a - b));
    };
    // The synchronous part of the program, in program order.
    expect(texts.some((t) => /^file reads go through: (io_uring|pool)$/.test(t))).toBe(true);
    inOrder(
      'First call to read test.txt',
      'Registering immediate timeout 1',
      'Registering immediate timeout 2',
      'Second call to read test.txt',
      'Registering a 3000 and a 500 ms timeout',
      'Registering a 1000 ms timeout',
      'Registering http get request',
    );
    // Callbacks follow the registrations; causal chains and timer order are fixed.
    inOrder('Registering http get request', 'Immediate1 timed out', 'Immediate2 timed out');
    inOrder('Registering http get request', 'First count: 240 characters.', 'I want to create a "magic" number based on the text.', '"Encrypted" number is: 1390385571');
    inOrder('Registering http get request', 'Second count: 240 characters.', 'Third call to read test.txt', 'file read (240 bytes, 4 lines):');
    inOrder('server: got "GET /slow HTTP/1.1"', 'SETTIMEOUT', 'web call (48 bytes, 1 line):', '3000ms timer timed out', '500ms timer(nested) timed out', 'FINISHED');
    expect(texts).toContain('│ Hello from the slow local server (after 2000 ms)');
    expect(texts.at(-1)).toBe('FINISHED');
    // Every program line was printed by the main thread: callbacks come back to it from the pool.
    expect(new Set(lines.map((l) => l.thread))).toEqual(new Set(['main']));
  });

  it('with tracing on and FDLOOP_DEMO_FS=pool, pool work shows up on pool-N threads with tick markers', async () => {
    const { stdout } = await run(process.execPath, [main], { env: { ...process.env, FDLOOP_DEMO_QUIET: '0', FDLOOP_DEMO_FS: 'pool' } });
    const lines = parse(stdout);
    const poolLines = lines.filter((l) => /^pool-\d$/.test(l.thread));
    expect(lines.some((l) => l.text === 'file reads go through: pool')).toBe(true);
    expect(poolLines.some((l) => /task batch@tasks\.js #\d+ started/.test(l.text))).toBe(true);
    expect(poolLines.some((l) => /task hashBatch@tasks\.js #\d+ done/.test(l.text))).toBe(true);
    expect(stdout).toMatch(/main\s+\| t\d+\s+\| ──── tick \d+: timers ────/);
    expect(stdout).toMatch(/hold: fs: batch@tasks\.js/);
    expect(stdout).toContain('run finished: nothing pending');
    expect(stdout.trim().split('\n').at(-1)).toMatch(/main\s+\| t\d+\s+\| FINISHED$/);
  });
});
