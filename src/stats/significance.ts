import {mean as ssMean, sampleVariance} from 'simple-statistics'

import {studentTCdf, studentTQuantile} from './confidence.js'

export interface WelchResult {
  meanA: number
  meanB: number
  /** meanB - meanA */
  difference: number
  /** Welch's t statistic of (meanA - meanB). */
  t: number
  /** Welch–Satterthwaite degrees of freedom. */
  df: number
  /** Two-sided p-value. */
  pValue: number
  /** Confidence interval of meanB - meanA at `level`. */
  differenceLow: number
  differenceHigh: number
  level: number
  /** pValue < 1 - level: the difference is statistically significant at that level. */
  significant: boolean
}

/**
 * Welch's two-sample t-test (unequal variances) on per-request samples, e.g. TPOT of run A vs run B.
 * null when either side has fewer than 2 samples. When both samples have zero variance the test is
 * degenerate: equal means are "not significant", different means "significant" (p = 0).
 */
export function welchTTest(a: readonly number[], b: readonly number[], level = 0.95): WelchResult | null {
  if (a.length < 2 || b.length < 2) return null
  if (!(level > 0 && level < 1)) throw new RangeError(`confidence level must be in (0, 1) (got ${level})`)
  const meanA = ssMean([...a])
  const meanB = ssMean([...b])
  const seA = sampleVariance([...a]) / a.length
  const seB = sampleVariance([...b]) / b.length
  const standardError = Math.sqrt(seA + seB)
  const difference = meanB - meanA
  if (standardError === 0) {
    const same = difference === 0
    return {
      meanA,
      meanB,
      difference,
      t: same ? 0 : Math.sign(meanA - meanB) * Number.POSITIVE_INFINITY,
      df: a.length + b.length - 2,
      pValue: same ? 1 : 0,
      differenceLow: difference,
      differenceHigh: difference,
      level,
      significant: !same,
    }
  }
  const t = (meanA - meanB) / standardError
  const df = (seA + seB) ** 2 / (seA ** 2 / (a.length - 1) + seB ** 2 / (b.length - 1))
  const pValue = Math.min(1, 2 * studentTCdf(-Math.abs(t), df))
  const margin = studentTQuantile(1 - (1 - level) / 2, df) * standardError
  return {
    meanA,
    meanB,
    difference,
    t,
    df,
    pValue,
    differenceLow: difference - margin,
    differenceHigh: difference + margin,
    level,
    significant: pValue < 1 - level,
  }
}
