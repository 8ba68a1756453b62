/**
 * `capplan plan`'s flags (as text) + the profile store -> a PlanInput. Every bad value is an INVALID_INPUT
 * error naming the flag and showing a valid value; unknown GPU/API ids are the store's NOT_FOUND errors.
 * No I/O: the store is passed in.
 */

import {invalidInput} from '../../lib/errors.js'
import {parseIoRatio, parsePositiveNumber, parseTokenCount} from '../../lib/units.js'
import {gpuHourlyPrice, resolveApiPrice, type ProfileStore} from '../../profiles/store.js'
import type {PricingTier} from '../../profiles/schema.js'
import {DEFAULT_HOURS_PER_MONTH, type PlanApiPrice, type PlanInput} from '../../cost/plan.js'

/** Default PUE: 1.0 = the GPUs' own power only. A data center adds cooling etc.: typically 1.1-1.5. */
export const DEFAULT_PUE = 1

export interface PlanFlagValues {
  throughput?: string
  'output-throughput'?: string
  gpus?: string
  'gpu-price'?: string
  gpu?: string
  pricing?: PricingTier
  'hours-per-month'?: string
  utilization?: string
  volume?: string
  'daily-volume'?: string
  'io-ratio'?: string
  api?: string
  'peak-factor'?: string
  'power-watts'?: string
  pue?: string
  'kwh-price'?: string
}

function atMostOne(flags: PlanFlagValues, a: keyof PlanFlagValues, b: keyof PlanFlagValues, example: string): void {
  if (flags[a] !== undefined && flags[b] !== undefined) {
    throw invalidInput(`--${a} and --${b} cannot be used together.`, `Give one of them, e.g. ${example}.`)
  }
}

function parseWholeAtLeastOne(text: string, flagName: string, example: string): number {
  const value = parsePositiveNumber(text, flagName, example)
  if (!Number.isInteger(value)) {
    throw invalidInput(`--${flagName} must be a whole number (got "${text}").`, `e.g. --${flagName} ${example}.`)
  }
  return value
}

/** "gpt-4o,claude-3.5-sonnet@seed-000" -> prices; no list = every API profile at its current price. */
export function resolveApis(store: ProfileStore, list?: string): PlanApiPrice[] {
  if (list === undefined) return store.list('api').map((api) => resolveApiPrice(store, api.id))
  const ids = [...new Set(list.split(',').map((id) => id.trim()).filter((id) => id !== ''))]
  if (ids.length === 0) {
    throw invalidInput('--api names no API.', 'Give comma-separated API ids, e.g. --api gpt-4o,claude-3.5-sonnet (see `capplan profiles list --kind api`).')
  }
  return ids.map((id) => resolveApiPrice(store, id))
}

