import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {
  apiMonthlyCost,
  blendedApiPrice,
  breakEvenTokensPerSecond,
  ceilWhole,
  costPerMillionTokens,
  crossoverVolume,
  energyCost,
  ioShares,
  monthlyFromDailyVolume,
  replicaCapacityTokensPerMonth,
  replicaMonthlyCost,
  replicasForVolume,
  totalFromOutputTokensPerSecond,
} from '../../../src/cost/model.js'

describe('replica cost and capacity', () => {
  it('replica monthly cost = $/GPU-hour x GPUs x hours', () => {
    expect(replicaMonthlyCost(2.5, 1, 720)).toBe(1800) // 2.5 x 1 x 720
    expect(replicaMonthlyCost(2.5, 12, 720)).toBe(21_600) // 2.5 x 12 x 720
    expect(replicaMonthlyCost(2.46, 8, 730)).toBeCloseTo(14_366.4, 6) // 2.46 x 8 x 730
  })

  it('capacity = tok/s x 3600 x hours x utilization', () => {
    expect(replicaCapacityTokensPerMonth(25, 720, 1)).toBe(64_800_000) // 25 x 3600 x 720
    expect(replicaCapacityTokensPerMonth(22, 720, 1)).toBe(57_024_000) // 22 x 3600 x 720
    expect(replicaCapacityTokensPerMonth(25, 730, 0.5)).toBe(32_850_000) // 25 x 3600 x 730 x 0.5
  })

  it('$/1M tokens = monthly cost x 1e6 / tokens per month', () => {
    expect(costPerMillionTokens(1800, 64_800_000)).toBeCloseTo(27.777_777_78, 8) // 1800 / 64.8
    expect(costPerMillionTokens(21_600, 77_760_000)).toBeCloseTo(277.777_777_8, 7) // 21600 / 77.76
  })
})

describe('input:output ratio', () => {
  it('shares', () => {
    expect(ioShares({input: 3, output: 1})).toEqual({input: 0.75, output: 0.25})
    expect(ioShares({input: 1, output: 1})).toEqual({input: 0.5, output: 0.5})
  })

  it('total tok/s from output tok/s: out x (r + 1) for r:1', () => {
    expect(totalFromOutputTokensPerSecond(10, {input: 3, output: 1})).toBe(40) // 10 x (3 + 1)
    expect(totalFromOutputTokensPerSecond(12.5, {input: 1, output: 1})).toBe(25) // 12.5 x 2
    expect(totalFromOutputTokensPerSecond(8, {input: 1024, output: 512})).toBe(24) // 8 x 1536 / 512
    expect(() => totalFromOutputTokensPerSecond(8, {input: 1, output: 0})).toThrow(RangeError)
  })

  it('blended price (r x p_in + p_out) / (r + 1), with input and output parts', () => {
    // GPT-4o 2.50 / 10.00 at 1:1: (2.5 + 10) / 2 = 6.25 = 1.25 input + 5.00 output
    expect(blendedApiPrice({inputPerMTok: 2.5, outputPerMTok: 10}, {input: 1, output: 1})).toEqual({
      blendedPerMTok: 6.25,
      inputPartPerMTok: 1.25,
      outputPartPerMTok: 5,
    })
    // at 3:1: (3 x 2.5 + 10) / 4 = 17.5 / 4 = 4.375 = 1.875 + 2.5
    expect(blendedApiPrice({inputPerMTok: 2.5, outputPerMTok: 10}, {input: 3, output: 1})).toEqual({
      blendedPerMTok: 4.375,
      inputPartPerMTok: 1.875,
      outputPartPerMTok: 2.5,
    })
    // output only (0:1) is the output price
    expect(blendedApiPrice({inputPerMTok: 5, outputPerMTok: 25}, {input: 0, output: 1}).blendedPerMTok).toBe(25)
  })
})

