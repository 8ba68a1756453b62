import {gammaln, mean as ssMean, sampleStandardDeviation} from 'simple-statistics'

/**
 * Regularized incomplete beta I_x(a, b) by its continued fraction (Lentz's method, as in Numerical
 * Recipes' betacf). Accurate to ~1e-12 for the t-distribution arguments used here.
 */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0
  if (x >= 1) return 1
  const logFront = gammaln(a + b) - gammaln(a) - gammaln(b) + a * Math.log(x) + b * Math.log(1 - x)
  // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
  if (x > (a + 1) / (a + b + 2)) return 1 - regularizedIncompleteBeta(1 - x, b, a)
  const tiny = 1e-300
  let c = 1
  let d = 1 - ((a + b) * x) / (a + 1)
  if (Math.abs(d) < tiny) d = tiny
  d = 1 / d
  let fraction = d
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m
    let term = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2))
    d = 1 + term * d
    if (Math.abs(d) < tiny) d = tiny
    c = 1 + term / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    fraction *= d * c
    term = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1))
    d = 1 + term * d
    if (Math.abs(d) < tiny) d = tiny
    c = 1 + term / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    const delta = d * c
    fraction *= delta
    if (Math.abs(delta - 1) < 1e-15) break
  }
  return (Math.exp(logFront) * fraction) / a
}

/** P(T <= t) for Student's t with `df` degrees of freedom (df may be fractional: Welch). */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be > 0 (got ${df})`)
  const tail = 0.5 * regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5)
  return t >= 0 ? 1 - tail : tail
}

/** The t value with P(T <= t) = p, by bisection on the CDF (monotone; 200 halvings is far below 1e-12). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`probability must be in (0, 1) (got ${p})`)
  if (p === 0.5) return 0
  let low = -1
  let high = 1
  while (studentTCdf(low, df) > p) low *= 2
  while (studentTCdf(high, df) < p) high *= 2
  for (let i = 0; i < 200 && high - low > 1e-13 * Math.max(1, Math.abs(high)); i++) {
    const mid = (low + high) / 2
    if (studentTCdf(mid, df) < p) low = mid
    else high = mid
  }
  return (low + high) / 2
}

export interface ConfidenceInterval {
  mean: number
  /** Half-width: mean ± margin. */
  margin: number
  low: number
  high: number
  /** margin / |mean| (Infinity when the mean is 0): what adaptive stopping compares with --precision. */
  relativeMargin: number
  level: number
  count: number
}

/**
 * t-based confidence interval of the mean: mean ± t(1 - (1 - level)/2, n - 1) * s / sqrt(n).
 * null with fewer than 2 samples (no spread to estimate).
 */
export function meanConfidenceInterval(samples: readonly number[], level = 0.95): ConfidenceInterval | null {
  if (!(level > 0 && level < 1)) throw new RangeError(`confidence level must be in (0, 1) (got ${level})`)
  if (samples.length < 2) return null
  const mean = ssMean([...samples])
  const standardError = sampleStandardDeviation([...samples]) / Math.sqrt(samples.length)
  const margin = studentTQuantile(1 - (1 - level) / 2, samples.length - 1) * standardError
  return {
    mean,
    margin,
    low: mean - margin,
    high: mean + margin,
    relativeMargin: mean === 0 ? Number.POSITIVE_INFINITY : margin / Math.abs(mean),
    level,
    count: samples.length,
  }
}
