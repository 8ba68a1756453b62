import {describe, expect, it} from 'vitest'

import type {LengthDist} from '../../../src/results/workload-shape.js'
import {drawLength, lengthAt, lengthBounds, lognormalParams, nominalLength} from '../../../src/loadgen/lengths.js'

/** A uniform stream that returns the given values in turn. */
const scripted = (...values: number[]) => {
  let i = 0
  return () => values[i++ % values.length]!
}

describe('length distributions', () => {
  it('uniform:10,13 maps u in [0,1) onto the 4 lengths 10..13 (u = 0 -> 10, 0.5 -> 12, 0.99 -> 13)', () => {
    const dist = {kind: 'uniform', min: 10, max: 13} as const
    expect([0, 0.5, 0.99].map((u) => drawLength(dist, scripted(u)))).toEqual([10, 12, 13])
  })

  it('normal:100,10 with Box-Muller u1 = 1 - e^-2 (radius 2), u2 = 0 (cos 1) gives 100 + 10 x 2 = 120; clamped to MAX 110', () => {
    const u1 = Math.exp(-2) // 1 - u is what the log sees: sqrt(-2 ln(e^-2)) = 2
    expect(drawLength({kind: 'normal', mean: 100, stdev: 10, min: 1, max: 1000}, scripted(1 - u1, 0))).toBe(120)
    expect(drawLength({kind: 'normal', mean: 100, stdev: 10, min: 1, max: 110}, scripted(1 - u1, 0))).toBe(110)
  })

  it('lognormal mean 100 sd 50: sigma^2 = ln(1.25), mu = ln 100 - sigma^2 / 2; the median exp(mu) = 89.44', () => {
    const {mu, sigma} = lognormalParams(100, 50)
    expect(sigma * sigma).toBeCloseTo(Math.log(1.25), 12)
    expect(Math.exp(mu)).toBeCloseTo(100 / Math.sqrt(1.25), 9)
    // z = 0 (u1 = 1 - e^0 -> radius 0) draws the median, rounded: 89.
    expect(drawLength({kind: 'lognormal', mean: 100, stdev: 50, min: 1, max: 1000}, scripted(0, 0))).toBe(89)
  })

  it('a lognormal sample of 20000 has the asked mean and stdev within 2%', () => {
    const dist = {kind: 'lognormal', mean: 400, stdev: 200, min: 1, max: 100_000} as const
    const values = Array.from({length: 20_000}, (_, i) => lengthAt(dist, 7, 1, i))
    const mean = values.reduce((a, b) => a + b, 0) / values.length
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length)
    expect(Math.abs(mean / 400 - 1)).toBeLessThan(0.02)
    expect(Math.abs(sd / 200 - 1)).toBeLessThan(0.04)
  })

  it('a histogram draws bins by weight: weights 1,3 put u < 0.25 in the first bin, the rest in the second', () => {
    const dist = {
      kind: 'histogram',
      file: 'h.csv',
      bins: [
        {tokens: 64, weight: 1},
        {tokens: 512, weight: 3},
      ],
    } satisfies LengthDist
    expect([0, 0.2499, 0.25, 0.9].map((u) => drawLength(dist, scripted(u)))).toEqual([64, 64, 512, 512])
    expect(lengthBounds(dist)).toEqual({min: 64, max: 512})
    // (64 x 1 + 512 x 3) / 4 = 400
    expect(nominalLength(dist)).toBe(400)
  })

  it('draws are a function of (seed, stream, index): the same index gives the same length, another seed another sequence', () => {
    const dist = {kind: 'uniform', min: 1, max: 1_000_000} as const
    expect(lengthAt(dist, 1, 1, 5)).toBe(lengthAt(dist, 1, 1, 5))
    const a = Array.from({length: 8}, (_, i) => lengthAt(dist, 1, 1, i))
    expect(Array.from({length: 8}, (_, i) => lengthAt(dist, 2, 1, i))).not.toEqual(a)
    expect(Array.from({length: 8}, (_, i) => lengthAt(dist, 1, 2, i))).not.toEqual(a)
  })
})
