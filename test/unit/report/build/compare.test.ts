import {beforeAll, describe, expect, it} from 'vitest'

import {parseCostFlags} from '../../../../src/cli/parsers/cost.js'

import {loadProfiles} from '../../../../src/profiles/load.js'
import {type ProfileStore} from '../../../../src/profiles/store.js'
import {compareResults, metricSamples} from '../../../../src/report/build/compare.js'
import {buildResultReport} from '../../../../src/report/build/result-report.js'
import type {LevelRecord, ResultFile} from '../../../../src/results/schema.js'
import {summarizeLevel} from '../../../../src/stats/summarize.js'
import {sampleRequest, sampleResult} from '../../results/sample-result.js'

let store: ProfileStore
beforeAll(async () => {
  store = await loadProfiles()
})

/** One closed-loop level (c=1) whose requests have `outputTokens` (5) output tokens, TTFT 100 ms and the given TPOTs. */
function levelWithTpots(tpots: number[], windowMs: number, outputTokens = 5): LevelRecord {
  const rest = outputTokens - 1
  const requests = tpots.map((tpot, index) =>
    // Two content events carrying 1 + the rest of the tokens, sent at the window's start (records results/verify.ts accepts).
    sampleRequest(index, {
      startMs: 0,
      ttftMs: 100,
      e2eMs: 100 + rest * tpot,
      outputTokens,
      countedTokens: outputTokens,
      chunkOffsetsMs: [100, 100 + rest * tpot],
      chunkTokens: [1, rest],
    }),
  )
  const window = {startMs: 0, endMs: windowMs}
  return {
    load: {kind: 'concurrency', value: 1},
    warmupRequests: 0,
    window,
    status: 'complete',
    requests,
    summary: summarizeLevel(requests, window),
    telemetry: null,
    serverMetrics: null,
  }
}

function result(tpots: number[], windowMs: number, outputTokens = 5): ResultFile {
  return sampleResult({
    workload: {profile: null, inputTokens: 10, outputTokens, promptSource: 'synthetic-token-ids', dataset: null, seed: 1, ignoreEos: true},
    levels: [levelWithTpots(tpots, windowMs, outputTokens)],
  })
}

const options = {slo: {tpotMs: 50}, plan: parseCostFlags({'gpu-price': '1'})}
const input = (file: string, r: ResultFile) => ({file, result: r, report: buildResultReport(file, r, store, options)})

