import {z} from 'zod'

import {quantLevels} from '../profiles/schema.js'
import {clientHealthSchema} from './client-health.js'
import {reportedLatencySchema} from './reported-latency.js'
import {servingRecordSchema} from './serving.js'
import {levelCacheSchema, requestSessionSchema, workloadShapeSchema} from './workload-shape.js'

/**
 * THE result file (schemaVersion 3): the authoritative record of one `capplan bench` run.
 * `bench` writes it, `report` / `compare` read it; nothing else passes between them.
 *
 * Conventions:
 * - Times named `...Ms` inside a run are MONOTONIC milliseconds (performance.now), relative to the run's t0
 *   (window, request startMs) or to the request's start (chunkOffsetsMs, ttftMs, e2eMs). Wall-clock time
 *   appears only as ISO strings (createdAt, finishedAt). Never mix the two.
 * - Request-level samples are kept in full: `compare` runs significance tests on them.
 * - Objects are strict: a misspelled or unknown field is an error, not silently dropped. A file written by
 *   a newer capplan carries a newer schemaVersion and is refused with a clear message (see read.ts).
 * - Versions: 3 adds optional records (the workload's shape, per-request prompt-cache hits and sessions, per-level
 *   cache evidence and the client's own health); a field absent means what version 2 meant (fixed lengths,
 *   unique prompts, nothing recorded). 2 records the command as an argv array; 1 (one shell-quoted string).
 *   Both are still read and upgraded as they are read (upgrade.ts), so every reader sees version 3 only.
 */

export const RESULT_SCHEMA_VERSION = 3 as const
/** Versions this capplan can read (older ones are upgraded in memory by upgrade.ts). */
export const readableSchemaVersions = [1, 2, RESULT_SCHEMA_VERSION] as const

const nonNegInt = z.number().int().nonnegative()
const nonNeg = z.number().nonnegative()
const finite = z.number().finite()

/**
 * An array of finite numbers >= 0 (integers if `integers`), checked in one plain loop: zod's per-element
 * checks cost ~1 us per number, and a result file holds one number per streamed chunk (hundreds of thousands),
 * which made validation ~15x slower than JSON.parse. The error names the first bad index.
 */
function nonNegativeNumberArray(integers: boolean) {
  const what = integers ? 'non-negative integers' : 'non-negative finite numbers'
  return z.custom<number[]>().superRefine((value, ctx) => {
    if (!Array.isArray(value)) {
      ctx.addIssue({code: 'custom', message: `expected an array of ${what}, received ${value === null ? 'null' : typeof value}`, continue: false})
      return
    }
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      if (typeof item !== 'number' || !(item >= 0) || item === Number.POSITIVE_INFINITY || (integers && !Number.isInteger(item))) {
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message: `expected ${what}, received ${typeof item === 'number' ? String(item) : (JSON.stringify(item) ?? typeof item)}`,
          continue: false, // the request-level checks below assume a valid array
        })
        return
      }
    }
  })
}

// ---------------------------------------------------------------------------------------------- host

export const gpuDeviceSchema = z.strictObject({
  vendor: z.string(),
  model: z.string(),
  /** Device memory in MiB; null when the driver does not say. */
  vramMiB: nonNegInt.nullable(),
  driver: z.string().nullable(),
})
export type GpuDevice = z.infer<typeof gpuDeviceSchema>

export const hostSnapshotSchema = z.strictObject({
  hostname: z.string(),
  cpu: z.strictObject({
    model: z.string(),
    physicalCores: z.number().int().positive(),
    logicalCores: z.number().int().positive(),
  }),
  /** Total physical memory in bytes. */
  memoryBytes: nonNegInt,
  os: z.strictObject({
    /** Node's process.platform: linux, darwin, win32. */
    platform: z.string(),
    /** Distribution name, e.g. "Debian GNU/Linux". */
    distro: z.string(),
    /** Distribution release, e.g. "12". */
    release: z.string(),
    /** Kernel version, e.g. "6.1.0-18-amd64". */
    kernel: z.string(),
    arch: z.string(),
  }),
  node: z.strictObject({version: z.string()}),
  gpus: z.array(gpuDeviceSchema),
})
export type HostSnapshot = z.infer<typeof hostSnapshotSchema>

// -------------------------------------------------------------------------------------- engine, model

export const engineKinds = ['embedded', 'llamacpp', 'vllm', 'openai'] as const
export type EngineKind = (typeof engineKinds)[number]

