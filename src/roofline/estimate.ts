import type {ModelProfile} from '../profiles/schema.js'
import {
  batch1DecodeCeiling,
  batchSizes,
  decodeStep,
  efficiencySources,
  peakFlops,
  prefillCeiling,
  type Batch1Ceiling,
  type CeilingInput,
  type DecodeStep,
  type EfficiencyFactors,
  type Hardware,
  type PrefillCeiling,
} from './ceilings.js'
import {kvCacheBytesPerElement, type KvCacheDtype, type ResolvedFormat} from './formats.js'
import {
  GB,
  fitReplica,
  kvBytesPerToken,
  minimumGpus,
  parallelLayouts,
  routedExpertParamsB,
  tensorParallelProblem,
  tensorParallelValidity,
  validTensorParallelSizes,
  type Fit,
  type FitInput,
  type KvPerToken,
  type MinimumGpus,
  type ParallelLayout,
  type TensorParallelSizes,
  type TpValidity,
} from './memory.js'

/** Per-GPU runtime overhead outside weights and KV cache (activations, CUDA graphs, CUDA context). */
export const DEFAULT_OVERHEAD_GB_PER_GPU = 1
export const DEFAULT_MEMORY_UTILIZATION = 0.9
/** Largest batch printed when --concurrency is not given (even if more sequences fit). */
export const DEFAULT_MAX_BATCH = 256

export interface EstimateInput {
  model: ModelProfile
  format: ResolvedFormat
  hardware: Hardware & {memoryBytesPerGpu: number}
  /** GPUs in the replica; undefined = the fewest that fit. */
  gpus?: number
  kvCache: KvCacheDtype
  memoryUtilization: number
  overheadGBPerGpu: number
  /** Tokens of KV each sequence holds at its longest (ISL + OSL). */
  contextTokens: number
  /** Prompt length for the prefill ceiling. */
  inputTokens: number
  /** Largest batch for the batched ceilings; undefined = the max sequences that fit (capped at 256). */
  concurrency?: number
  factors: EfficiencyFactors
}

export interface ChosenLayout extends ParallelLayout {
  gpus: number
  /** Validity of TP = all the GPUs (what "N GPUs" usually implies). */
  impliedTp: {tp: number; validity: TpValidity; problem: string | null}
  reason: string
}

export interface BatchedRow extends DecodeStep {
  /** The KV of `batch` full-context sequences fits in the free memory. */
  fitsInMemory: boolean
}

export interface Estimate {
  label: 'estimate'
  model: {id: string; name: string; totalParamsB: number; activeParamsB: number; routedExpertParamsB: number; moe: ModelProfile['moe'] | null}
  format: ResolvedFormat
  hardware: {
    id: string
    name: string
    memoryGBPerGpu: number
    bandwidthGBsPerGpu: number | null
    bandwidthSource: Hardware['bandwidthSource']
    peakTflopsPerGpu: number | null
  }
  kvCache: {dtype: KvCacheDtype; bytesPerElement: number; perToken: KvPerToken}
  validTensorParallel: TensorParallelSizes
  layout: ChosenLayout
  /** Other ways to lay out the same GPU count. */
  layoutsForGpus: ParallelLayout[]
  minimumGpus: MinimumGpus
  contextTokens: number
  memory: Fit
  ceilings: {batch1: Batch1Ceiling; batched: BatchedRow[]; prefill: PrefillCeiling}
  factors: EfficiencyFactors
  assumptions: string[]
  warnings: string[]
}

function chooseLayout(model: ModelProfile, requested: number | undefined, minimum: MinimumGpus): ChosenLayout {
  const gpus = requested ?? minimum.byMemory ?? 1
  const layouts = parallelLayouts(model, gpus)
  const impliedValidity = tensorParallelValidity(model, gpus)
  const impliedTp = {tp: gpus, validity: impliedValidity, problem: tensorParallelProblem(model, gpus) ?? null}
  // TP 1 always divides, so every GPU count has at least the TP 1 x PP N layout.
  const fallback: ParallelLayout = {tp: 1, pp: gpus, kv: 'split'}
  if (impliedValidity !== 'invalid') {
    const reason = requested === undefined ? `the fewest GPUs that hold the model, one TP group` : `TP ${gpus}`
    return {gpus, tp: gpus, pp: 1, kv: impliedValidity, impliedTp, reason}
  }
  const best = layouts[0] ?? fallback
  const reason = `TP ${gpus} is invalid (${impliedTp.problem}); the largest valid TP is ${best.tp} x PP ${best.pp}`
  return {gpus, ...best, impliedTp, reason}
}

