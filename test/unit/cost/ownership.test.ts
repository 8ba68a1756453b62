import {describe, expect, it} from 'vitest'

import {breakEvenUtilization, capitalRecoveryFactor, ownedGpuHour, planOwnership, type OwnershipInput} from '../../../src/cost/ownership.js'
import {planCost} from '../../../src/cost/plan.js'
import {CapplanError} from '../../../src/lib/errors.js'

// An H100 SXM as its profile has it: $30,000, 4 years, no resale, 80 W idle / 700 W busy; PUE 1.2,
// $0.0806/kWh, colo $135/kW-month, no ops, no cost of capital, 730 h a month.
const h100: OwnershipInput = {
  usdPerGpu: 30000,
  usefulLifeYears: 4,
  residualFraction: 0,
  costOfCapital: 0,
  idleWatts: 80,
  busyWatts: 700,
  powerSource: 'test',
  pue: 1.2,
  usdPerKwh: 0.0806,
  coloUsdPerKwMonth: 135,
  opsOverhead: 0,
  hoursPerMonth: 730,
  purchaseSource: 'test',
}

describe('capital recovery', () => {
  it('CRF(8%, 4 years) = 0.08 x 1.08^4 / (1.08^4 - 1) = 0.3019208; CRF(0, n) = 1/n', () => {
    expect(capitalRecoveryFactor(0.08, 4)).toBeCloseTo((0.08 * 1.08 ** 4) / (1.08 ** 4 - 1), 12)
    expect(capitalRecoveryFactor(0.08, 4)).toBeCloseTo(0.3019208, 7)
    expect(capitalRecoveryFactor(0, 4)).toBe(0.25)
  })
})

describe('ownedGpuHour', () => {
  it('busy all hours: capital 30000 / 4 / 8760 = $0.85616 + power 700 W x 1.2 x $0.0806 = $0.06770 + colo 0.7 kW x 135 / 730 = $0.12945', () => {
    const busy = ownedGpuHour(h100, 1)
    expect(busy.capitalPerHour).toBeCloseTo(30000 / 4 / 8760, 12)
    expect(busy.powerPerHour).toBeCloseTo((700 * 1.2 * 0.0806) / 1000, 12)
    expect(busy.coloPerHour).toBeCloseTo((0.7 * 135) / 730, 12)
    expect(busy.opsPerHour).toBe(0)
    expect(busy.usdPerHour).toBeCloseTo(0.856164 + 0.067704 + 0.129452, 5)
  })

  it('power follows utilization (idle + (busy - idle) x u); ops is a share of the rest; a residual and interest change capital', () => {
    expect(ownedGpuHour(h100, 0.5).powerPerHour).toBeCloseTo(((80 + 620 * 0.5) * 1.2 * 0.0806) / 1000, 12)
    const withOps = ownedGpuHour({...h100, opsOverhead: 0.15}, 1)
    expect(withOps.opsPerHour).toBeCloseTo(0.15 * (withOps.capitalPerHour + withOps.powerPerHour + withOps.coloPerHour), 12)
    // 10% resale after 4 years at 8%/year: (30000 - 3000 / 1.08^4) x CRF(8%, 4) / 8760
    const financed = ownedGpuHour({...h100, residualFraction: 0.1, costOfCapital: 0.08}, 1)
    expect(financed.capitalPerHour).toBeCloseTo(((30000 - 3000 / 1.08 ** 4) * capitalRecoveryFactor(0.08, 4)) / 8760, 12)
  })
})

describe('owning vs renting', () => {
  it('against on-demand $3.99/h owning wins above u* = (capital + colo + idle power) / (3.99 - busy-dependent power) = 25.28%', () => {
    const fixed = 30000 / 4 / 8760 + (0.7 * 135) / 730 + (80 * 1.2 * 0.0806) / 1000
    const variable = (620 * 1.2 * 0.0806) / 1000
    expect(breakEvenUtilization(h100, 3.99)).toBeCloseTo(fixed / (3.99 - variable), 12)
    expect(breakEvenUtilization(h100, 3.99)).toBeCloseTo(0.25276, 4)
    // at u*, owning costs exactly what renting only the busy hours does
    const u = breakEvenUtilization(h100, 3.99)!
    expect(ownedGpuHour(h100, u).usdPerHour).toBeCloseTo(3.99 * u, 12)
  })

  it('never, when even a busy owned GPU costs more than the rent', () => {
    expect(breakEvenUtilization(h100, 0.5)).toBeNull()
    expect(planOwnership(h100, 1, [{tier: 'spot', usdPerHour: 0.5}]).versusRent[0]!.reason).toMatch(/cheaper at any utilization/)
  })

  it('refuses figures that make no sense, naming them', () => {
    expect(() => planOwnership({...h100, idleWatts: 800}, 1, [])).toThrow(/Idle power 800 W/)
    expect(() => planOwnership({...h100, residualFraction: 1}, 1, [])).toThrow(CapplanError)
  })
})

describe('planCost with owned hardware', () => {
  it('prices the owned hour at the fleet utilization: 100M tokens on 1 replica of 64.8M x 2 capacity -> 77.2% busy', () => {
    const rents = [{tier: 'on-demand', usdPerHour: 3.99}]
    const plan = planCost({
      totalTokensPerSecond: 25,
      usdPerGpuHour: 1, // replaced by the owned hour
      hoursPerMonth: 720,
      monthlyVolumeTokens: 100e6,
      apis: [],
      ownedHardware: {gpu: 'h100-sxm', input: {...h100, hoursPerMonth: 720}, rents, assumed: [], busyUsdPerHour: ownedGpuHour({...h100, hoursPerMonth: 720}, 1).usdPerHour},
    })
    // 25 tok/s x 3600 x 720 = 64.8M a month per replica: 2 replicas, used 100 / 129.6
    const u = 100 / 129.6
    expect(plan.replicas).toBe(2)
    expect(plan.ownership!.atUtilization.utilization).toBeCloseTo(u, 12)
    expect(plan.inputs.usdPerGpuHour).toBeCloseTo(ownedGpuHour({...h100, hoursPerMonth: 720}, u).usdPerHour, 12)
    expect(plan.selfHostedMonthlyCost).toBeCloseTo(2 * plan.inputs.usdPerGpuHour * 720, 9)
  })
})