export const engineInfoSchema = z.strictObject({
  kind: z.enum(engineKinds),
  /** Version of the engine software: node-llama-cpp's for embedded, llama-server's, vLLM's; null if unknown. */
  version: z.string().nullable(),
  /** Build of the inference core, e.g. llama.cpp release tag "b6845"; null if unknown. */
  build: z.string().nullable(),
  /** Compute backend: cpu, cuda, vulkan, metal, rocm, ... */
  backend: z.string(),
  /** CPU threads the engine was told to use; null when it chose itself / does not apply. */
  threads: z.number().int().positive().nullable(),
  /** GPUs one replica uses (tensor x pipeline parallel); 0 = CPU only. The cost model multiplies by this. */
  gpuCount: nonNegInt,
  /** Engine command line / options (secrets redacted). Empty for the embedded engine if none. */
  args: z.array(z.string()),
  /** Base URL of the server measured; null for the embedded engine. */
  endpoint: z.string().nullable(),
})
export type EngineInfo = z.infer<typeof engineInfoSchema>

export const modelInfoSchema = z.strictObject({
  /** Model profile id (profiles/models). */
  profile: z.string().min(1),
  quant: z.enum(quantLevels),
  /** Weight format actually loaded: Q4_0, Q4_K_M, Q8_0, F16 (GGUF) or AWQ, GPTQ-Int4, BF16, ... (vLLM). */
  format: z.string().min(1),
  /** Local file loaded (GGUF); null when the engine loaded from a repo or remotely. */
  file: z.string().nullable(),
  /** Hugging Face repo of the checkpoint; null for a local or synthetic file. */
  repo: z.string().nullable(),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'sha256 as 64 lower-case hex digits')
    .nullable(),
  bytes: nonNegInt.nullable(),
  /** Billions of parameters stored. */
  paramsB: z.number().positive(),
  /** Random weights of the real architecture (throughput is faithful, output text is not). */
  synthetic: z.boolean(),
})
export type ModelInfo = z.infer<typeof modelInfoSchema>

export const promptSources = ['synthetic-token-ids', 'dataset'] as const
export type PromptSource = (typeof promptSources)[number]

export const workloadInfoSchema = z.strictObject({
  /** Workload profile id, null when lengths came from flags only. */
  profile: z.string().nullable(),
  /** Requested prompt length per request (tokens). */
  inputTokens: z.number().int().positive(),
  /** Requested output length per request (tokens). */
  outputTokens: z.number().int().positive(),
  promptSource: z.enum(promptSources),
  /** Dataset file (JSONL) when promptSource is 'dataset'. */
  dataset: z.string().nullable(),
  seed: z.number().int(),
  /** Output length fixed by ignoring EOS (true for every synthetic-prompt run). */
  ignoreEos: z.boolean(),
  /** v3: shared prefixes, sessions, distributions, arrivals, prompt cache; absent = the version 2 control. */
  shape: workloadShapeSchema.optional(),
})
export type WorkloadInfo = z.infer<typeof workloadInfoSchema>

// --------------------------------------------------------------------------------------------- requests

export const requestErrorKinds = ['http', 'stream-error', 'timeout', 'dropped', 'engine', 'token-mismatch'] as const
export type RequestErrorKind = (typeof requestErrorKinds)[number]

export const requestErrorSchema = z.strictObject({kind: z.enum(requestErrorKinds), message: z.string()})
export type RequestError = z.infer<typeof requestErrorSchema>

export const requestRecordSchema = z
  .strictObject({
    /** Order in which the level issued the request (0-based, warmup excluded). */
    index: nonNegInt,
    /** When the request was sent, monotonic ms relative to the run's t0. */
    startMs: finite,
    /** Request sent -> first content event; null when none arrived. */
    ttftMs: nonNeg.nullable(),
    /** Request sent -> last content event; null when none arrived. */
    e2eMs: nonNeg.nullable(),
    /** Prompt tokens (as sent / as the engine reported). */
    inputTokens: nonNegInt,
    /** Output tokens the server/engine reported (usage.completion_tokens, tokens_predicted). */
    outputTokens: nonNegInt,
    /** Output tokens seen in the stream (sum of chunkTokens, or the chunk count). */
    countedTokens: nonNegInt,
    /** Each content event's time, ms relative to this request's start (non-decreasing). */
    chunkOffsetsMs: nonNegativeNumberArray(false),
    /** Tokens carried by each content event (same length as chunkOffsetsMs); null when every chunk is 1 token. */
    chunkTokens: nonNegativeNumberArray(true).nullable(),
    /** null = succeeded. A failed request is excluded from latency statistics and counted by kind. */
    error: requestErrorSchema.nullable(),
    /** v3: prompt tokens the server served from its cache, as it said (null = it did not say); absent = not recorded. */
    cachedTokens: nonNegInt.nullable().optional(),
    /** v3: the conversation and turn of a multi-turn workload; absent = not part of a session. */
    session: requestSessionSchema.optional(),
  })
  .superRefine((request, ctx) => {
    if (request.chunkTokens !== null && request.chunkTokens.length !== request.chunkOffsetsMs.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['chunkTokens'],
        message: `has ${request.chunkTokens.length} entries but chunkOffsetsMs has ${request.chunkOffsetsMs.length}`,
      })
    }
    for (let i = 1; i < request.chunkOffsetsMs.length; i++) {
      if (request.chunkOffsetsMs[i]! < request.chunkOffsetsMs[i - 1]!) {
        ctx.addIssue({code: 'custom', path: ['chunkOffsetsMs', i], message: 'offsets must be non-decreasing'})
        break
      }
    }
  })
