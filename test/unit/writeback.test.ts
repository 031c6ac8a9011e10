import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { WritebackPacer } from '../../src/remediation/writeback.js';
import { makeTempDir } from '../harness/processes.js';

function chunks(count: number, size: number): Buffer[] {
  return Array.from({ length: count }, () => randomBytes(size));
}

describe('writeback while streaming', () => {
  it('passes every byte through in order and starts writebacks along the way', async () => {
    const path = join(makeTempDir('writeback'), 'file');
    const data = chunks(64, 64 * 1024);
    const fd = openSync(path, 'wx');
    const pacer = new WritebackPacer(fd, 512 * 1024);
    try {
      await pipeline(Readable.from(data), pacer, createWriteStream(path, { fd, autoClose: false }));
      await pacer.settled();
    } finally {
      closeSync(fd);
    }
    assert.deepEqual(readFileSync(path), Buffer.concat(data));
    // 4 MiB in steps of 512 KiB: at least one, and never more than one per step.
    assert.ok(pacer.started >= 1 && pacer.started <= 8, `started ${pacer.started}`);
  });

  it('starts none for less data than one step', async () => {
    const fd = openSync(join(makeTempDir('writeback'), 'file'), 'wx');
    const pacer = new WritebackPacer(fd, 1024 * 1024);
    try {
      await pipeline(
        Readable.from(chunks(3, 1000)),
        pacer,
        new Writable({ write: (_c, _e, done) => done() }),
      );
    } finally {
      closeSync(fd);
    }
    assert.equal(pacer.started, 0);
  });

  it('a failed writeback fails the stream', async () => {
    // Character devices cannot be synced: fdatasync answers EINVAL.
    const fd = openSync('/dev/null', 'w');
    const pacer = new WritebackPacer(fd, 1000);
    try {
      await assert.rejects(
        pipeline(
          Readable.from(chunks(50, 1000)),
          pacer,
          new Writable({ write: (_c, _e, done) => setTimeout(done, 1) }),
        ),
        (err: NodeJS.ErrnoException) => err.code === 'EINVAL',
      );
      await pacer.settled();
    } finally {
      closeSync(fd);
    }
  });
});
