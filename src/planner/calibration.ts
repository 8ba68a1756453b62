/**
 * The calibration set as the planner uses it: every published measurement (profiles/calibration) as a
 * serving operating point on its own hardware, divided by its serving ceiling (roofline/serving.ts) = an
 * efficiency. The efficiencies' median is the prior an ESTIMATED throughput is multiplied by, their 10th and
 * 90th percentiles the range it is printed with. Leave-one-out predicts each row from the others. Pure.
 */

import type {CalibrationMeasurement, CalibrationProfile} from '../profiles/calibration-schema.js'
import type {GpuProfile, ModelProfile} from '../profiles/schema.js'
import type {ProfileStore} from '../profiles/store.js'
import {hardwareFromProfile, type Hardware} from '../roofline/ceilings.js'
import {formatFromName, type KvCacheDtype, type ResolvedFormat} from '../roofline/formats.js'
import type {ServingFeatures} from '../roofline/memory.js'
import {checkMeasuredDecode, type MeasuredCheck} from '../roofline/sanity.js'
import {servingCeiling, type ServingCeiling} from '../roofline/serving.js'
import {percentileSorted} from '../stats/distribution.js'

/** The range an estimate prints: the 10th to the 90th percentile of the efficiencies. */
export const PRIOR_RANGE = {low: 0.1, high: 0.9} as const

export interface CalibrationPoint {
  /** "<profile id>/<row id>". */
  id: string
  row: CalibrationMeasurement
  model: ModelProfile
  gpu: GpuProfile
  hardware: Hardware
  format: ResolvedFormat
  kvCache: KvCacheDtype
  engine: string
  tp: number
  pp: number
  /** Sequences in flight on ONE replica (decode worker): the concurrency over the replicas. */
  batch: number
  replicas: number
  inputTokens: number
  outputTokens: number
  features: ServingFeatures
  /** Output tok/s of ONE replica: the published per-GPU figure x the replica's GPUs. */
  measuredOutputTokensPerSecond: number
  source: string
}

export interface CalibrationProblem {
  id: string
  message: string
}

/** Rows -> operating points; a row whose model, GPU or format capplan cannot use is a problem, not a point. */
export function calibrationPoints(
  store: ProfileStore,
  profiles: readonly CalibrationProfile[] = store.list('calibration'),
): {
  points: CalibrationPoint[]
  problems: CalibrationProblem[]
} {
  const points: CalibrationPoint[] = []
  const problems: CalibrationProblem[] = []
  for (const profile of profiles) {
    for (const row of profile.measurements) {
      const id = `${profile.id}/${row.id}`
      const format = formatFromName(row.weightFormat)
      if (format === undefined) {
        problems.push({id, message: `weight format "${row.weightFormat}" has no size in capplan (src/roofline/formats.ts)`})
        continue
      }
      if (!store.has('model', row.model) || !store.has('gpu', row.gpu)) {
        problems.push({id, message: `needs model profile "${row.model}" and GPU profile "${row.gpu}"`})
        continue
      }
      const gpu = store.get('gpu', row.gpu)
      const disagg = row.serving.disaggregated
      const replicas = disagg?.decodeWorkers ?? 1
      const replicaGpus = row.tp * row.pp
      const features: ServingFeatures = {
        ...(row.serving.dataParallelAttention === true ? {dataParallelAttention: true} : {}),
        ...(row.serving.speculative?.tokensPerStep === undefined ? {} : {tokensPerStep: row.serving.speculative.tokensPerStep}),
        ...(disagg === undefined ? {} : {decodeOnly: true}),
      }
      points.push({
        id,
        row,
        model: store.get('model', row.model),
        gpu,
        hardware: hardwareFromProfile(gpu),
        format,
        kvCache: row.serving.kvCache ?? 'fp16',
        engine: row.engine,
        tp: row.tp,
        pp: row.pp,
        batch: row.concurrency / replicas,
        replicas,
        inputTokens: row.inputTokens,
        outputTokens: row.outputTokens,
        features,
        measuredOutputTokensPerSecond: row.outputTokensPerSecondPerGpu * replicaGpus,
        source: row.run ?? profile.source.url,
      })
    }
  }
  return {points, problems}
}

/** The point's serving ceiling (null without a bandwidth). */
export function pointCeiling(point: CalibrationPoint): ServingCeiling | null {
  return servingCeiling(
    {model: point.model, format: point.format, kvCache: point.kvCache, hardware: point.hardware, tp: point.tp, pp: point.pp, features: point.features},
    point.batch,
    point.inputTokens,
    point.outputTokens,
  )
}

