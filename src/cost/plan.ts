/**
 * planCost: one throughput + one GPU price + a volume + API prices -> everything `capplan plan` shows.
 * Pure: typed values in, typed values out. Units as in ./model.ts (total tokens, per month, $).
 */

import {invalidInput} from '../lib/errors.js'
import {formatIoRatio, type IoRatio} from '../lib/units.js'
import {
  apiMonthlyCost,
  blendedApiPrice,
  breakEvenTokensPerSecond,
  costPerMillionTokens,
  crossoverVolume,
  energyCost,
  ioShares,
  monthlyFromDailyVolume,
  MONTHS_PER_YEAR,
  replicaCapacityTokensPerMonth,
  replicaMonthlyCost,
  replicasForVolume,
  totalFromOutputTokensPerSecond,
  type Crossover,
  type EnergyInput,
} from './model.js'

/** 365 days / 12 months x 24 h. */
export const DEFAULT_HOURS_PER_MONTH = 730
export const DEFAULT_UTILIZATION = 1
/** 1:1 by default: it is what seed 000's "averaged" prices assume; pass 3:1 for Artificial Analysis' blend. */
export const DEFAULT_IO_RATIO: IoRatio = {input: 1, output: 1}

/** An API price as planCost needs it (profiles' ResolvedApiPrice satisfies it). */
export interface PlanApiPrice {
  id: string
  name: string
  variant: string | null
  inputPerMTok: number
  outputPerMTok: number
  source: string
  date: string
  note?: string
}

export type PriceUnit = 'GPU' | 'machine'

export interface PlanInput {
  /** Total (input + output) tokens per second ONE replica sustains. Give this or outputTokensPerSecond. */
  totalTokensPerSecond?: number
  /** Output tokens per second of one replica; converted to total with ioRatio (total = out x (r + 1) for r:1). */
  outputTokensPerSecond?: number
  usdPerGpuHour: number
  /** Where the GPU price came from, e.g. "--gpu-price" or "h100-sxm spot (CoreWeave, 2026-11)". */
  gpuPriceSource?: string
  /** GPUs per replica (default 1). */
  gpusPerReplica?: number
  /** What one priced unit is: a GPU, or a whole CPU machine (the `cpu` profile). Only changes wording. */
  priceUnit?: PriceUnit
  /** Default 730 (365 days / 12); 720 = 30 days (seed 000). */
  hoursPerMonth?: number
  /** Fraction of the month a replica runs at its throughput, (0, 1]; default 1. */
  utilization?: number
  /** Input:output token ratio; default 1:1. */
  ioRatio?: IoRatio
  /** Total tokens per month. At most one of monthlyVolumeTokens / dailyVolumeTokens. */
  monthlyVolumeTokens?: number
  /** Total tokens per day; per month = per day x hoursPerMonth / 24. */
  dailyVolumeTokens?: number
  /** Peak-to-average load ratio (>= 1): replicas for the peak = ceil(volume x peak / capacity). */
  peakFactor?: number
  apis: PlanApiPrice[]
  /** Owned GPUs: energy cost (reported beside, not inside, selfHostedMonthlyCost). */
  energy?: EnergyInput
}

export interface PlanApiResult {
  id: string
  name: string
  variant: string | null
  inputPerMTok: number
  outputPerMTok: number
  blendedPerMTok: number
  /** Parts of blendedPerMTok paid for input and for output tokens at the ratio. */
  inputPartPerMTok: number
  outputPartPerMTok: number
  /** At the volume; null without a volume. */
  monthlyCost: number | null
  monthlyInputCost: number | null
  monthlyOutputCost: number | null
  annualCost: number | null
  /** API monthly cost minus self-hosted monthly cost (positive = self-hosting saves); null without a volume. */
  monthlySavingBySelfHosting: number | null
  crossover: Crossover
  breakEvenThroughputTokensPerSecond: number
  priceSource: string
  priceDate: string
  priceNote?: string
}

export interface PlanResult {
  inputs: {
    totalTokensPerSecond: number
    outputTokensPerSecond: number | null
    throughputGivenAs: 'total' | 'output'
    usdPerGpuHour: number
    gpuPriceSource: string
    gpusPerReplica: number
    priceUnit: PriceUnit
    hoursPerMonth: number
    utilization: number
    ioRatio: IoRatio & {label: string}
    volume: {tokensPerMonth: number; tokensPerDay: number | null; givenAs: 'monthly' | 'daily'} | null
    peakFactor: number | null
  }
  replicaMonthlyCost: number
  replicaCapacityTokensPerMonth: number
  /** $ per 1M total tokens at full capacity of a replica. */
  costPerMillionTokens: number
  /** $ per 1M output tokens (all of the replica's cost charged to its output tokens); null at an N:0 ratio. */
  costPerMillionOutputTokens: number | null
  replicas: number | null
  gpus: number | null
  selfHostedMonthlyCost: number | null
  selfHostedAnnualCost: number | null
  /** Fraction of the fleet's capacity the volume uses (volume / (replicas x capacity)). */
  fleetUtilization: number | null
  peak: {factor: number; replicas: number; gpus: number; monthlyCost: number; annualCost: number} | null
  energy: (EnergyInput & {kwhPerReplicaMonth: number; monthlyCostPerReplica: number; monthlyCostForFleet: number | null}) | null
  apis: PlanApiResult[]
  notes: string[]
}

