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
  /** Requests in flight in the whole measured system (all replicas / decode workers together). */
  concurrency: positiveInt,
  inputTokens: positiveInt,
  outputTokens: positiveInt,
  /** Output tokens/s per GPU as published. */
  outputTokensPerSecondPerGpu: z.number().positive(),
  /** Which GPUs the per-GPU figure divides by: every GPU of the run, or the decode GPUs (disaggregated). */
  perGpuOf: z.enum(['all', 'decode']).default('all'),
  medianTpotMs: z.number().positive().optional(),
  medianTtftMs: z.number().positive().optional(),
  /** When the row was measured. */
  date,
  /** The run that produced the row (CI job, log), when the source links one. */
  run: z.string().url().optional(),
})
export type CalibrationMeasurement = z.infer<typeof calibrationMeasurementSchema>

export const calibrationProfileSchema = z
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
      const disagg = row.serving.disaggregated
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
  })
export type CalibrationProfile = z.infer<typeof calibrationProfileSchema>
