import { checkRange } from '../byte-source.js';
import type { ByteSource } from '../disk-reader.types.js';

/** A whole image held in memory, read as the readers read storage (range-checked), for tests that cut or forge bytes. */
export class MemorySource implements ByteSource {
  constructor(private readonly bytes: Uint8Array) {}
  get size() {
    return this.bytes.length;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this.size, offset, length, 'memory');
    return this.bytes.slice(offset, offset + length);
  }
}
