import {uniformRandom} from '../lib/random.js'
import type {LengthDist} from '../results/workload-shape.js'

/**
 * Length distributions (tokens per request) and the seeded draws behind every random choice of a workload
 * shape. Each draw is a pure function of (seed, stream, index): request 7's length is the same whatever ran
 * before it, in a resumed run too.
 */

/** Mix a seed, a stream tag and an index into one 32-bit seed (different tags never share a stream). */
export function mixSeed(seed: number, stream: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(stream + 0x632be5ab, 0x27d4eb2f) ^ Math.imul(index + 1, 0xc2b2ae35)
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d)
  h ^= h >>> 15
  h = Math.imul(h, 0x846ca68b)
  h ^= h >>> 16
  return h >>> 0
}

/** A standard normal from two uniforms (Box-Muller); 1 - u keeps the log finite. */
export function standardNormal(random: () => number): number {
  const u1 = 1 - random()
  const u2 = random()
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
}

/** ln-space parameters of a lognormal whose lengths have this mean and standard deviation. */
export function lognormalParams(mean: number, stdev: number): {mu: number; sigma: number} {
  const sigma2 = Math.log(1 + (stdev * stdev) / (mean * mean))
  return {mu: Math.log(mean) - sigma2 / 2, sigma: Math.sqrt(sigma2)}
}

/** A parsed --input-dist / --output-dist: a distribution, or a histogram file still to read (services/bench reads it). */
export type LengthDistSpec = Exclude<LengthDist, {kind: 'histogram'}> | {kind: 'histogram-file'; file: string}

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value))

/** One length from `dist` given a uniform stream: a whole number of tokens >= 1 within the bounds. */
export function drawLength(dist: LengthDist, random: () => number): number {
  switch (dist.kind) {
    case 'fixed':
      return dist.tokens
    case 'uniform':
      return dist.min + Math.floor(random() * (dist.max - dist.min + 1))
    case 'normal':
      return clamp(Math.round(dist.mean + dist.stdev * standardNormal(random)), dist.min, dist.max)
    case 'lognormal': {
      const {mu, sigma} = lognormalParams(dist.mean, dist.stdev)
      return clamp(Math.round(Math.exp(mu + sigma * standardNormal(random))), dist.min, dist.max)
    }
    case 'histogram': {
      const total = dist.bins.reduce((sum, bin) => sum + bin.weight, 0)
      let point = random() * total
      for (const bin of dist.bins) {
        point -= bin.weight
        if (point < 0) return bin.tokens
      }
      return dist.bins.at(-1)!.tokens
    }
  }
}

/** The length of draw `index` of stream `stream` (seeded). */
export function lengthAt(dist: LengthDist, seed: number, stream: number, index: number): number {
  return dist.kind === 'fixed' ? dist.tokens : drawLength(dist, uniformRandom(mixSeed(seed, stream, index)))
}

/** The smallest and largest length a distribution can give. */
export function lengthBounds(dist: LengthDist): {min: number; max: number} {
  if (dist.kind === 'fixed') return {min: dist.tokens, max: dist.tokens}
  if (dist.kind === 'histogram') {
    const lengths = dist.bins.map((bin) => bin.tokens)
    return {min: Math.min(...lengths), max: Math.max(...lengths)}
  }
  return {min: dist.min, max: dist.max}
}

/** The nominal mean (before clamping) a distribution was asked for, rounded: the result file's workload length. */
export function nominalLength(dist: LengthDist): number {
  if (dist.kind === 'fixed') return dist.tokens
  if (dist.kind === 'uniform') return Math.round((dist.min + dist.max) / 2)
  if (dist.kind === 'histogram') {
    const total = dist.bins.reduce((sum, bin) => sum + bin.weight, 0)
    return Math.max(1, Math.round(dist.bins.reduce((sum, bin) => sum + bin.tokens * bin.weight, 0) / total))
  }
  return Math.max(1, Math.round(dist.mean))
}
