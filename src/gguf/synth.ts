import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdir, readFile, stat, statfs} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {capplanCacheDir} from '../lib/cache.js'
import {insufficientResources, invalidInput} from '../lib/errors.js'
import {fileWriteError, writeFileComplete} from '../lib/safe-write.js'
import type {ModelProfile, QuantLevel} from '../profiles/schema.js'
import {constantValues, hashString, newScratch, uniformValues, type ScratchBuffer} from './prng.js'
import {formatForRowLength, type TensorFormat} from './quantize.js'
import {buildVocabulary, MIN_VOCAB_SIZE, vocabularyKindFor, vocabularyMetadata} from './tokenizer.js'
import {FILE_TYPE, GGUF_DEFAULT_ALIGNMENT, layoutGguf, writeGguf, type GgufMetadataEntry, type GgufTensorInfo, type GgufTensorSource} from './writer.js'

/**
 * Shape-faithful synthetic models: every tensor llama.cpp loads for the profile's architecture, at the
 * profile's exact sizes, filled with deterministic random values. Decode speed depends on bytes read and
 * FLOPs, not on the values, so a synthetic copy measures what the real model would on the same machine.
 */

/** Bumped whenever the bytes written for the same (profile, quant, seed) change; part of the cache key. */
export const GGUF_WRITER_VERSION = 1

export const SYNTH_ARCHITECTURES = ['llama', 'qwen2'] as const
export type SyntheticFormat = 'Q4_0' | 'Q8_0' | 'F16'

export interface SynthOptions {
  profile: ModelProfile
  quant: QuantLevel
  /** Default 42. */
  seed?: number
  /** Write here instead of the cache (reused when its sidecar matches; otherwise needs `force`). */
  outFile?: string
  /** Rewrite even when a matching file exists, and overwrite a foreign file at outFile. */
  force?: boolean
  onProgress?: (doneBytes: number, totalBytes: number) => void
}

export interface SynthResult {
  path: string
  sha256: string
  bytes: number
  reused: boolean
  format: SyntheticFormat
  seed: number
}

export const DEFAULT_SEED = 42

/** Default main weight format per quant level (what `quants.<level>.synthetic` names in the built-in profiles). */
export const SYNTHETIC_FORMAT: Record<QuantLevel, SyntheticFormat> = {int4: 'Q4_0', int8: 'Q8_0', fp16: 'F16'}

/** Weight amplitudes: small enough that activations stay finite through any depth (RMS norms rescale). */
const MATRIX_AMPLITUDE = 0.02
const EMBEDDING_AMPLITUDE = 0.05
const BIAS_AMPLITUDE = 0.02

/** Memory beyond the weights that loading and a small context need (compute buffers, KV, runtime). */
export const LOAD_OVERHEAD_BYTES = 512 * 1024 * 1024
/** Free disk required relative to the file size. */
export const DISK_MARGIN = 1.1

/** attn_kv: attn_k/attn_v (llama-quantize bumps them to Q8_0 in 8-expert models); router: ffn_gate_inp (kept F32). */
export type TensorRole = 'norm' | 'bias' | 'router' | 'matrix' | 'attn_kv' | 'token_embd' | 'output'

