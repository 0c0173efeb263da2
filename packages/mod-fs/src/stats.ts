/** Result types of `@fdloop/mod-fs` that mirror node:fs's `Stats` and `Dirent`. */

import { constants } from 'node:fs';
import { DirentType } from './tasks.js';

/**
 * What `stat`/`lstat`/`fstat` return: the same fields and predicates as node:fs's `Stats` (built from the
 * numbers the worker's `fs.statSync` returned, so they are identical).
 */
export class FileStats {
  /** Device id. */
  readonly dev: number = 0;
  /** File type and mode bits. */
  readonly mode: number = 0;
  /** Hard links. */
  readonly nlink: number = 0;
  /** Owner user id. */
  readonly uid: number = 0;
  /** Owner group id. */
  readonly gid: number = 0;
  /** Device id for special files. */
  readonly rdev: number = 0;
  /** Preferred I/O block size. */
  readonly blksize: number = 0;
  /** Inode number. */
  readonly ino: number = 0;
  /** Size in bytes. */
  readonly size: number = 0;
  /** 512-byte blocks allocated. */
  readonly blocks: number = 0;
  /** Last access, ms since the epoch. */
  readonly atimeMs: number = 0;
  /** Last modification, ms since the epoch. */
  readonly mtimeMs: number = 0;
  /** Last status change, ms since the epoch. */
  readonly ctimeMs: number = 0;
  /** Creation, ms since the epoch (0 where the file system does not record it). */
  readonly birthtimeMs: number = 0;
  /** Last access. */
  readonly atime: Date = new Date(0);
  /** Last modification. */
  readonly mtime: Date = new Date(0);
  /** Last status change. */
  readonly ctime: Date = new Date(0);
  /** Creation. */
  readonly birthtime: Date = new Date(0);

  /** @internal Built from the worker's plain copy of a `Stats`. */
  constructor(fields: Record<string, unknown>) {
    Object.assign(this, fields);
  }

  private type(): number {
    return this.mode & constants.S_IFMT;
  }
  /** A regular file. */
  isFile(): boolean {
    return this.type() === constants.S_IFREG;
  }
  /** A directory. */
  isDirectory(): boolean {
    return this.type() === constants.S_IFDIR;
  }
  /** A symbolic link (only from `lstat`). */
  isSymbolicLink(): boolean {
    return this.type() === constants.S_IFLNK;
  }
  /** A FIFO. */
  isFIFO(): boolean {
    return this.type() === constants.S_IFIFO;
  }
  /** A socket. */
  isSocket(): boolean {
    return this.type() === constants.S_IFSOCK;
  }
  /** A character device. */
  isCharacterDevice(): boolean {
    return this.type() === constants.S_IFCHR;
  }
  /** A block device. */
  isBlockDevice(): boolean {
    return this.type() === constants.S_IFBLK;
  }
}

/** A directory entry from `readdir(path, { withFileTypes: true })`, like node:fs's `Dirent`. */
export class DirEntry {
  /** The entry's name. */
  readonly name: string;
  /** The directory it was read from. */
  readonly parentPath: string;
  private readonly kind: number;

  /** @internal */
  constructor(name: string, parentPath: string, kind: number) {
    this.name = name;
    this.parentPath = parentPath;
    this.kind = kind;
  }
  /** A regular file. */
  isFile(): boolean {
    return this.kind === DirentType.file;
  }
  /** A directory. */
  isDirectory(): boolean {
    return this.kind === DirentType.dir;
  }
  /** A symbolic link. */
  isSymbolicLink(): boolean {
    return this.kind === DirentType.link;
  }
  /** A FIFO. */
  isFIFO(): boolean {
    return this.kind === DirentType.fifo;
  }
  /** A socket. */
  isSocket(): boolean {
    return this.kind === DirentType.socket;
  }
  /** A character device. */
  isCharacterDevice(): boolean {
    return this.kind === DirentType.char;
  }
  /** A block device. */
  isBlockDevice(): boolean {
    return this.kind === DirentType.block;
  }
}
