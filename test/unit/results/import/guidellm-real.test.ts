/**
 * A real GuideLLM 0.5 benchmarks.json (danielkorat/guidellm-bench, SOURCES.md): capplan keeps GuideLLM's own
 * rates and counts, and its statistics from the 4 requests reproduce GuideLLM's means exactly; GuideLLM's
 * percentiles are sample values (nearest rank), capplan's interpolate (numpy's linear), so those are compared
 * through the samples.
 */
import {beforeAll, describe, expect, it} from 'vitest'

import {loadProfiles} from '../../../../src/profiles/load.js'
import {type ProfileStore} from '../../../../src/profiles/store.js'
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