describe('volume and fleet', () => {
  it('daily -> monthly volume uses hours / 24 days', () => {
    expect(monthlyFromDailyVolume(100e6, 720)).toBe(3e9) // 100M x 30
    expect(monthlyFromDailyVolume(100e6, 730) * 12).toBeCloseTo(36.5e9, 0) // 100M x 365 days a year
  })

  it('replicas = ceil(volume / capacity), at least 1', () => {
    expect(replicasForVolume(100e6, 64.8e6)).toBe(2) // 1.54 -> 2
    expect(replicasForVolume(129.6e6, 64.8e6)).toBe(2) // exactly 2 full replicas
    expect(replicasForVolume(129.6e6 + 1, 64.8e6)).toBe(3)
    expect(replicasForVolume(1, 64.8e6)).toBe(1)
    expect(replicasForVolume(0, 64.8e6)).toBe(0)
  })

  it('ceilWhole forgives floating-point noise but not real excess', () => {
    expect(0.1 * 3 * 10).not.toBe(3) // 3.0000000000000004 in IEEE doubles
    expect(ceilWhole(0.1 * 3 * 10)).toBe(3)
    expect(ceilWhole(3.000_001)).toBe(4)
    expect(ceilWhole(2.5)).toBe(3)
  })

  it('API monthly cost = volume x blended / 1e6', () => {
    expect(apiMonthlyCost(100e6, 6.25)).toBe(625)
    expect(apiMonthlyCost(100e6, 7.5)).toBe(750)
  })

  it('break-even throughput = replica cost / (blended x 1e-6 x 3600 x hours x utilization)', () => {
    // 1800 / (6.25e-6 x 3600 x 720) = 1800 / 16.2 = 111.11 tok/s
    expect(breakEvenTokensPerSecond(1800, 6.25, 720, 1)).toBeCloseTo(111.111_111, 5)
    // at half utilization twice the throughput is needed: 222.22
    expect(breakEvenTokensPerSecond(1800, 6.25, 720, 0.5)).toBeCloseTo(222.222_222, 5)
  })

  it('energy = W x GPUs x hours x PUE / 1000 x $/kWh', () => {
    // 700 W x 8 x 730 h x 1.2 / 1000 = 4905.6 kWh; x $0.10 = $490.56
    const e = energyCost({powerWattsPerGpu: 700, powerSource: 'tdp', pue: 1.2, usdPerKwh: 0.1}, 8, 730)
    expect(e.kwhPerReplicaMonth).toBeCloseTo(4905.6, 9)
    expect(e.monthlyCostPerReplica).toBeCloseTo(490.56, 9)
  })
})

