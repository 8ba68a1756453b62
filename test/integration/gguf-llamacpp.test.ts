import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {pathToFileURL} from 'node:url'

import {execa} from 'execa'
import {afterAll, describe, expect, it} from 'vitest'

import {findLlamaCppTool} from '../../src/engines/llamacpp/build.js'
import {mulberry32} from '../../src/gguf/prng.js'
import {encodeValues, type TensorFormat} from '../../src/gguf/quantize.js'
import {readGgufHeader, readTensorBytes, type GgufHeader} from '../../src/gguf/reader.js'
import {planModel, tensorSource, writeSyntheticModel} from '../../src/gguf/synth.js'
import {tensorElementCount, writeGguf, type GgufMetadataEntry, type GgufTensorSource} from '../../src/gguf/writer.js'
import type {ModelProfile} from '../../src/profiles/schema.js'
import {tinyLlama, tinyMixtral, tinyQwen2} from '../helpers/tiny-models.js'

/**
 * Real llama.cpp against capplan's GGUF files:
 * 1. node-llama-cpp (prebuilt llama.cpp) loads a synthesized model and generates tokens that stream as
 *    visible ASCII text. Run in a child process: a GGUF that trips a GGML_ASSERT would kill this process.
 * 2. Bit-exactness: an F32 twin of a model (same values) is quantized by llama.cpp's own llama-quantize;
 *    every tensor it writes must equal capplan's encoding of the same values, and capplan's own int4/int8
 *    files must equal llama-quantize's default Q4_0/Q8_0 output tensor for tensor (same types, same bytes).
 */

