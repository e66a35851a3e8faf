/**
 * The zip container of a workbook, written as a stream (PKWARE APPNOTE.TXT 6.3: local headers,
 * data descriptors, central directory, ZIP64 records where a size or offset needs them).
 *
 * Why not a zip library: deflate is what bounds the rate of a big sheet, and libraries deflate
 * each entry as one zlib stream, on one thread. Here a streamed entry is cut into blocks that
 * are deflated in the thread pool side by side, each primed with the 32 KiB before it as its
 * dictionary (as pigz does), so the output is one ordinary deflate stream of the same size; and
 * the CRC-32 is zlib's native one (the JavaScript CRCs of yazl and zip-stream cost 0.8 s and 0.2 s
 * of this thread per 140 MB of sheet, zlib.crc32 0.06 s).
 *
 * ZIP64 follows what Java's ZipOutputStream and yazl do for entries of unknown size: the local
 * header carries no ZIP64 field; a data descriptor has 8-byte sizes, and the central directory a
 * ZIP64 extra field, only for an entry past 4 GiB; the ZIP64 end records only when the directory
 * needs them. A workbook under 4 GiB has no ZIP64 record at all, like the files Excel writes.
 */
import type { Writable } from "node:stream";
import { constants, crc32, deflateRaw, type ZlibOptions } from "node:zlib";

/** zlib's output buffer per deflate job. */
const OUTPUT_CHUNK_BYTES = 128 * 1024;
/** Deflate's window: each block is primed with this much of the input before it. */
const DICTIONARY_BYTES = 32 * 1024;
/**
 * Blocks deflating or waiting for the output, per workbook: bounds memory (a few blocks) and is
 * where back-pressure starts. Deflate jobs share libuv's thread pool (UV_THREADPOOL_SIZE, 4 by
 * default), so up to 4 run at once.
 */
const MAX_PENDING_BLOCKS = 4;
const MAX_32 = 0xffffffff;
const MAX_16 = 0xffff;

const deflate = (data: Buffer, options: ZlibOptions) =>
  new Promise<Buffer>((resolve, reject) =>
    deflateRaw(data, options, (error, result) => (error ? reject(error) : resolve(result))),
  );

interface CentralRecord {
  name: Buffer;
  crc: number;
  compressed: number;
  size: number;
  offset: number;
  streamed: boolean;
}

/** DOS date and time (local, 2-second resolution, from 1980), as zip headers keep them. */
function dosDateTime(date: Date): { date: number; time: number } {
  const year = date.getFullYear();
  if (year < 1980) return { date: (1 << 5) | 1, time: 0 };
  return {
    date: ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1),
  };
}

export interface ZipOptions {
  /** Deflate level 0–9. */
  level: number;
  /** The modification time of every entry. */
  mtime: Date;
  /** Sizes and offsets at or above this use ZIP64 records; lowered only by tests. */
  zip64Above?: number;
}

/** A streamed entry being written: its text goes in as chunks (a string, or its UTF-8 bytes). */
export interface ZipEntry {
  /**
   * Adds one chunk; false when the caller should wait for `room()` before the next. A Buffer is
   * the zip's from then on (deflated later): the caller must not write into it again.
   */
  write(chunk: string | Buffer): boolean;
  /** Resolves when another chunk may be written; rejects if the zip failed. */
  room(): Promise<void>;
  /** Ends the entry; resolves when all of it has been written to the output. */
  end(chunk?: string | Buffer): Promise<void>;
}

export class ZipWriter {
  private readonly records: CentralRecord[] = [];
  private readonly dos: { date: number; time: number };
  private readonly zip64Above: number;
  /** Every write to the output, in order: headers, each block's deflated bytes, descriptors. */
  private chain: Promise<void> = Promise.resolve();
  private offset = 0;
  /** Blocks handed to deflate and not yet written to the output. */
  private pending = 0;
  private readonly roomWaiters = new Set<() => void>();
  private readonly onFailure = new Set<(error: Error) => void>();
  private entryOpen = false;
  private finished = false;
  failure: Error | undefined;

  constructor(
    private readonly output: Writable,
    private readonly options: ZipOptions,
  ) {
    this.dos = dosDateTime(options.mtime);
    this.zip64Above = options.zip64Above ?? MAX_32;
    output.on("error", (error: Error) => this.fail(error));
    output.on("close", () => {
      if (!this.finished) this.fail(new Error("the output was closed before the workbook was finished"));
    });
  }

