/**
 * `capplan plan --model`: the search flags' values -> the profiles, the calibration prior (updated with the
 * user's own measured efficiencies), the --results files as MEASURED / SCALED deployments, and the planner's
 * ranked search (src/planner/search.ts). Result files are read with report's loader (capplan files and imported
 * peer files alike) and judged at the SLO as `capplan report` judges them.
 */

import {shapeProfile, type TrafficProfile} from '../../cost/traffic.js'
import {monthlyFromDailyVolume} from '../../cost/model.js'
import {DEFAULT_HOURS_PER_MONTH} from '../../cost/plan.js'
import {invalidInput} from '../../lib/errors.js'
import {calibrationPoints, ceilingParts, observationOf, updatedPrior, type Observation} from '../../planner/calibration.js'
import {
  priorKey,
  searchDeployments,
  searchEngines,
  type SearchInput,
  type MeasuredDeployment,
  type PricingChoice,
  type ScaledDeployment,
  type SearchEngine,
  type SearchResult,
} from '../../planner/search.js'
import {loadProfiles} from '../../profiles/load.js'
import {quantLevels, type GpuProfile} from '../../profiles/schema.js'
import type {ProfileStore} from '../../profiles/store.js'
import {buildResultReport, importedFormat} from '../../report/build/result-report.js'
import {scaleOperatingPoint} from '../../report/build/sanity.js'
import type {ResultFile, SloSpec} from '../../results/schema.js'
import {hardwareFromProfile} from '../../roofline/ceilings.js'
import {formatFromName, resolveFormat} from '../../roofline/formats.js'
import {parallelLayouts, tensorParallelValidity} from '../../roofline/memory.js'
import {servingCeiling} from '../../roofline/serving.js'
import {collectResultFiles, loadResultFiles} from '../report/collect.js'

/** The search flags as oclif parses them (src/cli/flags/search.ts + plan's --volume / --daily-volume / --hours-per-month). */
export interface SearchFlagValues {
  model: string
  workload?: string | undefined
  slo?: SloSpec | undefined
  volume?: number | undefined
  'daily-volume'?: number | undefined
  'hours-per-month'?: number | undefined
  traffic?: TrafficProfile | undefined
  headroom?: number | undefined
  'min-replicas'?: number | undefined
  'scale-step'?: number | undefined
  'gpus-available'?: string[] | undefined
  'max-gpus'?: number | undefined
  pricing?: PricingChoice[] | undefined
  results?: string | undefined
  /** --pricing owned: plan's owned-hardware flags (absent = cost/ownership.ts OWNED_DEFAULTS). */
  'kwh-price'?: number | undefined
  pue?: number | undefined
  'colo-kw-month'?: number | undefined
  'ops-overhead'?: number | undefined
  'cost-of-capital'?: number | undefined
}

export interface SearchContext {
  profilesDir: string | undefined
  capplanVersion: string
}

export const DEFAULT_SEARCH_WORKLOAD = 'chat'
export const DEFAULT_MAX_GPUS = 8

/**
 * The engine a result measured, as the search names it: capplan's own engine kinds (embedded is llama.cpp
 * in-process), or the peer tool an import came from (SGLang's bench_serving, vLLM's bench serve, llama-bench);
 * null for an OpenAI-compatible server of unknown make.
 */
function searchEngineOf(result: ResultFile): SearchEngine | null {
  const imported = importedFormat(result)
  if (imported === 'sglang') return 'sglang'
  if (imported === 'vllm') return 'vllm'
  if (imported === 'llama-bench') return 'llamacpp'
  switch (result.engine.kind) {
    case 'vllm':
      return 'vllm'
    case 'llamacpp':
    case 'embedded':
      return 'llamacpp'
    case 'openai':
      return null
  }
}

function sloOf(store: ProfileStore, workloadId: string, given: SloSpec | undefined): {slo: SloSpec; source: string} {
  if (given !== undefined) return {slo: given, source: '--slo'}
  const {slo} = store.get('workload', workloadId)
  const spec: SloSpec = {
    ...(slo.ttftP95Ms === null ? {} : {ttftMs: slo.ttftP95Ms}),
    ...(slo.tpotP95Ms === null ? {} : {tpotMs: slo.tpotP95Ms}),
    ...(slo.e2eP95Ms === null ? {} : {e2eMs: slo.e2eP95Ms}),
  }
  return {slo: spec, source: `workload profile ${workloadId} (p95)`}
}

interface ResultDeployments {
  measured: MeasuredDeployment[]
  scaled: ScaledDeployment[]
  notes: string[]
}

