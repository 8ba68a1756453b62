/**
 * The calibration set as the planner uses it, and the prior an ESTIMATED throughput comes from.
 *
 * Every published measurement (profiles/calibration) becomes a serving operating point on its own hardware
 * at its batch (the concurrency; for an offline run what the KV cache holds; for a request-rate run the
 * sequences in service by Little's law). Its serving ceiling (roofline/serving.ts) says how long one output
 * token should take per sequence, Tc = the ceiling's cycle / OSL, in three parts: the decode step's when the
 * roofline calls it memory-bound, or compute-bound, and the prompts' prefill FLOPs. The measurement says how
 * long it took, Tm = batch / measured output tok/s. The prior is a straight line between the two:
 *
 *   Tm = kMemory x memory-bound decode + kCompute x compute-bound decode + kPrefill x prefill + c
 *
 * (each k: how much slower than the roofline's assumed efficiency that part runs; c: a fixed cost per decode
 * step — launches, scheduling, sampling — in seconds), fitted by least squares on the relative error (weights
 * 1 / Tm^2), every coefficient >= 0 (else a simpler line: fitStepLine). The estimated TPOT grows with the
 * batch, as the ceiling's does, so the SLO's batch is still a binary search. One line is fitted per engine
 * family and GPU vendor when the set has MIN_GROUP_ROWS rows of it, else per engine family, else per GPU
 * vendor, else over all rows.
 *
 * The printed range is a prediction interval of stated coverage (PRIOR_COVERAGE, 80%), calibrated on rows the
 * line did not see: each of the group's rows is predicted by the line refitted WITHOUT its source (the other
 * rows of its published table: an estimate is for a deployment the set does not hold), and the range is the
 * split-conformal finite-sample quantiles of those out-of-fold residuals ln(Tm / predicted) (conformalBounds).
 * Leave-one-out refits without the row (or the source) it predicts, range included: the held-out row's residual
 * never sets the range it is judged by. Pure.
 */

import type {CalibrationMeasurement, CalibrationProfile} from '../profiles/calibration-schema.js'
import type {GpuProfile, ModelProfile} from '../profiles/schema.js'
import type {ProfileStore} from '../profiles/store.js'
import {hardwareFromProfile, type Hardware} from '../roofline/ceilings.js'
import {DEFAULT_OVERHEAD_GB_PER_GPU} from '../roofline/estimate.js'
import {formatFromName, kvCacheBytesPerElement, type KvCacheDtype, type ResolvedFormat} from '../roofline/formats.js'
import {GB, fitReplica, type ServingFeatures} from '../roofline/memory.js'
import {checkMeasuredDecode, type MeasuredCheck} from '../roofline/sanity.js'
import {servingCeiling, type ServingCeiling} from '../roofline/serving.js'
import {percentileSorted} from '../stats/distribution.js'

/** The old range (and the constant model's): the 10th to the 90th percentile of the fitted rows' own residuals. */
export const PRIOR_RANGE = {low: 0.1, high: 0.9} as const
/** The stated coverage of the printed range: a new measurement should fall inside it this often. */
export const PRIOR_COVERAGE = 0.8
/** How a prior's range is made: `conformal` (the planner's) or `in-sample` (the 10th-90th percentile, before). */
export type RangeMethod = 'conformal' | 'in-sample'
/** Fewest rows a group (engine family x vendor, or engine family) needs for a line of its own. */
export const MIN_GROUP_ROWS = 8

export type BatchBasis = 'concurrency' | 'offline' | 'littles-law'

export interface CalibrationPoint {
  /** "<profile id>/<row id>". */
  id: string
  /** The calibration profile (one published table or run) the row comes from. */
  sourceId: string
  row: CalibrationMeasurement
  model: ModelProfile
  gpu: GpuProfile
  hardware: Hardware
  format: ResolvedFormat
  kvCache: KvCacheDtype
  engine: string
  /** The engine family the prior groups by (trt-llm for TensorRT-LLM and Dynamo on it, sglang, vllm, ...). */
  engineFamily: string
  vendor: GpuProfile['vendor']
  tp: number
  pp: number
  /** Sequences in flight on ONE replica (decode worker); how it was found is batchBasis. */
  batch: number
  batchBasis: BatchBasis
  replicas: number
  inputTokens: number
  outputTokens: number
  features: ServingFeatures
  /** Output tok/s of ONE replica: the published per-GPU figure x the replica's GPUs, or the run's total. */
  measuredOutputTokensPerSecond: number
  source: string
}

