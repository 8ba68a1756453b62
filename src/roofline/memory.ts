import type {ModelProfile} from '../profiles/schema.js'

/**
 * Memory physics of one model on N GPUs: weight bytes, KV cache bytes per token, which tensor-parallel sizes
 * the attention heads allow, and how many sequences fit in what is left. Pure; bytes are plain numbers and
 * GB means 1e9 bytes (GPU datasheets do the same).
 */

export const GB = 1e9

/** Bytes of `paramsB` billion weights at `bitsPerWeight`. */
export function weightBytes(paramsB: number, bitsPerWeight: number): number {
  return (paramsB * 1e9 * bitsPerWeight) / 8
}

/**
 * Billions of parameters in routed experts (0 for a dense model): MoE layers x experts x 3 matrices
 * (gate, up, down) x hidden x expert FFN width. Shared experts, attention, embeddings are the rest.
 */
export function routedExpertParamsB(model: ModelProfile): number {
  if (model.moe === undefined) return 0
  const moeLayers = model.layers - model.moe.denseLayers
  return (moeLayers * model.moe.experts * 3 * model.hiddenSize * model.moe.expertFfnSize) / 1e9
}

/**
 * Fraction of a layer's routed experts that at least one of `batch` tokens selects, if each token picks k of E
 * uniformly: 1 - (1 - k/E)^B (planning.md). Real routing is skewed, so this is an upper bound on experts read.
 */
export function expertFractionRead(batch: number, activeExperts: number, experts: number): number {
  return 1 - (1 - activeExperts / experts) ** batch
}

/**
 * Billions of parameters read from memory per decode step of `batch` sequences. Dense: all of them.
 * MoE: the profile's active params at batch 1, plus the extra routed experts a larger batch touches:
 * active + routed x (fraction(B) - k/E), never more than the total.
 */
export function paramsReadPerStepB(model: ModelProfile, batch: number): number {
  if (model.moe === undefined) return model.params.activeB
  const routed = routedExpertParamsB(model)
  const {activeExperts: k, experts: e} = model.moe
  const extra = routed * (expertFractionRead(batch, k, e) - k / e)
  return Math.min(model.params.totalB, model.params.activeB + extra)
}

export type KvLayout = 'gqa' | 'mla'

/** KV cache bytes per token of a model, with the arithmetic behind it. */
export interface KvPerToken {
  layout: KvLayout
  /** Bytes per token for the whole model, one copy (what a single GPU holds at TP 1). */
  bytes: number
  /** The arithmetic, for printing. */
  formula: string
}

/**
 * KV cache bytes per token, whole model, one copy.
 * GQA/MHA: 2 (K and V) x layers x kvHeads x headDim x bytes per element.
 * MLA (DeepSeek V3, Kimi K2): layers x (kvLoraRank + qkRopeHeadDim) x bytes: the cache holds the compressed
 * latent and the rope key, shared by all heads.
 */
export function kvBytesPerToken(model: ModelProfile, bytesPerElement: number): KvPerToken {
  if (model.mla !== undefined) {
    const width = model.mla.kvLoraRank + model.mla.qkRopeHeadDim
    return {
      layout: 'mla',
      bytes: model.layers * width * bytesPerElement,
      formula: `${model.layers} layers x (${model.mla.kvLoraRank} + ${model.mla.qkRopeHeadDim}) x ${bytesPerElement} B`,
    }
  }
  return {
    layout: 'gqa',
    bytes: 2 * model.layers * model.kvHeads * model.headDim * bytesPerElement,
    formula: `2 x ${model.layers} layers x ${model.kvHeads} KV heads x ${model.headDim} x ${bytesPerElement} B`,
  }
}

/**
 * KV bytes per token held by ONE GPU of a TP x PP replica.
 * GQA: each GPU holds max(1, kvHeads / TP) heads of its layers/PP layers (TP > kvHeads replicates heads).
 * MLA: the latent is not split by head, so every TP rank holds all of it for its layers (as vLLM does).
 */
export function kvBytesPerTokenPerGpu(model: ModelProfile, bytesPerElement: number, tp: number, pp = 1): number {
  const layersPerGpu = model.layers / pp
  if (model.mla !== undefined) return layersPerGpu * (model.mla.kvLoraRank + model.mla.qkRopeHeadDim) * bytesPerElement
  const headsPerGpu = Math.max(1, Math.ceil(model.kvHeads / tp))
  return 2 * layersPerGpu * headsPerGpu * model.headDim * bytesPerElement
}

