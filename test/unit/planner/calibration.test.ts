import {beforeAll, describe, expect, it} from 'vitest'

import {
  calibrationPoints,
  ceilingParts,
  conformalBounds,
  fitStepLine,
  groupFor,
  leaveOneOut,
  littlesLawBatch,
  MIN_GROUP_ROWS,
  observationOf,
  offlineBatch,
  outOfFoldResiduals,
  pointCeiling,
  pointEfficiency,
  pointSanity,
  predict,
  priorFor,
  priorOf,
  PRIOR_COVERAGE,
  residual,
  updatedPrior,
  type CalibrationPoint,
  type Observation,
} from '../../../src/planner/calibration.js'
import {parseProfileText} from '../../../src/profiles/files.js'
import {loadProfiles} from '../../../src/profiles/load.js'
import type {ProfileStore} from '../../../src/profiles/store.js'
import {hardwareFromProfile} from '../../../src/roofline/ceilings.js'
import {weightFormats} from '../../../src/roofline/formats.js'
import type {ServingCeiling} from '../../../src/roofline/serving.js'
import {percentileSorted} from '../../../src/stats/distribution.js'

let store: ProfileStore
let points: CalibrationPoint[]
beforeAll(async () => {
  store = await loadProfiles()
  const loaded = calibrationPoints(store)
  expect(loaded.problems).toEqual([])
  points = loaded.points
})

/** A hand-made observation: its ceiling's parts and the measured seconds per token. */
const obs = (parts: {memoryS?: number; computeS?: number; prefillS?: number}, measuredS: number, extra: Partial<Observation> = {}): Observation => {
  const p = {memoryS: parts.memoryS ?? 0, computeS: parts.computeS ?? 0, prefillS: parts.prefillS ?? 0}
  return {id: 'x', sourceId: 's', family: 'vllm', vendor: 'nvidia', ceilingS: p.memoryS + p.computeS + p.prefillS, ...p, measuredS, ...extra}
}

