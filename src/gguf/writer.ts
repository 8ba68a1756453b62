import {createHash} from 'node:crypto'

import {openOutputFile} from '../lib/safe-write.js'
import {encodedBytes, encodeValues, type TensorFormat} from './quantize.js'

/**
 * A streaming GGUF v3 writer. The header (metadata + tensor infos) is built in memory — a few MB even with
 * a 150k-token vocabulary — and tensor data is produced and written chunk by chunk, so a 500 MB model never
 * sits in memory. The file is written under a temporary name (every byte, lib/safe-write), fsynced, its size
 * checked and renamed into place: a server that has the old file mapped keeps reading the old inode, never a
 * half-written one. An existing device or FIFO (/dev/null) is written as a stream, never replaced.
 */

export const GGUF_MAGIC = 'GGUF'
export const GGUF_VERSION = 3
export const GGUF_DEFAULT_ALIGNMENT = 32

/** ggml tensor type numbers (NOT general.file_type numbers; see FILE_TYPE). */
export const GGML_TYPE: Record<TensorFormat, number> = {F32: 0, F16: 1, Q4_0: 2, Q8_0: 8}

/** llama_ftype numbers stored in general.file_type ("mostly" this format). */
export const FILE_TYPE = {F32: 0, F16: 1, Q4_0: 2, Q8_0: 7} as const

/** GGUF metadata value type numbers. */
export const GGUF_VALUE_TYPE = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const

export type GgufNumberType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64'
export type GgufBigIntType = 'uint64' | 'int64'
export type GgufScalarType = GgufNumberType | GgufBigIntType | 'bool' | 'string'

export type GgufValue =
  | {type: GgufNumberType; value: number}
  | {type: GgufBigIntType; value: bigint}
  | {type: 'bool'; value: boolean}
  | {type: 'string'; value: string}
  | {type: 'array'; itemType: GgufNumberType; values: ArrayLike<number>}
  | {type: 'array'; itemType: GgufBigIntType; values: readonly bigint[]}
  | {type: 'array'; itemType: 'bool'; values: readonly boolean[]}
  | {type: 'array'; itemType: 'string'; values: readonly string[]}

export interface GgufMetadataEntry {
  key: string
  value: GgufValue
}

export interface GgufTensorInfo {
  name: string
  /** ggml order: dims[0] is the row length (numpy shape reversed). */
  dims: number[]
  format: TensorFormat
}

export interface GgufTensorSource extends GgufTensorInfo {
  /** Returns the next `count` values of this tensor, in storage order (called until all are produced). */
  nextValues: (count: number) => Float32Array
}

export interface GgufLayout {
  /** Everything before the data section, padding included. */
  header: Buffer
  /** Byte offset of each tensor relative to the data section start. */
  tensorOffsets: number[]
  /** Encoded size of each tensor (without padding). */
  tensorBytes: number[]
  totalBytes: number
}

/** Little-endian byte builder for the header. */
class ByteBuilder {
  private chunks: Buffer[] = []
  private current = Buffer.alloc(1 << 16)
  private used = 0
  length = 0

  private ensure(bytes: number): void {
    if (this.used + bytes <= this.current.length) return
    this.chunks.push(this.current.subarray(0, this.used))
    this.current = Buffer.alloc(Math.max(1 << 16, bytes))
    this.used = 0
  }

  u8(value: number): void {
    this.ensure(1)
    this.current.writeUInt8(value, this.used)
    this.advance(1)
  }
  i8(value: number): void {
    this.ensure(1)
    this.current.writeInt8(value, this.used)
    this.advance(1)
  }
  u16(value: number): void {
    this.ensure(2)
    this.current.writeUInt16LE(value, this.used)
    this.advance(2)
  }
  i16(value: number): void {
    this.ensure(2)
    this.current.writeInt16LE(value, this.used)
    this.advance(2)
  }
  u32(value: number): void {
    this.ensure(4)
    this.current.writeUInt32LE(value, this.used)
    this.advance(4)
  }
  i32(value: number): void {
    this.ensure(4)
    this.current.writeInt32LE(value, this.used)
    this.advance(4)
  }
  f32(value: number): void {
    this.ensure(4)
    this.current.writeFloatLE(value, this.used)
    this.advance(4)
  }
  f64(value: number): void {
    this.ensure(8)
    this.current.writeDoubleLE(value, this.used)
    this.advance(8)
  }
  u64(value: number | bigint): void {
    this.ensure(8)
    this.current.writeBigUInt64LE(BigInt(value), this.used)
    this.advance(8)
  }
  i64(value: bigint): void {
    this.ensure(8)
    this.current.writeBigInt64LE(value, this.used)
    this.advance(8)
  }
  string(value: string): void {
    const bytes = Buffer.from(value, 'utf8')
    this.u64(bytes.length)
    this.ensure(bytes.length)
    bytes.copy(this.current, this.used)
    this.advance(bytes.length)
  }
  zeros(count: number): void {
    this.ensure(count)
    this.current.fill(0, this.used, this.used + count)
    this.advance(count)
  }
  private advance(bytes: number): void {
    this.used += bytes
    this.length += bytes
  }
  toBuffer(): Buffer {
    return Buffer.concat([...this.chunks, this.current.subarray(0, this.used)])
  }
}

