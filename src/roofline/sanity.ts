import type {GpuProfile, ModelProfile, QuantLevel} from '../profiles/schema.js'
import {decodeStep, defaultEfficiency, hardwareFromProfile, peakFlops, type CeilingInput, type EfficiencyFactors, type Hardware} from './ceilings.js'
import {DEFAULT_MEMORY_UTILIZATION, DEFAULT_OVERHEAD_GB_PER_GPU} from './estimate.js'
import {formatFromName, kvCacheBytesPerElement, resolveFormat, type KvCacheDtype, type ResolvedFormat} from './formats.js'
import {GB, fitReplica, kvReadBytesPerToken, parallelLayouts, tensorParallelValidity, weightBytes, type Fit, type ServingFeatures} from './memory.js'

/**
 * Measured results against physics: how much of its ceiling a measurement reached, whether it is impossible,
 * and what it would become on hardware that was not measured (scaled by the ceiling ratio, labeled estimate).
 */

export const IMPOSSIBLE_SUSPECTS = 'suspect a prefix cache, wrong token counts, or clocks'

/** One measured decode operating point: a model on some GPUs at a batch (concurrency), and its output tok/s. */
export interface OperatingPoint {
  model: ModelProfile
  format: ResolvedFormat
  kvCache: KvCacheDtype
  hardware: Hardware
  tp: number
  pp: number
  /** Sequences decoding at once (the run's concurrency). */
  batch: number
  inputTokens: number
  outputTokens: number
  /** Aggregate output tokens/s the run measured (all sequences together). */
  measuredTokensPerSecond: number
  factors?: EfficiencyFactors
  /** Serving features the run used (DP attention, speculative tokens per step, decode-only worker); absent = none. */
  features?: ServingFeatures
}

export type MeasuredVerdict = 'ok' | 'above-ceiling' | 'impossible' | 'does-not-fit' | 'unknown'

export interface MeasuredCheck {
  /** The eta-adjusted decode ceiling at this batch and the average context ISL + OSL/2. */
  ceilingTokensPerSecond: number | null
  /** The datasheet limit (eta = 1, only the active weights + KV at ISL read, each token's own experts only). */
  physicalLimitTokensPerSecond: number | null
  /** measured / ceiling. */
  efficiency: number | null
  /** measured / physical limit. */
  fractionOfLimit: number | null
  verdict: MeasuredVerdict
  message: string
  /** Average context used for the ceiling. */
  contextTokens: number
}

function ceilingInputOf(point: OperatingPoint, factors: EfficiencyFactors): CeilingInput {
  return {
    model: point.model,
    bitsPerWeight: point.format.bitsPerWeight,
    computeDtype: point.format.computeDtype,
    kvBytesPerElement: kvCacheBytesPerElement[point.kvCache],
    hardware: point.hardware,
    tp: point.tp,
    pp: point.pp,
    factors,
  }
}

/** Average KV a decoding sequence holds over its life: the prompt plus half the output. */
export function averageDecodeContext(inputTokens: number, outputTokens: number): number {
  return inputTokens + outputTokens / 2
}

/** Plain efficiency: measured / ceiling, or null without a ceiling. */
export function efficiency(measuredTokensPerSecond: number, ceilingTokensPerSecond: number | null): number | null {
  if (ceilingTokensPerSecond === null || ceilingTokensPerSecond <= 0) return null
  return measuredTokensPerSecond / ceilingTokensPerSecond
}

/**
 * The fastest decode the datasheet allows at this point, with nothing in its favor left out: full bandwidth and
 * peak FLOPs (eta = 1), KV at the SHORTEST context a decoding sequence has (ISL), and MoE reading only the
 * active parameters (as if every token picked the same experts). A measurement above it is impossible.
 */
export function physicalDecodeLimit(point: OperatingPoint): number | null {
  const bw = point.hardware.bandwidthBytesPerSPerGpu
  if (bw === null) return null
  const microBatches = Math.min(point.pp, point.batch)
  const gpus = point.tp * microBatches
  const bytes =
    microBatches * weightBytes(point.model.params.activeB, point.format.bitsPerWeight) +
    point.batch * kvReadBytesPerToken(point.model, kvCacheBytesPerElement[point.kvCache], point.tp, point.pp, point.features) * point.inputTokens
  const memoryTimeS = bytes / (gpus * bw)
  const peak = peakFlops(point.hardware, point.format.computeDtype)
  // Speculative decoding: k tokens per sequence per step, each verified (k x the FLOPs of one).
  const k = point.features?.tokensPerStep ?? 1
  const computeTimeS = peak === null ? 0 : (point.batch * k * 2 * point.model.params.activeB * 1e9) / (gpus * peak)
  return (point.batch * k) / Math.max(memoryTimeS, computeTimeS)
}

/**
 * Efficiency of a measured decode throughput and a verdict: `impossible` above the physical limit (never
 * use it for cost), `above-ceiling` between the eta-adjusted ceiling and that limit (possible, but better
 * than the engines capplan's factors assume: check it), `does-not-fit` when the weights exceed ALL the memory of the
 * GPUs it claims (the ceiling does not apply to what really ran), `unknown` without a bandwidth (CPU: measure or set it).
 */