export interface PlannedTensor extends GgufTensorInfo {
  role: TensorRole
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`

/**
 * The main weight format for a quant level: the profile's `quants.<level>.synthetic` when it has one, else
 * int4 -> Q4_0, int8 -> Q8_0, fp16 -> F16.
 */
export function syntheticFormatFor(profile: ModelProfile, quant: QuantLevel): SyntheticFormat {
  return (profile.quants as Partial<ModelProfile['quants']> | undefined)?.[quant]?.synthetic ?? SYNTHETIC_FORMAT[quant]
}

/**
 * Format of one tensor, following llama-quantize's default choices for the encodable formats: norms and
 * biases stay F32; the output matrix (and the token embedding when it doubles as the output, i.e. tied)
 * gets Q8_0 when the main format is Q4_0 — llama-quantize picks Q6_K there, or Q8_0 when the row length is
 * not a multiple of 256 (Qwen2.5-0.5B's 896); Q6_K is not encoded here, Q8_0 is the closest faithful
 * choice; in 8-expert models (Mixtral) attn_k and attn_v get Q8_0 too; MoE routers stay F32; rows that are
 * not whole 32-value blocks fall back to F16.
 */
export function tensorFormatFor(role: TensorRole, rowLength: number, main: SyntheticFormat, tiedEmbeddings: boolean, experts = 0): TensorFormat {
  if (role === 'norm' || role === 'bias' || role === 'router') return 'F32'
  const actsAsOutput = role === 'output' || (role === 'token_embd' && tiedEmbeddings)
  const bumped = actsAsOutput || (role === 'attn_kv' && experts === 8)
  const wanted: TensorFormat = bumped && main === 'Q4_0' ? 'Q8_0' : main
  return formatForRowLength(wanted, rowLength)
}

function fail(profile: ModelProfile, field: string, problem: string, suggestion: string): never {
  throw invalidInput(`model profile "${profile.id}": ${field} ${problem}`, suggestion)
}

/**
 * Everything llama.cpp requires of a llama/qwen2 model, checked BEFORE writing: a missing or inconsistent
 * hyperparameter can abort the whole process inside llama.cpp (GGML_ASSERT), which kills Node.
 */
export function validateSynthProfile(profile: ModelProfile): void {
  const fix = 'Fix the model profile (capplan profiles validate) or pick another model.'
  if (!(SYNTH_ARCHITECTURES as readonly string[]).includes(profile.architecture)) {
    fail(
      profile,
      'architecture',
      `"${profile.architecture}" cannot be synthesized`,
      `Synthetic models support the ${SYNTH_ARCHITECTURES.join(' and ')} architectures; benchmark a real GGUF for this model.`,
    )
  }
  if (profile.moe !== undefined) validateMoe(profile, profile.moe)
  if (profile.mla !== undefined) {
    fail(profile, 'mla', 'is set: multi-head latent attention cannot be synthesized', 'Pick a dense llama or qwen2 model.')
  }
  const positiveIntegers = ['layers', 'hiddenSize', 'attentionHeads', 'kvHeads', 'headDim', 'ffnSize', 'vocabSize', 'contextLength'] as const
  for (const field of positiveIntegers) {
    const value = profile[field] as unknown
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value >= 2 ** 32) {
      fail(profile, field, `must be a positive integer below 2^32 (got ${String(value)})`, fix)
    }
  }
  if (profile.layers > 512) fail(profile, 'layers', `(${profile.layers}) exceeds llama.cpp's limit of 512 layers`, fix)
  if (profile.attentionHeads % profile.kvHeads !== 0) {
    fail(profile, 'kvHeads', `(${profile.kvHeads}) must divide attentionHeads (${profile.attentionHeads})`, fix)
  }
  if (profile.headDim % 2 !== 0) fail(profile, 'headDim', `(${profile.headDim}) must be even for rotary embeddings`, fix)
  if (profile.architecture === 'qwen2' && profile.attentionHeads * profile.headDim !== profile.hiddenSize) {
    fail(profile, 'headDim', `x attentionHeads (${profile.headDim} x ${profile.attentionHeads}) must equal hiddenSize (${profile.hiddenSize}) for qwen2`, fix)
  }
  for (const field of ['rmsNormEps', 'ropeTheta'] as const) {
    const value = profile[field] as unknown
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      fail(profile, field, `must be a positive number (got ${String(value)})`, fix)
    }
  }
  const kind = vocabularyKindFor(profile.architecture)
  if (profile.vocabSize < MIN_VOCAB_SIZE[kind]) {
    fail(profile, 'vocabSize', `(${profile.vocabSize}) is below the ${MIN_VOCAB_SIZE[kind]} tokens a synthetic ${kind} vocabulary needs`, fix)
  }
}