describe('the calibration set', () => {
  it('holds published measurements of several models, precisions, GPUs and engines, each with a source address', () => {
    expect(points.length).toBeGreaterThanOrEqual(450)
    for (const point of points) expect(point.source).toMatch(/^https:\/\/(github\.com\/(SemiAnalysisAI|NVIDIA)\/|docs\.nvidia\.com\/)/)
    const distinct = (f: (p: CalibrationPoint) => string) => new Set(points.map(f)).size
    expect(distinct((p) => p.model.id)).toBe(6) // llama 8B / 70B / 405B, mixtral, qwen3-235b, deepseek-v3
    expect(distinct((p) => p.gpu.id)).toBe(6) // h100-sxm, h200, l40s, a100-80gb-sxm, mi300x, b200
    expect(new Set(points.map((p) => p.format.label))).toEqual(new Set(['FP8', 'FP16', 'BF16']))
  })

  it('no published measurement is "impossible" or "does-not-fit" against the ceilings (serving features modelled)', () => {
    const verdicts = points.map((point) => [point.id, pointSanity(point).verdict])
    expect(verdicts.filter(([, verdict]) => verdict === 'impossible' || verdict === 'does-not-fit')).toEqual([])
  })

  it("a disaggregated row: per decode GPU x the worker's GPUs, concurrency shared by the decode workers", () => {
    const point = points.find((p) => p.id === 'inferencex-disagg-dsr1-fp8/h200-dynamo-trt-1k1k-c3584')!
    // 3584 requests over 7 decode workers of TP 8; 1142.0525714691883 tok/s per decode GPU x 8
    expect(point.batch).toBe(512)
    expect(point.replicas).toBe(7)
    expect(point.batchBasis).toBe('concurrency')
    expect(point.measuredOutputTokensPerSecond).toBeCloseTo(1142.0525714691883 * 8, 9)
    expect(point.features).toEqual({dataParallelAttention: true, decodeOnly: true})
  })

  it('an aggregated row: one replica of TP 8, the whole concurrency is its batch', () => {
    const point = points.find((p) => p.id === 'inferencex-h200-trt-dsr1-fp8/h200-trt-1k1k-c16')!
    expect(point.batch).toBe(16)
    expect(point.measuredOutputTokensPerSecond).toBeCloseTo(94.23736989857171 * 8, 9)
    expect(point.features).toEqual({})
    expect(point.engineFamily).toBe('trt-llm')
    expect(pointEfficiency(point)).toBeCloseTo(point.measuredOutputTokensPerSecond / pointCeiling(point)!.outputTokensPerSecond, 12)
  })

  it('an offline row: the batch the KV cache holds, capped at maxBatch (Llama 3.1 8B FP8 on one H100)', () => {
    // free = 80e9 - 8.03e9 FP8 weights - 1e9 overhead = 70.97e9 B, x 0.95 = 67.4215e9 B of KV;
    // FP8 KV = 2 x 32 layers x 8 heads x 128 x 1 B = 65,536 B/token
    // 20000/2000: 65,536 x 21,000 = 1.376256e9 B per sequence -> floor(48.99) = 48; 128/128: 5,358 -> the cap 4096
    const long = points.find((p) => p.id === 'trtllm-v0.17-offline-h100-sxm/llama-3.1-8b-h100-sxm-fp8-tp1-20000x2000')!
    expect(long.batch).toBe(48)
    expect(long.batchBasis).toBe('offline')
    expect(long.kvCache).toBe('fp8')
    expect(long.measuredOutputTokensPerSecond).toBe(1401.31)
    expect(points.find((p) => p.id === 'trtllm-v0.17-offline-h100-sxm/llama-3.1-8b-h100-sxm-fp8-tp1-128x128')!.batch).toBe(4096)
  })

  it("a request-rate row: the sequences in service by Little's law, 4103 / 256 x (62 ms + 85 ms x 255) = 348.4", () => {
    const point = points.find((p) => p.id === 'trtllm-v0.14-online-h100-sxm/llama-3.1-70b-h100-sxm-bf16-tp4-467x256-qpsinf')!
    expect(point.batchBasis).toBe('littles-law')
    expect(point.batch).toBeCloseTo((4103 / 256) * (0.062 + 0.085 * 255), 9)
    expect(point.batch).toBeCloseTo(348.39, 2)
  })
})

describe('batches the source does not publish', () => {
  it('littlesLawBatch: 498 tok/s / 256 x (62 ms + 21 ms x 255) = 10.5378 sequences in service', () => {
    expect(littlesLawBatch(498, 256, 21, 62)).toBeCloseTo((498 / 256) * (0.062 + 0.021 * 255), 12)
    expect(littlesLawBatch(498, 256, 21, 62)).toBeCloseTo(10.5378, 4)
  })

  it('offlineBatch: at least 1 when the weights leave no room, at most maxBatch', async () => {
    const model = store.get('model', 'llama-3.1-70b')
    const base = {model, format: weightFormats.fp16, kvCache: 'fp16' as const, tp: 1, pp: 1, features: {}, inputTokens: 128, outputTokens: 128, kvMemoryFraction: 0.95}
    // 141.2 GB of FP16 weights on one 80 GB GPU: nothing left for KV
    expect(offlineBatch({...base, memoryBytesPerGpu: 80e9, maxBatch: 4096})).toBe(1)
    expect(offlineBatch({...base, memoryBytesPerGpu: 800e9, maxBatch: 7})).toBe(7)
    expect(hardwareFromProfile(store.get('gpu', 'h100-sxm')).memoryBytesPerGpu).toBe(80e9)
  })
})

