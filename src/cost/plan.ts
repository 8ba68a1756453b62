/**
 * planCost: one throughput + one GPU price + a volume + API prices -> everything `capplan plan` shows.
 * Pure: typed values in, typed values out. Units as in ./model.ts (total tokens, per month, $).
 */

import {invalidInput} from '../lib/errors.js'
import {formatIoRatio, formatTokens, formatUsd, type IoRatio} from '../lib/units.js'
import {type ApiGroup, type ComparisonSet, type QualityGap} from './comparison.js'
import {type IoSplit, splitCost} from './io-split.js'
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
import {planOwnership, type OwnershipInput, type OwnershipResult} from './ownership.js'
import {planTraffic, trafficCrossover, type TrafficCrossover, type TrafficPlan, type TrafficProfile} from './traffic.js'

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
  /** $ per 1M input tokens served from the provider's prompt cache; absent = the provider publishes none. */
  cachedInputPerMTok?: number
  source: string
  date: string
  note?: string
  /** Where the comparison put it (cost/comparison.ts); absent = ungrouped. */
  group?: ApiGroup
  servesModel?: string | null
  servedVersion?: string | null
  precision?: string | null
  retired?: boolean
  qualityGap?: QualityGap | null
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
  /** Share of input tokens served from the prompt cache, [0, 1]: APIs charge those at their cached-input price. */
  cacheHitRate?: number
  /** Traffic over the day or week: per-hour replicas, fixed vs autoscaled fleets (cost/traffic.ts). */
  traffic?: {profile: TrafficProfile; headroom?: number; minReplicas?: number; scaleStep?: number}
  /** Which APIs and why, the quality gaps, the quantization's loss (cost/comparison.ts). */
  comparison?: ComparisonSet
  /**
   * --pricing owned: the hardware bought. planCost prices its hour at the utilization the fleet runs at
   * (usdPerGpuHour is only the busy-all-hours figure until then) and compares it with the rental tiers.
   */
  ownedHardware?: {gpu: string; input: OwnershipInput; rents: {tier: string; usdPerHour: number}[]; assumed: string[]; busyUsdPerHour: number}
  /** Fraction of the replica's time spent in prefill (cost/io-split.ts), for $/1M input and output apart. */
  prefillShare?: number
  /** Warnings to carry into the result (stale prices, retired APIs). */
  warnings?: string[]
}

export interface PlanApiResult {
  id: string
  name: string
  variant: string | null
  group: ApiGroup | null
  servesModel: string | null
  servedVersion: string | null
  precision: string | null
  retired: boolean
  qualityGap: QualityGap | null
  inputPerMTok: number
  outputPerMTok: number
  cachedInputPerMTok: number | null
  /** The input price after the cache: (1 - hit) x input + hit x cached (input price when no cached price). */
  effectiveInputPerMTok: number
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
  /** With --traffic: the crossover of each fleet serving this traffic shape; null without traffic. */
  trafficCrossover: {fixed: TrafficCrossover; autoscaled: TrafficCrossover} | null
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
  /** $/1M input and output apart (measured prefill vs decode time); null without a measured share. */
  ioSplit: IoSplit | null
  cacheHitRate: number | null
  traffic: TrafficPlan | null
  ownership: OwnershipResult | null
  comparison: ComparisonSet | null
  apis: PlanApiResult[]
  /** The answer first: the cheapest option at the volume, the twin, the closed alternative, the crossovers. */
  decision: Decision | null
  warnings: string[]
  notes: string[]
}

export interface DecisionOption {
  /** "self-hosted (autoscaled)", an API id. */
  label: string
  kind: 'self-hosted' | 'api'
  monthlyCost: number
  perMTok: number
}

