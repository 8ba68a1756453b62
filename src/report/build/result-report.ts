/**
 * One result file -> what `capplan report` says about it: the operating point at the SLO and, when there is
 * one, the cost of serving at it (planCost). No I/O: the file is already parsed, the profile store loaded.
 */

import {hitRateText} from './workload-shape.js'
import {prefillShare} from '../../cost/io-split.js'
import {type CostChoices, planInputFor} from '../../cost/plan-input.js'
import {planCost, type PlanInput, type PlanResult} from '../../cost/plan.js'
import {CapplanError} from '../../lib/errors.js'
import {formatIoRatio, type IoRatio} from '../../lib/units.js'
import {detectGpuProfile, type ProfileStore} from '../../profiles/store.js'
import type {LevelRecord, ResultFile, SloSpec} from '../../results/schema.js'
import {type ResultVerification, unverifiedLevels, verifyResult} from '../../results/verify.js'
import {formatSlo} from '../../stats/slo.js'
import {formatRate, loadText} from '../format.js'
import {clientHealthWarnings} from './client-health.js'
import {findOperatingPoint, type OperatingPoint, type SloPercentile} from './operating-point.js'
import {
  checkOperatingPoint,
  checkResultSanity,
  excludedLevels,
  scaleOperatingPoint,
  type LevelSanity,
  type ResultSanity,
  type SanityOptions,
  type ScaledThroughput,
} from './sanity.js'

/** When neither --slo nor the result's workload profile gives one: the chat workload's p95 targets. */
export const DEFAULT_SLO: SloSpec = {ttftMs: 2000, tpotMs: 50}

/** Prefix of the note an importer writes ("imported from llama-bench: ..."); see src/results/import. */
export const IMPORTED_NOTE_PREFIX = 'imported from '

/** The peer format a result was imported from (its first "imported from X" note), or null for capplan's own. */
export function importedFormat(result: ResultFile): string | null {
  for (const note of result.notes) {
    if (note.startsWith(IMPORTED_NOTE_PREFIX)) return note.slice(IMPORTED_NOTE_PREFIX.length).split(/[:\s]/)[0] ?? null
  }
  return null
}

/**
 * Whether any level carries latency under load: a distribution, or the peer tool's own reported statistics
 * (imports without per-request samples). llama-bench has neither.
 */
export function hasLatencyUnderLoad(result: ResultFile): boolean {
  return result.levels.some((level) => level.summary.ttftMs !== null || level.summary.tpotMs !== null || level.summary.e2eMs !== null || level.reported !== undefined)
}

/** "qwen2.5-0.5b int4 (Q4_0), embedded cpu" */
export function resultLabel(result: ResultFile): string {
  const imported = importedFormat(result)
  return (
    `${result.model.profile} ${result.model.quant} (${result.model.format}), ${result.engine.kind} ${result.engine.backend}` +
    (imported === null ? '' : ` [imported: ${imported}]`)
  )
}

export interface ReportOptions {
  /** --slo; absent = the result's workload profile, else DEFAULT_SLO. */
  slo?: SloSpec
  percentile?: SloPercentile
  interpolate?: boolean
  /** The cost choices (--gpu, --gpu-price, --volume, ...), minus throughput and GPU count (set per result). */
  plan: CostChoices
  /** --gpus: GPUs per replica for every result (default: the result's engine.gpuCount, at least 1). */
  gpusOverride?: number
  /** --bandwidth: GB/s for results whose hardware profile has none (CPU runs). */
  bandwidthGBs?: number
  /** --what-if: GPU profile ids to scale each operating point to (validated by reportOptionsFromFlags). */
  whatIf?: string[]
}

