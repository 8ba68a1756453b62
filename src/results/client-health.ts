import {z} from 'zod'

/**
 * The load generator's own health during a level (schemaVersion 3): if capplan's event loop stalled or its
 * garbage collector paused, the times it stamped on streamed chunks are late by as much, and the ITL it reports
 * is distorted. Absent in a result file = not recorded (version 2 files, imports).
 */

const nonNeg = z.number().nonnegative()

/** Milliseconds: a few points of a distribution. */
export const pauseDistributionSchema = z.strictObject({
  count: z.number().int().nonnegative(),
  p50: nonNeg,
  p99: nonNeg,
  max: nonNeg,
})

export const clientHealthSchema = z.strictObject({
  /** Event-loop delay (perf_hooks.monitorEventLoopDelay) over the level's window, ms. */
  eventLoopDelayMs: pauseDistributionSchema.nullable(),
  /** Garbage-collection pauses (PerformanceObserver 'gc') over the level's window, ms; totalMs is their sum. */
  gcPauseMs: pauseDistributionSchema.extend({totalMs: nonNeg}).nullable(),
})
export type ClientHealth = z.infer<typeof clientHealthSchema>
