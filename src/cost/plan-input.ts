/**
 * The cost choices a user made (already numbers, ids and ratios) + the profile store -> a PlanInput. The rules
 * between choices live here, once, for `plan`, `report`, `compare` and `bench`: a GPU price comes from exactly
 * one place, a pricing tier needs a GPU profile, energy needs a $/kWh and a power. Errors name the flag the
 * user would change.
 */

import {invalidInput} from '../lib/errors.js'
import {formatIoRatio, type IoRatio} from '../lib/units.js'
import {pricingTiers, type GpuProfile, type PricingTier, type QuantLevel} from '../profiles/schema.js'
import type {ProfileStore} from '../profiles/store.js'
import {comparisonSet, type CompareSpec, type ComparisonSet} from './comparison.js'
import {OWNED_DEFAULTS, ownedGpuHour, type OwnershipInput} from './ownership.js'
import {DEFAULT_HOURS_PER_MONTH, type PlanApiPrice, type PlanInput} from './plan.js'
import {gpuHourlyPrice, resolveApiPrice, stalePriceWarning} from './pricing.js'
import type {TrafficProfile} from './traffic.js'

/** Default PUE: 1.0 = the GPUs' own power only. A data center adds cooling etc.: typically 1.1-1.5. */
export const DEFAULT_PUE = 1

/** --pricing: a rental tier of the GPU profile, or owned (bought: capital recovery + power + colo + ops). */
export const pricingChoices = [...pricingTiers, 'owned'] as const
export type PricingChoice = (typeof pricingChoices)[number]

/** The weight format assumed for a quant level when the plan names none (what quant-loss is looked up by). */
export const DEFAULT_FORMAT: Record<QuantLevel, string | null> = {int4: 'Q4_K_M', int8: 'Q8_0', fp16: null}

/** What `--throughput` / `--gpu` / `--volume` / ... said, as values; absent = not given. */
export interface CostChoices {
  totalTokensPerSecond?: number
  outputTokensPerSecond?: number
  gpusPerReplica?: number
  /** --gpu-price: $ per GPU-hour, instead of a profile's. */
  usdPerGpuHour?: number
  /** --gpu: the GPU profile whose price (and TDP) to use. */
  gpu?: string
  pricing?: PricingChoice
  hoursPerMonth?: number
  utilization?: number
  monthlyVolumeTokens?: number
  dailyVolumeTokens?: number
  ioRatio?: IoRatio
  /** API ids (id@variant for a quoted price); absent = every API profile at its current price. */
  apis?: string[]
  peakFactor?: number
  usdPerKwh?: number
  powerWattsPerGpu?: number
  /** Where powerWattsPerGpu came from, when not from --power-watts (e.g. measured telemetry). */
  powerSource?: string
  pue?: number
  /** --traffic: the hourly profile, already read (a built-in shape or a file's volumes). */
  traffic?: TrafficProfile
  headroom?: number
  minReplicas?: number
  scaleStep?: number
  /** --cache-hit: share of input tokens APIs serve from their prompt cache, [0, 1]. */
  cacheHitRate?: number
  /** --compare: which APIs (default: the hosted twins and the closed APIs). */
  compare?: CompareSpec
  /** --quality-on: the benchmark the quality gaps use. */
  qualityOn?: string
  /** The model measured or planned (a model profile id); absent = no model (every API, ungrouped). */
  model?: string
  quant?: QuantLevel
  /** The weight format (Q4_0, Q4_K_M, AWQ, ...), for the quantization's expected loss. */
  format?: string
  /** --pricing owned: $ per kW-month of colocation, operations overhead, annual cost of capital. */
  coloUsdPerKwMonth?: number
  opsOverhead?: number
  costOfCapital?: number
  /** Today (YYYY-MM-DD), for the stale-price warnings; absent = no warnings (pure callers). */
  today?: string
}

/** API ids -> prices; no list = every API profile at its current price. */
export function resolveApis(store: ProfileStore, ids?: readonly string[]): PlanApiPrice[] {
  if (ids === undefined) return store.list('api').map((api) => resolveApiPrice(store, api.id))
  return ids.map((id) => resolveApiPrice(store, id))
}

