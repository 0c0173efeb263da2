import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { currentThread, print, printContent, setPrintOutput, setThreadName } from '../src/index.js';

describe('tracing helpers', () => {
  it('prefix lines with time, thread and tick', () => {
    const lines: string[] = [];
    setPrintOutput((line) => lines.push(line));
    try {
      print('hello', 42, { a: 1 });
      expect(lines[0]).toMatch(/^\s+\d+\.\dms main\s+\| t\d+\s+\| hello 42 \{"a":1\}$/);
      printContent('data', Buffer.from('one\ntwo\nthree\n'), { maxLines: 2 });
      expect(lines[1]).toContain('data (14 bytes, 3 lines):');
      expect(lines[2]).toContain('│ one');
      expect(lines[4]).toContain('1 more line');
    } finally {
      setPrintOutput('stdout');
    }
  });

  it('name threads: main here, worker-N or a chosen name in workers', async () => {
    expect(currentThread()).toBe('main');
    const url = new URL('../dist/index.js', import.meta.url).href;
    const names = await new Promise<string[]>((resolve, reject) => {
      const w = new Worker(
        `import(${JSON.stringify(url)}).then((m) => { const { parentPort } = require('node:worker_threads'); const a = m.currentThread(); m.setThreadName('pool-1'); parentPort.postMessage([a, m.currentThread()]); });`,
        { eval: true },
      );
      w.once('message', resolve);
      w.once('error', reject);
    });
    expect(names[0]).toMatch(/^worker-\d+$/);
    expect(names[1]).toBe('pool-1');
    setThreadName('main');
  });
});
