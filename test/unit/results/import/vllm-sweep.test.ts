/**
 * `vllm bench sweep serve` summary.json of vLLM 0.25.1 (er0080/vllm-benchmarking, SOURCES.md): a JSON array of
 * the sweep's runs, one level each, vLLM's own numbers kept and its reported percentiles used by the SLO check.
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

describe('vLLM 0.25.1 `vllm bench sweep` summary.json (opt-125m, --max-num-seqs 4, --max-concurrency 2, 8 prompts, 2 runs)', () => {
  it("one result, one level per run, vLLM's own throughputs and statistics", async () => {
    const loaded = await loadAnyResult(peer('vllm_0.25.1_bench_sweep_summary_opt125m.json'), {capplanVersion: '0.1.0', command: ['capplan', 'import'], store})
    expect(loaded.map((l) => l.format)).toEqual(['vllm'])
    const result = loaded[0]!.result
    expect(resultFileSchema.safeParse(result).success).toBe(true)
    expect(result.levels.map((level) => level.load)).toEqual([
      {kind: 'concurrency', value: 2},
      {kind: 'concurrency', value: 2},
    ])
    // vLLM's own: 128 output tokens / 1.3653671270003542 s = 93.74767963046673; 8 / that = 5.859229976904171
    expect(result.levels[0]!.summary.throughput.outputTokensPerS).toBe(93.74767963046673)
    expect(128 / 1.3653671270003542).toBeCloseTo(93.74767963046673, 10)
    expect(result.levels[0]!.summary.throughput.requestsPerS).toBe(5.859229976904171)
    expect(result.levels[1]!.summary.throughput.outputTokensPerS).toBe(199.36907134182283)
    expect(result.levels[0]!.summary.requests).toEqual({completed: 8, failed: 0})
    expect(result.levels[0]!.reported).toEqual({
      source: 'vLLM',
      ttftMs: {mean: 217.27289337468392, p50: 44.92285849846667, p99: 762.4942294094944},
      tpotMs: {mean: 8.204553624697533, p50: 8.323490332986694, p99: 9.394318119331729},
      e2eMs: {mean: 340.3411977451469, p50: 166.47808399284258, p99: 876.8009717071254},
    })
    // 256 in / 8 = 32, 128 out / 8 = 16
    expect(result.workload).toMatchObject({inputTokens: 32, outputTokens: 16})
    expect(result.createdAt).toBe('2026-08-18T02:13:33.000Z')
  })

  it('an SLO of p99 TTFT <= 500 ms: run 1 (57.58 ms) meets it, run 0 (762.49 ms) does not', async () => {
    const [loaded] = await loadAnyResult(peer('vllm_0.25.1_bench_sweep_summary_opt125m.json'), {capplanVersion: '0.1.0', command: ['capplan', 'import'], store})
    const point = findOperatingPoint(loaded!.result.levels, {ttftMs: 500, e2eMs: 1000}, {percentile: 'p99'})
    expect(point.checks.map((check) => check.meets)).toEqual([false, true])
    expect(point.checks[0]!.reason).toBe("vLLM's reported TTFT p99 762.49 ms > 500 ms")
    expect(point.kind).toBe('measured')
    expect(point.outputTokensPerS).toBe(199.36907134182283)
    expect(point.latencyMs).toEqual({ttft: 57.58295443694805, tpot: 9.040313850321885, e2e: 169.63662419613684})
    expect(point.explanation).toContain("SLO checked on vLLM's reported p99 TTFT / p99 E2E")
  })
})
