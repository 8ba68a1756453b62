import type {GpuProfile, ModelProfile} from '../profiles/schema.js'
import type {ComputeDtype} from './formats.js'
import {kvReadBytesPerToken, paramsReadPerStepB, weightBytes, type ServingFeatures} from './memory.js'

/**
 * Speed limits physics puts on a model on some GPUs (a roofline): a decode step must read the weights (and
 * the KV cache of every sequence in the batch) from memory and do 2 FLOPs per active parameter per token;
 * the slower of the two bounds the step. Pure functions of the profile numbers.
 */

/** How much of the datasheet a real engine gets. Printed with every ceiling. */
export interface EfficiencyFactors {
  /** Fraction of peak memory bandwidth a decode step achieves. */
  etaBandwidth: number
  /** Fraction of peak tensor FLOPs a decode step's matrix multiplies achieve. */
  etaCompute: number
  /** Model FLOPs utilization of prefill. */
  mfu: number
}

export const defaultEfficiency: EfficiencyFactors = {etaBandwidth: 0.8, etaCompute: 0.5, mfu: 0.5}

export const efficiencySources: Record<keyof EfficiencyFactors, string> = {
  etaBandwidth: 'planning.md: ~0.8, NVIDIA aiconfigurator empirical factor',
  etaCompute: "capplan's choice (not measured): batched decode GEMMs are skinny and rarely pass half of peak",
  mfu: "capplan's choice (not measured): large-prompt prefill reaches ~40-60% MFU on vLLM-class engines",
}

/** The hardware numbers a ceiling needs, per GPU, with overrides applied. */
export interface Hardware {
  id: string
  name: string
  vendor: GpuProfile['vendor']
  memoryBytesPerGpu: number | null
  bandwidthBytesPerSPerGpu: number | null
  peakFlopsPerGpu: Record<ComputeDtype, number | null>
  bandwidthSource: 'profile' | 'flag' | 'probe' | 'missing'
  memorySource: 'profile' | 'flag' | 'host' | 'missing'
}

export interface HardwareOverrides {
  /** GB/s per GPU (the CPU profile has none: measure it or set it). */
  bandwidthGBs?: number
  /** Where bandwidthGBs came from: a flag (default) or capplan's probe. */
  bandwidthSource?: 'flag' | 'probe'
  memoryGB?: number
  /** Where memoryGB came from when it is given: a flag (default) or the host's RAM (the cpu profile). */
  memorySource?: 'flag' | 'host'
  /** Dense TFLOPS per GPU for the format's compute dtype (replaces the profile's fp16/fp8/int8 figures). */
  tflops?: number
}

export function hardwareFromProfile(gpu: GpuProfile, overrides: HardwareOverrides = {}): Hardware {
  const bandwidthBytesPerSPerGpu =
    overrides.bandwidthGBs === undefined ? (gpu.memoryBandwidthTBs === null ? null : gpu.memoryBandwidthTBs * 1e12) : overrides.bandwidthGBs * 1e9
  const memoryBytesPerGpu = overrides.memoryGB === undefined ? (gpu.memoryGB === null ? null : gpu.memoryGB * 1e9) : overrides.memoryGB * 1e9
  const tf = (value: number | null) => (overrides.tflops === undefined ? (value === null ? null : value * 1e12) : overrides.tflops * 1e12)
  return {
    id: gpu.id,
    name: gpu.name,
    vendor: gpu.vendor,
    memoryBytesPerGpu,
    bandwidthBytesPerSPerGpu,
    peakFlopsPerGpu: {fp16: tf(gpu.tflops.fp16), fp8: tf(gpu.tflops.fp8), int8: tf(gpu.tflops.int8)},
    bandwidthSource: overrides.bandwidthGBs !== undefined ? (overrides.bandwidthSource ?? 'flag') : gpu.memoryBandwidthTBs === null ? 'missing' : 'profile',
    memorySource: overrides.memoryGB !== undefined ? (overrides.memorySource ?? 'flag') : gpu.memoryGB === null ? 'missing' : 'profile',
  }
}