describe('fitStepLine: Tm = kMemory x memory + kCompute x compute + kPrefill x prefill + c', () => {
  it('recovers a line the rows were made from: 1.5 x memory + 2 x compute + 0.8 x prefill + 1 ms', () => {
    const made = (m: number, c: number, p: number) => obs({memoryS: m, computeS: c, prefillS: p}, 1.5 * m + 2 * c + 0.8 * p + 0.001)
    const line = fitStepLine([made(0.01, 0, 0.002), made(0.02, 0, 0.01), made(0, 0.03, 0.005), made(0, 0.05, 0.02), made(0.004, 0, 0), made(0, 0.1, 0.001)])
    expect(line.kMemory).toBeCloseTo(1.5, 9)
    expect(line.kCompute).toBeCloseTo(2, 9)
    expect(line.kPrefill).toBeCloseTo(0.8, 9)
    expect(line.overheadS).toBeCloseTo(0.001, 12)
  })

  it('two memory-bound rows (Tc 1 s, Tm 2 s) and (2 s, 3 s): the line through both, k = 1, c = 1 s', () => {
    // too few rows for the 4- and 3-coefficient lines, no prefill for "decode, prefill": "one k, c" solves exactly
    const line = fitStepLine([obs({memoryS: 1}, 2), obs({memoryS: 2}, 3)])
    expect(line).toEqual({kMemory: expect.closeTo(1, 12), kCompute: expect.closeTo(1, 12), kPrefill: expect.closeTo(1, 12), overheadS: expect.closeTo(1, 12)})
  })

  it('a negative c is refused: (1 s, 1 s) and (2 s, 3 s) -> c = 0, k = sum u / sum u^2 = (5/3) / (13/9) = 15/13', () => {
    // the exact line would be k = 2, c = -1 s; u = Tc / Tm = 1 and 2/3
    const line = fitStepLine([obs({memoryS: 1}, 1), obs({memoryS: 2}, 3)])
    expect(line.kMemory).toBeCloseTo(15 / 13, 12)
    expect(line.kPrefill).toBeCloseTo(15 / 13, 12)
    expect(line.overheadS).toBe(0)
  })

  it('residual = ln(Tm / predicted): a row twice as slow as the line is ln 2', () => {
    expect(residual({kMemory: 1, kCompute: 1, kPrefill: 1, overheadS: 0}, obs({memoryS: 1}, 2))).toBeCloseTo(Math.log(2), 12)
  })
})