/** --results DIR -> the deployments its files measured (at the SLO) and their scaled twins on the other GPUs. */
async function resultDeployments(
  dir: string,
  store: ProfileStore,
  modelId: string,
  workload: {inputTokens: number; outputTokens: number},
  slo: SloSpec,
  targets: GpuProfile[],
  context: SearchContext,
): Promise<ResultDeployments> {
  const files = await collectResultFiles([dir])
  const notes: string[] = []
  const measured: MeasuredDeployment[] = []
  const scaled: ScaledDeployment[] = []
  const {invalid} = await loadResultFiles(files, {capplanVersion: context.capplanVersion, command: ['capplan', 'plan'], store}, ({source, result}) => {
    if (result.model.profile !== modelId) return null
    const engine = searchEngineOf(result)
    if (engine === null) {
      notes.push(`${source}: engine ${result.engine.kind} is not one the search ranks (vllm, llama.cpp); not used`)
      return null
    }
    const report = buildResultReport(source, result, store, {slo, plan: {}})
    const point = report.operatingPoint
    const gpu = report.sanity.hardwareProfile
    if (point.outputTokensPerS === null || !(point.outputTokensPerS > 0) || gpu === null || gpu === 'cpu') {
      notes.push(`${source}: ${gpu === null || gpu === 'cpu' ? 'not a GPU run capplan can place' : `no operating point at the SLO (${point.explanation})`}; not used`)
      return null
    }
    const gpus = Math.max(1, result.engine.gpuCount)
    const layout =
      tensorParallelValidity(store.get('model', modelId), gpus) === 'invalid'
        ? (parallelLayouts(store.get('model', modelId), gpus)[0] ?? {tp: 1, pp: gpus})
        : {tp: gpus, pp: 1}
    const format = formatFromName(result.model.format) ?? resolveFormat(store.get('model', modelId), result.model.quant, 'gguf')
    const batch = point.load?.kind === 'concurrency' ? point.load.value : null
    const ceiling =
      batch === null
        ? null
        : servingCeiling(
            {
              model: store.get('model', modelId),
              format,
              kvCache: result.serving?.kvCache ?? 'fp16',
              hardware: hardwareFromProfile(store.get('gpu', gpu)),
              ...layout,
              features: {
                ...(result.serving?.dataParallelAttention === true ? {dataParallelAttention: true} : {}),
                ...(result.serving?.speculative?.tokensPerStep === undefined ? {} : {tokensPerStep: result.serving.speculative.tokensPerStep}),
                ...(result.serving?.decodeOnly === true ? {decodeOnly: true} : {}),
              },
            },
            batch,
            result.workload.inputTokens,
            result.workload.outputTokens,
          )
    const lengths = `${result.workload.inputTokens} in / ${result.workload.outputTokens} out tokens`
    const label =
      `${point.kind} operating point of ${source} (${point.outputTokensPerS.toFixed(1)} output tok/s${point.load === null ? '' : ` at ${point.load.kind} ${point.load.value}`}, ${lengths})` +
      (point.kind === 'unchecked' ? ': the source has no latency under load, the SLO was not checked' : '')
    if (result.workload.inputTokens !== workload.inputTokens || result.workload.outputTokens !== workload.outputTokens) {
      notes.push(`${source} measured ${lengths}, the search's workload is ${workload.inputTokens} / ${workload.outputTokens}: its MEASURED throughput is for its own lengths`)
    }
    measured.push({
      file: source,
      resultId: result.id,
      model: modelId,
      quant: result.model.quant,
      engine,
      gpu,
      gpus,
      ...layout,
      outputTokensPerSecond: point.outputTokensPerS,
      tpotMs: point.latencyMs.tpot,
      ttftMs: point.latencyMs.ttft,
      efficiency: ceiling === null ? null : point.outputTokensPerS / ceiling.outputTokensPerSecond,
      calibration: ceiling === null || batch === null ? null : {...ceilingParts(ceiling), measuredS: batch / point.outputTokensPerS},
      basis: `MEASURED: ${label}`,
    })
    for (const target of targets) {
      if (target.id === gpu) continue
      const scaling = scaleOperatingPoint(store, result, point, report.sanity, target.id)
      if (!scaling.ok) continue
      scaled.push({
        file: source,
        resultId: result.id,
        model: modelId,
        quant: result.model.quant,
        engine,
        fromGpu: gpu,
        gpu: target.id,
        gpus: scaling.whatIf.target.gpus,
        tp: scaling.whatIf.target.tp,
        pp: scaling.whatIf.target.pp,
        outputTokensPerSecond: scaling.throughput.outputTokensPerS,
        basis: `SCALED: ${scaling.whatIf.basis}`,
      })
    }
    return null
  })
  for (const bad of invalid) notes.push(`${bad.file}: could not be read (${bad.message}); not used`)
  if (files.length === 0) notes.push(`--results ${dir}: no result files (.json, .jsonl)`)
  return {measured, scaled, notes}
}