describe('compareResults', () => {
  it('gives throughput and cost ratios to the first file and Welch-tests TPOT', () => {
    // A: TPOT 10, 12, 14 ms; 15 output tokens in 1 s. B: TPOT 20, 22, 24 ms; 15 output tokens in 0.5 s.
    const comparison = compareResults([input('a.json', result([10, 12, 14], 1000)), input('b.json', result([20, 22, 24], 500))])
    const [a, b] = comparison.entries
    expect(a!.outputTokensPerS).toBe(15)
    expect(b!.outputTokensPerS).toBe(30)
    expect(b!.throughputRatio).toBe(2)
    // $1/h over 730 h; totals at 10:5 are 45 and 90 tok/s: B's $/1M is half A's
    expect(b!.costRatio).toBeCloseTo(0.5, 12)
    expect(comparison.comparedLoad).toEqual({kind: 'concurrency', value: 1})

    const tpot = comparison.metrics.find((m) => m.metric === 'tpot')!
    expect(tpot.samples.map((s) => s?.mean)).toEqual([12, 22])
    const vs = tpot.vsFirst[0]!
    // means 12 vs 22, sample variances 4 and 4: SE = sqrt(4/3 + 4/3) = 1.63299; t = (12 - 22) / SE = -6.1237;
    // Welch df = (8/3)^2 / ((4/3)^2/2 + (4/3)^2/2) = 4; two-sided p = 0.003602 (t distribution, 4 df)
    expect(vs.welch!.t).toBeCloseTo(-6.123724356957945, 9)
    expect(vs.welch!.df).toBeCloseTo(4, 9)
    expect(vs.welch!.pValue).toBeCloseTo(0.0036022, 5)
    expect(vs.significant).toBe(true)
    expect(vs.ratioOfMeans).toBeCloseTo(22 / 12, 12)
    expect(vs.verdict).toBe('significantly higher (slower) (mean 22 vs 12 ms, p = 0.003602)')

    // TTFT is 100 ms everywhere: zero variance, equal means -> not significant (p = 1)
    const ttft = comparison.metrics.find((m) => m.metric === 'ttft')!.vsFirst[0]!
    expect(ttft.significant).toBe(false)
    expect(ttft.verdict).toMatch(/^no significant difference/)
    expect(comparison.verdicts[0]).toBe('b.json: 2x the throughput of a.json at the SLO; 0.5x its $/1M; TPOT significantly higher (slower) (mean 22 vs 12 ms, p = 0.003602).')
    expect(comparison.test).toContain("Welch's")
  })

  it('says "no significant difference" when p >= 0.05', () => {
    // 10, 12, 14 vs 11, 13, 15: t = -1 / 1.63299 = -0.6124, df 4, p = 0.5734
    const comparison = compareResults([input('a.json', result([10, 12, 14], 1000)), input('c.json', result([11, 13, 15], 1000))])
    const vs = comparison.metrics.find((m) => m.metric === 'tpot')!.vsFirst[0]!
    expect(vs.welch!.pValue).toBeCloseTo(0.57339, 4)
    expect(vs.significant).toBe(false)
    expect(vs.verdict).toBe('no significant difference (mean 13 vs 12 ms, p = 0.5734)')
  })

  it('warns when the workloads differ', () => {
    const comparison = compareResults([input('a.json', result([10, 12, 14], 1000)), input('d.json', result([10, 12, 14], 1000, 6))])
    expect(comparison.warnings).toEqual(['d.json: workload differs from a.json (lengths 10 in / 6 out vs 10 / 5): apples vs oranges, compare with care.'])
  })

  it('summarizes samples exactly as report does (one rule: stats/distribution), mean and percentiles', () => {
    // TTFT 0.1, 0.2, 0.3, 0.7, 1.1 ms: p95 (type 7) = 0.7 + 0.8 x 0.4 = 1.02; the mean is where a plain sum
    // (0.4800000000000001) and stats' compensated one (0.48) part: compare must not have its own arithmetic.
    const r = result([10, 12, 14, 16, 18], 1000)
    r.levels[0]!.requests.forEach((request, index) => (request.ttftMs = request.chunkOffsetsMs[0] = [0.1, 0.2, 0.3, 0.7, 1.1][index]!))
    r.levels[0]!.summary = summarizeLevel(r.levels[0]!.requests, r.levels[0]!.window)
    const report = buildResultReport('a.json', r, store, {...options, slo: {ttftMs: 2000}})
    const ttft = compareResults([input('a.json', r), input('b.json', r)]).metrics.find((m) => m.metric === 'ttft')!
    const check = report.operatingPoint.checks[0]!.checks.find((c) => c.metric === 'ttft')!
    expect(check.valueMs).toBeCloseTo(1.02, 12)
    expect(ttft.samples[0]!.p95).toBe(check.valueMs)
    const {count, mean, p50, p95, p99} = r.levels[0]!.summary.ttftMs!
    expect(ttft.samples[0]).toEqual({count, mean, p50, p95, p99})
  })

  it('takes TPOT samples only from successful requests with more than one output token', () => {
    const level = levelWithTpots([10, 20], 1000)
    level.requests.push(sampleRequest(2, {outputTokens: 1, countedTokens: 1, chunkOffsetsMs: [100], e2eMs: 100}))
    level.requests.push(sampleRequest(3, {error: {kind: 'http', message: 'x'}, ttftMs: null, e2eMs: null}))
    expect(metricSamples(level, 'tpot')).toEqual([10, 20])
    expect(metricSamples(level, 'ttft')).toEqual([100, 100, 100])
  })
})

describe('compareResults: levels the summary check excluded', () => {
  it('never compares latencies at an excluded level, and warns naming it', () => {
    // Both files measured c=1 and c=2; b's c=2 summary was tampered: the common load falls back to c=1.
    const two = (file: string, tpots: number[]) => {
      const r = result(tpots, 1000)
      const c2 = structuredClone(r.levels[0]!)
      c2.load.value = 2
      r.levels.push(c2)
      return r
    }
    const a = two('a.json', [10, 12, 14])
    const b = two('b.json', [20, 22, 24])
    b.levels[1]!.summary.throughput.outputTokensPerS *= 1e6
    const comparison = compareResults([input('a.json', a), input('b.json', b)])
    expect(comparison.comparedLoad).toEqual({kind: 'concurrency', value: 1})
    expect(comparison.entries.map((entry) => entry.comparedLevel)).toEqual([0, 0])
    expect(comparison.warnings).toContain(
      'b.json: 1 level(s) EXCLUDED (neither costed nor compared): concurrency 2: its stored summary disagrees with its 3 requests (throughput.outputTokensPerS).',
    )
  })
})
