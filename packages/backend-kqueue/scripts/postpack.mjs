// npm "postpack": removes the copy scripts/prepack.mjs made, when the original is here to build from.

import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from './cmake-js.mjs';

if (existsSync(join(packageRoot, '..', 'backend-epoll', 'native', 'posix', 'poller_base.h'))) {
  rmSync(join(packageRoot, 'native', 'shared'), { recursive: true, force: true });
}
