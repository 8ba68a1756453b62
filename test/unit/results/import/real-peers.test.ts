/**
 * Real peer result files (test/fixtures/peers/SOURCES.md says where each comes from): capplan must read every
 * one and reproduce the numbers the tool itself wrote in it.
 */
import {readFileSync} from 'node:fs'

import {beforeAll, describe, expect, it} from 'vitest'

import {loadProfiles} from '../../../../src/profiles/load.js'
import {type ProfileStore} from '../../../../src/profiles/store.js'
import {modelNameFromPath, quantFromFormat} from '../../../../src/results/import/common.js'
import {ggufTypeFromModelType} from '../../../../src/results/import/llama-bench.js'
import {loadAnyResult, parseAnyResult} from '../../../../src/results/import/load.js'
import {resultFileSchema} from '../../../../src/results/schema.js'

const peers = new URL('../../../fixtures/peers/', import.meta.url)
const peer = (name: string) => new URL(name, peers).pathname
let store: ProfileStore
const context = () => ({capplanVersion: '0.1.0', command: ['capplan', 'import', 'test'], store})

beforeAll(async () => {
  store = await loadProfiles()
})

describe('SGLang bench_serving JSONL (datacrunch-research/h200-benchmarks, Llama-3.3-70B on H200, Dec 2024)', () => {
  it('one result per workload (random 1024/1024: 5 rates; sharegpt: 2 rates), SGLang\'s own output_throughput reproduced', async () => {
    const loaded = await loadAnyResult(peer('sglang_bench_serving_llama70b_h200.jsonl'), context())
    expect(loaded.map((l) => l.format)).toEqual(['sglang', 'sglang'])
    const [random, sharegpt] = loaded.map((l) => l.result)
    for (const result of [random!, sharegpt!]) expect(resultFileSchema.safeParse(result).success).toBe(true)
    expect(random!.levels.map((level) => level.load)).toEqual([1, 2, 4, 8, 16].map((value) => ({kind: 'rate', value})))
    expect(sharegpt!.levels.map((level) => level.load)).toEqual([4, 8].map((value) => ({kind: 'rate', value})))
    // line 1: 160347 output tokens / 298.3675805060193 s = 537.4142851849319 (SGLang's output_throughput)
    expect(random!.levels[0]!.summary.throughput.outputTokensPerS).toBeCloseTo(537.4142851849319, 9)
    // line 5: 1642637 / 383.073250005953 = 4288.049348197696
    expect(random!.levels[4]!.summary.throughput.outputTokensPerS).toBeCloseTo(4288.049348197696, 9)
    // line 7 (sharegpt, rate 8): 461874 / 313.96794493007474 = 1471.0864833760852
    expect(sharegpt!.levels[1]!.summary.throughput.outputTokensPerS).toBeCloseTo(1471.0864833760852, 9)
    // requests/s = completed / duration: 300 / 298.3675805060193 = 1.00547...
    expect(random!.levels[0]!.summary.throughput.requestsPerS).toBeCloseTo(300 / 298.3675805060193, 12)
    expect(random!.levels[0]!.summary.ttftMs).toBeNull()
    // workload: 152612 in / 300 = 508.7 -> 509; 160347 out / 300 = 534.49 -> 534
    expect(random!.workload).toMatchObject({inputTokens: 509, outputTokens: 534, dataset: 'random'})
    const notes = random!.notes.join('\n')
    expect(notes).toContain('median_ttft_ms=85.75') // SGLang's reported median, kept in the notes
    expect(notes).toContain('lacks: the model (this bench_serving version does not record it')
  })

  it('a run of it that completed nothing keeps no reported latency (its 0 ms would read as the fastest run)', () => {
    const line = JSON.parse(readFileSync(peer('sglang_bench_serving_llama70b_h200.jsonl'), 'utf8').split('\n')[0]!) as Record<string, unknown>
    const [loaded] = parseAnyResult(JSON.stringify({...line, completed: 0, mean_ttft_ms: 0, median_ttft_ms: 0, p99_ttft_ms: 0}), 'none.jsonl', context())
    const level = loaded!.result.levels[0]!
    expect(level.status).toBe('failed')
    expect(level.reported).toBeUndefined()
  })
})