describe('crossoverVolume on the step function', () => {
  it('never when a replica costs more per token than the API (seed 000: $27.78/1M vs $6.25/1M)', () => {
    const c = crossoverVolume(1800, 64.8e6, 6.25)
    expect(c.volumeTokensPerMonth).toBeNull()
    expect(c.kind).toBe('never')
    expect(c.reason).toBe('never: self-hosted $27.78/1M > API $6.25/1M at any volume (each added replica costs more than the API for the tokens it adds)')
  })

  it('never when cost per token equals the API price (ties are not cheaper)', () => {
    // 1800 / 240M = $7.50/1M = the API price: at 240M both cost $1,800, never strictly cheaper
    const c = crossoverVolume(1800, 240e6, 7.5)
    expect(c.volumeTokensPerMonth).toBeNull()
    expect(c.reason).toContain('$7.50/1M = API $7.50/1M')
  })

  it('within the first replica: V* = 1800 / 7.50 = 240M <= capacity 1B', () => {
    const c = crossoverVolume(1800, 1e9, 7.5)
    expect(c.kind).toBe('first-replica')
    expect(c.volumeTokensPerMonth).toBeCloseTo(240e6, 0)
    expect(c.earlierCheaperWindowCount).toBe(0)
    expect(c.reason).toContain('above 240M tokens/month')
  })

  it('later steps matter: capacity 300M, V* = 240M -> cheaper for all V > 960M, windows below', () => {
    // K / (K - V*) = 300 / 60 = 5, so steps 1..4 start with a dear stretch: crossover = 4 x 240M = 960M.
    // Step 4 is (900M, 1200M] at 4 x $1,800 = $7,200, cheaper iff 7.5e-6 V > 7200, i.e. V > 960M.
    // Step 5 is (1200M, 1500M] at $9,000: at V just above 1200M the API costs $9,000 too, so never dearer.
    const c = crossoverVolume(1800, 300e6, 7.5)
    expect(c.kind).toBe('after-steps')
    expect(c.volumeTokensPerMonth).toBeCloseTo(960e6, 0)
    expect(c.earlierCheaperWindowCount).toBe(3)
    expect(c.earlierCheaperWindows).toHaveLength(3)
    const windows = c.earlierCheaperWindows.map((w) => [w.fromExclusive / 1e6, w.toInclusive / 1e6])
    expect(windows[0]?.[0]).toBeCloseTo(240, 9)
    expect(windows[0]?.[1]).toBeCloseTo(300, 9)
    expect(windows[1]?.[0]).toBeCloseTo(480, 9)
    expect(windows[1]?.[1]).toBeCloseTo(600, 9)
    expect(windows[2]?.[0]).toBeCloseTo(720, 9)
    expect(windows[2]?.[1]).toBeCloseTo(900, 9)
    expect(c.reason).toContain('every volume above 960M tokens/month (4 replicas')
    expect(c.reason).toContain('3 windows')
  })

  it('a step ratio just above a whole number adds a dear step (K/(K-V*) = 5.000..1 -> 5 dear steps)', () => {
    // V* = 240M, K slightly below 300M: step 5 starts at 4K < 5 V*, so step 5 also has a dear stretch.
    const c = crossoverVolume(1800, 299.999e6, 7.5)
    expect(c.volumeTokensPerMonth).toBeCloseTo(5 * 240e6, 0)
    expect(c.earlierCheaperWindowCount).toBe(4)
  })

  it('lists at most 5 windows but counts them all', () => {
    // V* = 999M of a 1B replica: K / (K - V*) = 1000 -> 999 dear steps, 998 earlier windows
    const c = crossoverVolume(999 * 7.5, 1e9, 7.5)
    expect(c.earlierCheaperWindowCount).toBe(998)
    expect(c.earlierCheaperWindows).toHaveLength(5)
    expect(c.volumeTokensPerMonth).toBeCloseTo(999 * 999e6, -3)
  })

  it('matches a brute-force scan of the step function (property)', () => {
    // Self cost S(V) = ceil(V/K) C, API A(V) = p V. For random integers, check V just above the crossover,
    // volumes far above it, and every step start/end below it against the reported windows.
    fc.assert(
      fc.property(
        fc.integer({min: 100, max: 20_000}), // C, $/month
        fc.integer({min: 1, max: 500}), // K, in millions of tokens
        fc.integer({min: 1, max: 400}), // p, in cents per 1M tokens
        (cost, capacityM, priceCents) => {
          const capacity = capacityM * 1e6
          const price = priceCents / 100
          const selfCost = (v: number) => ceilWhole(v / capacity) * cost
          const apiCost = (v: number) => (v * price) / 1e6
          const cheaper = (v: number) => selfCost(v) < apiCost(v)
          const c = crossoverVolume(cost, capacity, price)
          if (c.volumeTokensPerMonth === null) {
            // never: not cheaper at any step end (where self-hosting is at its best)
            for (let n = 1; n <= 50; n++) expect(cheaper(n * capacity)).toBe(false)
            return
          }
          const x = c.volumeTokensPerMonth
          // x lies inside a step where the costs are equal; with these integer inputs every dear stretch and
          // every cheaper stretch is at least 2,500 tokens long, so +-1000 tokens stays on x's side of a step.
          expect(cheaper(x + 1000)).toBe(true)
          expect(cheaper(x - 1000)).toBe(false)
          for (let n = 1; n <= 20; n++) {
            // every step end and step start above the crossover is cheaper
            if (n * capacity > x) expect(cheaper(n * capacity)).toBe(true)
            if (n * capacity > x) expect(cheaper(n * capacity + 1)).toBe(true)
          }
          // below the crossover, the step start is never cheaper; only the windows' ends are
          const steps = Math.floor(x / capacity)
          for (let n = 1; n <= Math.min(steps, 30); n++) {
            expect(cheaper(n * capacity + 1)).toBe(false)
            expect(cheaper(n * capacity)).toBe(n <= c.earlierCheaperWindowCount)
          }
        },
      ),
      {numRuns: 300},
    )
  })
})
