/**
 * The cost flags `plan`, `report` and `compare` share, as oclif flags that parse to values
 * (src/cli/parsers/cost.ts does the parsing, so messages and checks are the same), and the rules between
 * them (at most one of two) that turn those values into CostChoices.
 */

import {Flags} from '@oclif/core'

import type {CompareSpec} from '../../cost/comparison.js'
import type {CostChoices, PricingChoice} from '../../cost/plan-input.js'
import type {TrafficProfile} from '../../cost/traffic.js'
import {invalidInput} from '../../lib/errors.js'
import type {IoRatio} from '../../lib/units.js'
import type {QuantLevel} from '../../profiles/schema.js'
import {sloPercentiles} from '../../report/build/operating-point.js'
import type {SloSpec} from '../../results/schema.js'
import {type CostFlagValues, parseCostFlags} from '../parsers/cost.js'
import {parseSlo} from '../parsers/slo.js'
import {pricingFlag} from './choices.js'
import {capplanFlag} from './custom.js'

/** One cost flag's text -> its CostChoices value, by parseCostFlags itself (the same checks and messages). */
function costValue<K extends keyof CostChoices>(flag: keyof CostFlagValues, key: K): (text: string) => NonNullable<CostChoices[K]> {
  return (text) => parseCostFlags({[flag]: text})[key]!
}

/** Each cost flag's text -> value (the flags below are built from these; scripts may call them directly). */
export const costFlagParsers = {
  throughput: costValue('throughput', 'totalTokensPerSecond'),
  'output-throughput': costValue('output-throughput', 'outputTokensPerSecond'),
  gpus: costValue('gpus', 'gpusPerReplica'),
  'gpu-price': costValue('gpu-price', 'usdPerGpuHour'),
  'hours-per-month': costValue('hours-per-month', 'hoursPerMonth'),
  utilization: costValue('utilization', 'utilization'),
  volume: costValue('volume', 'monthlyVolumeTokens'),
  'daily-volume': costValue('daily-volume', 'dailyVolumeTokens'),
  'io-ratio': costValue('io-ratio', 'ioRatio'),
  api: costValue('api', 'apis'),
  'peak-factor': costValue('peak-factor', 'peakFactor'),
  'kwh-price': costValue('kwh-price', 'usdPerKwh'),
  'power-watts': costValue('power-watts', 'powerWattsPerGpu'),
  pue: costValue('pue', 'pue'),
  traffic: costValue('traffic', 'traffic'),
  headroom: costValue('headroom', 'headroom'),
  'min-replicas': costValue('min-replicas', 'minReplicas'),
  'scale-step': costValue('scale-step', 'scaleStep'),
  'cache-hit': costValue('cache-hit', 'cacheHitRate'),
  compare: costValue('compare', 'compare'),
  'quality-on': costValue('quality-on', 'qualityOn'),
  'colo-kw-month': costValue('colo-kw-month', 'coloUsdPerKwMonth'),
  'ops-overhead': costValue('ops-overhead', 'opsOverhead'),
  'cost-of-capital': costValue('cost-of-capital', 'costOfCapital'),
}

/** The cost flags' definitions; each command gives its own summary and helpValue. */
export const costFlag = {
  throughput: capplanFlag(costFlagParsers.throughput),
  'output-throughput': capplanFlag(costFlagParsers['output-throughput']),
  gpus: capplanFlag(costFlagParsers.gpus),
  'gpu-price': capplanFlag(costFlagParsers['gpu-price']),
  'hours-per-month': capplanFlag(costFlagParsers['hours-per-month']),
  utilization: capplanFlag(costFlagParsers.utilization),
  volume: capplanFlag(costFlagParsers.volume),
  'daily-volume': capplanFlag(costFlagParsers['daily-volume']),
  'io-ratio': capplanFlag(costFlagParsers['io-ratio']),
  api: capplanFlag(costFlagParsers.api),
  'peak-factor': capplanFlag(costFlagParsers['peak-factor']),
  'kwh-price': capplanFlag(costFlagParsers['kwh-price']),
  'power-watts': capplanFlag(costFlagParsers['power-watts']),
  pue: capplanFlag(costFlagParsers.pue),
  traffic: capplanFlag(costFlagParsers.traffic),
  headroom: capplanFlag(costFlagParsers.headroom),
  'min-replicas': capplanFlag(costFlagParsers['min-replicas']),
  'scale-step': capplanFlag(costFlagParsers['scale-step']),
  'cache-hit': capplanFlag(costFlagParsers['cache-hit']),
  compare: capplanFlag(costFlagParsers.compare),
  'quality-on': capplanFlag(costFlagParsers['quality-on']),
  'colo-kw-month': capplanFlag(costFlagParsers['colo-kw-month']),
  'ops-overhead': capplanFlag(costFlagParsers['ops-overhead']),
  'cost-of-capital': capplanFlag(costFlagParsers['cost-of-capital']),
}