describe('vLLM benchmark_serving.py --append-result (nerdalert/vllm-bench-automation, Llama-3.2-3B on 4x L40S, May 2025)', () => {
  it('splits the runs by their --metadata deployment, keeps vLLM\'s throughputs and says it has no samples', async () => {
    const loaded = await loadAnyResult(peer('vllm_serve_append_llama3b_l40s.jsonl'), context())
    expect(loaded.map((l) => l.format)).toEqual(['vllm', 'vllm', 'vllm'])
    expect(loaded.map((l) => l.result.notes[0]!.match(/deployment=(\S+)/)?.[1])).toEqual(['no-features', 'base', 'kvcache'])
    const first = loaded[0]!.result
    expect(resultFileSchema.safeParse(first).success).toBe(true)
    // rate 10, rate 30, rate inf with 900 prompts = concurrency 900
    expect(first.levels.map((level) => level.load)).toEqual([{kind: 'rate', value: 10}, {kind: 'rate', value: 30}, {kind: 'concurrency', value: 900}])
    // vLLM's own: output_throughput 2258.212337970085 = 80945 / 35.84472489100017
    expect(first.levels[0]!.summary.throughput.outputTokensPerS).toBe(2258.212337970085)
    expect(80945 / 35.84472489100017).toBeCloseTo(2258.212337970085, 9)
    expect(first.levels[0]!.summary.throughput.requestsPerS).toBe(8.369432347779671)
    expect(first.levels[0]!.summary.throughput.inputTokensPerS).toBeCloseTo(299700 / 35.84472489100017, 9)
    expect(first.notes.join('\n')).toContain('p99_ttft_ms=98.7')
    expect(first.model).toMatchObject({repo: 'meta-llama/Llama-3.2-3B-Instruct'})
  })

  it('reads the same runs as one JSON array (a sweep summary\'s shape): one level per run, same numbers', () => {
    const lines = readFileSync(peer('vllm_serve_append_llama3b_l40s.jsonl'), 'utf8').trim().split('\n').slice(0, 3)
    const loaded = parseAnyResult(`[${lines.join(',\n')}]`, 'sweep.json', context())
    expect(loaded).toHaveLength(1)
    expect(loaded[0]!.result.levels.map((level) => level.summary.throughput.outputTokensPerS)).toEqual([2258.212337970085, 5841.355557587435, 8321.230575856995])
  })
})