export interface Decision {
  /** Monthly total tokens the decision is for. */
  tokensPerMonth: number
  trafficLabel: string | null
  selfHosted: DecisionOption
  cheapest: DecisionOption
  /** The cheapest hosted twin (same model, or the nearest served one); null when none is compared. */
  hostedTwin: (DecisionOption & {group: ApiGroup; crossover: string}) | null
  /** The cheapest closed API scoring at least the model's score on the comparison benchmark (same harness). */
  closedComparable: (DecisionOption & {gap: QualityGap | null; crossover: string}) | null
  /** One sentence per line, in the order they are printed. */
  lines: string[]
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
  const hit = input.cacheHitRate
  if (hit !== undefined && !(Number.isFinite(hit) && hit >= 0 && hit <= 1)) {
    throw invalidInput(`cacheHitRate must be in [0, 1] (got ${hit}).`, 'e.g. cacheHitRate = 0.5 when half the input tokens come from the prompt cache.')
  }
  if (input.traffic !== undefined && input.utilization !== undefined) {
    throw invalidInput(
      '--utilization and --traffic cannot be used together.',
      '--traffic gives the hours the load comes (utilization follows from it); --utilization is the simple case without it.',
    )
  }
  if (input.energy !== undefined) {
    requirePositive(input.energy.powerWattsPerGpu, 'powerWattsPerGpu', '700')
    requirePositive(input.energy.usdPerKwh, 'usdPerKwh', '0.12')
    if (!(input.energy.pue >= 1)) throw invalidInput(`pue must be >= 1 (got ${input.energy.pue}).`, 'e.g. pue = 1.3 for a typical data center.')
  }
}

/** The fraction of hours an owned GPU is busy in this plan: the fixed fleet's utilization (owned GPUs run all month). */
function busyFraction(plan: PlanResult): number {
  if (plan.traffic !== null) return plan.traffic.fixed.utilization
  const used = plan.fleetUtilization ?? 1
  return used * plan.inputs.utilization
}

export function planCost(input: PlanInput): PlanResult {
  const hardware = input.ownedHardware
  if (hardware === undefined) return planCostAt(input, null)
  // The owned hour depends on how busy the GPUs are (power), and how busy they are does not depend on the price.
  // The first pass needs only the fleet: no API, so no crossover is computed twice.
  const provisional = planCostAt({...input, apis: [], usdPerGpuHour: hardware.busyUsdPerHour}, null)
  const utilization = Math.max(busyFraction(provisional), Number.EPSILON)
  const ownership = planOwnership(hardware.input, Math.min(1, utilization), hardware.rents)
  return planCostAt(
    {
      ...input,
      usdPerGpuHour: ownership.atUtilization.usdPerHour,
      gpuPriceSource: `${hardware.gpu} owned at ${(ownership.atUtilization.utilization * 100).toFixed(1)}% utilization (capital + power + colo + ops)`,
    },
    ownership,
  )
}