export interface CalibrationProblem {
  id: string
  message: string
}

/** The family an engine name belongs to, for the prior's groups. */
export function engineFamily(engine: string): string {
  const name = engine.toLowerCase()
  if (name.includes('trt') || name.includes('tensorrt')) return 'trt-llm'
  if (name.includes('sglang')) return 'sglang'
  if (name.includes('vllm')) return 'vllm'
  if (name.includes('llama')) return 'llamacpp'
  return name
}

/**
 * The batch of an offline run: the sequences whose KV the cache holds at the average context ISL + OSL / 2
 * (a paged cache holds what is used), the cache being kvMemoryFraction of what the weights and the per-GPU
 * overhead leave; at least 1, at most maxBatch.
 */
export function offlineBatch(input: {
  model: ModelProfile
  format: ResolvedFormat
  kvCache: KvCacheDtype
  memoryBytesPerGpu: number
  tp: number
  pp: number
  features: ServingFeatures
  inputTokens: number
  outputTokens: number
  maxBatch: number
  kvMemoryFraction: number
}): number {
  const fit = fitReplica({
    model: input.model,
    bitsPerWeight: input.format.bitsPerWeight,
    kvBytesPerElement: kvCacheBytesPerElement[input.kvCache],
    memoryBytesPerGpu: input.memoryBytesPerGpu,
    gpus: input.tp * input.pp,
    tp: input.tp,
    pp: input.pp,
    memoryUtilization: 1,
    overheadBytesPerGpu: DEFAULT_OVERHEAD_GB_PER_GPU * GB,
    contextTokens: input.inputTokens + input.outputTokens / 2,
    ...(input.features.dataParallelAttention === true ? {dataParallelAttention: true} : {}),
  })
  const held = Math.floor((Math.max(0, fit.freeForKvBytes) * input.kvMemoryFraction) / fit.kvBytesPerSequence)
  return Math.max(1, Math.min(input.maxBatch, held))
}

