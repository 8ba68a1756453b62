/**
 * Levels without per-request samples (vLLM saved without --save-detailed, SGLang, AIPerf / GenAI-Perf
 * summaries): the SLO is checked on the percentiles the tool itself reported, says which, and says so when the
 * file lacks the percentile the SLO names. Real files from test/fixtures/peers/ (SOURCES.md).
 */
import {beforeAll, describe, expect, it} from 'vitest'

import {parseCostFlags} from '../../../../src/cli/parsers/cost.js'
import {loadProfiles} from '../../../../src/profiles/load.js'
import {type ProfileStore} from '../../../../src/profiles/store.js'
import {findOperatingPoint} from '../../../../src/report/build/operating-point.js'
import {buildResultReport} from '../../../../src/report/build/result-report.js'
import {loadAnyResult} from '../../../../src/results/import/load.js'

const peer = (name: string) => new URL(`../../../fixtures/peers/${name}`, import.meta.url).pathname
let store: ProfileStore
const load = async (name: string) => (await loadAnyResult(peer(name), {capplanVersion: '0.1.0', command: ['capplan', 'report'], store})).map((l) => l.result)

beforeAll(async () => {
  store = await loadProfiles()
})

describe("SLO on vLLM's reported p99s (nerdalert/vllm-bench-automation, no-features deployment: rate 10, rate 30, rate inf)", () => {
  it("p99 TTFT <= 200 ms, TPOT <= 30 ms: rate 10 meets, rate 30 misses on TPOT 35.58; interpolated on vLLM's own p99 TPOT", async () => {
    const [noFeatures] = await load('vllm_serve_append_llama3b_l40s.jsonl')
    const point = findOperatingPoint(noFeatures!.levels, {ttftMs: 200, tpotMs: 30}, {percentile: 'p99'})
    expect(point.checks.map((check) => check.meets)).toEqual([true, false, false])
    expect(point.checks[0]!.checks).toEqual([
      {metric: 'ttft', valueMs: 98.69780922984769, thresholdMs: 200, ok: true, reportedBy: 'vLLM'},
      {metric: 'tpot', valueMs: 15.793261194984588, thresholdMs: 30, ok: true, reportedBy: 'vLLM'},
    ])
    expect(point.checks[1]!.reason).toBe("vLLM's reported TPOT p99 35.58 ms > 30 ms")
    // TPOT reaches 30 at f = (30 - 15.793261194984588) / (35.581390495641394 - 15.793261194984588) = 0.717944...
    const f = (30 - 15.793261194984588) / (35.581390495641394 - 15.793261194984588)
    expect(point.kind).toBe('interpolated')
    expect(point.interpolation?.fraction).toBeCloseTo(f, 12)
    // output = 2258.212337970085 + f x (5841.355557587435 - 2258.212337970085) = 4830.69...
    expect(point.outputTokensPerS).toBeCloseTo(2258.212337970085 + f * (5841.355557587435 - 2258.212337970085), 9)
    expect(point.explanation).toContain("SLO checked on vLLM's reported p99 TTFT / p99 TPOT (the file has no per-request samples).")
  })

  it("at the default p95, vLLM's p99 bounds its p95 where it is within the threshold; where it is not, the file cannot say, and the reason names it", async () => {
    const [noFeatures] = await load('vllm_serve_append_llama3b_l40s.jsonl')
    const point = findOperatingPoint(noFeatures!.levels, {ttftMs: 200, tpotMs: 30})
    // rate 10: p99 TTFT 98.70 <= 200 and p99 TPOT 15.79 <= 30, so both p95s are within the thresholds too
    expect(point.checks[0]!.checks).toEqual([
      {metric: 'ttft', valueMs: 98.69780922984769, thresholdMs: 200, ok: true, reportedBy: 'vLLM', boundBy: 'p99'},
      {metric: 'tpot', valueMs: 15.793261194984588, thresholdMs: 30, ok: true, reportedBy: 'vLLM', boundBy: 'p99'},
    ])
    // rate 30: p99 TPOT 35.58 > 30 and median 25.47 <= 30: its p95 TPOT may be either side
    expect(point.checks[1]!.reason).toBe('vLLM reported no p95 TPOT (it has mean, median, p99: try --percentile p99)')
    // rate inf: even the median TTFT 4066.16 ms is over 200 ms, so the p95 is too
    expect(point.checks[2]!.reason).toContain('vLLM reported no p95 TTFT, but its median 4066.16 ms > 200 ms already')
    expect(point.kind).toBe('measured')
    expect(point.outputTokensPerS).toBe(2258.212337970085)
    expect(point.explanation).toContain("SLO checked on vLLM's reported p99 TTFT (a bound of its p95) / p99 TPOT (a bound of its p95)")
  })

  it("a median SLO is checked on vLLM's medians: all three levels meet TTFT <= 5000 ms and TPOT <= 60 ms at p50", async () => {
    const [noFeatures] = await load('vllm_serve_append_llama3b_l40s.jsonl')
    const point = findOperatingPoint(noFeatures!.levels, {ttftMs: 5000, tpotMs: 60}, {percentile: 'p50'})
    // rate inf: median TTFT 4066.16 <= 5000, median TPOT 53.14 <= 60 -> the highest load (recorded as concurrency 900) wins
    expect(point.kind).toBe('measured')
    expect(point.outputTokensPerS).toBe(8321.230575856995)
    expect(point.latencyMs).toEqual({ttft: 4066.1594384998807, tpot: 53.13592476507745, e2e: null})
    expect(point.explanation).toContain("SLO checked on vLLM's reported median TTFT / median TPOT")
  })

  it('capplan report costs at that point, no longer UNCHECKED', async () => {
    const [noFeatures] = await load('vllm_serve_append_llama3b_l40s.jsonl')
    const report = buildResultReport('results.json', noFeatures!, store, {slo: {ttftMs: 200, tpotMs: 30}, percentile: 'p99', plan: parseCostFlags({'gpu-price': '2'})})
    expect(report.operatingPoint.kind).toBe('interpolated')
    expect(report.costNote).toContain('at the interpolated operating point')
  })
})

