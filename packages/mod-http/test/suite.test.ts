// The HTTP conformance suite (@fdloop/mod-http/testing) on the epoll backend: what every backend's test runs.
import { describe, it } from 'vitest';
import { epoll } from '@fdloop/backend-epoll';
import { runHttpSuite } from '../src/testing.js';

runHttpSuite({ backend: () => epoll(), describe, it });