/** One operating point scaled to a GPU that was not measured: an ESTIMATE, costed like a measurement, or refused. */
export type WhatIfReport =
  | {
      target: string
      ok: true
      label: 'estimate'
      /** The result file and load it is scaled from. */
      fromFile: string
      fromResultId: string
      fromLoad: {kind: string; value: number}
      /** Where the number comes from, in words. */
      basis: string
      /** Measured output tok/s / the source hardware's ceiling, applied to the target's ceiling. */
      sourceEfficiency: number
      sourceCeilingTokensPerS: number
      targetCeilingTokensPerS: number
      /** estimated / measured output tok/s; every throughput of the operating point is multiplied by it. */
      scale: number
      throughput: ScaledThroughput
      gpusPerReplica: number
      tp: number
      pp: number
      warnings: string[]
      /** Null when the target GPU profile cannot be priced (costNote says why). */
      plan: PlanResult | null
      costNote: string
    }
  | {target: string; ok: false; label: 'estimate'; fromFile: string; fromResultId: string; reason: string}

export interface ResultReport {
  file: string
  id: string
  /** The run's recorded status; "running" = it never finished (killed or crashed mid-run): levels saved so far. */
  runStatus: ResultFile['status']
  label: string
  /** The peer format when imported, null for capplan's own files. */
  importedFrom: string | null
  workload: ResultFile['workload']
  slo: SloSpec
  sloSource: string
  operatingPoint: OperatingPoint
  /** GPU profile used for the price; null when given by --gpu-price or when no cost could be made. */
  gpuProfile: string | null
  gpusPerReplica: number
  /** Null when nothing is costed (no operating point, or no GPU price); costNote says why. */
  plan: PlanResult | null
  /** What the cost rests on, or why there is none. */
  costNote: string
  energy: {joulesPerOutputToken: number | null; averagePowerW: number | null; source: string} | null
  /** Things the reader must know (imported metrics, missing data, placeholders). */
  caveats: string[]
  /** Levels whose ITL capplan's own GC pauses or event-loop delay could have distorted (client-health.ts). */
  clientHealthWarnings: string[]
  /** The measured prompt-cache hit rate over the levels (workload-shape.ts), null without cache evidence. */
  hitRate: string | null
  levels: LevelRecord['summary'][]
  /** Per level, the peer tool's own latency statistics when the level has no samples of its own (imports); else null. */
  reportedLatency: (NonNullable<LevelRecord['reported']> | null)[]
  loads: LevelRecord['load'][]
  /**
   * Each level's stored summary recomputed from its request records (results/verify.ts): levels whose summary
   * disagrees, has no records behind it, is duplicated, impossible, or whose outputs are not the requested
   * length are excluded from cost; imported levels without records are "summary-only" (reported, costed, marked).
   */
  verification: ResultVerification
  /** Each level's efficiency against the ceiling of the hardware it ran on; impossible levels are never costed. */
  sanity: ResultSanity
  /** Efficiency at the operating point (its own load and throughput); null without one. */
  operatingPointSanity: LevelSanity | null
  /** --what-if: the operating point on each target GPU (estimates). */
  whatIf: WhatIfReport[]
}

function resolveSlo(result: ResultFile, store: ProfileStore, options: ReportOptions): {slo: SloSpec; source: string} {
  if (options.slo !== undefined) return {slo: options.slo, source: '--slo'}
  const id = result.workload.profile
  if (id !== null && store.has('workload', id)) {
    const {slo} = store.get('workload', id)
    const spec: SloSpec = {
      ...(slo.ttftP95Ms === null ? {} : {ttftMs: slo.ttftP95Ms}),
      ...(slo.tpotP95Ms === null ? {} : {tpotMs: slo.tpotP95Ms}),
      ...(slo.e2eP95Ms === null ? {} : {e2eMs: slo.e2eP95Ms}),
    }
    if (Object.keys(spec).length > 0) return {slo: spec, source: `workload profile ${id}`}
  }
  return {slo: DEFAULT_SLO, source: "default: the chat workload's"}
}

/** Measured energy at the operating point's level, when telemetry exists. */
function measuredEnergy(level: LevelRecord | undefined): ResultReport['energy'] {
  const telemetry = level?.telemetry
  if (telemetry === null || telemetry === undefined || telemetry.energyJ === null) return null
  const seconds = level!.summary.durationS
  return {
    joulesPerOutputToken: telemetry.joulesPerOutputToken,
    averagePowerW: seconds > 0 ? telemetry.energyJ / seconds : null,
    source: telemetry.energySource === 'counter' ? "the GPUs' energy counter" : 'integrated power samples',
  }
}