function planCostAt(input: PlanInput, ownership: OwnershipResult | null): PlanResult {
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

  const cacheHitRate = input.cacheHitRate ?? null
  const trafficOptions =
    input.traffic === undefined
      ? null
      : {
          replicaTokensPerSecond: totalTokensPerSecond,
          replicaUsdPerHour: input.usdPerGpuHour * gpusPerReplica,
          hoursPerMonth,
          ...(input.traffic.headroom === undefined ? {} : {headroom: input.traffic.headroom}),
          ...(input.traffic.minReplicas === undefined ? {} : {minReplicas: input.traffic.minReplicas}),
          ...(input.traffic.scaleStep === undefined ? {} : {scaleStep: input.traffic.scaleStep}),
        }
  const traffic = input.traffic === undefined ? null : planTraffic(input.traffic.profile, volume?.tokensPerMonth ?? null, trafficOptions!)
  if (traffic !== null && volume !== null && input.traffic!.profile.absolute) {
    throw invalidInput(
      `--traffic ${input.traffic!.profile.label} gives tokens per hour itself; a --volume or --daily-volume would contradict it.`,
      'Drop the volume flag (the file is the volume), or use a built-in shape (diurnal:3) scaled to the volume.',
    )
  }
  // With a traffic file, its own total is the volume.
  const costedVolume = traffic === null ? (volume?.tokensPerMonth ?? null) : traffic.tokensPerMonth

  const apis = input.apis.map((api): PlanApiResult => {
    const cached = api.cachedInputPerMTok ?? null
    const effectiveInputPerMTok = cacheHitRate === null ? api.inputPerMTok : (1 - cacheHitRate) * api.inputPerMTok + cacheHitRate * (cached ?? api.inputPerMTok)
    const blended = blendedApiPrice({inputPerMTok: effectiveInputPerMTok, outputPerMTok: api.outputPerMTok}, ioRatio)
    const monthlyCost = costedVolume === null ? null : apiMonthlyCost(costedVolume, blended.blendedPerMTok)
    const selfCost =
      traffic === null ? selfHostedMonthlyCost : ownership !== null ? traffic.fixed.monthlyCost : Math.min(traffic.fixed.monthlyCost, traffic.autoscaled.monthlyCost)
    return {
      id: api.id,
      name: api.name,
      variant: api.variant,
      group: api.group ?? null,
      servesModel: api.servesModel ?? null,
      servedVersion: api.servedVersion ?? null,
      precision: api.precision ?? null,
      retired: api.retired ?? false,
      qualityGap: api.qualityGap ?? null,
      inputPerMTok: api.inputPerMTok,
      outputPerMTok: api.outputPerMTok,
      cachedInputPerMTok: cached,
      effectiveInputPerMTok,
      ...blended,
      monthlyCost,
      monthlyInputCost: costedVolume === null ? null : apiMonthlyCost(costedVolume, blended.inputPartPerMTok),
      monthlyOutputCost: costedVolume === null ? null : apiMonthlyCost(costedVolume, blended.outputPartPerMTok),
      annualCost: monthlyCost === null ? null : monthlyCost * MONTHS_PER_YEAR,
      monthlySavingBySelfHosting: monthlyCost === null || selfCost === null ? null : monthlyCost - selfCost,
      crossover: crossoverVolume(replicaCost, capacity, blended.blendedPerMTok),
      trafficCrossover:
        traffic === null
          ? null
          : {
              fixed: trafficCrossover(input.traffic!.profile, trafficOptions!, blended.blendedPerMTok, 'fixed'),
              autoscaled: trafficCrossover(input.traffic!.profile, trafficOptions!, blended.blendedPerMTok, 'autoscaled'),
            },
      breakEvenThroughputTokensPerSecond: breakEvenTokensPerSecond(replicaCost, blended.blendedPerMTok, hoursPerMonth, utilization),
      priceSource: api.source,
      priceDate: api.date,
      ...(api.note === undefined ? {} : {priceNote: api.note}),
    }
  })

  const notes: string[] = []
  if (cacheHitRate !== null) {
    const uncached = apis.filter((api) => api.cachedInputPerMTok === null).map((api) => api.id)
    notes.push(
      `APIs priced with ${Number((cacheHitRate * 100).toPrecision(4))}% of input tokens at their cached-input price` +
        (uncached.length > 0 ? ` (${uncached.join(', ')} publish no cached price: full input price)` : '') +
        '; the self-hosted throughput is the one measured for this workload.',
    )
  }
  if (traffic !== null) {
    notes.push(
      `Traffic ${traffic.profile.label} (${traffic.profile.description}): replicas per hour = ceil(tokens that hour x (1 + headroom ${traffic.headroom}) / ` +
        `${formatTokens(traffic.replicaTokensPerHour)} tokens per replica-hour); fixed fleet = the peak all month, autoscaled = each hour's replicas.`,
    )
  } else if (utilization === 1) {
    notes.push(
      'Capacity assumes the replica runs at this throughput every hour of the month (utilization 1); use a throughput ' +
        'measured at your latency target with batching, never batch-1 tok/s x 24/7.',
    )
  }
  if (energy !== null) notes.push('Energy cost is shown separately; it is not included in the self-hosted cost.')

  const ioSplit = input.prefillShare === undefined ? null : splitCost(replicaCost, capacity * shares.input, capacity * shares.output, input.prefillShare)
  const decision = costedVolume === null ? null : decide(costedVolume, traffic, selfHostedMonthlyCost!, apis, ownership !== null)
  if (ownership !== null) {
    notes.push(`Owned: ${[...input.ownedHardware!.assumed].join('; ')}.`)
    if (traffic !== null) notes.push('Owned GPUs are paid every hour: the fleet is the fixed one (scaling down would save only power).')
  }
  for (const note of input.comparison?.notes ?? []) notes.push(note)
  if (input.comparison?.twinNote) notes.push(`Same model, hosted: ${input.comparison.twinNote}.`)

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
    ioSplit,
    cacheHitRate,
    traffic,
    ownership,
    comparison: input.comparison ?? null,
    apis,
    decision,
    warnings: input.warnings ?? [],
    notes,
  }
}

function crossoverText(api: PlanApiResult, traffic: TrafficPlan | null, autoscale: boolean): string {
  if (traffic === null) return api.crossover.reason
  const fleet = autoscale ? 'autoscaled' : 'fixed'
  return `${api.trafficCrossover![fleet].reason} (${fleet} fleet)`
}

