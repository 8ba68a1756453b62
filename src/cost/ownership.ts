/**
 * Buy vs rent: the effective $/GPU-hour of a GPU you own, from its purchase price, life, resale value, power,
 * colocation and operations, and the utilization above which owning beats renting. Pure; $ and hours.
 *
 *   capital $/h = (price - residual / (1 + i)^n) x CRF(i, n) / hours per year      (i = 0: (price - residual) / n)
 *                 CRF(i, n) = i (1 + i)^n / ((1 + i)^n - 1), the annual payment that repays 1 $ over n years
 *   power $/h   = (idle W + (busy W - idle W) x utilization) x PUE / 1000 x $/kWh
 *   colo $/h    = busy W / 1000 x colo $ per kW-month / hours per month      (space and cooling for the IT load)
 *   ops $/h     = ops overhead x (capital + power + colo)                      (staff, spares, network, software)
 *   owned $/h   = capital + power + colo + ops
 *
 * Renting is paid only for the hours used (an autoscaled fleet); owning is paid every hour. So owning wins
 * when owned(u) < rent x u for the fraction u of hours a GPU is busy:
 *   u* = (fixed part) / (rent - busy-dependent part),  fixed = (capital + colo + idle power) x (1 + ops),
 *   busy-dependent = (busy W - idle W) x PUE / 1000 x $/kWh x (1 + ops).
 */

import {invalidInput} from '../lib/errors.js'
import {MONTHS_PER_YEAR} from './model.js'

/**
 * What `--pricing owned` assumes when a flag does not say otherwise, each with its source. Nothing hidden:
 * the plan prints every figure it used.
 */
export const OWNED_DEFAULTS = {
  /** PUE 1.2: a modern data center (1.4-1.6 older ones); capplan reference prices-2026.md, 2026-10. */
  pue: {value: 1.2, source: 'PUE 1.2, a modern data center (prices-2026.md, 2026-10)'},
  /** 135 $/kW-month: the middle of the 110-160 wholesale colocation range; prices-2026.md, 2026-10. */
  coloUsdPerKwMonth: {value: 135, source: 'colo 135 $/kW-month, the middle of 110-160 wholesale (prices-2026.md, 2026-10)'},
  /** 0.0806 $/kWh: the US industrial average retail price in 2023 (EIA via Statista, published 2024-03). */
  usdPerKwh: {value: 0.0806, source: '$0.0806/kWh, US industrial average 2023 (EIA, via Statista 2024-03)'},
  /** No operations overhead and no cost of capital unless given: both are the buyer's own figures. */
  opsOverhead: {value: 0, source: 'no ops overhead (--ops-overhead adds staff, spares, network)'},
  costOfCapital: {value: 0, source: 'no cost of capital (straight-line; --cost-of-capital 0.08 for 8%/year)'},
} as const

export interface OwnershipInput {
  usdPerGpu: number
  usefulLifeYears: number
  /** Resale value at the end of the life, as a fraction of the price. */
  residualFraction: number
  /** Annual cost of capital (interest), default 0 = straight-line depreciation. */
  costOfCapital?: number
  idleWatts: number
  busyWatts: number
  /** Where the watts come from (profile source, flag). */
  powerSource: string
  pue: number
  usdPerKwh: number
  /** $ per kW of IT load per month; 0 = the hardware sits in your own building at no extra cost. */
  coloUsdPerKwMonth: number
  /** Fraction added on top for operations; 0.1 = +10%. */
  opsOverhead: number
  hoursPerMonth: number
  /** Where the purchase figures come from. */
  purchaseSource: string
}

export interface OwnedGpuHour {
  capitalPerHour: number
  powerPerHour: number
  coloPerHour: number
  opsPerHour: number
  /** The total at the given utilization. */
  usdPerHour: number
  utilization: number
}

export interface OwnershipResult {
  input: OwnershipInput
  /** Owned $/GPU-hour at the utilization the plan runs at. */
  atUtilization: OwnedGpuHour
  /** Owned $/GPU-hour when busy every hour (utilization 1). */
  busy: OwnedGpuHour
  /** Capital recovery factor used (per year). */
  capitalRecoveryFactor: number
  /** Against each rental price: the utilization above which owning is cheaper (null = never, at any utilization <= 1). */
  versusRent: {tier: string; usdPerHour: number; breakEvenUtilization: number | null; reason: string}[]
}

