/**
 * AIPerf and GenAI-Perf exports: real files (test/fixtures/peers/SOURCES.md), and capplan reproducing the
 * numbers the tool itself wrote in them.
 */
import {readFileSync} from 'node:fs'

import {beforeAll, describe, expect, it} from 'vitest'

import {loadProfiles} from '../../../../src/profiles/load.js'
import {type ProfileStore} from '../../../../src/profiles/store.js'
import {loadAnyResult, parseAnyResult} from '../../../../src/results/import/load.js'
import {resultFileSchema} from '../../../../src/results/schema.js'

const peer = (name: string) => new URL(`../../../fixtures/peers/${name}`, import.meta.url).pathname
let store: ProfileStore
const context = () => ({capplanVersion: '0.1.0', command: ['capplan', 'import', 'test'], store})
const aiperfSummary = () => JSON.parse(readFileSync(peer('aiperf_0.8.0_llama3b_q4km_c1.json'), 'utf8')) as Record<string, unknown>

beforeAll(async () => {
  store = await loadProfiles()
})

describe('AIPerf 0.8.0 profile_export_aiperf.json (databloom/aiperf-lab-tests, Llama-3.2-3B Q4_K_M on llama.cpp, concurrency 1)', () => {
  it("keeps AIPerf's own rates and counts: 10 ok + 10 timeouts over 191.236231223 s, 0.57520480976081 output tok/s", async () => {
    const [loaded] = await loadAnyResult(peer('aiperf_0.8.0_llama3b_q4km_c1.json'), context())
    expect(loaded!.format).toBe('aiperf')
    const result = loaded!.result
    expect(resultFileSchema.safeParse(result).success).toBe(true)
    const level = result.levels[0]!
    expect(level.load).toEqual({kind: 'concurrency', value: 1})
    expect(level.summary.requests).toEqual({completed: 10, failed: 10})
    expect(level.summary.errors).toEqual({timeout: 10})
    expect(level.summary.durationS).toBe(191.236231223)
    expect(level.summary.throughput.outputTokensPerS).toBe(0.57520480976081)
    expect(level.summary.throughput.requestsPerS).toBe(0.05229134634189182)
    // input: total_isl 95 / 191.236231223 s; output + input = AIPerf's total_token_throughput 1.0719726000087824
    expect(level.summary.throughput.inputTokensPerS).toBeCloseTo(95 / 191.236231223, 15)
    expect(level.summary.throughput.totalTokensPerS).toBeCloseTo(1.0719726000087824, 14)
    // interactivity = 1000 / median inter_token_latency 22.415845266666665 = 44.6113...
    expect(level.summary.perUserTokensPerS).toBeCloseTo(1000 / 22.415845266666665, 12)
    expect(level.summary.ttftMs).toBeNull()
    expect(level.reported).toEqual({
      source: 'AIPerf 0.8.0',
      ttftMs: {mean: 389.5663025, p50: 239.48402199999998, p90: 408.13389379999944, p95: 1054.9119223999983, p99: 1572.3343452800002},
      tpotMs: {mean: 22.127844593333332, p50: 22.415845266666665, p90: 23.478631006666667, p95: 23.668424236666663, p99: 23.820258820666666},
      e2eMs: {mean: 617.3675666, p50: 584.203521, p90: 740.7366188999996, p95: 1273.797231449999, p99: 1700.2457214900003},
    })
    // input_sequence_length avg 9.5 -> 10, output 11; the served name says Q4_K_M -> int4, "3b" -> 3B
    expect(result.workload).toMatchObject({inputTokens: 10, outputTokens: 11})
    expect(result.model).toMatchObject({profile: 'llama-3.2-3b-instruct-gguf:q4_k_m', quant: 'int4', paramsB: 3})
    expect(result.createdAt).toBe('2026-04-27T13:20:11.628Z')
  })

  it('a rate run, a missing load and a run without error_summary are read as AIPerf wrote them', () => {
    const rate = aiperfSummary()
    rate['input_config'] = {loadgen: {request_rate: 2.5}}
    delete rate['error_summary']
    const [loaded] = parseAnyResult(JSON.stringify(rate), 'rate.json', context())
    expect(loaded!.result.levels[0]!.load).toEqual({kind: 'rate', value: 2.5})
    // 10 failures and no error_summary: counted as http
    expect(loaded!.result.levels[0]!.summary.errors).toEqual({http: 10})
    expect(loaded!.result.notes.join('\n')).toContain('lacks: the model (pass --model to capplan import)')
    const none = aiperfSummary()
    delete none['input_config']
    const [unset] = parseAnyResult(JSON.stringify(none), 'none.json', context())
    expect(unset!.result.levels[0]!.load).toEqual({kind: 'concurrency', value: 1})
    expect(unset!.result.notes.join('\n')).toContain("recorded as concurrency 1 (AIPerf's default)")
  })

  it('refuses a damaged summary naming the field', () => {
    const broken = aiperfSummary()
    delete broken['benchmark_duration']
    expect(() => parseAnyResult(JSON.stringify(broken), 'broken.json', context())).toThrow(/broken\.json looks like an AIPerf profile_export_aiperf\.json .*benchmark_duration/)
  })
})