/**
 * The GPU profile of the result's first recognized GPU (as telemetry/host.ts's detectHostGpuProfileId, without
 * importing the host prober and its dependencies: report reads thousands of files and starts fast).
 */
function hostGpuProfileId(store: ProfileStore, result: ResultFile): string | null {
  for (const gpu of result.host.gpus) {
    const profile = detectGpuProfile(store, gpu.model)
    if (profile !== undefined) return profile.id
  }
  return null
}

/**
 * planInputFor everything but the throughput, memoized per store and choices: a report over thousands of
 * results from one machine resolves the same GPU price and API prices once, not per file.
 */
const planInputCache = new WeakMap<ProfileStore, Map<string, PlanInput>>()
function cachedPlanInput(choices: CostChoices, store: ProfileStore): PlanInput {
  let cache = planInputCache.get(store)
  if (cache === undefined) planInputCache.set(store, (cache = new Map()))
  const key = JSON.stringify(choices)
  let input = cache.get(key)
  if (input === undefined) {
    // The stand-in throughput is replaced by the operating point's; everything else is validated here.
    input = planInputFor({...choices, outputTokensPerSecond: 1}, store)
    cache.set(key, input)
  }
  return input
}

/** The measured model, quant and weight format, for its hosted twins and its quantization's expected loss. */
function modelChoices(result: ResultFile, store: ProfileStore): Pick<CostChoices, 'model' | 'quant' | 'format'> {
  if (!store.has('model', result.model.profile)) return {}
  return {model: result.model.profile, quant: result.model.quant, format: result.model.format}
}

/** The I/O ratio the cost uses: --io-ratio, else the ratio the workload measured. */
function ioRatioOf(result: ResultFile, choices: CostChoices): IoRatio {
  return choices.ioRatio ?? {input: result.workload.inputTokens, output: result.workload.outputTokens}
}

/**
 * `verification` is the check of the stored summaries against their records (results/verify.ts), made here
 * unless given: only tests of the cost stages over hand-written summaries (no records) pass their own.
 */
