/**
 * The cost choices a user made (already numbers, ids and ratios) + the profile store -> a PlanInput. The rules
 * between choices live here, once, for `plan`, `report`, `compare` and `bench`: a GPU price comes from exactly
 * one place, a pricing tier needs a GPU profile, energy needs a $/kWh and a power. Errors name the flag the
 * user would change.
 */

import {invalidInput} from '../lib/errors.js'
import {formatIoRatio, type IoRatio} from '../lib/units.js'
import type {PricingTier} from '../profiles/schema.js'
import type {ProfileStore} from '../profiles/store.js'
import {DEFAULT_HOURS_PER_MONTH, type PlanApiPrice, type PlanInput} from './plan.js'
import {gpuHourlyPrice, resolveApiPrice} from './pricing.js'

/** Default PUE: 1.0 = the GPUs' own power only. A data center adds cooling etc.: typically 1.1-1.5. */
export const DEFAULT_PUE = 1

/** What `--throughput` / `--gpu` / `--volume` / ... said, as values; absent = not given. */
export interface CostChoices {
  totalTokensPerSecond?: number
  outputTokensPerSecond?: number
  gpusPerReplica?: number
  /** --gpu-price: $ per GPU-hour, instead of a profile's. */
  usdPerGpuHour?: number
  /** --gpu: the GPU profile whose price (and TDP) to use. */
  gpu?: string
  pricing?: PricingTier
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
  const ioRatio = choices.ioRatio ?? {input: 1, output: 1}
  if (choices.outputTokensPerSecond !== undefined && ioRatio.output === 0) {
    throw invalidInput(
      `--output-throughput cannot be used with --io-ratio ${formatIoRatio(ioRatio)} (no output tokens).`,
      'Give --throughput (total tokens/s) instead, or a ratio with output tokens, e.g. --io-ratio 3:1.',
    )
  }

  const gpu = choices.gpu === undefined ? undefined : store.get('gpu', choices.gpu)
  const tier = choices.pricing ?? 'on-demand'
  const gpuPrice = gpu === undefined ? undefined : gpuHourlyPrice(gpu, tier)
  const usdPerGpuHour = gpuPrice?.usdPerHour ?? choices.usdPerGpuHour!
  const gpuPriceSource = gpu === undefined || gpuPrice === undefined ? '--gpu-price' : `${gpu.id} ${tier}: ${gpuPrice.source}, ${gpuPrice.date}`

  let energy: PlanInput['energy']
  if (choices.usdPerKwh === undefined) {
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

  return {
    ...(choices.totalTokensPerSecond === undefined ? {outputTokensPerSecond: choices.outputTokensPerSecond!} : {totalTokensPerSecond: choices.totalTokensPerSecond}),
    usdPerGpuHour,
    gpuPriceSource,
    priceUnit: gpu?.vendor === 'cpu' ? 'machine' : 'GPU',
    gpusPerReplica: choices.gpusPerReplica ?? 1,
    hoursPerMonth: choices.hoursPerMonth ?? DEFAULT_HOURS_PER_MONTH,
    ...(choices.utilization === undefined ? {} : {utilization: choices.utilization}),
    ioRatio,
    ...(choices.monthlyVolumeTokens === undefined ? {} : {monthlyVolumeTokens: choices.monthlyVolumeTokens}),
    ...(choices.dailyVolumeTokens === undefined ? {} : {dailyVolumeTokens: choices.dailyVolumeTokens}),
    ...(choices.peakFactor === undefined ? {} : {peakFactor: choices.peakFactor}),
    apis: resolveApis(store, choices.apis),
    ...(energy === undefined ? {} : {energy}),
  }
}
