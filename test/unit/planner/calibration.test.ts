import {beforeAll, describe, expect, it} from 'vitest'

import {calibrationPoints, leaveOneOut, pointCeiling, pointEfficiency, pointSanity, priorOf, updatedPrior, type CalibrationPoint} from '../../../src/planner/calibration.js'
import {parseProfileText} from '../../../src/profiles/files.js'
import {loadProfiles} from '../../../src/profiles/load.js'
import type {ProfileStore} from '../../../src/profiles/store.js'
import {percentileSorted} from '../../../src/stats/distribution.js'

let store: ProfileStore
let points: CalibrationPoint[]
beforeAll(async () => {
  store = await loadProfiles()
  const loaded = calibrationPoints(store)
  expect(loaded.problems).toEqual([])
  points = loaded.points
})

describe('the calibration set', () => {
  it('holds at least 25 real measurements, each with a source address', () => {
    expect(points.length).toBeGreaterThanOrEqual(25)
    for (const point of points) expect(point.source).toMatch(/^https:\/\/github\.com\/SemiAnalysisAI\//)
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
    expect(point.measuredOutputTokensPerSecond).toBeCloseTo(1142.0525714691883 * 8, 9)
    expect(point.features).toEqual({dataParallelAttention: true, decodeOnly: true})
  })

  it('an aggregated row: one replica of TP 8, the whole concurrency is its batch', () => {
    const point = points.find((p) => p.id === 'inferencex-h200-trt-dsr1-fp8/h200-trt-1k1k-c16')!
    expect(point.batch).toBe(16)
    expect(point.measuredOutputTokensPerSecond).toBeCloseTo(94.23736989857171 * 8, 9)
    expect(point.features).toEqual({})
    expect(pointEfficiency(point)).toBeCloseTo(point.measuredOutputTokensPerSecond / pointCeiling(point)!.outputTokensPerSecond, 12)
  })
})

describe('the efficiency prior', () => {
  it('median and 10th/90th percentiles by linear interpolation: [0.1..0.5] -> 0.3, 0.14, 0.46', () => {
    const prior = priorOf([0.5, 0.1, 0.3, 0.2, 0.4], 'five')!
    expect(prior.median).toBeCloseTo(0.3, 12)
    expect(prior.low).toBeCloseTo(0.14, 12) // h = 4 x 0.1 = 0.4: 0.1 + 0.4 x 0.1
    expect(prior.high).toBeCloseTo(0.46, 12) // h = 3.6: 0.4 + 0.6 x 0.1
    expect(prior.n).toBe(5)
    expect(priorOf([], 'none')).toBeNull()
  })

  it("the user's measured efficiencies update the engine's prior, and the shift is said: [0.2, 0.4] + 0.6 -> median 0.3 -> 0.4 (+33.3%)", () => {
    const {prior, update} = updatedPrior([0.2, 0.4], 'vllm', [0.6])
    expect(prior.median).toBeCloseTo(0.4, 12)
    expect(update!.before.median).toBeCloseTo(0.3, 12)
    expect(update!.shift).toBeCloseTo(0.4 / 0.3 - 1, 12)
    expect(updatedPrior([0.2, 0.4], 'vllm', []).update).toBeNull()
  })
})

describe('leave-one-out over the calibration set', () => {
  it("predicts each row from the others: ceiling x the others' median, inside when within their 10th-90th band", () => {
    const loo = leaveOneOut(points)
    expect(loo.n).toBe(points.length)
    const index = 3
    const others = points
      .filter((_, j) => j !== index)
      .map((p) => pointEfficiency(p)!)
      .sort((a, b) => a - b)
    const ceiling = pointCeiling(points[index]!)!.outputTokensPerSecond
    const row = loo.rows[index]!
    expect(row.predicted).toBeCloseTo(ceiling * percentileSorted(others, 0.5), 9)
    expect(row.low).toBeCloseTo(ceiling * percentileSorted(others, 0.1), 9)
    expect(row.error).toBeCloseTo(Math.abs(row.predicted / row.measured - 1), 12)
    const errors = loo.rows.map((r) => r.error).sort((a, b) => a - b)
    expect(loo.medianError).toBeCloseTo(percentileSorted(errors, 0.5), 12)
    expect(loo.insideShare).toBeCloseTo(loo.rows.filter((r) => r.inside).length / loo.n, 12)
  })
})

describe('the calibration schema', () => {
  const row = (extra: string) => `kind: calibration
id: t
name: t
source: {url: "https://example.com/x", read: 2026-12-03}
measurements:
  - {id: a, model: deepseek-v3, weightFormat: fp8, gpu: h200, engine: sglang, tp: 8, concurrency: 4, inputTokens: 1, outputTokens: 1, outputTokensPerSecondPerGpu: 1, date: 2026-01-01${extra}}
`
  const problems = (text: string) => parseProfileText(text, 't.yaml', 'calibration', 'user').problems.map((p) => `${p.field}: ${p.message}`)

  it('accepts a plain row', () => expect(problems(row(''))).toEqual([]))

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
