/**
 * Flags shared by `capplan report` and `capplan compare`, and the walk over FILES/DIRS. The cost flags are
 * capplan plan's (same names, same parsing in src/cli/parsers/cost.ts); the throughput and GPUs per replica
 * come from each result.
 */

import {readdir, stat} from 'node:fs/promises'
import path from 'node:path'

import {Flags} from '@oclif/core'

import {type CostFlagValues, parseCostFlags} from '../../cli/parsers/cost.js'
import {planInputFor} from '../../cost/plan-input.js'
import {CapplanError, invalidInput, notFound} from '../../lib/errors.js'
import {parsePositiveNumber} from '../../cli/parsers/numbers.js'
import type {ProfileStore} from '../../profiles/store.js'
import {pricingTiers, type PricingTier} from '../../profiles/schema.js'
import type {ImportContext} from '../../results/import/common.js'
import {loadAnyResult, type LoadedResult} from '../../results/import/load.js'
import type {SloSpec} from '../../results/schema.js'
import {parseSlo} from '../../stats/slo.js'
import {sloPercentiles, type SloPercentile} from '../../report/build/operating-point.js'
import type {InvalidResultFile} from '../../report/render/report.js'
import type {ReportOptions} from '../../report/build/result-report.js'

export const DEFAULT_RESULTS_DIR = 'results'

export const reportCostFlags = {
  slo: Flags.string({summary: 'Latency targets the operating point must meet, e.g. ttft=2s,tpot=50ms (default: the workload profile\'s p95 SLO).', helpValue: 'SPEC'}),
  percentile: Flags.option({options: sloPercentiles, summary: 'Percentile the SLO applies to (default p95).'})(),
  'no-interpolate': Flags.boolean({summary: 'Use only measured levels (no interpolation between two levels).'}),
  gpu: Flags.string({summary: 'GPU profile whose price to use (default: detected from the result\'s host; cpu for CPU runs).', helpValue: 'ID'}),
  'gpu-price': Flags.string({summary: '$ per GPU-hour (overrides any profile).', helpValue: 'USD'}),
  pricing: Flags.option({options: pricingTiers, summary: 'Price tier of the GPU profile (default on-demand).'})(),
  gpus: Flags.string({summary: 'GPUs per replica (default: the result\'s engine.gpuCount; a CPU run is 1 machine).', helpValue: 'N'}),
  volume: Flags.string({summary: 'Total tokens per month: 100M, 1.5B.', helpValue: 'TOKENS'}),
  'daily-volume': Flags.string({summary: 'Total tokens per day.', helpValue: 'TOKENS'}),
  'io-ratio': Flags.string({summary: 'Input:output tokens for API prices and capacity (default: the ratio the workload measured).', helpValue: 'IN:OUT'}),
  api: Flags.string({summary: 'Comma-separated API ids (default: every API profile).', helpValue: 'IDS'}),
  'peak-factor': Flags.string({summary: 'Peak / average load (>= 1): also size the fleet for the peak.', helpValue: 'X'}),
  'hours-per-month': Flags.string({summary: 'Hours in a month (default 730).', helpValue: 'H'}),
  utilization: Flags.string({summary: 'Fraction of the month a replica runs at its throughput, (0, 1] (default 1).', helpValue: 'U'}),
  'kwh-price': Flags.string({summary: 'Owned GPUs: $ per kWh; energy cost from measured power (or --power-watts).', helpValue: 'USD'}),
  'power-watts': Flags.string({summary: 'Average power per GPU in W (default: measured telemetry, else the GPU profile TDP).', helpValue: 'W'}),
  pue: Flags.string({summary: 'Power usage effectiveness (default 1).', helpValue: 'PUE'}),
}

/** `capplan report` only: physics sanity and what-if (src/report/result-sanity.ts). */
export const reportSanityFlags = {
  bandwidth: Flags.string({
    summary: 'Memory bandwidth in GB/s of results whose hardware profile has none (CPU runs), for their efficiency; measure it with `capplan system --measure-bandwidth`.',
    helpValue: 'GB/S',
  }),
  'what-if': Flags.string({
    summary: 'Comma-separated GPU profile ids: scale each operating point to them by its measured efficiency and cost it (labeled ESTIMATE).',
    helpValue: 'IDS',
  }),
}

export interface ReportCostFlagValues {
  slo?: string
  percentile?: SloPercentile
  'no-interpolate'?: boolean
  gpu?: string
  'gpu-price'?: string
  pricing?: PricingTier
  gpus?: string
  volume?: string
  'daily-volume'?: string
  'io-ratio'?: string
  api?: string
  'peak-factor'?: string
  'hours-per-month'?: string
  utilization?: string
  'kwh-price'?: string
  'power-watts'?: string
  pue?: string
  bandwidth?: string
  'what-if'?: string
}

/** --what-if "h200, b200" -> ['h200', 'b200'], each a GPU profile (exit 3 otherwise). */
export function parseWhatIfTargets(text: string, store: ProfileStore): string[] {
  const ids = text.split(',').map((id) => id.trim()).filter((id) => id !== '')
  if (ids.length === 0) throw invalidInput('--what-if is empty.', 'Name GPU profiles, e.g. --what-if h200,b200.')
  const known = store.list('gpu').map((gpu) => gpu.id)
  for (const id of ids) {
    if (!store.has('gpu', id)) {
      throw invalidInput(`--what-if: no GPU profile "${id}".`, `Use one of: ${known.join(', ')} (see \`capplan profiles list --kind gpu\`).`)
    }
  }
  return [...new Set(ids)]
}

