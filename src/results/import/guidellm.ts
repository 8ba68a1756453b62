/**
 * GuideLLM `benchmarks.json` -> a capplan result file (one level per benchmark of the report).
 *
 * Field names follow GuideLLM's pydantic models as serialized (vllm-project/guidellm):
 * - src/guidellm/benchmark/schemas/generative/benchmark.py: GenerativeBenchmark {type_: "generative_benchmark",
 *   config {strategy {type_, streams | rate | max_concurrency}}, metrics, requests {successful, incomplete,
 *   errored}, start_time, end_time, duration (computed, seconds)};
 * - .../generative/metrics.py: GenerativeMetrics {request_totals {successful, incomplete, errored, total},
 *   prompt_token_count / output_token_count {successful {total_sum, ...}}, ...};
 * - src/guidellm/schemas/request_stats.py: GenerativeRequestStats computed fields time_to_first_token_ms,
 *   time_per_output_token_ms, inter_token_latency_ms, output_tokens, prompt_tokens, request_start_time.
 *
 * Definitions converted (metrics.md): GuideLLM's time_per_output_token_ms = (last token - start) / output
 * tokens INCLUDES TTFT, so it is not capplan's TPOT. capplan rebuilds per request E2E = that x output tokens
 * (request start -> last token, capplan's E2E) and TPOT = (E2E - TTFT) / (output - 1) (= GuideLLM's
 * inter_token_latency_ms). `requests` holds a SAMPLE of the requests (GuideLLM's sample_requests), so
 * throughput comes from the metrics' token totals over the benchmark's duration, never from the sample.
 */

import {z} from 'zod'

import {invalidResult} from '../../lib/errors.js'
import {summarizeLevel} from '../../stats/summarize.js'
import {formatSchemaIssues} from '../read.js'
import type {ReportedLatency} from '../reported-latency.js'
import {type LevelRecord, type RequestRecord, RESULT_SCHEMA_VERSION, type ResultFile} from '../schema.js'
import {contentUuid, type ImportContext, matchModelProfile, modelNameFromPath, peerNumbers, placeholderHost, quantFromFormat, throughputOnlySummary} from './common.js'

const {count, duration, ms, timestamp, perSecond} = peerNumbers
// Token counts may be fractional in GuideLLM's serialization (they are rounded below), never negative or huge.
const tokens = z.number().nonnegative().max(1e12)
const requestStatsSchema = z.looseObject({
  time_to_first_token_ms: ms.nullable().optional(),
  time_per_output_token_ms: ms.nullable().optional(),
  inter_token_latency_ms: ms.nullable().optional(),
  output_tokens: tokens.nullable().optional(),
  prompt_tokens: tokens.nullable().optional(),
  request_start_time: timestamp.nullable().optional(),
  request_end_time: timestamp.nullable().optional(),
  // GuideLLM 0.2.x-0.3.x request stats: absolute times in seconds (its TPOT is not that of 0.4+).
  start_time: timestamp.nullable().optional(),
  end_time: timestamp.nullable().optional(),
  first_token_time: timestamp.nullable().optional(),
  last_token_time: timestamp.nullable().optional(),
  info: z.looseObject({timings: z.looseObject({token_iterations: count.optional()}).optional()}).optional(),
})
type RequestStats = z.infer<typeof requestStatsSchema>

const statusSum = z.looseObject({successful: z.looseObject({total_sum: z.number().nonnegative().max(1e15), mean: z.number().nonnegative().max(1e12).optional()})})
const statusMean = z.looseObject({successful: z.looseObject({mean: perSecond})}).optional()
// GuideLLM's own distribution of a latency over ALL successful requests (metrics.*.successful).
const statusDistribution = z
  .looseObject({
    successful: z.looseObject({
      mean: ms.optional(),
      median: ms.optional(),
      count: count.optional(),
      percentiles: z.looseObject({p50: ms.optional(), p90: ms.optional(), p95: ms.optional(), p99: ms.optional()}).optional(),
    }),
  })
  .optional()