/** The answer first: what is cheapest at this volume, and how the self-hosted option compares with the twin and a closed API. */
function decide(tokensPerMonth: number, traffic: TrafficPlan | null, plainSelfCost: number, apis: PlanApiResult[], owned: boolean): Decision {
  // Owned GPUs are paid for every hour: their fleet is the fixed one (scaling down saves only power).
  const autoscale = traffic !== null && !owned && traffic.autoscaled.monthlyCost <= traffic.fixed.monthlyCost
  const selfCost = traffic === null ? plainSelfCost : autoscale ? traffic.autoscaled.monthlyCost : traffic.fixed.monthlyCost
  const selfLabel = traffic === null ? 'self-hosted' : autoscale ? 'self-hosted (autoscaled)' : 'self-hosted (fixed fleet)'
  const selfHosted: DecisionOption = {
    label: selfLabel,
    kind: 'self-hosted',
    monthlyCost: selfCost,
    perMTok: traffic === null ? (selfCost * 1e6) / tokensPerMonth : autoscale ? traffic.autoscaled.costPerMillionTokens : traffic.fixed.costPerMillionTokens,
  }
  const apiOption = (api: PlanApiResult): DecisionOption => ({label: api.id, kind: 'api', monthlyCost: api.monthlyCost!, perMTok: api.blendedPerMTok})
  const live = apis.filter((api) => !api.retired)
  const cheapestOf = (list: PlanApiResult[]) => list.reduce<PlanApiResult | null>((best, api) => (best === null || api.monthlyCost! < best.monthlyCost! ? api : best), null)
  const twin = cheapestOf(live.filter((api) => api.group === 'same-model')) ?? cheapestOf(live.filter((api) => api.group === 'nearest-model'))
  const closed = live.filter((api) => api.group === 'closed')
  const comparable = closed.filter((api) => api.qualityGap !== null && api.qualityGap.difference >= 0)
  const closedPick = cheapestOf(comparable) ?? (comparable.length === 0 && closed.every((api) => api.qualityGap === null) ? cheapestOf(closed) : null)
  const options = [selfHosted, ...live.map(apiOption)]
  const cheapest = options.reduce((best, option) => (option.monthlyCost < best.monthlyCost ? option : best))
  const lines: string[] = []
  lines.push(
    `At ${formatTokens(tokensPerMonth)} tokens/month${traffic === null ? '' : ` (traffic ${traffic.profile.label})`}, the cheapest option is ` +
      `${cheapest.label} at ${formatUsd(cheapest.monthlyCost)}/month (${formatUsd(cheapest.perMTok)}/1M).`,
  )
  if (cheapest.kind === 'api') lines.push(`Self-hosting costs ${formatUsd(selfCost)}/month (${formatUsd(selfHosted.perMTok)}/1M served).`)
  if (twin !== null) {
    lines.push(
      `Same model, hosted: ${twin.id}${twin.group === 'nearest-model' ? ` (serves ${twin.servesModel}, the nearest served model)` : ''} at ` +
        `${formatUsd(twin.monthlyCost!)}/month (${formatUsd(twin.blendedPerMTok)}/1M); ${crossoverText(twin, traffic, autoscale)}.`,
    )
  } else lines.push('Same model, hosted: no API profile serves this model (add one with servesModel, see README).')
  if (closedPick !== null) {
    const gap = closedPick.qualityGap
    lines.push(
      `Closed API${gap === null ? '' : ' of comparable quality'}: ${closedPick.id} at ${formatUsd(closedPick.monthlyCost!)}/month ` +
        `(${gap === null ? 'no same-harness score to compare' : `${gap.text}, ${gap.harness}`}); ${crossoverText(closedPick, traffic, autoscale)}.`,
    )
  } else if (closed.length > 0) {
    lines.push('Closed APIs: none compared scores at least as high as this model on the same benchmark and harness.')
  }
  return {
    tokensPerMonth,
    trafficLabel: traffic?.profile.label ?? null,
    selfHosted,
    cheapest,
    hostedTwin: twin === null ? null : {...apiOption(twin), group: twin.group!, crossover: crossoverText(twin, traffic, autoscale)},
    closedComparable: closedPick === null ? null : {...apiOption(closedPick), gap: closedPick.qualityGap, crossover: crossoverText(closedPick, traffic, autoscale)},
    lines,
  }
}