describe('vLLM benchmark_serving.py --save-result of Sep 2024 (LambdaLabsML/vllm-benchmark, Llama-3-8B-Instruct on 1x A100-80GB SXM)', () => {
  const file = 'vllm_2024-09_benchmark_serving_llama3_8b_a100.json'
  it('is read (2024 layout: best_of, use_beam_search; no latencies, no total_token_throughput); vLLM\'s TTFT, ITL and throughputs reproduced', async () => {
    const [loaded, ...rest] = await loadAnyResult(peer(file), context())
    expect(rest).toHaveLength(0)
    expect(loaded!.format).toBe('vllm')
    const result = loaded!.result
    expect(resultFileSchema.safeParse(result).success).toBe(true)
    const level = result.levels[0]!
    // request rate inf, 10 prompts, no --max-concurrency: all 10 at once
    expect(level.load).toEqual({kind: 'concurrency', value: 10})
    expect(level.requests).toHaveLength(10)
    expect(level.summary.requests).toEqual({completed: 10, failed: 0})
    // vLLM's own: output_throughput 227.03837146571024 = 1945 / 8.566833823919296; request 1.1672923982812866; input 159.80232932470813
    expect(level.summary.throughput.outputTokensPerS).toBeCloseTo(227.03837146571024, 9)
    expect(level.summary.throughput.requestsPerS).toBeCloseTo(1.1672923982812866, 12)
    expect(level.summary.throughput.inputTokensPerS).toBeCloseTo(159.80232932470813, 9)
    // vLLM's TTFT (from the same ttfts, numpy's linear percentiles like capplan's): mean / median / p99
    expect(level.summary.ttftMs!.mean).toBeCloseTo(139.22520615160465, 9)
    expect(level.summary.ttftMs!.p50).toBeCloseTo(139.06319253146648, 9)
    expect(level.summary.ttftMs!.p99).toBeCloseTo(140.39139926433563, 9)
    // vLLM's ITL is per chunk: 197 gaps, mean / median / p99_itl_ms
    expect(level.summary.itlMsPerChunk!.count).toBe(197)
    expect(level.summary.itlMsPerChunk!.mean).toBeCloseTo(114.52366808798108, 9)
    expect(level.summary.itlMsPerChunk!.p50).toBeCloseTo(114.43691700696945, 9)
    expect(level.summary.itlMsPerChunk!.p99).toBeCloseTo(118.05999144911766, 9)
    expect(result.workload).toMatchObject({inputTokens: 137, outputTokens: 195}) // 1369 / 10 = 136.9, 1945 / 10 = 194.5
    expect(result.model).toMatchObject({repo: 'meta-llama/Meta-Llama-3-8B-Instruct', paramsB: 8, quant: 'fp16'})
    expect(result.createdAt).toBe('2024-09-07T08:29:00.000Z')
    expect(result.notes[0]).toContain('benchmark_serving.py of 2024 (best_of, use_beam_search)')
  })

  it('E2E = TTFT + the ITL gaps (start -> last token); vLLM\'s 2024 latency ran on to [DONE]: 11.73 ms longer on average, said in the notes', async () => {
    const [loaded] = await loadAnyResult(peer(file), context())
    const level = loaded!.result.levels[0]!
    // request 8: TTFT 0.13902663066983223 s + its one gap 0.11286088451743126 s = 251.8875151872635 ms;
    // request 9: 0.13870686665177345 + 0.11311587318778038 s = 251.82273983955383 ms, the shortest
    expect(level.requests[7]!.e2eMs).toBeCloseTo(251.8875151872635, 9)
    expect(level.summary.e2eMs!.min).toBeCloseTo(251.82273983955383, 9)
    // request 1: 12 gaps summing to 1.393332313746214 s over 120 tokens: TPOT = 1393.332313746214 / 119 = 11.70867490543037 ms
    expect(level.requests[0]!.e2eMs).toBeCloseTo(1533.745139837265, 9)
    expect(level.requests[0]!.outputTokens).toBe(120)
    // vLLM's mean / median / p99_latency_ms (2407.07 / 1420.57 / 8329.03) each end after capplan's last-token E2E
    expect(level.summary.e2eMs!.mean).toBeCloseTo(2395.341467484832, 9)
    expect(2407.0737529546022 - level.summary.e2eMs!.mean).toBeCloseTo(11.73, 2)
    expect(level.summary.e2eMs!.p50).toBeLessThan(1420.5735865980387)
    expect(level.summary.e2eMs!.p99).toBeLessThan(8329.030026607215)
    // so capplan's TPOT is below vLLM's (mean 17.95, median 11.96, p99 53.74 ms), by the tail over (output - 1)
    expect(level.summary.tpotMs!.mean).toBeCloseTo(17.511191779128175, 9)
    expect(level.summary.tpotMs!.mean).toBeLessThan(17.953939450032614)
    expect(level.summary.tpotMs!.p50).toBeLessThan(11.955695146418893)
    const notes = loaded!.result.notes.join('\n')
    expect(notes).toContain("vLLM's own mean latency 2407.07 ms ends at the stream's end ([DONE]), 11.73 ms after capplan's mean E2E 2395.34 ms")
    // 1945 tokens came in 207 chunks (multi-step scheduling): per-token ITL is not known
    expect(notes).toContain('lacks: tokens per chunk: the streams carried 1945 output tokens in 207 chunks')
  })
})

