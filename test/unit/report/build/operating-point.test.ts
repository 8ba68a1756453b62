import {describe, expect, it} from 'vitest'

import {findOperatingPoint} from '../../../../src/report/build/operating-point.js'
import {level} from '../levels.js'

// Three levels of a closed-loop run (p95 latencies):
//   c=1: 10 out tok/s, TTFT 100 ms, TPOT 20 ms
//   c=2: 18 out tok/s, TTFT 200 ms, TPOT 30 ms
//   c=4: 30 out tok/s, TTFT 600 ms, TPOT 60 ms
const levels = [
  level({concurrency: 1, outputTokensPerS: 10, ttftP95: 100, tpotP95: 20}),
  level({concurrency: 2, outputTokensPerS: 18, ttftP95: 200, tpotP95: 30}),
  level({concurrency: 4, outputTokensPerS: 30, ttftP95: 600, tpotP95: 60}),
]

describe('findOperatingPoint', () => {
  it('interpolates between the last level that meets the SLO and the next, and marks it', () => {
    const point = findOperatingPoint(levels, {ttftMs: 2000, tpotMs: 50})
    // c=4 misses only TPOT (60 > 50). TPOT reaches 50 at f = (50 - 30) / (60 - 30) = 2/3 of the way c=2 -> c=4.
    expect(point.kind).toBe('interpolated')
    expect(point.interpolation?.bindingMetric).toBe('tpot')
    expect(point.interpolation?.fraction).toBeCloseTo(2 / 3, 12)
    // load 2 + 2/3 x 2 = 3.333; output 18 + 2/3 x 12 = 26; input 36 + 2/3 x 24 = 52; total 78
    expect(point.load?.value).toBeCloseTo(10 / 3, 12)
    expect(point.outputTokensPerS).toBeCloseTo(26, 12)
    expect(point.totalTokensPerS).toBeCloseTo(78, 12)
    // TTFT 200 + 2/3 x 400 = 466.67; TPOT exactly at the threshold
    expect(point.latencyMs.ttft).toBeCloseTo(1400 / 3, 9)
    expect(point.latencyMs.tpot).toBeCloseTo(50, 12)
    expect(point.levelIndex).toBe(1)
    expect(point.explanation).toContain('INTERPOLATED')
    expect(point.checks.map((check) => check.meets)).toEqual([true, true, false])
    expect(point.checks[2]!.reason).toBe('TPOT p95 60 ms > 50 ms')
  })

  it('takes the metric that reaches its threshold first when both miss', () => {
    // TTFT: (400 - 200) / (600 - 200) = 0.5; TPOT: 2/3 -> 0.5, TTFT binds; output 18 + 0.5 x 12 = 24 at c=3
    const point = findOperatingPoint(levels, {ttftMs: 400, tpotMs: 50})
    expect(point.kind).toBe('interpolated')
    expect(point.interpolation).toEqual({lowerLoad: 2, upperLoad: 4, fraction: 0.5, bindingMetric: 'ttft'})
    expect(point.outputTokensPerS).toBe(24)
    expect(point.load?.value).toBe(3)
  })

  it('stays on the measured level without interpolation', () => {
    const point = findOperatingPoint(levels, {ttftMs: 2000, tpotMs: 50}, {interpolate: false})
    expect(point.kind).toBe('measured')
    expect(point.outputTokensPerS).toBe(18)
    expect(point.load).toEqual({kind: 'concurrency', value: 2})
    expect(point.limitedByMeasurements).toBe(false)
  })

  it('never extrapolates past the last level: the SLO met at the top is flagged', () => {
    const point = findOperatingPoint(levels, {tpotMs: 100})
    expect(point.kind).toBe('measured')
    expect(point.outputTokensPerS).toBe(30)
    expect(point.limitedByMeasurements).toBe(true)
    expect(point.explanation).toContain('never extrapolates')
  })

  it('says so and costs nothing when no level meets the SLO', () => {
    const point = findOperatingPoint(levels, {tpotMs: 10})
    expect(point.kind).toBe('none')
    expect(point.outputTokensPerS).toBeNull()
    expect(point.totalTokensPerS).toBeNull()
    expect(point.explanation).toBe('No measured level meets tpot<=10ms at p95: even concurrency 1 misses it (TPOT p95 20 ms > 10 ms). Nothing is costed.')
  })

  it('checks the chosen percentile', () => {
    // p50 of every level here is the same flat value as p95, except we ask p50 of a level whose p95 alone is high
    const skewed = [level({concurrency: 1, outputTokensPerS: 10, ttftP95: 100, tpotP95: 20})]
    skewed[0]!.summary.tpotMs = {count: 20, mean: 30, stdev: 5, min: 15, p50: 25, p90: 40, p95: 70, p99: 90, max: 95}
    expect(findOperatingPoint(skewed, {tpotMs: 50}).kind).toBe('none')
    expect(findOperatingPoint(skewed, {tpotMs: 50}, {percentile: 'p50'}).kind).toBe('measured')
  })

  it('counts failed requests against the SLO and does not interpolate into a failing level', () => {
    // c=4 has 2 failures of 20 = 10% > the 5% a p95 SLO allows, though its latencies are fine
    const withFailures = [levels[0]!, levels[1]!, level({concurrency: 4, outputTokensPerS: 30, ttftP95: 300, tpotP95: 40, completed: 18, failed: 2})]
    const point = findOperatingPoint(withFailures, {ttftMs: 2000, tpotMs: 50})
    expect(point.kind).toBe('measured')
    expect(point.outputTokensPerS).toBe(18)
    expect(point.checks[2]!.reason).toBe('10.0% of requests failed (a p95 SLO allows 5%)')
  })

  it('picks the highest level that meets even if a lower one missed (orders by load, not file order)', () => {
    const noisy = [
      level({concurrency: 4, outputTokensPerS: 30, ttftP95: 300, tpotP95: 45}),
      level({concurrency: 2, outputTokensPerS: 18, ttftP95: 200, tpotP95: 55}),
      level({concurrency: 1, outputTokensPerS: 10, ttftP95: 100, tpotP95: 20}),
    ]
    const point = findOperatingPoint(noisy, {tpotMs: 50})
    expect(point.kind).toBe('measured')
    expect(point.levelIndex).toBe(0)
    expect(point.checks.map((check) => check.load.value)).toEqual([1, 2, 4])
  })

  it('does not interpolate when throughput falls at the next level (saturation)', () => {
    const saturated = [levels[1]!, level({concurrency: 4, outputTokensPerS: 17, ttftP95: 600, tpotP95: 60})]
    const point = findOperatingPoint(saturated, {tpotMs: 50})
    expect(point.kind).toBe('measured')
    expect(point.outputTokensPerS).toBe(18)
  })

  it('uses the highest level as is, unchecked, when the source has no latency under load', () => {
    const point = findOperatingPoint([level({concurrency: 1, outputTokensPerS: 71.775152, ttftP95: null, tpotP95: null})], {tpotMs: 50}, {latencyMeasured: false})
    expect(point.kind).toBe('unchecked')
    expect(point.outputTokensPerS).toBe(71.775152)
    expect(point.explanation).toContain('could not be checked')
  })

  it('fails a level with no successful request and reports an empty result', () => {
    expect(findOperatingPoint([], {tpotMs: 50}).kind).toBe('none')
    const point = findOperatingPoint([level({concurrency: 1, outputTokensPerS: 0, ttftP95: null, tpotP95: null, completed: 0, failed: 3, status: 'failed'})], {tpotMs: 50})
    expect(point.kind).toBe('none')
    expect(point.checks[0]!.reason).toContain('the level failed')
  })
})
