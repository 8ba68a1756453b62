import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import YAML from 'yaml'

import type {ModelProfile, QuantSource} from '../../src/profiles/schema.js'

/**
 * Tiny model profiles for fast tests: the same tensor set and metadata as the real architectures, a few
 * hundred KB on disk. Write them with ensureSyntheticModel / writeSyntheticModel (src/gguf/synth.ts).
 */

const quantSource = (synthetic: QuantSource['synthetic']): QuantSource => ({
  llamacpp: {repo: 'capplan/synthetic', filePattern: `*${synthetic.toLowerCase()}.gguf`, format: synthetic},
  synthetic,
  vllm: {repo: 'capplan/synthetic', quantization: null, dtype: 'float16', bitsPerWeight: 16},
})

const quants = {int4: quantSource('Q4_0'), int8: quantSource('Q8_0'), fp16: quantSource('F16')}

/** qwen2: 2 layers, hidden 64, 4 heads / 2 KV heads of 16, FFN 128, vocab 1024, qkv biases, tied embeddings. */
export const tinyQwen2: ModelProfile = {
  kind: 'model',
  id: 'tiny-qwen2',
  name: 'Tiny Qwen2 (test)',
  architecture: 'qwen2',
  hfRepo: 'capplan/tiny-qwen2',
  layers: 2,
  hiddenSize: 64,
  attentionHeads: 4,
  kvHeads: 2,
  headDim: 16,
  ffnSize: 128,
  vocabSize: 1024,
  contextLength: 2048,
  rmsNormEps: 1e-6,
  ropeTheta: 1_000_000,
  qkvBias: true,
  tiedEmbeddings: true,
  // 64*1024 embedding + 2 x (64*64*2 + 64*32*2 + 3*64*128) weights ~ 0.14M
  params: {totalB: 0.00014, activeB: 0.00014},
  specSource: 'capplan test fixture',
  quants,
  scores: [],
}

/** llama (SPM vocabulary): same sizes, no biases, a separate output matrix. */
export const tinyLlama: ModelProfile = {
  ...tinyQwen2,
  id: 'tiny-llama',
  name: 'Tiny Llama (test)',
  architecture: 'llama',
  hfRepo: 'capplan/tiny-llama',
  ropeTheta: 10_000,
  rmsNormEps: 1e-5,
  qkvBias: false,
  tiedEmbeddings: false,
  params: {totalB: 0.0002, activeB: 0.0002},
}

/** Mixtral-style MoE (llama architecture): 8 experts of FFN 128, 2 active per token, every layer routed. */
export const tinyMixtral: ModelProfile = {
  ...tinyLlama,
  id: 'tiny-mixtral',
  name: 'Tiny Mixtral (test)',
  hfRepo: 'capplan/tiny-mixtral',
  moe: {experts: 8, activeExperts: 2, expertFfnSize: 128, sharedExperts: 0, denseLayers: 0},
  params: {totalB: 0.0005, activeB: 0.0002},
}

/** Qwen2.5-0.5B's real shape (config.json; /work/shared/reference/planning.md), for tools and slow tests. */
export const qwen25HalfB: ModelProfile = {
  ...tinyQwen2,
  id: 'qwen2.5-0.5b',
  name: 'Qwen2.5 0.5B',
  hfRepo: 'Qwen/Qwen2.5-0.5B-Instruct',
  layers: 24,
  hiddenSize: 896,
  attentionHeads: 14,
  kvHeads: 2,
  headDim: 64,
  ffnSize: 4864,
  vocabSize: 151936,
  contextLength: 32768,
  rmsNormEps: 1e-6,
  ropeTheta: 1_000_000,
  qkvBias: true,
  tiedEmbeddings: true,
  params: {totalB: 0.49, activeB: 0.49},
  specSource: 'https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct/blob/main/config.json',
}

/** Writes tiny-qwen2 as a user profile into `profilesDir`/models (capplan reads it with --profiles / CAPPLAN_PROFILES). */
export function writeTinyProfile(profilesDir: string): void {
  mkdirSync(path.join(profilesDir, 'models'), {recursive: true})
  writeFileSync(path.join(profilesDir, 'models', 'tiny-qwen2.yaml'), YAML.stringify(tinyQwen2))
}

/**
 * A temporary directory to run the CLI in on tiny-qwen2: its own model cache and profiles, and llama.cpp's
 * tools from `serverBin`'s directory when given. The caller removes `work`.
 */
export function tinyModelWorkdir(prefix: string, serverBin?: string | null): {work: string; env: Record<string, string>} {
  const work = mkdtempSync(path.join(os.tmpdir(), prefix))
  writeTinyProfile(path.join(work, 'profiles'))
  const env: Record<string, string> = {CAPPLAN_CACHE_DIR: path.join(work, 'cache'), CAPPLAN_PROFILES: path.join(work, 'profiles')}
  if (serverBin !== undefined && serverBin !== null) env.CAPPLAN_LLAMA_BIN_DIR = path.dirname(serverBin)
  return {work, env}
}
