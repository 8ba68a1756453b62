import {z} from 'zod'

import {calibrationProfileSchema, type CalibrationProfile} from './calibration-schema.js'

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

/** Buying the GPU instead of renting it: street price per GPU, how long it earns, what it sells for after. */
export const gpuPurchaseSchema = z.strictObject({
  /** $ per GPU, the server share included where the source says (chassis, CPUs, network per GPU). */
  usdPerGpu: z.number().positive(),
  usefulLifeYears: z.number().positive(),
  /** Resale value at the end of the life as a fraction of the purchase price, [0, 1). */
  residualFraction: z.number().min(0).lt(1),
  ...sourced,
})
export type GpuPurchase = z.infer<typeof gpuPurchaseSchema>

/** Power one GPU draws (the board's share of the server's draw where the source says). */
export const gpuPowerSchema = z.strictObject({
  idleWatts: z.number().nonnegative(),
  busyWatts: z.number().positive(),
  ...sourced,
})
export type GpuPower = z.infer<typeof gpuPowerSchema>

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
  /** Owning: purchase price, useful life, residual value (absent: the GPU cannot be priced as owned). */
  purchase: gpuPurchaseSchema.optional(),
  /** Measured or published power when idle and busy (absent: TDP is the busy figure, idle unknown). */
  power: gpuPowerSchema.optional(),
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

/**
 * One benchmark score with the table it came from. `harness` names that table (e.g. "deepseek-v3-report"):
 * scores are compared only within one harness, because vendors' harnesses, prompts and output caps differ.
 */
export const benchmarkScoreSchema = z.strictObject({
  /** Benchmark id, lower-case: mmlu, mmlu-pro, gpqa-diamond, humaneval, livecodebench, swe-bench-verified, math-500, arena-hard, ... */
  benchmark: id,
  value: z.number(),
  harness: id,
  /** The model version the table measured, when it is not the profile's exact model (e.g. "DeepSeek-V3-0324"). */
  measured: z.string().optional(),
  ...sourced,
})
export type BenchmarkScore = z.infer<typeof benchmarkScoreSchema>

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
  /** Published benchmark scores of the full-precision model, each with its harness and source. */
  scores: z.array(benchmarkScoreSchema).default([]),
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
  /**
   * The model profile this API serves (its "hosted twin"): the same open weights, so the comparison with a
   * self-hosted run of that model is like for like. Absent for closed models.
   */
  servesModel: id.optional(),
  /** When the provider serves a successor of the same architecture (e.g. Llama 3.3 70B for 3.1 70B), say which. */
  servedVersion: z.string().optional(),
  /** Weight precision the provider serves, where it says: bf16, fp8, fp4, int8, int4; absent = not published. */
  precision: z.enum(['bf16', 'fp16', 'fp8', 'fp4', 'int8', 'int4', 'mixed']).optional(),
  /** A retired model or endpoint: kept so published tables (the seeds) can be reproduced; never picked by default. */
  retired: z.strictObject({date: sourced.date, note: z.string().min(1)}).optional(),
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
        cachedInputPerMTok: perMillion.optional(),
        ...sourced,
      }),
    )
    .default([]),
  /** Scores of the model behind the API (closed models: their own; twins: usually the model profile's). */
  scores: z.array(benchmarkScoreSchema).default([]),
})
export type ApiProfile = z.infer<typeof apiProfileSchema>

/** A length distribution in a workload profile: the result file's, without the histogram (a file of its own). */
const profileLengthDistSchema = z.discriminatedUnion('kind', [
  z.strictObject({kind: z.literal('fixed'), tokens: z.number().int().positive()}),
  z.strictObject({kind: z.literal('uniform'), min: z.number().int().positive(), max: z.number().int().positive()}),
  z.strictObject({
    kind: z.enum(['normal', 'lognormal']),
    mean: z.number().positive(),
    stdev: z.number().nonnegative(),
    min: z.number().int().positive(),
    max: z.number().int().positive(),
  }),
])

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
  /**
   * Optional: the traffic's shape (shared prefix, multi-turn sessions, length distributions), as bench's
   * --prefix-tokens / --prefix-groups / --turns / --think-time / --input-dist / --output-dist set it; a
   * flag given wins over its field here. Absent = the control (unique prompts of inputTokens).
   */
  shape: z
    .strictObject({
      prefixTokens: z.number().int().positive().optional(),
      prefixGroups: z.number().int().positive().optional(),
      turns: z.number().int().positive().optional(),
      thinkTimeMs: z.number().nonnegative().optional(),
      inputDist: profileLengthDistSchema.optional(),
      outputDist: profileLengthDistSchema.optional(),
    })
    .optional(),
  source: z.string().min(1),
})
export type WorkloadProfile = z.infer<typeof workloadProfileSchema>

/** Model size classes a quantization's loss is given for (small models lose more). */
export const sizeClasses = ['under-3b', '3b-15b', '15b-100b', 'over-100b', 'any'] as const
export type SizeClass = (typeof sizeClasses)[number]

/**
 * The quality a weight format loses against 16-bit weights, per model size class, from one source each.
 * `lossPct` is the relative drop of `metric` (positive = worse): perplexity increase in %, or the drop of a
 * benchmark average in % of the 16-bit score.
 */
export const quantLossProfileSchema = z.strictObject({
  kind: z.literal('quant-loss'),
  id,
  /** The weight format: Q8_0, Q4_K_M, Q4_0, AWQ-INT4, GPTQ-INT4, GPTQ-INT8, FP8, INT8-W8A8, ... */
  format: z.string().min(1),
  /** The quant level it is one of (what `--quant` says). */
  quant: z.enum(quantLevels),
  entries: z
    .array(
      z.strictObject({
        sizeClass: z.enum(sizeClasses),
        /** Relative loss in %, e.g. 2.8 for "+2.8% perplexity"; 0 = no measurable loss. */
        lossPct: z.number(),
        metric: z.string().min(1),
        /** The model(s) measured, e.g. "Llama-3-8B". */
        measuredOn: z.string().min(1),
        ...sourced,
      }),
    )
    .min(1),
})
export type QuantLossProfile = z.infer<typeof quantLossProfileSchema>

export const profileSchemas = {
  gpu: gpuProfileSchema,
  model: modelProfileSchema,
  api: apiProfileSchema,
  workload: workloadProfileSchema,
  'quant-loss': quantLossProfileSchema,
  calibration: calibrationProfileSchema,
} as const
export type ProfileKind = keyof typeof profileSchemas
export const profileKinds = Object.keys(profileSchemas) as ProfileKind[]
export type Profile = GpuProfile | ModelProfile | ApiProfile | WorkloadProfile | QuantLossProfile | CalibrationProfile
export type {CalibrationProfile}
export type ProfileOfKind<K extends ProfileKind> = z.infer<(typeof profileSchemas)[K]>
