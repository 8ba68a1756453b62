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

export const workloadShapeSchema = z.strictObject({
  /** Whether the server's prompt (prefix) cache was on for this run. */
  promptCache: z.enum(promptCacheStates),
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