export function planInputFor(choices: CostChoices, store: ProfileStore): PlanInput {
  if (choices.totalTokensPerSecond === undefined && choices.outputTokensPerSecond === undefined) {
    throw invalidInput('No throughput given.', 'Give total tokens/s per replica with --throughput 25 (or output tokens/s with --output-throughput 12.5).')
  }
  if (choices.usdPerGpuHour === undefined && choices.gpu === undefined) {
    throw invalidInput('No GPU price given.', 'Give --gpu-price 2.5 ($/GPU-hour) or a GPU profile: --gpu h100-sxm --pricing spot.')
  }
  if (choices.pricing !== undefined && choices.gpu === undefined) {
    throw invalidInput('--pricing needs --gpu (it picks a price tier of a GPU profile).', 'e.g. --gpu h100-sxm --pricing spot, or --gpu-price 2.5 alone.')
  }
  const owned = choices.pricing === 'owned'
  for (const [value, flag] of [
    [choices.coloUsdPerKwMonth, '--colo-kw-month'],
    [choices.opsOverhead, '--ops-overhead'],
    [choices.costOfCapital, '--cost-of-capital'],
  ] as const) {
    if (value !== undefined && !owned) throw invalidInput(`${flag} needs --pricing owned.`, `It prices owned hardware: --gpu h100-sxm --pricing owned ${flag} ...`)
  }
  if (choices.traffic === undefined) {
    for (const [value, flag] of [
      [choices.headroom, '--headroom'],
      [choices.minReplicas, '--min-replicas'],
      [choices.scaleStep, '--scale-step'],
    ] as const) {
      if (value !== undefined) throw invalidInput(`${flag} needs --traffic.`, `It shapes the fleet hour by hour: e.g. --traffic diurnal:3 ${flag} ...`)
    }
  }
  if (choices.traffic !== undefined && choices.utilization !== undefined) {
    throw invalidInput(
      '--utilization and --traffic cannot be used together.',
      '--traffic gives the hours the load comes (utilization follows from it); --utilization is the simple case without it.',
    )
  }
  const ioRatio = choices.ioRatio ?? {input: 1, output: 1}
  if (choices.outputTokensPerSecond !== undefined && ioRatio.output === 0) {
    throw invalidInput(
      `--output-throughput cannot be used with --io-ratio ${formatIoRatio(ioRatio)} (no output tokens).`,
      'Give --throughput (total tokens/s) instead, or a ratio with output tokens, e.g. --io-ratio 3:1.',
    )
  }

  const gpu = choices.gpu === undefined ? undefined : store.get('gpu', choices.gpu)
  const hoursPerMonth = choices.hoursPerMonth ?? DEFAULT_HOURS_PER_MONTH
  const warnings: string[] = []
  let usdPerGpuHour: number
  let gpuPriceSource: string
  let ownedHardware: PlanInput['ownedHardware']
  if (owned) {
    ownedHardware = ownedHardwareFor(gpu!, choices, hoursPerMonth)
    // Provisional: busy every hour; planCost prices the owned hour at the fleet's own utilization.
    usdPerGpuHour = ownedHardware.busyUsdPerHour
    gpuPriceSource = `${gpu!.id} owned`
    if (choices.today !== undefined) pushStale(warnings, `${gpu!.id}'s purchase`, gpu!.purchase!.date, choices.today)
  } else {
    const tier: PricingTier = choices.pricing === undefined || choices.pricing === 'owned' ? 'on-demand' : choices.pricing
    const gpuPrice = gpu === undefined ? undefined : gpuHourlyPrice(gpu, tier)
    usdPerGpuHour = gpuPrice?.usdPerHour ?? choices.usdPerGpuHour!
    gpuPriceSource = gpu === undefined || gpuPrice === undefined ? '--gpu-price' : `${gpu.id} ${tier}: ${gpuPrice.source}, ${gpuPrice.date}`
    if (gpu !== undefined && gpuPrice !== undefined && choices.today !== undefined) pushStale(warnings, `${gpu.id} ${tier}`, gpuPrice.date, choices.today)
  }

  let energy: PlanInput['energy']
  if (owned) {
    // Owned: the power is inside the owned $/GPU-hour (ownership.ts), not a line beside it.
  } else if (choices.usdPerKwh === undefined) {
    if (choices.powerWattsPerGpu !== undefined && choices.powerSource === undefined) {
      throw invalidInput('--power-watts needs --kwh-price.', 'Energy cost is computed only with a price, e.g. --kwh-price 0.12 --power-watts 700.')
    }
    if (choices.pue !== undefined) {
      throw invalidInput('--pue needs --kwh-price.', 'Energy cost is computed only with a price, e.g. --kwh-price 0.12 --pue 1.3.')
    }
  } else {
    let powerWattsPerGpu: number
    let powerSource: string
    if (choices.powerWattsPerGpu !== undefined) {
      powerWattsPerGpu = choices.powerWattsPerGpu
      powerSource = choices.powerSource ?? '--power-watts'
    } else if (gpu?.tdpWatts !== undefined && gpu.tdpWatts !== null) {
      powerWattsPerGpu = gpu.tdpWatts
      powerSource = `${gpu.id} TDP (an upper bound; pass --power-watts for a measured average)`
    } else {
      throw invalidInput(
        `--kwh-price needs the GPU's average power: ${gpu === undefined ? 'no --gpu profile was given' : `GPU profile "${gpu.id}" has no TDP`}.`,
        'Give --power-watts 700 (average watts per GPU), or --gpu ID to use its TDP.',
      )
    }
    energy = {powerWattsPerGpu, powerSource, pue: choices.pue ?? DEFAULT_PUE, usdPerKwh: choices.usdPerKwh}
  }

  const comparison = comparisonFor(choices, store)
  const apis = apiPrices(store, comparison, choices.apis)
  if (choices.today !== undefined) {
    for (const api of apis) if (!api.retired) pushStale(warnings, api.variant === null ? api.id : `${api.id}@${api.variant}`, api.date, choices.today)
  }

  return {
    ...(choices.totalTokensPerSecond === undefined ? {outputTokensPerSecond: choices.outputTokensPerSecond!} : {totalTokensPerSecond: choices.totalTokensPerSecond}),
    usdPerGpuHour,
    gpuPriceSource,
    priceUnit: gpu?.vendor === 'cpu' ? 'machine' : 'GPU',
    gpusPerReplica: choices.gpusPerReplica ?? 1,
    hoursPerMonth,
    ...(choices.utilization === undefined ? {} : {utilization: choices.utilization}),
    ioRatio,
    ...(choices.monthlyVolumeTokens === undefined ? {} : {monthlyVolumeTokens: choices.monthlyVolumeTokens}),
    ...(choices.dailyVolumeTokens === undefined ? {} : {dailyVolumeTokens: choices.dailyVolumeTokens}),
    ...(choices.peakFactor === undefined ? {} : {peakFactor: choices.peakFactor}),
    apis,
    ...(energy === undefined ? {} : {energy}),
    ...(choices.cacheHitRate === undefined ? {} : {cacheHitRate: choices.cacheHitRate}),
    ...(choices.traffic === undefined
      ? {}
      : {
          traffic: {
            profile: choices.traffic,
            ...(choices.headroom === undefined ? {} : {headroom: choices.headroom}),
            ...(choices.minReplicas === undefined ? {} : {minReplicas: choices.minReplicas}),
            ...(choices.scaleStep === undefined ? {} : {scaleStep: choices.scaleStep}),
          },
        }),
    comparison,
    ...(ownedHardware === undefined ? {} : {ownedHardware}),
    warnings,
  }
}

