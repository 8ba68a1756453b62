import {z} from 'zod'

/**
 * One zod schema per profile kind. Profiles are YAML files under profiles/<kind>s/ (built-in) or a user
 * directory; every file holds one profile. Strict objects: a misspelled field is an error, not ignored.
 */

const id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'ids are lower-case letters, digits, ".", "_" and "-"')

/** A dated, sourced fact: every price and every spec a user might dispute says where it came from. */
const sourced = {
  source: z.string().min(1),
  date: z.string().regex(/^\d{4}-\d{2}(-\d{2})?$/, 'date as YYYY-MM or YYYY-MM-DD'),
  note: z.string().optional(),
}

export const gpuPriceSchema = z.strictObject({usdPerHour: z.number().positive(), ...sourced})
export type GpuPrice = z.infer<typeof gpuPriceSchema>

export const pricingTiers = ['on-demand', 'spot', 'reserved'] as const
export type PricingTier = (typeof pricingTiers)[number]

export const gpuProfileSchema = z.strictObject({
  kind: z.literal('gpu'),
  id,
  name: z.string().min(1),
  vendor: z.enum(['nvidia', 'amd', 'cpu']),
  /** Usable device memory in GB (1e9 bytes); null for the cpu profile (read from the host). */
  memoryGB: z.number().positive().nullable(),
  /** Peak memory bandwidth in TB/s; null when unknown (cpu: measure it or set it). */
  memoryBandwidthTBs: z.number().positive().nullable(),
  /** Dense tensor throughput (sparse figures are 2x and are NOT used). null = not supported/unknown. */
  tflops: z.strictObject({
    fp16: z.number().positive().nullable(),
    fp8: z.number().positive().nullable(),
    int8: z.number().positive().nullable(),
  }),
  tdpWatts: z.number().positive().nullable(),
  /** Names nvidia-smi / rocm-smi report, for auto-detection (matched case-insensitively). */
  deviceNames: z.array(z.string().min(1)),
  confidence: z.enum(['high', 'low']),
  confidenceNote: z.string().optional(),
  specSource: z.string().min(1),
  prices: z.strictObject({
    'on-demand': gpuPriceSchema.nullable(),
    spot: gpuPriceSchema.nullable(),
    reserved: gpuPriceSchema.nullable(),
  }),
})
export type GpuProfile = z.infer<typeof gpuProfileSchema>

export const quantLevels = ['int4', 'int8', 'fp16'] as const
export type QuantLevel = (typeof quantLevels)[number]

/** GGUF tensor formats capplan knows the size of (and, for Q4_0/Q8_0/F16, can synthesize). */
export const ggufFormats = ['Q4_0', 'Q4_K_M', 'Q8_0', 'F16', 'BF16'] as const
export type GgufFormat = (typeof ggufFormats)[number]

export const quantSourceSchema = z.strictObject({
  /** llama.cpp and the embedded engine: a GGUF from a repo, the file pattern picks the quant. */
  llamacpp: z.strictObject({
    repo: z.string().min(1),
    filePattern: z.string().min(1),
    format: z.enum(ggufFormats),
  }),
  /** What `capplan model synth` writes for this level (the closest format it can encode bit-exactly). */
  synthetic: z.enum(['Q4_0', 'Q8_0', 'F16']),
  /** vLLM: a checkpoint and the flags that select the precision. */
  vllm: z.strictObject({
    repo: z.string().min(1),
    quantization: z.string().min(1).nullable(),
    dtype: z.enum(['auto', 'float16', 'bfloat16']),
    /** Effective bits per weight of this checkpoint (group scales included), for memory estimates. */
    bitsPerWeight: z.number().positive(),
  }),
})
export type QuantSource = z.infer<typeof quantSourceSchema>