function writeScalar(out: ByteBuilder, type: GgufScalarType, value: number | bigint | boolean | string): void {
  switch (type) {
    case 'uint8':
      return out.u8(value as number)
    case 'int8':
      return out.i8(value as number)
    case 'uint16':
      return out.u16(value as number)
    case 'int16':
      return out.i16(value as number)
    case 'uint32':
      return out.u32(value as number)
    case 'int32':
      return out.i32(value as number)
    case 'float32':
      return out.f32(value as number)
    case 'float64':
      return out.f64(value as number)
    case 'uint64':
      return out.u64(value as bigint)
    case 'int64':
      return out.i64(value as bigint)
    case 'bool':
      return out.u8(value ? 1 : 0)
    case 'string':
      return out.string(value as string)
  }
}

function writeValue(out: ByteBuilder, value: GgufValue): void {
  out.u32(GGUF_VALUE_TYPE[value.type])
  if (value.type !== 'array') {
    writeScalar(out, value.type, value.value)
    return
  }
  out.u32(GGUF_VALUE_TYPE[value.itemType])
  out.u64(value.values.length)
  for (let i = 0; i < value.values.length; i++) {
    writeScalar(out, value.itemType, value.values[i]!)
  }
}

const alignUp = (offset: number, alignment: number) => Math.ceil(offset / alignment) * alignment

export function tensorElementCount(dims: readonly number[]): number {
  return dims.reduce((product, dim) => product * dim, 1)
}

/** Header bytes, tensor offsets and the exact final file size, without producing any tensor data. */
export function layoutGguf(metadata: readonly GgufMetadataEntry[], tensors: readonly GgufTensorInfo[], alignment = GGUF_DEFAULT_ALIGNMENT): GgufLayout {
  const keys = new Set<string>()
  for (const {key} of metadata) {
    if (keys.has(key)) throw new Error(`duplicate GGUF metadata key ${key}`)
    keys.add(key)
  }
  const out = new ByteBuilder()
  out.u32(0x46554747) // "GGUF" read as a little-endian u32
  out.u32(GGUF_VERSION)
  out.u64(tensors.length)
  out.u64(metadata.length)
  for (const entry of metadata) {
    out.string(entry.key)
    writeValue(out, entry.value)
  }
  const tensorOffsets: number[] = []
  const tensorBytes: number[] = []
  let dataOffset = 0
  for (const tensor of tensors) {
    const count = tensorElementCount(tensor.dims)
    const bytes = encodedBytes(tensor.format, count)
    if (!Number.isInteger(bytes)) throw new Error(`tensor ${tensor.name}: ${count} values are not whole ${tensor.format} blocks`)
    out.string(tensor.name)
    out.u32(tensor.dims.length)
    for (const dim of tensor.dims) out.u64(dim)
    out.u32(GGML_TYPE[tensor.format])
    out.u64(dataOffset)
    tensorOffsets.push(dataOffset)
    tensorBytes.push(bytes)
    dataOffset = alignUp(dataOffset + bytes, alignment)
  }
  out.zeros(alignUp(out.length, alignment) - out.length)
  const header = out.toBuffer()
  // the last tensor is padded too (gguf-py does; ggml's own reader reads the padded data size)
  return {header, tensorOffsets, tensorBytes, totalBytes: header.length + dataOffset}
}

export interface WriteGgufOptions {
  alignment?: number
  /** Values encoded per write; a multiple of 32 so blocks never straddle two chunks. */
  chunkValues?: number
  onProgress?: (doneBytes: number, totalBytes: number) => void
}

export interface WriteGgufResult {
  path: string
  bytes: number
  sha256: string
}

/**
 * Streams a GGUF file to `filePath` atomically (temp file in the same directory, fsync, size check, rename;
 * lib/safe-write) and returns its size and sha256 (hashed while writing, so callers never re-read the file).
 * Throws the raw filesystem error (ENOSPC when the disk fills up); the previous file, if any, stays.
 */
export async function writeGguf(
  filePath: string,
  metadata: readonly GgufMetadataEntry[],
  tensors: readonly GgufTensorSource[],
  options: WriteGgufOptions = {},
): Promise<WriteGgufResult> {
  const alignment = options.alignment ?? GGUF_DEFAULT_ALIGNMENT
  const chunkValues = options.chunkValues ?? 1 << 20
  if (chunkValues % 32 !== 0) throw new Error('chunkValues must be a multiple of 32')
  const layout = layoutGguf(metadata, tensors, alignment)
  const hash = createHash('sha256')
  const file = await openOutputFile(filePath)
  let written = 0
  const emit = async (bytes: Uint8Array) => {
    hash.update(bytes)
    await file.write(bytes)
    written += bytes.length
    options.onProgress?.(written, layout.totalBytes)
  }
  try {
    await emit(layout.header)
    // room for the largest chunk in any format (F32 is 4 bytes per value)
    const scratch = new Uint8Array(chunkValues * 4)
    for (const [index, tensor] of tensors.entries()) {
      const start = layout.header.length + layout.tensorOffsets[index]!
      if (written < start) await emit(new Uint8Array(start - written))
      let remaining = tensorElementCount(tensor.dims)
      while (remaining > 0) {
        const count = Math.min(remaining, chunkValues)
        const values = tensor.nextValues(count)
        if (values.length !== count) throw new Error(`tensor ${tensor.name}: asked for ${count} values, got ${values.length}`)
        const bytes = encodeValues(tensor.format, values, scratch, 0)
        await emit(scratch.subarray(0, bytes))
        remaining -= count
      }
    }
    if (written < layout.totalBytes) await emit(new Uint8Array(layout.totalBytes - written))
    if (written !== layout.totalBytes || file.bytes !== written) throw new Error(`GGUF writer bug: wrote ${file.bytes} bytes, planned ${layout.totalBytes}`)
    await file.commit()
  } finally {
    await file.discard()
  }
  return {path: filePath, bytes: written, sha256: hash.digest('hex')}
}