export type RequestRecord = z.infer<typeof requestRecordSchema>

// --------------------------------------------------------------------------------------------- summary

/**
 * A distribution of samples. Percentiles use linear interpolation between closest ranks (numpy's default,
 * "type 7"); see src/stats/distribution.ts. null instead of a Distribution means "no samples".
 */
export const distributionSchema = z.strictObject({
  count: z.number().int().positive(),
  mean: finite,
  /** Sample standard deviation (n - 1); 0 for a single sample. */
  stdev: nonNeg,
  min: finite,
  p50: finite,
  p90: finite,
  p95: finite,
  p99: finite,
  max: finite,
})
export type Distribution = z.infer<typeof distributionSchema>

export const sloSpecSchema = z.strictObject({
  ttftMs: z.number().positive().optional(),
  tpotMs: z.number().positive().optional(),
  e2eMs: z.number().positive().optional(),
})
export type SloSpec = z.infer<typeof sloSpecSchema>

export const levelSummarySchema = z.strictObject({
  requests: z.strictObject({completed: nonNegInt, failed: nonNegInt}),
  /** Measured window (endMs - startMs) in seconds: the denominator of every throughput. */
  durationS: nonNeg,
  /** Sums over SUCCESSFUL requests divided by durationS. */
  throughput: z.strictObject({
    outputTokensPerS: nonNeg,
    inputTokensPerS: nonNeg,
    totalTokensPerS: nonNeg,
    requestsPerS: nonNeg,
  }),
  /** Request-weighted: one sample per successful request. */
  ttftMs: distributionSchema.nullable(),
  /** Request-weighted: (E2E - TTFT) / (outputTokens - 1), requests with <= 1 output token excluded. */
  tpotMs: distributionSchema.nullable(),
  /** Token-weighted: each gap split evenly over the tokens of the chunk that ends it. */
  itlMsPerToken: distributionSchema.nullable(),
  /** Chunk-weighted: gaps between consecutive content events. */
  itlMsPerChunk: distributionSchema.nullable(),
  /** Request-weighted. */
  e2eMs: distributionSchema.nullable(),
  /** Interactivity: 1000 / median TPOT (tokens/s one user sees); null without TPOT samples. */
  perUserTokensPerS: nonNeg.nullable(),
  /** Requests meeting EVERY threshold of the SLO; null when no SLO was given. */
  goodput: z
    .strictObject({
      slo: sloSpecSchema,
      /** Requests that met the SLO. */
      requests: nonNegInt,
      requestsPerS: nonNeg,
      /** Output tokens of the requests that met the SLO, per second. */
      outputTokensPerS: nonNeg,
      /** Share of ALL requests of the level (failed included) that met the SLO, 0..1. */
      fraction: z.number().min(0).max(1),
    })
    .nullable(),
  /** Failed requests by kind (kinds with no failure are absent). */
  errors: z.partialRecord(z.enum(requestErrorKinds), z.number().int().positive()),
  /** Successful requests whose countedTokens != outputTokens (flagged, never silently resolved). */
  tokenMismatches: nonNegInt,
})
export type LevelSummary = z.infer<typeof levelSummarySchema>

// ------------------------------------------------------------------------------- telemetry, /metrics

export const gpuSampleSchema = z.strictObject({
  /** Monotonic ms relative to the run's t0. */
  tMs: finite,
  /** nvidia-smi index of the GPU. */
  gpu: nonNegInt,
  powerW: nonNeg.nullable(),
  utilizationPct: z.number().min(0).max(100).nullable(),
  memoryUsedMiB: nonNeg.nullable(),
  smClockMHz: nonNeg.nullable(),
  temperatureC: finite.nullable(),
})
export type GpuSample = z.infer<typeof gpuSampleSchema>