export function buildResultReport(
  file: string,
  result: ResultFile,
  store: ProfileStore,
  options: ReportOptions,
  verification: ResultVerification = verifyResult(file, result, {importedFrom: importedFormat(result)}),
): ResultReport {
  const {slo, source: sloSource} = resolveSlo(result, store, options)
  const importedFrom = importedFormat(result)
  const latencyMeasured = importedFrom === null || hasLatencyUnderLoad(result)
  const sanityOptions = {
    ...(options.bandwidthGBs === undefined ? {} : {bandwidthGBs: options.bandwidthGBs}),
    ...(options.plan.gpu === undefined ? {} : {fallbackGpu: options.plan.gpu}),
  }
  const sanity = checkResultSanity(store, result, sanityOptions)
  // A level whose summary is not what its records give, or faster than physics allows, is a broken
  // measurement: the operating point never uses it.
  const excluded = unverifiedLevels(verification)
  for (const [index, reason] of excludedLevels(sanity)) excluded.set(index, excluded.has(index) ? `${excluded.get(index)}; ${reason}` : reason)
  const point = findOperatingPoint(result.levels, slo, {
    ...(options.percentile === undefined ? {} : {percentile: options.percentile}),
    ...(options.interpolate === undefined ? {} : {interpolate: options.interpolate}),
    latencyMeasured,
    excluded,
  })
  const operatingPointSanity = checkOperatingPoint(store, result, point, sanity, sanityOptions)
  const whatIf = (options.whatIf ?? []).map((target) => whatIfReport(file, result, store, options, point, sanity, sanityOptions, target))
  const caveats: string[] = []
  if (importedFrom !== null) {
    caveats.push(...result.notes.filter((note) => note.startsWith(IMPORTED_NOTE_PREFIX) || note.startsWith('lacks:') || note.startsWith('converted:')))
  }
  const gpusPerReplica = options.gpusOverride ?? Math.max(1, result.engine.gpuCount)
  const pointLevel = point.levelIndex === null ? undefined : result.levels[point.levelIndex]
  const energy = measuredEnergy(pointLevel)

  const base = {
    file,
    id: result.id,
    runStatus: result.status,
    label: resultLabel(result),
    importedFrom,
    workload: result.workload,
    slo,
    sloSource,
    operatingPoint: point,
    gpusPerReplica,
    energy,
    caveats,
    clientHealthWarnings: clientHealthWarnings(result),
    hitRate: hitRateText(result.levels),
    levels: result.levels.map((level) => level.summary),
    reportedLatency: result.levels.map((level) => level.reported ?? null),
    loads: result.levels.map((level) => level.load),
    verification,
    sanity,
    operatingPointSanity,
    whatIf,
  }

  if (point.outputTokensPerS === null || !(point.outputTokensPerS > 0)) {
    return {...base, gpuProfile: null, plan: null, costNote: point.kind === 'none' ? `Not costed: ${point.explanation}` : 'Not costed: no output throughput.'}
  }

  const flags = options.plan
  let gpuProfile: string | null = null
  if (flags.usdPerGpuHour === undefined) {
    gpuProfile =
      flags.gpu ??
      (result.gpuProfile !== null && store.has('gpu', result.gpuProfile) ? result.gpuProfile : null) ??
      hostGpuProfileId(store, result) ??
      (result.engine.gpuCount === 0 && options.gpusOverride === undefined ? 'cpu' : null)
    if (gpuProfile === null) {
      const names = result.host.gpus.map((gpu) => gpu.model).join(', ') || 'none recorded'
      return {
        ...base,
        gpuProfile: null,
        plan: null,
        costNote: `Not costed: no GPU profile matches the result's host GPUs (${names}). Pass --gpu ID or --gpu-price USD.`,
      }
    }
  }

  const ioRatio = ioRatioOf(result, flags)
  const ioRatioText = formatIoRatio(ioRatio)
  const measuredPower: CostChoices = {}
  if (flags.usdPerKwh !== undefined && flags.powerWattsPerGpu === undefined && energy?.averagePowerW !== null && energy !== null) {
    measuredPower.powerWattsPerGpu = Number((energy.averagePowerW! / gpusPerReplica).toPrecision(12))
    measuredPower.powerSource = `measured average over the level (${energy.source})`
  }
  let plan: PlanResult
  try {
    const base = cachedPlanInput(
      {...flags, ...measuredPower, ...modelChoices(result, store), ...(gpuProfile === null ? {} : {gpu: gpuProfile}), gpusPerReplica, ioRatio},
      store,
    )
    const share = pointLevel === undefined ? null : prefillShare(pointLevel.requests)
    // A workload that reused prefixes had them served from the server's cache: APIs get the same hits (--cache-hit wins).
    const measuredHit = flags.cacheHitRate === undefined ? (pointLevel?.cache?.measuredHitRate ?? null) : null
    plan = planCost({
      ...base,
      outputTokensPerSecond: point.outputTokensPerS,
      ...(share === null ? {} : {prefillShare: share}),
      ...(measuredHit !== null && measuredHit > 0 ? {cacheHitRate: measuredHit} : {}),
    })
  } catch (error) {
    // A price tier the detected GPU profile lacks is this result's problem, not the whole report's.
    if (error instanceof CapplanError && flags.gpu === undefined && gpuProfile !== null) {
      return {...base, gpuProfile, plan: null, costNote: `Not costed: ${error.message} ${error.suggestion}`}
    }
    throw error
  }

  const throughputWhat =
    point.kind === 'unchecked'
      ? importedFrom === 'llama-bench'
        ? `${formatRate(point.outputTokensPerS)} output tok/s from llama-bench, SINGLE-STREAM (batch 1, no latency under load): ` +
          'a batched server serves more, so this cost is an upper bound and the SLO was not checked'
        : `${formatRate(point.outputTokensPerS)} output tok/s from ${importedFrom ?? 'the source'}'s highest load, WITHOUT latency percentiles: the SLO was not checked`
      : `${formatRate(point.outputTokensPerS)} output tok/s at the ${point.kind} operating point` +
        (point.load === null ? '' : ` (${loadText(point.load)})`) +
        ` meeting ${formatSlo(slo)} at ${point.percentile}`
  const ratioWhat =
    flags.ioRatio === undefined
      ? `input:output ${ioRatioText} as the workload measured`
      : `input:output ${ioRatioText} (--io-ratio; the throughput was measured at ${result.workload.inputTokens}:${result.workload.outputTokens})`
  const priceWhat = gpuProfile === null ? '--gpu-price' : `GPU profile ${gpuProfile}${flags.gpu === undefined ? ' (from the result)' : ''}`
  return {
    ...base,
    gpuProfile,
    plan,
    costNote: `Costed at ${throughputWhat}; ${ratioWhat}; ${gpusPerReplica} ${result.engine.gpuCount === 0 ? 'CPU machine' : 'GPU'}${gpusPerReplica === 1 ? '' : 's'} per replica; price: ${priceWhat}.`,
  }
}