function requirePositive(value: number, field: string, example: string): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw invalidInput(`${field} must be a positive number (got ${value}).`, `Give e.g. ${field} = ${example}.`)
  }
}

/** Reject what would make the arithmetic meaningless (commands validate flags first, with flag names). */
function validate(input: PlanInput): void {
  const hasTotal = input.totalTokensPerSecond !== undefined
  const hasOutput = input.outputTokensPerSecond !== undefined
  if (hasTotal === hasOutput) {
    throw invalidInput('Give exactly one of totalTokensPerSecond and outputTokensPerSecond.', 'e.g. totalTokensPerSecond = 25.')
  }
  if (hasTotal) requirePositive(input.totalTokensPerSecond!, 'totalTokensPerSecond', '25')
  if (hasOutput) requirePositive(input.outputTokensPerSecond!, 'outputTokensPerSecond', '12.5')
  requirePositive(input.usdPerGpuHour, 'usdPerGpuHour', '2.5')
  if (input.gpusPerReplica !== undefined && (!Number.isInteger(input.gpusPerReplica) || input.gpusPerReplica < 1)) {
    throw invalidInput(`gpusPerReplica must be a whole number >= 1 (got ${input.gpusPerReplica}).`, 'e.g. gpusPerReplica = 8.')
  }
  if (input.hoursPerMonth !== undefined) {
    requirePositive(input.hoursPerMonth, 'hoursPerMonth', '730')
    if (input.hoursPerMonth > 744) {
      throw invalidInput(`hoursPerMonth must be at most 744 (31 days); got ${input.hoursPerMonth}.`, 'Use 730 (365/12 days) or 720 (30 days).')
    }
  }
  const u = input.utilization
  if (u !== undefined && !(Number.isFinite(u) && u > 0 && u <= 1)) {
    throw invalidInput(`utilization must be in (0, 1] (got ${u}).`, 'e.g. utilization = 0.6 for a replica busy 60% of the time.')
  }
  if (input.monthlyVolumeTokens !== undefined && input.dailyVolumeTokens !== undefined) {
    throw invalidInput('Give a monthly or a daily volume, not both.', 'e.g. monthlyVolumeTokens = 100e6.')
  }
  if (input.monthlyVolumeTokens !== undefined) requirePositive(input.monthlyVolumeTokens, 'monthlyVolumeTokens', '100e6')
  if (input.dailyVolumeTokens !== undefined) requirePositive(input.dailyVolumeTokens, 'dailyVolumeTokens', '100e6')
  if (input.peakFactor !== undefined && !(Number.isFinite(input.peakFactor) && input.peakFactor >= 1)) {
    throw invalidInput(`peakFactor must be >= 1 (got ${input.peakFactor}).`, 'e.g. peakFactor = 3 when the busiest hour carries 3x the average load.')
  }
  const ratio = input.ioRatio
  if (ratio !== undefined && !(ratio.input >= 0 && ratio.output >= 0 && ratio.input + ratio.output > 0)) {
    throw invalidInput(`ioRatio ${ratio.input}:${ratio.output} is not a ratio of token counts.`, 'e.g. ioRatio = {input: 3, output: 1}.')
  }
  if (hasOutput && ratio !== undefined && ratio.output === 0) {
    throw invalidInput(
      `An output throughput cannot be converted at the ratio ${ratio.input}:0 (no output tokens).`,
      'Give the total throughput instead, or a ratio with output tokens, e.g. 3:1.',
    )
  }
  for (const api of input.apis) {
    if (!(api.inputPerMTok >= 0 && api.outputPerMTok >= 0)) {
      throw invalidInput(`API ${api.id} has a negative or missing price.`, 'Prices are $ per 1M tokens, >= 0.')
    }
  }
  if (input.energy !== undefined) {
    requirePositive(input.energy.powerWattsPerGpu, 'powerWattsPerGpu', '700')
    requirePositive(input.energy.usdPerKwh, 'usdPerKwh', '0.12')
    if (!(input.energy.pue >= 1)) throw invalidInput(`pue must be >= 1 (got ${input.energy.pue}).`, 'e.g. pue = 1.3 for a typical data center.')
  }
}

