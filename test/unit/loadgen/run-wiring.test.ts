import {describe, expect, it} from 'vitest'

import {levelRequestBudgets, peakInFlight} from '../../../src/loadgen/run.js'
import {precisionRule} from '../../../src/loadgen/stop-rules.js'

describe('bench run: prompt budget and peak in-flight per load mode', () => {
  it('closed loop: each level reserves its own stop rule maximum; the peak is the highest concurrency', () => {
    const load = {kind: 'concurrency' as const, concurrencies: [1, 2, 4], stopFor: (c: number) => ({kind: 'requests' as const, requests: 3 * c})}
    // 3x1, 3x2, 3x4
    expect(levelRequestBudgets(load)).toEqual([3, 6, 12])
    expect(peakInFlight(load)).toBe(4)
  })

  it('open loop: every rate reserves the same maximum; the peak is --max-in-flight', () => {
    const load = {kind: 'rate' as const, rates: [0.5, 1, 2], stop: {kind: 'duration' as const, durationMs: 60_000, maxRequests: 200}, maxInFlight: 16}
    expect(levelRequestBudgets(load)).toEqual([200, 200, 200])
    expect(peakInFlight(load)).toBe(16)
  })

  it('sweep: reserves for every rung it may visit (1, 2, 4, ... up to the cap), the peak is the top rung', () => {
    const load = {kind: 'sweep' as const, maxConcurrency: 10, minGain: 0.05, stopFor: () => precisionRule(0.05, {maxRequests: 40})}
    // ladder 1, 2, 4, 8 (16 > 10): 4 rungs x 40
    expect(levelRequestBudgets(load)).toEqual([40, 40, 40, 40])
    expect(peakInFlight(load)).toBe(8)
  })
})