const repoRoot = path.resolve(import.meta.dirname, '../..')
const dir = mkdtempSync(path.join(tmpdir(), 'capplan-gguf-llamacpp-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const SEED = 42
const GENERATED_TOKENS = 48

// a script file, not \`node -e\`: node-llama-cpp tests its binary in a child that re-runs process.execArgv
const generateScript = `
import {getLlama, LlamaLogLevel} from ${JSON.stringify(pathToFileURL(path.join(repoRoot, 'node_modules/node-llama-cpp/dist/index.js')).href)}
const [modelPath, count] = [process.argv[2], Number(process.argv[3])]
const llama = await getLlama({gpu: false, build: 'never', skipDownload: true, progressLogs: false, logLevel: LlamaLogLevel.error})
const model = await llama.loadModel({modelPath})
const context = await model.createContext({contextSize: 256, threads: 1})
const sequence = context.getSequence()
const tokens = []
// temperature 1.5 samples widely over the vocabulary (greedy on random weights repeats one token)
for await (const token of sequence.evaluate(model.tokenize('the quick brown fox'), {temperature: 1.5, seed: 1})) {
  tokens.push(token)
  if (tokens.length >= count) break
}
const pieces = tokens.map((token) => model.detokenize([token]))
console.log(JSON.stringify({tokens, pieces, trainContext: model.trainContextSize}))
await context.dispose()
await model.dispose()
await llama.dispose()
`

describe.each([
  ['qwen2', tinyQwen2],
  ['llama', tinyLlama],
  ['Mixtral-style MoE', tinyMixtral],
])('node-llama-cpp loads a synthesized %s model', (_, profile) => {
  it(`generates ${GENERATED_TOKENS} tokens of visible ASCII text`, async () => {
    const file = path.join(dir, `${profile.id}-gen.gguf`)
    await writeSyntheticModel(file, profile, 'int4', SEED)
    const script = path.join(dir, 'generate.mjs')
    writeFileSync(script, generateScript)
    const child = await execa(process.execPath, [script, file, String(GENERATED_TOKENS)], {
      cwd: repoRoot,
      reject: false,
      timeout: 120_000,
    })
    expect(child.exitCode, `child failed:\n${child.stderr}`).toBe(0)
    const {tokens, pieces, trainContext} = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as {
      tokens: number[]
      pieces: string[]
      trainContext: number
    }
    expect(tokens).toHaveLength(GENERATED_TOKENS)
    expect(trainContext).toBe(profile.contextLength)
    expect(tokens.every((token) => token >= 0 && token < profile.vocabSize)).toBe(true)
    // every piece is printable ASCII; unused tokens render empty and must stay rare
    expect(pieces.filter((piece) => !/^[\x20-\x7e]*$/.test(piece))).toEqual([])
    expect(pieces.filter((piece) => piece.length > 0).length).toBeGreaterThan(GENERATED_TOKENS / 2)
    expect(new Set(tokens).size).toBeGreaterThan(1)
  })
})

// ----- bit-exactness against llama-quantize -----

const quantizeTool = await findLlamaCppTool('llama-quantize')
if (quantizeTool === null) {
  console.log('Skipping the llama-quantize bit-exactness tests: llama-quantize is not built (run `capplan engine build`).')
}

/**
 * Hand-picked blocks for one tensor (edge cases of the block formats), random values elsewhere:
 * zeros, +m before -m and -m before +m (Q4_0 sign rule), Q4_0 and Q8_0 exact-half ties, a subnormal scale,
 * values near f16's maximum, values below f16's subnormal range. (A scale that overflows f16 is not
 * tested: llama-quantize rejects its own output then, as it validates every row for inf/nan.)
 */
function craftedValues(total: number): (count: number) => Float32Array {
  const values = new Float32Array(total)
  const random = mulberry32(7)
  for (let i = 0; i < total; i++) values[i] = (random() / 2 ** 32) * 0.04 - 0.02
  const blocks: ((j: number) => number)[] = [
    () => 0,
    (j) => (j === 0 ? 0.5 : j === 1 ? -0.5 : j * 0.01),
    (j) => (j === 0 ? -0.5 : j === 1 ? 0.5 : j * 0.01),
    (j) => (j - 16) * 0.0625, // m = -1: d = 0.125, x / d = (j - 16) / 2 -> halves
    (j) => (j === 31 ? 127 * 2 ** -7 : (j - 16) * 2 ** -8), // Q8_0: d = 2^-7, x / d = (j - 16) / 2
    (j) => (j + 1) * 1e-7, // d ~ 4e-7: an f16 subnormal
    (j) => (j === 5 ? 6e4 : j * 3), // near f16's max (65504): Q4_0 d = -7500, f16 spacing 32
    (j) => (j % 2 === 0 ? 1e-9 : -3e-8), // below half the smallest f16 subnormal
  ]
  blocks.forEach((valueAt, block) => {
    for (let j = 0; j < 32; j++) values[block * 32 + j] = valueAt(j)
  })
  let next = 0
  return (count) => {
    const out = values.subarray(next, next + count)
    next += count
    return out
  }
}

/** The tensor that gets the hand-picked blocks (an FFN matrix, 3-D for MoE). */
const craftedTensor = (profile: ModelProfile) => (profile.moe === undefined ? 'blk.0.ffn_up.weight' : 'blk.0.ffn_up_exps.weight')

/** The F32 twin of a synthetic model: same metadata (file_type F32) and the same values, unquantized. */
async function writeF32Twin(file: string, profile: ModelProfile): Promise<void> {
  const plan = planModel(profile, 'int4', SEED)
  const metadata: GgufMetadataEntry[] = plan.metadata
    .filter((entry) => entry.key !== 'general.quantization_version')
    .map((entry) => (entry.key === 'general.file_type' ? {key: entry.key, value: {type: 'uint32', value: 0}} : entry))
  const sources: GgufTensorSource[] = plan.tensors.map((tensor) => {
    const source = tensorSource({...tensor, format: 'F32'}, SEED)
    if (tensor.name !== craftedTensor(profile)) return source
    return {...source, nextValues: craftedValues(tensorElementCount(tensor.dims))}
  })
  await writeGguf(file, metadata, sources)
}

async function quantize(input: string, output: string, type: string, pure: boolean): Promise<void> {
  const args = [...(pure ? ['--pure'] : []), input, output, type, '1']
  const child = await execa(quantizeTool!, args, {reject: false, timeout: 120_000})
  const log = `${child.stdout}\n${child.stderr}`.trim().split('\n').slice(-15).join('\n')
  expect(child.exitCode, `llama-quantize ${args.join(' ')} failed:\n${log}`).toBe(0)
}

const ggmlTypeNames: Record<number, TensorFormat> = {0: 'F32', 1: 'F16', 2: 'Q4_0', 8: 'Q8_0'}

async function float32Values(file: string, header: GgufHeader, name: string): Promise<Float32Array> {
  const tensor = header.tensors.find((t) => t.name === name)!
  const bytes = await readTensorBytes(file, tensor)
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length))
}