describe('AIPerf 0.10.0 profile_export_aiperf.json, schema 1.3 (anud18/qwen36-vllm-aiperf-benchmark, Qwen3.6 NVFP4 on an RTX 5090, concurrency 2)', () => {
  it("reads the 0.10 layout (models.items, phases): concurrency 2 from the profiling phase, 96 requests, AIPerf's own 325.8306229225207 tok/s", async () => {
    const [loaded] = await loadAnyResult(peer('aiperf_0.10.0_qwen36_nvfp4_5090_c2.json'), context())
    expect(loaded!.format).toBe('aiperf')
    const result = loaded!.result
    expect(resultFileSchema.safeParse(result).success).toBe(true)
    const level = result.levels[0]!
    // phases: warmup (excluded, concurrency 2, 16 requests) and profiling (concurrency 2, 96 requests)
    expect(level.load).toEqual({kind: 'concurrency', value: 2})
    expect(level.summary.requests).toEqual({completed: 96, failed: 0})
    expect(level.summary.errors).toEqual({})
    expect(level.summary.durationS).toBe(63.968818563000006)
    // AIPerf's own: 20843 output tokens / 63.968818563 s = 325.8306229225207; 96 / 63.968818563 = 1.5007311711635556
    expect(level.summary.throughput.outputTokensPerS).toBe(325.8306229225207)
    expect(20843 / 63.968818563000006).toBeCloseTo(325.8306229225207, 10)
    expect(level.summary.throughput.requestsPerS).toBe(1.5007311711635556)
    // + total_isl 55749 / 63.968818563 s = AIPerf's total_token_throughput 1197.3333527266568
    expect(level.summary.throughput.totalTokensPerS).toBeCloseTo(1197.3333527266568, 9)
    expect(level.reported?.ttftMs?.p99).toBe(195.0294531999999)
    expect(level.reported?.tpotMs?.p50).toBe(5.504439758095959)
    expect(level.reported?.e2eMs?.p95).toBe(2762.0061432499997)
    // the served name "qwen3.6-nvfp4" says NVFP4: 4-bit, recorded as int4
    expect(result.model).toMatchObject({profile: 'qwen3.6-nvfp4', quant: 'int4'})
    // 580.71875 in, 217.11458333333334 out per request
    expect(result.workload).toMatchObject({inputTokens: 581, outputTokens: 217})
    expect(result.engine.args[0]).toMatch(/^aiperf profile --model 'qwen3.6-nvfp4' .* --concurrency 2 /)
  })
})

