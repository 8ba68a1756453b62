import path from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {parseCostFlags} from '../../../../src/cli/parsers/cost.js'

import {loadProfiles} from '../../../../src/profiles/load.js'
import {type ProfileStore} from '../../../../src/profiles/store.js'
import {findOperatingPoint} from '../../../../src/report/build/operating-point.js'
import {renderReportTable} from '../../../../src/report/render/report.js'
import {buildResultReport as buildReport} from '../../../../src/report/build/result-report.js'
import {checkResultSanity, efficiencyText, excludedLevels} from '../../../../src/report/build/sanity.js'
import {readResultFile} from '../../../../src/results/read.js'
import type {ResultFile} from '../../../../src/results/schema.js'
import {sampleResult} from '../../results/sample-result.js'
import {handWritten, level} from '../levels.js'

/** The cost stages over hand-written summaries (levels.ts): their verification is the test double handWritten. */
const buildResultReport = (...[file, result, store, options]: Parameters<typeof buildReport>) => buildReport(file, result, store, options, handWritten(result))

const fixture = path.resolve(import.meta.dirname, '..', '..', '..', 'fixtures', 'peers', 'capplan-embedded-int4.json')

let store: ProfileStore
let recorded: ResultFile
beforeAll(async () => {
  store = await loadProfiles()
  recorded = await readResultFile(fixture)
})

// qwen2.5-0.5b Q4_0: weights = 0.49e9 x 4.5 / 8 = 275,625,000 bytes read per decode step;
// KV per token (fp16) = 2 (K,V) x 24 layers x 2 KV heads x 64 x 2 bytes = 12,288 bytes.
const WEIGHTS = 275_625_000
const KV_PER_TOKEN = 12_288

describe('checkResultSanity: efficiency of the recorded embedded int4 run (CPU, --bandwidth 20)', () => {
  it('divides each level by the bandwidth ceiling at its batch and average context', () => {
    const sanity = checkResultSanity(store, recorded, {bandwidthGBs: 20})
    expect(sanity.hardwareProfile).toBe('cpu')
    expect(sanity.bandwidthGBs).toBe(20)
    expect(sanity.bandwidthSource).toBe('flag')
    // Workload 32 in / 16 out: average context = 32 + 16 / 2 = 40 tokens. bw x eta = 20e9 x 0.8 = 16e9 B/s.
    // c=1: bytes = 275,625,000 + 1 x 12,288 x 40 = 276,116,520 -> ceiling 16e9 / 276,116,520 = 57.9466 tok/s
    const c1 = sanity.levels[0]!.check!
    expect(c1.ceilingTokensPerSecond).toBeCloseTo(16e9 / (WEIGHTS + KV_PER_TOKEN * 40), 9)
    expect(c1.ceilingTokensPerSecond).toBeCloseTo(57.9466, 4)
    // measured 1.2766930550573954 tok/s -> efficiency 1.27669 / 57.946 = 2.203%
    expect(c1.efficiency).toBeCloseTo(1.2766930550573954 / (16e9 / 276_116_520), 12)
    expect(c1.efficiency).toBeCloseTo(0.022032, 5)
    expect(c1.verdict).toBe('ok')
    // c=2: bytes = 275,625,000 + 2 x 12,288 x 40 = 276,608,040 -> ceiling 2 x 16e9 / 276,608,040 = 115.687 tok/s
    const c2 = sanity.levels[1]!.check!
    expect(c2.ceilingTokensPerSecond).toBeCloseTo(32e9 / 276_608_040, 9)
    expect(c2.efficiency).toBeCloseTo(1.125270332272108 / (32e9 / 276_608_040), 12)
    expect(efficiencyText(sanity.levels[1])).toBe('1.0% of 116')
    expect(excludedLevels(sanity).size).toBe(0)
  })

  it('without a bandwidth the CPU efficiency is unknown, with the hint', () => {
    const sanity = checkResultSanity(store, recorded)
    expect(sanity.bandwidthSource).toBe('missing')
    expect(sanity.levels[0]!.check!.verdict).toBe('unknown')
    expect(sanity.levels[0]!.check!.efficiency).toBeNull()
    expect(sanity.levels[0]!.note).toContain('--bandwidth GB/s')
    expect(sanity.levels[0]!.note).toContain('capplan system --measure-bandwidth')
    expect(efficiencyText(sanity.levels[0])).toBe('unknown (no bandwidth)')
  })

  it('never replaces a datasheet bandwidth with --bandwidth (it is for profiles that have none)', () => {
    const onH100 = sampleResult({...recordedShape(), gpuProfile: 'h100-sxm', engine: {...sampleResult().engine, gpuCount: 1, backend: 'cuda'}})
    const sanity = checkResultSanity(store, onH100, {bandwidthGBs: 20})
    expect(sanity.bandwidthSource).toBe('profile')
    expect(sanity.bandwidthGBs).toBe(3350)
  })
})

function recordedShape(): Partial<ResultFile> {
  return {workload: {profile: null, inputTokens: 512, outputTokens: 256, promptSource: 'synthetic-token-ids', dataset: null, seed: 1, ignoreEos: true}}
}