describe('the prior: a line, its residual range, its group', () => {
  it('priorOf in-sample (the range as it was): the line and the 10th/90th percentile of its own residuals', () => {
    // k = 1, c = 0 exactly through (1, 1) and (2, 2): two more rows at ln 2 and ln 0.5 off it
    const rows = [obs({memoryS: 1}, 1), obs({memoryS: 2}, 2), obs({memoryS: 4}, 4), obs({memoryS: 1}, 2), obs({memoryS: 1}, 0.5)]
    const prior = priorOf(rows, 'g', 'five', 'in-sample')!
    const residuals = rows.map((o) => residual(prior, o)).sort((a, b) => a - b)
    expect(prior.residualLow).toBeCloseTo(percentileSorted(residuals, 0.1), 12)
    expect(prior.residualHigh).toBeCloseTo(percentileSorted(residuals, 0.9), 12)
    expect(prior.coverage).toBeNull()
    expect(prior.n).toBe(5)
    expect(priorOf([], 'g', 'none')).toBeNull()
  })

  it('conformalBounds: the floor((n+1) a/2)-th and ceil((n+1)(1 - a/2))-th smallest; too few residuals is not exact', () => {
    const sorted = Array.from({length: 19}, (_, i) => i + 1) // 1..19
    // 80%: ranks floor(20 x 0.1) = 2 and ceil(20 x 0.9) = 18
    expect(conformalBounds(sorted, 0.8)).toEqual({low: 2, high: 18, exact: true})
    // 90%: floor(20 x 0.05) = 1, ceil(20 x 0.95) = 19
    expect(conformalBounds(sorted, 0.9)).toEqual({low: 1, high: 19, exact: true})
    // 8 residuals at 80%: floor(9 x 0.1) = 0 -> the smallest, and the range holds less than it says
    expect(conformalBounds([1, 2, 3, 4, 5, 6, 7, 8], 0.8)).toEqual({low: 1, high: 8, exact: false})
  })

  it('outOfFoldResiduals: each row against the line fitted without its source (each row alone with one source)', () => {
    // source a: Tm = 2 x Tc; source b: Tm = 1 x Tc, three rows each (Tc 1, 2, 3) -> the one-k-and-c line per fold
    const a = [1, 2, 3].map((t, i) => obs({memoryS: t}, 2 * t, {id: `a${i}`, sourceId: 'a'}))
    const b = [1, 2, 3].map((t, i) => obs({memoryS: t}, t, {id: `b${i}`, sourceId: 'b'}))
    const residuals = outOfFoldResiduals([...a, ...b])
    // a's rows are predicted by b's line (k = 1): ln 2 each; b's by a's (k = 2): ln 0.5 each
    expect(residuals).toHaveLength(6)
    for (const r of residuals.slice(0, 3)) expect(r).toBeCloseTo(Math.log(2), 9)
    for (const r of residuals.slice(3)) expect(r).toBeCloseTo(Math.log(0.5), 9)
    // the in-sample residuals of the pooled line are much smaller: the fold is what makes them honest
    const pooled = fitStepLine([...a, ...b])
    expect(Math.max(...[...a, ...b].map((o) => Math.abs(residual(pooled, o))))).toBeLessThan(Math.log(2))
    // one source: each row is its own fold; the residual of an exact line's row without it is 0
    const single = [1, 2, 3, 4].map((t, i) => obs({memoryS: t}, 3 * t + 0.5, {id: `s${i}`}))
    for (const r of outOfFoldResiduals(single)) expect(r).toBeCloseTo(0, 9)
  })

  it('priorOf (conformal): the range is the 80% conformal bounds of the out-of-fold residuals, never of the in-sample ones', () => {
    const rows = Array.from({length: 30}, (_, i) => obs({memoryS: 1 + (i % 5)}, (1 + (i % 5)) * (1 + 0.1 * (i % 7)), {id: `r${i}`, sourceId: `s${i % 6}`}))
    const prior = priorOf(rows, 'g', 'thirty')!
    const bounds = conformalBounds(
      outOfFoldResiduals(rows).sort((x, y) => x - y),
      PRIOR_COVERAGE,
    )
    expect(prior.coverage).toBe(PRIOR_COVERAGE)
    expect(prior.residualLow).toBeCloseTo(bounds.low, 12)
    expect(prior.residualHigh).toBeCloseTo(bounds.high, 12)
    const inSample = priorOf(rows, 'g', 'thirty', 'in-sample')!
    expect(prior.residualHigh - prior.residualLow).toBeGreaterThan(inSample.residualHigh - inSample.residualLow)
  })

  it(`groupFor: the engine on the vendor with ${MIN_GROUP_ROWS} rows, else the engine, else the vendor, else all`, () => {
    const rows = (n: number, family: string, vendor: string) => Array.from({length: n}, () => obs({memoryS: 1}, 2, {family, vendor}))
    const set = [...rows(MIN_GROUP_ROWS, 'trt-llm', 'nvidia'), ...rows(MIN_GROUP_ROWS - 1, 'sglang', 'amd'), ...rows(1, 'sglang', 'nvidia')]
    expect(groupFor(set, 'trt-llm', 'nvidia').group).toBe('trt-llm on nvidia')
    expect(groupFor(set, 'sglang', 'amd').group).toBe('sglang') // 7 on amd + 1 on nvidia
    expect(groupFor(set, 'vllm', 'nvidia').group).toBe('all engines on nvidia')
    expect(groupFor(set, 'vllm', 'amd')).toEqual({rows: set, group: 'all'})
  })

  it('predict: TPOT = the line on the ceiling parts, tok/s = batch / TPOT, the range from the residuals', () => {
    // a ceiling of batch 10: tpot 5 ms of which prefill 1 ms (10 x 0.02 s x 0.005 / 1 s), decode 4 ms memory-bound
    const ceiling: ServingCeiling = {
      batch: 10,
      contextTokens: 0,
      stepTimeS: 0.004,
      prefillTimeS: 0.03,
      prefillInCycleS: 0.02,
      cycleTimeS: 1,
      outputTokensPerSecond: 2000,
      tpotS: 0.005,
      ttftS: 0.03,
      bound: 'memory',
    }
    expect(ceilingParts(ceiling)).toEqual({memoryS: expect.closeTo(0.004, 15), computeS: 0, prefillS: expect.closeTo(0.001, 15)})
    const p = predict({kMemory: 2, kCompute: 3, kPrefill: 0.5, overheadS: 0.001, residualLow: Math.log(0.5), residualHigh: Math.log(2)}, ceiling)
    // 2 x 4 ms + 0.5 x 1 ms + 1 ms = 9.5 ms; 10 / 9.5 ms = 1052.6 tok/s; TTFT 0.5 x 30 ms + 1 ms = 16 ms
    expect(p.tpotS).toBeCloseTo(0.0095, 15)
    expect(p.outputTokensPerSecond).toBeCloseTo(10 / 0.0095, 9)
    expect(p.ttftS).toBeCloseTo(0.016, 15)
    expect(p.low).toBeCloseTo(10 / 0.0095 / 2, 9)
    expect(p.high).toBeCloseTo((10 / 0.0095) * 2, 9)
    expect(p.efficiency).toBeCloseTo(0.005 / 0.0095, 12)
  })

  it("the user's measured rows join their engine's group and the shift at their first row is said", () => {
    const base = Array.from({length: MIN_GROUP_ROWS}, (_, i) => obs({memoryS: 1 + i}, 2 + 2 * i, {family: 'vllm', vendor: 'nvidia'}))
    const before = priorFor(base, 'vllm', 'nvidia')!
    expect(before.kMemory).toBeCloseTo(2, 9)
    expect(before.overheadS).toBeCloseTo(0, 9)
    const own = [obs({memoryS: 1}, 1)]
    const {prior, update} = updatedPrior(base, 'vllm', 'nvidia', own)
    expect(prior.n).toBe(MIN_GROUP_ROWS + 1)
    // the estimate at the user's row: before 2 x 1 s, after the refit's line
    const after = prior.kMemory * 1 + prior.overheadS
    expect(update!.shift).toBeCloseTo(2 / after - 1, 12)
    expect(update!.measured).toEqual([1])
    expect(updatedPrior(base, 'vllm', 'nvidia', []).update).toBeNull()
  })
})