describe("AIPerf 0.8.0 per-request profile_export.jsonl (the same run's records)", () => {
  it("recomputes AIPerf's own percentiles from the 20 records: TTFT p50 239.484022, TPOT p99 23.8202588, E2E p99 1700.24572", async () => {
    const [loaded] = await loadAnyResult(peer('aiperf_0.8.0_llama3b_q4km_c1.jsonl'), context())
    expect(loaded!.format).toBe('aiperf')
    const result = loaded!.result
    expect(resultFileSchema.safeParse(result).success).toBe(true)
    const level = result.levels[0]!
    expect(level.requests).toHaveLength(20)
    expect(level.summary.requests).toEqual({completed: 10, failed: 10})
    expect(level.summary.errors).toEqual({timeout: 10})
    // Each number below is the one AIPerf wrote in profile_export_aiperf.json for the same run.
    const {ttftMs, tpotMs, e2eMs, itlMsPerChunk} = level.summary
    expect(ttftMs!.p50).toBeCloseTo(239.48402199999998, 9)
    expect(ttftMs!.p90).toBeCloseTo(408.13389379999944, 9)
    expect(ttftMs!.p99).toBeCloseTo(1572.3343452800002, 9)
    expect(ttftMs!.mean).toBeCloseTo(389.5663025, 9)
    // capplan's TPOT (E2E - TTFT) / (output - 1) = AIPerf's inter_token_latency
    expect(tpotMs!.p50).toBeCloseTo(22.415845266666665, 9)
    expect(tpotMs!.p99).toBeCloseTo(23.820258820666666, 9)
    expect(e2eMs!.p50).toBeCloseTo(584.203521, 9)
    expect(e2eMs!.p99).toBeCloseTo(1700.2457214900003, 9)
    // chunk gaps = AIPerf's inter_chunk_latency (110 gaps): avg 20.709205827272726, p99 23.228784629999996
    expect(itlMsPerChunk!.count).toBe(110)
    expect(itlMsPerChunk!.mean).toBeCloseTo(20.709205827272726, 9)
    expect(itlMsPerChunk!.p99).toBeCloseTo(23.228784629999996, 9)
    // first request: TTFT 1701.6899509999998 + 5 gaps = request_latency 1806.857844
    expect(level.requests[0]!.chunkOffsetsMs).toHaveLength(6)
    expect(level.requests[0]!.e2eMs).toBeCloseTo(1806.857844, 9)
    expect(level.requests[1]!.error).toEqual({kind: 'timeout', message: 'TimeoutError: TimeoutError()'})
    expect(level.requests[1]!.inputTokens).toBe(12) // error_isl
    // window: first start 1777310411639417152 ns -> last end 1777310623277221961 ns = 211.637804809 s
    expect(level.summary.durationS).toBeCloseTo(211.637804809, 5)
    expect(level.summary.throughput.outputTokensPerS).toBeCloseTo(110 / 211.637804809, 7)
    // requests never overlap at concurrency 1
    expect(level.load).toEqual({kind: 'concurrency', value: 1})
  })

  it('leaves warmup records out and counts them', () => {
    const lines = readFileSync(peer('aiperf_0.8.0_llama3b_q4km_c1.jsonl'), 'utf8').trim().split('\n')
    const first = JSON.parse(lines[0]!) as {metadata: Record<string, unknown>}
    first.metadata['benchmark_phase'] = 'warmup'
    const [loaded] = parseAnyResult([JSON.stringify(first), ...lines.slice(1)].join('\n'), 'warm.jsonl', context())
    const level = loaded!.result.levels[0]!
    expect(level.warmupRequests).toBe(1)
    expect(level.summary.requests).toEqual({completed: 9, failed: 10})
    // without the 1701.69 ms first request, the TTFT max is the next largest, 264.405443
    expect(level.summary.ttftMs!.max).toBeCloseTo(264.405443, 9)
  })
})

describe('GenAI-Perf profile_export_genai_perf.json (triton-inference-server/perf_analyzer#298, Triton + TensorRT-LLM, concurrency 100)', () => {
  it("keeps GenAI-Perf's rates and statistics; names the placeholders for the count and duration it lacks", async () => {
    const [loaded] = await loadAnyResult(peer('genai_perf_24.12_trtllm_c100_streaming.json'), context())
    expect(loaded!.format).toBe('genai-perf')
    const result = loaded!.result
    expect(resultFileSchema.safeParse(result).success).toBe(true)
    const level = result.levels[0]!
    expect(level.load).toEqual({kind: 'concurrency', value: 100})
    expect(level.summary.throughput.outputTokensPerS).toBe(44190.56002502682)
    expect(level.summary.throughput.requestsPerS).toBe(17.222547659562533)
    // GenAI-Perf's output_token_throughput = request_throughput x mean output_sequence_length (2565.855)
    expect(17.222547659562533 * 2565.855).toBeCloseTo(44190.56002502682, 6)
    // input: mean input_sequence_length 200.85 x 17.222547659562533 req/s
    expect(level.summary.throughput.inputTokensPerS).toBeCloseTo(200.85 * 17.222547659562533, 9)
    expect(level.summary.requests).toEqual({completed: 1, failed: 0})
    expect(level.summary.durationS).toBeCloseTo(1 / 17.222547659562533, 15)
    expect(level.reported?.ttftMs).toEqual({mean: 184.63779366666665, p50: 172.8093975, p90: 302.80112349999996, p95: 351.02043655, p99: 425.02943662})
    expect(level.reported?.tpotMs?.p99).toBe(2.2631232999999997)
    expect(level.reported?.e2eMs?.p50).toBe(5778.654798)
    expect(result.workload).toMatchObject({inputTokens: 201, outputTokens: 2566})
    expect(result.notes.join('\n')).toContain('lacks: the request count and the duration (the summary has neither')
  })

  it("perf_analyzer's raw profile_export.json and an early nested layout are named, not imported", () => {
    expect(() => parseAnyResult('{"experiments": [], "service_kind": "openai", "endpoint": "v1/chat/completions"}', 'raw.json', context())).toThrow(
      /raw\.json looks like perf_analyzer's raw profile_export\.json .* import profile_export_genai_perf\.json/,
    )
  })
})