const totalsSchema = z.looseObject({successful: count, incomplete: count, errored: count})
// streams / rate / max_concurrency become the level's load, which must be positive.
const strategySchema = z.looseObject({
  type_: z.string(),
  streams: count.positive().optional(),
  rate: perSecond.positive().optional(),
  max_concurrency: count.positive().nullable().optional(),
})
const benchmarkSchema = z.looseObject({
  type_: z.string().optional(),
  // Current GuideLLM: config.strategy; earlier 0.x releases kept the strategy under args.
  config: z
    .looseObject({
      strategy: strategySchema,
      backend: z.record(z.string(), z.unknown()).optional(),
      cooldown: z.looseObject({value: z.number().nullable().optional(), percent: z.number().nullable().optional()}).nullable().optional(),
    })
    .optional(),
  args: z.looseObject({strategy: strategySchema.optional()}).optional(),
  duration: duration.optional(),
  cooldown_duration: z.number().nonnegative().max(1e9).optional(),
  start_time: timestamp.optional(),
  end_time: timestamp.optional(),
  // GuideLLM 0.4+: metrics.request_totals; 0.2.x-0.3.x: request_totals beside metrics.
  request_totals: totalsSchema.optional(),
  scheduler_metrics: z.looseObject({measure_start_time: timestamp.optional(), measure_end_time: timestamp.optional()}).optional(),
  metrics: z.looseObject({
    request_totals: totalsSchema.optional(),
    prompt_token_count: statusSum,
    output_token_count: statusSum,
    // GuideLLM's own rates over its measured window (what its console prints as "mean").
    output_tokens_per_second: statusMean,
    requests_per_second: statusMean,
    time_to_first_token_ms: statusDistribution,
    inter_token_latency_ms: statusDistribution,
    // seconds
    request_latency: statusDistribution,
  }),
  requests: z.looseObject({
    successful: z.array(requestStatsSchema).default([]),
    errored: z.array(z.unknown()).default([]),
    incomplete: z.array(z.unknown()).default([]),
  }).optional(),
}).refine((b) => b.metrics.request_totals !== undefined || b.request_totals !== undefined, {
  message: 'has no request_totals (GuideLLM 0.4+ writes metrics.request_totals, 0.2-0.3 request_totals beside metrics)',
}).refine((b) => b.duration !== undefined || (b.start_time !== undefined && b.end_time !== undefined && duration.safeParse(b.end_time - b.start_time).success), {
  message: 'has neither duration nor start_time/end_time (end at least 1 µs after start)',
})
type GuideBenchmark = z.infer<typeof benchmarkSchema>

/** Whether a parsed JSON value looks like a GuideLLM report (for format detection). */
export function looksLikeGuideLlmReport(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const benchmarks = (value as Record<string, unknown>)['benchmarks']
  return Array.isArray(benchmarks) && benchmarks.length > 0 && typeof benchmarks[0] === 'object' && benchmarks[0] !== null && 'metrics' in benchmarks[0]
}

/**
 * The GuideLLM version a report says (metadata.guidellm_version, 0.5 and later), else its layout: 0.2.x and
 * 0.3.x kept the strategy under args and request_totals beside metrics (run_stats); 0.4+ has config.strategy
 * and scheduler_metrics; 0.6+ writes metadata version 2 with a top-level config.
 */
export function guideLlmLayoutOf(report: unknown, benchmark: unknown): string {
  const metadata = typeof report === 'object' && report !== null ? (report as Record<string, unknown>)['metadata'] : undefined
  const version = typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>)['guidellm_version'] : undefined
  if (typeof version === 'string') return version
  const b = typeof benchmark === 'object' && benchmark !== null ? (benchmark as Record<string, unknown>) : {}
  if ('run_stats' in b || 'args' in b || 'request_totals' in b) return '0.2.x-0.3.x layout (args, run_stats, request_totals beside metrics)'
  if ('config' in b || 'scheduler_metrics' in b) return '0.4+ layout (config.strategy, scheduler_metrics)'
  return 'layout unknown (neither the 0.2-0.3 args nor the 0.4+ config)'
}