describe('leave-one-out over the calibration set', () => {
  it('predicts each row from a line refitted without it; source holds out its siblings; the summary is of the rows', () => {
    const loo = leaveOneOut(points)
    expect(loo.n).toBe(points.length)
    const index = 30
    const point = points[index]!
    const others = points.filter((_, j) => j !== index).map((p) => observationOf(p)!)
    const expected = predict(priorFor(others, point.engineFamily, point.vendor)!, pointCeiling(point)!)
    const row = loo.rows[index]!
    expect(row.id).toBe(point.id)
    expect(row.predicted).toBeCloseTo(expected.outputTokensPerSecond, 9)
    expect(row.low).toBeCloseTo(expected.low, 9)
    expect(row.high).toBeCloseTo(expected.high, 9)
    // nested: the range that judges the row is made without it (with the row in, the range moves)
    const withRow = predict(priorFor([...others, observationOf(point)!], point.engineFamily, point.vendor)!, pointCeiling(point)!)
    expect([withRow.low, withRow.high]).not.toEqual([expected.low, expected.high])
    expect(row.error).toBeCloseTo(Math.abs(row.predicted / row.measured - 1), 12)
    const errors = loo.rows.map((r) => r.error).sort((a, b) => a - b)
    expect(loo.medianError).toBeCloseTo(percentileSorted(errors, 0.5), 12)
    expect(loo.insideShare).toBeCloseTo(loo.rows.filter((r) => r.inside).length / loo.n, 12)
    expect(loo.medianWidth).toBeCloseTo(
      percentileSorted(
        loo.rows.map((r) => r.high / r.low).sort((a, b) => a - b),
        0.5,
      ),
      12,
    )

    const bySource = leaveOneOut(points, {holdOut: 'source'})
    const siblingsOut = points.filter((p) => p.sourceId !== point.sourceId).map((p) => observationOf(p)!)
    expect(bySource.rows[index]!.predicted).toBeCloseTo(predict(priorFor(siblingsOut, point.engineFamily, point.vendor)!, pointCeiling(point)!).outputTokensPerSecond, 9)
  })

  it("the constant model (the previous prior): ceiling x the others' median efficiency, range their 10th-90th", () => {
    const loo = leaveOneOut(points, {model: 'constant'})
    const index = 3
    const others = points
      .filter((_, j) => j !== index)
      .map((p) => pointEfficiency(p)!)
      .sort((a, b) => a - b)
    const ceiling = pointCeiling(points[index]!)!.outputTokensPerSecond
    expect(loo.rows[index]!.predicted).toBeCloseTo(ceiling * percentileSorted(others, 0.5), 6)
    expect(loo.rows[index]!.low).toBeCloseTo(ceiling * percentileSorted(others, 0.1), 6)
  })
})

