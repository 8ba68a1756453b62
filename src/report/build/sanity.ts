/**
 * Physics sanity for `capplan report`: each measured level's decode throughput against the roofline ceiling of
 * the hardware it ran on (efficiency), the levels physics rules out (never costed), and the operating point
 * scaled to a GPU that was not measured (what-if, an ESTIMATE). Pure: parsed result + profile store in.
 */

import {CapplanError} from '../../lib/errors.js'
import {detectGpuProfile, type ProfileStore} from '../../profiles/store.js'
import type {LevelRecord, ResultFile} from '../../results/schema.js'
import {hardwareFromProfile} from '../../roofline/ceilings.js'
import {checkResultLevel, isCheckableLevel, whatIfResultLevel} from '../../roofline/from-result.js'
import type {MeasuredCheck, MeasuredVerdict, WhatIfResult} from '../../roofline/sanity.js'
import type {OperatingPoint} from './operating-point.js'

/** The hint printed wherever a CPU result has no bandwidth. */
export const BANDWIDTH_HINT = 'pass --bandwidth GB/s (measure it with `capplan system --measure-bandwidth`)'

/** Verdicts whose level is never used for cost: the measurement cannot be what it claims. */
export const EXCLUDED_VERDICTS: ReadonlySet<MeasuredVerdict> = new Set(['impossible', 'does-not-fit'])

export interface LevelSanity {
  /** Index of the level in the result file. */
  index: number
  load: LevelRecord['load']
  /** Null when the level cannot be judged (a rate load, a failed level, no output, no profile). */
  check: MeasuredCheck | null
  /** check.message, or why there is no check. */
  note: string
}

export interface ResultSanity {
  /** GPU profile whose ceiling judges the result ('cpu' for CPU runs); null when none is known. */
  hardwareProfile: string | null
  /** GB/s per device used for the ceiling; null when unknown. */
  bandwidthGBs: number | null
  bandwidthSource: 'profile' | 'flag' | 'missing'
  levels: LevelSanity[]
  /** Why the whole result cannot be judged, or null. */
  problem: string | null
}

export interface SanityOptions {
  /** --bandwidth: GB/s for results whose hardware profile has none (CPU runs); a datasheet value is never replaced. */
  bandwidthGBs?: number
  /** --gpu: names the hardware of a GPU result that records none capplan recognizes (imports without a host). */
  fallbackGpu?: string
}

/**
 * The GPU profile the result ran on: the one it records, else the host's recognized GPU, else cpu for a
 * CPU run (gpuCount 0), else `fallbackGpu` (--gpu). Null for a GPU run on a GPU no profile knows.
 */
export function sourceHardwareProfile(store: ProfileStore, result: ResultFile, fallbackGpu?: string): string | null {
  if (result.gpuProfile !== null && store.has('gpu', result.gpuProfile)) return result.gpuProfile
  for (const gpu of result.host.gpus) {
    const profile = detectGpuProfile(store, gpu.model)
    if (profile !== undefined) return profile.id
  }
  if (result.engine.gpuCount === 0) return 'cpu'
  return fallbackGpu !== undefined && store.has('gpu', fallbackGpu) ? fallbackGpu : null
}

/** Bandwidth options for the result's hardware: the flag only where the profile has no bandwidth. */
function bandwidthFor(
  store: ProfileStore,
  profileId: string,
  options: SanityOptions,
): {bandwidthGBs: number | null; source: ResultSanity['bandwidthSource']; levelOptions: {bandwidthGBs?: number}} {
  const profileTBs = store.get('gpu', profileId).memoryBandwidthTBs
  if (profileTBs !== null) return {bandwidthGBs: profileTBs * 1000, source: 'profile', levelOptions: {}}
  if (options.bandwidthGBs !== undefined) return {bandwidthGBs: options.bandwidthGBs, source: 'flag', levelOptions: {bandwidthGBs: options.bandwidthGBs}}
  return {bandwidthGBs: null, source: 'missing', levelOptions: {}}
}

/** Why a result cannot be judged at all, or null. */
function resultProblem(store: ProfileStore, result: ResultFile, profileId: string | null): string | null {
  if (!store.has('model', result.model.profile)) return `no model profile "${result.model.profile}": the ceiling needs the architecture`
  if (profileId === null) {
    const names = result.host.gpus.map((gpu) => gpu.model).join(', ') || 'none recorded'
    return `no GPU profile matches the result's GPUs (${names}): no ceiling (name it with --gpu ID)`
  }
  return null
}

