/**
 * What `capplan report` and `capplan compare` share: their flags' values -> ReportOptions (the rules between
 * flags; each value was parsed by its oclif flag, src/cli/flags/), and the walk over FILES/DIRS and the load of
 * every file. The cost flags are capplan plan's; the throughput and GPUs per replica come from each result.
 */

import {readdir, stat} from 'node:fs/promises'
import path from 'node:path'

import {type CostFlagParsed, costChoicesFrom, reportCostParsers} from '../../cli/flags/cost.js'
import {parseWhatIfList, reportSanityParsers} from '../../cli/flags/report.js'
import {planInputFor} from '../../cost/plan-input.js'
import {todayUtc} from '../../lib/clock.js'
import {CapplanError, invalidInput, notFound} from '../../lib/errors.js'
import {closestIds} from '../../profiles/closest.js'
import type {ProfileStore} from '../../profiles/store.js'
import type {PricingChoice} from '../../cost/plan-input.js'
import type {ImportContext} from '../../results/import/common.js'
import {loadAnyResult, type LoadedResult} from '../../results/import/load.js'
import type {SloSpec} from '../../results/schema.js'
import type {SloPercentile} from '../../report/build/operating-point.js'
import type {InvalidResultFile} from '../../report/render/report.js'
import type {ReportOptions} from '../../report/build/result-report.js'

export const DEFAULT_RESULTS_DIR = 'results'

/** The report and compare flags as oclif parses them (src/cli/flags/cost.ts, src/cli/flags/report.ts). */
export interface ReportFlagValues extends Omit<CostFlagParsed, 'throughput' | 'output-throughput' | 'gpus'> {
  slo?: SloSpec | undefined
  percentile?: SloPercentile | undefined
  'no-interpolate'?: boolean | undefined
  /** report's --gpus: each result's GPUs per replica, instead of its engine.gpuCount. */
  gpus?: number | undefined
  bandwidth?: number | undefined
  'what-if'?: string[] | undefined
}

/** The same flags as text (scripts and tests that call the service without oclif). */
export interface ReportCostFlagValues {
  slo?: string
  percentile?: SloPercentile
  'no-interpolate'?: boolean
  gpu?: string
  'gpu-price'?: string
  pricing?: PricingChoice
  gpus?: string
  traffic?: string
  headroom?: string
  'min-replicas'?: string
  'scale-step'?: string
  'cache-hit'?: string
  compare?: string
  'quality-on'?: string
  'colo-kw-month'?: string
  'ops-overhead'?: string
  'cost-of-capital'?: string
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

/** --what-if ids -> the same ids deduplicated, each a GPU profile (NOT_FOUND naming the closest ids otherwise, as every unknown id). */
export function checkWhatIfTargets(ids: readonly string[], store: ProfileStore): string[] {
  const known = store.list('gpu').map((gpu) => gpu.id)
  for (const id of ids) {
    if (!store.has('gpu', id)) {
      throw notFound(`--what-if: no GPU profile "${id}". Closest: ${closestIds(id, known).join(', ')}.`, 'Run `capplan profiles list --kind gpu` to see every gpu id.')
    }
  }
  return [...new Set(ids)]
}

/** --what-if "h200, b200" -> ['h200', 'b200'], each a GPU profile (exit 3 otherwise). */
export function parseWhatIfTargets(text: string, store: ProfileStore): string[] {
  return checkWhatIfTargets(parseWhatIfList(text), store)
}

/**
 * Parsed flags -> ReportOptions. Every rule between flags is checked here (a bad choice is exit 3 before any
 * file is read): the pairs that exclude each other, then the cost model's rules with a stand-in throughput
 * and price, then the --what-if profiles.
 */
export function reportOptions(flags: ReportFlagValues, store: ProfileStore): ReportOptions {
  if (flags.pricing !== undefined && flags.gpu === undefined && flags['gpu-price'] !== undefined) {
    throw invalidInput('--pricing and --gpu-price cannot be used together.', 'Give --gpu-price USD alone, or --gpu ID --pricing spot.')
  }
  // report's --gpus is not the cost model's GPUs per replica: each result has its own (gpusOverride below)
  const {gpus: _gpus, slo, percentile, 'no-interpolate': noInterpolate, bandwidth: bandwidthGBs, 'what-if': whatIfIds, ...cost} = flags
  const plan = {...costChoicesFrom(cost), today: todayUtc()}
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
  const whatIf = whatIfIds === undefined ? undefined : checkWhatIfTargets(whatIfIds, store)
  return {
    ...(bandwidthGBs === undefined ? {} : {bandwidthGBs}),
    ...(whatIf === undefined ? {} : {whatIf}),
    ...(slo === undefined ? {} : {slo}),
    ...(percentile === undefined ? {} : {percentile}),
    interpolate: noInterpolate !== true,
    plan,
    ...(flags.gpus === undefined ? {} : {gpusOverride: flags.gpus}),
  }
}

/**
 * Text flags -> ReportOptions: each value through its flag's parser (what oclif does for the commands), then
 * reportOptions. For callers without oclif (bench/report-bench.js, tests).
 */
export function reportOptionsFromFlags(flags: ReportCostFlagValues, store: ProfileStore): ReportOptions {
  const parsers: Record<string, (text: string) => unknown> = {...reportCostParsers, ...reportSanityParsers}
  const values = Object.fromEntries(
    Object.entries(flags).map(([name, value]) => [name, typeof value === 'string' && parsers[name] !== undefined ? parsers[name](value) : value]),
  )
  return reportOptions(values as ReportFlagValues, store)
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
