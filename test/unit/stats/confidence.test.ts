import {describe, expect, it} from 'vitest'

import {meanConfidenceInterval, studentTCdf, studentTQuantile} from '../../../src/stats/confidence.js'

describe('Student t', () => {
  // Reference values from standard t tables (two-sided 95% -> p = 0.975).
  it.each([
    [0.975, 1, 12.706204736],
    [0.975, 4, 2.776445105],
    [0.975, 10, 2.228138852],
    [0.975, 30, 2.042272456],
    [0.95, 5, 2.015048373],
    [0.995, 2, 9.924843201],
  ])('quantile(%f, df=%i) = %f', (p, df, expected) => {
    expect(studentTQuantile(p, df)).toBeCloseTo(expected, 7)
  })

  it('CDF is symmetric and 0.5 at 0; df = 1 is the Cauchy CDF 0.5 + atan(t) / pi', () => {
    expect(studentTCdf(0, 7)).toBeCloseTo(0.5, 14)
    expect(studentTCdf(-2, 7) + studentTCdf(2, 7)).toBeCloseTo(1, 14)
    expect(studentTCdf(1, 1)).toBeCloseTo(0.75, 12) // 0.5 + (pi/4) / pi
    expect(studentTQuantile(0.5, 3)).toBe(0)
  })
})

describe('meanConfidenceInterval', () => {
  it('[1, 2, 3, 4, 5] at 95%: 3 ± 2.776445 * sqrt(2.5) / sqrt(5)', () => {
    // mean 3; sample variance (4 + 1 + 0 + 1 + 4) / 4 = 2.5; standard error sqrt(2.5 / 5) = 0.70710678
    // margin = t(0.975, 4) * 0.70710678 = 2.776445105 * 0.707106781 = 1.963243161
    const ci = meanConfidenceInterval([1, 2, 3, 4, 5])!
    expect(ci.mean).toBe(3)
    expect(ci.margin).toBeCloseTo(1.963243161, 8)
    expect(ci.low).toBeCloseTo(3 - 1.963243161, 8)
    expect(ci.high).toBeCloseTo(3 + 1.963243161, 8)
    expect(ci.relativeMargin).toBeCloseTo(1.963243161 / 3, 8)
    expect(ci.count).toBe(5)
  })

  it('a 90% interval is narrower: t(0.95, 4) = 2.131847 -> margin 1.507443', () => {
    expect(meanConfidenceInterval([1, 2, 3, 4, 5], 0.9)!.margin).toBeCloseTo(2.131846786 * Math.sqrt(0.5), 7)
  })

  it('fewer than 2 samples -> null; a bad level is refused', () => {
    expect(meanConfidenceInterval([42])).toBeNull()
    expect(() => meanConfidenceInterval([1, 2], 1)).toThrow(RangeError)
  })
})