/** The flags of the buyer's questions (traffic, caching, the comparison set, owning), the same in plan and report. */
export const buyerFlags = {
  traffic: costFlag.traffic({
    summary: 'Traffic over the day: flat, business-hours[:RATIO] (default 10), diurnal[:RATIO] (peak/trough, default 3), or a CSV/JSON file of 24 or 168 hourly token counts.',
    helpValue: 'SHAPE|FILE',
  }),
  headroom: costFlag.headroom({summary: 'With --traffic: spare capacity each hour, e.g. 0.2 = 20% (default 0).', helpValue: 'FRACTION'}),
  'min-replicas': costFlag['min-replicas']({summary: 'With --traffic: the autoscaled fleet never runs fewer replicas (default 0).', helpValue: 'N'}),
  'scale-step': costFlag['scale-step']({summary: 'With --traffic: the autoscaled fleet adds and removes replicas in steps of N (default 1).', helpValue: 'N'}),
  'cache-hit': costFlag['cache-hit']({
    summary: "Share of input tokens served from the APIs' prompt cache, priced at their cached-input price, e.g. 0.4 or 40%.",
    helpValue: 'SHARE',
  }),
  compare: costFlag.compare({
    summary: 'Which APIs: same-model (the hosted twins), all, or quality>=SCORE:BENCHMARK (default: twins + closed APIs; --api wins).',
    helpValue: 'SET',
  }),
  'quality-on': costFlag['quality-on']({
    summary: 'Benchmark for the quality gaps, e.g. gpqa-diamond, mmlu-pro (default: the one most closed APIs share).',
    helpValue: 'BENCHMARK',
  }),
  'colo-kw-month': costFlag['colo-kw-month']({summary: '--pricing owned: colocation $ per kW-month of IT load (default 135).', helpValue: 'USD'}),
  'ops-overhead': costFlag['ops-overhead']({summary: '--pricing owned: operations on top of capital + power + colo, e.g. 0.15 or 15% (default 0).', helpValue: 'FRACTION'}),
  'cost-of-capital': costFlag['cost-of-capital']({summary: '--pricing owned: annual cost of capital, e.g. 0.08 (default 0: straight-line).', helpValue: 'RATE'}),
}

/** --slo ttft=2s,tpot=50ms -> {ttftMs: 2000, tpotMs: 50}. */
export const parseSloFlag = (text: string): SloSpec => parseSlo(text, '--slo')

/** --slo ttft=2s,tpot=50ms -> {ttftMs: 2000, tpotMs: 50}. */
export const sloFlag = capplanFlag<SloSpec>(parseSloFlag)

/** The cost flags as oclif gives them to run(): values, parsed. */
export interface CostFlagParsed {
  throughput?: number | undefined
  'output-throughput'?: number | undefined
  gpus?: number | undefined
  'gpu-price'?: number | undefined
  gpu?: string | undefined
  pricing?: PricingChoice | undefined
  'hours-per-month'?: number | undefined
  utilization?: number | undefined
  volume?: number | undefined
  'daily-volume'?: number | undefined
  'io-ratio'?: IoRatio | undefined
  api?: string[] | undefined
  'peak-factor'?: number | undefined
  'power-watts'?: number | undefined
  pue?: number | undefined
  'kwh-price'?: number | undefined
  traffic?: TrafficProfile | undefined
  headroom?: number | undefined
  'min-replicas'?: number | undefined
  'scale-step'?: number | undefined
  'cache-hit'?: number | undefined
  compare?: CompareSpec | undefined
  'quality-on'?: string | undefined
  model?: string | undefined
  quant?: QuantLevel | undefined
  'weight-format'?: string | undefined
  'colo-kw-month'?: number | undefined
  'ops-overhead'?: number | undefined
  'cost-of-capital'?: number | undefined
}

