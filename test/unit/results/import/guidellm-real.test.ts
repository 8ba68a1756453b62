/**
 * A real GuideLLM 0.5 benchmarks.json (danielkorat/guidellm-bench, SOURCES.md): capplan keeps GuideLLM's own
 * rates and counts, and its statistics from the 4 requests reproduce GuideLLM's means exactly; GuideLLM's
 * percentiles are sample values (nearest rank), capplan's interpolate (numpy's linear), so those are compared
 * through the samples.
 */
import {beforeAll, describe, expect, it} from 'vitest'

import {loadProfiles} from '../../../../src/profiles/load.js'
import {type ProfileStore} from '../../../../src/profiles/store.js'
import {findOperatingPoint} from '../../../../src/report/build/operating-point.js'
import {loadAnyResult} from '../../../../src/results/import/load.js'
import {resultFileSchema} from '../../../../src/results/schema.js'

const peer = (name: string) => new URL(`../../../fixtures/peers/${name}`, import.meta.url).pathname
let store: ProfileStore

beforeAll(async () => {
  store = await loadProfiles()
})

describe('GuideLLM 0.5.0.dev0 benchmarks.json (Qwen3-4B-Thinking FP8 on vLLM, concurrent 4 streams, 4 requests of 1024 tokens)', () => {
  it("counts all 4 requests as GuideLLM does (one ends 48 µs after measure_end_time, no cooldown set) and reproduces its means", async () => {
    const loaded = await loadAnyResult(peer('guidellm_0.5.0.dev0_qwen3_4b_c4.json'), {capplanVersion: '0.1.0', command: ['capplan', 'import'], store})
    expect(loaded.map((l) => l.format)).toEqual(['guidellm'])
    const result = loaded[0]!.result
    expect(resultFileSchema.safeParse(result).success).toBe(true)
    const level = result.levels[0]!
    expect(level.load).toEqual({kind: 'concurrency', value: 4})
    expect(level.requests).toHaveLength(4)
    expect(level.summary.requests).toEqual({completed: 4, failed: 0})
    // GuideLLM's own rates: output_tokens_per_second.successful.mean, requests_per_second.successful.mean
    expect(level.summary.throughput.outputTokensPerS).toBe(165.59511945248636)
    expect(level.summary.throughput.requestsPerS).toBe(0.12043527909470322)
    expect(level.summary.durationS).toBe(24.909644603729248)
    // metrics.time_to_first_token_ms.successful.mean = 171.7655062675476 (mean of the 4 requests)
    expect(level.summary.ttftMs!.count).toBe(4)
    expect(level.summary.ttftMs!.mean).toBeCloseTo(171.7655062675476, 9)
    // GuideLLM's p99 is its largest sample, 172.63293266296387: capplan's max; its median 171.52166366577148 is the 2nd of 4
    expect(level.summary.ttftMs!.max).toBe(172.63293266296387)
    expect(level.requests.map((request) => request.ttftMs).sort((a, b) => a! - b!)[1]).toBe(171.52166366577148)
    // capplan's p50 interpolates the 2nd and 3rd: (171.52166366577148 + 171.6465950012207) / 2
    expect(level.summary.ttftMs!.p50).toBeCloseTo((171.52166366577148 + 171.6465950012207) / 2, 9)
    // capplan's TPOT = GuideLLM's inter_token_latency_ms per request; mean 24.17877651496134
    expect(level.summary.tpotMs!.mean).toBeCloseTo(24.17877651496134, 9)
    // E2E = time_per_output_token_ms x output tokens = request start -> last token: request 1's info.timings say
    // last_token_iteration 1772470721.5865457 - request_start 1772470696.6802611 = 24.9062846 s. GuideLLM's
    // request_latency (mean 24.90865981578827 s) runs on to the request's end, ~2 ms after the last token.
    expect(level.requests[0]!.e2eMs).toBeCloseTo((1772470721.5865457 - 1772470696.6802611) * 1000, 2)
    expect(level.summary.e2eMs!.mean).toBeLessThan(24908.65981578827)
    expect(24908.65981578827 - level.summary.e2eMs!.mean).toBeCloseTo(2.006, 2)
    // GuideLLM's own mean lengths: prompt_token_count 99, output_token_count 1024 (not rate / rate)
    expect(result.workload).toMatchObject({inputTokens: 99, outputTokens: 1024})
    expect(result.model).toMatchObject({profile: 'Qwen/Qwen3-4B-Thinking-2507', paramsB: 4})
    expect(result.notes.join('\n')).not.toContain('fall outside')
  })
})

