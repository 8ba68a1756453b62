import {readFileSync} from 'node:fs'

import {beforeAll, describe, expect, it} from 'vitest'

import {loadProfiles} from '../../../../src/profiles/load.js'
import {type ProfileStore} from '../../../../src/profiles/store.js'
import {contentUuid, quantFromFormat} from '../../../../src/results/import/common.js'
import {loadAnyResult, parseAnyResult} from '../../../../src/results/import/load.js'
import {resultFileSchema} from '../../../../src/results/schema.js'

const peers = new URL('../../../fixtures/peers/', import.meta.url)
const peer = (name: string) => new URL(name, peers).pathname
let store: ProfileStore
const context = () => ({capplanVersion: '0.1.0', command: ['capplan', 'import', 'test'], store})

beforeAll(async () => {
  store = await loadProfiles()
})

describe('llama-bench import (real fixture: pp64 + tg32, 2 threads, CPU)', () => {
  it('makes one single-stream level: request time = pp time + tg time', async () => {
    const [loaded] = await loadAnyResult(peer('llama_bench.json'), context())
    expect(loaded!.format).toBe('llama-bench')
    const result = loaded!.result
    expect(resultFileSchema.safeParse(result).success).toBe(true)
    // pp64 avg_ns 298,220,549 + tg32 avg_ns 445,836,972 = 744,057,521 ns per request
    const requestS = 0.744057521
    const level = result.levels[0]!
    expect(level.load).toEqual({kind: 'concurrency', value: 1})
    expect(level.summary.throughput.outputTokensPerS).toBeCloseTo(32 / requestS, 9) // 43.0074...
    expect(level.summary.throughput.inputTokensPerS).toBeCloseTo(64 / requestS, 9) // 86.0149...
    expect(level.summary.throughput.requestsPerS).toBeCloseTo(1 / requestS, 9)
    expect(level.summary.durationS).toBeCloseTo(2 * requestS, 9) // 2 repetitions
    expect(level.summary.perUserTokensPerS).toBe(71.775152) // tg avg_ts
    expect(level.summary.ttftMs).toBeNull()
    expect(level.summary.tpotMs).toBeNull()
    expect(result.model).toMatchObject({profile: 'qwen2.5-0.5b', quant: 'int4', format: 'Q4_0', bytes: 278139392, paramsB: 0.494032768})
    expect(result.engine).toMatchObject({kind: 'llamacpp', backend: 'cpu', threads: 2, gpuCount: 0})
    expect(result.workload).toMatchObject({inputTokens: 64, outputTokens: 32})
    expect(result.notes[0]).toMatch(/^imported from llama-bench: /)
    expect(result.notes.join('\n')).toContain('lacks: latency under load')
    expect(result.notes.join('\n')).toContain('TPOT ~ 13.93 ms') // 1000 / 71.775152
  })

  it('reads -o jsonl (a second run: pp64 293,455,892 ns + tg32 448,745,498 ns)', async () => {
    const [jsonl] = await loadAnyResult(peer('llama_bench.jsonl'), context())
    const requestS = 0.74220139 // 0.293455892 + 0.448745498
    expect(jsonl!.format).toBe('llama-bench')
    expect(jsonl!.result.levels[0]!.summary.throughput.outputTokensPerS).toBeCloseTo(32 / requestS, 9) // 43.1150
    expect(jsonl!.result.levels[0]!.summary.perUserTokensPerS).toBe(71.309994)
  })
})