/** Successful / incomplete / errored counts, wherever the version keeps them. */
const totalsOf = (benchmark: GuideBenchmark) => (benchmark.metrics.request_totals ?? benchmark.request_totals)!

/** Seconds measured: GuideLLM's computed duration, or end - start. */
const durationOf = (benchmark: GuideBenchmark) => benchmark.duration ?? benchmark.end_time! - benchmark.start_time!

function loadOf(benchmark: GuideBenchmark, notes: string[]): LevelRecord['load'] {
  const strategy = benchmark.config?.strategy ?? benchmark.args?.strategy ?? {type_: 'unknown'}
  switch (strategy.type_) {
    case 'synchronous':
      return {kind: 'concurrency', value: 1}
    case 'concurrent':
      if (strategy.streams !== undefined) return {kind: 'concurrency', value: strategy.streams}
      break
    case 'constant':
    case 'poisson':
    case 'async':
      if (strategy.rate !== undefined) return {kind: 'rate', value: strategy.rate}
      break
    case 'throughput':
      if (strategy.max_concurrency !== undefined && strategy.max_concurrency !== null) return {kind: 'concurrency', value: strategy.max_concurrency}
      break
  }
  const measured = totalsOf(benchmark).successful / durationOf(benchmark)
  notes.push(`converted: GuideLLM strategy "${strategy.type_}" gives no load value; recorded as its measured ${Number(measured.toFixed(3))} req/s`)
  return {kind: 'rate', value: measured}
}

/** A 0.2.x-0.3.x request with its absolute times: TTFT and E2E straight from them, whatever its "TPOT" means. */
function timedRequestOf(stats: RequestStats, index: number, t0: number): RequestRecord | null {
  const {start_time: start, first_token_time: first, last_token_time: last, output_tokens: output} = stats
  if (typeof start !== 'number' || typeof first !== 'number' || typeof last !== 'number' || output === null || output === undefined || output < 1) return null
  const ttft = Math.max(0, (first - start) * 1000)
  const e2e = Math.max(ttft, (last - start) * 1000)
  return {
    index,
    startMs: (start - t0) * 1000,
    ttftMs: ttft,
    e2eMs: e2e,
    inputTokens: Math.max(0, Math.round(stats.prompt_tokens ?? 0)),
    outputTokens: Math.round(output),
    countedTokens: Math.round(output),
    chunkOffsetsMs: e2e > ttft ? [ttft, e2e] : [ttft],
    chunkTokens: null,
    error: null,
  }
}

function requestOf(stats: RequestStats, index: number, t0: number): RequestRecord | null {
  if (typeof stats.start_time === 'number' && typeof stats.first_token_time === 'number' && typeof stats.last_token_time === 'number') return timedRequestOf(stats, index, t0)
  const ttft = stats.time_to_first_token_ms
  const perToken = stats.time_per_output_token_ms
  const output = stats.output_tokens
  if (ttft === null || ttft === undefined || perToken === null || perToken === undefined || output === null || output === undefined || output < 1) return null
  const e2e = Math.max(ttft, perToken * output)
  const iterations = stats.info?.timings?.token_iterations
  return {
    index,
    startMs: stats.request_start_time === null || stats.request_start_time === undefined ? 0 : (stats.request_start_time - t0) * 1000,
    ttftMs: ttft,
    e2eMs: e2e,
    inputTokens: Math.max(0, Math.round(stats.prompt_tokens ?? 0)),
    outputTokens: Math.round(output),
    countedTokens: iterations ?? Math.round(output),
    // GuideLLM keeps only the first and last token times: two content events.
    chunkOffsetsMs: e2e > ttft ? [ttft, e2e] : [ttft],
    chunkTokens: null,
    error: null,
  }
}

