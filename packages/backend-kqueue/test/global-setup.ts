// Builds the test-only addon (the kqueue poller compiled against test/emulation's kqueue over epoll) before any
// test file runs. Incremental: a second run only relinks what changed.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const script = fileURLToPath(new URL('../scripts/build-emulated.mjs', import.meta.url));
  const result = spawnSync(process.execPath, [script], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`building the emulated kqueue addon failed (${result.status ?? result.signal})`);
}
