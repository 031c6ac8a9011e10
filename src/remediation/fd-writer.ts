// The end of the snapshot pipeline: bytes into a file descriptor that someone
// else owns. fs.WriteStream closes its fd when the pipeline destroys it after
// an error, even with autoClose: false; the owner's own close then failed with
// EBADF and hid the real cause (ENOSPC), and a writeback still running could
// have hit a closed or reused descriptor. This writer never closes the fd.
import { writev } from 'node:fs';
import { Writable } from 'node:stream';

/** writev until every byte is written: a regular file may take less than asked (a disk filling up). */
function writeAll(fd: number, buffers: Buffer[], done: (err?: Error | null) => void): void {
  writev(fd, buffers, (err, written) => {
    if (err) {
      done(err);
      return;
    }
    let skip = written;
    const rest: Buffer[] = [];
    for (const buffer of buffers) {
      if (skip >= buffer.length) skip -= buffer.length;
      else {
        rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
        skip = 0;
      }
    }
    if (rest.length === 0) done();
    else writeAll(fd, rest, done);
  });
}

export class FdWriter extends Writable {
  /** Bytes the file has received. */
  written = 0;

  constructor(
    private readonly fd: number,
    highWaterMark: number,
  ) {
    super({ highWaterMark });
  }

  override _writev(chunks: { chunk: Buffer }[], done: (err?: Error | null) => void): void {
    const buffers = chunks.map((c) => c.chunk);
    writeAll(this.fd, buffers, (err) => {
      if (!err) this.written += buffers.reduce((sum, b) => sum + b.length, 0);
      done(err);
    });
  }
}
