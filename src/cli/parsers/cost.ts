/**
 * The cost flags `plan`, `report` and `compare` share (--throughput, --gpu, --gpu-price, --volume, --io-ratio,
 * --api, --kwh-price, ...) as text -> CostChoices (values). Each bad value is INVALID_INPUT naming the flag
 * with a valid example; the rules BETWEEN choices are cost/plan-input.ts's.
 */

import type {CostChoices, PricingChoice} from '../../cost/plan-input.js'
import {invalidInput} from '../../lib/errors.js'
import type {QuantLevel} from '../../profiles/schema.js'
import {parseCompare, parseRate, parseShare, parseTrafficFlag} from './buyer.js'
import {parseIoRatio, parseNonNegative, parsePositiveNumber, parseTokenCount, parseWholeNumber} from './numbers.js'

export interface CostFlagValues {
  throughput?: string | undefined
  'output-throughput'?: string | undefined
  gpus?: string | undefined
  'gpu-price'?: string | undefined
  gpu?: string | undefined
  pricing?: PricingChoice | undefined
  'hours-per-month'?: string | undefined
  utilization?: string | undefined
  volume?: string | undefined
  'daily-volume'?: string | undefined
  'io-ratio'?: string | undefined
  api?: string | undefined
  'peak-factor'?: string | undefined
  'power-watts'?: string | undefined
  pue?: string | undefined
  'kwh-price'?: string | undefined
  traffic?: string | undefined
  headroom?: string | undefined
  'min-replicas'?: string | undefined
  'scale-step'?: string | undefined
  'cache-hit'?: string | undefined
  compare?: string | undefined
  'quality-on'?: string | undefined
  model?: string | undefined
  quant?: QuantLevel | undefined
  'weight-format'?: string | undefined
  'colo-kw-month'?: string | undefined
  'ops-overhead'?: string | undefined
  'cost-of-capital'?: string | undefined
}

function atMostOne(flags: CostFlagValues, a: keyof CostFlagValues, b: keyof CostFlagValues, example: string): void {
  if (flags[a] !== undefined && flags[b] !== undefined) {
    throw invalidInput(`--${a} and --${b} cannot be used together.`, `Give one of them, e.g. ${example}.`)
  }
}

export function parseWholeAtLeastOne(text: string, flagName: string, example: string): number {
  const value = parsePositiveNumber(text, flagName, example)
  if (!Number.isInteger(value)) {
    throw invalidInput(`--${flagName} must be a whole number (got "${text}").`, `e.g. --${flagName} ${example}.`)
  }
  return value
}

/** "gpt-4o,claude-3.5-sonnet@seed-000" -> ids (deduplicated); an empty list is refused. */
export function parseApiList(list: string): string[] {
  const ids = [
    ...new Set(
      list
        .split(',')
        .map((id) => id.trim())
        .filter((id) => id !== ''),
    ),
  ]
  if (ids.length === 0) {
    throw invalidInput('--api names no API.', 'Give comma-separated API ids, e.g. --api gpt-4o,claude-3.5-sonnet (see `capplan profiles list --kind api`).')
  }
  return ids
}