/** A CPU run at 512:256 whose c=4 claims 1000 tok/s: above what 20 GB/s can read. */
function runWithImpossibleLevel(): ResultFile {
  return sampleResult({
    ...recordedShape(),
    levels: [
      level({concurrency: 1, outputTokensPerS: 10, ttftP95: 100, tpotP95: 20}),
      level({concurrency: 2, outputTokensPerS: 18, ttftP95: 200, tpotP95: 30}),
      level({concurrency: 4, outputTokensPerS: 1000, ttftP95: 600, tpotP95: 60}),
    ],
  })
}

describe('an impossible level is never used for cost', () => {
  it('flags the level above the physical limit and lists it as excluded', () => {
    const sanity = checkResultSanity(store, runWithImpossibleLevel(), {bandwidthGBs: 20})
    // Physical limit (eta 1, KV at ISL 512): c=4 bytes = 275,625,000 + 4 x 12,288 x 512 = 300,790,824;
    // 4 x 20e9 / 300,790,824 = 265.96 tok/s < 1000 claimed -> impossible.
    const c4 = sanity.levels[2]!.check!
    expect(c4.physicalLimitTokensPerSecond).toBeCloseTo(80e9 / 300_790_824, 9)
    expect(c4.verdict).toBe('impossible')
    // c=2 at 18 tok/s: ceiling at context 512 + 128 = 640: 32e9 / (275,625,000 + 2 x 12,288 x 640) = 32e9 / 291,353,640 = 109.83
    expect(sanity.levels[1]!.check!.ceilingTokensPerSecond).toBeCloseTo(32e9 / 291_353_640, 9)
    expect(sanity.levels[1]!.check!.verdict).toBe('ok')
    expect([...excludedLevels(sanity).keys()]).toEqual([2])
  })

  it('the operating point skips it: c=2 measured (18 tok/s) instead of interpolating towards c=4', () => {
    const slo = {ttftMs: 2000, tpotMs: 50}
    const plan = parseCostFlags({'gpu-price': '2', api: 'gpt-4o'})
    // Without a bandwidth nothing is judged: interpolated between c=2 and c=4 as result-report.test.ts (TPOT 30 -> 60,
    // threshold 50: fraction 2/3 -> 18 + 2/3 x 982 = 672.67 tok/s, built on the impossible level).
    const blind = buildResultReport('a.json', runWithImpossibleLevel(), store, {slo, plan})
    expect(blind.operatingPoint.kind).toBe('interpolated')
    expect(blind.operatingPoint.outputTokensPerS).toBeCloseTo(18 + (2 / 3) * 982, 9)

    const report = buildResultReport('a.json', runWithImpossibleLevel(), store, {slo, plan, bandwidthGBs: 20})
    expect(report.operatingPoint.kind).toBe('measured')
    expect(report.operatingPoint.load).toEqual({kind: 'concurrency', value: 2})
    expect(report.operatingPoint.outputTokensPerS).toBe(18)
    const c4Check = report.operatingPoint.checks.find((check) => check.index === 2)!
    expect(c4Check.meets).toBe(false)
    expect(c4Check.reason).toMatch(/^excluded: physically impossible: 1000 tok\/s is 376% of the physical limit 266 tok\/s/)
    // Cost at 18 output tok/s x 3 (512:256) = 54 total: $2 x 730 / (54 x 3600 x 730 / 1e6) = $10.288/1M
    expect(report.plan!.costPerMillionTokens).toBeCloseTo(2e6 / (54 * 3600), 9)
    // Efficiency at the operating point = the c=2 level's: 18 / 109.83 = 16.39%
    expect(report.operatingPointSanity!.check!.efficiency).toBeCloseTo(18 / (32e9 / 291_353_640), 12)
    const text = renderReportTable([report], [])
    expect(text).toContain('EXCLUDED from cost: c=4 is impossible: 1000 tok/s is 376% of the physical limit 266 tok/s')
    expect(text).toContain('16.4% of 110')
  })

  it('findOperatingPoint: an excluded level does not meet the SLO even when its latency does', () => {
    const levels = runWithImpossibleLevel().levels
    const allMeet = findOperatingPoint(levels, {ttftMs: 2000, tpotMs: 100})
    expect(allMeet.levelIndex).toBe(2)
    const skipped = findOperatingPoint(levels, {ttftMs: 2000, tpotMs: 100}, {excluded: new Map([[2, 'impossible']])})
    expect(skipped.levelIndex).toBe(1)
    expect(skipped.kind).toBe('measured')
    expect(skipped.explanation).toContain('concurrency 4 misses it (excluded: impossible)')
  })

  it('an unchecked source (no latency under load) falls back to the highest level that is not excluded', () => {
    const levels = runWithImpossibleLevel().levels
    const point = findOperatingPoint(levels, {}, {latencyMeasured: false, excluded: new Map([[2, 'impossible']])})
    expect(point.kind).toBe('unchecked')
    expect(point.levelIndex).toBe(1)
    expect(point.explanation).toContain('Skipped: impossible.')
  })
})