function pushStale(warnings: string[], what: string, date: string, today: string): void {
  const warning = stalePriceWarning(what, date, today)
  if (warning !== null) warnings.push(warning)
}

/** The benchmarks some profile scores (what --compare quality>= and --quality-on may name). */
export function knownBenchmarks(store: ProfileStore): string[] {
  const ids = new Set<string>()
  for (const profile of [...store.list('model'), ...store.list('api')]) for (const score of profile.scores) ids.add(score.benchmark)
  return [...ids].sort()
}

function comparisonFor(choices: CostChoices, store: ProfileStore): ComparisonSet {
  const benchmarks = knownBenchmarks(store)
  for (const [benchmark, flag] of [
    [choices.qualityOn, '--quality-on'],
    [choices.compare?.kind === 'quality' ? choices.compare.benchmark : undefined, '--compare'],
  ] as const) {
    if (benchmark !== undefined && !benchmarks.includes(benchmark)) {
      throw invalidInput(`${flag}: no profile has a score on "${benchmark}".`, `Scored benchmarks: ${benchmarks.join(', ')}.`)
    }
  }
  if (choices.model !== undefined) store.get('model', choices.model)
  const format = choices.format ?? (choices.quant === undefined ? undefined : (DEFAULT_FORMAT[choices.quant] ?? undefined))
  return comparisonSet(store, {
    ...(choices.model === undefined ? {} : {model: choices.model}),
    ...(choices.quant === undefined ? {} : {quant: choices.quant}),
    ...(format === undefined ? {} : {format}),
    ...(choices.compare === undefined ? {} : {compare: choices.compare}),
    ...(choices.apis === undefined ? {} : {apis: choices.apis}),
    ...(choices.qualityOn === undefined ? {} : {benchmark: choices.qualityOn}),
  })
}