describe("GuideLLM's own test asset, a sweep's synchronous benchmark of mid-2025 (pre-0.3 layout: args, run_stats, worker), JSON and YAML", () => {
  // GuideLLM printed for this file (benchmarks_stripped_output.txt beside it): 46 completed, 1 incomplete,
  // 1.55 req/s, 198.1 out tok/s, TTFT mean 16.8 median 16.4 p99 21.3 ms, ITL 4.9 4.9 5.3, req latency 0.64 0.64 0.69 s.
  it.each(['guidellm_0.2_sweep_stripped.json', 'guidellm_0.2_sweep_stripped.yaml'])('%s: GuideLLM\'s printed numbers, its statistics over all 46 requests', async (name) => {
    const loaded = await loadAnyResult(peer(name), {capplanVersion: '0.1.0', command: ['capplan', 'import'], store})
    const result = loaded[0]!.result
    expect(resultFileSchema.safeParse(result).success).toBe(true)
    const level = result.levels[0]!
    expect(level.load).toEqual({kind: 'concurrency', value: 1}) // synchronous
    // The 1 incomplete request (request_totals.incomplete: cancelled when the benchmark's 30 s ran out) is no
    // failure of the server: neither completed nor failed, and said in the notes
    expect(level.summary.requests).toEqual({completed: 46, failed: 0})
    expect(level.summary.errors).toEqual({})
    expect(result.notes.join('\n')).toContain('benchmark 1: 1 incomplete request (request_totals.incomplete: cancelled when the benchmark ended) counted neither completed nor failed; 0 errored')
    expect(level.summary.throughput.outputTokensPerS).toBeCloseTo(198.1, 1)
    expect(level.summary.throughput.requestsPerS).toBeCloseTo(1.55, 2)
    expect(level.summary.throughput.outputTokensPerS).toBe(198.13346751788123) // metrics.output_tokens_per_second.successful.mean
    // The file keeps a sample of 1 request: the latencies are GuideLLM's own over the 46, as it printed them
    expect(level.requests).toHaveLength(1)
    expect(level.summary.ttftMs).toBeNull()
    expect(level.reported?.ttftMs).toEqual({mean: 16.792535781860348, p50: 16.38054847717285, p90: 18.505334854125977, p95: 19.00935173034668, p99: 21.281957626342773})
    expect(level.reported?.ttftMs?.mean).toBeCloseTo(16.8, 1)
    expect(level.reported?.ttftMs?.p50).toBeCloseTo(16.4, 1)
    expect(level.reported?.ttftMs?.p99).toBeCloseTo(21.3, 1)
    expect(level.reported?.tpotMs?.p99).toBeCloseTo(5.3, 1) // its ITL column
    // request_latency in seconds -> ms: mean 0.6444743664368339 s, p99 0.6891846656799316 s
    expect(level.reported?.e2eMs?.mean).toBeCloseTo(644.4743664368339, 9)
    expect(level.reported?.e2eMs?.p99).toBeCloseTo(689.1846656799316, 9)
    expect(result.workload).toMatchObject({inputTokens: 257, outputTokens: 128})
    expect(result.notes.join('\n')).toContain('latency statistics are GuideLLM\'s own over all 46 successful requests')
    // and the SLO is checked on them
    const point = findOperatingPoint(result.levels, {ttftMs: 20, tpotMs: 10}, {percentile: 'p95'})
    expect(point.kind).toBe('measured')
    expect(point.explanation).toContain("SLO checked on GuideLLM's reported p95 TTFT / p95 TPOT")
    // A p99 SLO allows 1% failed requests: counted as failed, the incomplete one (1 of 47 = 2.1%) refused the level
    const p99 = findOperatingPoint(result.levels, {ttftMs: 25, tpotMs: 10}, {percentile: 'p99'})
    expect(p99.kind).toBe('measured')
    expect(p99.explanation).not.toContain('failed')
  })
})


