/** Re-exports of the thread pool for the package index. */
export {
  ThreadPool,
  createThreadPool,
  taskKind,
  type RunTaskOptions,
  type TaskKind,
  type ThreadPoolOptions,
  type ThreadPoolStats,
} from './pool.js';
export type { TaskContext, TaskFunction } from './task.js';