function importBenchmark(benchmark: GuideBenchmark, notes: string[], index: number): LevelRecord {
  const load = loadOf(benchmark, notes)
  const totals = totalsOf(benchmark)
  const duration = durationOf(benchmark)
  const window = {startMs: 0, endMs: duration * 1000}
  let samples = benchmark.requests?.successful ?? []
  // GuideLLM 0.4+ measures between measure_start_time and measure_end_time (warmup and cooldown outside):
  // only the requests wholly inside count, as in GuideLLM's own percentiles.
  const measureStart = benchmark.scheduler_metrics?.measure_start_time
  const measureEnd = benchmark.scheduler_metrics?.measure_end_time
  // A request ending after measure_end_time is cooldown only when a cooldown was set: without one, GuideLLM
  // counts a request that ends a few µs after it (a real 0.5 file: 4 of 4 counted, one ending 48 µs later).
  const cooldown = benchmark.config?.cooldown
  const cooldownSet = (benchmark.cooldown_duration ?? 0) > 0 || (cooldown !== undefined && cooldown !== null && ((cooldown.value ?? null) !== null || (cooldown.percent ?? null) !== null))
  if (measureStart !== undefined && measureEnd !== undefined && samples.some((s) => typeof s.request_start_time === 'number')) {
    const inside = samples.filter((s) => {
      const start = s.request_start_time
      const end = s.request_end_time ?? (typeof start === 'number' && typeof s.time_per_output_token_ms === 'number' && typeof s.output_tokens === 'number' ? start + (s.time_per_output_token_ms * s.output_tokens) / 1000 : undefined)
      if (typeof start !== 'number' || start < measureStart || start > measureEnd) return false
      return !cooldownSet || end === undefined || end === null || end <= measureEnd
    })
    if (inside.length < samples.length) {
      notes.push(`converted: benchmark ${index + 1}: ${samples.length - inside.length} of ${samples.length} sampled requests fall outside GuideLLM's measured window (warmup / cooldown) and are left out of the latency statistics`)
    }
    samples = inside
  }
  const starts = samples.map((s) => s.request_start_time ?? s.start_time).filter((t): t is number => typeof t === 'number')
  const t0 = starts.length > 0 ? Math.min(...starts) : 0
  const requests = samples.map((s, i) => requestOf(s, i, t0)).filter((r): r is RequestRecord => r !== null)
  // GuideLLM's own rates when it wrote them (its measured window); else the token totals over the duration.
  const ownOutput = benchmark.metrics.output_tokens_per_second?.successful.mean
  const ownRequests = benchmark.metrics.requests_per_second?.successful.mean
  const outputTokensPerS = ownOutput ?? benchmark.metrics.output_token_count.successful.total_sum / duration
  const inputTokensPerS = benchmark.metrics.prompt_token_count.successful.total_sum / duration
  const requestsPerS = ownRequests ?? totals.successful / duration
  // Incomplete requests were cancelled when the benchmark's time or request limit ended it (GuideLLM's
  // request_totals.incomplete): neither a success nor an error of the server, so not counted as failed.
  const failed = totals.errored
  if (totals.incomplete > 0) {
    notes.push(
      `converted: benchmark ${index + 1}: ${totals.incomplete} incomplete request${totals.incomplete === 1 ? '' : 's'} (request_totals.incomplete: cancelled when the benchmark ended) counted neither completed nor failed; ${totals.errored} errored`,
    )
  }
  let summary: LevelRecord['summary']
  // Fewer samples than successful requests (GuideLLM's sample_requests, or a stripped file): its own statistics
  // over ALL of them are the level's latencies (`reported`), not the sample's.
  const reported = (benchmark.requests?.successful.length ?? 0) < totals.successful ? reportedOf(benchmark) : undefined
  if (reported !== undefined) notes.push(`converted: benchmark ${index + 1}: latency statistics are GuideLLM's own over all ${totals.successful} successful requests (metrics.time_to_first_token_ms, inter_token_latency_ms = capplan's TPOT, request_latency = E2E to the response's end), not its sample of ${benchmark.requests?.successful.length ?? 0}`)
  if (requests.length === 0 || reported !== undefined) {
    summary = throughputOnlySummary({
      completed: totals.successful, failed, durationS: duration, outputTokensPerS, inputTokensPerS,
      requestsPerS, perUserTokensPerS: null,
    })
  } else {
    const latencies = summarizeLevel(requests, window)
    summary = {
      ...latencies,
      requests: {completed: totals.successful, failed},
      durationS: duration,
      throughput: {outputTokensPerS, inputTokensPerS, totalTokensPerS: outputTokensPerS + inputTokensPerS, requestsPerS},
      // Only the first and last token times are known: no inter-token gaps.
      itlMsPerToken: null,
      itlMsPerChunk: null,
      errors: failed > 0 ? {http: failed} : {},
    }
  }
  return {
    load, warmupRequests: 0, window, status: totals.successful === 0 ? 'failed' : 'complete', requests, summary, telemetry: null, serverMetrics: null,
    ...(reported === undefined ? {} : {reported}),
  }
}