export const levelTelemetrySchema = z.strictObject({
  gpuSamples: z.array(gpuSampleSchema),
  /** Energy over the level's window, all GPUs; null when neither a counter nor samples exist. */
  energyJ: nonNeg.nullable(),
  /** 'counter' = the driver's total-energy counter, 'integrated' = power samples integrated over time. */
  energySource: z.enum(['counter', 'integrated']).nullable(),
  joulesPerOutputToken: nonNeg.nullable(),
  notes: z.array(z.string()),
})
export type LevelTelemetry = z.infer<typeof levelTelemetrySchema>

export const serverMetricsSchema = z.strictObject({
  /** Which naming the scrape used: 'llamacpp' (llamacpp:*) or 'vllm' (vllm:*). */
  source: z.string(),
  /** Prometheus samples before and after the level (name{labels} -> value), and after - before. */
  before: z.record(z.string(), finite),
  after: z.record(z.string(), finite),
  deltas: z.record(z.string(), finite),
})
export type ServerMetrics = z.infer<typeof serverMetricsSchema>

// ------------------------------------------------------------------------------------------- levels

export const loadKinds = ['concurrency', 'rate'] as const
export type LoadKind = (typeof loadKinds)[number]

export const levelStatuses = ['complete', 'failed', 'partial'] as const
export type LevelStatus = (typeof levelStatuses)[number]

export const levelRecordSchema = z
  .strictObject({
    /** concurrency: requests in flight (closed loop); rate: requests per second (Poisson, open loop). */
    load: z.strictObject({kind: z.enum(loadKinds), value: z.number().positive()}),
    /** Requests sent before the window opened and excluded from everything below. */
    warmupRequests: nonNegInt,
    /** Measured window, monotonic ms relative to the run's t0. */
    window: z.strictObject({startMs: finite, endMs: finite}),
    status: z.enum(levelStatuses),
    requests: z.array(requestRecordSchema),
    summary: levelSummarySchema,
    telemetry: levelTelemetrySchema.nullable(),
    serverMetrics: serverMetricsSchema.nullable(),
    /** v3: how much of the prompts the server's cache served; absent = not measured. */
    cache: levelCacheSchema.optional(),
    /** v3: the load generator's event-loop delay and GC pauses during the level; absent = not recorded. */
    clientHealth: clientHealthSchema.optional(),
    /** The peer tool's own latency statistics (imports without per-request samples); absent otherwise. */
    reported: reportedLatencySchema.optional(),
  })
  .superRefine((level, ctx) => {
    if (level.window.endMs < level.window.startMs) {
      ctx.addIssue({code: 'custom', path: ['window', 'endMs'], message: 'window ends before it starts'})
    }
  })
export type LevelRecord = z.infer<typeof levelRecordSchema>

// ------------------------------------------------------------------------------------------- the file

export const runStatuses = ['running', 'complete', 'partial', 'failed', 'interrupted'] as const
export type RunStatus = (typeof runStatuses)[number]

export const resultFileSchema = z.strictObject({
  schemaVersion: z.literal(RESULT_SCHEMA_VERSION),
  id: z.uuid(),
  /** Wall-clock start of the run (ISO 8601, UTC). */
  createdAt: z.iso.datetime({offset: true}),
  /** Wall-clock end; null while running or when the run was cut off. */
  finishedAt: z.iso.datetime({offset: true}).nullable(),
  capplan: z.strictObject({
    version: z.string(),
    /** The command that produced the file as its argv, e.g. ["capplan", "bench", "--quant", "int4"], secrets redacted (redactArgv). */
    command: z.array(z.string()),
  }),
  host: hostSnapshotSchema,
  engine: engineInfoSchema,
  model: modelInfoSchema,
  /** GPU profile id used for costing (detected or chosen); null = none (cost with the cpu profile or a flag). */
  gpuProfile: z.string().nullable(),
  workload: workloadInfoSchema,
  levels: z.array(levelRecordSchema),
  /** running: written mid-run (incremental save); partial: some levels done, then stopped. */
  status: z.enum(runStatuses),
  notes: z.array(z.string()),
  /** v3: the serving features the run used (DP attention, FP8 KV, speculative decoding, decode-only); absent = none known. */
  serving: servingRecordSchema.optional(),
})
export type ResultFile = z.infer<typeof resultFileSchema>

/** schemaVersion 2: the same fields, none of version 3's optional records. Read, never written. */
export const resultFileV2Schema = resultFileSchema.extend({schemaVersion: z.literal(2)})
export type ResultFileV2 = z.infer<typeof resultFileV2Schema>

/** schemaVersion 1: the same file, but the command was one shell-quoted line (quoteArgv). Read, never written. */
export const resultFileV1Schema = resultFileSchema.extend({
  schemaVersion: z.literal(1),
  capplan: z.strictObject({version: z.string(), command: z.string()}),
})
export type ResultFileV1 = z.infer<typeof resultFileV1Schema>
