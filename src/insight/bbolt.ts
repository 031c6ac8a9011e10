// A small read-only reader of bbolt files (etcd's backend: a snapshot, or a member's
// member/snap/db), with bounded memory: pages are read on demand through a file handle,
// through a small cache of file blocks, never the whole file.
//
// The format (little-endian), as bbolt writes it:
//   page header (16 bytes): id u64, flags u16, count u16, overflow u32; a page with
//     `overflow` n spans n + 1 pages.
//   meta (pages 0 and 1, after the header): magic u32 0xED0CDAED, version u32 2,
//     pageSize u32, flags u32, root bucket (root pgid u64, sequence u64), freelist pgid u64,
//     pgid u64 (the high-water mark: pages in use), txid u64, checksum u64 (FNV-64a of the
//     56 bytes before it). The valid meta with the higher txid is the current one.
//   branch element (16 bytes): pos u32, ksize u32, pgid u64; the key is at the element + pos.
//   leaf element (16 bytes): flags u32 (0x01: the value is a bucket), pos u32, ksize u32,
//     vsize u32; key then value at the element + pos.
//   bucket value: root pgid u64, sequence u64; a root of 0 is an inline bucket, whose page
//     (header and leaf elements) follows the 16 bytes.
// etcd's snapshots (etcdctl's and the guard's) end with a SHA-256 of the rest (32 bytes):
// only pages below the meta's high-water mark are read, so the trailer is never looked at.
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { errorMessage, OperationError } from '../errors.js';

const MAGIC = 0xed0cdaed;
const VERSION = 2;
const PAGE_HEADER = 16;
const ELEMENT = 16;
const BUCKET_HEADER = 16;
const META_CHECKSUMMED = 56;
const BRANCH_PAGE = 0x01;
const LEAF_PAGE = 0x02;
const BUCKET_LEAF = 0x01;
/** Deeper than any real tree (a B+tree of 2^64 pages is 16 levels at a fan-out of 16): a loop. */
const MAX_DEPTH = 64;
/** bbolt's page sizes: 4 KiB on most systems, up to 64 KiB. Tried when meta 0 is damaged. */
const PAGE_SIZES = [4096, 8192, 16384, 32768, 65536, 2048, 1024];
const BLOCK_BYTES = 1 << 20;
const CACHED_BLOCKS = 8;

/** The fix for a file that is not (or no longer) a snapshot. */
export const SNAPSHOT_FIX = 'give the file `etcdctl snapshot save` or the guard wrote';
const TRUNCATED_FIX = 'copy or save the snapshot again, and wait until it is complete';

export interface BoltMeta {
  pageSize: number;
  /** The root bucket's page (0: never, the root bucket is never inline). */
  root: bigint;
  freelist: bigint;
  /** Pages in use (the file may be longer, never shorter). */
  pageCount: number;
  txid: bigint;
}

export interface BoltEntry {
  key: Buffer;
  value: Buffer;
  /** The value is a nested bucket's header (and inline page). */
  bucket: boolean;
}

/** Where a bucket's tree starts: a page in the file, or an inline page. */
export type BucketRoot = { page: number } | { inline: Buffer };

function fnv64a(bytes: Buffer): bigint {
  let hash = 0xcbf29ce484222325n;
  for (const byte of bytes) hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * 0x100000001b3n);
  return hash;
}

/** The meta at `offset` of `buf` (a page header first), or why it is not a valid one. */
function parseMeta(buf: Buffer, offset: number): BoltMeta | string {
  const at = offset + PAGE_HEADER;
  if (buf.length < at + META_CHECKSUMMED + 8) return 'too short for a meta page';
  const magic = buf.readUInt32LE(at);
  if (magic !== MAGIC) return `no bbolt magic number (0x${magic.toString(16)})`;
  const version = buf.readUInt32LE(at + 4);
  if (version !== VERSION) return `bbolt version ${version}, not ${VERSION}`;
  const checksum = buf.readBigUInt64LE(at + 56);
  if (checksum !== fnv64a(buf.subarray(at, at + META_CHECKSUMMED)))
    return 'its checksum does not match';
  const pageCount = buf.readBigUInt64LE(at + 40);
  return {
    pageSize: buf.readUInt32LE(at + 8),
    root: buf.readBigUInt64LE(at + 16),
    freelist: buf.readBigUInt64LE(at + 32),
    pageCount: pageCount > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(pageCount),
    txid: buf.readBigUInt64LE(at + 48),
  };
}

export class BoltReader {
  private readonly blocks = new Map<number, Buffer>();
  /** Bytes read from the file so far. */
  bytesRead = 0;

  private constructor(
    readonly file: string,
    private readonly handle: FileHandle,
    readonly size: number,
    readonly meta: BoltMeta,
  ) {}