/** GuideLLM's own mean / median / p90 / p95 / p99 of TTFT, TPOT (its inter_token_latency_ms) and E2E (request_latency, s -> ms). */
function reportedOf(benchmark: GuideBenchmark): ReportedLatency | undefined {
  const statsOf = (metric: z.infer<typeof statusDistribution>, scale: number) => {
    if (metric === undefined) return undefined
    const {mean, median, percentiles} = metric.successful
    const stats: NonNullable<ReportedLatency['ttftMs']> = {}
    if (mean !== undefined) stats.mean = mean * scale
    const p50 = percentiles?.p50 ?? median
    if (p50 !== undefined) stats.p50 = p50 * scale
    for (const key of ['p90', 'p95', 'p99'] as const) if (percentiles?.[key] !== undefined) stats[key] = percentiles[key] * scale
    return Object.keys(stats).length === 0 ? undefined : stats
  }
  const ttftMs = statsOf(benchmark.metrics.time_to_first_token_ms, 1)
  const tpotMs = statsOf(benchmark.metrics.inter_token_latency_ms, 1)
  const e2eMs = statsOf(benchmark.metrics.request_latency, 1000)
  if (ttftMs === undefined && tpotMs === undefined && e2eMs === undefined) return undefined
  return {source: 'GuideLLM', ...(ttftMs === undefined ? {} : {ttftMs}), ...(tpotMs === undefined ? {} : {tpotMs}), ...(e2eMs === undefined ? {} : {e2eMs})}
}