/**
 * Peak FLOPs for a compute dtype; a GPU without FP8 tensor cores (A100) runs FP8 weights at FP16 speed
 * (vLLM's Marlin FP8 path is weight-only there).
 */
export function peakFlops(hardware: Hardware, dtype: ComputeDtype): number | null {
  return hardware.peakFlopsPerGpu[dtype] ?? hardware.peakFlopsPerGpu.fp16
}

/**
 * Attention FLOPs per (query token, context token) pair over all layers.
 * GQA/MHA: QK^T and AV are 2 x heads x headDim each -> 4 x layers x heads x headDim.
 * MLA decode (weights absorbed, as vLLM/FlashMLA run it): scores over the latent + rope key, values from the
 *   latent: 2 x layers x heads x (2 x kvLoraRank + ropeDim) — far more than GQA, the price of the tiny cache.
 * MLA prefill (not absorbed): 2 x layers x heads x (nope + rope + vHead).
 */
export function attentionFlopsPerPair(model: ModelProfile, phase: 'decode' | 'prefill'): number {
  const {layers, attentionHeads: heads} = model
  if (model.mla === undefined) return 4 * layers * heads * model.headDim
  const {kvLoraRank, qkRopeHeadDim, qkNopeHeadDim, vHeadDim} = model.mla
  if (phase === 'decode') return 2 * layers * heads * (2 * kvLoraRank + qkRopeHeadDim)
  return 2 * layers * heads * (qkNopeHeadDim + qkRopeHeadDim + vHeadDim)
}

export interface CeilingInput {
  model: ModelProfile
  bitsPerWeight: number
  computeDtype: ComputeDtype
  kvBytesPerElement: number
  hardware: Hardware
  tp: number
  pp: number
  factors: EfficiencyFactors
}

export interface Batch1Ceiling {
  /** Active weight bytes read per token (KV not counted: the context-free upper bound). */
  bytesPerToken: number
  /** Bandwidth of the GPUs that read in parallel for ONE sequence: the TP group (pipeline stages take turns). */
  bandwidthBytesPerS: number | null
  tokensPerSecond: number | null
}

/** Batch-1 decode ceiling = TP x bandwidth x eta_bw / active weight bytes (planning.md). */
export function batch1DecodeCeiling(input: CeilingInput): Batch1Ceiling {
  const bytesPerToken = weightBytes(input.model.params.activeB, input.bitsPerWeight)
  const bw = input.hardware.bandwidthBytesPerSPerGpu
  const bandwidthBytesPerS = bw === null ? null : bw * input.tp
  return {
    bytesPerToken,
    bandwidthBytesPerS,
    tokensPerSecond: bandwidthBytesPerS === null ? null : (bandwidthBytesPerS * input.factors.etaBandwidth) / bytesPerToken,
  }
}

export interface DecodeStep {
  batch: number
  /** Weights read this step (MoE: the experts the batch touches) + KV of every sequence at the context. */
  weightBytesRead: number
  kvBytesRead: number
  flops: number
  memoryTimeS: number | null
  computeTimeS: number | null
  bound: 'memory' | 'compute' | 'unknown'
  /** Aggregate output tokens/s of the replica at this batch; null without a bandwidth. */
  tokensPerSecond: number | null
  /** What one sequence sees (tokens/s per user). */
  perSequenceTokensPerSecond: number | null
}

/**
 * One decode step of `batch` sequences each holding `contextTokens` of KV:
 * time = max(bytes / (GPUs x bw x eta_bw), flops / (GPUs x peak x eta_c)), tokens/s = batch / time.
 * bytes = weights read (MoE: active + the extra experts the batch touches) + batch x KV per token x context;
 * flops = batch x (2 x active params + attention pairs x context).
 * Pipeline (PP > 1): the batch runs as m = min(batch, PP) micro-batches, each reading every weight once, on
 * TP x m busy GPUs: bytes = m x weights + KV. With PP 1 this is the plain formula.
 * Serving features (memory.ts ServingFeatures): data-parallel attention reads ONE copy of each sequence's KV
 * (no TP replication); speculative decoding verifies k = tokensPerStep tokens per sequence per step (k x FLOPs,
 * k x tokens, the same bytes).
 */
