import {monitorEventLoopDelay, PerformanceObserver} from 'node:perf_hooks'

import type {ClientHealth} from '../results/client-health.js'
import {percentileSorted} from '../stats/distribution.js'

/**
 * capplan's own health while it measures a level: how late its event loop ran and how long its garbage
 * collector paused. Every chunk that arrives during a stall or a pause is stamped late by up to its length,
 * so these bound how far the ITL capplan reports can be off (report's client-health warning reads them).
 *
 *   const health = watchClientHealth({threadGc: clientThreadGcPauses})
 *   ... the level ...
 *   record.clientHealth = await health.stop()
 *
 * Cheap: one libuv timer every EVENT_LOOP_RESOLUTION_MS and one PerformanceObserver entry per collection.
 * With client threads reading the streams (src/engines/http/client-threads.ts), `threadGc` asks each of them
 * for its own GC pauses over the same window (threadGcPauseMs): those are the pauses that delay the stamps.
 */

/** The event-loop monitor's timer period, ms (also what is subtracted from each sample: the wait it asked for). */
export const EVENT_LOOP_RESOLUTION_MS = 10

/** Delay samples in ms (timer lateness beyond the asked period), sorted: count, p50, p99, max. */
export function distributionOf(sortedMs: readonly number[]): {count: number; p50: number; p99: number; max: number} | null {
  if (sortedMs.length === 0) return null
  return {count: sortedMs.length, p50: percentileSorted(sortedMs, 0.5), p99: percentileSorted(sortedMs, 0.99), max: sortedMs.at(-1)!}
}

/** GC pause durations (ms, any order) as the result file's gcPauseMs; a level with no collection has count 0. */
export function gcPauseDistribution(durationsMs: readonly number[]): GcPauseDistribution {
  const sorted = [...durationsMs].sort((a, b) => a - b)
  const totalMs = sorted.reduce((sum, d) => sum + d, 0)
  return {...(distributionOf(sorted) ?? {count: 0, p50: 0, p99: 0, max: 0}), totalMs}
}

export interface ClientHealthWatch {
  /** Stops watching; the figures from the start to now (the client threads' too, when asked). Call once. */
  stop(): Promise<ClientHealth>
}

/** GC pauses of each client thread over [fromMs, toMs] (performance.now() of this thread); null = no client threads. */
export type ThreadGcPauses = (fromMs: number, toMs: number) => Promise<GcPauseDistribution[] | null>

export type GcPauseDistribution = NonNullable<ClientHealth['gcPauseMs']>

/** Start watching this process's event loop and GC pauses (and, with threadGc, the client threads' GC pauses). */
export function watchClientHealth({threadGc}: {threadGc?: ThreadGcPauses} = {}): ClientHealthWatch {
  const startedMs = performance.now()
  const loop = monitorEventLoopDelay({resolution: EVENT_LOOP_RESOLUTION_MS})
  loop.enable()
  const gcDurations: number[] = []
  let observer: PerformanceObserver | null = null
  try {
    observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) gcDurations.push(entry.duration)
    })
    observer.observe({entryTypes: ['gc']})
  } catch {
    observer = null // a runtime without 'gc' entries: gcPauseMs is then null (not recorded)
  }
  return {
    stop: async (): Promise<ClientHealth> => {
      const stoppedMs = performance.now()
      loop.disable()
      if (observer !== null) {
        // Entries are delivered asynchronously; takeRecords() collects those not delivered yet.
        for (const entry of observer.takeRecords()) gcDurations.push(entry.duration)
        observer.disconnect()
      }
      // The histogram holds each timer interval (ns), the asked period included: lateness = interval - period.
      // Its percentiles are of those intervals, so the same shift applies to them.
      const late = (ns: number) => Math.max(0, ns / 1e6 - EVENT_LOOP_RESOLUTION_MS)
      const eventLoopDelayMs = loop.count === 0 ? null : {count: loop.count, p50: late(loop.percentile(50)), p99: late(loop.percentile(99)), max: late(loop.max)}
      const threads = threadGc === undefined ? null : await threadGc(startedMs, stoppedMs)
      return {eventLoopDelayMs, gcPauseMs: observer === null ? null : gcPauseDistribution(gcDurations), ...(threads === null ? {} : {threadGcPauseMs: threads})}
    },
  }
}