/** llama.cpp's LLAMA_MAX_EXPERTS. */
const MAX_EXPERTS = 1024

/** Mixtral-style MoE (llama architecture, every layer routed, no shared experts) is what llama.cpp's llama loads. */
function validateMoe(profile: ModelProfile, moe: NonNullable<ModelProfile['moe']>): void {
  const suggestion = 'Synthetic MoE models follow Mixtral: architecture llama, every layer MoE, no shared experts.'
  if (profile.architecture !== 'llama') {
    fail(profile, 'moe', `is set: only llama-architecture (Mixtral-style) MoE models can be synthesized, not ${profile.architecture}`, suggestion)
  }
  if (moe.sharedExperts !== 0) fail(profile, 'moe.sharedExperts', `(${moe.sharedExperts}) must be 0 for a llama MoE`, suggestion)
  if (moe.denseLayers !== 0) fail(profile, 'moe.denseLayers', `(${moe.denseLayers}) must be 0 for a llama MoE`, suggestion)
  for (const field of ['experts', 'activeExperts', 'expertFfnSize'] as const) {
    const value = moe[field] as unknown
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      fail(profile, `moe.${field}`, `must be a positive integer (got ${String(value)})`, suggestion)
    }
  }
  if (moe.experts > MAX_EXPERTS) fail(profile, 'moe.experts', `(${moe.experts}) exceeds llama.cpp's limit of ${MAX_EXPERTS}`, suggestion)
  if (moe.activeExperts > moe.experts) {
    fail(profile, 'moe.activeExperts', `(${moe.activeExperts}) must not exceed moe.experts (${moe.experts})`, suggestion)
  }
}

function validateSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw invalidInput(`--seed ${seed} must be an integer from 0 to 4294967295`, 'Pass a whole number, e.g. --seed 42.')
  }
}

/** Every tensor, in the order llama.cpp's converter writes them, with its ggml dims and format. */
export function planTensors(profile: ModelProfile, quant: QuantLevel): PlannedTensor[] {
  const hidden = profile.hiddenSize
  const qWidth = profile.attentionHeads * profile.headDim
  const kvWidth = profile.kvHeads * profile.headDim
  const main = syntheticFormatFor(profile, quant)
  const experts = profile.moe?.experts ?? 0
  const tensors: PlannedTensor[] = []
  const add = (name: string, role: TensorRole, dims: number[]) =>
    tensors.push({name, role, dims, format: tensorFormatFor(role, dims[0]!, main, profile.tiedEmbeddings, experts)})
  add('token_embd.weight', 'token_embd', [hidden, profile.vocabSize])
  for (let layer = 0; layer < profile.layers; layer++) {
    const blk = `blk.${layer}`
    add(`${blk}.attn_norm.weight`, 'norm', [hidden])
    add(`${blk}.attn_q.weight`, 'matrix', [hidden, qWidth])
    add(`${blk}.attn_k.weight`, 'attn_kv', [hidden, kvWidth])
    add(`${blk}.attn_v.weight`, 'attn_kv', [hidden, kvWidth])
    if (profile.qkvBias) {
      add(`${blk}.attn_q.bias`, 'bias', [qWidth])
      add(`${blk}.attn_k.bias`, 'bias', [kvWidth])
      add(`${blk}.attn_v.bias`, 'bias', [kvWidth])
    }
    add(`${blk}.attn_output.weight`, 'matrix', [qWidth, hidden])
    add(`${blk}.ffn_norm.weight`, 'norm', [hidden])
    if (profile.moe === undefined) {
      add(`${blk}.ffn_gate.weight`, 'matrix', [hidden, profile.ffnSize])
      add(`${blk}.ffn_up.weight`, 'matrix', [hidden, profile.ffnSize])
      add(`${blk}.ffn_down.weight`, 'matrix', [profile.ffnSize, hidden])
    } else {
      // experts stacked in a third dimension, as llama.cpp's converter merges them
      const {experts: count, expertFfnSize} = profile.moe
      add(`${blk}.ffn_gate_inp.weight`, 'router', [hidden, count])
      add(`${blk}.ffn_gate_exps.weight`, 'matrix', [hidden, expertFfnSize, count])
      add(`${blk}.ffn_down_exps.weight`, 'matrix', [expertFfnSize, hidden, count])
      add(`${blk}.ffn_up_exps.weight`, 'matrix', [hidden, expertFfnSize, count])
    }
  }
  add('output_norm.weight', 'norm', [hidden])
  if (!profile.tiedEmbeddings) add('output.weight', 'output', [hidden, profile.vocabSize])
  return tensors
}