export function parseCostFlags(flags: CostFlagValues): CostChoices {
  atMostOne(flags, 'throughput', 'output-throughput', '--throughput 25')
  atMostOne(flags, 'gpu-price', 'gpu', '--gpu-price 2.5 or --gpu h100-sxm --pricing spot')
  atMostOne(flags, 'volume', 'daily-volume', '--volume 100M')
  const choices: CostChoices = {}
  if (flags.throughput !== undefined) choices.totalTokensPerSecond = parsePositiveNumber(flags.throughput, 'throughput', '25')
  if (flags['output-throughput'] !== undefined) choices.outputTokensPerSecond = parsePositiveNumber(flags['output-throughput'], 'output-throughput', '12.5')
  if (flags.gpus !== undefined) choices.gpusPerReplica = parseWholeAtLeastOne(flags.gpus, 'gpus', '8')
  if (flags['gpu-price'] !== undefined) choices.usdPerGpuHour = parsePositiveNumber(flags['gpu-price'], 'gpu-price', '2.5')
  if (flags.gpu !== undefined) choices.gpu = flags.gpu
  if (flags.pricing !== undefined) choices.pricing = flags.pricing
  if (flags['io-ratio'] !== undefined) choices.ioRatio = parseIoRatio(flags['io-ratio'], 'io-ratio')
  if (flags['hours-per-month'] !== undefined) {
    const hours = parsePositiveNumber(flags['hours-per-month'], 'hours-per-month', '730')
    if (hours > 744) {
      throw invalidInput(
        `--hours-per-month ${flags['hours-per-month']} is more than a month has (744 h = 31 days).`,
        'Use --hours-per-month 730 (365/12 days, the default) or 720 (30 days).',
      )
    }
    choices.hoursPerMonth = hours
  }
  if (flags.utilization !== undefined) {
    const utilization = parsePositiveNumber(flags.utilization, 'utilization', '0.6')
    if (utilization > 1) {
      throw invalidInput(
        `--utilization must be at most 1 (got "${flags.utilization}").`,
        'It is the fraction of the month a replica runs at its throughput, e.g. --utilization 0.6.',
      )
    }
    choices.utilization = utilization
  }
  if (flags['peak-factor'] !== undefined) {
    const peakFactor = parsePositiveNumber(flags['peak-factor'], 'peak-factor', '3')
    if (peakFactor < 1) {
      throw invalidInput(`--peak-factor must be at least 1 (got "${flags['peak-factor']}").`, 'It is peak load / average load, e.g. --peak-factor 3.')
    }
    choices.peakFactor = peakFactor
  }
  if (flags['kwh-price'] !== undefined) choices.usdPerKwh = parsePositiveNumber(flags['kwh-price'], 'kwh-price', '0.12')
  if (flags['power-watts'] !== undefined) choices.powerWattsPerGpu = parsePositiveNumber(flags['power-watts'], 'power-watts', '700')
  if (flags.pue !== undefined) {
    const pue = parsePositiveNumber(flags.pue, 'pue', '1.3')
    if (pue < 1) {
      throw invalidInput(`--pue must be at least 1 (got "${flags.pue}").`, 'PUE = facility power / IT power, e.g. --pue 1.3 for a typical data center.')
    }
    choices.pue = pue
  }
  if (flags.volume !== undefined) choices.monthlyVolumeTokens = parseTokenCount(flags.volume, 'volume')
  if (flags['daily-volume'] !== undefined) choices.dailyVolumeTokens = parseTokenCount(flags['daily-volume'], 'daily-volume')
  if (flags.api !== undefined) choices.apis = parseApiList(flags.api)
  if (flags.traffic !== undefined) choices.traffic = parseTrafficFlag(flags.traffic)
  if (flags.headroom !== undefined) choices.headroom = parseRate(flags.headroom, 'headroom')
  if (flags['min-replicas'] !== undefined) choices.minReplicas = parseWholeNumber(flags['min-replicas'], 'min-replicas', {min: 0})
  if (flags['scale-step'] !== undefined) choices.scaleStep = parseWholeNumber(flags['scale-step'], 'scale-step', {min: 1})
  if (flags['cache-hit'] !== undefined) choices.cacheHitRate = parseShare(flags['cache-hit'], 'cache-hit', '0.4')
  if (flags.compare !== undefined) choices.compare = parseCompare(flags.compare)
  if (flags['quality-on'] !== undefined) choices.qualityOn = flags['quality-on'].trim().toLowerCase()
  if (flags.model !== undefined) choices.model = flags.model
  if (flags.quant !== undefined) choices.quant = flags.quant
  if (flags['weight-format'] !== undefined) choices.format = flags['weight-format']
  if (flags['colo-kw-month'] !== undefined) choices.coloUsdPerKwMonth = parseNonNegative(flags['colo-kw-month'], 'colo-kw-month')
  if (flags['ops-overhead'] !== undefined) choices.opsOverhead = parseRate(flags['ops-overhead'], 'ops-overhead')
  if (flags['cost-of-capital'] !== undefined) choices.costOfCapital = parseRate(flags['cost-of-capital'], 'cost-of-capital')
  return choices
}
