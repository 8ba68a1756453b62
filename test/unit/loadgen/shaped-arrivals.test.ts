import {describe, expect, it} from 'vitest'

import {gammaVariate, loadOf, poissonScheduleMs, shapedArrivalsMs, traceRate} from '../../../src/loadgen/arrivals.js'
import {uniformRandom} from '../../../src/lib/random.js'

const take = (gen: Generator<number, never>, n: number) => Array.from({length: n}, () => gen.next().value)
const gaps = (offsets: number[]) => offsets.map((t, i) => t - (i === 0 ? 0 : offsets[i - 1]!))
const cv = (values: number[]) => {
  const mean = values.reduce((a, b) => a + b, 0) / values.length
  return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length) / mean
}

describe('gamma and ramped arrivals', () => {
  it('burstiness 1 without a ramp is the Poisson schedule of the same seed', () => {
    const shaped = take(shapedArrivalsMs(2, 11, 1, 0), 50)
    const poisson = poissonScheduleMs(2, 11, 50)
    shaped.forEach((t, i) => expect(t).toBeCloseTo(poisson[i]!, 6))
  })

  it('gamma gaps keep the mean 1/rate; their coefficient of variation is 1/sqrt(burstiness): 0.25 -> 2, 4 -> 0.5 (20000 gaps, within 5%)', () => {
    for (const [burstiness, expected] of [
      [0.25, 2],
      [4, 0.5],
    ] as const) {
      const g = gaps(take(shapedArrivalsMs(5, 3, burstiness, 0), 20_000))
      expect(Math.abs(g.reduce((a, b) => a + b, 0) / g.length / 200 - 1)).toBeLessThan(0.05)
      expect(Math.abs(cv(g) / expected - 1)).toBeLessThan(0.05)
    }
  })

  it('gammaVariate(k) has mean k (k = 0.5, 3; 20000 draws, within 3%)', () => {
    for (const k of [0.5, 3]) {
      const random = uniformRandom(k * 100)
      const draws = Array.from({length: 20_000}, () => gammaVariate(k, random))
      expect(Math.abs(draws.reduce((a, b) => a + b, 0) / draws.length / k - 1)).toBeLessThan(0.03)
    }
  })

  it('a 10 s ramp to 4 req/s: Lambda(t) = 4 t^2 / 20 during it (20 arrivals expected by 10 s), then 4 req/s (20 + 40 by 20 s)', () => {
    const runs = Array.from({length: 200}, (_, seed) => take(shapedArrivalsMs(4, seed, 1, 10_000), 200))
    const countBy = (ms: number) => runs.reduce((sum, offsets) => sum + offsets.filter((t) => t <= ms).length, 0) / runs.length
    expect(countBy(5_000)).toBeCloseTo(5, 0) // 4 x 25 / 20
    expect(Math.abs(countBy(10_000) / 20 - 1)).toBeLessThan(0.05)
    expect(Math.abs(countBy(20_000) / 60 - 1)).toBeLessThan(0.05)
  })

  it("a trace's load is its offered rate: 5 arrivals over 2 s = 2 req/s", () => {
    expect(traceRate([0, 500, 1000, 1500, 2000])).toBe(2)
    expect(loadOf({kind: 'trace', offsetsMs: [0, 500, 1000, 1500, 2000], maxInFlight: 4})).toEqual({kind: 'rate', value: 2})
    expect(traceRate([7])).toBe(1)
  })
})
