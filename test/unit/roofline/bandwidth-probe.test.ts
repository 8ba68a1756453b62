import {describe, expect, it} from 'vitest'

import {probeMemoryBandwidth} from '../../../src/roofline/bandwidth-probe.js'

describe('probeMemoryBandwidth', () => {
  it('GB/s = 2 x buffer bytes (read + write) / the fastest pass', () => {
    // Fake clock: passes take 4 ms, 2 ms, 3 ms. Best 2 ms: 2 x 8,388,608 B / 0.002 s = 8.388608e9 B/s = 8.388608 GB/s.
    const ticks = [0, 4, 10, 12, 20, 23]
    let i = 0
    const probe = probeMemoryBandwidth({bufferBytes: 8 * 1024 * 1024, passes: 3, nowMs: () => ticks[i++] ?? 0})
    expect(probe.passSeconds).toEqual([0.004, 0.002, 0.003])
    expect(probe.gbPerS).toBeCloseTo((2 * 8 * 1024 * 1024) / 0.002 / 1e9, 9) // 8.388608
    expect(probe.method).toContain('single-thread JS estimate')
  })
})