function atMostOne(flags: CostFlagParsed, a: keyof CostFlagParsed, b: keyof CostFlagParsed, example: string): void {
  if (flags[a] !== undefined && flags[b] !== undefined) {
    throw invalidInput(`--${a} and --${b} cannot be used together.`, `Give one of them, e.g. ${example}.`)
  }
}

/** Parsed cost flags -> CostChoices: parseCostFlags' pairs that exclude each other, and its key order. */
export function costChoicesFrom(flags: CostFlagParsed): CostChoices {
  atMostOne(flags, 'throughput', 'output-throughput', '--throughput 25')
  atMostOne(flags, 'gpu-price', 'gpu', '--gpu-price 2.5 or --gpu h100-sxm --pricing spot')
  atMostOne(flags, 'volume', 'daily-volume', '--volume 100M')
  const choices: CostChoices = {}
  if (flags.throughput !== undefined) choices.totalTokensPerSecond = flags.throughput
  if (flags['output-throughput'] !== undefined) choices.outputTokensPerSecond = flags['output-throughput']
  if (flags.gpus !== undefined) choices.gpusPerReplica = flags.gpus
  if (flags['gpu-price'] !== undefined) choices.usdPerGpuHour = flags['gpu-price']
  if (flags.gpu !== undefined) choices.gpu = flags.gpu
  if (flags.pricing !== undefined) choices.pricing = flags.pricing
  if (flags['io-ratio'] !== undefined) choices.ioRatio = flags['io-ratio']
  if (flags['hours-per-month'] !== undefined) choices.hoursPerMonth = flags['hours-per-month']
  if (flags.utilization !== undefined) choices.utilization = flags.utilization
  if (flags['peak-factor'] !== undefined) choices.peakFactor = flags['peak-factor']
  if (flags['kwh-price'] !== undefined) choices.usdPerKwh = flags['kwh-price']
  if (flags['power-watts'] !== undefined) choices.powerWattsPerGpu = flags['power-watts']
  if (flags.pue !== undefined) choices.pue = flags.pue
  if (flags.volume !== undefined) choices.monthlyVolumeTokens = flags.volume
  if (flags['daily-volume'] !== undefined) choices.dailyVolumeTokens = flags['daily-volume']
  if (flags.api !== undefined) choices.apis = flags.api
  if (flags.traffic !== undefined) choices.traffic = flags.traffic
  if (flags.headroom !== undefined) choices.headroom = flags.headroom
  if (flags['min-replicas'] !== undefined) choices.minReplicas = flags['min-replicas']
  if (flags['scale-step'] !== undefined) choices.scaleStep = flags['scale-step']
  if (flags['cache-hit'] !== undefined) choices.cacheHitRate = flags['cache-hit']
  if (flags.compare !== undefined) choices.compare = flags.compare
  if (flags['quality-on'] !== undefined) choices.qualityOn = flags['quality-on']
  if (flags.model !== undefined) choices.model = flags.model
  if (flags.quant !== undefined) choices.quant = flags.quant
  if (flags['weight-format'] !== undefined) choices.format = flags['weight-format']
  if (flags['colo-kw-month'] !== undefined) choices.coloUsdPerKwMonth = flags['colo-kw-month']
  if (flags['ops-overhead'] !== undefined) choices.opsOverhead = flags['ops-overhead']
  if (flags['cost-of-capital'] !== undefined) choices.costOfCapital = flags['cost-of-capital']
  return choices
}

/** report's --gpus overrides each result's GPU count: a whole number >= 1 (its own message, as before). */
export function parseGpusOverride(text: string): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1) {
    throw invalidInput(`--gpus must be a whole number >= 1 (got "${text}").`, 'e.g. --gpus 8 for a replica on 8 GPUs.')
  }
  return value
}

