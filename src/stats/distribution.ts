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

/** mean, sample stdev, min, p50/p90/p95/p99 (linear interpolation), max; null for no samples. */
export function distribution(samples: readonly number[]): Distribution | null {
  if (samples.length === 0) return null
  for (const value of samples) {
    if (!Number.isFinite(value)) throw new RangeError(`distribution got a non-finite sample (${value})`)
  }
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    count: sorted.length,
    mean: ssMean(sorted),
    // Sample (n - 1) deviation; a single sample has no spread to estimate, report 0.
    stdev: sorted.length > 1 ? sampleStandardDeviation(sorted) : 0,
    min: sorted[0]!,
    p50: percentileSorted(sorted, 0.5),
    p90: percentileSorted(sorted, 0.9),
    p95: percentileSorted(sorted, 0.95),
    p99: percentileSorted(sorted, 0.99),
    max: sorted[sorted.length - 1]!,
  }
}