  /** Opens `file` and checks its meta pages; the error says which and why when it is not a bbolt file. */
  static async open(file: string): Promise<BoltReader> {
    const name = basename(file);
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      throw new OperationError(
        `${name} cannot be read (${errorMessage(err)})`,
        'give the path of a snapshot file the guard can read',
        { cause: err },
      );
    }
    try {
      const size = (await handle.stat()).size;
      const meta = await BoltReader.readMeta(name, handle, size);
      return new BoltReader(file, handle, size, meta);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  private static async readMeta(name: string, handle: FileHandle, size: number): Promise<BoltMeta> {
    if (size === 0)
      throw new OperationError(`${name} is empty, not an etcd snapshot`, SNAPSHOT_FIX);
    const head = Buffer.alloc(Math.min(size, 2 * 65536));
    await handle.read(head, 0, head.length, 0);
    const first = parseMeta(head, 0);
    const candidates: BoltMeta[] = [];
    if (typeof first !== 'string') candidates.push(first);
    // Meta 1 is at one page size: meta 0's, or (meta 0 damaged) each size bbolt uses.
    const sizes = typeof first === 'string' ? PAGE_SIZES : [first.pageSize];
    for (const pageSize of sizes) {
      const second = parseMeta(head, pageSize);
      if (typeof second !== 'string' && second.pageSize === pageSize) {
        candidates.push(second);
        break;
      }
    }
    const meta = candidates.sort((a, b) => (a.txid > b.txid ? -1 : 1))[0];
    if (!meta) {
      const why = typeof first === 'string' ? first : 'none is valid';
      throw new OperationError(
        `${name} is not an etcd snapshot (no bbolt meta page: ${why})`,
        SNAPSHOT_FIX,
      );
    }
    if (!PAGE_SIZES.includes(meta.pageSize) || meta.pageCount < 2)
      throw new OperationError(
        `${name} is damaged (its meta page says ${meta.pageSize}-byte pages, ${meta.pageCount} of them)`,
        SNAPSHOT_FIX,
      );
    const pagesInFile = Math.floor(size / meta.pageSize);
    if (meta.pageCount > pagesInFile)
      throw new OperationError(
        `${name} is truncated: it holds ${pagesInFile} of its ${meta.pageCount} pages (${size} of ${meta.pageCount * meta.pageSize} bytes)`,
        TRUNCATED_FIX,
      );
    return meta;
  }

  async close(): Promise<void> {
    this.blocks.clear();
    await this.handle.close();
  }

  private damaged(problem: string): OperationError {
    return new OperationError(`${basename(this.file)} is damaged: ${problem}`, SNAPSHOT_FIX);
  }

  /** The file's bytes [position, position + length), into `buf` (default: a new buffer). */
  private async readAt(
    position: number,
    length: number,
    buf: Buffer = Buffer.allocUnsafe(length),
  ): Promise<Buffer> {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(buf, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    this.bytesRead += done;
    if (done < length)
      throw new OperationError(
        `${basename(this.file)} is truncated: it ends at byte ${position + done}, before byte ${position + length}`,
        TRUNCATED_FIX,
      );
    return buf.subarray(0, length);
  }

  /**
   * The file's bytes [offset, offset + length) within one cached block, or undefined. The
   * blocks' memory is reused (no garbage for the collector to catch up with): what this
   * returns is valid until the next read.
   */
  private async cached(offset: number, length: number): Promise<Buffer | undefined> {
    const index = Math.floor(offset / BLOCK_BYTES);
    const start = index * BLOCK_BYTES;
    if (offset + length > start + BLOCK_BYTES) return undefined;
    let block = this.blocks.get(index);
    if (block) {
      this.blocks.delete(index); // most recently used last
    } else {
      let memory: Buffer | undefined;
      if (this.blocks.size >= CACHED_BLOCKS) {
        const [oldest, evicted] = this.blocks.entries().next().value!;
        this.blocks.delete(oldest);
        memory = Buffer.from(evicted.buffer, evicted.byteOffset, BLOCK_BYTES);
      }
      const end = Math.min(this.meta.pageCount * this.meta.pageSize, start + BLOCK_BYTES);
      block = await this.readAt(start, end - start, memory ?? Buffer.allocUnsafeSlow(BLOCK_BYTES));
    }
    this.blocks.set(index, block);
    return block.subarray(offset - start, offset - start + length);
  }

  /**
   * Page `id` with its overflow pages, checked to lie within the pages in use. Its memory is
   * reused: it is valid until the next page is read.
   */
  async page(id: number): Promise<Buffer> {
    const { pageSize, pageCount } = this.meta;
    if (!Number.isSafeInteger(id) || id < 2 || id >= pageCount)
      throw this.damaged(`a page refers to page ${id}, beyond its ${pageCount} pages`);
    const offset = id * pageSize;
    const first = await this.cached(offset, pageSize);
    const header = first ?? (await this.readAt(offset, pageSize));
    const ownId = header.readBigUInt64LE(0);
    if (ownId !== BigInt(id)) throw this.damaged(`page ${id} says it is page ${ownId}`);
    const overflow = header.readUInt32LE(12);
    if (overflow === 0) return header;
    if (id + overflow >= pageCount)
      throw this.damaged(`page ${id} spans ${overflow} more pages, beyond its ${pageCount} pages`);
    const length = (overflow + 1) * pageSize;
    return (await this.cached(offset, length)) ?? this.readAt(offset, length);
  }

  /** The root of the bucket whose header (and inline page) is `value`. */
  private bucketRoot(value: Buffer, name: string): BucketRoot {
    if (value.length < BUCKET_HEADER) throw this.damaged(`bucket ${name} has a short header`);
    const root = value.readBigUInt64LE(0);
    // A copy: the page holding it is reused once the next page is read.
    if (root === 0n) return { inline: Buffer.from(value.subarray(BUCKET_HEADER)) };
    if (root >= BigInt(this.meta.pageCount))
      throw this.damaged(
        `bucket ${name} starts at page ${root}, beyond its ${this.meta.pageCount} pages`,
      );
    return { page: Number(root) };
  }

  /** The top-level bucket `name`, or undefined when the file has none. */
  async bucket(name: string): Promise<BucketRoot | undefined> {
    const wanted = Buffer.from(name);
    for await (const entry of this.entries({ page: Number(this.meta.root) })) {
      if (entry.bucket && entry.key.equals(wanted)) return this.bucketRoot(entry.value, name);
    }
    return undefined;
  }

  /**
   * Every key and value of the bucket, in key order. `onLeaf` is told how far through the
   * bucket each leaf page is (0 to 1, by position in the tree), for a progress bar. An
   * entry's key and value are valid until the next entry is asked for (the pages' memory is
   * reused): copy what you keep.
   */
  async *entries(root: BucketRoot, onLeaf?: (fraction: number) => void): AsyncGenerator<BoltEntry> {
    if ('inline' in root) {
      yield* this.leafEntries(root.inline, 'an inline bucket');
      onLeaf?.(1);
      return;
    }
    yield* this.walk(root.page, 0, 0, 1, onLeaf);
  }

  private async *walk(
    id: number,
    depth: number,
    from: number,
    share: number,
    onLeaf?: (fraction: number) => void,
  ): AsyncGenerator<BoltEntry> {
    if (depth > MAX_DEPTH)
      throw this.damaged(`its tree is more than ${MAX_DEPTH} pages deep (a loop)`);
    const page = await this.page(id);
    const flags = page.readUInt16LE(8);
    if (flags & LEAF_PAGE) {
      yield* this.leafEntries(page, `page ${id}`);
      onLeaf?.(from + share);
      return;
    }
    if (!(flags & BRANCH_PAGE))
      throw this.damaged(
        `page ${id} is in a tree but is neither a branch nor a leaf (flags 0x${flags.toString(16)})`,
      );
    const count = this.elementCount(page, `page ${id}`);
    const children: number[] = [];
    for (let i = 0; i < count; i++) {
      const child = page.readBigUInt64LE(PAGE_HEADER + i * ELEMENT + 8);
      children.push(child < BigInt(this.meta.pageCount) ? Number(child) : -1);
    }
    for (const [i, child] of children.entries()) {
      if (child < 0)
        throw this.damaged(`page ${id} refers to a page beyond its ${this.meta.pageCount} pages`);
      yield* this.walk(child, depth + 1, from + (share * i) / count, share / count, onLeaf);
    }
  }

  private elementCount(page: Buffer, where: string): number {
    if (page.length < PAGE_HEADER) throw this.damaged(`${where} is shorter than a page header`);
    const count = page.readUInt16LE(10);
    if (PAGE_HEADER + count * ELEMENT > page.length)
      throw this.damaged(`${where} has ${count} elements, more than fit in it`);
    return count;
  }

  private *leafEntries(page: Buffer, where: string): Generator<BoltEntry> {
    const flags = page.length >= PAGE_HEADER ? page.readUInt16LE(8) : 0;
    if (!(flags & LEAF_PAGE)) throw this.damaged(`${where} is not a leaf page`);
    const count = this.elementCount(page, where);
    for (let i = 0; i < count; i++) {
      const element = PAGE_HEADER + i * ELEMENT;
      const keyStart = element + page.readUInt32LE(element + 4);
      const keyEnd = keyStart + page.readUInt32LE(element + 8);
      const valueEnd = keyEnd + page.readUInt32LE(element + 12);
      if (valueEnd > page.length)
        throw this.damaged(`${where}: element ${i} reaches past the end of its page`);
      yield {
        key: page.subarray(keyStart, keyEnd),
        value: page.subarray(keyEnd, valueEnd),
        bucket: (page.readUInt32LE(element) & BUCKET_LEAF) !== 0,
      };
    }
  }
}