export function checkMeasuredDecode(point: OperatingPoint): MeasuredCheck {
  const factors = point.factors ?? defaultEfficiency
  const contextTokens = averageDecodeContext(point.inputTokens, point.outputTokens)
  const ceiling = decodeStep(ceilingInputOf(point, factors), point.batch, contextTokens, point.features).tokensPerSecond
  const limit = physicalDecodeLimit(point)
  const eff = efficiency(point.measuredTokensPerSecond, ceiling)
  const fraction = efficiency(point.measuredTokensPerSecond, limit)
  const measured = `${round(point.measuredTokensPerSecond)} tok/s`
  if (ceiling === null || limit === null || eff === null || fraction === null) {
    return {
      ceilingTokensPerSecond: null,
      physicalLimitTokensPerSecond: null,
      efficiency: null,
      fractionOfLimit: null,
      verdict: 'unknown',
      message: `no ceiling: ${point.hardware.id} has no memory bandwidth: measure it or set it`,
      contextTokens,
    }
  }
  const base = {ceilingTokensPerSecond: ceiling, physicalLimitTokensPerSecond: limit, efficiency: eff, fractionOfLimit: fraction, contextTokens}
  const memory = point.hardware.memoryBytesPerGpu
  const weights = weightBytes(point.model.params.totalB, point.format.bitsPerWeight)
  const gpus = point.tp * point.pp
  if (memory !== null && weights > gpus * memory) {
    return {
      ...base,
      verdict: 'does-not-fit',
      message: `not what it claims: the ${(weights / GB).toFixed(1)} GB of ${point.format.label} weights exceed ${gpus} x ${memory / GB} GB, so the run offloaded to CPU, used another quant, or the configuration is misreported`,
    }
  }
  if (fraction > 1) {
    return {
      ...base,
      verdict: 'impossible',
      message: `impossible: ${measured} is ${pct(fraction)} of the physical limit ${round(limit)} tok/s (${IMPOSSIBLE_SUSPECTS})`,
    }
  }
  if (eff > 1) {
    return {
      ...base,
      verdict: 'above-ceiling',
      message: `above the ceiling: ${measured} is ${pct(eff)} of ${round(ceiling)} tok/s (eta_bw ${factors.etaBandwidth}) yet under the physical limit ${round(limit)}: check token counts`,
    }
  }
  return {...base, verdict: 'ok', message: `${measured} is ${pct(eff)} of the ${round(ceiling)} tok/s ceiling`}
}

export interface WhatIfTarget {
  hardware: Hardware
  /** GPUs on the target; default the source's TP x PP. */
  gpus?: number
  memoryUtilization?: number
  overheadGBPerGpu?: number
}

export type WhatIfResult =
  | {
      ok: true
      label: 'estimate'
      /** Where the number comes from, for printing beside it. */
      basis: string
      estimatedTokensPerSecond: number
      efficiencyUsed: number
      sourceCeilingTokensPerSecond: number
      targetCeilingTokensPerSecond: number
      /** target ceiling / source ceiling at the same batch and context. */
      ceilingRatio: number
      target: {id: string; gpus: number; tp: number; pp: number}
      targetFit: Fit
      warnings: string[]
    }
  | {ok: false; reason: string}

/**
 * Scale a measured operating point to other hardware: estimate = efficiency measured on the source x the
 * target's ceiling at the same batch and context (= measured x target ceiling / source ceiling). Refused when
 * the measurement is impossible (or its weights cannot fit its hardware) or has no ceiling, or when the model (or the batch's KV) does not fit the target.
 */
