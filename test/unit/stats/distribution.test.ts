import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import fc from 'fast-check'
import {mean as ssMean, sampleStandardDeviation} from 'simple-statistics'

import {distribution, distributionInPlace, percentileSorted} from '../../../src/stats/distribution.js'

describe('percentileSorted (linear interpolation, numpy type 7)', () => {
  it('interpolates between closest ranks', () => {
    const x = [1, 2, 3, 4]
    // h = (n - 1) * p = 3 * 0.5 = 1.5 -> x[1] + 0.5 * (x[2] - x[1]) = 2 + 0.5 = 2.5
    expect(percentileSorted(x, 0.5)).toBe(2.5)
    // h = 3 * 0.9 = 2.7 -> 3 + 0.7 * (4 - 3) = 3.7
    expect(percentileSorted(x, 0.9)).toBeCloseTo(3.7, 12)
    // p = 0 and p = 1 are the extremes
    expect(percentileSorted(x, 0)).toBe(1)
    expect(percentileSorted(x, 1)).toBe(4)
  })

  it('differs from nearest-rank: [10, 20, 30] p90 = 20 + 0.8 * 10 = 28 (h = 2 * 0.9 = 1.8)', () => {
    expect(percentileSorted([10, 20, 30], 0.9)).toBeCloseTo(28, 12)
  })

  it('rejects an empty sample and a rank outside [0, 1]', () => {
    expect(() => percentileSorted([], 0.5)).toThrow(RangeError)
    expect(() => percentileSorted([1], 1.5)).toThrow(RangeError)
  })
})

describe('distribution', () => {
  it('summarizes [4, 1, 3, 2] (unsorted input) exactly', () => {
    const d = distribution([4, 1, 3, 2])!
    expect(d.count).toBe(4)
    expect(d.mean).toBe(2.5) // 10 / 4
    expect(d.min).toBe(1)
    expect(d.max).toBe(4)
    expect(d.p50).toBe(2.5)
    expect(d.p90).toBeCloseTo(3.7, 12) // h = 2.7
    expect(d.p95).toBeCloseTo(3.85, 12) // h = 2.85 -> 3 + 0.85
    expect(d.p99).toBeCloseTo(3.97, 12) // h = 2.97 -> 3 + 0.97
    // sample variance = (1.5^2 + 0.5^2 + 0.5^2 + 1.5^2) / 3 = 5 / 3
    expect(d.stdev).toBeCloseTo(Math.sqrt(5 / 3), 12)
  })

  it('a single sample: every percentile is that sample, stdev 0', () => {
    expect(distribution([7])).toEqual({count: 1, mean: 7, stdev: 0, min: 7, p50: 7, p90: 7, p95: 7, p99: 7, max: 7})
  })

  it('no samples -> null, and a non-finite sample is refused', () => {
    expect(distribution([])).toBeNull()
    expect(() => distribution([1, Number.NaN])).toThrow(RangeError)
  })
})

describe('distribution: percentiles by selection, the same numbers as sorting first', () => {
  /** The implementation before (a full sort with a comparator, sums in sorted order), kept here as the reference. */
  function reference(samples: number[]) {
    const sorted = [...samples].sort((a, b) => a - b)
    const n = sorted.length
    return {
      count: n,
      mean: ssMean(sorted),
      stdev: n > 1 ? sampleStandardDeviation(sorted) : 0,
      min: sorted[0],
      p50: percentileSorted(sorted, 0.5),
      p90: percentileSorted(sorted, 0.9),
      p95: percentileSorted(sorted, 0.95),
      p99: percentileSorted(sorted, 0.99),
      max: sorted[n - 1],
    }
  }

  /** Count, min, max and every percentile exactly; mean and stdev (summed in another order) to 1e-12 of the largest sample. */
  function expectSame(values: number[]) {
    const expected = reference(values)
    for (const got of [distribution(values)!, distribution(Float64Array.from(values))!, distributionInPlace(Float64Array.from(values))!]) {
      const {mean, stdev, ...exact} = got
      const {mean: expectedMean, stdev: expectedStdev, ...expectedExact} = expected
      expect(exact).toEqual(expectedExact)
      const scale = Math.max(1, ...values.map(Math.abs))
      expect(Math.abs(mean - expectedMean)).toBeLessThanOrEqual(1e-12 * scale)
      expect(Math.abs(stdev - expectedStdev)).toBeLessThanOrEqual(1e-12 * scale)
    }
  }

  it('for any finite samples: few or many, duplicates, negatives, huge and tiny values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.double({noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12}), fc.integer({min: 0, max: 5})), {minLength: 1, maxLength: 400}),
        (samples) => expectSame(samples.map((v) => (Object.is(v, -0) ? 0 : v))),
      ),
      {numRuns: 300},
    )
  })

  it('on level-sized samples: 20,000 ITL-like gaps, and 10,000 drawn from 3 values (ties everywhere)', () => {
    let seed = 7
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    expectSame(Array.from({length: 20_000}, () => 20 + next() * 3))
    expectSame(Array.from({length: 10_000}, () => [1, 2, 3][Math.floor(next() * 3)]!))
    expectSame(Array.from({length: 65}, (_, i) => 65 - i))
  })

  it('leaves its input alone; distributionInPlace reorders the array it owns', () => {
    const values = [3, 1, 2]
    distribution(values)
    expect(values).toEqual([3, 1, 2])
    expect(distributionInPlace(Float64Array.from(values))?.p50).toBe(2)
    expect(() => distributionInPlace(Float64Array.from([1, Number.NaN]))).toThrow(RangeError)
    expect(distributionInPlace(new Float64Array(0))).toBeNull()
  })
})

describe('one percentile rule in src/', () => {
  it('no file but stats/distribution.ts calls a quantile or median function (compare used its own)', () => {
    const src = path.resolve(import.meta.dirname, '../../../src')
    const offenders = (readdirSync(src, {recursive: true}) as string[])
      .filter((file) => file.endsWith('.ts') && path.normalize(file) !== path.join('stats', 'distribution.ts'))
      .filter((file) =>
        /\bquantile(Sorted|Rank)?\s*\(|\bquantile(Sorted|Rank)?\b[^'\n]*from 'simple-statistics'|\bmedian(Sorted)?\b[^'\n]*from 'simple-statistics'/.test(
          readFileSync(path.join(src, file), 'utf8'),
        ),
      )
    expect(offenders).toEqual([])
  })
})