  /** Records the first failure (the output's, a deflate's) and rejects everyone waiting. */
  fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    for (const reject of [...this.onFailure]) reject(error);
  }

  /** Resolves when `register`'s callback is called, rejects if the zip fails first. */
  private until(register: (done: () => void) => () => void): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const failed = (error: Error) => {
        unregister();
        this.onFailure.delete(failed);
        reject(error);
      };
      const unregister = register(() => {
        unregister();
        this.onFailure.delete(failed);
        resolve();
      });
      this.onFailure.add(failed);
    });
  }

  /** Queues a step after every earlier one; skipped once the zip has failed. */
  private queue(step: () => Promise<void> | void): Promise<void> {
    this.chain = this.chain
      .then(() => (this.failure ? undefined : step()))
      .catch((error: Error) => this.fail(error));
    return this.chain;
  }

  private async put(data: Buffer): Promise<void> {
    this.offset += data.length;
    if (this.output.write(data)) return;
    await this.until((done) => {
      this.output.once("drain", done);
      return () => this.output.off("drain", done);
    });
  }

  private localHeader(name: Buffer, streamed: boolean, crc = 0, compressed = 0, size = 0): Buffer {
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4); // version needed: 2.0, deflate
    header.writeUInt16LE(streamed ? 0x0008 : 0, 6); // bit 3: CRC and sizes follow the data
    header.writeUInt16LE(8, 8); // deflate
    header.writeUInt16LE(this.dos.time, 10);
    header.writeUInt16LE(this.dos.date, 12);
    header.writeUInt32LE(crc, 14);
    header.writeUInt32LE(compressed, 18);
    header.writeUInt32LE(size, 22);
    header.writeUInt16LE(name.length, 26);
    header.writeUInt16LE(0, 28);
    return Buffer.concat([header, name]);
  }

  /** A small part known whole (workbook.xml, styles.xml): sizes in its local header. */
  addFile(path: string, text: string): void {
    const data = Buffer.from(text, "utf8");
    const crc = crc32(data);
    const compressed = deflate(data, { level: this.options.level });
    compressed.catch(() => {}); // handled where the chain awaits it
    this.queue(async () => {
      const deflated = await compressed;
      const name = Buffer.from(path, "utf8");
      const record = { name, crc, compressed: deflated.length, size: data.length, offset: this.offset };
      // Parts written whole are a few KB; their local header has no room for ZIP64 sizes.
      if (deflated.length >= MAX_32 || data.length >= MAX_32) {
        throw new RangeError(`${path} is too large for a part written whole`);
      }
      this.records.push({ ...record, streamed: false });
      await this.put(this.localHeader(name, false, crc, deflated.length, data.length));
      await this.put(deflated);
    });
  }

  /**
   * A streamed entry (a sheet). Entries are written one after another in the order they were
   * opened; one may be opened while the previous one is still being flushed.
   */
  openEntry(path: string): ZipEntry {
    if (this.entryOpen) throw new Error("a zip entry is open: end it before opening another");
    this.entryOpen = true;
    const name = Buffer.from(path, "utf8");
    const record: CentralRecord = { name, crc: 0, compressed: 0, size: 0, offset: 0, streamed: true };
    let dictionary: Buffer | undefined;
    let ended = false;
    this.queue(async () => {
      record.offset = this.offset;
      this.records.push(record);
      await this.put(this.localHeader(name, true));
    });

    const block = (chunk: string | Buffer, last: boolean) => {
      const data = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
      // CRC and size in the order the blocks come, on this thread (native, ~2 GB/s).
      record.crc = crc32(data, record.crc);
      record.size += data.length;
      // Z_SYNC_FLUSH ends a block on a byte boundary without ending the deflate stream, so the
      // next block's output follows it directly; the last one ends the stream (Z_FINISH).
      const options: ZlibOptions = {
        level: this.options.level,
        finishFlush: last ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
        // One output buffer holds a whole block's deflated bytes (~60 KB for 512 KB of sheet), so
        // each job comes back in one callback.
        chunkSize: OUTPUT_CHUNK_BYTES,
        ...(dictionary ? { dictionary } : {}),
      };
      if (!last && data.length > 0) {
        dictionary = Buffer.from(data.subarray(Math.max(0, data.length - DICTIONARY_BYTES)));
      }
      const compressed = deflate(data, options);
      compressed.catch(() => {}); // handled where the chain awaits it
      this.pending++;
      return this.queue(async () => {
        const deflated = await compressed;
        record.compressed += deflated.length;
        await this.put(deflated);
      }).finally(() => {
        this.pending--;
        this.wake();
      });
    };

    return {
      write: (chunk) => {
        if (ended) throw new Error(`zip entry ${path} has ended`);
        if (this.failure) throw this.failure;
        if (chunk.length > 0) void block(chunk, false);
        return this.pending < MAX_PENDING_BLOCKS;
      },
      room: () => this.room(),
      end: (chunk: string | Buffer = "") => {
        if (ended) throw new Error(`zip entry ${path} has ended`);
        ended = true;
        this.entryOpen = false;
        void block(chunk, true);
        return this.queue(() => this.put(this.dataDescriptor(record))).then(() => {
          if (this.failure) throw this.failure;
        });
      },
    };
  }

  /** Resolves once fewer than MAX_PENDING_BLOCKS blocks are pending. */
  private room(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending < MAX_PENDING_BLOCKS) return Promise.resolve();
    return this.until((done) => {
      this.roomWaiters.add(done);
      return () => this.roomWaiters.delete(done);
    });
  }

  private wake(): void {
    if (this.pending < MAX_PENDING_BLOCKS) for (const done of [...this.roomWaiters]) done();
  }

  private dataDescriptor(record: CentralRecord): Buffer {
    const wide = record.size >= this.zip64Above || record.compressed >= this.zip64Above;
    const descriptor = Buffer.alloc(wide ? 24 : 16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(record.crc, 4);
    if (wide) {
      descriptor.writeBigUInt64LE(BigInt(record.compressed), 8);
      descriptor.writeBigUInt64LE(BigInt(record.size), 16);
    } else {
      descriptor.writeUInt32LE(record.compressed, 8);
      descriptor.writeUInt32LE(record.size, 12);
    }
    return descriptor;
  }

  private centralRecord(record: CentralRecord): Buffer {
    // Each field that does not fit 32 bits is 0xFFFFFFFF here and 8 bytes in the ZIP64 extra
    // field, in the order size, compressed size, offset (APPNOTE 4.5.3).
    const wide: bigint[] = [];
    const field = (value: number) => {
      if (value < this.zip64Above) return value;
      wide.push(BigInt(value));
      return MAX_32;
    };
    const size = field(record.size);
    const compressed = field(record.compressed);
    const offset = field(record.offset);
    const extra = Buffer.alloc(wide.length ? 4 + 8 * wide.length : 0);
    if (wide.length) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(8 * wide.length, 2);
      wide.forEach((value, i) => {
        extra.writeBigUInt64LE(value, 4 + 8 * i);
      });
    }
    const version = wide.length ? 45 : 20;
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(version, 4); // made by: MS-DOS host, this version
    header.writeUInt16LE(version, 6); // needed
    header.writeUInt16LE(record.streamed ? 0x0008 : 0, 8);
    header.writeUInt16LE(8, 10);
    header.writeUInt16LE(this.dos.time, 12);
    header.writeUInt16LE(this.dos.date, 14);
    header.writeUInt32LE(record.crc, 16);
    header.writeUInt32LE(compressed, 20);
    header.writeUInt32LE(size, 24);
    header.writeUInt16LE(record.name.length, 28);
    header.writeUInt16LE(extra.length, 30);
    // comment length, disk number, internal and external attributes: 0
    header.writeUInt32LE(offset, 42);
    return Buffer.concat([header, record.name, extra]);
  }

  /** The central directory and end records, after every entry; resolves when the output has flushed. */
  async finish(): Promise<void> {
    if (this.entryOpen) throw new Error("a zip entry is still open");
    if (this.failure) throw this.failure;
    this.queue(async () => {
      const start = this.offset;
      const directory = Buffer.concat(this.records.map((r) => this.centralRecord(r)));
      await this.put(directory);
      const count = this.records.length;
      const zip64 = count >= MAX_16 || start >= this.zip64Above || directory.length >= this.zip64Above;
      const parts: Buffer[] = [];
      if (zip64) {
        const record = Buffer.alloc(56);
        record.writeUInt32LE(0x06064b50, 0);
        record.writeBigUInt64LE(44n, 4); // size of the rest of this record
        record.writeUInt16LE(45, 12);
        record.writeUInt16LE(45, 14);
        // this disk, the directory's disk: 0
        record.writeBigUInt64LE(BigInt(count), 24);
        record.writeBigUInt64LE(BigInt(count), 32);
        record.writeBigUInt64LE(BigInt(directory.length), 40);
        record.writeBigUInt64LE(BigInt(start), 48);
        const locator = Buffer.alloc(20);
        locator.writeUInt32LE(0x07064b50, 0);
        locator.writeBigUInt64LE(BigInt(this.offset), 8); // where the ZIP64 end record starts
        locator.writeUInt32LE(1, 16); // disks in all
        parts.push(record, locator);
      }
      const end = Buffer.alloc(22);
      end.writeUInt32LE(0x06054b50, 0);
      end.writeUInt16LE(zip64 ? MAX_16 : count, 8);
      end.writeUInt16LE(zip64 ? MAX_16 : count, 10);
      end.writeUInt32LE(zip64 ? MAX_32 : directory.length, 12);
      end.writeUInt32LE(zip64 ? MAX_32 : start, 16);
      parts.push(end);
      await this.put(Buffer.concat(parts));
      const flushed = this.until((done) => {
        this.output.once("finish", done);
        return () => this.output.off("finish", done);
      });
      this.finished = true;
      this.output.end();
      await flushed;
    });
    await this.chain;
    if (this.failure) throw this.failure;
  }
}
