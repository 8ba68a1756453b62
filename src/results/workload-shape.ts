import {z} from 'zod'

/**
 * What the load looked like beyond fixed lengths and unique prompts (schemaVersion 3): shared prefixes,
 * multi-turn sessions, length distributions, bursty arrivals, trace replay, and whether the server's prompt
 * cache was on. Absent in a result file = the control experiment of version 2: fixed lengths, every prompt
 * unique (the prefix cache defeated on purpose), arrivals as the level's load says.
 *
 * The load generator that writes these fields is described in loadgen/; this file is the record only.
 */

const nonNegInt = z.number().int().nonnegative()

/** The server's prompt cache as the run set it: on (shared-prefix and multi-turn workloads), off, or unknown. */
export const promptCacheStates = ['on', 'off', 'unknown'] as const

const positiveInt = z.number().int().positive()

/**
 * A length distribution (tokens per request, input or output), as the flags gave it. fixed = every request
 * the same length (the control); the others are sampled per request from the run's seed and clamped to
 * [min, max]; histogram = lengths drawn with the weights of an empirical histogram file.
 */
export const lengthDistSchema = z.discriminatedUnion('kind', [
  z.strictObject({kind: z.literal('fixed'), tokens: positiveInt}),
  z.strictObject({kind: z.literal('uniform'), min: positiveInt, max: positiveInt}),
  z.strictObject({kind: z.enum(['normal', 'lognormal']), mean: z.number().positive(), stdev: z.number().nonnegative(), min: positiveInt, max: positiveInt}),
  z.strictObject({
    kind: z.literal('histogram'),
    file: z.string().min(1),
    bins: z.array(z.strictObject({tokens: positiveInt, weight: z.number().positive()})).min(1),
  }),
])
export type LengthDist = z.infer<typeof lengthDistSchema>

/** How requests arrived: the closed loop, Poisson, gamma (burstiness), a ramp, or a trace's timestamps. */
export const arrivalProcesses = ['closed', 'poisson', 'gamma', 'trace'] as const

export const workloadShapeSchema = z.strictObject({
  /** Whether the server's prompt (prefix) cache was on for this run. */
  promptCache: z.enum(promptCacheStates),
  /** The seed every random choice of the shape was drawn from (the run's --seed). */
  seed: z.number().int(),
  /** K distinct shared prefixes of N tokens; each request draws one (seeded); null = every prompt unique. */
  prefix: z.strictObject({tokens: positiveInt, groups: positiveInt}).nullable(),
  /** Multi-turn sessions: T turns each, the think time between a turn's answer and the next turn; null = single requests. */
  sessions: z.strictObject({turns: positiveInt, thinkTimeMs: z.number().nonnegative()}).nullable(),
  /** Input lengths: of the new part of each prompt (after the shared prefix / the conversation so far). */
  input: lengthDistSchema,
  output: lengthDistSchema,
  arrivals: z.strictObject({
    process: z.enum(arrivalProcesses),
    /** gamma: the shape factor (1 = Poisson, below 1 burstier); null otherwise. */
    burstiness: z.number().positive().nullable(),
    /** The rate ramps linearly from 0 to the level's rate over this many ms; null = no ramp. */
    rampMs: z.number().positive().nullable(),
  }),
  /** A replayed trace (Mooncake JSONL): the file, its requests, tokens per hash block, the time scale. */
  trace: z
    .strictObject({
      file: z.string().min(1),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      requests: positiveInt,
      blockTokens: positiveInt,
      replaySpeed: z.number().positive(),
    })
    .nullable(),
})
export type WorkloadShape = z.infer<typeof workloadShapeSchema>

/** Where a level's cache figures come from. */
export const cacheSources = ['server-usage', 'server-metrics', 'unknown'] as const

/** A level's prompt-cache evidence: how much of the prompt the server served from its cache. */
export const levelCacheSchema = z.strictObject({
  /** The hit rate the workload was built for (shared prefix tokens / prompt tokens), null when not designed for one. */
  intendedHitRate: z.number().min(0).max(1).nullable(),
  /** Prompt tokens served from the cache / prompt tokens, over the successful requests; null when unknown. */
  measuredHitRate: z.number().min(0).max(1).nullable(),
  cachedTokens: nonNegInt,
  promptTokens: nonNegInt,
  source: z.enum(cacheSources),
})
export type LevelCache = z.infer<typeof levelCacheSchema>

/** Which conversation a request belongs to (multi-turn workloads). */
export const requestSessionSchema = z.strictObject({
  /** Session number within the level (0-based). */
  id: nonNegInt,
  /** Turn within the session (0-based). */
  turn: nonNegInt,
})
export type RequestSession = z.infer<typeof requestSessionSchema>