describe('GuideLLM 0.8.0.dev18 benchmarks.json (metadata version 2, config.spec; constant 2 and 4 req/s against its mock server)', () => {
  it("two rate levels with GuideLLM's own rates, counts and latency statistics over its 2 requests each (its sample is empty)", async () => {
    const loaded = await loadAnyResult(peer('guidellm_0.8.0.dev18_mock_constant.json'), {capplanVersion: '0.1.0', command: ['capplan', 'import'], store})
    expect(loaded.map((l) => l.format)).toEqual(['guidellm'])
    const result = loaded[0]!.result
    expect(resultFileSchema.safeParse(result).success).toBe(true)
    expect(result.notes.join('\n')).toContain('GuideLLM 0.8.0.dev18, 2 benchmarks')
    // config.strategy: {type_: constant, rate: 2.0} then 4.0
    expect(result.levels.map((level) => level.load)).toEqual([
      {kind: 'rate', value: 2},
      {kind: 'rate', value: 4},
    ])
    const [two, four] = result.levels as [(typeof result.levels)[number], (typeof result.levels)[number]]
    // metrics.request_totals: 2 successful, 0 errored, 0 incomplete in each
    expect(two.summary.requests).toEqual({completed: 2, failed: 0})
    expect(four.summary.requests).toEqual({completed: 2, failed: 0})
    expect(two.requests).toHaveLength(0)
    // GuideLLM's own rates: output_tokens_per_second.successful.mean, requests_per_second.successful.mean; duration
    expect(two.summary.throughput.outputTokensPerS).toBe(3.1950675815128577)
    expect(two.summary.throughput.requestsPerS).toBe(0.39843430656414264)
    expect(two.summary.durationS).toBe(5.01964807510376)
    expect(four.summary.throughput.outputTokensPerS).toBe(6.377131566888984)
    expect(four.summary.throughput.requestsPerS).toBe(0.7940882013937378)
    // input tok/s = prompt_token_count total (2 x 71.5) / duration
    expect(two.summary.throughput.inputTokensPerS).toBeCloseTo((2 * 71.5) / 5.01964807510376, 12)
    // Latencies: GuideLLM's statistics as written (TTFT; inter_token_latency_ms = capplan's TPOT, which excludes
    // the first token; request_latency s -> ms), with no sample to recompute them from
    expect(two.summary.ttftMs).toBeNull()
    expect(two.reported?.ttftMs).toEqual({mean: 11.481165885925293, p50: 11.276006698608398, p90: 11.686325073242188, p95: 11.686325073242188, p99: 11.686325073242188})
    expect(two.reported?.tpotMs?.mean).toBe(1.1508464813232422)
    expect(two.reported?.tpotMs?.p99).toBe(1.2557165963309151)
    expect(two.reported?.e2eMs?.mean).toBeCloseTo(19.78909969329834, 9)
    expect(four.reported?.ttftMs?.p50).toBe(9.419918060302734)
    expect(four.reported?.e2eMs?.p99).toBeCloseTo(19.294023513793945, 9)
    // GuideLLM's mean lengths: prompt_token_count 71.5 and 65.5 over the two benchmarks, output 8
    expect(result.workload).toMatchObject({outputTokens: 8})
    // The SLO check uses GuideLLM's reported percentiles (no samples), and says so
    const point = findOperatingPoint(result.levels, {ttftMs: 50, tpotMs: 5}, {percentile: 'p95'})
    expect(point.kind).not.toBe('unchecked')
    expect(point.explanation).toContain("GuideLLM's reported p95 TTFT")
  })
})
