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

/** Garbage-collection pauses, ms; totalMs is their sum. */
export const gcPauseDistributionSchema = pauseDistributionSchema.extend({totalMs: nonNeg})

export const clientHealthSchema = z.strictObject({
  /** Event-loop delay (perf_hooks.monitorEventLoopDelay) of the main thread over the level's window, ms. */
  eventLoopDelayMs: pauseDistributionSchema.nullable(),
  /** The main thread's garbage-collection pauses (PerformanceObserver 'gc') over the level's window. */
  gcPauseMs: gcPauseDistributionSchema.nullable(),
  /**
   * With client threads (`bench --client-threads`, src/engines/http/client-threads.ts): each worker thread's
   * own GC pauses over the level's window, one entry per thread that was reading streams. The workers read
   * and stamp the chunks, so their pauses are the ones that delay stamps. Absent = the streams were read in
   * the main thread (and in files written before this field).
   */
  threadGcPauseMs: z.array(gcPauseDistributionSchema).optional(),
})
export type ClientHealth = z.infer<typeof clientHealthSchema>