describe('vLLM 0.25.1 `vllm bench serve` where every request failed (er0080/vllm-benchmarking)', () => {
  it('is a failed level with no statistics: vLLM\'s 0.0 ms are no measurement, so the SLO check never sees them', async () => {
    const [loaded] = await loadAnyResult(peer('vllm_0.25.1_bench_serve_all_failed_opt125m.json'), context())
    const result = loaded!.result
    expect(resultFileSchema.safeParse(result).success).toBe(true)
    expect(result.status).toBe('failed')
    const level = result.levels[0]!
    expect(level.status).toBe('failed')
    expect(level.summary.requests).toEqual({completed: 0, failed: 8})
    expect(level.summary.throughput.outputTokensPerS).toBe(0)
    // the file says mean_ttft_ms 0.0, p99_tpot_ms 0.0: no latency was measured, so no reported statistic is kept
    // (stored, a 0 ms TTFT would read as the fastest run there is)
    expect(level.reported).toBeUndefined()
    const notes = result.notes.join('\n')
    expect(notes).toContain('`vllm bench serve` of 2026 (endpoint_type, max_concurrent_requests)')
    expect(notes).toContain('lacks: any completed request in the run (completed 0, failed 8): vLLM wrote 0.0 for every statistic of it')
    expect(notes).not.toContain('mean_ttft_ms=0')
  })
})

describe('llama-bench, three eras', () => {
  it('b5163 (2025, llama.cpp README, Q4_K - Medium on CUDA): Q4_K_M = int4, pp512 + tg128', async () => {
    const [loaded, ...rest] = await loadAnyResult(peer('llama_bench_b5163_q4_k_m_cuda.json'), context())
    expect(rest).toHaveLength(0)
    const result = loaded!.result
    expect(resultFileSchema.safeParse(result).success).toBe(true)
    expect(result.model).toMatchObject({quant: 'int4', format: 'Q4_K_M', bytes: 4677120000, paramsB: 7.615616512})
    expect(result.engine).toMatchObject({backend: 'cuda', gpuCount: 1, threads: 8})
    // 72,135,640 ns (pp512) + 1,076,767,880 ns (tg128) = 1,148,903,520 ns per request
    const level = result.levels[0]!
    expect(level.summary.throughput.outputTokensPerS).toBeCloseTo(128 / 1.14890352, 9) // 111.41...
    expect(level.summary.throughput.inputTokensPerS).toBeCloseTo(512 / 1.14890352, 9)
    expect(level.summary.perUserTokensPerS).toBe(118.881588) // llama-bench's own tg128 avg_ts
    expect(level.summary.durationS).toBeCloseTo(5 * 1.14890352, 9) // 5 repetitions
  })

  it('b3599 ik_llama.cpp fork (2025, before the backends field; IQ4_K_R4 on CPU) imports, backend CPU from the legacy flags', async () => {
    const [loaded] = await loadAnyResult(peer('ik_llama_b3599_iq4_k_r4_cpu.json'), context())
    const result = loaded!.result
    expect(resultFileSchema.safeParse(result).success).toBe(true)
    expect(result.model).toMatchObject({quant: 'int4', format: 'IQ4_K_R4', paramsB: 672.049829376})
    expect(result.engine).toMatchObject({backend: 'cpu', gpuCount: 0, threads: 48})
    // 62,419,796,060 ns + 43,130,895,818 ns = 105,550,691,878 ns: 128 / 105.550691878 s = 1.2127 tok/s
    expect(result.levels[0]!.summary.throughput.outputTokensPerS).toBeCloseTo(128 / 105.550691878, 12)
    expect(result.levels[0]!.summary.perUserTokensPerS).toBe(2.967723)
  })

  it('b4xxx capplan-recorded (2026, Q4_0 on CPU) still reads as before', async () => {
    const [loaded] = await loadAnyResult(peer('llama_bench.json'), context())
    expect(loaded!.result.model).toMatchObject({quant: 'int4', format: 'Q4_0'})
  })

  it('several prompt and generation sizes give one result each, never only the first pp and tg', () => {
    const rows = JSON.parse(readFileSync(peer('llama_bench_b5163_q4_k_m_cuda.json'), 'utf8')) as Record<string, unknown>[]
    // the same configuration at a second size pair (timings scaled x2): pp1024 and tg256
    const more = [...rows, {...rows[0], n_prompt: 1024, avg_ns: 144271280}, {...rows[1], n_gen: 256, avg_ns: 2153535760}]
    const loaded = parseAnyResult(JSON.stringify(more), 'sizes.json', context())
    expect(loaded.map((l) => l.result.workload)).toMatchObject([{inputTokens: 512, outputTokens: 128}, {inputTokens: 1024, outputTokens: 256}])
    // pp1024 + tg256 = 144,271,280 + 2,153,535,760 = 2,297,807,040 ns
    expect(loaded[1]!.result.levels[0]!.summary.throughput.outputTokensPerS).toBeCloseTo(256 / 2.29780704, 9)
  })

  it('rows differing only by device are separate results; a -d depth run records its depth', () => {
    const rows = JSON.parse(readFileSync(peer('llama_bench_b5163_q4_k_m_cuda.json'), 'utf8')) as Record<string, unknown>[]
    const two = [...rows, ...rows.map((row) => ({...row, main_gpu: 1}))]
    expect(parseAnyResult(JSON.stringify(two), 'devices.json', context())).toHaveLength(2)
    const deep = rows.map((row) => ({...row, n_depth: 4096}))
    const [loaded] = parseAnyResult(JSON.stringify(deep), 'depth.json', context())
    expect(loaded!.result.workload.inputTokens).toBe(4096 + 512)
    expect(loaded!.result.engine.args).toEqual(expect.arrayContaining(['-d', '4096']))
    expect(loaded!.result.notes.join('\n')).toContain('run at depth 4096')
  })
})