/**
 * Serving features the ceilings model (absent = not used). Named here so the memory and the ceiling
 * arithmetic agree on them:
 * - dataParallelAttention: attention runs data-parallel inside the TP group (SGLang / TensorRT-LLM "DP
 *   attention", common for MLA models): each GPU holds and reads the KV cache of ITS OWN requests only, so a
 *   sequence's KV exists once, not once per TP rank.
 * - tokensPerStep: speculative decoding (MTP, EAGLE, draft models): accepted tokens per sequence per step.
 * - decodeOnly: a decode worker of a disaggregated prefill/decode deployment: prefill runs on other GPUs.
 * FP8 KV cache is the KV precision (formats.ts kvCacheDtypes), concurrency in the thousands is a batch.
 */
export interface ServingFeatures {
  dataParallelAttention?: boolean
  tokensPerStep?: number
  decodeOnly?: boolean
}

/** KV bytes per token read (and held) per sequence over the replica: one copy with DP attention, else replicated per TP rank. */
export function kvReadBytesPerToken(model: ModelProfile, bytesPerElement: number, tp: number, pp: number, features: ServingFeatures = {}): number {
  if (features.dataParallelAttention === true) return kvBytesPerToken(model, bytesPerElement).bytes
  return kvBytesPerTokenReplica(model, bytesPerElement, tp, pp)
}

/** KV bytes per token summed over every GPU of a TP x PP replica (replicated heads counted each time). */
export function kvBytesPerTokenReplica(model: ModelProfile, bytesPerElement: number, tp: number, pp = 1): number {
  return kvBytesPerTokenPerGpu(model, bytesPerElement, tp, pp) * tp * pp
}

/**
 * Tensor-parallel sizes the heads allow. Every TP rank must get whole attention heads, so TP divides the
 * attention heads. GQA KV heads: TP dividing kvHeads splits them (`split`); a TP that is a multiple of kvHeads
 * replicates each KV head on TP/kvHeads GPUs (`replicated`: vLLM accepts it, the KV cache costs TP/kvHeads
 * times more memory). Any other TP is invalid. MLA has no KV heads: only the attention heads constrain TP.
 */
export interface TensorParallelSizes {
  split: number[]
  replicated: number[]
}

export function validTensorParallelSizes(model: ModelProfile): TensorParallelSizes {
  const split: number[] = []
  const replicated: number[] = []
  for (let tp = 1; tp <= model.attentionHeads; tp++) {
    if (model.attentionHeads % tp !== 0) continue
    if (model.mla !== undefined || model.kvHeads % tp === 0) split.push(tp)
    else if (tp % model.kvHeads === 0) replicated.push(tp)
  }
  return {split, replicated}
}

/** Whether a TP size splits KV heads (each GPU holds kvHeads/TP), replicates them (TP > kvHeads) or is invalid. */
export type TpValidity = 'split' | 'replicated' | 'invalid'

export function tensorParallelValidity(model: ModelProfile, tp: number): TpValidity {
  const sizes = validTensorParallelSizes(model)
  if (sizes.split.includes(tp)) return 'split'
  if (sizes.replicated.includes(tp)) return 'replicated'
  return 'invalid'
}

/** Why a TP size is invalid, in words a user can act on. */
export function tensorParallelProblem(model: ModelProfile, tp: number): string | undefined {
  if (model.attentionHeads % tp !== 0) return `TP ${tp} does not divide ${model.attentionHeads} attention heads`
  if (model.mla === undefined && model.kvHeads % tp !== 0 && tp % model.kvHeads !== 0) {
    return `TP ${tp} neither divides ${model.kvHeads} KV heads nor is a multiple of them`
  }
  return undefined
}

/** A way to lay N GPUs out: TP ranks inside a stage, PP pipeline stages (layers split between stages). */
export interface ParallelLayout {
  tp: number
  pp: number
  kv: Exclude<TpValidity, 'invalid'>
}

/** Every TP x PP = gpus with a valid TP and no more stages than layers, smallest PP first. */
export function parallelLayouts(model: ModelProfile, gpus: number): ParallelLayout[] {
  const sizes = validTensorParallelSizes(model)
  const layouts: ParallelLayout[] = []
  for (const tp of [...sizes.split, ...sizes.replicated].sort((a, b) => b - a)) {
    if (gpus % tp !== 0) continue
    const pp = gpus / tp
    if (pp > model.layers) continue
    layouts.push({tp, pp, kv: sizes.split.includes(tp) ? 'split' : 'replicated'})
  }
  return layouts
}