describe('vLLM bench serve import', () => {
  it('recomputes TTFT/TPOT/E2E from the per-request arrays (seconds -> ms) and counts the failure', async () => {
    const [loaded] = await loadAnyResult(peer('vllm_serve_detailed.json'), context())
    expect(loaded!.format).toBe('vllm')
    const result = loaded!.result
    expect(resultFileSchema.safeParse(result).success).toBe(true)
    const level = result.levels[0]!
    expect(level.load).toEqual({kind: 'concurrency', value: 2})
    expect(level.summary.requests).toEqual({completed: 2, failed: 1})
    // 8 output tokens / 2.0 s; 20 input tokens / 2.0 s
    expect(level.summary.throughput.outputTokensPerS).toBe(4)
    expect(level.summary.throughput.inputTokensPerS).toBe(10)
    // TTFT samples 100, 200 ms; TPOT (300-100)/3 = 66.67 and (500-200)/3 = 100 -> mean 83.33 (vLLM's mean_tpot_ms too)
    expect(level.summary.ttftMs?.mean).toBeCloseTo(150, 9)
    expect(level.summary.tpotMs?.mean).toBeCloseTo(83.333333333, 6)
    expect(level.summary.e2eMs?.max).toBeCloseTo(500, 9)
    // per-chunk ITL: gaps 50, 50, 100, 100, 100, 100 ms -> mean 83.33 (vLLM's mean_itl_ms)
    expect(level.summary.itlMsPerChunk?.mean).toBeCloseTo(83.333333333, 6)
    expect(level.summary.errors).toEqual({http: 1})
    expect(level.requests[2]!.error).toEqual({kind: 'http', message: 'Bad Request'})
    expect(result.model).toMatchObject({profile: 'qwen2.5-7b', repo: 'Qwen/Qwen2.5-7B-Instruct'})
    expect(result.createdAt).toBe('2026-11-22T06:15:00.000Z')
  })

  it('without --save-detailed keeps the throughput, has no latency, and says what is missing', async () => {
    const [loaded] = await loadAnyResult(peer('vllm_serve_summary.json'), context())
    const level = loaded!.result.levels[0]!
    expect(level.summary.throughput.outputTokensPerS).toBe(4)
    expect(level.summary.ttftMs).toBeNull()
    expect(loaded!.result.notes.join('\n')).toContain('lacks: per-request samples')
    expect(loaded!.result.notes.join('\n')).toContain('p99_ttft_ms=199')
  })

  it('reads --append-result JSON lines as one level per run', () => {
    const line = readFileSync(peer('vllm_serve_summary.json'), 'utf8').trim()
    const second = line.replace('"max_concurrency": 2', '"max_concurrency": 4').replace('"output_throughput": 4.0', '"output_throughput": 7.0')
    const [loaded] = parseAnyResult(`${line}\n${second}\n`, 'runs.jsonl', context())
    expect(loaded!.result.levels.map((level) => [level.load.value, level.summary.throughput.outputTokensPerS])).toEqual([
      [2, 4],
      [4, 7],
    ])
  })
})

describe('GuideLLM benchmarks.json import', () => {
  it('converts GuideLLM "TPOT" (which includes TTFT) to capplan E2E and TPOT', async () => {
    const [loaded] = await loadAnyResult(peer('guidellm_benchmarks.json'), context())
    expect(loaded!.format).toBe('guidellm')
    const result = loaded!.result
    expect(resultFileSchema.safeParse(result).success).toBe(true)
    const level = result.levels[0]!
    expect(level.load).toEqual({kind: 'concurrency', value: 2})
    // E2E = GuideLLM time_per_output_token_ms x output tokens: 65 x 10 = 650, 84 x 10 = 840
    expect(level.requests.map((r) => r.e2eMs)).toEqual([expect.closeTo(650, 6), expect.closeTo(840, 6)])
    // capplan TPOT = (E2E - TTFT) / 9: (650 - 200) / 9 = 50, (840 - 300) / 9 = 60 = GuideLLM's inter_token_latency_ms
    expect(level.summary.tpotMs?.min).toBeCloseTo(50, 6)
    expect(level.summary.tpotMs?.max).toBeCloseTo(60, 6)
    expect(level.summary.ttftMs?.p50).toBeCloseTo(250, 6)
    // throughput from the metrics' totals over the duration: 20 output tokens / 4 s, 200 prompt tokens / 4 s
    expect(level.summary.throughput.outputTokensPerS).toBe(5)
    expect(level.summary.throughput.inputTokensPerS).toBe(50)
    expect(level.summary.itlMsPerToken).toBeNull()
    expect(result.notes.join('\n')).toContain('includes TTFT')
  })
})