export function decodeStep(input: CeilingInput, batch: number, contextTokens: number, features: ServingFeatures = {}): DecodeStep {
  const microBatches = Math.min(input.pp, batch)
  const gpus = input.tp * microBatches
  // Speculative decoding: each step verifies k tokens per sequence (k x the FLOPs, the same weights and KV read).
  const k = features.tokensPerStep ?? 1
  const weightBytesRead = microBatches * weightBytes(paramsReadPerStepB(input.model, Math.ceil(batch / microBatches)), input.bitsPerWeight)
  const kvBytesRead = batch * kvReadBytesPerToken(input.model, input.kvBytesPerElement, input.tp, input.pp, features) * contextTokens
  const flops = batch * k * (2 * input.model.params.activeB * 1e9 + attentionFlopsPerPair(input.model, 'decode') * contextTokens)
  const bw = input.hardware.bandwidthBytesPerSPerGpu
  const peak = peakFlops(input.hardware, input.computeDtype)
  const memoryTimeS = bw === null ? null : (weightBytesRead + kvBytesRead) / (gpus * bw * input.factors.etaBandwidth)
  const computeTimeS = peak === null ? null : flops / (gpus * peak * input.factors.etaCompute)
  const stepTimeS = memoryTimeS === null ? null : Math.max(memoryTimeS, computeTimeS ?? 0)
  const bound = memoryTimeS === null ? 'unknown' : computeTimeS !== null && computeTimeS > memoryTimeS ? 'compute' : 'memory'
  return {
    batch,
    weightBytesRead,
    kvBytesRead,
    flops,
    memoryTimeS,
    computeTimeS,
    bound,
    tokensPerSecond: stepTimeS === null ? null : (batch * k) / stepTimeS,
    perSequenceTokensPerSecond: stepTimeS === null ? null : k / stepTimeS,
  }
}

export interface PrefillCeiling {
  inputTokens: number
  flops: number
  bytesRead: number
  computeTimeS: number | null
  memoryTimeS: number | null
  bound: 'memory' | 'compute' | 'unknown'
  tokensPerSecond: number | null
  /** Time to first token of one prompt at this ceiling (prefill only, no queueing). */
  ttftS: number | null
}

/**
 * Prefill of one prompt of `inputTokens`: flops = 2 x active params x ISL + attention per pair x ISL^2
 * (planning.md; no causal halving, so the attention term is an upper bound), time = max(flops / (GPUs x peak x
 * MFU), weights read / (GPUs x bw x eta_bw)); tokens/s = ISL / time.
 */
export function prefillCeiling(input: CeilingInput, inputTokens: number): PrefillCeiling {
  const gpus = input.tp * input.pp
  const flops = 2 * input.model.params.activeB * 1e9 * inputTokens + attentionFlopsPerPair(input.model, 'prefill') * inputTokens ** 2
  const bytesRead = weightBytes(paramsReadPerStepB(input.model, inputTokens), input.bitsPerWeight)
  const peak = peakFlops(input.hardware, input.computeDtype)
  const bw = input.hardware.bandwidthBytesPerSPerGpu
  const computeTimeS = peak === null ? null : flops / (gpus * peak * input.factors.mfu)
  const memoryTimeS = bw === null ? null : bytesRead / (gpus * bw * input.factors.etaBandwidth)
  // Without a FLOPs peak (CPU) prefill has no honest ceiling: the memory time alone would be far too fast.
  const timeS = computeTimeS === null ? null : Math.max(computeTimeS, memoryTimeS ?? 0)
  const bound = computeTimeS === null ? 'unknown' : memoryTimeS !== null && memoryTimeS > computeTimeS ? 'memory' : 'compute'
  return {
    inputTokens,
    flops,
    bytesRead,
    computeTimeS,
    memoryTimeS,
    bound,
    tokensPerSecond: timeS === null ? null : inputTokens / timeS,
    ttftS: timeS,
  }
}

/** 1, 2, 4, ... up to `max`, and `max` itself when it is not a power of two. */
export function batchSizes(max: number): number[] {
  const sizes: number[] = []
  for (let b = 1; b < max; b *= 2) sizes.push(b)
  sizes.push(max)
  return sizes
}
