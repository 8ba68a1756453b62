import {beforeAll, describe, expect, it} from 'vitest'

import {parseCostFlags} from '../../../../src/cli/parsers/cost.js'

import {loadProfiles} from '../../../../src/profiles/load.js'
import {type ProfileStore} from '../../../../src/profiles/store.js'
import {buildResultReport as buildReport, importedFormat} from '../../../../src/report/build/result-report.js'
import type {ResultFile} from '../../../../src/results/schema.js'
import {sampleResult} from '../../results/sample-result.js'
import {handWritten, level} from '../levels.js'

/** The cost stages over hand-written summaries (levels.ts): their verification is the test double handWritten. */
const buildResultReport = (...[file, result, store, options]: Parameters<typeof buildReport>) => buildReport(file, result, store, options, handWritten(result))

let store: ProfileStore
beforeAll(async () => {
  store = await loadProfiles()
})

/** A CPU run (gpuCount 0) of a 512:256 workload with the three levels of operating-point.test.ts. */
function run(overrides: Partial<ResultFile> = {}): ResultFile {
  return sampleResult({
    workload: {profile: null, inputTokens: 512, outputTokens: 256, promptSource: 'synthetic-token-ids', dataset: null, seed: 1, ignoreEos: true},
    levels: [
      level({concurrency: 1, outputTokensPerS: 10, ttftP95: 100, tpotP95: 20}),
      level({concurrency: 2, outputTokensPerS: 18, ttftP95: 200, tpotP95: 30}),
      level({concurrency: 4, outputTokensPerS: 30, ttftP95: 600, tpotP95: 60}),
    ],
    ...overrides,
  })
}

describe('buildResultReport: cost at the operating point', () => {
  it('costs the interpolated throughput at the workload ratio', () => {
    const report = buildResultReport('a.json', run(), store, {
      slo: {ttftMs: 2000, tpotMs: 50},
      plan: parseCostFlags({'gpu-price': '2', volume: '500M', api: 'gpt-4o'}),
    })
    // operating point: 26 output tok/s (interpolated, see operating-point.test.ts); total at 512:256 = 26 x 3 = 78
    expect(report.operatingPoint.kind).toBe('interpolated')
    const plan = report.plan!
    expect(plan.inputs.totalTokensPerSecond).toBeCloseTo(78, 9)
    // replica: $2 x 1 x 730 h = $1,460/month; capacity 78 x 3600 x 730 = 204,984,000 tokens/month
    expect(plan.replicaMonthlyCost).toBe(1460)
    expect(plan.replicaCapacityTokensPerMonth).toBeCloseTo(204_984_000, 3)
    // $/1M = 1460 / 204.984 = 7.1225...
    expect(plan.costPerMillionTokens).toBeCloseTo(1460 / 204.984, 9)
    // 500M / 204.984M = 2.44 -> 3 replicas = 3 GPUs (a CPU run counts one machine per replica), $4,380/month
    expect(plan.replicas).toBe(3)
    expect(plan.gpus).toBe(3)
    expect(plan.selfHostedMonthlyCost).toBe(4380)
    // GPT-4o at 512:256 = 2:1: (2 x 2.5 + 10) / 3 = $5/1M < $7.12 -> never; break-even 1460 / (5e-6 x 3600 x 730) = 111.11 tok/s
    const gpt = plan.apis[0]!
    expect(gpt.blendedPerMTok).toBeCloseTo(5, 12)
    expect(gpt.crossover.volumeTokensPerMonth).toBeNull()
    expect(gpt.breakEvenThroughputTokensPerSecond).toBeCloseTo(1460 / 13.14, 9)
    expect(report.gpuProfile).toBeNull()
    expect(report.costNote).toContain('interpolated operating point')
    expect(report.costNote).toContain('input:output 512:256 as the workload measured')
  })

  it('prices a CPU run with the cpu profile and uses the measured level without interpolation', () => {
    const report = buildResultReport('a.json', run(), store, {slo: {ttftMs: 2000, tpotMs: 50}, interpolate: false, plan: parseCostFlags({})})
    // c=2: 18 output tok/s -> 54 total; $0.36 x 730 = $262.80/month; 54 x 3600 x 730 = 141,912,000 tokens
    expect(report.gpuProfile).toBe('cpu')
    expect(report.plan!.replicaMonthlyCost).toBeCloseTo(262.8, 9)
    expect(report.plan!.costPerMillionTokens).toBeCloseTo(262.8 / 141.912, 9)
  })

  it('costs nothing when no level meets the SLO, and says why', () => {
    const report = buildResultReport('a.json', run(), store, {slo: {tpotMs: 10}, plan: parseCostFlags({volume: '1B'})})
    expect(report.plan).toBeNull()
    expect(report.costNote).toMatch(/^Not costed: No measured level meets tpot<=10ms at p95/)
  })

  it("takes the SLO from the result's workload profile (chat: ttft 2 s, tpot 50 ms at p95)", () => {
    const result = run()
    result.workload.profile = 'chat'
    const report = buildResultReport('a.json', result, store, {plan: parseCostFlags({})})
    expect(report.slo).toEqual({ttftMs: 2000, tpotMs: 50})
    expect(report.sloSource).toBe('workload profile chat')
  })

  it('needs a GPU price for a GPU run on an unknown GPU', () => {
    const result = run({engine: {...run().engine, kind: 'llamacpp', backend: 'cuda', gpuCount: 2}})
    result.host.gpus = [{vendor: 'NVIDIA', model: 'Mystery GPU 9000', vramMiB: 1000, driver: null}]
    const report = buildResultReport('a.json', result, store, {slo: {tpotMs: 50}, plan: parseCostFlags({})})
    expect(report.plan).toBeNull()
    expect(report.costNote).toBe("Not costed: no GPU profile matches the result's host GPUs (Mystery GPU 9000). Pass --gpu ID or --gpu-price USD.")
    const priced = buildResultReport('a.json', result, store, {slo: {tpotMs: 50}, plan: parseCostFlags({'gpu-price': '3'})})
    // 2 GPUs per replica from engine.gpuCount: $3 x 2 x 730 = $4,380/month
    expect(priced.plan!.replicaMonthlyCost).toBe(4380)
  })

  it('reports measured energy and costs it with --kwh-price', () => {
    const result = run()
    // the operating point's lower level (c=2): 1000 J over its 10 s window = 100 W average, 5 J per output token
    result.levels[1]!.telemetry = {gpuSamples: [], energyJ: 1000, energySource: 'counter', joulesPerOutputToken: 5, notes: []}
    const report = buildResultReport('a.json', result, store, {slo: {ttftMs: 2000, tpotMs: 50}, plan: parseCostFlags({'gpu-price': '2', 'kwh-price': '0.1'})})
    expect(report.energy).toEqual({joulesPerOutputToken: 5, averagePowerW: 100, source: "the GPUs' energy counter"})
    // 100 W x 730 h / 1000 x $0.10/kWh = $7.30 per replica-month
    expect(report.plan!.energy!.monthlyCostPerReplica).toBeCloseTo(7.3, 9)
    expect(report.plan!.energy!.powerSource).toContain('measured')
  })

  it('recognizes imported results by their note', () => {
    expect(importedFormat(run({notes: ['imported from llama-bench: x.json']}))).toBe('llama-bench')
    expect(importedFormat(run())).toBeNull()
  })
})