export function planInputFromFlags(flags: PlanFlagValues, store: ProfileStore): PlanInput {
  atMostOne(flags, 'throughput', 'output-throughput', '--throughput 25')
  atMostOne(flags, 'gpu-price', 'gpu', '--gpu-price 2.5 or --gpu h100-sxm --pricing spot')
  atMostOne(flags, 'volume', 'daily-volume', '--volume 100M')
  if (flags.throughput === undefined && flags['output-throughput'] === undefined) {
    throw invalidInput(
      'No throughput given.',
      'Give total tokens/s per replica with --throughput 25 (or output tokens/s with --output-throughput 12.5).',
    )
  }
  if (flags['gpu-price'] === undefined && flags.gpu === undefined) {
    throw invalidInput('No GPU price given.', 'Give --gpu-price 2.5 ($/GPU-hour) or a GPU profile: --gpu h100-sxm --pricing spot.')
  }

  if (flags.pricing !== undefined && flags.gpu === undefined) {
    throw invalidInput('--pricing needs --gpu (it picks a price tier of a GPU profile).', 'e.g. --gpu h100-sxm --pricing spot, or --gpu-price 2.5 alone.')
  }

  const ioRatio = parseIoRatio(flags['io-ratio'] ?? '1:1', 'io-ratio')
  if (flags['output-throughput'] !== undefined && ioRatio.output === 0) {
    throw invalidInput(
      `--output-throughput cannot be used with --io-ratio ${flags['io-ratio']} (no output tokens).`,
      'Give --throughput (total tokens/s) instead, or a ratio with output tokens, e.g. --io-ratio 3:1.',
    )
  }

  const gpu = flags.gpu === undefined ? undefined : store.get('gpu', flags.gpu)
  const tier = flags.pricing ?? 'on-demand'
  const gpuPrice = gpu === undefined ? undefined : gpuHourlyPrice(gpu, tier)
  const usdPerGpuHour = gpuPrice?.usdPerHour ?? parsePositiveNumber(flags['gpu-price']!, 'gpu-price', '2.5')
  const gpuPriceSource =
    gpu === undefined || gpuPrice === undefined ? '--gpu-price' : `${gpu.id} ${tier}: ${gpuPrice.source}, ${gpuPrice.date}`

  const hoursPerMonth =
    flags['hours-per-month'] === undefined ? DEFAULT_HOURS_PER_MONTH : parsePositiveNumber(flags['hours-per-month'], 'hours-per-month', '730')
  if (hoursPerMonth > 744) {
    throw invalidInput(
      `--hours-per-month ${flags['hours-per-month']} is more than a month has (744 h = 31 days).`,
      'Use --hours-per-month 730 (365/12 days, the default) or 720 (30 days).',
    )
  }
  const utilization = flags.utilization === undefined ? undefined : parsePositiveNumber(flags.utilization, 'utilization', '0.6')
  if (utilization !== undefined && utilization > 1) {
    throw invalidInput(
      `--utilization must be at most 1 (got "${flags.utilization}").`,
      'It is the fraction of the month a replica runs at its throughput, e.g. --utilization 0.6.',
    )
  }
  const peakFactor = flags['peak-factor'] === undefined ? undefined : parsePositiveNumber(flags['peak-factor'], 'peak-factor', '3')
  if (peakFactor !== undefined && peakFactor < 1) {
    throw invalidInput(
      `--peak-factor must be at least 1 (got "${flags['peak-factor']}").`,
      'It is peak load / average load, e.g. --peak-factor 3.',
    )
  }

  let energy: PlanInput['energy']
  if (flags['kwh-price'] === undefined) {
    for (const flag of ['power-watts', 'pue'] as const) {
      if (flags[flag] !== undefined) {
        throw invalidInput(`--${flag} needs --kwh-price.`, `Energy cost is computed only with a price, e.g. --kwh-price 0.12 --${flag} ${flag === 'pue' ? '1.3' : '700'}.`)
      }
    }
  } else {
    const usdPerKwh = parsePositiveNumber(flags['kwh-price'], 'kwh-price', '0.12')
    let powerWattsPerGpu: number
    let powerSource: string
    if (flags['power-watts'] !== undefined) {
      powerWattsPerGpu = parsePositiveNumber(flags['power-watts'], 'power-watts', '700')
      powerSource = '--power-watts'
    } else if (gpu?.tdpWatts !== undefined && gpu.tdpWatts !== null) {
      powerWattsPerGpu = gpu.tdpWatts
      powerSource = `${gpu.id} TDP (an upper bound; pass --power-watts for a measured average)`
    } else {
      throw invalidInput(
        `--kwh-price needs the GPU's average power: ${gpu === undefined ? 'no --gpu profile was given' : `GPU profile "${gpu.id}" has no TDP`}.`,
        'Give --power-watts 700 (average watts per GPU), or --gpu ID to use its TDP.',
      )
    }
    const pue = flags.pue === undefined ? DEFAULT_PUE : parsePositiveNumber(flags.pue, 'pue', '1.3')
    if (pue < 1) {
      throw invalidInput(`--pue must be at least 1 (got "${flags.pue}").`, 'PUE = facility power / IT power, e.g. --pue 1.3 for a typical data center.')
    }
    energy = {powerWattsPerGpu, powerSource, pue, usdPerKwh}
  }

  return {
    ...(flags.throughput === undefined
      ? {outputTokensPerSecond: parsePositiveNumber(flags['output-throughput']!, 'output-throughput', '12.5')}
      : {totalTokensPerSecond: parsePositiveNumber(flags.throughput, 'throughput', '25')}),
    usdPerGpuHour,
    gpuPriceSource,
    priceUnit: gpu?.vendor === 'cpu' ? 'machine' : 'GPU',
    gpusPerReplica: flags.gpus === undefined ? 1 : parseWholeAtLeastOne(flags.gpus, 'gpus', '8'),
    hoursPerMonth,
    ...(utilization === undefined ? {} : {utilization}),
    ioRatio,
    ...(flags.volume === undefined ? {} : {monthlyVolumeTokens: parseTokenCount(flags.volume, 'volume')}),
    ...(flags['daily-volume'] === undefined ? {} : {dailyVolumeTokens: parseTokenCount(flags['daily-volume'], 'daily-volume')}),
    ...(peakFactor === undefined ? {} : {peakFactor}),
    apis: resolveApis(store, flags.api),
    ...(energy === undefined ? {} : {energy}),
  }
}