export function planCost(input: PlanInput): PlanResult {
  validate(input)
  const hoursPerMonth = input.hoursPerMonth ?? DEFAULT_HOURS_PER_MONTH
  const utilization = input.utilization ?? DEFAULT_UTILIZATION
  const gpusPerReplica = input.gpusPerReplica ?? 1
  const ioRatio = input.ioRatio ?? DEFAULT_IO_RATIO
  const shares = ioShares(ioRatio)

  const totalTokensPerSecond = input.totalTokensPerSecond ?? totalFromOutputTokensPerSecond(input.outputTokensPerSecond!, ioRatio)
  const replicaCost = replicaMonthlyCost(input.usdPerGpuHour, gpusPerReplica, hoursPerMonth)
  const capacity = replicaCapacityTokensPerMonth(totalTokensPerSecond, hoursPerMonth, utilization)
  const selfPerMTok = costPerMillionTokens(replicaCost, capacity)

  const volume =
    input.monthlyVolumeTokens !== undefined
      ? {tokensPerMonth: input.monthlyVolumeTokens, tokensPerDay: null, givenAs: 'monthly' as const}
      : input.dailyVolumeTokens !== undefined
        ? {
            tokensPerMonth: monthlyFromDailyVolume(input.dailyVolumeTokens, hoursPerMonth),
            tokensPerDay: input.dailyVolumeTokens,
            givenAs: 'daily' as const,
          }
        : null

  const replicas = volume === null ? null : replicasForVolume(volume.tokensPerMonth, capacity)
  const selfHostedMonthlyCost = replicas === null ? null : replicas * replicaCost
  const peakFactor = input.peakFactor ?? null
  const peak =
    volume === null || peakFactor === null
      ? null
      : (() => {
          const peakReplicas = replicasForVolume(volume.tokensPerMonth * peakFactor, capacity)
          return {
            factor: peakFactor,
            replicas: peakReplicas,
            gpus: peakReplicas * gpusPerReplica,
            monthlyCost: peakReplicas * replicaCost,
            annualCost: peakReplicas * replicaCost * MONTHS_PER_YEAR,
          }
        })()

  const energy =
    input.energy === undefined
      ? null
      : (() => {
          const cost = energyCost(input.energy, gpusPerReplica, hoursPerMonth)
          return {
            ...input.energy,
            ...cost,
            monthlyCostForFleet: replicas === null ? null : replicas * cost.monthlyCostPerReplica,
          }
        })()

  const apis = input.apis.map((api): PlanApiResult => {
    const blended = blendedApiPrice(api, ioRatio)
    const monthlyCost = volume === null ? null : apiMonthlyCost(volume.tokensPerMonth, blended.blendedPerMTok)
    return {
      id: api.id,
      name: api.name,
      variant: api.variant,
      inputPerMTok: api.inputPerMTok,
      outputPerMTok: api.outputPerMTok,
      ...blended,
      monthlyCost,
      monthlyInputCost: volume === null ? null : apiMonthlyCost(volume.tokensPerMonth, blended.inputPartPerMTok),
      monthlyOutputCost: volume === null ? null : apiMonthlyCost(volume.tokensPerMonth, blended.outputPartPerMTok),
      annualCost: monthlyCost === null ? null : monthlyCost * MONTHS_PER_YEAR,
      monthlySavingBySelfHosting: monthlyCost === null || selfHostedMonthlyCost === null ? null : monthlyCost - selfHostedMonthlyCost,
      crossover: crossoverVolume(replicaCost, capacity, blended.blendedPerMTok),
      breakEvenThroughputTokensPerSecond: breakEvenTokensPerSecond(replicaCost, blended.blendedPerMTok, hoursPerMonth, utilization),
      priceSource: api.source,
      priceDate: api.date,
      ...(api.note === undefined ? {} : {priceNote: api.note}),
    }
  })

  const notes: string[] = []
  if (utilization === 1) {
    notes.push(
      'Capacity assumes the replica runs at this throughput every hour of the month (utilization 1); use a throughput ' +
        'measured at your latency target with batching, never batch-1 tok/s x 24/7.',
    )
  }
  if (energy !== null) notes.push('Energy cost is shown separately; it is not included in the self-hosted cost.')

  return {
    inputs: {
      totalTokensPerSecond,
      outputTokensPerSecond: input.outputTokensPerSecond ?? (shares.output > 0 ? totalTokensPerSecond * shares.output : null),
      throughputGivenAs: input.totalTokensPerSecond === undefined ? 'output' : 'total',
      usdPerGpuHour: input.usdPerGpuHour,
      gpuPriceSource: input.gpuPriceSource ?? 'given',
      gpusPerReplica,
      priceUnit: input.priceUnit ?? 'GPU',
      hoursPerMonth,
      utilization,
      ioRatio: {...ioRatio, label: formatIoRatio(ioRatio)},
      volume,
      peakFactor,
    },
    replicaMonthlyCost: replicaCost,
    replicaCapacityTokensPerMonth: capacity,
    costPerMillionTokens: selfPerMTok,
    costPerMillionOutputTokens: shares.output > 0 ? costPerMillionTokens(replicaCost, capacity * shares.output) : null,
    replicas,
    gpus: replicas === null ? null : replicas * gpusPerReplica,
    selfHostedMonthlyCost,
    selfHostedAnnualCost: selfHostedMonthlyCost === null ? null : selfHostedMonthlyCost * MONTHS_PER_YEAR,
    fleetUtilization: volume === null || replicas === null ? null : volume.tokensPerMonth / (replicas * capacity),
    peak,
    energy,
    apis,
    notes,
  }
}