describe('SGLang reports TTFT and E2E but no TPOT (datacrunch-research/h200-benchmarks)', () => {
  it('checks a TTFT SLO on its median; a TPOT threshold is named as unchecked-able', async () => {
    const [random] = await load('sglang_bench_serving_llama70b_h200.jsonl')
    // line 1 (rate 1): SGLang's median_ttft_ms 85.74514742940664
    const ttft = findOperatingPoint(random!.levels, {ttftMs: 10000}, {percentile: 'p50'})
    expect(ttft.checks[0]!.checks).toEqual([{metric: 'ttft', valueMs: 85.74514742940664, thresholdMs: 10000, ok: true, reportedBy: 'SGLang'}])
    expect(ttft.explanation).toContain("SLO checked on SGLang's reported median TTFT")
    // no TPOT on any level: nothing settles the threshold, so the SLO is UNCHECKED and the explanation says why
    const tpot = findOperatingPoint(random!.levels, {tpotMs: 50}, {percentile: 'p50'})
    expect(tpot.kind).toBe('unchecked')
    expect(tpot.checks[0]!.reason).toBe('SGLang reported no median TPOT')
    expect(tpot.explanation).toContain('cannot check tpot<=50ms at p50 (SGLang reported no median TPOT)')
    // the highest load measured (rate 16): SGLang's own 4288.049348197696 output tok/s
    expect(tpot.outputTokensPerS).toBeCloseTo(4288.049348197696, 9)
  })
})

describe("AIPerf's summary: its p99s, and its failures count", () => {
  it("0.10.0 at concurrency 2: p99 TTFT 195.03 <= 200 ms and p99 TPOT 8.61 <= 10 ms: the measured level, on AIPerf's numbers", async () => {
    const [aiperf] = await load('aiperf_0.10.0_qwen36_nvfp4_5090_c2.json')
    const point = findOperatingPoint(aiperf!.levels, {ttftMs: 200, tpotMs: 10}, {percentile: 'p99'})
    expect(point.kind).toBe('measured')
    expect(point.outputTokensPerS).toBe(325.8306229225207)
    expect(point.latencyMs).toEqual({ttft: 195.0294531999999, tpot: 8.610303992499984, e2e: 3766.9585475499985})
    expect(point.explanation).toContain("SLO checked on AIPerf 0.10.0's reported p99 TTFT / p99 TPOT")
    // 190 ms is below its p99 TTFT: nothing meets it
    expect(findOperatingPoint(aiperf!.levels, {ttftMs: 190}, {percentile: 'p99'}).checks[0]!.reason).toBe("AIPerf 0.10.0's reported TTFT p99 195.03 ms > 190 ms")
  })

  it('TTFT p99 1572.33 <= 2000 passes, but 10 of 20 requests timed out: a p99 SLO allows 1%', async () => {
    const [aiperf] = await load('aiperf_0.8.0_llama3b_q4km_c1.json')
    const point = findOperatingPoint(aiperf!.levels, {ttftMs: 2000}, {percentile: 'p99'})
    expect(point.checks[0]!.checks).toEqual([{metric: 'ttft', valueMs: 1572.3343452800002, thresholdMs: 2000, ok: true, reportedBy: 'AIPerf 0.8.0'}])
    expect(point.kind).toBe('none')
    expect(point.checks[0]!.reason).toBe('50.0% of requests failed (a p99 SLO allows 1%)')
  })
})