function modelMetadata(profile: ModelProfile, quant: QuantLevel, seed: number): GgufMetadataEntry[] {
  const arch = profile.architecture
  const format = syntheticFormatFor(profile, quant)
  const u32 = (key: string, value: number): GgufMetadataEntry => ({key, value: {type: 'uint32', value}})
  const f32 = (key: string, value: number): GgufMetadataEntry => ({key, value: {type: 'float32', value}})
  const str = (key: string, value: string): GgufMetadataEntry => ({key, value: {type: 'string', value}})
  const entries: GgufMetadataEntry[] = [
    str('general.architecture', arch),
    str('general.type', 'model'),
    str('general.name', `${profile.name} (capplan synthetic, random weights)`),
    u32('general.file_type', FILE_TYPE[format]),
    u32('general.alignment', GGUF_DEFAULT_ALIGNMENT),
  ]
  // llama-quantize stamps the block-format version on quantized files
  if (format !== 'F16') entries.push(u32('general.quantization_version', 2))
  entries.push(
    u32(`${arch}.vocab_size`, profile.vocabSize),
    u32(`${arch}.context_length`, profile.contextLength),
    u32(`${arch}.embedding_length`, profile.hiddenSize),
    u32(`${arch}.block_count`, profile.layers),
    // llama.cpp sizes a llama MoE's expert matrices from feed_forward_length
    u32(`${arch}.feed_forward_length`, profile.moe?.expertFfnSize ?? profile.ffnSize),
    u32(`${arch}.attention.head_count`, profile.attentionHeads),
    u32(`${arch}.attention.head_count_kv`, profile.kvHeads),
    u32(`${arch}.attention.key_length`, profile.headDim),
    u32(`${arch}.attention.value_length`, profile.headDim),
    u32(`${arch}.rope.dimension_count`, profile.headDim),
    f32(`${arch}.rope.freq_base`, profile.ropeTheta),
    f32(`${arch}.attention.layer_norm_rms_epsilon`, profile.rmsNormEps),
  )
  if (profile.moe !== undefined) {
    entries.push(u32(`${arch}.expert_count`, profile.moe.experts), u32(`${arch}.expert_used_count`, profile.moe.activeExperts))
  }
  entries.push(str('capplan.profile_id', profile.id), u32('capplan.writer_version', GGUF_WRITER_VERSION), u32('capplan.seed', seed))
  entries.push(...vocabularyMetadata(buildVocabulary(arch, profile.vocabSize)))
  return entries
}

export interface SynthPlan {
  metadata: GgufMetadataEntry[]
  tensors: PlannedTensor[]
}

/** Metadata and tensor list of a synthetic model (validated); writeSyntheticModel writes exactly this. */
export function planModel(profile: ModelProfile, quant: QuantLevel, seed: number): SynthPlan {
  validateSynthProfile(profile)
  return {metadata: modelMetadata(profile, quant, seed), tensors: planTensors(profile, quant)}
}

/** Exact size of the file ensureSyntheticModel writes (header with vocabulary + every tensor, padded). */
export function estimateSyntheticFileBytes(profile: ModelProfile, quant: QuantLevel): number {
  const {metadata, tensors} = planModel(profile, quant, DEFAULT_SEED)
  return layoutGguf(metadata, tensors).totalBytes
}