export function whatIf(source: OperatingPoint, target: WhatIfTarget): WhatIfResult {
  const check = checkMeasuredDecode(source)
  if (check.verdict === 'impossible' || check.verdict === 'does-not-fit') return {ok: false, reason: `the measurement is ${check.message}; it cannot be scaled`}
  if (check.efficiency === null || check.ceilingTokensPerSecond === null) return {ok: false, reason: check.message}
  const gpus = target.gpus ?? source.tp * source.pp
  const layout =
    gpus === source.tp * source.pp
      ? {tp: source.tp, pp: source.pp}
      : tensorParallelValidity(source.model, gpus) === 'invalid'
        ? (parallelLayouts(source.model, gpus)[0] ?? {tp: 1, pp: gpus})
        : {tp: gpus, pp: 1}
  const memory = target.hardware.memoryBytesPerGpu
  if (memory === null) return {ok: false, reason: `${target.hardware.id} has no memory size: set it to check the model fits`}
  const fullContext = source.inputTokens + source.outputTokens
  const targetFit = fitReplica({
    model: source.model,
    bitsPerWeight: source.format.bitsPerWeight,
    kvBytesPerElement: kvCacheBytesPerElement[source.kvCache],
    memoryBytesPerGpu: memory,
    gpus,
    ...layout,
    memoryUtilization: target.memoryUtilization ?? DEFAULT_MEMORY_UTILIZATION,
    overheadBytesPerGpu: (target.overheadGBPerGpu ?? DEFAULT_OVERHEAD_GB_PER_GPU) * GB,
    contextTokens: fullContext,
  })
  const where = `${gpus} x ${target.hardware.id}`
  if (!targetFit.weightsFit) {
    return {ok: false, reason: `${source.model.id} (${(targetFit.weightsBytes / GB).toFixed(1)} GB of ${source.format.label} weights) does not fit on ${where}`}
  }
  if (targetFit.maxSequences < source.batch) {
    return {
      ok: false,
      reason: `${where} holds the weights but the KV of only ${targetFit.maxSequences} sequences of ${fullContext} tokens, not the measured batch of ${source.batch}`,
    }
  }
  const factors = source.factors ?? defaultEfficiency
  const targetPoint: OperatingPoint = {...source, hardware: target.hardware, ...layout}
  const targetStep = decodeStep(ceilingInputOf(targetPoint, factors), source.batch, check.contextTokens, source.features)
  const sourceStep = decodeStep(ceilingInputOf(source, factors), source.batch, check.contextTokens, source.features)
  if (targetStep.tokensPerSecond === null) return {ok: false, reason: `${target.hardware.id} has no memory bandwidth: measure it or set it`}
  const warnings: string[] = []
  if (targetStep.bound !== sourceStep.bound) {
    warnings.push(`the source is ${sourceStep.bound}-bound and the target ${targetStep.bound}-bound at batch ${source.batch}: the efficiency may not carry over`)
  }
  if (source.hardware.vendor !== target.hardware.vendor) {
    warnings.push(`measured on ${source.hardware.vendor} hardware, estimated for ${target.hardware.vendor}: a different engine backend rarely reaches the same efficiency`)
  }
  if (check.verdict === 'above-ceiling') warnings.push(`the source measurement is above its ceiling: ${check.message}`)
  const estimated = check.efficiency * targetStep.tokensPerSecond
  return {
    ok: true,
    label: 'estimate',
    basis: `estimate: ${round(source.measuredTokensPerSecond)} tok/s measured on ${source.tp * source.pp} x ${source.hardware.id} at batch ${source.batch} = ${pct(check.efficiency)} of its ceiling, applied to the ${where} ceiling ${round(targetStep.tokensPerSecond)} tok/s`,
    estimatedTokensPerSecond: estimated,
    efficiencyUsed: check.efficiency,
    sourceCeilingTokensPerSecond: check.ceilingTokensPerSecond,
    targetCeilingTokensPerSecond: targetStep.tokensPerSecond,
    ceilingRatio: targetStep.tokensPerSecond / check.ceilingTokensPerSecond,
    target: {id: target.hardware.id, gpus, ...layout},
    targetFit,
    warnings,
  }
}

/** One measured level of a result file, checked on its hardware and scaled to a target (`estimate --from`). */
export interface FromResultLevel {
  concurrency: number
  measuredTokensPerSecond: number
  check: MeasuredCheck
  whatIf: WhatIfResult
}

export interface FromResult {
  file: string
  resultId: string
  sourceGpu: string
  sourceGpus: number
  format: string
  levels: FromResultLevel[]
}

export interface MeasuredRunDescription {
  model: ModelProfile
  quant: QuantLevel
  /** The result file's model.format ("Q4_K_M", "AWQ", ...); unknown names fall back to the profile's GGUF. */
  formatName: string
  gpu: GpuProfile
  /** GPUs of the replica (result engine.gpus; 0 = CPU, counted as 1). */
  gpus: number
  concurrency: number
  inputTokens: number
  outputTokens: number
  measuredTokensPerSecond: number
  kvCache?: KvCacheDtype
  /** GB/s per device: required for the CPU profile, overrides any profile's. */
  bandwidthGBs?: number
}

/** Build an OperatingPoint from what a result file records (for `report`). TP = all GPUs when valid. */
export function operatingPointFor(run: MeasuredRunDescription): OperatingPoint {
  const gpus = Math.max(1, run.gpus)
  const layout = tensorParallelValidity(run.model, gpus) === 'invalid' ? (parallelLayouts(run.model, gpus)[0] ?? {tp: 1, pp: gpus}) : {tp: gpus, pp: 1}
  return {
    model: run.model,
    format: formatFromName(run.formatName) ?? resolveFormat(run.model, run.quant, 'gguf'),
    kvCache: run.kvCache ?? 'fp16',
    hardware: hardwareFromProfile(run.gpu, run.bandwidthGBs === undefined ? {} : {bandwidthGBs: run.bandwidthGBs}),
    tp: layout.tp,
    pp: layout.pp,
    batch: run.concurrency,
    inputTokens: run.inputTokens,
    outputTokens: run.outputTokens,
    measuredTokensPerSecond: run.measuredTokensPerSecond,
  }
}

function round(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)
}

function pct(fraction: number): string {
  return `${(fraction * 100).toFixed(0)}%`
}