describe("the levels table shows the tool's reported statistics where the level has no samples, marked (r)", () => {
  it('vLLM (median, p99, no p95): the p95 cell says ? ; the note under the table names vLLM', async () => {
    const {levelsTable, rowTexts} = await import('../../../../src/report/render/rows.js')
    const {reportSections} = await import('../../../../src/report/render/sections.js')
    const [noFeatures] = await load('vllm_serve_append_llama3b_l40s.jsonl')
    const report = buildResultReport('results.json', noFeatures!, store, {slo: {ttftMs: 200, tpotMs: 30}, plan: parseCostFlags({'gpu-price': '2'})})
    const table = levelsTable(report)
    const ttft = table.columns.findIndex((c) => c.key === 'ttft')
    const tpot = table.columns.findIndex((c) => c.key === 'tpot')
    // rate 10: vLLM's median_ttft_ms / (no p95) / p99_ttft_ms; TPOT p99 15.793261194984588
    const first = rowTexts(table)[0]!
    expect(first[ttft]).toMatch(/^\S+ \/ \? \/ 98\.7 \(r\)$/)
    expect(first[tpot]).toMatch(/^\S+ \/ \? \/ 15\.8 \(r\)$/)
    const levels = reportSections(report).find((section) => section.kind === 'levels')
    expect(levels?.kind === 'levels' ? levels.notes.join('\n') : '').toContain("(r) = vLLM's own statistics as its file gives them")
  })

  it("capplan's own samples are never replaced: a level with distributions shows them, unmarked, and the note has no (r)", async () => {
    const {levelsTable, rowTexts} = await import('../../../../src/report/render/rows.js')
    const {reportSections} = await import('../../../../src/report/render/sections.js')
    const [own] = await load('capplan-embedded-int4.json')
    const report = buildResultReport('own.json', own!, store, {slo: {tpotMs: 500}, plan: parseCostFlags({'gpu-price': '2'})})
    expect(rowTexts(levelsTable(report)).flat().join(' ')).not.toContain('(r)')
    const levels = reportSections(report).find((section) => section.kind === 'levels')
    expect(levels?.kind === 'levels' ? levels.notes.join('\n') : '').not.toContain('(r)')
  })
})

describe('the SLO column is short; its reasons are numbered under the table', () => {
  it("vLLM at a p99 SLO: meets, misses [1], misses [2]; the footnotes give each level's reason", async () => {
    const {levelSloCells, levelsTable, rowTexts} = await import('../../../../src/report/render/rows.js')
    const {reportSections} = await import('../../../../src/report/render/sections.js')
    const [noFeatures] = await load('vllm_serve_append_llama3b_l40s.jsonl')
    const report = buildResultReport('results.json', noFeatures!, store, {slo: {ttftMs: 200, tpotMs: 30}, percentile: 'p99', plan: parseCostFlags({'gpu-price': '2'})})
    const {cells, footnotes} = levelSloCells(report)
    // Imported without records: every level is summary-only
    expect(cells).toEqual(['meets (summary only)', 'misses [1] (summary only)', 'misses [2] (summary only)'])
    expect(footnotes).toHaveLength(2)
    expect(footnotes[0]).toMatch(/^\[1\] \S.*: misses: vLLM's reported TPOT p99 35\.58 ms > 30 ms$/)
    expect(footnotes[1]).toMatch(/^\[2\] \S.*: misses: .*TTFT/)
    const table = levelsTable(report)
    const slo = table.columns.findIndex((c) => c.key === 'slo')
    expect(rowTexts(table).map((row) => row[slo])).toEqual(cells)
    const levels = reportSections(report).find((section) => section.kind === 'levels')
    expect(levels?.kind === 'levels' ? levels.notes.slice(-2) : []).toEqual(footnotes)
  })
})