/** Everything `capplan estimate` prints: fit, capacity, ceilings, and every assumption behind them. */
export function estimate(input: EstimateInput): Estimate {
  const {model, format, hardware, factors} = input
  const kvBytes = kvCacheBytesPerElement[input.kvCache]
  const fitBase: Omit<FitInput, 'gpus' | 'tp' | 'pp'> = {
    model,
    bitsPerWeight: format.bitsPerWeight,
    kvBytesPerElement: kvBytes,
    memoryBytesPerGpu: hardware.memoryBytesPerGpu,
    memoryUtilization: input.memoryUtilization,
    overheadBytesPerGpu: input.overheadGBPerGpu * GB,
    contextTokens: input.contextTokens,
  }
  const minimum = minimumGpus(fitBase)
  const layout = chooseLayout(model, input.gpus, minimum)
  const memory = fitReplica({...fitBase, gpus: layout.gpus, tp: layout.tp, pp: layout.pp})
  const ceilingInput: CeilingInput = {
    model,
    bitsPerWeight: format.bitsPerWeight,
    computeDtype: format.computeDtype,
    kvBytesPerElement: kvBytes,
    hardware,
    tp: layout.tp,
    pp: layout.pp,
    factors,
  }
  const maxBatch = input.concurrency ?? Math.max(1, Math.min(memory.maxSequences, DEFAULT_MAX_BATCH))
  const batched = batchSizes(maxBatch).map((batch) => ({
    ...decodeStep(ceilingInput, batch, input.contextTokens),
    fitsInMemory: batch <= memory.maxSequences,
  }))
  const peak = peakFlops(hardware, format.computeDtype)
  const kvPerToken = kvBytesPerToken(model, kvBytes)
  const routedB = routedExpertParamsB(model)

  const assumptions = [
    `weights: ${model.params.totalB}B params x ${format.bitsPerWeight} bits / 8 = ${(memory.weightsBytes / GB).toFixed(2)} GB (${format.label}: ${format.source})`,
    `weights are sharded evenly over the ${layout.gpus} GPU(s); small tensors kept at higher precision are ignored`,
    `KV cache ${input.kvCache}: ${kvBytes} bytes per element; per token ${kvPerToken.formula} = ${kvPerToken.bytes} bytes` +
      (kvPerToken.layout === 'mla' ? ' (MLA latent: every TP rank holds all of it)' : ''),
    `memory: ${input.memoryUtilization} of each GPU's ${hardware.memoryBytesPerGpu / GB} GB (${hardware.memorySource}) usable, minus ${input.overheadGBPerGpu} GB per GPU runtime overhead (activations, CUDA graphs, CUDA context: capplan's choice)`,
    `context: each sequence holds ${input.contextTokens} tokens of KV (ISL + OSL) for capacity, and the decode ceilings read all of it every step (conservative)`,
    `memory bandwidth: ${hardware.bandwidthBytesPerSPerGpu === null ? 'unknown' : `${hardware.bandwidthBytesPerSPerGpu / 1e9} GB/s`} per GPU (${hardware.bandwidthSource})`,
    `eta_bw ${factors.etaBandwidth} (${efficiencySources.etaBandwidth})`,
    `eta_c ${factors.etaCompute} for decode GEMMs (${efficiencySources.etaCompute})`,
    `prefill MFU ${factors.mfu} (${efficiencySources.mfu}); attention term 4 x layers x heads x headDim x ISL^2 without causal halving (planning.md)`,
    `compute peak: ${peak === null ? 'unknown' : `${peak / 1e12} TFLOPS`} per GPU (${format.computeDtype}${format.computeDtype === 'fp16' ? ': weight-only quants dequantize to fp16' : ''}; dense, not the 2x sparse figure)`,
    'batch-1 ceiling counts the active weights only (no KV): the upper bound at context 0',
    'decode FLOPs = 2 x active params per token + attention over the context; tokens/s counts output tokens',
  ]
  if (model.moe !== undefined) {
    assumptions.push(
      `MoE: all ${model.params.totalB}B params must fit, ${model.params.activeB}B are read per token at batch 1; routed experts ${routedB.toFixed(1)}B (${model.layers - model.moe.denseLayers} MoE layers x ${model.moe.experts} experts x 3 x ${model.hiddenSize} x ${model.moe.expertFfnSize}); at batch B the experts read ~ 1 - (1 - ${model.moe.activeExperts}/${model.moe.experts})^B (uniform routing: an upper bound)`,
    )
  }
  if (layout.tp > 1) {
    assumptions.push(`TP ${layout.tp}: the per-layer all-reduces between GPUs are not modeled, so the ceilings are looser than for one GPU`)
  }
  if (layout.pp > 1) {
    assumptions.push(`pipeline PP ${layout.pp}: one sequence uses one stage at a time (batch-1 reads at TP ${layout.tp} bandwidth); a batch of B keeps min(B, PP) stages busy`)
  }
  if (layout.kv === 'replicated') {
    assumptions.push(`TP ${layout.tp} > ${model.kvHeads} KV heads: each KV head is replicated on ${layout.tp / model.kvHeads} GPUs (KV memory x${layout.tp / model.kvHeads})`)
  }

  const warnings: string[] = []
  if (hardware.bandwidthBytesPerSPerGpu === null) {
    warnings.push(`${hardware.id} has no memory bandwidth: decode ceilings are unknown. Measure it or set it with --bandwidth GB/s.`)
  }
  if (peak === null) warnings.push(`${hardware.id} has no FLOPs peak: prefill and compute-bound ceilings are unknown (set --tflops).`)
  if (!memory.weightsFit) {
    warnings.push(
      `the weights (${(memory.weightsBytes / GB).toFixed(1)} GB) do not fit in ${layout.gpus} x ${hardware.memoryBytesPerGpu / GB} GB x ${input.memoryUtilization} minus overhead = ${((memory.usableBytes - memory.overheadBytes) / GB).toFixed(1)} GB`,
    )
  } else if (!memory.fits) {
    warnings.push(`the weights fit, but not the KV cache of one ${input.contextTokens}-token sequence (${(memory.kvBytesPerSequence / GB).toFixed(2)} GB)`)
  }
  if (layout.impliedTp.validity === 'invalid') {
    warnings.push(`${layout.gpus} GPUs cannot be one tensor-parallel group (${layout.impliedTp.problem}): estimated as TP ${layout.tp} x PP ${layout.pp}`)
  }
  if (input.concurrency !== undefined && input.concurrency > memory.maxSequences) {
    warnings.push(`--concurrency ${input.concurrency} exceeds the ${memory.maxSequences} sequences whose KV fits at ${input.contextTokens} tokens`)
  }
  if (layout.tp > 8) warnings.push(`TP ${layout.tp} spans more than one 8-GPU node: real deployments use TP 8 x PP ${layout.gpus / 8} or similar`)

  return {
    label: 'estimate',
    model: {
      id: model.id,
      name: model.name,
      totalParamsB: model.params.totalB,
      activeParamsB: model.params.activeB,
      routedExpertParamsB: routedB,
      moe: model.moe ?? null,
    },
    format,
    hardware: {
      id: hardware.id,
      name: hardware.name,
      memoryGBPerGpu: hardware.memoryBytesPerGpu / GB,
      bandwidthGBsPerGpu: hardware.bandwidthBytesPerSPerGpu === null ? null : hardware.bandwidthBytesPerSPerGpu / 1e9,
      bandwidthSource: hardware.bandwidthSource,
      peakTflopsPerGpu: peak === null ? null : peak / 1e12,
    },
    kvCache: {dtype: input.kvCache, bytesPerElement: kvBytes, perToken: kvPerToken},
    validTensorParallel: validTensorParallelSizes(model),
    layout,
    layoutsForGpus: parallelLayouts(model, layout.gpus),
    minimumGpus: minimum,
    contextTokens: input.contextTokens,
    memory,
    ceilings: {
      batch1: batch1DecodeCeiling(ceilingInput),
      batched,
      prefill: prefillCeiling(ceilingInput, input.inputTokens),
    },
    factors,
    assumptions,
    warnings,
  }
}