/** The text -> value of report's and compare's cost flags (for callers without oclif, e.g. bench/report-bench.js). */
export const reportCostParsers = {
  slo: parseSloFlag,
  'gpu-price': costFlagParsers['gpu-price'],
  gpus: parseGpusOverride,
  volume: costFlagParsers.volume,
  'daily-volume': costFlagParsers['daily-volume'],
  'io-ratio': costFlagParsers['io-ratio'],
  api: costFlagParsers.api,
  'peak-factor': costFlagParsers['peak-factor'],
  'hours-per-month': costFlagParsers['hours-per-month'],
  utilization: costFlagParsers.utilization,
  'kwh-price': costFlagParsers['kwh-price'],
  'power-watts': costFlagParsers['power-watts'],
  pue: costFlagParsers.pue,
  traffic: costFlagParsers.traffic,
  headroom: costFlagParsers.headroom,
  'min-replicas': costFlagParsers['min-replicas'],
  'scale-step': costFlagParsers['scale-step'],
  'cache-hit': costFlagParsers['cache-hit'],
  compare: costFlagParsers.compare,
  'quality-on': costFlagParsers['quality-on'],
  'colo-kw-month': costFlagParsers['colo-kw-month'],
  'ops-overhead': costFlagParsers['ops-overhead'],
  'cost-of-capital': costFlagParsers['cost-of-capital'],
}

/** Flags shared by `capplan report` and `capplan compare`: the SLO, then the cost model's choices. */
export const reportCostFlags = {
  slo: sloFlag({summary: "Latency targets the operating point must meet, e.g. ttft=2s,tpot=50ms (default: the workload profile's p95 SLO).", helpValue: 'SPEC'}),
  percentile: Flags.option({options: sloPercentiles, summary: 'Percentile the SLO applies to (default p95).'})(),
  'no-interpolate': Flags.boolean({summary: 'Use only measured levels (no interpolation between two levels).'}),
  gpu: Flags.string({summary: "GPU profile whose price to use (default: detected from the result's host; cpu for CPU runs).", helpValue: 'ID'}),
  'gpu-price': costFlag['gpu-price']({summary: '$ per GPU-hour (overrides any profile).', helpValue: 'USD'}),
  pricing: pricingFlag({summary: 'Price of the GPU profile: on-demand (default), spot, reserved, or owned (purchase + power + colo + ops).'}),
  gpus: capplanFlag(reportCostParsers.gpus)({summary: "GPUs per replica (default: the result's engine.gpuCount; a CPU run is 1 machine).", helpValue: 'N'}),
  volume: costFlag.volume({summary: 'Total tokens per month: 100M, 1.5B.', helpValue: 'TOKENS'}),
  'daily-volume': costFlag['daily-volume']({summary: 'Total tokens per day.', helpValue: 'TOKENS'}),
  'io-ratio': costFlag['io-ratio']({summary: 'Input:output tokens for API prices and capacity (default: the ratio the workload measured).', helpValue: 'IN:OUT'}),
  api: costFlag.api({summary: 'Comma-separated API ids (default: every API profile).', helpValue: 'IDS'}),
  'peak-factor': costFlag['peak-factor']({summary: 'Peak / average load (>= 1): also size the fleet for the peak.', helpValue: 'X'}),
  'hours-per-month': costFlag['hours-per-month']({summary: 'Hours in a month (default 730).', helpValue: 'H'}),
  utilization: costFlag.utilization({summary: 'Fraction of the month a replica runs at its throughput, (0, 1] (default 1).', helpValue: 'U'}),
  'kwh-price': costFlag['kwh-price']({summary: 'Owned GPUs: $ per kWh; energy cost from measured power (or --power-watts).', helpValue: 'USD'}),
  'power-watts': costFlag['power-watts']({summary: 'Average power per GPU in W (default: measured telemetry, else the GPU profile TDP).', helpValue: 'W'}),
  pue: costFlag.pue({summary: 'Power usage effectiveness (default 1; 1.2 with --pricing owned).', helpValue: 'PUE'}),
  ...buyerFlags,
}