describe('GuideLLM variants', () => {
  it('takes the strategy from args and the duration from end - start when config/duration are absent (older releases)', () => {
    const report = JSON.parse(readFileSync(peer('guidellm_benchmarks.json'), 'utf8'))
    const benchmark = report.benchmarks[0]
    benchmark.args = {strategy: {type_: 'constant', rate: 0.5}}
    delete benchmark.config
    delete benchmark.duration
    benchmark.start_time = 100
    benchmark.end_time = 108
    const [loaded] = parseAnyResult(JSON.stringify(report), 'old.json', context())
    const level = loaded!.result.levels[0]!
    expect(level.load).toEqual({kind: 'rate', value: 0.5})
    expect(level.summary.throughput.outputTokensPerS).toBe(2.5) // 20 tokens / (108 - 100) s
  })

  it('leaves requests outside GuideLLM\'s measured window out of the percentiles (measure_start_time 100.5 drops req-1 started at 100.0)', () => {
    const report = JSON.parse(readFileSync(peer('guidellm_benchmarks.json'), 'utf8'))
    report.benchmarks[0].scheduler_metrics.measure_start_time = 100.5
    const [loaded] = parseAnyResult(JSON.stringify(report), 'w.json', context())
    const level = loaded!.result.levels[0]!
    expect(level.requests).toHaveLength(1)
    expect(level.summary.ttftMs).toMatchObject({count: 1, p50: expect.closeTo(300, 6)}) // req-2 only
    expect(loaded!.result.notes.join('\n')).toContain('1 of 2 sampled requests fall outside')
  })

  it("uses GuideLLM's own output tok/s and req/s when the report has them (4.5 and 0.45, not 20 / 4 s = 5)", () => {
    const report = JSON.parse(readFileSync(peer('guidellm_benchmarks.json'), 'utf8'))
    report.benchmarks[0].metrics.output_tokens_per_second = {successful: {mean: 4.5}}
    report.benchmarks[0].metrics.requests_per_second = {successful: {mean: 0.45}}
    const [loaded] = parseAnyResult(JSON.stringify(report), 'own.json', context())
    expect(loaded!.result.levels[0]!.summary.throughput).toMatchObject({outputTokensPerS: 4.5, requestsPerS: 0.45, inputTokensPerS: 50})
  })

  it('reads the GuideLLM 0.2 layout: request_totals beside metrics, TTFT and E2E from the recorded times', () => {
    const report = JSON.parse(readFileSync(peer('guidellm_benchmarks.json'), 'utf8'))
    const benchmark = report.benchmarks[0]
    benchmark.request_totals = benchmark.metrics.request_totals
    delete benchmark.metrics.request_totals
    // 0.2 request stats: start 10.0, first token 10.2, last token 10.65 (its "TPOT" 50 excludes the first token)
    benchmark.requests.successful = [{start_time: 10.0, first_token_time: 10.2, last_token_time: 10.65, end_time: 10.66, output_tokens: 10, prompt_tokens: 100, time_per_output_token_ms: 50}]
    // Without GuideLLM's own distributions the sample's times are the latencies (with them, 1 sample of 2 would
    // defer to them: guidellm-real.test.ts).
    for (const key of ['time_to_first_token_ms', 'inter_token_latency_ms', 'request_latency']) delete benchmark.metrics[key]
    const [loaded] = parseAnyResult(JSON.stringify(report), 'v02.json', context())
    const level = loaded!.result.levels[0]!
    expect(level.requests[0]).toMatchObject({ttftMs: expect.closeTo(200, 6), e2eMs: expect.closeTo(650, 6)})
    expect(level.summary.tpotMs?.p50).toBeCloseTo(50, 6) // (650 - 200) / 9
    expect(level.summary.requests).toEqual({completed: 2, failed: 0})
    expect(loaded!.result.notes.join('\n')).toContain('read as GuideLLM 0.2.x')
  })

  it('reads the same report written as YAML, with the same numbers', async () => {
    const {stringify} = await import('yaml')
    const report = JSON.parse(readFileSync(peer('guidellm_benchmarks.json'), 'utf8'))
    const [fromYaml] = parseAnyResult(stringify(report), 'benchmarks.yaml', context())
    expect(fromYaml!.format).toBe('guidellm')
    expect(fromYaml!.result.levels[0]!.summary.throughput.outputTokensPerS).toBe(5)
    expect(fromYaml!.result.levels[0]!.summary.tpotMs?.max).toBeCloseTo(60, 6)
    expect(fromYaml!.result.notes[0]).toContain('benchmarks.yaml, GuideLLM 0.4.0')
  })

  it('names the benchmark and the field when a report is not one it understands', () => {
    const report = JSON.parse(readFileSync(peer('guidellm_benchmarks.json'), 'utf8'))
    delete report.benchmarks[0].metrics.output_token_count
    expect(() => parseAnyResult(JSON.stringify(report), 'g.json', context())).toThrow(
      /^g.json benchmarks\[0\] is not a GuideLLM generative benchmark capplan understands: metrics.output_token_count: .*\(it looks like GuideLLM 0.4.0\)$/,
    )
  })
})

describe('format detection and bad input', () => {
  it('names the file and the shape of an unrecognized peer file', () => {
    expect(() => parseAnyResult('{"foo": 1, "bar": 2}', 'odd.json', context())).toThrow(
      'odd.json looks like a JSON object with fields "foo", "bar" that matches no benchmark tool capplan knows; capplan cannot import it: missing the fields of one of the formats below.',
    )
    expect(() => parseAnyResult('[1, 2]', 'arr.json', context())).toThrow(/arr.json looks like a JSON array whose first element is a JSON number/)
  })

  it('reports a truncated capplan file as truncated JSON, and a newer schemaVersion as newer', () => {
    expect(() => parseAnyResult('{"schemaVersion": 1, "id": "x", "levels": [', 'cut.json', context())).toThrow(/cut.json is not valid JSON/)
    expect(() => parseAnyResult('{"schemaVersion": 4}', 'new.json', context())).toThrow('new.json has schemaVersion 4; this capplan reads schemaVersion 1, 2 and 3.')
  })

  it('derives a stable UUID from the content and maps formats to quant levels', () => {
    const a = contentUuid('same text')
    expect(a).toBe(contentUuid('same text'))
    expect(a).not.toBe(contentUuid('other text'))
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(['Q4_K_M', 'Q8_0', 'F16', 'Q6_K', 'AWQ', 'weird'].map(quantFromFormat)).toEqual(['int4', 'int8', 'fp16', 'int8', 'int4', null])
  })
})