function validate(input: OwnershipInput): void {
  const positive: [number, string][] = [
    [input.usdPerGpu, 'the purchase price'],
    [input.usefulLifeYears, 'the useful life'],
    [input.busyWatts, 'busy power'],
    [input.pue, '--pue'],
    [input.hoursPerMonth, 'hours per month'],
  ]
  for (const [value, what] of positive)
    if (!(Number.isFinite(value) && value > 0)) throw invalidInput(`${what} must be > 0 (got ${value}).`, 'Check the GPU profile or the flag.')
  if (!(input.residualFraction >= 0 && input.residualFraction < 1))
    throw invalidInput(`The residual fraction must be in [0, 1) (got ${input.residualFraction}).`, 'e.g. 0.1 = sold for 10% of the price.')
  if (!(input.idleWatts >= 0 && input.idleWatts <= input.busyWatts))
    throw invalidInput(`Idle power ${input.idleWatts} W must be between 0 and busy power ${input.busyWatts} W.`, 'Check the GPU profile power figures.')
  if (!(input.pue >= 1)) throw invalidInput(`--pue must be >= 1 (got ${input.pue}).`, 'e.g. --pue 1.3.')
  for (const [value, what] of [
    [input.usdPerKwh, '--kwh-price'],
    [input.coloUsdPerKwMonth, '--colo-kw-month'],
    [input.opsOverhead, '--ops-overhead'],
    [input.costOfCapital ?? 0, '--cost-of-capital'],
  ] as const) {
    if (!(Number.isFinite(value) && value >= 0)) throw invalidInput(`${what} must be >= 0 (got ${value}).`, 'Give a number >= 0.')
  }
}

/** CRF(i, n): the annual payment that repays 1 $ over n years at rate i; 1 / n at i = 0. */
export function capitalRecoveryFactor(rate: number, years: number): number {
  if (rate === 0) return 1 / years
  const growth = (1 + rate) ** years
  return (rate * growth) / (growth - 1)
}

export function ownedGpuHour(input: OwnershipInput, utilization: number): OwnedGpuHour {
  const rate = input.costOfCapital ?? 0
  const hoursPerYear = input.hoursPerMonth * MONTHS_PER_YEAR
  const residualToday = (input.usdPerGpu * input.residualFraction) / (1 + rate) ** input.usefulLifeYears
  const capitalPerHour = ((input.usdPerGpu - residualToday) * capitalRecoveryFactor(rate, input.usefulLifeYears)) / hoursPerYear
  const watts = input.idleWatts + (input.busyWatts - input.idleWatts) * utilization
  const powerPerHour = ((watts * input.pue) / 1000) * input.usdPerKwh
  const coloPerHour = ((input.busyWatts / 1000) * input.coloUsdPerKwMonth) / input.hoursPerMonth
  const opsPerHour = input.opsOverhead * (capitalPerHour + powerPerHour + coloPerHour)
  return {capitalPerHour, powerPerHour, coloPerHour, opsPerHour, usdPerHour: capitalPerHour + powerPerHour + coloPerHour + opsPerHour, utilization}
}

/** The utilization above which owning beats renting at `rentPerHour` (paid only for busy hours); null = never. */
export function breakEvenUtilization(input: OwnershipInput, rentPerHour: number): number | null {
  const idle = ownedGpuHour(input, 0)
  const busy = ownedGpuHour(input, 1)
  const fixed = idle.usdPerHour
  const variable = busy.usdPerHour - idle.usdPerHour
  if (rentPerHour <= variable) return null
  const u = fixed / (rentPerHour - variable)
  return u <= 1 ? u : null
}

export function planOwnership(input: OwnershipInput, utilization: number, rents: {tier: string; usdPerHour: number}[]): OwnershipResult {
  validate(input)
  if (!(utilization > 0 && utilization <= 1)) throw invalidInput(`utilization must be in (0, 1] (got ${utilization}).`, 'e.g. --utilization 0.6.')
  const busy = ownedGpuHour(input, 1)
  return {
    input,
    atUtilization: ownedGpuHour(input, utilization),
    busy,
    capitalRecoveryFactor: capitalRecoveryFactor(input.costOfCapital ?? 0, input.usefulLifeYears),
    versusRent: rents.map((rent) => {
      const u = breakEvenUtilization(input, rent.usdPerHour)
      return {
        tier: rent.tier,
        usdPerHour: rent.usdPerHour,
        breakEvenUtilization: u,
        reason:
          u === null
            ? `renting ${rent.tier} at $${rent.usdPerHour}/h is cheaper at any utilization (owned costs $${busy.usdPerHour.toFixed(2)}/h busy)`
            : `owning is cheaper than renting ${rent.tier} when the GPU is busy more than ${(u * 100).toFixed(1)}% of the hours`,
      }
    }),
  }
}
