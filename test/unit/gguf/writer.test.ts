import {createHash} from 'node:crypto'
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {encodeQ4_0} from '../../../src/gguf/quantize.js'
import {parseGgufHeader, readGgufHeader, readTensorBytes} from '../../../src/gguf/reader.js'
import {layoutGguf, writeGguf, type GgufMetadataEntry, type GgufTensorSource} from '../../../src/gguf/writer.js'

const dir = mkdtempSync(path.join(tmpdir(), 'capplan-gguf-writer-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const metadata: GgufMetadataEntry[] = [
  {key: 'general.architecture', value: {type: 'string', value: 'llama'}},
  {key: 't.u8', value: {type: 'uint8', value: 250}},
  {key: 't.i8', value: {type: 'int8', value: -7}},
  {key: 't.u16', value: {type: 'uint16', value: 65000}},
  {key: 't.i16', value: {type: 'int16', value: -30000}},
  {key: 't.u32', value: {type: 'uint32', value: 4_000_000_000}},
  {key: 't.i32', value: {type: 'int32', value: -2_000_000_000}},
  {key: 't.f32', value: {type: 'float32', value: 1e-6}},
  {key: 't.f64', value: {type: 'float64', value: 0.1}},
  {key: 't.u64', value: {type: 'uint64', value: 2n ** 40n}},
  {key: 't.i64', value: {type: 'int64', value: -(2n ** 40n)}},
  {key: 't.bool', value: {type: 'bool', value: true}},
  {key: 't.utf8', value: {type: 'string', value: 'Ġhé▁'}},
  {key: 't.strings', value: {type: 'array', itemType: 'string', values: ['<unk>', '▁a', '']}},
  {key: 't.ints', value: {type: 'array', itemType: 'int32', values: [1, -5, 6]}},
  {key: 't.floats', value: {type: 'array', itemType: 'float32', values: [0.5, -0.25]}},
]

/** A tensor whose values are 0, 1, 2, ... (scaled), produced in whatever chunk sizes the writer asks for. */
function counting(name: string, dims: number[], format: GgufTensorSource['format'], scale: number): GgufTensorSource {
  let next = 0
  return {
    name,
    dims,
    format,
    nextValues: (count) => Float32Array.from({length: count}, () => next++ * scale),
  }
}

describe('writeGguf', () => {
  it('writes a header and metadata of every value type that parse back identically', async () => {
    const file = path.join(dir, 'types.gguf')
    await writeGguf(file, metadata, [counting('a', [32], 'F32', 1)])
    const header = await readGgufHeader(file)
    expect(header.version).toBe(3)
    expect(readFileSync(file).subarray(0, 4).toString('latin1')).toBe('GGUF')
    expect(header.metadata.get('t.u8')).toBe(250)
    expect(header.metadata.get('t.i8')).toBe(-7)
    expect(header.metadata.get('t.u16')).toBe(65000)
    expect(header.metadata.get('t.i16')).toBe(-30000)
    expect(header.metadata.get('t.u32')).toBe(4_000_000_000)
    expect(header.metadata.get('t.i32')).toBe(-2_000_000_000)
    expect(header.metadata.get('t.f32')).toBe(Math.fround(1e-6))
    expect(header.metadata.get('t.f64')).toBe(0.1)
    expect(header.metadata.get('t.u64')).toBe(2n ** 40n)
    expect(header.metadata.get('t.i64')).toBe(-(2n ** 40n))
    expect(header.metadata.get('t.bool')).toBe(true)
    expect(header.metadata.get('t.utf8')).toBe('Ġhé▁')
    expect(header.metadata.get('t.strings')).toEqual(['<unk>', '▁a', ''])
    expect(header.metadata.get('t.ints')).toEqual([1, -5, 6])
    expect(header.metadata.get('t.floats')).toEqual([0.5, -0.25])
    // value type numbers of the GGUF spec
    expect(header.metadataTypes.get('t.u64')).toBe(10)
    expect(header.metadataTypes.get('t.f32')).toBe(6)
    expect(header.metadataTypes.get('t.strings')).toBe(9)
    expect([...header.metadata.keys()]).toEqual(metadata.map((entry) => entry.key))
  })

  it('aligns every tensor to 32 bytes, streams data in chunks and hashes what it wrote', async () => {
    const file = path.join(dir, 'tensors.gguf')
    const tensors = [
      counting('f32.odd', [3, 1], 'F32', 1), // 12 bytes -> next tensor at offset 32
      counting('q4', [64, 2], 'Q4_0', 0.01), // 128 values = 4 blocks = 72 bytes -> next at 32 + 96 = 128
      counting('f16', [5], 'F16', 0.5), // 10 bytes at 128, padded to 160
    ]
    const progress: number[] = []
    const result = await writeGguf(file, metadata, tensors, {chunkValues: 32, onProgress: (done) => progress.push(done)})
    const bytes = readFileSync(file)
    expect(result.bytes).toBe(bytes.length)
    expect(result.sha256).toBe(createHash('sha256').update(bytes).digest('hex'))
    expect(progress.at(-1)).toBe(bytes.length)
    const header = parseGgufHeader(bytes)
    expect(header.dataStart % 32).toBe(0)
    expect(header.tensors.map((t) => [t.name, t.dims, t.ggmlType, t.fileOffset - header.dataStart, t.bytes])).toEqual([
      ['f32.odd', [3, 1], 0, 0, 12],
      ['q4', [64, 2], 2, 32, 72],
      ['f16', [5], 1, 128, 10],
    ])
    expect(bytes.length).toBe(header.dataStart + 160) // the last tensor is padded too
    const f32 = await readTensorBytes(file, header.tensors[0]!)
    expect([...new Float32Array(f32.buffer.slice(f32.byteOffset, f32.byteOffset + 12))]).toEqual([0, 1, 2])
    // the Q4_0 tensor equals encoding the same 128 values in one go (chunking changes nothing)
    const expected = new Uint8Array(72)
    encodeQ4_0(
      Float32Array.from({length: 128}, (_, i) => i * 0.01),
      expected,
    )
    expect(Buffer.from(await readTensorBytes(file, header.tensors[1]!)).equals(Buffer.from(expected))).toBe(true)
    // f16 of 0, 0.5, 1, 1.5, 2 = 0x0000 0x3800 0x3C00 0x3E00 0x4000
    expect((await readTensorBytes(file, header.tensors[2]!)).toString('hex')).toBe(['0000', '0038', '003c', '003e', '0040'].join(''))
    const layout = layoutGguf(metadata, tensors)
    expect(layout.totalBytes).toBe(bytes.length)
    expect(layout.header.length).toBe(header.dataStart)
  })

  it('leaves no temp file behind and keeps the old file when a tensor source fails', async () => {
    const file = path.join(dir, 'atomic.gguf')
    await writeGguf(file, metadata, [counting('a', [32], 'F32', 1)])
    const before = readFileSync(file)
    const broken: GgufTensorSource = {name: 'b', dims: [32], format: 'F32', nextValues: () => new Float32Array(3)}
    await expect(writeGguf(file, metadata, [broken])).rejects.toThrow(/asked for 32 values, got 3/)
    expect(readFileSync(file).equals(before)).toBe(true)
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([])
  })

  it('refuses duplicate keys and tensors that are not whole blocks', () => {
    const duplicate = [...metadata, {key: 't.u8', value: {type: 'uint8', value: 1}} as GgufMetadataEntry]
    expect(() => layoutGguf(duplicate, [])).toThrow(/duplicate GGUF metadata key t.u8/)
    expect(() => layoutGguf(metadata, [{name: 'x', dims: [40], format: 'Q8_0'}])).toThrow(/not whole Q8_0 blocks/)
  })
})
