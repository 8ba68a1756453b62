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
 * mean, sample stdev, min, p50/p90/p95/p99 (linear interpolation), max; null for no samples. `samples` itself
 * is not changed. Percentiles are exact order statistics (the same numbers as sorting first): up to 64 samples
 * are sorted, more are partly ordered by a selection that places only the ranks the percentiles read (a level
 * can hold hundreds of thousands of ITL samples; a full sort was most of a report's time). The mean and the
 * spread are summed in the samples' own order (compensated sums, simple-statistics).
 */
export function distribution(samples: readonly number[] | Float64Array): Distribution | null {
  if (samples.length === 0) return null
  // A copy (new Float64Array(array) reads by index: much faster than Float64Array.from's iterator).
  const values = samples instanceof Float64Array ? samples.slice() : new Float64Array(samples)
  for (let i = 0; i < values.length; i++) {
    // A non-number (undefined, a string) reads as NaN here: refused like a non-finite number.
    if (!Number.isFinite(values[i]!)) throw new RangeError(`distribution got a non-finite sample (${String(samples[i])})`)
  }
  return summarizeOwned(values)
}

/** distribution() of samples the caller owns and no longer needs in order: reordered in place (no copy). */
export function distributionInPlace(samples: Float64Array): Distribution | null {
  if (samples.length === 0) return null
  for (let i = 0; i < samples.length; i++) {
    if (!Number.isFinite(samples[i]!)) throw new RangeError(`distribution got a non-finite sample (${samples[i]})`)
  }
  return summarizeOwned(samples)
}

const PERCENTILES = [
  ['p50', 0.5],
  ['p90', 0.9],
  ['p95', 0.95],
  ['p99', 0.99],
] as const

/** Below this many samples a plain sort is as fast as the selection. */
const SELECT_FROM = 64

function summarizeOwned(values: Float64Array): Distribution {
  const n = values.length
  // simple-statistics reads .length and [i] only; summed before any reordering.
  const asArray = values as unknown as number[]
  const mean = ssMean(asArray)
  // Sample (n - 1) deviation; a single sample has no spread to estimate, report 0.
  const stdev = n > 1 ? sampleStandardDeviation(asArray) : 0
  let min = values[0]!
  let max = values[0]!
  for (let i = 1; i < n; i++) {
    const value = values[i]!
    if (value < min) min = value
    if (value > max) max = value
  }
  const ranks = PERCENTILES.map(([, p]) => {
    const h = (n - 1) * p
    const lower = Math.floor(h)
    return {h, lower, upper: Math.min(lower + 1, n - 1)}
  })
  if (n <= SELECT_FROM) values.sort()
  else
    selectRanks(
      values,
      [...new Set(ranks.flatMap((rank) => [rank.lower, rank.upper]))].sort((a, b) => a - b),
    )
  // percentileSorted's formula on the placed ranks.
  const at = (rank: (typeof ranks)[number]) => values[rank.lower]! + (rank.h - rank.lower) * (values[rank.upper]! - values[rank.lower]!)
  return {count: n, mean, stdev, min, p50: at(ranks[0]!), p90: at(ranks[1]!), p95: at(ranks[2]!), p99: at(ranks[3]!), max}
}

/**
 * Reorder `a` so that a[k] is its k-th smallest value for every k of `ranks` (ascending), as a full sort would
 * place it: quickselect (median-of-three pivot) recursing only into the parts that hold a wanted rank.
 */
function selectRanks(a: Float64Array, ranks: readonly number[]): void {
  const stack: [number, number, number, number][] = [[0, a.length - 1, 0, ranks.length - 1]]
  while (stack.length > 0) {
    const [start, hi, firstRank, last] = stack.pop()!
    let lo = start
    let first = firstRank
    while (hi > lo && first <= last) {
      const x = a[lo]!
      const y = a[(lo + hi) >> 1]!
      const z = a[hi]!
      const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y
      let i = lo
      let j = hi
      while (i <= j) {
        while (a[i]! < pivot) i++
        while (a[j]! > pivot) j--
        if (i <= j) {
          const swap = a[i]!
          a[i] = a[j]!
          a[j] = swap
          i++
          j--
        }
      }
      // Now a[lo..j] <= pivot, a[j+1..i-1] = pivot (already in place), a[i..hi] >= pivot.
      let left = first
      while (left <= last && ranks[left]! <= j) left++
      let right = left
      while (right <= last && ranks[right]! < i) right++
      if (left > first) stack.push([lo, j, first, left - 1])
      lo = i
      first = right
    }
  }
}