export interface FitInput {
  model: ModelProfile
  bitsPerWeight: number
  kvBytesPerElement: number
  memoryBytesPerGpu: number
  gpus: number
  tp: number
  pp: number
  /** Fraction of each GPU's memory the engine may use (vLLM --gpu-memory-utilization). */
  memoryUtilization: number
  /** Per GPU: activations, CUDA graphs, the CUDA context, allocator slack. */
  overheadBytesPerGpu: number
  /** Tokens of KV one sequence holds at its longest: ISL + OSL. */
  contextTokens: number
  /** Data-parallel attention: a sequence's KV is held once in the replica (ServingFeatures). */
  dataParallelAttention?: boolean
}

export interface Fit {
  weightsBytes: number
  weightsBytesPerGpu: number
  /** gpus x memory x utilization. */
  usableBytes: number
  overheadBytes: number
  /** usable - weights - overhead (negative when the weights do not fit). */
  freeForKvBytes: number
  kvBytesPerTokenPerGpu: number
  kvBytesPerTokenReplica: number
  kvBytesPerSequence: number
  /** Sequences of contextTokens whose KV fits at once (0 when none does). */
  maxSequences: number
  /** KV tokens the free memory holds in all. */
  kvTokenCapacity: number
  weightsFit: boolean
  /** Weights fit AND at least one full-context sequence does. */
  fits: boolean
}

/**
 * Memory arithmetic of one replica (planning.md): free = gpus x memory x utilization - weights - overhead;
 * max sequences = floor(free / (KV per token of the replica x context)). Weights are assumed evenly sharded,
 * so the aggregate and the per-GPU view agree.
 */
export function fitReplica(input: FitInput): Fit {
  const weightsBytes = weightBytes(input.model.params.totalB, input.bitsPerWeight)
  const usableBytes = input.gpus * input.memoryBytesPerGpu * input.memoryUtilization
  const overheadBytes = input.gpus * input.overheadBytesPerGpu
  const freeForKvBytes = usableBytes - weightsBytes - overheadBytes
  const dp = input.dataParallelAttention === true
  const replica = dp
    ? kvBytesPerToken(input.model, input.kvBytesPerElement).bytes
    : kvBytesPerTokenPerGpu(input.model, input.kvBytesPerElement, input.tp, input.pp) * input.tp * input.pp
  const perGpu = replica / (input.tp * input.pp)
  const kvBytesPerSequence = replica * input.contextTokens
  const maxSequences = freeForKvBytes > 0 ? Math.floor(freeForKvBytes / kvBytesPerSequence) : 0
  return {
    weightsBytes,
    weightsBytesPerGpu: weightsBytes / input.gpus,
    usableBytes,
    overheadBytes,
    freeForKvBytes,
    kvBytesPerTokenPerGpu: perGpu,
    kvBytesPerTokenReplica: replica,
    kvBytesPerSequence,
    maxSequences,
    kvTokenCapacity: freeForKvBytes > 0 ? Math.floor(freeForKvBytes / replica) : 0,
    weightsFit: freeForKvBytes >= 0,
    fits: maxSequences >= 1,
  }
}

/** Beyond this many GPUs one replica is not a serving configuration capplan plans for. */
export const MAX_GPUS_PER_REPLICA = 256

export interface MinimumGpus {
  /** Fewest GPUs whose memory holds weights + overhead + one full-context sequence (any TP x PP layout). */
  byMemory: number | null
  /** That count's layouts, fewest pipeline stages first. */
  layouts: ParallelLayout[]
  /** Fewest GPUs as ONE tensor-parallel group (PP 1) with a valid TP that fits. */
  tensorParallel: number | null
}

/** Fewest GPUs that hold the model (null if more than MAX_GPUS_PER_REPLICA would be needed). */
export function minimumGpus(base: Omit<FitInput, 'gpus' | 'tp' | 'pp'>): MinimumGpus {
  let byMemory: number | null = null
  let layouts: ParallelLayout[] = []
  for (let gpus = 1; gpus <= MAX_GPUS_PER_REPLICA; gpus++) {
    const candidates = parallelLayouts(base.model, gpus)
    const fitting = candidates.filter((layout) => fitReplica({...base, gpus, ...layout}).fits)
    if (fitting.length > 0) {
      byMemory = gpus
      layouts = fitting.sort((a, b) => a.pp - b.pp)
      break
    }
  }
  const sizes = validTensorParallelSizes(base.model)
  const tensorParallel = [...sizes.split, ...sizes.replicated].sort((a, b) => a - b).find((tp) => fitReplica({...base, gpus: tp, tp, pp: 1}).fits) ?? null
  return {byMemory, layouts, tensorParallel}
}
