import {z} from 'zod'

/**
 * The `calibration` profile kind: REAL published GPU serving measurements (model, precision, GPU, engine,
 * parallel layout, serving features, concurrency, lengths, output tok/s), each with where it was published.
 * The planner (src/planner) divides each by its roofline ceiling to get an efficiency; the spread of those
 * efficiencies is the prior that turns an ESTIMATED throughput into a range. One file holds the rows of one
 * source (a benchmark run or table); every row names its own run where the source has one.
 */

const id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'ids are lower-case letters, digits, ".", "_" and "-"')
const date = z.string().regex(/^\d{4}-\d{2}(-\d{2})?$/, 'date as YYYY-MM or YYYY-MM-DD')
const positiveInt = z.number().int().positive()

/** Where the figures were published: a page, or a file in a repository at a commit. */
export const calibrationSourceSchema = z.strictObject({
  /** The page or the file's address (https://...). */
  url: z.string().url(),
  repo: z.string().min(1).optional(),
  path: z.string().min(1).optional(),
  commit: z
    .string()
    .regex(/^[0-9a-f]{40}$/, 'a full 40-hex-digit commit')
    .optional(),
  /** When the source was read (the rows carry the date they were measured). */
  read: date,
  note: z.string().optional(),
})

/** Serving features the ceiling must know about to judge a row (absent = not used). */
export const calibrationServingSchema = z.strictObject({
  /** Data-parallel attention: each GPU of a TP group holds the KV cache of its own requests only (SGLang/TRT-LLM for MLA models). */
  dataParallelAttention: z.boolean().optional(),
  /** Expert-parallel size (MoE experts spread over this many GPUs); informational: the bytes read are the same. */
  expertParallel: positiveInt.optional(),
  /** KV cache precision, when the source says. */
  kvCache: z.enum(['fp16', 'bf16', 'fp8', 'q8_0']).optional(),
  /** Speculative decoding: method and accepted tokens per sequence per step when the source says. */
  speculative: z.strictObject({method: z.string().min(1), tokensPerStep: z.number().min(1).optional()}).optional(),
  /** Disaggregated prefill/decode: the figure is the DECODE workers' (prefill runs on other GPUs). */
  disaggregated: z
    .strictObject({
      prefillGpus: positiveInt,
      decodeGpus: positiveInt,
      /** Decode workers (replicas) sharing the concurrency; each has decodeGpus / decodeWorkers GPUs. */
      decodeWorkers: positiveInt,
    })
    .optional(),
})
export type CalibrationServing = z.infer<typeof calibrationServingSchema>

export const calibrationMeasurementSchema = z.strictObject({
  /** Unique within the file, e.g. "h200-trt-1k1k-c16". */
  id,
  /** The model profile whose architecture the ceiling uses (profiles/models). */
  model: id,
  /** The exact model measured when it is not the profile's (e.g. DeepSeek-R1 on the deepseek-v3 architecture). */
  measuredModel: z.string().min(1).optional(),
  /** Weight format as capplan names it (fp8, bf16, awq, q4_k_m, ...: src/roofline/formats.ts). */
  weightFormat: z.string().min(1),
  /** GPU profile (profiles/gpus). */
  gpu: id,
  /** Engine as the source names it: trt-llm, sglang, vllm, dynamo-trt, dynamo-sglang, ... */
  engine: z.string().min(1),
  /** Engine image or version, when published. */
  engineVersion: z.string().min(1).optional(),
  /** Tensor x pipeline parallel of ONE replica (for a disaggregated row: of one decode worker). */
  tp: positiveInt,
  pp: positiveInt.default(1),
  serving: calibrationServingSchema.default({}),
  /**
   * Requests in flight in the whole measured system (all replicas / decode workers together): the batch,
   * unless the row says `offline` or `littlesLaw` (then the batch is derived, see there).
   */
  concurrency: positiveInt.optional(),
  /**
   * An offline run (all requests queued at once, the engine batches what fits): the batch is what the KV
   * cache holds, min(maxBatch, kvMemoryFraction x (GPU memory - weights - overhead) / (KV per token x
   * (ISL + OSL / 2))) (src/planner/calibration.ts offlineBatch).
   */
  offline: z.strictObject({maxBatch: positiveInt, kvMemoryFraction: z.number().gt(0).max(1)}).optional(),
  /**
   * A request-rate run (or a concurrency run whose server queued): the batch is the sequences in service by
   * Little's law, request rate (output tok/s / OSL) x (unqueued TTFT + mean ITL x (OSL - 1)).
   */
  littlesLaw: z.strictObject({meanItlMs: z.number().positive(), unqueuedTtftMs: z.number().positive()}).optional(),
  inputTokens: positiveInt,
  outputTokens: positiveInt,
  /** Output tokens/s per GPU as published (or outputTokensPerSecond: the whole run's, as published). */
  outputTokensPerSecondPerGpu: z.number().positive().optional(),
  outputTokensPerSecond: z.number().positive().optional(),
  /** Which GPUs the per-GPU figure divides by: every GPU of the run, or the decode GPUs (disaggregated). */
  perGpuOf: z.enum(['all', 'decode']).default('all'),
  medianTpotMs: z.number().positive().optional(),
  medianTtftMs: z.number().positive().optional(),
  meanTtftMs: z.number().positive().optional(),
  meanItlMs: z.number().positive().optional(),
  /** The request rate the load generator offered, as published ("inf" = all at once). */
  requestRate: z.union([z.number().positive(), z.literal('inf')]).optional(),
  /** When the row was measured. */
  date,
  /** The run that produced the row (CI job, log), when the source links one. */
  run: z.string().url().optional(),
})
export type CalibrationMeasurement = z.infer<typeof calibrationMeasurementSchema>