/**
 * Flags -> ReportOptions. Every flag is checked once here (a bad value is exit 3 before any file is read):
 * the cost flags are parsed (cli/parsers/cost.ts) and their rules checked with a stand-in throughput and price.
 */
export function reportOptionsFromFlags(flags: ReportCostFlagValues, store: ProfileStore): ReportOptions {
  const slo: SloSpec | undefined = flags.slo === undefined ? undefined : parseSlo(flags.slo, '--slo')
  const costFlags: CostFlagValues = {
    gpu: flags.gpu,
    'gpu-price': flags['gpu-price'],
    pricing: flags.pricing,
    volume: flags.volume,
    'daily-volume': flags['daily-volume'],
    'io-ratio': flags['io-ratio'],
    api: flags.api,
    'peak-factor': flags['peak-factor'],
    'hours-per-month': flags['hours-per-month'],
    utilization: flags.utilization,
    'kwh-price': flags['kwh-price'],
    'power-watts': flags['power-watts'],
    pue: flags.pue,
  }
  if (flags.pricing !== undefined && flags.gpu === undefined && flags['gpu-price'] !== undefined) {
    throw invalidInput('--pricing and --gpu-price cannot be used together.', 'Give --gpu-price USD alone, or --gpu ID --pricing spot.')
  }
  const plan = parseCostFlags(costFlags)
  // Check the rules between choices now (the stand-in values never reach a report). --pricing without --gpu
  // is allowed here: it applies to each result's detected GPU profile.
  const {pricing: _pricing, ...withoutPricing} = plan
  const probeGpu = plan.gpu ?? (plan.usdPerGpuHour === undefined ? 'cpu' : undefined)
  try {
    planInputFor(
      {
        ...(flags.pricing !== undefined && flags.gpu === undefined ? withoutPricing : plan),
        ...(probeGpu === undefined ? {} : {gpu: probeGpu}),
        outputTokensPerSecond: 1,
        ...(plan.usdPerKwh !== undefined && plan.powerWattsPerGpu === undefined ? {powerWattsPerGpu: 1} : {}),
      },
      store,
    )
  } catch (error) {
    // The cpu profile may lack a tier or a TDP: those are per-result matters, decided later.
    if (!(error instanceof CapplanError && flags.gpu === undefined && /GPU profile "cpu"|TDP/.test(error.message))) throw error
  }
  let gpusOverride: number | undefined
  if (flags.gpus !== undefined) {
    const value = Number(flags.gpus)
    if (!Number.isInteger(value) || value < 1) {
      throw invalidInput(`--gpus must be a whole number >= 1 (got "${flags.gpus}").`, 'e.g. --gpus 8 for a replica on 8 GPUs.')
    }
    gpusOverride = value
  }
  const bandwidthGBs = flags.bandwidth === undefined ? undefined : parsePositiveNumber(flags.bandwidth, 'bandwidth', '20')
  const whatIf = flags['what-if'] === undefined ? undefined : parseWhatIfTargets(flags['what-if'], store)
  return {
    ...(bandwidthGBs === undefined ? {} : {bandwidthGBs}),
    ...(whatIf === undefined ? {} : {whatIf}),
    ...(slo === undefined ? {} : {slo}),
    ...(flags.percentile === undefined ? {} : {percentile: flags.percentile}),
    interpolate: flags['no-interpolate'] !== true,
    plan,
    ...(gpusOverride === undefined ? {} : {gpusOverride}),
  }
}

const RESULT_EXTENSIONS = new Set(['.json', '.jsonl'])

/** The result files under the given paths (directories walked recursively, .json/.jsonl, hidden entries skipped), sorted. */
export async function collectResultFiles(paths: readonly string[]): Promise<string[]> {
  const wanted = paths.length === 0 ? [DEFAULT_RESULTS_DIR] : paths
  const files: string[] = []
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, {withFileTypes: true})
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.')) continue
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) await walk(full)
      else if (entry.isFile() && RESULT_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) files.push(full)
    }
  }
  for (const given of wanted) {
    let info
    try {
      info = await stat(given)
    } catch {
      throw notFound(
        `${given} does not exist.`,
        paths.length === 0 ? 'Run `capplan bench` first (it writes results/), or pass result files or directories.' : 'Check the path.',
      )
    }
    if (info.isDirectory()) await walk(given)
    else files.push(given)
  }
  return files
}

/**
 * Load every file and map each result as soon as it is read (so a report over thousands of files keeps only
 * what it reports, not every request of every file); a bad file becomes an InvalidResultFile and the others
 * are still reported. Without `map` the loaded results themselves are returned.
 */
export async function loadResultFiles<T = LoadedResult>(
  files: readonly string[],
  context: ImportContext,
  map: (loaded: LoadedResult) => T = (loaded) => loaded as T,
): Promise<{loaded: T[]; invalid: InvalidResultFile[]}> {
  const loaded: T[] = []
  const invalid: InvalidResultFile[] = []
  for (const file of files) {
    let results: LoadedResult[]
    try {
      results = await loadAnyResult(file, context)
    } catch (error) {
      if (!(error instanceof CapplanError)) throw error
      invalid.push({file, message: error.message, suggestion: error.suggestion})
      continue
    }
    for (const result of results) loaded.push(map(result))
  }
  return {loaded, invalid}
}
