import {mean as ssMean, sampleStandardDeviation} from 'simple-statistics'

import type {Distribution} from '../results/schema.js'

export type {Distribution} from '../results/schema.js'

/**
 * Percentile of ascending-sorted samples by linear interpolation between closest ranks — numpy's default
 * ("type 7", what vLLM's benchmark reports): h = (n - 1) * p, result = x[floor h] + (h - floor h) *
 * (x[floor h + 1] - x[floor h]). THE percentile rule of capplan (report, compare, bench summaries): kept here
 * rather than taken from simple-statistics, whose quantileSorted was nearest-rank in older 7.x releases, so the
 * rule cannot change with a dependency update (test/unit/stats/distribution.test.ts keeps other files off it).
 * @param p quantile in [0, 1]
 */
export function percentileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of an empty sample')
  if (!(p >= 0 && p <= 1)) throw new RangeError(`percentile rank ${p} is outside [0, 1]`)
  const h = (sorted.length - 1) * p
  const lower = Math.floor(h)
  const upper = Math.min(lower + 1, sorted.length - 1)
  const low = sorted[lower]!
  return low + (h - lower) * (sorted[upper]! - low)
}

/**
 * mean, sample stdev, min, p50/p90/p95/p99 (linear interpolation), max; null for no samples. The samples are
 * copied into a Float64Array and sorted there (a numeric sort without a comparator: ~10x faster than
 * Array#sort((a, b) => a - b) on the hundreds of thousands of ITL samples a level can hold, in the same
 * ascending order, so the same mean, spread and percentiles); `samples` itself is not changed.
 */
export function distribution(samples: readonly number[] | Float64Array): Distribution | null {
  if (samples.length === 0) return null
  // A copy (new Float64Array(array) reads by index: much faster than Float64Array.from's iterator).
  const sorted = samples instanceof Float64Array ? samples.slice() : new Float64Array(samples)
  for (let i = 0; i < sorted.length; i++) {
    // A non-number (undefined, a string) reads as NaN here: refused like a non-finite number.
    if (!Number.isFinite(sorted[i]!)) throw new RangeError(`distribution got a non-finite sample (${String(samples[i])})`)
  }
  return distributionOfSorted(sorted.sort())
}

/** distribution() of samples the caller owns: sorted in place (no copy), for arrays built only to be summarized. */
export function distributionInPlace(samples: Float64Array): Distribution | null {
  for (let i = 0; i < samples.length; i++) {
    if (!Number.isFinite(samples[i]!)) throw new RangeError(`distribution got a non-finite sample (${samples[i]})`)
  }
  return distributionOfSorted(samples.sort())
}

/** distribution() of samples already in a Float64Array sorted ascending (taken as they are, not copied). */
function distributionOfSorted(sorted: Float64Array): Distribution | null {
  if (sorted.length === 0) return null
  // simple-statistics reads .length and [i] only: a typed array is summed in the same order as an array.
  const values = sorted as unknown as number[]
  return {
    count: sorted.length,
    mean: ssMean(values),
    // Sample (n - 1) deviation; a single sample has no spread to estimate, report 0.
    stdev: sorted.length > 1 ? sampleStandardDeviation(values) : 0,
    min: sorted[0]!,
    p50: percentileSorted(values, 0.5),
    p90: percentileSorted(values, 0.9),
    p95: percentileSorted(values, 0.95),
    p99: percentileSorted(values, 0.99),
    max: sorted[sorted.length - 1]!,
  }
}