/** Sequences in service by Little's law: request rate (output tok/s / OSL) x (unqueued TTFT + ITL x (OSL - 1)). */
export function littlesLawBatch(outputTokensPerSecond: number, outputTokens: number, meanItlMs: number, unqueuedTtftMs: number): number {
  return (outputTokensPerSecond / outputTokens) * ((unqueuedTtftMs + meanItlMs * (outputTokens - 1)) / 1000)
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
      const model = store.get('model', row.model)
      const hardware = hardwareFromProfile(gpu)
      const disagg = row.serving.disaggregated
      const replicas = disagg?.decodeWorkers ?? 1
      const replicaGpus = row.tp * row.pp
      const kvCache = row.serving.kvCache ?? 'fp16'
      const features: ServingFeatures = {
        ...(row.serving.dataParallelAttention === true ? {dataParallelAttention: true} : {}),
        ...(row.serving.speculative?.tokensPerStep === undefined ? {} : {tokensPerStep: row.serving.speculative.tokensPerStep}),
        ...(disagg === undefined ? {} : {decodeOnly: true}),
      }
      const measured = row.outputTokensPerSecond ?? row.outputTokensPerSecondPerGpu! * replicaGpus
      let batch: number
      let batchBasis: BatchBasis
      if (row.littlesLaw !== undefined) {
        batch = littlesLawBatch(measured, row.outputTokens, row.littlesLaw.meanItlMs, row.littlesLaw.unqueuedTtftMs)
        batchBasis = 'littles-law'
      } else if (row.offline !== undefined) {
        if (hardware.memoryBytesPerGpu === null) {
          problems.push({id, message: `an offline row needs the memory of ${gpu.id} (its profile has none)`})
          continue
        }
        batch = offlineBatch({
          model,
          format,
          kvCache,
          memoryBytesPerGpu: hardware.memoryBytesPerGpu,
          tp: row.tp,
          pp: row.pp,
          features,
          inputTokens: row.inputTokens,
          outputTokens: row.outputTokens,
          ...row.offline,
        })
        batchBasis = 'offline'
      } else {
        batch = row.concurrency! / replicas
        batchBasis = 'concurrency'
      }
      points.push({
        id,
        sourceId: profile.id,
        row,
        model,
        gpu,
        hardware,
        format,
        kvCache,
        engine: row.engine,
        engineFamily: engineFamily(row.engine),
        vendor: gpu.vendor,
        tp: row.tp,
        pp: row.pp,
        batch,
        batchBasis,
        replicas,
        inputTokens: row.inputTokens,
        outputTokens: row.outputTokens,
        features,
        measuredOutputTokensPerSecond: measured,
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

/** One measurement as the prior sees it: the ceiling's and the measured seconds per output token per sequence. */
export interface Observation extends CeilingParts {
  id: string
  /** Leave-one-source-out leaves every observation of a source out together. */
  sourceId: string
  family: string
  vendor: string
  /** Tc: the serving ceiling's cycle / OSL (= batch / ceiling output tok/s) = decodeS + prefillS. */
  ceilingS: number
  /** Tm: batch / measured output tok/s. */
  measuredS: number
}

/**
 * The ceiling's seconds per output token per sequence in three parts: the decode step's, when the roofline
 * says the step is memory-bound or compute-bound (the other is 0), and the prefills' (B x Pc / OSL).
 */
export interface CeilingParts {
  memoryS: number
  computeS: number
  prefillS: number
}

export function ceilingParts(ceiling: ServingCeiling): CeilingParts {
  const prefillS = (ceiling.batch * ceiling.prefillInCycleS * ceiling.tpotS) / ceiling.cycleTimeS
  const decodeS = ceiling.tpotS - prefillS
  return ceiling.bound === 'compute' ? {memoryS: 0, computeS: decodeS, prefillS} : {memoryS: decodeS, computeS: 0, prefillS}
}

export function observationOf(point: CalibrationPoint): Observation | null {
  const ceiling = pointCeiling(point)
  if (ceiling === null) return null
  return {
    id: point.id,
    sourceId: point.sourceId,
    family: point.engineFamily,
    vendor: point.vendor,
    ceilingS: ceiling.tpotS,
    ...ceilingParts(ceiling),
    measuredS: point.batch / point.measuredOutputTokensPerSecond,
  }
}

/** Tm = kMemory x memory-bound decode + kCompute x compute-bound decode + kPrefill x prefill + c. */
export interface StepLine {
  kMemory: number
  kCompute: number
  kPrefill: number
  /** Fixed seconds per output token (per decode step). */
  overheadS: number
}

type Fittable = CeilingParts & Pick<Observation, 'measuredS'>

/** Solve A x = b (small, symmetric) by Gaussian elimination with pivoting; null when singular. */
function solve(a: number[][], b: number[]): number[] | null {
  const n = b.length
  const m = a.map((row, i) => [...row, b[i]!])
  for (let col = 0; col < n; col++) {
    let pivot = col
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r
    if (Math.abs(m[pivot]![col]!) < 1e-300) return null
    ;[m[col], m[pivot]] = [m[pivot]!, m[col]!]
    for (let r = 0; r < n; r++) {
      if (r === col) continue
      const f = m[r]![col]! / m[col]![col]!
      for (let c = col; c <= n; c++) m[r]![c]! -= f * m[col]![c]!
    }
  }
  return m.map((row, i) => row[n]! / row[i]!)
}

/**
 * The lines tried, most detailed first: each maps an observation to its regressors and the fitted
 * coefficients back to a StepLine. The first whose coefficients are all >= 0 is the fit.
 */
const designs: {name: string; width: number; regressors: (o: CeilingParts) => number[]; line: (x: number[]) => StepLine}[] = [
  {
    name: 'memory, compute, prefill, c',
    width: 4,
    regressors: (o) => [o.memoryS, o.computeS, o.prefillS, 1],
    line: ([m, c, p, f]) => ({kMemory: m!, kCompute: c!, kPrefill: p!, overheadS: f!}),
  },
  {
    name: 'memory, compute, prefill',
    width: 3,
    regressors: (o) => [o.memoryS, o.computeS, o.prefillS],
    line: ([m, c, p]) => ({kMemory: m!, kCompute: c!, kPrefill: p!, overheadS: 0}),
  },
  {
    name: 'decode, prefill, c',
    width: 3,
    regressors: (o) => [o.memoryS + o.computeS, o.prefillS, 1],
    line: ([d, p, f]) => ({kMemory: d!, kCompute: d!, kPrefill: p!, overheadS: f!}),
  },
  {name: 'decode, prefill', width: 2, regressors: (o) => [o.memoryS + o.computeS, o.prefillS], line: ([d, p]) => ({kMemory: d!, kCompute: d!, kPrefill: p!, overheadS: 0})},
  {name: 'one k, c', width: 2, regressors: (o) => [o.memoryS + o.computeS + o.prefillS, 1], line: ([k, f]) => ({kMemory: k!, kCompute: k!, kPrefill: k!, overheadS: f!})},
]

/**
 * The normal equations of every design over some observations (z = each regressor / Tm: A = sum z z', b =
 * sum z), and the last resort's sums (u = Tc / Tm: sum u, sum u^2). Sums add and subtract, so a line without
 * one fold is the total minus that fold: a refit costs a few 4 x 4 solves, not a pass over the rows.
 */
interface FitSums {
  n: number
  a: number[][][]
  b: number[][]
  u: number
  u2: number
}

function emptySums(): FitSums {
  return {
    n: 0,
    a: designs.map((d) => Array.from({length: d.width}, () => new Array<number>(d.width).fill(0))),
    b: designs.map((d) => new Array<number>(d.width).fill(0)),
    u: 0,
    u2: 0,
  }
}

function addObservation(sums: FitSums, o: Fittable): void {
  sums.n++
  designs.forEach((design, k) => {
    const z = design.regressors(o).map((r) => r / o.measuredS)
    const a = sums.a[k]!
    const b = sums.b[k]!
    for (let i = 0; i < z.length; i++) {
      b[i]! += z[i]!
      for (let j = 0; j < z.length; j++) a[i]![j]! += z[i]! * z[j]!
    }
  })
  const u = (o.memoryS + o.computeS + o.prefillS) / o.measuredS
  sums.u += u
  sums.u2 += u * u
}

function sumsOf(observations: readonly Fittable[]): FitSums {
  const sums = emptySums()
  for (const o of observations) addObservation(sums, o)
  return sums
}

/** total - part (the part's observations are among the total's). */
function minusSums(total: FitSums, part: FitSums): FitSums {
  return {
    n: total.n - part.n,
    a: total.a.map((m, k) => m.map((row, i) => row.map((v, j) => v - part.a[k]![i]![j]!))),
    b: total.b.map((v, k) => v.map((x, i) => x - part.b[k]![i]!)),
    u: total.u - part.u,
    u2: total.u2 - part.u2,
  }
}

/** The first design whose least-squares coefficients are all >= 0 (k's > 0); else one k and c = 0: k = sum u / sum u^2. */
function lineOfSums(sums: FitSums): StepLine {
  if (sums.n === 0) throw new RangeError('no observations to fit')
  for (const [k, design] of designs.entries()) {
    if (sums.n < design.width) continue
    const x = solve(sums.a[k]!, sums.b[k]!)
    if (x === null || !x.every((v) => Number.isFinite(v) && v >= 0)) continue
    const line = design.line(x)
    if (line.kMemory > 0 && line.kCompute > 0 && line.kPrefill > 0) return line
  }
  const k = sums.u / sums.u2
  return {kMemory: k, kCompute: k, kPrefill: k, overheadS: 0}
}

/**
 * Least squares of Tm = kMemory Tmem + kCompute Tcomp + kPrefill Tpre + c on the relative error (weights
 * 1 / Tm^2): minimize sum (1 - (kMemory Tmem + ... + c) / Tm)^2 by the normal equations. A part no row has
 * (no compute-bound row, say) or a coefficient below 0 moves to the next simpler line (designs); the last
 * resort is one k for all and c = 0: k = sum u / sum u^2 with u = Tc / Tm.
 */
export function fitStepLine(observations: readonly Fittable[]): StepLine {
  if (observations.length === 0) throw new RangeError('no observations to fit')
  return lineOfSums(sumsOf(observations))
}

/** The line's seconds per output token for a ceiling's parts. */
export function lineSeconds(line: StepLine, parts: CeilingParts): number {
  return line.kMemory * parts.memoryS + line.kCompute * parts.computeS + line.kPrefill * parts.prefillS + line.overheadS
}

/** ln(Tm / predicted): above 0 the engine was slower than the line says. */
export function residual(line: StepLine, o: Fittable): number {
  return Math.log(o.measuredS / lineSeconds(line, o))
}

export interface EfficiencyPrior extends StepLine {
  /** The printed range as residuals ln(Tm / predicted): the fastest (low) and slowest (high) a new row should be. */
  residualLow: number
  residualHigh: number
  /** The range's stated coverage (PRIOR_COVERAGE), or null for the in-sample 10th-90th percentile. */
  coverage: number | null
  n: number
  /** Which rows the line is fitted on: "trt-llm on nvidia", "trt-llm", "all". */
  group: string
  /** What the prior is made of, in words. */
  basis: string
}

/**
 * The split-conformal interval of some out-of-sample residuals at a coverage 1 - a: the floor((n + 1) a / 2)-th
 * and the ceil((n + 1) (1 - a / 2))-th smallest (1-based), so a new residual exchangeable with them falls
 * inside with probability >= 1 - a. Too few residuals for an order statistic that far out (n + 1 < 2 / a, 9
 * at 80%): the smallest and largest, and the range holds less than it says (`exact` false).
 */
export function conformalBounds(sortedResiduals: readonly number[], coverage: number): {low: number; high: number; exact: boolean} {
  const n = sortedResiduals.length
  if (n === 0) throw new RangeError('no residuals')
  const alpha = 1 - coverage
  // 1 - 0.8 is 0.19999999999999996 in floating point: without the slack, floor(20 x 0.1) would be 1
  const slack = 1e-9
  const lowRank = Math.floor((n + 1) * (alpha / 2) + slack)
  const highRank = Math.ceil((n + 1) * (1 - alpha / 2) - slack)
  return {
    low: sortedResiduals[Math.max(1, lowRank) - 1]!,
    high: sortedResiduals[Math.min(n, highRank) - 1]!,
    exact: lowRank >= 1 && highRank <= n,
  }
}

/**
 * Each observation's residual against the line fitted without its fold: the rows of its source (one published
 * table) when they come from two sources or more, else each row alone.
 */
export function outOfFoldResiduals(observations: readonly Observation[]): number[] {
  const bySource = new Set(observations.map((o) => o.sourceId)).size >= 2
  const folds = new Map<string, Observation[]>()
  observations.forEach((o, index) => {
    const key = bySource ? o.sourceId : String(index)
    folds.set(key, [...(folds.get(key) ?? []), o])
  })
  const total = sumsOf(observations)
  const residuals: number[] = []
  for (const rows of folds.values()) {
    const rest = minusSums(total, sumsOf(rows))
    if (rest.n === 0) continue
    const line = lineOfSums(rest)
    for (const o of rows) residuals.push(residual(line, o))
  }
  return residuals
}

/** A line and its range over these observations (conformal: out-of-fold residuals; in-sample: the 10th-90th percentile); null for none. */
export function priorOf(observations: readonly Observation[], group: string, basis: string, range: RangeMethod = 'conformal'): EfficiencyPrior | null {
  if (observations.length === 0) return null
  const line = fitStepLine(observations)
  if (range === 'in-sample' || observations.length < 2) {
    const residuals = observations.map((o) => residual(line, o)).sort((a, b) => a - b)
    return {
      ...line,
      residualLow: percentileSorted(residuals, PRIOR_RANGE.low),
      residualHigh: percentileSorted(residuals, PRIOR_RANGE.high),
      coverage: null,
      n: observations.length,
      group,
      basis,
    }
  }
  const bounds = conformalBounds(
    outOfFoldResiduals(observations).sort((a, b) => a - b),
    PRIOR_COVERAGE,
  )
  return {...line, residualLow: bounds.low, residualHigh: bounds.high, coverage: PRIOR_COVERAGE, n: observations.length, group, basis}
}

/**
 * The rows a prior for (engine family, vendor) is fitted on, the first with MIN_GROUP_ROWS rows: that pair,
 * that engine family on any GPU, any engine on that vendor's GPUs, all rows.
 */
export function groupFor(observations: readonly Observation[], family: string, vendor: string): {rows: Observation[]; group: string} {
  const levels: [string, (o: Observation) => boolean][] = [
    [`${family} on ${vendor}`, (o) => o.family === family && o.vendor === vendor],
    [family, (o) => o.family === family],
    [`all engines on ${vendor}`, (o) => o.vendor === vendor],
  ]
  for (const [group, keep] of levels) {
    const rows = observations.filter(keep)
    if (rows.length >= MIN_GROUP_ROWS) return {rows, group}
  }
  return {rows: [...observations], group: 'all'}
}

/** The prior for an engine family on a vendor's GPUs (see groupFor); null for an empty set. */
export function priorFor(observations: readonly Observation[], family: string, vendor: string, range: RangeMethod = 'conformal'): EfficiencyPrior | null {
  const {rows, group} = groupFor(observations, family, vendor)
  return priorOf(rows, group, `${rows.length} published measurement(s) of ${group}`, range)
}

export interface Predicted {
  /** Seconds per output token per sequence (the estimated TPOT, others' prefills included): k Tc + c. */
  tpotS: number
  /** The prefill at k x the ceiling's, plus one step's c. */
  ttftS: number
  outputTokensPerSecond: number
  /** The range: the prior's slowest residual (low) to its fastest (high). */
  low: number
  high: number
  /** Tc / predicted: the share of the ceiling the estimate assumes. */
  efficiency: number
}

/** The prior applied to a serving ceiling. */
export function predict(prior: StepLine & Partial<Pick<EfficiencyPrior, 'residualLow' | 'residualHigh'>>, ceiling: ServingCeiling): Predicted {
  const tpotS = lineSeconds(prior, ceilingParts(ceiling))
  const output = ceiling.batch / tpotS
  return {
    tpotS,
    ttftS: prior.kPrefill * ceiling.ttftS + prior.overheadS,
    outputTokensPerSecond: output,
    low: output * Math.exp(-(prior.residualHigh ?? 0)),
    high: output * Math.exp(-(prior.residualLow ?? 0)),
    efficiency: ceiling.tpotS / tpotS,
  }
}

export interface PriorUpdate {
  engine: string
  vendor: string
  /** The user's measured efficiencies (their result files) for this engine. */
  measured: number[]
  before: EfficiencyPrior
  after: EfficiencyPrior
  /** How the estimate at the user's own first measurement moved: after / before - 1. */
  shift: number
}

/**
 * The prior for one engine on one vendor: the calibration set plus the user's own measured rows of that
 * engine (each one more row of its group), with how far it moved the estimate at the user's first row.
 */
export function updatedPrior(
  base: readonly Observation[],
  engine: string,
  vendor: string,
  measured: readonly Observation[],
): {prior: EfficiencyPrior; update: PriorUpdate | null} {
  const family = engineFamily(engine)
  const before = priorFor(base, family, vendor)!
  if (measured.length === 0) return {prior: before, update: null}
  const own = measured.map((o) => ({...o, family, vendor}))
  const {rows, group} = groupFor([...base, ...own], family, vendor)
  const after = priorOf(rows, group, `${rows.length - own.length} published + ${own.length} measured ${engine} result(s) of yours, ${group}`)!
  const first = own[0]!
  const at = (line: StepLine) => lineSeconds(line, first)
  return {
    prior: after,
    update: {engine, vendor, measured: own.map((o) => o.ceilingS / o.measuredS), before, after, shift: at(before) / at(after) - 1},
  }
}

export interface LeaveOneOutRow {
  id: string
  sourceId: string
  measured: number
  ceiling: number
  predicted: number
  low: number
  high: number
  /** |predicted / measured - 1|. */
  error: number
  inside: boolean
  /** The group whose line predicted it. */
  group: string
}

export interface LeaveOneOut {
  rows: LeaveOneOutRow[]
  n: number
  medianError: number
  p90Error: number
  /** Share of measurements inside the range of the prior made without them. */
  insideShare: number
  /** The ranges' median width as a ratio high / low (x2 = the slowest end half the fastest). */
  medianWidth: number
}

export type HoldOut = 'row' | 'source'
/** `step`: the fitted line (the planner's prior); `constant`: one efficiency (the median of the others), as before. */
export type PriorModel = 'step' | 'constant'

/** Median / p90 error, the inside share and the median range width of some leave-one-out rows. */
export function summarize(rows: LeaveOneOutRow[]): LeaveOneOut {
  const errors = rows.map((row) => row.error).sort((a, b) => a - b)
  return {
    rows,
    n: rows.length,
    medianError: errors.length === 0 ? Number.NaN : percentileSorted(errors, 0.5),
    p90Error: errors.length === 0 ? Number.NaN : percentileSorted(errors, 0.9),
    insideShare: rows.length === 0 ? Number.NaN : rows.filter((row) => row.inside).length / rows.length,
    medianWidth:
      rows.length === 0
        ? Number.NaN
        : percentileSorted(
            rows.map((row) => row.high / row.low).sort((a, b) => a - b),
            0.5,
          ),
  }
}

/**
 * Predict each point from the others only, refitting each time, line and range: `row` leaves out the row
 * itself, `source` every row of its calibration profile (its sibling rows of the same table). `range`
 * in-sample is the range as it was (the 10th-90th percentile of the line's own residuals). `constant` is the
 * old prior: ceiling x the others' median efficiency, range their 10th-90th percentile.
 */
export function leaveOneOut(points: readonly CalibrationPoint[], options: {holdOut?: HoldOut; model?: PriorModel; range?: RangeMethod} = {}): LeaveOneOut {
  const holdOut = options.holdOut ?? 'row'
  const model = options.model ?? 'step'
  const range = options.range ?? 'conformal'
  const judged = points.flatMap((point) => {
    const ceiling = pointCeiling(point)
    const observation = observationOf(point)
    return ceiling === null || observation === null ? [] : [{point, ceiling, observation}]
  })
  const rows = judged.map((entry, index): LeaveOneOutRow => {
    const others = judged.filter((other, j) => (holdOut === 'row' ? j !== index : other.point.sourceId !== entry.point.sourceId)).map((other) => other.observation)
    const measured = entry.point.measuredOutputTokensPerSecond
    const ceiling = entry.ceiling.outputTokensPerSecond
    let predicted: number
    let low: number
    let high: number
    let group: string
    if (model === 'constant') {
      const efficiencies = others.map((o) => o.ceilingS / o.measuredS).sort((a, b) => a - b)
      predicted = ceiling * percentileSorted(efficiencies, 0.5)
      low = ceiling * percentileSorted(efficiencies, PRIOR_RANGE.low)
      high = ceiling * percentileSorted(efficiencies, PRIOR_RANGE.high)
      group = 'all'
    } else {
      // the range too is made from `others` only: the held-out row's residual never sets the range that judges it
      const prior = priorFor(others, entry.point.engineFamily, entry.point.vendor, range)!
      const p = predict(prior, entry.ceiling)
      predicted = p.outputTokensPerSecond
      low = p.low
      high = p.high
      group = prior.group
    }
    return {
      id: entry.point.id,
      sourceId: entry.point.sourceId,
      measured,
      ceiling,
      predicted,
      low,
      high,
      error: Math.abs(predicted / measured - 1),
      inside: measured >= low && measured <= high,
      group,
    }
  })
  return summarize(rows)
}

const ms = (seconds: number) => `${(seconds * 1000).toFixed(2)} ms`

/** How a prior's range was made, in words. */
export function rangeWords(prior: Pick<EfficiencyPrior, 'coverage'>): string {
  return prior.coverage === null
    ? '10th-90th percentile of its residuals'
    : `${Math.round(prior.coverage * 100)}% prediction interval: conformal quantiles of its rows' residuals against the line refitted without each row's source`
}

/** A prior in words: its line, what it was fitted on, and the range factor. */
export function describePrior(key: string, prior: EfficiencyPrior): string {
  return (
    `Efficiency prior (${key}): seconds per output token = ${prior.kMemory.toFixed(3)} x the roofline's memory-bound decode + ${prior.kCompute.toFixed(3)} x its compute-bound decode + ` +
    `${prior.kPrefill.toFixed(3)} x its prefill + ${ms(prior.overheadS)}, fitted on ${prior.basis}; range x${Math.exp(-prior.residualHigh).toFixed(2)}-x${Math.exp(-prior.residualLow).toFixed(2)} of the estimate (${rangeWords(prior)})`
  )
}

/** An update in words: the user's rows, their efficiencies, and how far the estimate at the first one moved. */
export function describeUpdate(update: PriorUpdate): string {
  return (
    `Your ${update.measured.length} measured ${update.engine} result(s) on ${update.vendor} (efficiency ${update.measured.map((e) => e.toFixed(3)).join(', ')}) joined the ${update.after.group} rows: ` +
    `the estimate at your first result moved ${update.shift >= 0 ? '+' : ''}${(update.shift * 100).toFixed(1)}%`
  )
}