/** The compared APIs' prices (a --api id@variant at that variant's price), with where the comparison put each. */
function apiPrices(store: ProfileStore, comparison: ComparisonSet, ids: readonly string[] | undefined): PlanApiPrice[] {
  return comparison.apis.map((api, index) => ({
    ...resolveApiPrice(store, ids?.[index] ?? api.id),
    group: api.group,
    servesModel: api.servesModel,
    servedVersion: api.servedVersion,
    precision: api.precision,
    retired: api.retired,
    qualityGap: api.qualityGap,
  }))
}

/** --pricing owned: the GPU profile's purchase and power, and the flags' colo, PUE, $/kWh, ops and capital. */
function ownedHardwareFor(gpu: GpuProfile, choices: CostChoices, hoursPerMonth: number): NonNullable<PlanInput['ownedHardware']> {
  if (gpu.purchase === undefined) {
    throw invalidInput(
      `GPU profile "${gpu.id}" has no purchase price, so it cannot be priced as owned.`,
      'Pick a rental tier (--pricing on-demand|spot|reserved), or add purchase: {usdPerGpu, usefulLifeYears, residualFraction, source, date} to your own profile (--profiles DIR).',
    )
  }
  let idleWatts: number
  let busyWatts: number
  let powerSource: string
  if (choices.powerWattsPerGpu !== undefined) {
    busyWatts = choices.powerWattsPerGpu
    idleWatts = Math.min(gpu.power?.idleWatts ?? 0, busyWatts)
    powerSource = `busy ${busyWatts} W from ${choices.powerSource ?? '--power-watts'}; idle ${idleWatts} W ${gpu.power === undefined ? '(unknown: 0 assumed)' : `(${gpu.id} profile)`}`
  } else if (gpu.power !== undefined) {
    ;({idleWatts, busyWatts} = gpu.power)
    powerSource = `${gpu.id} profile: ${gpu.power.source}`
  } else if (gpu.tdpWatts !== null) {
    busyWatts = gpu.tdpWatts
    idleWatts = 0
    powerSource = `${gpu.id} TDP ${gpu.tdpWatts} W busy (an upper bound), idle unknown (0 assumed)`
  } else {
    throw invalidInput(`GPU profile "${gpu.id}" has no power figures or TDP.`, 'Give --power-watts W (average watts per GPU when busy).')
  }
  const input: OwnershipInput = {
    usdPerGpu: gpu.purchase.usdPerGpu,
    usefulLifeYears: gpu.purchase.usefulLifeYears,
    residualFraction: gpu.purchase.residualFraction,
    costOfCapital: choices.costOfCapital ?? OWNED_DEFAULTS.costOfCapital.value,
    idleWatts,
    busyWatts,
    powerSource,
    pue: choices.pue ?? OWNED_DEFAULTS.pue.value,
    usdPerKwh: choices.usdPerKwh ?? OWNED_DEFAULTS.usdPerKwh.value,
    coloUsdPerKwMonth: choices.coloUsdPerKwMonth ?? OWNED_DEFAULTS.coloUsdPerKwMonth.value,
    opsOverhead: choices.opsOverhead ?? OWNED_DEFAULTS.opsOverhead.value,
    hoursPerMonth,
    purchaseSource: `${gpu.id} purchase: ${gpu.purchase.source}, ${gpu.purchase.date}`,
  }
  const assumed = [
    ...(choices.pue === undefined ? [OWNED_DEFAULTS.pue.source] : []),
    ...(choices.usdPerKwh === undefined ? [OWNED_DEFAULTS.usdPerKwh.source] : []),
    ...(choices.coloUsdPerKwMonth === undefined ? [OWNED_DEFAULTS.coloUsdPerKwMonth.source] : []),
    ...(choices.opsOverhead === undefined ? [OWNED_DEFAULTS.opsOverhead.source] : []),
    ...(choices.costOfCapital === undefined ? [OWNED_DEFAULTS.costOfCapital.source] : []),
  ]
  const rents = pricingTiers.flatMap((tier) => {
    const price = gpu.prices[tier]
    return price === null || price === undefined ? [] : [{tier, usdPerHour: price.usdPerHour}]
  })
  return {gpu: gpu.id, input, rents, assumed, busyUsdPerHour: ownedGpuHour(input, 1).usdPerHour}
}