/** Compares every tensor llama-quantize wrote with capplan's encoding of the twin's values in that type. */
async function compareWithOwnEncoding(twinFile: string, quantizedFile: string) {
  const twin = await readGgufHeader(twinFile)
  const quantized = await readGgufHeader(quantizedFile)
  const mismatched: string[] = []
  const types: Record<string, TensorFormat> = {}
  for (const tensor of quantized.tensors) {
    const format = ggmlTypeNames[tensor.ggmlType]
    if (format === undefined) throw new Error(`llama-quantize wrote ${tensor.name} as ggml type ${tensor.ggmlType}, which capplan cannot encode`)
    types[tensor.name] = format
    const values = await float32Values(twinFile, twin, tensor.name)
    const ours = new Uint8Array(tensor.bytes!)
    encodeValues(format, values, ours)
    const theirs = await readTensorBytes(quantizedFile, tensor)
    if (!Buffer.from(ours).equals(theirs)) mismatched.push(`${tensor.name} (${format})`)
  }
  return {mismatched, types, count: quantized.tensors.length}
}

describe.each([
  ['qwen2', tinyQwen2],
  ['llama', tinyLlama],
  ['Mixtral-style MoE', tinyMixtral],
])('bit-exact with llama-quantize on a %s model', (_, profile) => {
  const twinFile = path.join(dir, `${profile.id}-f32.gguf`)
  const twinReady = (async () => (quantizeTool === null ? undefined : writeF32Twin(twinFile, profile)))()

  for (const [type, pure] of [
    ['Q4_0', true],
    ['Q8_0', true],
    ['F16', true],
  ] as const) {
    it.skipIf(quantizeTool === null)(`${pure ? '--pure ' : ''}${type}: every tensor equals capplan's ${type} encoding`, async () => {
      await twinReady
      const out = path.join(dir, `${profile.id}-pure-${type}.gguf`)
      await quantize(twinFile, out, type, pure)
      const {mismatched, types, count} = await compareWithOwnEncoding(twinFile, out)
      expect(mismatched).toEqual([])
      expect(count).toBe(planModel(profile, 'int4', SEED).tensors.length)
      // --pure keeps every matrix at the target type; 1-D norms and biases stay F32
      expect(types[craftedTensor(profile)]).toBe(type)
      expect(types['blk.1.attn_norm.weight']).toBe('F32')
    })
  }

  for (const quant of ['int4', 'int8'] as const) {
    const type = quant === 'int4' ? 'Q4_0' : 'Q8_0'
    it.skipIf(quantizeTool === null)(`capplan's ${quant} file equals llama-quantize's default ${type} tensor for tensor`, async () => {
      await twinReady
      const out = path.join(dir, `${profile.id}-default-${type}.gguf`)
      await quantize(twinFile, out, type, false)
      const ours = path.join(dir, `${profile.id}-${quant}.gguf`)
      await writeSyntheticModel(ours, profile, quant, SEED)
      const [theirHeader, ourHeader] = [await readGgufHeader(out), await readGgufHeader(ours)]
      // same tensor names, shapes and types (llama-quantize may reorder): the output/embedding policy is its own
      const byName = (header: GgufHeader) => new Map(header.tensors.map((t) => [t.name, [t.dims, t.ggmlType]]))
      expect(byName(ourHeader)).toEqual(byName(theirHeader))
      expect(ourHeader.metadata.get('general.file_type')).toBe(theirHeader.metadata.get('general.file_type'))
      const differing: string[] = []
      for (const tensor of theirHeader.tensors) {
        if (tensor.name === craftedTensor(profile)) continue // the twin has hand-picked values there
        const ourTensor = ourHeader.tensors.find((t) => t.name === tensor.name)!
        const [a, b] = [await readTensorBytes(out, tensor), await readTensorBytes(ours, ourTensor)]
        if (!a.equals(b)) differing.push(tensor.name)
      }
      expect(differing).toEqual([])
    })
  }
})