/**
 * The value stream of one tensor: the same values whatever format it is encoded in (tests write an F32
 * twin and let llama-quantize encode it, then compare).
 */
export function tensorSource(tensor: PlannedTensor, seed: number, scratch: ScratchBuffer = newScratch()): GgufTensorSource {
  const streamSeed = hashString(tensor.name, seed)
  const nextValues =
    tensor.role === 'norm'
      ? constantValues(1, scratch)
      : tensor.role === 'bias' || tensor.role === 'router'
        ? uniformValues(streamSeed, BIAS_AMPLITUDE, scratch)
        : tensor.role === 'token_embd'
          ? uniformValues(streamSeed, EMBEDDING_AMPLITUDE, scratch)
          : uniformValues(streamSeed, MATRIX_AMPLITUDE, scratch)
  return {name: tensor.name, dims: tensor.dims, format: tensor.format, nextValues}
}

/**
 * Writes a synthetic model to filePath (atomically) without any caching or resource checks; returns its
 * size and sha256. ensureSyntheticModel is the entry point for everyone else.
 */
export async function writeSyntheticModel(
  filePath: string,
  profile: ModelProfile,
  quant: QuantLevel,
  seed: number,
  onProgress?: (doneBytes: number, totalBytes: number) => void,
): Promise<{bytes: number; sha256: string}> {
  validateSeed(seed)
  const {metadata, tensors} = planModel(profile, quant, seed)
  const scratch = newScratch()
  return writeGguf(
    filePath,
    metadata,
    tensors.map((tensor) => tensorSource(tensor, seed, scratch)),
    {onProgress},
  )
}

/** Hash of every profile field that changes the file's bytes: a user profile reusing an id gets its own file. */
export function shapeFingerprint(profile: ModelProfile): string {
  const shape = {
    id: profile.id,
    name: profile.name,
    architecture: profile.architecture,
    layers: profile.layers,
    hiddenSize: profile.hiddenSize,
    attentionHeads: profile.attentionHeads,
    kvHeads: profile.kvHeads,
    headDim: profile.headDim,
    ffnSize: profile.ffnSize,
    vocabSize: profile.vocabSize,
    contextLength: profile.contextLength,
    rmsNormEps: profile.rmsNormEps,
    ropeTheta: profile.ropeTheta,
    qkvBias: profile.qkvBias,
    tiedEmbeddings: profile.tiedEmbeddings,
    moe: profile.moe, // undefined for dense models: JSON.stringify leaves it out, keeping their old cache names
  }
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 8)
}

/** Where the cache keeps a model: <cache>/models/<id>-<format>-w<writer>-s<seed>-<shape>.gguf */
export function cachedModelPath(profile: ModelProfile, quant: QuantLevel, seed: number): string {
  const name = `${profile.id}-${syntheticFormatFor(profile, quant).toLowerCase()}-w${GGUF_WRITER_VERSION}-s${seed}-${shapeFingerprint(profile)}.gguf`
  return path.join(capplanCacheDir(), 'models', name)
}

interface Sidecar {
  writerVersion: number
  profileId: string
  shape: string
  quant: QuantLevel
  format: SyntheticFormat
  seed: number
  bytes: number
  sha256: string
}

const sidecarPath = (modelPath: string) => `${modelPath}.capplan.json`

async function readSidecar(modelPath: string): Promise<Sidecar | null> {
  try {
    return JSON.parse(await readFile(sidecarPath(modelPath), 'utf8')) as Sidecar
  } catch {
    return null
  }
}

