import {describe, expect, it} from 'vitest'

import {crossoverVolume} from '../../../src/cost/model.js'
import {planCost} from '../../../src/cost/plan.js'
import {fleetCosts, hourlyTokens, parseTrafficText, planTraffic, shapeProfile, trafficCrossover, type FleetOptions} from '../../../src/cost/traffic.js'
import {CapplanError} from '../../../src/lib/errors.js'

// business-hours:10 = 8 hours (09-17) at weight 10 and 16 hours at 1: 96 units a day. At 96M tokens/day the
// peak hour carries 10M tokens and the others 1M. One replica at 1000 tok/s serves 3.6M tokens an hour.
const business = shapeProfile('business-hours', 10)
const perDay = 96e6
const hoursPerMonth = 730
const monthly = (perDay * hoursPerMonth) / 24 // 2,920M
const options: FleetOptions = {replicaTokensPerSecond: 1000, replicaUsdPerHour: 2, hoursPerMonth}

describe('traffic shapes', () => {
  it('business-hours:10: 09:00-17:00 at 10x the other hours', () => {
    expect(business.values.filter((v) => v === 10)).toHaveLength(8)
    expect(business.values.slice(9, 17).every((v) => v === 10)).toBe(true)
    expect(business.values.reduce((a, b) => a + b, 0)).toBe(96)
  })

  it('diurnal:3: the 14:00 peak is exactly 3x the 02:00 trough', () => {
    const diurnal = shapeProfile('diurnal', 3)
    expect(diurnal.values[14]! / diurnal.values[2]!).toBeCloseTo(3, 12)
    expect(Math.max(...diurnal.values)).toBe(diurnal.values[14])
  })

  it('flat takes no ratio', () => {
    expect(() => shapeProfile('flat', 2)).toThrow(CapplanError)
  })
})

describe('planTraffic: the hand-checked case (business-hours:10, 96M tokens/day, 1000 tok/s, $2/h)', () => {
  const plan = planTraffic(business, monthly, options)

  it('replicas per hour = ceil(tokens / 3.6M): 3 in the 8 busy hours (10M), 1 in the other 16 (1M)', () => {
    expect(plan.hours.map((h) => h.replicasNeeded)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1])
    expect(plan.peakTokensPerHour).toBeCloseTo(10e6, 3)
    expect(plan.tokensPerDay).toBeCloseTo(96e6, 3)
  })

  it('fixed fleet: 3 replicas x $2 x 730 h = $4,380/month at utilization 96 / (3 x 24 x 3.6) = 0.37037', () => {
    expect(plan.fixed.replicas).toBe(3)
    expect(plan.fixed.monthlyCost).toBeCloseTo(4380, 9)
    expect(plan.fixed.utilization).toBeCloseTo(96 / 259.2, 12)
    expect(plan.fixed.idleMonthlyCost).toBeCloseTo(4380 * (1 - 96 / 259.2), 9)
  })

  it('autoscaled: 8 x 3 + 16 x 1 = 40 replica-hours a day x $2 x 730 / 24 = $2,433.33 at utilization 96 / 144', () => {
    expect(plan.autoscaled.replicaHoursPerMonth).toBeCloseTo((40 * 730) / 24, 9)
    expect(plan.autoscaled.monthlyCost).toBeCloseTo(2433.3333333, 6)
    expect(plan.autoscaled.utilization).toBeCloseTo(2 / 3, 12)
    expect(plan.autoscalingSavesMonthly).toBeCloseTo(4380 - 2433.3333333, 6)
  })

  it('--min-replicas 2: 8 x 3 + 16 x 2 = 56 replica-hours = $3,406.67; --scale-step 2: 8 x 4 + 16 x 2 = 64', () => {
    const min2 = planTraffic(business, monthly, {...options, minReplicas: 2})
    expect(min2.autoscaled.monthlyCost).toBeCloseTo((56 * 2 * 730) / 24, 9)
    expect(min2.autoscaled.monthlyCost).toBeCloseTo(3406.6666667, 6)
    const step2 = planTraffic(business, monthly, {...options, scaleStep: 2})
    expect(step2.hours.map((h) => h.autoscaledReplicas).reduce((a, b) => a + b, 0)).toBe(64)
  })

  it('--headroom 0.2: the busy hour needs ceil(10M x 1.2 / 3.6M) = 4 replicas', () => {
    expect(planTraffic(business, monthly, {...options, headroom: 0.2}).fixed.replicas).toBe(4)
  })

  it('flat traffic: the autoscaled fleet costs what the fixed one does', () => {
    const flat = planTraffic(shapeProfile('flat', null), monthly, options)
    expect(flat.autoscaled.monthlyCost).toBeCloseTo(flat.fixed.monthlyCost, 9)
  })
})