describe('the calibration schema', () => {
  const row = (extra: string, batch = 'concurrency: 4, ') => `kind: calibration
id: t
name: t
source: {url: "https://example.com/x", read: 2026-12-03}
measurements:
  - {id: a, model: deepseek-v3, weightFormat: fp8, gpu: h200, engine: sglang, tp: 8, ${batch}inputTokens: 1, outputTokens: 1, outputTokensPerSecondPerGpu: 1, date: 2026-01-01${extra}}
`
  const problems = (text: string) => parseProfileText(text, 't.yaml', 'calibration', 'user').problems.map((p) => `${p.field}: ${p.message}`)

  it("accepts a plain row, an offline row and a Little's-law row", () => {
    expect(problems(row(''))).toEqual([])
    expect(problems(row('', 'offline: {maxBatch: 2048, kvMemoryFraction: 0.9}, '))).toEqual([])
    expect(problems(row('', 'littlesLaw: {meanItlMs: 20, unqueuedTtftMs: 100}, '))).toEqual([])
  })

  it('refuses a row with no batch, or with two', () => {
    const message = 'give the batch one way: concurrency, offline {maxBatch, kvMemoryFraction} or littlesLaw {meanItlMs, unqueuedTtftMs}'
    expect(problems(row('', ''))).toEqual([`measurements.0.concurrency: required field is missing (${message})`])
    expect(problems(row('', 'concurrency: 4, offline: {maxBatch: 2048, kvMemoryFraction: 0.9}, '))).toEqual([`measurements.0.concurrency: ${message}`])
  })

  it('refuses both a per-GPU and a total figure', () => {
    expect(problems(row(', outputTokensPerSecond: 8'))).toEqual([
      'measurements.0.outputTokensPerSecondPerGpu: give one of outputTokensPerSecondPerGpu and outputTokensPerSecond',
    ])
  })

  it('refuses a disaggregated row whose figure is not per decode GPU', () => {
    expect(problems(row(', serving: {disaggregated: {prefillGpus: 8, decodeGpus: 8, decodeWorkers: 1}}'))).toEqual([
      'measurements.0.perGpuOf: required field is missing (a disaggregated row gives the decode GPUs\' figure: perGpuOf must be "decode")',
    ])
  })

  it('refuses decode GPUs that are not workers x TP x PP', () => {
    expect(problems(row(', perGpuOf: decode, serving: {disaggregated: {prefillGpus: 8, decodeGpus: 12, decodeWorkers: 1}}'))).toEqual([
      'measurements.0.serving.disaggregated.decodeGpus: 12 decode GPUs is not 1 workers x TP 8 x PP 1',
    ])
  })
})
