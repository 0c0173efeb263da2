/**
 * Path watching (`rt.watchPath()`): inotify on Linux, `EVFILT_VNODE` on kqueue, `ReadDirectoryChangesW` on
 * Windows. Joins move pairs into renames and implements recursion where the kernel cannot.
 *
 * @module
 */

import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { PathEvent, PathRecord, PathWatchOptions, PathWatcher } from '../contract/sources.js';
import { InvalidArgumentError, describeReceived } from '../errors.js';
import type { Runtime } from '../runtime.js';
import { SourceBase, validateSourceOptions } from './base.js';

/** A path-watch callback. */
export type PathWatchCallback = (event: PathEvent, watcher: PathWatcher) => void;

/** @internal */
export class PathWatcherImpl extends SourceBase<'pathWatch', PathRecord, PathEvent> implements PathWatcher {
  readonly path: string;
  private readonly recursive: boolean;
  private readonly emulateRecursion: boolean;
  private readonly followSymlinks: boolean;
  private readonly rootId: number;
  /** Watch id → the directory (or file) it watches. */
  private readonly paths = new Map<number, string>();

  constructor(rt: Runtime, path: string, options: PathWatchOptions | undefined, callback: PathWatchCallback | undefined) {
    if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
      throw new InvalidArgumentError('path', `must be a non-empty string without NUL bytes, got ${describeReceived(path)}`);
    }
    const opts = validateSourceOptions(options) as PathWatchOptions;
    const recursive = opts.recursive ?? false;
    const followSymlinks = opts.followSymlinks ?? true;
    if (typeof recursive !== 'boolean') throw new InvalidArgumentError('recursive', `must be a boolean, got ${describeReceived(recursive)}`);
    if (typeof followSymlinks !== 'boolean') throw new InvalidArgumentError('followSymlinks', `must be a boolean, got ${describeReceived(followSymlinks)}`);
    super(rt, { kind: 'pathWatch' }, opts, callback as ((ev: PathEvent, s: never) => void) | undefined);
    this.path = path;
    this.recursive = recursive;
    this.followSymlinks = followSymlinks;
    this.emulateRecursion = recursive && !this.handle.nativeRecursive;
    try {
      this.rootId = this.handle.add(path, { followSymlinks, recursive: recursive && !this.emulateRecursion });
      this.paths.set(this.rootId, path);
      if (this.emulateRecursion && isDirectory(path)) this.addTree(path, undefined);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  get watchCount(): number {
    return this.paths.size;
  }

  /**
   * Add a watch for every directory below `dir`. With `report`, entries found are reported as `create` events:
   * they appeared in a directory created after the scan of its parent, before its own watch existed.
   */
  private addTree(dir: string, report: ((ev: PathEvent) => void) | undefined): void {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      // Removed (or replaced) since it was reported; its own delete events follow.
      return;
    }
    for (const e of entries) {
      const full = join(dir, e.name);
      const isDir = e.isDirectory();
      report?.({ kind: 'create', path: full, isDirectory: isDir });
      if (!isDir) continue;
      try {
        const id = this.handle.add(full, { followSymlinks: false, recursive: false });
        this.paths.set(id, full);
      } catch (err) {
        // A directory that vanished between readdir and add is not an error; anything else (ENOSPC) is.
        if ((err as { code?: string }).code !== 'ENOENT' && (err as { code?: string }).code !== 'ENOTDIR') throw err;
        continue;
      }
      this.addTree(full, report);
    }
  }

  protected decode(records: PathRecord[]): PathEvent[] {
    const out: PathEvent[] = [];
    const pendingFrom = new Map<number, { path: string; isDirectory: boolean; index: number }>();
    for (const r of records) {
      if (r.kind === 'overflow') {
        out.push({ kind: 'overflow', path: '', isDirectory: false });
        continue;
      }
      const base = this.paths.get(r.watch);
      if (base === undefined) continue;
      const full = r.name === undefined ? base : join(base, r.name);
      switch (r.kind) {
        case 'ignored':
          this.paths.delete(r.watch);
          continue;
        case 'movedFrom':
          pendingFrom.set(r.cookie, { path: full, isDirectory: r.isDirectory, index: out.length });
          out.push({ kind: 'movedOut', path: full, isDirectory: r.isDirectory });
          continue;
        case 'movedTo': {
          const from = pendingFrom.get(r.cookie);
          if (from !== undefined && r.cookie !== 0) {
            pendingFrom.delete(r.cookie);
            out[from.index] = { kind: 'rename', path: full, oldPath: from.path, isDirectory: r.isDirectory };
            if (this.emulateRecursion && r.isDirectory) this.renamePrefix(from.path, full);
          } else {
            out.push({ kind: 'movedIn', path: full, isDirectory: r.isDirectory });
            if (this.emulateRecursion && r.isDirectory) this.addDirectory(full, out);
          }
          continue;
        }
        case 'create':
          out.push({ kind: 'create', path: full, isDirectory: r.isDirectory });
          if (this.emulateRecursion && r.isDirectory) this.addDirectory(full, out);
          continue;
        default:
          out.push({ kind: r.kind, path: full, isDirectory: r.isDirectory });
      }
    }
    return out;
  }

  private addDirectory(dir: string, out: PathEvent[]): void {
    try {
      const id = this.handle.add(dir, { followSymlinks: false, recursive: false });
      this.paths.set(id, dir);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT' || (err as { code?: string }).code === 'ENOTDIR') return;
      throw err;
    }
    // Entries created before the watch existed are found by the scan and reported right after the directory.
    this.addTree(dir, (ev) => out.push(ev));
  }

  private renamePrefix(oldDir: string, newDir: string): void {
    const prefix = oldDir + '/';
    for (const [id, p] of this.paths) {
      if (p === oldDir) this.paths.set(id, newDir);
      else if (p.startsWith(prefix)) this.paths.set(id, newDir + p.slice(oldDir.length));
    }
  }

  protected override afterDelivery(): void {
    // The watched path itself is gone and the kernel dropped its watch: nothing more can be reported.
    if (!this.paths.has(this.rootId)) this.close();
  }

  /** @internal For tests and diagnostics: whether symlinks are followed at the root. */
  get followsSymlinks(): boolean {
    return this.followSymlinks;
  }

  /** @internal */
  get isRecursive(): boolean {
    return this.recursive;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
