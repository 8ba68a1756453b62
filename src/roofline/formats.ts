import {invalidInput} from '../lib/errors.js'
import type {GgufFormat, ModelProfile, QuantLevel} from '../profiles/schema.js'

/**
 * Effective bits per weight of each weight format, scales and zero points included. These are what a
 * checkpoint really occupies: a "4-bit" GGUF is not 4 bits per weight. Source: capplan reference
 * planning.md (2026-11), derived from the block layouts below. Real files keep a few small tensors (norms,
 * sometimes embeddings) at higher precision; that is ignored here (< 1% for models above 7B).
 */
export const weightFormatIds = ['fp16', 'bf16', 'fp8', 'q8_0', 'gptq-int8', 'q4_k_m', 'q4_0', 'awq', 'gptq'] as const
export type WeightFormatId = (typeof weightFormatIds)[number]

/** Which tensor-core peak a format's matrix multiplies run at (weight-only quants dequantize to fp16). */
export type ComputeDtype = 'fp16' | 'fp8' | 'int8'

export interface WeightFormatSpec {
  id: WeightFormatId
  label: string
  quant: QuantLevel
  bitsPerWeight: number
  computeDtype: ComputeDtype
  source: string
}

export const weightFormats: Record<WeightFormatId, WeightFormatSpec> = {
  fp16: {id: 'fp16', label: 'FP16', quant: 'fp16', bitsPerWeight: 16, computeDtype: 'fp16', source: '2 bytes per weight'},
  bf16: {id: 'bf16', label: 'BF16', quant: 'fp16', bitsPerWeight: 16, computeDtype: 'fp16', source: '2 bytes per weight'},
  fp8: {id: 'fp8', label: 'FP8', quant: 'int8', bitsPerWeight: 8, computeDtype: 'fp8', source: '1 byte per weight; per-tensor/block scales are negligible'},
  q8_0: {id: 'q8_0', label: 'Q8_0', quant: 'int8', bitsPerWeight: 8.5, computeDtype: 'fp16', source: 'ggml block: 32 int8 + one fp16 scale = 34 bytes / 32 weights'},
  'gptq-int8': {
    id: 'gptq-int8',
    label: 'GPTQ INT8 (g128)',
    quant: 'int8',
    bitsPerWeight: 8.25,
    computeDtype: 'fp16',
    source: 'planning.md: ~8.25 (8 bits + fp16 scale and packed zero per group of 128)',
  },
  q4_k_m: {
    id: 'q4_k_m',
    label: 'Q4_K_M',
    quant: 'int4',
    bitsPerWeight: 4.85,
    computeDtype: 'fp16',
    source: 'planning.md: ~4.85 average (Q4_K 4.5 bits, with some tensors kept at Q6_K 6.56 bits)',
  },
  q4_0: {id: 'q4_0', label: 'Q4_0', quant: 'int4', bitsPerWeight: 4.5, computeDtype: 'fp16', source: 'ggml block: 32 x 4 bits + one fp16 scale = 18 bytes / 32 weights'},
  awq: {
    id: 'awq',
    label: 'AWQ 4-bit (g128)',
    quant: 'int4',
    bitsPerWeight: 4.25,
    computeDtype: 'fp16',
    source: 'planning.md: ~4.25 (4 bits + fp16 scale and 4-bit zero per group of 128)',
  },
  gptq: {
    id: 'gptq',
    label: 'GPTQ 4-bit (g128)',
    quant: 'int4',
    bitsPerWeight: 4.25,
    computeDtype: 'fp16',
    source: 'planning.md: ~4.25 (4 bits + fp16 scale and packed zero per group of 128)',
  },
}

/** What the `--format` flag accepts: a concrete format, or which of the model profile's checkpoints to use. */
export const formatChoices = ['gguf', 'vllm', ...weightFormatIds] as const
export type FormatChoice = (typeof formatChoices)[number]

/** The weight format a calculation uses: where its bits per weight came from travels with it. */
export interface ResolvedFormat {
  label: string
  quant: QuantLevel
  bitsPerWeight: number
  computeDtype: ComputeDtype
  source: string
}