describe('fleetCosts (the search prices many replicas of one traffic: the fleets without the hourly plan)', () => {
  const tokens = hourlyTokens(business, monthly, hoursPerMonth)

  it('the hand-checked case: fixed 3 replicas = $4,380/month, autoscaled 40 replica-hours a day = $2,433.33', () => {
    const {fixed, autoscaled} = fleetCosts(tokens, options)
    expect(fixed.replicas).toBe(3)
    expect(fixed.monthlyCost).toBeCloseTo(4380, 9)
    expect(autoscaled.replicas).toBeCloseTo(40 / 24, 12)
    expect(autoscaled.monthlyCost).toBeCloseTo(2433.3333333, 6)
  })

  it("gives planTraffic's fleets exactly, whatever the shape, throughput, headroom, minimum and step", () => {
    const shapes = [business, shapeProfile('diurnal', 3), shapeProfile('flat', null), shapeProfile('business-hours', 4)]
    for (const shape of shapes) {
      for (const rules of [{}, {headroom: 0.3}, {minReplicas: 2}, {scaleStep: 3}, {headroom: 0.1, minReplicas: 1, scaleStep: 2}]) {
        for (const replicaTokensPerSecond of [37, 1000, 55_555]) {
          const o: FleetOptions = {...options, ...rules, replicaTokensPerSecond}
          const plan = planTraffic(shape, monthly, o)
          expect(fleetCosts(hourlyTokens(shape, monthly, hoursPerMonth), o)).toEqual({fixed: plan.fixed, autoscaled: plan.autoscaled})
        }
      }
    }
  })

  it('refuses what planTraffic refuses (a throughput of 0)', () => {
    expect(() => fleetCosts(tokens, {...options, replicaTokensPerSecond: 0})).toThrow(CapplanError)
  })
})

describe('trafficCrossover', () => {
  it('fixed fleet: the plain crossover of one peak-sized replica: crossoverVolume($1,460, 1,051.2M, $2/1M) = 2,190M', () => {
    // One replica covers a monthly volume whose busy hour is 3.6M tokens: 3.6M x 9.6 x 730 / 24 = 1,051.2M a month.
    const expected = crossoverVolume(1460, 1051.2e6, 2)
    expect(expected.volumeTokensPerMonth).toBeCloseTo(2190e6, 0)
    const fixed = trafficCrossover(business, options, 2, 'fixed')
    expect(fixed.kind).toBe('found')
    expect(fixed.volumeTokensPerMonth!).toBeCloseTo(2190e6, -1)
  })

  it('autoscaled fleet: cheaper to self-host from a lower volume than the fixed one (no idle night to pay)', () => {
    const autoscaled = trafficCrossover(business, options, 2, 'autoscaled')
    expect(autoscaled.volumeTokensPerMonth!).toBeLessThan(trafficCrossover(business, options, 2, 'fixed').volumeTokensPerMonth!)
    // Above it, the fleet costs less than the API at every sampled volume.
    for (const v of [1.01, 1.5, 3, 10].map((k) => k * autoscaled.volumeTokensPerMonth!)) {
      expect(planTraffic(business, v, options).autoscaled.monthlyCost).toBeLessThan((v * 2) / 1e6)
    }
  })

  it('never, when a fully used replica costs more per token than the API', () => {
    // $2/h / 3.6M tokens = $0.556/1M > $0.5/1M
    expect(trafficCrossover(business, options, 0.5, 'autoscaled').kind).toBe('never')
  })
})

describe('traffic files', () => {
  it('one number per line, hour,tokens with a header, or a JSON array; 24 or 168 hours', () => {
    const hours = Array.from({length: 24}, (_, h) => (h + 1) * 1000)
    expect(parseTrafficText(hours.join('\n'), 'a.csv').values).toEqual(hours)
    expect(parseTrafficText(`hour,tokens\n${hours.map((t, h) => `${h},${t}`).join('\n')}`, 'b.csv').values).toEqual(hours)
    expect(parseTrafficText(JSON.stringify(hours), 'c.json').values).toEqual(hours)
    expect(parseTrafficText(JSON.stringify(hours), 'c.json').absolute).toBe(true)
  })

  it('names the line and the problem', () => {
    expect(() => parseTrafficText('1\n2\n3', 'short.csv')).toThrow(/short\.csv/)
    expect(() => parseTrafficText(JSON.stringify([...Array(23).fill(1), -5]), 'neg.json')).toThrow(/hour 23/)
  })

  it('a file is the volume: a --volume with it is refused', () => {
    const file = parseTrafficText(Array(24).fill('3600000').join('\n'), 'f.csv')
    expect(() => planCost({totalTokensPerSecond: 1000, usdPerGpuHour: 2, monthlyVolumeTokens: 1e9, apis: [], traffic: {profile: file}})).toThrow(
      /gives tokens per hour itself/,
    )
    const plan = planCost({totalTokensPerSecond: 1000, usdPerGpuHour: 2, apis: [], traffic: {profile: file}})
    // 3.6M tokens every hour = exactly one replica each hour: 24 x 3.6M x 730 / 24 tokens a month
    expect(plan.traffic!.fixed.replicas).toBe(1)
    expect(plan.traffic!.tokensPerMonth).toBeCloseTo(3.6e6 * 730, 3)
  })
})