export const modelProfileSchema = z.strictObject({
  kind: z.literal('model'),
  id,
  name: z.string().min(1),
  /** llama.cpp's architecture name (general.architecture): llama, qwen2, qwen3moe, deepseek2, ... */
  architecture: z.string().min(1),
  hfRepo: z.string().min(1),
  layers: z.number().int().positive(),
  hiddenSize: z.number().int().positive(),
  attentionHeads: z.number().int().positive(),
  kvHeads: z.number().int().positive(),
  headDim: z.number().int().positive(),
  /** Dense FFN width (for MoE: the width of the leading dense layers). */
  ffnSize: z.number().int().positive(),
  vocabSize: z.number().int().positive(),
  contextLength: z.number().int().positive(),
  rmsNormEps: z.number().positive(),
  ropeTheta: z.number().positive(),
  qkvBias: z.boolean(),
  tiedEmbeddings: z.boolean(),
  params: z.strictObject({
    /** Billions of parameters stored (must fit in memory). */
    totalB: z.number().positive(),
    /** Billions of parameters read per token (MoE: shared + routed experts in use). */
    activeB: z.number().positive(),
  }),
  moe: z
    .strictObject({
      experts: z.number().int().positive(),
      activeExperts: z.number().int().positive(),
      expertFfnSize: z.number().int().positive(),
      sharedExperts: z.number().int().nonnegative(),
      /** Leading layers that use a dense FFN instead of experts (DeepSeek V3: 3). */
      denseLayers: z.number().int().nonnegative(),
    })
    .optional(),
  /** Multi-head latent attention (DeepSeek V3, Kimi K2): KV cache holds the compressed latent. */
  mla: z
    .strictObject({
      kvLoraRank: z.number().int().positive(),
      qLoraRank: z.number().int().positive().nullable(),
      qkRopeHeadDim: z.number().int().positive(),
      qkNopeHeadDim: z.number().int().positive(),
      vHeadDim: z.number().int().positive(),
    })
    .optional(),
  specSource: z.string().min(1),
  quants: z.strictObject({int4: quantSourceSchema, int8: quantSourceSchema, fp16: quantSourceSchema}),
})
export type ModelProfile = z.infer<typeof modelProfileSchema>

const perMillion = z.number().nonnegative()

export const apiPriceSchema = z.strictObject({
  /** $ per 1M input tokens (cache miss). */
  inputPerMTok: perMillion,
  /** $ per 1M output tokens. */
  outputPerMTok: perMillion,
  cachedInputPerMTok: perMillion.optional(),
  ...sourced,
})
export type ApiPrice = z.infer<typeof apiPriceSchema>

export const apiProfileSchema = z.strictObject({
  kind: z.literal('api'),
  id,
  name: z.string().min(1),
  provider: z.string().min(1),
  /** Open-weight model served through an API (DeepSeek, Kimi, Qwen) vs closed. */
  openWeights: z.boolean(),
  price: apiPriceSchema,
  /**
   * Other quoted prices kept so published tables can be reproduced (e.g. a seed article's figure).
   * Selected as `<api-id>@<variant-id>` wherever an API id is accepted.
   */
  variants: z
    .array(
      z.strictObject({
        id,
        inputPerMTok: perMillion,
        outputPerMTok: perMillion,
        ...sourced,
      }),
    )
    .default([]),
})
export type ApiProfile = z.infer<typeof apiProfileSchema>

export const workloadProfileSchema = z.strictObject({
  kind: z.literal('workload'),
  id,
  name: z.string().min(1),
  description: z.string().min(1),
  inputTokens: z.number().int().positive(),
  outputTokens: z.number().int().positive(),
  /** Latency a user of this workload accepts; report picks the operating point from it. */
  slo: z.strictObject({
    ttftP95Ms: z.number().positive().nullable(),
    tpotP95Ms: z.number().positive().nullable(),
    e2eP95Ms: z.number().positive().nullable(),
  }),
  source: z.string().min(1),
})
export type WorkloadProfile = z.infer<typeof workloadProfileSchema>

export const profileSchemas = {
  gpu: gpuProfileSchema,
  model: modelProfileSchema,
  api: apiProfileSchema,
  workload: workloadProfileSchema,
} as const
export type ProfileKind = keyof typeof profileSchemas
export const profileKinds = Object.keys(profileSchemas) as ProfileKind[]
export type Profile = GpuProfile | ModelProfile | ApiProfile | WorkloadProfile
export type ProfileOfKind<K extends ProfileKind> = z.infer<(typeof profileSchemas)[K]>