export function importGuideLlm(report: unknown, text: string, source: string, context: ImportContext, format: 'json' | 'yaml' = 'json'): ResultFile {
  const list = (report as {benchmarks: unknown[]}).benchmarks
  const metadata = (report as {metadata?: unknown}).metadata
  const version = typeof metadata === 'object' && metadata !== null && typeof (metadata as Record<string, unknown>)['guidellm_version'] === 'string' ? (metadata as Record<string, string>)['guidellm_version'] : null
  const notes: string[] = [
    `imported from guidellm: ${source} (${format === 'yaml' ? 'benchmarks.yaml' : 'benchmarks.json'}${version === null ? '' : `, GuideLLM ${version}`}, ${list.length} benchmark${list.length === 1 ? '' : 's'})`,
  ]
  const benchmarks = list.map((value, index) => {
    const parsed = benchmarkSchema.safeParse(value)
    if (!parsed.success) {
      throw invalidResult(
        `${source} benchmarks[${index}] is not a GuideLLM generative benchmark capplan understands: ${formatSchemaIssues(parsed.error.issues)} (it looks like GuideLLM ${guideLlmLayoutOf(report, value)})`,
        'Pass the benchmarks.json written by `guidellm benchmark` (generative text benchmarks).',
      )
    }
    return parsed.data
  })
  const levels = benchmarks.map((benchmark, index) => importBenchmark(benchmark, notes, index))
  const sampled = benchmarks.reduce((n, b) => n + (b.requests?.successful.length ?? 0), 0)
  const successful = benchmarks.reduce((n, b) => n + totalsOf(b).successful, 0)
  const legacy = benchmarks.some((b) => b.metrics.request_totals === undefined)
  const timed = benchmarks.some((b) => (b.requests?.successful ?? []).some((s) => typeof s.first_token_time === 'number'))
  notes.push(
    (legacy ? 'read as GuideLLM 0.2.x-0.3.x (request_totals beside metrics); ' : '') +
      (timed
        ? 'converted: TTFT = first_token_time - start_time, E2E = last_token_time - start_time (GuideLLM 0.2-0.3 records the times; its "TPOT" excludes the first token), TPOT = (E2E - TTFT) / (output - 1)'
        : 'converted: GuideLLM "TPOT" (time_per_output_token_ms) includes TTFT; capplan E2E = it x output tokens (start -> last token), TPOT = (E2E - TTFT) / (output - 1)') +
      (benchmarks.some((b) => b.metrics.output_tokens_per_second !== undefined)
        ? '; output tok/s and req/s are GuideLLM\'s own (metrics.*_per_second.successful.mean), input tok/s = prompt tokens / duration'
        : '; throughput = the metrics\' token totals / duration'),
  )
  notes.push(
    `lacks: per-token times (ITL), ${sampled < successful && levels.some((level) => level.reported === undefined) ? `all requests (latency percentiles come from GuideLLM's sample of ${sampled} of ${successful}), ` : ''}` +
      'the GPU type and count (assumed 1 GPU per replica), the engine and its version, the quantization, the host (placeholders)',
  )
  const backend = benchmarks[0]!.config?.backend ?? {}
  const modelName = typeof backend['model'] === 'string' && backend['model'].trim() !== '' ? modelNameFromPath(backend['model']) : 'unknown'
  const match = matchModelProfile(modelName, context.store)
  const quant = match?.quant ?? null
  if (match === null) notes.push(`lacks: a known model: "${modelName}" matches no model profile`)
  if (match === null && !/(\d+(?:\.\d+)?)b\b/i.test(modelName)) notes.push('lacks: the parameter count (recorded as a 1B placeholder; pass --model to capplan import)')
  const firstSummary = levels[0]!.summary
  const perRequest = (perS: number) => (firstSummary.throughput.requestsPerS > 0 ? perS / firstSummary.throughput.requestsPerS : 1)
  // GuideLLM's own mean tokens per successful request when it wrote them (its rates are means over time, not totals / duration).
  const firstMetrics = benchmarks[0]!.metrics
  const meanInput = firstMetrics.prompt_token_count.successful.mean ?? perRequest(firstSummary.throughput.inputTokensPerS)
  const meanOutput = firstMetrics.output_token_count.successful.mean ?? perRequest(firstSummary.throughput.outputTokensPerS)
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    id: contentUuid(text, 'guidellm'),
    createdAt: new Date(0).toISOString(),
    finishedAt: null,
    capplan: {version: context.capplanVersion, command: context.command},
    host: placeholderHost('guidellm'),
    engine: {
      kind: 'openai',
      version: null,
      build: null,
      backend: 'unknown',
      threads: null,
      gpuCount: 1,
      args: ['guidellm benchmark', ...(typeof backend['target'] === 'string' ? [`--target ${backend['target']}`] : [])],
      endpoint: typeof backend['target'] === 'string' ? backend['target'] : null,
    },
    model: {
      profile: match?.profile ?? modelName,
      quant: quant ?? quantFromFormat(modelName.split(/[-_/]/).find((part) => quantFromFormat(part) !== null) ?? '') ?? 'fp16',
      format: 'unknown',
      file: null,
      repo: modelName.includes('/') ? modelName : null,
      sha256: null,
      bytes: null,
      paramsB: match?.paramsB ?? Number(/(\d+(?:\.\d+)?)b\b/i.exec(modelName)?.[1] ?? 1),
      synthetic: false,
    },
    gpuProfile: null,
    workload: {
      profile: null,
      inputTokens: Math.max(1, Math.round(meanInput)),
      outputTokens: Math.max(1, Math.round(meanOutput)),
      promptSource: 'dataset',
      dataset: null,
      seed: 0,
      ignoreEos: false,
    },
    levels,
    status: 'complete',
    notes,
  }
}