describe('conversions', () => {
  it.each([
    ['qwen2 7B Q4_K - Medium', 'Q4_K_M', 'int4'],
    ['llama 8B Q5_K - Small', 'Q5_K_S', 'int8'],
    ['llama 8B Q6_K', 'Q6_K', 'int8'],
    ['llama 7B mostly Q4_0', 'Q4_0', 'int4'],
    ['qwen3 8B IQ4_XS - 4.25 bpw', 'IQ4_XS', 'int4'],
    ['llama 70B IQ2_XXS - 2.0625 bpw', 'IQ2_XXS', 'int4'],
    ['deepseek2 671B IQ4_K_R4 - 4.5 bpw', 'IQ4_K_R4', 'int4'],
    ['llama 8B BF16', 'BF16', 'fp16'],
    ['gpt-oss 20B MXFP4 MoE', 'MXFP4', 'int4'],
  ])('model_type "%s" -> %s (%s)', (modelType, format, quant) => {
    expect(ggufTypeFromModelType(modelType)).toBe(format)
    expect(quantFromFormat(format)).toBe(quant)
  })

  it('an HF cache snapshot path is the model it holds', () => {
    expect(modelNameFromPath('/root/.cache/huggingface/hub/models--Qwen--Qwen2.5-7B-Instruct/snapshots/a09a3545/')).toBe('Qwen/Qwen2.5-7B-Instruct')
    expect(modelNameFromPath('meta-llama/Llama-3.2-3B-Instruct')).toBe('meta-llama/Llama-3.2-3B-Instruct')
    expect(modelNameFromPath('/models/Qwen2.5-7B-Instruct/')).toBe('Qwen2.5-7B-Instruct')
    expect(modelNameFromPath('C:\\models\\llama.gguf')).toBe('llama.gguf')
  })
})