/**
 * `defaults`: fields every row of the file shares (model, GPU, engine, date, ...), written once; a row's own
 * fields win. Merged before validation, so a row is checked as if it said them itself.
 */
function withDefaults(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || !('defaults' in input)) return input
  const {defaults, measurements, ...rest} = input as {defaults: unknown; measurements: unknown}
  if (typeof defaults !== 'object' || defaults === null || Array.isArray(defaults) || !Array.isArray(measurements)) return input
  return {...rest, measurements: measurements.map((row: unknown) => (typeof row === 'object' && row !== null && !Array.isArray(row) ? {...defaults, ...row} : row))}
}

export const calibrationProfileSchema = z.preprocess(
  withDefaults,
  z
  .strictObject({
    kind: z.literal('calibration'),
    id,
    name: z.string().min(1),
    source: calibrationSourceSchema,
    measurements: z.array(calibrationMeasurementSchema).min(1),
  })
  .superRefine((profile, ctx) => {
    const seen = new Set<string>()
    profile.measurements.forEach((row, index) => {
      if (seen.has(row.id)) ctx.addIssue({code: 'custom', path: ['measurements', index, 'id'], message: `duplicate measurement id "${row.id}"`})
      seen.add(row.id)
      const bases = [row.concurrency !== undefined && row.littlesLaw === undefined, row.offline !== undefined, row.littlesLaw !== undefined].filter(Boolean).length
      if (bases !== 1 || (row.offline !== undefined && row.concurrency !== undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: ['measurements', index, 'concurrency'],
          message: 'give the batch one way: concurrency, offline {maxBatch, kvMemoryFraction} or littlesLaw {meanItlMs, unqueuedTtftMs}',
        })
      }
      if ((row.outputTokensPerSecondPerGpu === undefined) === (row.outputTokensPerSecond === undefined)) {
        ctx.addIssue({code: 'custom', path: ['measurements', index, 'outputTokensPerSecondPerGpu'], message: 'give one of outputTokensPerSecondPerGpu and outputTokensPerSecond'})
      }
      const disagg = row.serving.disaggregated
      if (disagg !== undefined && (row.offline !== undefined || row.littlesLaw !== undefined)) {
        ctx.addIssue({code: 'custom', path: ['measurements', index, 'serving', 'disaggregated'], message: 'a disaggregated row gives its concurrency'})
      }
      if (disagg !== undefined && row.perGpuOf !== 'decode') {
        ctx.addIssue({code: 'custom', path: ['measurements', index, 'perGpuOf'], message: 'a disaggregated row gives the decode GPUs\' figure: perGpuOf must be "decode"'})
      }
      if (disagg === undefined && row.perGpuOf === 'decode') {
        ctx.addIssue({code: 'custom', path: ['measurements', index, 'perGpuOf'], message: '"decode" needs serving.disaggregated (prefill and decode GPUs)'})
      }
      if (disagg !== undefined && disagg.decodeGpus !== disagg.decodeWorkers * row.tp * row.pp) {
        ctx.addIssue({
          code: 'custom',
          path: ['measurements', index, 'serving', 'disaggregated', 'decodeGpus'],
          message: `${disagg.decodeGpus} decode GPUs is not ${disagg.decodeWorkers} workers x TP ${row.tp} x PP ${row.pp}`,
        })
      }
    })
  }),
)
export type CalibrationProfile = z.infer<typeof calibrationProfileSchema>
