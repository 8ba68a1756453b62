import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {uniformRandom} from '../../../src/lib/random.js'
import {loadOf, poissonArrivalsMs, poissonScheduleMs, startArrivals} from '../../../src/loadgen/arrivals.js'

describe('Poisson schedule', () => {
  it('draws mulberry32 values that match an independent 32-bit computation', () => {
    // Computed by hand-porting mulberry32 to Python with explicit & 0xffffffff arithmetic, seed 42.
    const random = uniformRandom(42)
    expect(random()).toBe(0.6011037519201636)
    expect(random()).toBe(0.44829055899754167)
    expect(random()).toBe(0.8524657934904099)
    expect(random()).toBe(0.6697340414393693)
  })

  it('turns them into exponential gaps -ln(1 - u) / rate, cumulated', () => {
    // rate 2 req/s, seed 42:
    //   gap 1 = -ln(1 - 0.6011037519201636) / 2 s = 0.459527 s -> 459.527 ms
    //   gap 2 = -ln(1 - 0.44829055899754167) / 2 = 297.367 ms -> arrival 756.894 ms
    //   gap 3 = -ln(1 - 0.8524657934904099) / 2 = 956.848 ms -> arrival 1713.741 ms
    //   gap 4 = -ln(1 - 0.6697340414393693) / 2 = 553.929 ms -> arrival 2267.670 ms
    const schedule = poissonScheduleMs(2, 42, 4)
    expect(schedule[0]).toBeCloseTo(459.5269628905001, 9)
    expect(schedule[1]).toBeCloseTo(756.89383603277, 9)
    expect(schedule[2]).toBeCloseTo(1713.7414468074185, 9)
    expect(schedule[3]).toBeCloseTo(2267.669953847742, 9)
    // same seed -> same schedule; another seed -> another
    expect(poissonScheduleMs(2, 42, 4)).toEqual(schedule)
    expect(poissonScheduleMs(2, 43, 1)[0]).not.toBe(schedule[0])
    // doubling the rate halves every gap (same u values)
    expect(poissonScheduleMs(4, 42, 4).map((at) => at * 2)).toEqual(schedule.map((at) => expect.closeTo(at, 9)))
  })

  it('averages 1 / rate over many arrivals (the law of large numbers, deterministic for the seed)', () => {
    const arrivals = poissonScheduleMs(4, 7, 4000)
    // mean gap = last arrival / count; 1/4 s = 250 ms expected, within 5% at n = 4000 (s.e. 250/sqrt(4000) = 4 ms)
    expect(arrivals.at(-1)! / 4000).toBeGreaterThan(237.5)
    expect(arrivals.at(-1)! / 4000).toBeLessThan(262.5)
  })

  it('is non-decreasing, finite and scales exactly with 1 / rate for any seed', () => {
    fc.assert(
      fc.property(fc.integer({min: 0, max: 2 ** 32 - 1}), fc.double({min: 0.01, max: 1000, noNaN: true}), (seed, rate) => {
        const base = poissonScheduleMs(1, seed, 20)
        const scaled = poissonScheduleMs(rate, seed, 20)
        for (let i = 0; i < 20; i++) {
          expect(Number.isFinite(scaled[i]!)).toBe(true)
          if (i > 0) expect(scaled[i]!).toBeGreaterThanOrEqual(scaled[i - 1]!)
          expect(scaled[i]! * rate).toBeCloseTo(base[i]!, 6)
        }
      }),
      {numRuns: 100},
    )
  })

  it('refuses a rate that is not positive', () => {
    expect(() => poissonArrivalsMs(0, 1).next()).toThrow(/rate must be a positive number/)
  })
})

describe('arrival processes', () => {
  it('names the load each arrival records', () => {
    expect(loadOf({kind: 'concurrency', concurrency: 4})).toEqual({kind: 'concurrency', value: 4})
    expect(loadOf({kind: 'rate', rate: 0.5, seed: 1, maxInFlight: 8})).toEqual({kind: 'rate', value: 0.5})
  })

  it('closed: every request is due as soon as one of the N slots frees; nothing scheduled, nothing noted', () => {
    const closed = startArrivals({kind: 'concurrency', concurrency: 3}, 1000, 0)
    expect(closed.maxInFlight).toBe(3)
    expect([closed.next(), closed.next()]).toEqual([null, null])
    closed.sent(0, true, 1234)
    expect(closed.scheduledMs).toBeNull()
    expect(closed.notes()).toEqual([])
  })

  it("poisson: due times are the seed's schedule from the level's start, kept per index relative to t0", () => {
    // level start 1000, t0 400: arrival k is due at 1000 + schedule[k], recorded as 600 + schedule[k]
    const schedule = poissonScheduleMs(2, 42, 3)
    const poisson = startArrivals({kind: 'rate', rate: 2, seed: 42, maxInFlight: 2}, 1000, 400)
    expect(poisson.maxInFlight).toBe(2)
    for (let index = 0; index < 3; index++) {
      const due = poisson.next()!
      expect(due).toBe(1000 + schedule[index]!)
      poisson.sent(index, false, due)
    }
    expect(poisson.scheduledMs).toEqual(schedule.map((at) => 1000 + at - 400))
    // 3 arrivals, the last scheduled 1713.741 ms after the start -> "over 1.7s"; none late
    expect(poisson.notes()).toEqual(['open loop: 3 Poisson arrivals over 1.7s (target 2 req/s, seed 42)'])
  })

  it('poisson: an arrival that waited for a slot is counted late, with its lag from its due time', () => {
    const poisson = startArrivals({kind: 'rate', rate: 2, seed: 42, maxInFlight: 1}, 0, 0)
    const first = poisson.next()!
    poisson.sent(0, false, first)
    const second = poisson.next()!
    // sent 250.4 ms after it was due -> "up to 250 ms late"
    poisson.sent(1, true, second + 250.4)
    expect(poisson.notes()[1]).toBe(
      'in-flight cap 1 reached: 1 of 2 requests waited for a free slot and were sent up to 250 ms late, so the offered rate 2 req/s was not sustained (the engine is saturated; TTFT is timed from the actual send and leaves that wait out)',
    )
  })

  it('poisson: one arrival says nothing about the achieved rate', () => {
    const poisson = startArrivals({kind: 'rate', rate: 2, seed: 42, maxInFlight: 1}, 0, 0)
    poisson.sent(0, false, poisson.next()!)
    expect(poisson.notes()).toEqual([])
  })
})
