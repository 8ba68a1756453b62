import {describe, expect, it} from 'vitest'

import {clientHealthSchema} from '../../../src/results/client-health.js'
import {distributionOf, EVENT_LOOP_RESOLUTION_MS, gcPauseDistribution, watchClientHealth} from '../../../src/telemetry/client-health.js'

/** src/telemetry/client-health.ts: the figures a level records about capplan's own event loop and GC. */

describe('gcPauseDistribution', () => {
  it('durations 4, 1, 2, 3 ms: count 4, p50 2.5, p99 3.97 (linear interpolation), max 4, total 10', () => {
    const d = gcPauseDistribution([4, 1, 2, 3])
    expect(d.count).toBe(4)
    expect(d.p50).toBeCloseTo(2.5, 12)
    // sorted 1,2,3,4: rank 0.99 x 3 = 2.97 -> 3 + 0.97 x (4 - 3)
    expect(d.p99).toBeCloseTo(3.97, 12)
    expect(d.max).toBe(4)
    expect(d.totalMs).toBe(10)
  })

  it('no collection during the level: count 0 and zeros (recorded, not null)', () => {
    expect(gcPauseDistribution([])).toEqual({count: 0, p50: 0, p99: 0, max: 0, totalMs: 0})
    expect(distributionOf([])).toBeNull()
  })
})

describe('watchClientHealth', () => {
  it('a 60 ms synchronous block shows as event-loop delay; a forced GC as a pause; the figures pass the result schema', async () => {
    const watch = watchClientHealth()
    await new Promise((resolve) => setTimeout(resolve, 3 * EVENT_LOOP_RESOLUTION_MS))
    const until = performance.now() + 60
    while (performance.now() < until) {
      // busy: the monitor's timer cannot run
    }
    // Garbage, then (under vitest without --expose-gc) enough allocation to start a scavenge.
    let keep = 0
    for (let i = 0; i < 200_000; i++) keep += [i, i + 1].length
    expect(keep).toBe(400_000)
    await new Promise((resolve) => setTimeout(resolve, 3 * EVENT_LOOP_RESOLUTION_MS))
    const health = await watch.stop()
    expect(clientHealthSchema.safeParse(health).success).toBe(true)
    expect(health.eventLoopDelayMs).not.toBeNull()
    // The blocked timer ran >= 60 ms after it was due minus its own 10 ms period: at least 50 ms late.
    expect(health.eventLoopDelayMs!.max).toBeGreaterThanOrEqual(50)
    expect(health.gcPauseMs).not.toBeNull()
    expect(health.gcPauseMs!.count).toBeGreaterThan(0)
    expect(health.gcPauseMs!.totalMs).toBeGreaterThan(0)
  })
})