/** Refuses (before writing anything) when the disk or the memory cannot take the model. */
async function checkResources(dir: string | null, bytes: number, profile: ModelProfile, quant: QuantLevel): Promise<void> {
  const fs = dir === null ? null : await statfs(dir)
  const free = fs === null ? Infinity : Number(fs.bavail) * Number(fs.bsize)
  const needed = Math.ceil(bytes * DISK_MARGIN)
  if (free < needed) {
    throw insufficientResources(
      `${profile.id} at ${quant} is a ${mib(bytes)} file; ${dir} has ${mib(free)} free and needs ${mib(needed)} (file + 10%)`,
      'Free disk space, point CAPPLAN_CACHE_DIR or -o at a larger disk, or pick a smaller model or quant.',
    )
  }
  const memory = os.totalmem()
  const neededMemory = bytes + LOAD_OVERHEAD_BYTES
  if (memory < neededMemory) {
    throw insufficientResources(
      `${profile.id} at ${quant} needs about ${mib(neededMemory)} of memory to load (${mib(bytes)} of weights + ${mib(LOAD_OVERHEAD_BYTES)}); this machine has ${mib(memory)}`,
      'Pick a smaller model or a lower-bit quant (--quant int4).',
    )
  }
}

/**
 * Returns a synthetic model for (profile, quant, seed), writing it only when no matching file exists:
 * the cache (or outFile) is reused when its sidecar names the same writer version, shape, quant and seed
 * and the size on disk matches — so reuse costs a stat, not a rehash of hundreds of MB.
 */
export async function ensureSyntheticModel(opts: SynthOptions): Promise<SynthResult> {
  const {profile, quant} = opts
  const seed = opts.seed ?? DEFAULT_SEED
  validateSeed(seed)
  validateSynthProfile(profile)
  const format = syntheticFormatFor(profile, quant)
  const modelPath = opts.outFile === undefined ? cachedModelPath(profile, quant, seed) : path.resolve(opts.outFile)
  const expectedBytes = estimateSyntheticFileBytes(profile, quant)
  const wanted = {writerVersion: GGUF_WRITER_VERSION, profileId: profile.id, shape: shapeFingerprint(profile), quant, format, seed}

  if (!opts.force && existsSync(modelPath)) {
    const sidecar = await readSidecar(modelPath)
    const onDisk = await stat(modelPath)
    const matches =
      sidecar !== null &&
      (Object.keys(wanted) as (keyof typeof wanted)[]).every((key) => sidecar[key] === wanted[key]) &&
      sidecar.bytes === expectedBytes &&
      onDisk.size === expectedBytes
    if (matches) return {path: modelPath, sha256: sidecar.sha256, bytes: sidecar.bytes, reused: true, format, seed}
    if (opts.outFile !== undefined && sidecar === null) {
      throw invalidInput(`${modelPath} already exists and was not written by capplan model synth`, 'Pick another output file, or pass --force to overwrite it.')
    }
  }

  const dir = path.dirname(modelPath)
  await mkdir(dir, {recursive: true})
  // -o /dev/null (an existing device or FIFO): streamed, no disk to check, no sidecar beside it.
  const streamed = (await stat(modelPath).catch(() => null))?.isFile() === false
  await checkResources(streamed ? null : dir, expectedBytes, profile, quant)
  const words = {what: 'the synthetic model', ...(opts.outFile === undefined ? {} : {flag: '--output'})}
  try {
    const written = await writeSyntheticModel(modelPath, profile, quant, seed, opts.onProgress)
    const sidecar: Sidecar = {...wanted, bytes: written.bytes, sha256: written.sha256}
    if (!streamed) {
      try {
        await writeFileComplete(sidecarPath(modelPath), `${JSON.stringify(sidecar, null, 2)}\n`)
      } catch (error) {
        // The model is complete. A previous sidecar, kept, matches only a model of the same bytes (deterministic).
        throw fileWriteError(error, sidecarPath(modelPath), {...words, what: `the sidecar of ${modelPath}`, kept: 'The model file itself is complete.'})
      }
    }
    return {path: modelPath, sha256: written.sha256, bytes: written.bytes, reused: false, format, seed}
  } catch (error) {
    throw fileWriteError(error, modelPath, words)
  }
}