/** measured / serving ceiling. */
export function pointEfficiency(point: CalibrationPoint): number | null {
  const ceiling = pointCeiling(point)
  return ceiling === null ? null : point.measuredOutputTokensPerSecond / ceiling.outputTokensPerSecond
}

/** The physics check `report` runs on a measured level, on this row (with its serving features). */
export function pointSanity(point: CalibrationPoint): MeasuredCheck {
  return checkMeasuredDecode({
    model: point.model,
    format: point.format,
    kvCache: point.kvCache,
    hardware: point.hardware,
    tp: point.tp,
    pp: point.pp,
    batch: point.batch,
    inputTokens: point.inputTokens,
    outputTokens: point.outputTokens,
    measuredTokensPerSecond: point.measuredOutputTokensPerSecond,
    features: point.features,
  })
}

export interface EfficiencyPrior {
  /** The factor an ESTIMATED ceiling is multiplied by: the median efficiency. */
  median: number
  /** 10th and 90th percentiles: the printed range. */
  low: number
  high: number
  n: number
  /** What the prior is made of, in words. */
  basis: string
}

/** Median and 10th-90th percentiles (linear interpolation) of efficiencies; null for none. */
export function priorOf(efficiencies: readonly number[], basis: string): EfficiencyPrior | null {
  if (efficiencies.length === 0) return null
  const sorted = [...efficiencies].sort((a, b) => a - b)
  return {
    median: percentileSorted(sorted, 0.5),
    low: percentileSorted(sorted, PRIOR_RANGE.low),
    high: percentileSorted(sorted, PRIOR_RANGE.high),
    n: sorted.length,
    basis,
  }
}

export interface PriorUpdate {
  engine: string
  /** The user's measured efficiencies (their result files) for this engine. */
  measured: number[]
  before: EfficiencyPrior
  after: EfficiencyPrior
  /** after.median / before.median - 1. */
  shift: number
}

/**
 * The prior for one engine: the calibration set's efficiencies plus the user's own measured ones for that
 * engine (each counts as one more row), with the shift it made.
 */
export function updatedPrior(base: readonly number[], engine: string, measured: readonly number[]): {prior: EfficiencyPrior; update: PriorUpdate | null} {
  const before = priorOf(base, `calibration set (${base.length} published measurements)`)!
  if (measured.length === 0) return {prior: before, update: null}
  const after = priorOf([...base, ...measured], `calibration set (${base.length}) + ${measured.length} measured ${engine} result(s) of yours`)!
  return {prior: after, update: {engine, measured: [...measured], before, after, shift: after.median / before.median - 1}}
}

export interface LeaveOneOutRow {
  id: string
  measured: number
  ceiling: number
  predicted: number
  low: number
  high: number
  /** |predicted / measured - 1|. */
  error: number
  inside: boolean
}

export interface LeaveOneOut {
  rows: LeaveOneOutRow[]
  n: number
  medianError: number
  p90Error: number
  /** Share of measurements inside [ceiling x low, ceiling x high] of the prior made without them. */
  insideShare: number
}

/** Predict each point from the others' prior: ceiling x median; inside when within ceiling x [p10, p90]. */
export function leaveOneOut(points: readonly CalibrationPoint[]): LeaveOneOut {
  const judged = points.flatMap((point) => {
    const ceiling = pointCeiling(point)
    return ceiling === null ? [] : [{point, ceiling: ceiling.outputTokensPerSecond, efficiency: point.measuredOutputTokensPerSecond / ceiling.outputTokensPerSecond}]
  })
  const rows = judged.map((entry, index): LeaveOneOutRow => {
    const others = judged.filter((_, j) => j !== index).map((other) => other.efficiency)
    const prior = priorOf(others, 'others')!
    const predicted = entry.ceiling * prior.median
    const low = entry.ceiling * prior.low
    const high = entry.ceiling * prior.high
    const measured = entry.point.measuredOutputTokensPerSecond
    return {id: entry.point.id, measured, ceiling: entry.ceiling, predicted, low, high, error: Math.abs(predicted / measured - 1), inside: measured >= low && measured <= high}
  })
  const errors = rows.map((row) => row.error).sort((a, b) => a - b)
  return {
    rows,
    n: rows.length,
    medianError: errors.length === 0 ? Number.NaN : percentileSorted(errors, 0.5),
    p90Error: errors.length === 0 ? Number.NaN : percentileSorted(errors, 0.9),
    insideShare: rows.length === 0 ? Number.NaN : rows.filter((row) => row.inside).length / rows.length,
  }
}