/** The result as its ceiling sees it: the hardware profile it ran on filled in (a detected GPU, or cpu). */
function withHardware(result: ResultFile, profileId: string): ResultFile {
  return result.gpuProfile === profileId ? result : {...result, gpuProfile: profileId}
}

function guarded<T>(compute: () => T): T | {error: string} {
  try {
    return compute()
  } catch (error) {
    // A profile the roofline cannot read (a format it does not know) is this result's problem, not the report's.
    if (error instanceof CapplanError) return {error: error.message}
    throw error
  }
}

const judgeable = (level: LevelRecord) => isCheckableLevel(level)
const notJudgeableNote = (level: LevelRecord) =>
  level.status !== 'complete'
    ? `not checked: the level is ${level.status}`
    : level.load.kind !== 'concurrency'
      ? 'not checked: a request-rate level has no fixed batch for the ceiling'
      : 'not checked: no output tokens'

/** Every level's efficiency against the ceiling of the hardware the result ran on. */
export function checkResultSanity(store: ProfileStore, result: ResultFile, options: SanityOptions = {}): ResultSanity {
  const profileId = sourceHardwareProfile(store, result, options.fallbackGpu)
  const problem = resultProblem(store, result, profileId)
  if (problem !== null || profileId === null) {
    return {
      hardwareProfile: profileId,
      bandwidthGBs: null,
      bandwidthSource: 'missing',
      levels: result.levels.map((level, index) => ({index, load: {...level.load}, check: null, note: `not checked: ${problem}`})),
      problem,
    }
  }
  const bandwidth = bandwidthFor(store, profileId, options)
  const source = withHardware(result, profileId)
  const levels = result.levels.map((level, index): LevelSanity => {
    if (!judgeable(level)) return {index, load: {...level.load}, check: null, note: notJudgeableNote(level)}
    const check = guarded(() => checkResultLevel(store, source, level, bandwidth.levelOptions))
    if ('error' in check) return {index, load: {...level.load}, check: null, note: `not checked: ${check.error}`}
    const note = check.verdict === 'unknown' ? `efficiency unknown: ${profileId} has no memory bandwidth; ${BANDWIDTH_HINT}` : check.message
    return {index, load: {...level.load}, check, note}
  })
  return {hardwareProfile: profileId, bandwidthGBs: bandwidth.bandwidthGBs, bandwidthSource: bandwidth.source, levels, problem: null}
}

/** Levels that must never be costed (index -> why), for findOperatingPoint's `excluded`. */
export function excludedLevels(sanity: ResultSanity): Map<number, string> {
  const excluded = new Map<number, string>()
  for (const level of sanity.levels) {
    if (level.check !== null && EXCLUDED_VERDICTS.has(level.check.verdict)) excluded.set(level.index, `physically ${level.check.message}`)
  }
  return excluded
}

/**
 * The operating point as a level record: the measured level it uses, with the operating point's load and
 * throughputs (they differ from the level's when interpolated). Null without an operating point.
 */
export function operatingPointLevel(result: ResultFile, point: OperatingPoint): LevelRecord | null {
  if (point.levelIndex === null || point.load === null || point.outputTokensPerS === null) return null
  const level = result.levels[point.levelIndex]
  if (level === undefined) return null
  return {
    ...level,
    load: {...point.load},
    summary: {
      ...level.summary,
      throughput: {
        outputTokensPerS: point.outputTokensPerS,
        inputTokensPerS: point.inputTokensPerS ?? level.summary.throughput.inputTokensPerS,
        totalTokensPerS: point.totalTokensPerS ?? level.summary.throughput.totalTokensPerS,
        requestsPerS: point.requestsPerS ?? level.summary.throughput.requestsPerS,
      },
    },
  }
}