describe('files capplan cannot import say which tool they look like and what is missing', () => {
  const refuse = (text: string) => {
    try {
      parseAnyResult(text, 'f.json', context())
    } catch (error) {
      return (error as Error).message
    }
    throw new Error('accepted')
  }
  it.each([
    ['{"avg_latency": 1.2, "latencies": [1.1, 1.3], "percentiles": {"50": 1.2}}', /vllm bench latency.*missing per-request TTFT/],
    ['{"elapsed_time": 10, "num_requests": 100, "total_num_tokens": 5000, "requests_per_second": 10, "tokens_per_second": 500}', /vllm bench throughput/],
    ['{"benchmarks": [{"type_": "generative_benchmark"}]}', /GuideLLM report.*missing benchmarks\[\]\.metrics/],
    ['{"records": {}, "input_config": {}}', /AIPerf \/ GenAI-Perf/],
    ['{"a": 1}', /fields "a" that matches no benchmark tool/],
    ['benchmarks:\n- type_: generative_benchmark\n', /YAML/],
  ])('%s', (text, message) => {
    const said = refuse(text)
    expect(said).toMatch(message)
    expect(said).not.toMatch(/not a capplan result file nor/)
  })
})

describe('refused real files of the newer versions still say which tool and version they look like, and what is missing', () => {
  const refusal = (text: string) => {
    try {
      parseAnyResult(text, 'f.json', context())
    } catch (error) {
      return (error as Error).message
    }
    throw new Error('accepted')
  }
  it('the 2024 vLLM file without "completed"', () => {
    const run = JSON.parse(readFileSync(peer('vllm_2024-09_benchmark_serving_llama3_8b_a100.json'), 'utf8')) as Record<string, unknown>
    delete run['completed']
    expect(refusal(JSON.stringify(run))).toMatch(/^f.json is not a vLLM bench serve result capplan understands: completed: .*\(it looks like one written by benchmark_serving.py of 2024 \(best_of, use_beam_search\)\)$/)
  })
  it('the 0.25.1 vLLM file without "duration"', () => {
    const run = JSON.parse(readFileSync(peer('vllm_0.25.1_bench_serve_all_failed_opt125m.json'), 'utf8')) as Record<string, unknown>
    delete run['duration']
    // no duration: the fields left are still a vLLM run's (request and output throughput, model_id)
    expect(refusal(JSON.stringify(run))).toBe(
      'f.json looks like a vLLM result written by `vllm bench serve` of 2026 (endpoint_type, max_concurrent_requests); capplan cannot import it: missing duration.',
    )
  })
  it('the GuideLLM 0.5.0.dev0 file without metrics.prompt_token_count names its version', () => {
    const report = JSON.parse(readFileSync(peer('guidellm_0.5.0.dev0_qwen3_4b_c4.json'), 'utf8')) as {benchmarks: {metrics: Record<string, unknown>}[]}
    delete report.benchmarks[0]!.metrics['prompt_token_count']
    expect(refusal(JSON.stringify(report))).toMatch(/^f.json benchmarks\[0\] is not a GuideLLM generative benchmark capplan understands: metrics.prompt_token_count: .*\(it looks like GuideLLM 0.5.0.dev0\)$/)
  })
  it('the GuideLLM test asset (no version recorded) without request_totals names its 0.2-0.3 layout', () => {
    const report = JSON.parse(readFileSync(peer('guidellm_0.2_sweep_stripped.json'), 'utf8')) as {benchmarks: Record<string, unknown>[]}
    delete report.benchmarks[0]!['request_totals']
    expect(refusal(JSON.stringify(report))).toMatch(/has no request_totals.*\(it looks like GuideLLM 0.2.x-0.3.x layout \(args, run_stats, request_totals beside metrics\)\)$/)
  })
})