const ggufFormatIds: Record<GgufFormat, WeightFormatId> = {Q4_0: 'q4_0', Q4_K_M: 'q4_k_m', Q8_0: 'q8_0', F16: 'fp16', BF16: 'bf16'}

function fromSpec(spec: WeightFormatSpec): ResolvedFormat {
  return {label: spec.label, quant: spec.quant, bitsPerWeight: spec.bitsPerWeight, computeDtype: spec.computeDtype, source: spec.source}
}

/**
 * The format to compute with. `gguf` (default) = the llama.cpp file of the model profile at that quant level;
 * `vllm` = the profile's vLLM checkpoint (its bitsPerWeight); any other choice is that format, which must be
 * of the quant level asked for (an 8-bit format with --quant int4 is a contradiction, not a guess to make).
 */
export function resolveFormat(model: ModelProfile, quant: QuantLevel | undefined, choice: FormatChoice = 'gguf'): ResolvedFormat {
  if (choice !== 'gguf' && choice !== 'vllm') {
    const spec = weightFormats[choice]
    if (quant !== undefined && spec.quant !== quant) {
      throw invalidInput(
        `--format ${choice} is an ${spec.quant} format (${spec.bitsPerWeight} bits per weight) but --quant is ${quant}.`,
        `Drop --quant, or pick a ${quant} format: ${weightFormatIds.filter((id) => weightFormats[id].quant === quant).join(', ')}.`,
      )
    }
    return fromSpec(spec)
  }
  if (quant === undefined) {
    throw invalidInput(`--format ${choice} needs --quant to pick the checkpoint of ${model.id}.`, `Add --quant int4, int8 or fp16.`)
  }
  const source = model.quants[quant]
  if (choice === 'gguf') {
    const spec = weightFormats[ggufFormatIds[source.llamacpp.format]]
    return {...fromSpec(spec), source: `${model.id} ${quant} GGUF (${source.llamacpp.repo}): ${spec.source}`}
  }
  const vllm = source.vllm
  const label = vllm.quantization === null ? vllm.dtype.toUpperCase() : vllm.quantization.replace(/_marlin$/, '').toUpperCase()
  return {
    label: `vLLM ${label}`,
    quant,
    bitsPerWeight: vllm.bitsPerWeight,
    computeDtype: vllm.quantization === 'fp8' ? 'fp8' : 'fp16',
    source: `${model.id} ${quant} vLLM checkpoint ${vllm.repo}: bitsPerWeight ${vllm.bitsPerWeight} from the model profile`,
  }
}

/**
 * A format name as a result file records it (model.format: "Q4_K_M", "AWQ", "GPTQ-Int4", "BF16", "FP8", ...)
 * -> its spec, or undefined when capplan does not know its size.
 */
export function formatFromName(name: string): ResolvedFormat | undefined {
  const key = name
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, '_')
  const aliases: Record<string, WeightFormatId> = {
    f16: 'fp16',
    fp16: 'fp16',
    float16: 'fp16',
    bf16: 'bf16',
    bfloat16: 'bf16',
    fp8: 'fp8',
    q8_0: 'q8_0',
    'gptq-int8': 'gptq-int8',
    gptq_int8: 'gptq-int8',
    q4_k_m: 'q4_k_m',
    q4_0: 'q4_0',
    awq: 'awq',
    awq_marlin: 'awq',
    gptq: 'gptq',
    'gptq-int4': 'gptq',
    gptq_int4: 'gptq',
    gptq_marlin: 'gptq',
  }
  const id = aliases[key]
  return id === undefined ? undefined : fromSpec(weightFormats[id])
}

/** Bytes of the KV cache per element by cache precision (q8_0: ggml block of 32 int8 + fp16 scale). */
export const kvCacheDtypes = ['fp16', 'bf16', 'fp8', 'q8_0'] as const
export type KvCacheDtype = (typeof kvCacheDtypes)[number]
export const kvCacheBytesPerElement: Record<KvCacheDtype, number> = {fp16: 2, bf16: 2, fp8: 1, q8_0: 34 / 32}