/** The whole search: profiles, calibration prior, result files, the planner. */
export async function searchFromFlags(flags: SearchFlagValues, context: SearchContext): Promise<SearchResult> {
  const store = await loadProfiles(context.profilesDir === undefined ? {} : {userDir: context.profilesDir})
  const model = store.get('model', flags.model)
  const workloadId = flags.workload ?? DEFAULT_SEARCH_WORKLOAD
  const workload = store.get('workload', workloadId)
  const {slo, source: sloSource} = sloOf(store, workloadId, flags.slo)
  if (Object.keys(slo).length === 0) throw invalidInput(`No SLO: workload profile ${workloadId} has none.`, 'Give one, e.g. --slo ttft=1s,tpot=40ms.')
  if (flags.volume !== undefined && flags['daily-volume'] !== undefined)
    throw invalidInput('--volume and --daily-volume cannot be used together.', 'Give one of them, e.g. --daily-volume 500M.')
  const hoursPerMonth = flags['hours-per-month'] ?? DEFAULT_HOURS_PER_MONTH
  const tokensPerMonth = flags.volume ?? (flags['daily-volume'] === undefined ? undefined : monthlyFromDailyVolume(flags['daily-volume'], hoursPerMonth))
  if (tokensPerMonth === undefined) throw invalidInput('--model needs a volume to size the fleet.', 'Add --daily-volume 500M (total tokens a day) or --volume 15B (a month).')
  const traffic = flags.traffic ?? shapeProfile('flat', null)
  if (traffic.absolute)
    throw invalidInput(
      `--traffic ${traffic.label}: the search scales a shape to the volume; a file of hourly tokens is not supported with --model yet.`,
      'Use a shape, e.g. --traffic diurnal:3.',
    )
  const gpus = flags['gpus-available'] === undefined ? store.list('gpu').filter((gpu) => gpu.vendor !== 'cpu') : flags['gpus-available'].map((id) => store.get('gpu', id))

  const {points} = calibrationPoints(store)
  const base = points.map(observationOf).filter((o): o is Observation => o !== null)
  if (base.length === 0)
    throw invalidInput('The calibration set is empty: no ESTIMATED throughput can be given.', 'Check profiles/calibration (or your --profiles directory).')

  const fromResults: ResultDeployments =
    flags.results === undefined ? {measured: [], scaled: [], notes: []} : await resultDeployments(flags.results, store, model.id, workload, slo, gpus, context)
  const engines: SearchInput['engines'] = [...new Set([...searchEngines, ...fromResults.measured.map((m) => m.engine)])]
  const priors: SearchResult['priors'] = {}
  const priorUpdates: SearchResult['priorUpdates'] = []
  const vendors = [...new Set(gpus.map((gpu) => gpu.vendor))]
  for (const engine of engines) {
    for (const vendor of vendors) {
      const own = fromResults.measured
        .filter((m) => m.engine === engine && m.calibration !== null && store.get('gpu', m.gpu).vendor === vendor)
        .map((m, index): Observation => ({
          id: `${m.file}#${index}`,
          sourceId: m.file,
          family: engine,
          vendor,
          ceilingS: m.calibration!.memoryS + m.calibration!.computeS + m.calibration!.prefillS,
          ...m.calibration!,
        }))
      const {prior, update} = updatedPrior(base, engine, vendor, own)
      priors[priorKey(engine, vendor)] = prior
      if (update !== null) priorUpdates.push(update)
    }
  }
  return searchDeployments(store, {
    model,
    workload: {id: workload.id, inputTokens: workload.inputTokens, outputTokens: workload.outputTokens},
    slo,
    sloSource,
    gpus,
    maxGpus: flags['max-gpus'] ?? DEFAULT_MAX_GPUS,
    quants: quantLevels,
    engines,
    pricing: flags.pricing ?? ['on-demand'],
    tokensPerMonth,
    hoursPerMonth,
    traffic,
    fleet: {
      ...(flags.headroom === undefined ? {} : {headroom: flags.headroom}),
      ...(flags['min-replicas'] === undefined ? {} : {minReplicas: flags['min-replicas']}),
      ...(flags['scale-step'] === undefined ? {} : {scaleStep: flags['scale-step']}),
    },
    owned: {
      ...(flags['kwh-price'] === undefined ? {} : {usdPerKwh: flags['kwh-price']}),
      ...(flags.pue === undefined ? {} : {pue: flags.pue}),
      ...(flags['colo-kw-month'] === undefined ? {} : {coloUsdPerKwMonth: flags['colo-kw-month']}),
      ...(flags['ops-overhead'] === undefined ? {} : {opsOverhead: flags['ops-overhead']}),
      ...(flags['cost-of-capital'] === undefined ? {} : {costOfCapital: flags['cost-of-capital']}),
    },
    priors,
    priorUpdates,
    measured: fromResults.measured,
    scaled: fromResults.scaled,
    notes: fromResults.notes,
  })
}
