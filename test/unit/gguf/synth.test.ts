import {createHash} from 'node:crypto'
import {existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {readGgufHeader, readTensorBytes} from '../../../src/gguf/reader.js'
import {cachedModelPath, ensureSyntheticModel, estimateSyntheticFileBytes, planTensors, validateSynthProfile, writeSyntheticModel} from '../../../src/gguf/synth.js'
import {buildVocabulary, vocabularyMetadata} from '../../../src/gguf/tokenizer.js'
import {layoutGguf} from '../../../src/gguf/writer.js'
import {CapplanError} from '../../../src/lib/errors.js'
import type {ModelProfile} from '../../../src/profiles/schema.js'
import {qwen25HalfB, tinyLlama, tinyMixtral, tinyQwen2} from '../../helpers/tiny-models.js'

const dir = mkdtempSync(path.join(tmpdir(), 'capplan-synth-'))
const savedCacheDir = process.env.CAPPLAN_CACHE_DIR
beforeAll(() => {
  process.env.CAPPLAN_CACHE_DIR = path.join(dir, 'cache')
})
afterAll(() => {
  if (savedCacheDir === undefined) delete process.env.CAPPLAN_CACHE_DIR
  else process.env.CAPPLAN_CACHE_DIR = savedCacheDir
  rmSync(dir, {recursive: true, force: true})
})

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

function capplanError(fn: () => unknown): CapplanError {
  try {
    fn()
  } catch (error) {
    if (error instanceof CapplanError) return error
    throw error
  }
  throw new Error('expected a CapplanError')
}

describe('planTensors', () => {
  it('lists every qwen2 tensor with biases, tied (no output.weight), in converter order', () => {
    const tensors = planTensors(tinyQwen2, 'int4')
    const layer0 = tensors.filter((t) => t.name.startsWith('blk.0.')).map((t) => t.name.slice(6))
    expect(layer0).toEqual([
      'attn_norm.weight',
      'attn_q.weight',
      'attn_k.weight',
      'attn_v.weight',
      'attn_q.bias',
      'attn_k.bias',
      'attn_v.bias',
      'attn_output.weight',
      'ffn_norm.weight',
      'ffn_gate.weight',
      'ffn_up.weight',
      'ffn_down.weight',
    ])
    expect(tensors).toHaveLength(1 + 2 * 12 + 1) // token_embd, 2 layers, output_norm
    expect(tensors.map((t) => t.name)).not.toContain('output.weight')
    const byName = new Map(tensors.map((t) => [t.name, t]))
    // ggml dims: [row length, rows]; q is 4 heads x 16 = 64 wide, k/v 2 KV heads x 16 = 32
    expect(byName.get('token_embd.weight')!.dims).toEqual([64, 1024])
    expect(byName.get('blk.1.attn_k.weight')!.dims).toEqual([64, 32])
    expect(byName.get('blk.1.attn_k.bias')!.dims).toEqual([32])
    expect(byName.get('blk.1.attn_output.weight')!.dims).toEqual([64, 64])
    expect(byName.get('blk.1.ffn_down.weight')!.dims).toEqual([128, 64])
    expect(byName.get('blk.1.ffn_up.weight')!.dims).toEqual([64, 128])
  })

  it('maps int4 to Q4_0 with F32 norms and biases, and a tied embedding at Q8_0 like llama-quantize', () => {
    const formats = new Map(planTensors(tinyQwen2, 'int4').map((t) => [t.name, t.format]))
    expect(formats.get('token_embd.weight')).toBe('Q8_0') // doubles as the output matrix
    expect(formats.get('blk.0.attn_q.weight')).toBe('Q4_0')
    expect(formats.get('blk.0.ffn_down.weight')).toBe('Q4_0')
    expect(formats.get('blk.0.attn_q.bias')).toBe('F32')
    expect(formats.get('blk.0.attn_norm.weight')).toBe('F32')
    expect(formats.get('output_norm.weight')).toBe('F32')
  })

  it('gives an untied llama its own output matrix (Q8_0 at int4) and a Q4_0 embedding, no biases', () => {
    const tensors = planTensors(tinyLlama, 'int4')
    const formats = new Map(tensors.map((t) => [t.name, t.format]))
    expect(formats.get('output.weight')).toBe('Q8_0')
    expect(formats.get('token_embd.weight')).toBe('Q4_0')
    expect(tensors.some((t) => t.name.endsWith('.bias'))).toBe(false)
    expect(tensors).toHaveLength(1 + 2 * 9 + 2)
  })

  it('uses Q8_0 everywhere at int8 and F16 at fp16 (norms and biases stay F32)', () => {
    const int8 = planTensors(tinyQwen2, 'int8').filter((t) => t.dims.length === 2)
    expect(new Set(int8.map((t) => t.format))).toEqual(new Set(['Q8_0']))
    const fp16 = planTensors(tinyQwen2, 'fp16')
    expect(new Set(fp16.filter((t) => t.dims.length === 2).map((t) => t.format))).toEqual(new Set(['F16']))
    expect(new Set(fp16.filter((t) => t.dims.length === 1).map((t) => t.format))).toEqual(new Set(['F32']))
  })

  it('stacks Mixtral-style experts in 3-D tensors with an F32 router and Q8_0 attn_k/attn_v at 8 experts', () => {
    const tensors = new Map(planTensors(tinyMixtral, 'int4').map((t) => [t.name, t]))
    expect(tensors.has('blk.0.ffn_gate.weight')).toBe(false)
    expect(tensors.get('blk.0.ffn_gate_inp.weight')).toMatchObject({dims: [64, 8], format: 'F32'})
    expect(tensors.get('blk.0.ffn_gate_exps.weight')).toMatchObject({dims: [64, 128, 8], format: 'Q4_0'})
    expect(tensors.get('blk.0.ffn_down_exps.weight')).toMatchObject({dims: [128, 64, 8], format: 'Q4_0'})
    expect(tensors.get('blk.0.ffn_up_exps.weight')).toMatchObject({dims: [64, 128, 8], format: 'Q4_0'})
    // llama-quantize: "for the 8-expert model, bumping this to Q8_0 trades just ~128MB"
    expect(tensors.get('blk.1.attn_k.weight')!.format).toBe('Q8_0')
    expect(tensors.get('blk.1.attn_v.weight')!.format).toBe('Q8_0')
    expect(tensors.get('blk.1.attn_q.weight')!.format).toBe('Q4_0')
    // with 4 experts the bump does not apply
    const four = planTensors({...tinyMixtral, moe: {...tinyMixtral.moe!, experts: 4}}, 'int4')
    expect(four.find((t) => t.name === 'blk.1.attn_k.weight')!.format).toBe('Q4_0')
  })

  it('falls back to F16 for a matrix whose rows are not whole blocks (FFN 688)', () => {
    const formats = new Map(planTensors({...tinyQwen2, ffnSize: 688}, 'int4').map((t) => [t.name, t.format]))
    expect(formats.get('blk.0.ffn_down.weight')).toBe('F16') // rows of 688 values
    expect(formats.get('blk.0.ffn_up.weight')).toBe('Q4_0') // rows of 64 values
  })
})

describe('estimateSyntheticFileBytes', () => {
  it('matches the data section of Qwen2.5-0.5B at int4 computed by hand', () => {
    // token_embd Q8_0: 896 x 151936 / 32 x 34 = 144,643,072
    // per layer: norms 2 x 3584 (F32); q 896x896 Q4_0 = 25088 blocks x 18 = 451,584; k, v 896x128 = 64,512 each;
    //   biases (896 + 128 + 128) x 4 = 4,608; attn_output 451,584; gate/up/down 896x4864 = 2,451,456 each
    //   = 7,168 + 451,584 + 129,024 + 4,608 + 451,584 + 7,354,368 = 8,398,336 (every size a multiple of 32)
    // output_norm 3,584 -> 144,643,072 + 24 x 8,398,336 + 3,584 = 346,206,720
    const vocab = vocabularyMetadata(buildVocabulary('qwen2', 151936))
    const total = estimateSyntheticFileBytes(qwen25HalfB, 'int4')
    // header = vocabulary + tensor infos + ~20 hyperparameter keys (well under 4 KB)
    const header = layoutGguf(vocab, planTensors(qwen25HalfB, 'int4')).header.length
    expect(total - 346_206_720).toBeGreaterThan(header)
    expect(total - 346_206_720).toBeLessThan(header + 4096)
  })

  it('equals the size of the file actually written', async () => {
    const file = path.join(dir, 'estimate.gguf')
    const written = await writeSyntheticModel(file, tinyLlama, 'int8', 1)
    expect(written.bytes).toBe(estimateSyntheticFileBytes(tinyLlama, 'int8'))
    expect(readFileSync(file).length).toBe(written.bytes)
  })
})

describe('writeSyntheticModel', () => {
  let file42: string
  beforeAll(async () => {
    file42 = path.join(dir, 'tiny-42.gguf')
    await writeSyntheticModel(file42, tinyQwen2, 'int4', 42)
  })

  it('writes the hyperparameters llama.cpp requires', async () => {
    const {metadata} = await readGgufHeader(file42)
    expect(metadata.get('general.architecture')).toBe('qwen2')
    expect(metadata.get('general.file_type')).toBe(2) // MOSTLY_Q4_0
    expect(metadata.get('qwen2.context_length')).toBe(2048)
    expect(metadata.get('qwen2.embedding_length')).toBe(64)
    expect(metadata.get('qwen2.block_count')).toBe(2)
    expect(metadata.get('qwen2.feed_forward_length')).toBe(128)
    expect(metadata.get('qwen2.attention.head_count')).toBe(4)
    expect(metadata.get('qwen2.attention.head_count_kv')).toBe(2)
    expect(metadata.get('qwen2.rope.dimension_count')).toBe(16)
    expect(metadata.get('qwen2.rope.freq_base')).toBe(1_000_000)
    expect(metadata.get('qwen2.attention.layer_norm_rms_epsilon')).toBe(Math.fround(1e-6))
    expect(metadata.get('tokenizer.ggml.model')).toBe('gpt2')
    expect(metadata.get('tokenizer.ggml.pre')).toBe('qwen2')
    expect((metadata.get('tokenizer.ggml.tokens') as string[]).length).toBe(1024)
    expect(metadata.get('tokenizer.ggml.eos_token_id')).toBe(1021)
  })

  it('writes expert_count, expert_used_count and the expert FFN width for a MoE', async () => {
    const file = path.join(dir, 'tiny-mixtral.gguf')
    await writeSyntheticModel(file, {...tinyMixtral, ffnSize: 999}, 'int4', 42)
    const {metadata, tensors} = await readGgufHeader(file)
    expect(metadata.get('llama.expert_count')).toBe(8)
    expect(metadata.get('llama.expert_used_count')).toBe(2)
    expect(metadata.get('llama.feed_forward_length')).toBe(128) // moe.expertFfnSize, not ffnSize
    expect(tensors.find((t) => t.name === 'blk.0.ffn_up_exps.weight')!.bytes).toBe(((64 * 128 * 8) / 32) * 18)
  })

  it('stores file_type 7 for Q8_0 and 1 for F16 (not the ggml type numbers 8 and 1)', async () => {
    const q8 = path.join(dir, 'tiny-q8.gguf')
    await writeSyntheticModel(q8, tinyQwen2, 'int8', 42)
    expect((await readGgufHeader(q8)).metadata.get('general.file_type')).toBe(7)
    const f16 = path.join(dir, 'tiny-f16.gguf')
    await writeSyntheticModel(f16, tinyQwen2, 'fp16', 42)
    const header = await readGgufHeader(f16)
    expect(header.metadata.get('general.file_type')).toBe(1)
    expect(header.tensors.find((t) => t.name === 'blk.0.ffn_up.weight')!.ggmlType).toBe(1)
  })

  it('fills norms with 1.0 and keeps weights small', async () => {
    const header = await readGgufHeader(file42)
    const norm = await readTensorBytes(
      file42,
      header.tensors.find((t) => t.name === 'blk.0.attn_norm.weight')!,
    )
    expect(new Set(new Float32Array(norm.buffer.slice(norm.byteOffset, norm.byteOffset + norm.length)))).toEqual(new Set([1]))
    const bias = await readTensorBytes(
      file42,
      header.tensors.find((t) => t.name === 'blk.0.attn_q.bias')!,
    )
    const biasValues = new Float32Array(bias.buffer.slice(bias.byteOffset, bias.byteOffset + bias.length))
    expect(Math.max(...biasValues.map(Math.abs))).toBeLessThanOrEqual(0.02)
    expect(new Set(biasValues).size).toBe(64) // random, not constant
  })

  it('is deterministic for a seed and differs for another seed', async () => {
    const again = path.join(dir, 'tiny-42-again.gguf')
    const first = sha256(file42)
    const result = await writeSyntheticModel(again, tinyQwen2, 'int4', 42)
    expect(result.sha256).toBe(first)
    expect(sha256(again)).toBe(first)
    const other = await writeSyntheticModel(path.join(dir, 'tiny-7.gguf'), tinyQwen2, 'int4', 7)
    expect(other.sha256).not.toBe(first)
  })
})

describe('validateSynthProfile', () => {
  const cases: [string, Partial<ModelProfile>, RegExp][] = [
    ['kvHeads not dividing heads', {kvHeads: 3}, /kvHeads \(3\) must divide attentionHeads \(4\)/],
    ['odd head dim', {headDim: 15, attentionHeads: 4, hiddenSize: 60}, /headDim \(15\) must be even/],
    ['qwen2 heads x headDim != hidden', {headDim: 32}, /headDim x attentionHeads \(32 x 4\) must equal hiddenSize \(64\)/],
    ['unsupported architecture', {architecture: 'deepseek2'}, /architecture "deepseek2" cannot be synthesized/],
    ['zero layers', {layers: 0}, /layers must be a positive integer/],
    ['too many layers', {layers: 600}, /layers \(600\) exceeds llama.cpp's limit of 512/],
    ['missing ffn', {ffnSize: undefined as unknown as number}, /ffnSize must be a positive integer below 2\^32 \(got undefined\)/],
    ['bad epsilon', {rmsNormEps: 0}, /rmsNormEps must be a positive number/],
    ['tiny vocabulary', {vocabSize: 100}, /vocabSize \(100\) is below the 285 tokens/],
    [
      'a qwen2 MoE',
      {moe: {experts: 8, activeExperts: 2, expertFfnSize: 128, sharedExperts: 0, denseLayers: 0}},
      /moe is set: only llama-architecture \(Mixtral-style\) MoE models can be synthesized, not qwen2/,
    ],
    [
      'shared experts',
      {architecture: 'llama', headDim: 16, moe: {experts: 8, activeExperts: 2, expertFfnSize: 128, sharedExperts: 1, denseLayers: 0}},
      /moe.sharedExperts \(1\) must be 0 for a llama MoE/,
    ],
    [
      'more active experts than experts',
      {architecture: 'llama', moe: {experts: 4, activeExperts: 6, expertFfnSize: 128, sharedExperts: 0, denseLayers: 0}},
      /moe.activeExperts \(6\) must not exceed moe.experts \(4\)/,
    ],
  ]
  for (const [label, change, message] of cases) {
    it(`refuses ${label} as invalid input naming the field`, () => {
      const error = capplanError(() => validateSynthProfile({...tinyQwen2, ...change}))
      expect(error.kind).toBe('INVALID_INPUT')
      expect(error.exitCode).toBe(3)
      expect(error.message).toMatch(/^model profile "tiny-qwen2": /)
      expect(error.message).toMatch(message)
    })
  }

  it('accepts the tiny models and the real Qwen2.5-0.5B shape', () => {
    expect(() => validateSynthProfile(tinyQwen2)).not.toThrow()
    expect(() => validateSynthProfile(tinyLlama)).not.toThrow()
    expect(() => validateSynthProfile(qwen25HalfB)).not.toThrow()
  })
})

describe('ensureSyntheticModel', () => {
  it('writes into the cache once, then reuses it without rewriting', async () => {
    const first = await ensureSyntheticModel({profile: tinyQwen2, quant: 'int4'})
    expect(first.reused).toBe(false)
    expect(first.path).toBe(cachedModelPath(tinyQwen2, 'int4', 42))
    expect(first.path.startsWith(path.join(dir, 'cache', 'models'))).toBe(true)
    expect(first).toMatchObject({format: 'Q4_0', seed: 42, bytes: readFileSync(first.path).length})
    expect(first.sha256).toBe(sha256(first.path))
    const second = await ensureSyntheticModel({profile: tinyQwen2, quant: 'int4'})
    expect(second).toEqual({...first, reused: true})
    const forced = await ensureSyntheticModel({profile: tinyQwen2, quant: 'int4', force: true})
    expect(forced).toEqual({...first, reused: false})
  })

  it('keys the cache by seed and rewrites a file whose size no longer matches', async () => {
    const seeded = await ensureSyntheticModel({profile: tinyQwen2, quant: 'int4', seed: 5})
    expect(seeded.path).not.toBe(cachedModelPath(tinyQwen2, 'int4', 42))
    truncateSync(seeded.path, 100)
    const repaired = await ensureSyntheticModel({profile: tinyQwen2, quant: 'int4', seed: 5})
    expect(repaired.reused).toBe(false)
    expect(repaired.sha256).toBe(seeded.sha256)
  })

  it('gives a changed shape under the same id its own cache file', () => {
    expect(cachedModelPath({...tinyQwen2, layers: 3}, 'int4', 42)).not.toBe(cachedModelPath(tinyQwen2, 'int4', 42))
  })

  it('reports progress up to the full size', async () => {
    const seen: [number, number][] = []
    const result = await ensureSyntheticModel({profile: tinyLlama, quant: 'fp16', onProgress: (done, total) => seen.push([done, total])})
    expect(seen.at(-1)).toEqual([result.bytes, result.bytes])
  })

  it('refuses to overwrite a file at outFile that capplan did not write, unless forced', async () => {
    const foreign = path.join(dir, 'foreign.gguf')
    writeFileSync(foreign, 'not a model')
    await expect(ensureSyntheticModel({profile: tinyQwen2, quant: 'int4', outFile: foreign})).rejects.toMatchObject({
      kind: 'INVALID_INPUT',
      message: expect.stringContaining('already exists and was not written by capplan model synth'),
    })
    expect(readFileSync(foreign, 'utf8')).toBe('not a model')
    const forced = await ensureSyntheticModel({profile: tinyQwen2, quant: 'int4', outFile: foreign, force: true})
    expect(forced.reused).toBe(false)
    expect(existsSync(`${foreign}.capplan.json`)).toBe(true)
    expect((await ensureSyntheticModel({profile: tinyQwen2, quant: 'int4', outFile: foreign})).reused).toBe(true)
  })

  it('refuses a seed outside 0..2^32-1', async () => {
    await expect(ensureSyntheticModel({profile: tinyQwen2, quant: 'int4', seed: -1})).rejects.toMatchObject({kind: 'INVALID_INPUT'})
    await expect(ensureSyntheticModel({profile: tinyQwen2, quant: 'int4', seed: 1.5})).rejects.toMatchObject({kind: 'INVALID_INPUT'})
  })

  it('refuses a model that does not fit, naming its size, before writing anything', async () => {
    // 200 layers x (4 x 16384^2 + 3 x 16384 x 53248) x 2 bytes at fp16 ~ 1.26 TB: fits no test machine
    const huge: ModelProfile = {...tinyQwen2, id: 'huge', layers: 200, hiddenSize: 16384, attentionHeads: 128, kvHeads: 8, headDim: 128, ffnSize: 53248}
    const error = await ensureSyntheticModel({profile: huge, quant: 'fp16'}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CapplanError)
    expect((error as CapplanError).kind).toBe('INSUFFICIENT_RESOURCES')
    expect((error as CapplanError).exitCode).toBe(7)
    const mibs = Math.round(estimateSyntheticFileBytes(huge, 'fp16') / 2 ** 20)
    expect((error as CapplanError).message).toContain(`${mibs} MiB`)
    expect(existsSync(cachedModelPath(huge, 'fp16', 42))).toBe(false)
  })
})