/** Efficiency at the operating point (its own load and throughput, interpolated or measured). */
export function checkOperatingPoint(store: ProfileStore, result: ResultFile, point: OperatingPoint, sanity: ResultSanity, options: SanityOptions = {}): LevelSanity | null {
  const level = operatingPointLevel(result, point)
  if (level === null || point.levelIndex === null) return null
  if (sanity.problem !== null || sanity.hardwareProfile === null) return {index: point.levelIndex, load: {...level.load}, check: null, note: `not checked: ${sanity.problem}`}
  if (!judgeable(level)) return {index: point.levelIndex, load: {...level.load}, check: null, note: notJudgeableNote(level)}
  const bandwidth = bandwidthFor(store, sanity.hardwareProfile, options)
  const check = guarded(() => checkResultLevel(store, withHardware(result, sanity.hardwareProfile!), level, bandwidth.levelOptions))
  if ('error' in check) return {index: point.levelIndex, load: {...level.load}, check: null, note: `not checked: ${check.error}`}
  const note = check.verdict === 'unknown' ? `efficiency unknown: ${sanity.hardwareProfile} has no memory bandwidth; ${BANDWIDTH_HINT}` : check.message
  return {index: point.levelIndex, load: {...level.load}, check, note}
}

/** The scaled throughputs of a what-if: the operating point's, each x `scale` (= estimate / measured output tok/s). */
export interface ScaledThroughput {
  outputTokensPerS: number
  inputTokensPerS: number
  totalTokensPerS: number
  requestsPerS: number
}

export type WhatIfScaling = {ok: true; whatIf: Extract<WhatIfResult, {ok: true}>; scale: number; throughput: ScaledThroughput} | {ok: false; reason: string}

/**
 * The operating point scaled to `targetId` (same GPU count as measured; refused when the model or the batch's
 * KV does not fit, when the measurement is impossible, or when its efficiency is unknown).
 */
export function scaleOperatingPoint(
  store: ProfileStore,
  result: ResultFile,
  point: OperatingPoint,
  sanity: ResultSanity,
  targetId: string,
  options: SanityOptions = {},
): WhatIfScaling {
  const level = operatingPointLevel(result, point)
  if (level === null) return {ok: false, reason: 'no operating point to scale (no measured level meets the SLO)'}
  if (sanity.problem !== null || sanity.hardwareProfile === null) return {ok: false, reason: sanity.problem ?? 'no ceiling for the measured hardware'}
  if (!judgeable(level)) return {ok: false, reason: `the operating point is ${notJudgeableNote(level).replace(/^not checked: /, '')}`}
  const bandwidth = bandwidthFor(store, sanity.hardwareProfile, options)
  if (bandwidth.bandwidthGBs === null) return {ok: false, reason: `the efficiency measured on ${sanity.hardwareProfile} is unknown without its bandwidth: ${BANDWIDTH_HINT}`}
  const target = hardwareFromProfile(store.get('gpu', targetId))
  const scaled = guarded(() => whatIfResultLevel(store, withHardware(result, sanity.hardwareProfile!), level, target, bandwidth.levelOptions))
  if ('error' in scaled) return {ok: false, reason: scaled.error}
  if (!scaled.ok) return {ok: false, reason: scaled.reason}
  const measured = level.summary.throughput
  const scale = scaled.estimatedTokensPerSecond / measured.outputTokensPerS
  return {
    ok: true,
    whatIf: scaled,
    scale,
    throughput: {
      outputTokensPerS: scaled.estimatedTokensPerSecond,
      inputTokensPerS: measured.inputTokensPerS * scale,
      totalTokensPerS: measured.totalTokensPerS * scale,
      requestsPerS: measured.requestsPerS * scale,
    },
  }
}

/** "2.2% of 57.9 tok/s (ok)" for tables. */
export function efficiencyText(sanity: LevelSanity | null | undefined): string {
  if (sanity === null || sanity === undefined) return '-'
  const check = sanity.check
  if (check === null) return 'not checked'
  if (check.efficiency === null || check.ceilingTokensPerSecond === null) return 'unknown (no bandwidth)'
  const ceiling = check.ceilingTokensPerSecond
  const ceilingText = ceiling >= 100 ? ceiling.toFixed(0) : ceiling >= 10 ? ceiling.toFixed(1) : ceiling.toFixed(2)
  const verdict = check.verdict === 'ok' ? '' : ` ${check.verdict.toUpperCase()}`
  return `${(check.efficiency * 100).toFixed(1)}% of ${ceilingText}${verdict}`
}