/**
 * The operating point scaled to `target` and costed with the target's GPU profile price (--pricing applies;
 * --gpu, --gpu-price and the measured power belong to the measured hardware and are not carried over).
 */
function whatIfReport(
  file: string,
  result: ResultFile,
  store: ProfileStore,
  options: ReportOptions,
  point: OperatingPoint,
  sanity: ResultSanity,
  sanityOptions: SanityOptions,
  target: string,
): WhatIfReport {
  const from = {target, label: 'estimate' as const, fromFile: file, fromResultId: result.id}
  const scaling = scaleOperatingPoint(store, result, point, sanity, target, sanityOptions)
  if (!scaling.ok) return {...from, ok: false, reason: scaling.reason}
  const {whatIf: scaled, throughput, scale} = scaling
  const {gpu: _gpu, usdPerGpuHour: _price, powerWattsPerGpu: _power, powerSource: _source, ...flags} = options.plan
  const ioRatio = ioRatioOf(result, flags)
  const ioRatioText = formatIoRatio(ioRatio)
  const fromLoad = {kind: point.load!.kind, value: point.load!.value}
  const common = {
    ...from,
    ok: true as const,
    fromLoad,
    basis: `${scaled.basis} (from ${file}, ${point.kind} operating point)`,
    sourceEfficiency: scaled.efficiencyUsed,
    sourceCeilingTokensPerS: scaled.sourceCeilingTokensPerSecond,
    targetCeilingTokensPerS: scaled.targetCeilingTokensPerSecond,
    scale,
    throughput,
    gpusPerReplica: scaled.target.gpus,
    tp: scaled.target.tp,
    pp: scaled.target.pp,
    warnings: scaled.warnings,
  }
  let plan: PlanResult
  try {
    const base = cachedPlanInput({...flags, ...modelChoices(result, store), gpu: target, gpusPerReplica: scaled.target.gpus, ioRatio}, store)
    plan = planCost({...base, outputTokensPerSecond: throughput.outputTokensPerS})
  } catch (error) {
    if (error instanceof CapplanError) return {...common, plan: null, costNote: `Not costed: ${error.message} ${error.suggestion}`}
    throw error
  }
  return {
    ...common,
    plan,
    costNote:
      `ESTIMATE costed at ${formatRate(throughput.outputTokensPerS)} output tok/s on ${scaled.target.gpus} x ${target} ` +
      `(TP ${scaled.target.tp}${scaled.target.pp > 1 ? `, PP ${scaled.target.pp}` : ''}), not measured: ` +
      `${result.id}'s operating point x ${Number(scale.toPrecision(4))}; input:output ${ioRatioText}; price: GPU profile ${target}.`,
  }
}
