import {open} from 'node:fs/promises'

import {encodedBytes, type TensorFormat} from './quantize.js'
import {GGML_TYPE, GGUF_DEFAULT_ALIGNMENT, GGUF_VALUE_TYPE, tensorElementCount} from './writer.js'

/**
 * A small GGUF v2/v3 header reader: metadata and tensor infos, and the raw bytes of one tensor. Used to
 * check files capplan wrote and to compare tensors with llama.cpp's own output (llama-quantize).
 */

export type GgufReadValue = number | bigint | boolean | string | GgufReadValue[]

export interface GgufReadTensor {
  name: string
  dims: number[]
  /** ggml type number; `format` when it is one capplan knows. */
  ggmlType: number
  format: TensorFormat | null
  /** Absolute byte offset in the file. */
  fileOffset: number
  /** Encoded size, or null for formats capplan does not know. */
  bytes: number | null
}

export interface GgufHeader {
  version: number
  metadata: Map<string, GgufReadValue>
  /** Value type number of each key (arrays: 9). */
  metadataTypes: Map<string, number>
  tensors: GgufReadTensor[]
  alignment: number
  dataStart: number
}

const formatByType = new Map<number, TensorFormat>(Object.entries(GGML_TYPE).map(([format, type]) => [type, format as TensorFormat]))

class Cursor {
  offset = 0
  constructor(private readonly buffer: Buffer) {}
  private need(bytes: number): void {
    if (this.offset + bytes > this.buffer.length) throw new RangeError('GGUF header truncated')
  }
  u8() {
    this.need(1)
    return this.buffer.readUInt8(this.offset++)
  }
  i8() {
    this.need(1)
    return this.buffer.readInt8(this.offset++)
  }
  u16() {
    this.need(2)
    const v = this.buffer.readUInt16LE(this.offset)
    this.offset += 2
    return v
  }
  i16() {
    this.need(2)
    const v = this.buffer.readInt16LE(this.offset)
    this.offset += 2
    return v
  }
  u32() {
    this.need(4)
    const v = this.buffer.readUInt32LE(this.offset)
    this.offset += 4
    return v
  }
  i32() {
    this.need(4)
    const v = this.buffer.readInt32LE(this.offset)
    this.offset += 4
    return v
  }
  f32() {
    this.need(4)
    const v = this.buffer.readFloatLE(this.offset)
    this.offset += 4
    return v
  }
  f64() {
    this.need(8)
    const v = this.buffer.readDoubleLE(this.offset)
    this.offset += 8
    return v
  }
  u64() {
    this.need(8)
    const v = this.buffer.readBigUInt64LE(this.offset)
    this.offset += 8
    return v
  }
  i64() {
    this.need(8)
    const v = this.buffer.readBigInt64LE(this.offset)
    this.offset += 8
    return v
  }
  string() {
    const length = Number(this.u64())
    this.need(length)
    const text = this.buffer.toString('utf8', this.offset, this.offset + length)
    this.offset += length
    return text
  }
}

function readValue(cursor: Cursor, type: number): GgufReadValue {
  switch (type) {
    case GGUF_VALUE_TYPE.uint8:
      return cursor.u8()
    case GGUF_VALUE_TYPE.int8:
      return cursor.i8()
    case GGUF_VALUE_TYPE.uint16:
      return cursor.u16()
    case GGUF_VALUE_TYPE.int16:
      return cursor.i16()
    case GGUF_VALUE_TYPE.uint32:
      return cursor.u32()
    case GGUF_VALUE_TYPE.int32:
      return cursor.i32()
    case GGUF_VALUE_TYPE.float32:
      return cursor.f32()
    case GGUF_VALUE_TYPE.bool:
      return cursor.u8() !== 0
    case GGUF_VALUE_TYPE.string:
      return cursor.string()
    case GGUF_VALUE_TYPE.uint64:
      return cursor.u64()
    case GGUF_VALUE_TYPE.int64:
      return cursor.i64()
    case GGUF_VALUE_TYPE.float64:
      return cursor.f64()
    case GGUF_VALUE_TYPE.array: {
      const itemType = cursor.u32()
      const count = Number(cursor.u64())
      const values: GgufReadValue[] = []
      for (let i = 0; i < count; i++) values.push(readValue(cursor, itemType))
      return values
    }
    default:
      throw new RangeError(`unknown GGUF value type ${type}`)
  }
}

/** Parses a GGUF header from a buffer that holds at least the whole header. */
export function parseGgufHeader(buffer: Buffer): GgufHeader {
  const cursor = new Cursor(buffer)
  if (buffer.toString('latin1', 0, 4) !== 'GGUF') throw new RangeError('not a GGUF file (bad magic)')
  cursor.offset = 4
  const version = cursor.u32()
  const tensorCount = Number(cursor.u64())
  const metadataCount = Number(cursor.u64())
  const metadata = new Map<string, GgufReadValue>()
  const metadataTypes = new Map<string, number>()
  for (let i = 0; i < metadataCount; i++) {
    const key = cursor.string()
    const type = cursor.u32()
    metadataTypes.set(key, type)
    metadata.set(key, readValue(cursor, type))
  }
  const alignmentValue = metadata.get('general.alignment')
  const alignment = typeof alignmentValue === 'number' ? alignmentValue : GGUF_DEFAULT_ALIGNMENT
  const infos: {name: string; dims: number[]; ggmlType: number; offset: number}[] = []
  for (let i = 0; i < tensorCount; i++) {
    const name = cursor.string()
    const nDims = cursor.u32()
    const dims: number[] = []
    for (let d = 0; d < nDims; d++) dims.push(Number(cursor.u64()))
    const ggmlType = cursor.u32()
    const offset = Number(cursor.u64())
    infos.push({name, dims, ggmlType, offset})
  }
  const dataStart = Math.ceil(cursor.offset / alignment) * alignment
  const tensors = infos.map(({name, dims, ggmlType, offset}) => {
    const format = formatByType.get(ggmlType) ?? null
    return {name, dims, ggmlType, format, fileOffset: dataStart + offset, bytes: format === null ? null : encodedBytes(format, tensorElementCount(dims))}
  })
  return {version, metadata, metadataTypes, tensors, alignment, dataStart}
}

/** Reads a GGUF file's header (growing the read until the whole header fits). */
export async function readGgufHeader(filePath: string): Promise<GgufHeader> {
  const handle = await open(filePath, 'r')
  try {
    const {size} = await handle.stat()
    let length = Math.min(size, 1 << 20)
    for (;;) {
      const buffer = Buffer.alloc(length)
      await handle.read(buffer, 0, length, 0)
      try {
        return parseGgufHeader(buffer)
      } catch (error) {
        if (!(error instanceof RangeError && error.message === 'GGUF header truncated') || length >= size) throw error
        length = Math.min(size, length * 4)
      }
    }
  } finally {
    await handle.close()
  }
}

/** The raw encoded bytes of one tensor. */
export async function readTensorBytes(filePath: string, tensor: GgufReadTensor): Promise<Buffer> {
  if (tensor.bytes === null) throw new RangeError(`tensor ${tensor.name} has ggml type ${tensor.ggmlType}, which capplan cannot size`)
  const handle = await open(filePath, 'r')
  try {
    const buffer = Buffer.alloc(tensor.bytes)
    const {bytesRead} = await handle.read(buffer, 0, tensor.bytes, tensor.fileOffset)
    if (bytesRead !== tensor.bytes) throw new RangeError(`tensor ${tensor.name} runs past the end of ${filePath}`)
    return buffer
  } finally {
    await handle.close()
  }
}
