// Writeback while streaming. Left to the kernel, a snapshot of a few hundred MB
// sits in the page cache until the final fsync, which then writes all of it at
// once: the snapshot's end waits for that burst, and etcd's own WAL fsyncs
// queue behind it when the snapshot directory shares its disk. Asking for
// writeback every few MB, one fdatasync at a time on libuv's pool, writes the
// file while the rest still arrives, and bounds what the final fsync has left
// (docs/benchmarks.md).
import { fdatasync } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';

/** Data written between two writeback requests. */
export const WRITEBACK_BYTES = 8 * 1024 * 1024;

/**
 * Passes bytes through unchanged on their way to the file open as `fd`, and every
 * `everyBytes` starts an fdatasync of what the file has so far, unless one is
 * still running. A failed fdatasync fails the stream. At its end it waits for the
 * last one, so that the file's own final fsync and close follow it.
 */
export class WritebackPacer extends Transform {
  /** Writebacks started so far. */
  started = 0;
  private unsynced = 0;
  private running: Promise<void> | undefined;

  constructor(
    private readonly fd: number,
    private readonly everyBytes = WRITEBACK_BYTES,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.unsynced += chunk.length;
    if (this.unsynced >= this.everyBytes && !this.running) {
      this.unsynced = 0;
      this.started++;
      this.running = this.datasync();
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    void this.settled().then(() => done());
  }

  /** Resolves once no fdatasync is running; the fd may be closed after it. Never rejects. */
  async settled(): Promise<void> {
    await this.running;
  }

  private datasync(): Promise<void> {
    return new Promise<void>((resolve) => {
      fdatasync(this.fd, (err) => {
        this.running = undefined;
        // The stream carries the error; settled() only says the fd is free.
        if (err) this.destroy(err);
        resolve();
      });
    });
  }
}
