import type {ServerMetrics} from '../results/schema.js'

/**
 * The engine server's GET /metrics (Prometheus text exposition format 0.0.4), scraped before and after each
 * level; the result file keeps both scrapes and their difference (ServerMetrics).
 *
 * Names (protocols.md): llama-server (--metrics) exposes llamacpp:prompt_tokens_total,
 * llamacpp:tokens_predicted_total, llamacpp:n_decode_total, ... without labels; vLLM (prometheus_client)
 * exposes vllm:* with labels {engine, model_name}, counters with a `_total` suffix plus a `_created`
 * timestamp, and histograms as `_bucket{le}`, `_sum`, `_count`.
 *
 * The parser is tolerant: a line it cannot read is skipped (and counted), never fatal — a scrape is
 * diagnostic, it must not fail a benchmark.
 */

export interface PromSample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface PromScrape {
  samples: PromSample[]
  /** Metric family -> type from `# TYPE` lines (counter, gauge, histogram, summary, untyped). */
  types: Map<string, string>
  /** Lines that were neither comments nor readable samples. */
  skippedLines: number
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/

function parseValue(text: string): number | null {
  switch (text) {
    case '+Inf':
    case 'Inf':
      return Number.POSITIVE_INFINITY
    case '-Inf':
      return Number.NEGATIVE_INFINITY
    case 'NaN':
      return Number.NaN
    default: {
      if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return null
      return Number(text)
    }
  }
}

/** `{a="x",b="y\"z"}` starting at `start` (the '{'): the labels and the index after '}'; null when malformed. */
function parseLabels(line: string, start: number): {labels: Record<string, string>; end: number} | null {
  // Collected as pairs: `labels[name] = value` would silently drop a label named __proto__ (a valid name).
  const pairs: [string, string][] = []
  let i = start + 1
  for (;;) {
    while (line[i] === ' ' || line[i] === ',') i++
    if (line[i] === '}') return {labels: Object.fromEntries(pairs), end: i + 1}
    const name = NAME.exec(line.slice(i))?.[0]
    if (name === undefined) return null
    i += name.length
    while (line[i] === ' ') i++
    if (line[i] !== '=') return null
    i++
    while (line[i] === ' ') i++
    if (line[i] !== '"') return null
    i++
    let value = ''
    for (;;) {
      const c = line[i]
      if (c === undefined) return null
      if (c === '"') break
      if (c === '\\') {
        const next = line[i + 1]
        value += next === 'n' ? '\n' : (next ?? '')
        i += 2
        continue
      }
      value += c
      i++
    }
    pairs.push([name, value])
    i++ // closing quote
  }
}

/** Parse Prometheus text exposition; unreadable lines are skipped and counted. */
export function parsePrometheusText(text: string): PromScrape {
  const samples: PromSample[] = []
  const types = new Map<string, string>()
  let skippedLines = 0
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim()
    if (line === '') continue
    if (line.startsWith('#')) {
      const type = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line)
      if (type !== null) types.set(type[1]!, type[2]!)
      continue
    }
    const name = NAME.exec(line)?.[0]
    if (name === undefined) {
      skippedLines++
      continue
    }
    let rest = name.length
    let labels: Record<string, string> = {}
    if (line[rest] === '{') {
      const parsed = parseLabels(line, rest)
      if (parsed === null) {
        skippedLines++
        continue
      }
      labels = parsed.labels
      rest = parsed.end
    }
    // value [timestamp]
    const fields = line.slice(rest).trim().split(/\s+/)
    const value = fields[0] === undefined ? null : parseValue(fields[0])
    if (value === null) {
      skippedLines++
      continue
    }
    samples.push({name, labels, value})
  }
  return {samples, types, skippedLines}
}

/** `name{a="x",b="y"}` with labels sorted by name (quotes and backslashes escaped); bare name without labels. */
export function sampleKey(name: string, labels: Record<string, string>): string {
  const entries = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  if (entries.length === 0) return name
  const body = entries.map(([k, v]) => `${k}="${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')}"`).join(',')
  return `${name}{${body}}`
}

/** Metric name part of a sample key. */
export function keyName(key: string): string {
  const brace = key.indexOf('{')
  return brace === -1 ? key : key.slice(0, brace)
}

/** The engine families capplan records; anything else on /metrics (python_gc_*, process_*) is left out. */
export const recordedPrefixes = ['llamacpp:', 'vllm:'] as const

/**
 * The samples a result file keeps, as key -> value: engine metrics only, finite values only; histogram
 * buckets and `_created` timestamps are dropped (dozens of keys per histogram, and a creation time has
 * no meaningful difference) — each histogram keeps its `_sum` and `_count`, enough for a window mean.
 */
export function recordableSamples(scrape: PromScrape): Record<string, number> {
  const record: Record<string, number> = {}
  for (const sample of scrape.samples) {
    if (!recordedPrefixes.some((prefix) => sample.name.startsWith(prefix))) continue
    if (sample.name.endsWith('_bucket') || sample.name.endsWith('_created')) continue
    if (!Number.isFinite(sample.value)) continue
    record[sampleKey(sample.name, sample.labels)] = sample.value
  }
  return record
}

/** 'vllm' / 'llamacpp' by the names present; 'unknown' when neither family appears. */
export function metricsSource(record: Record<string, number>): string {
  const keys = Object.keys(record)
  if (keys.some((key) => key.startsWith('vllm:'))) return 'vllm'
  if (keys.some((key) => key.startsWith('llamacpp:'))) return 'llamacpp'
  return 'unknown'
}

/**
 * after - before for every key present in BOTH scrapes (a key that appeared or vanished mid-level has no
 * honest difference) whose difference is a finite number. Gauges get a difference too; only counters and histogram _sum/_count mean
 * "what happened during the level" (see summarizeServerMetrics).
 */
export function metricsDeltas(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const deltas: Record<string, number> = {}
  for (const [key, value] of Object.entries(after)) {
    const previous = before[key]
    if (previous === undefined) continue
    // Two finite values can still differ by more than a double holds (1e308 - -1e308): no honest difference
    // either, and the result schema (finite deltas) would refuse the whole file.
    const delta = roundDelta(value - previous)
    if (Number.isFinite(delta)) deltas[key] = delta
  }
  return deltas
}

/** Strip floating-point noise from a difference (2.918 - 0.5 must not read 2.4179999999999997). */
function roundDelta(value: number): number {
  return Number(value.toPrecision(12))
}

export function serverMetricsFrom(beforeText: string, afterText: string): ServerMetrics {
  const before = recordableSamples(parsePrometheusText(beforeText))
  const after = recordableSamples(parsePrometheusText(afterText))
  return {source: metricsSource({...before, ...after}), before, after, deltas: metricsDeltas(before, after)}
}

/** Sum of the deltas of one metric over all its label sets; null when the metric is absent. */
export function deltaTotal(deltas: Record<string, number>, name: string): number | null {
  let total: number | null = null
  for (const [key, value] of Object.entries(deltas)) {
    if (keyName(key) === name) total = (total ?? 0) + value
  }
  // Finite deltas can still add up past a double (two label sets of 1e308).
  return total !== null && Number.isFinite(total) ? total : null
}

/** First of several names (versions renamed metrics) that is present. */
function firstDelta(deltas: Record<string, number>, names: readonly string[]): number | null {
  for (const name of names) {
    const value = deltaTotal(deltas, name)
    if (value !== null) return value
  }
  return null
}

/** Window mean of a histogram: Δsum / Δcount; null without observations. */
export function histogramMean(deltas: Record<string, number>, baseName: string): number | null {
  const sum = deltaTotal(deltas, `${baseName}_sum`)
  const count = deltaTotal(deltas, `${baseName}_count`)
  return ratio(sum, count)
}

/** numerator / denominator; null when either is missing, the denominator is not positive, or it overflows. */
function ratio(numerator: number | null, denominator: number | null): number | null {
  if (numerator === null || denominator === null || denominator <= 0) return null
  const value = numerator / denominator
  return Number.isFinite(value) ? value : null
}

/** What the server says happened during one level (from the deltas); null fields = not exposed. */
export interface ServerMetricsSummary {
  source: string
  promptTokens: number | null
  outputTokens: number | null
  /** llama.cpp: llama_decode() calls (prompt batches included). */
  decodeCalls: number | null
  /** llama.cpp: output tokens / tokens_predicted_seconds (per-slot decode speed, its own clock). */
  serverDecodeTokensPerS: number | null
  /** llama.cpp: prompt tokens / prompt_seconds. */
  serverPromptTokensPerS: number | null
  /** vLLM: requests preempted (KV cache ran out) during the level. */
  preemptions: number | null
  /** vLLM: prefix cache hit tokens / queried tokens (should be ~0 with --no-enable-prefix-caching). */
  prefixCacheHitRate: number | null
  /** vLLM histogram window means, seconds. */
  meanTtftS: number | null
  meanItlS: number | null
  meanE2eS: number | null
  meanQueueS: number | null
  meanPrefillS: number | null
  meanDecodeS: number | null
}

export function summarizeServerMetrics(metrics: ServerMetrics): ServerMetricsSummary {
  const d = metrics.deltas
  const summary: ServerMetricsSummary = {
    source: metrics.source,
    promptTokens: null,
    outputTokens: null,
    decodeCalls: null,
    serverDecodeTokensPerS: null,
    serverPromptTokensPerS: null,
    preemptions: null,
    prefixCacheHitRate: null,
    meanTtftS: null,
    meanItlS: null,
    meanE2eS: null,
    meanQueueS: null,
    meanPrefillS: null,
    meanDecodeS: null,
  }
  if (metrics.source === 'llamacpp') {
    summary.promptTokens = deltaTotal(d, 'llamacpp:prompt_tokens_total')
    summary.outputTokens = deltaTotal(d, 'llamacpp:tokens_predicted_total')
    summary.decodeCalls = deltaTotal(d, 'llamacpp:n_decode_total')
    summary.serverDecodeTokensPerS = ratio(summary.outputTokens, deltaTotal(d, 'llamacpp:tokens_predicted_seconds_total'))
    summary.serverPromptTokensPerS = ratio(summary.promptTokens, deltaTotal(d, 'llamacpp:prompt_seconds_total'))
  } else if (metrics.source === 'vllm') {
    // prometheus_client appends _total to counters; some exporters/versions do not.
    summary.promptTokens = firstDelta(d, ['vllm:prompt_tokens_total', 'vllm:prompt_tokens'])
    summary.outputTokens = firstDelta(d, ['vllm:generation_tokens_total', 'vllm:generation_tokens'])
    summary.preemptions = firstDelta(d, ['vllm:num_preemptions_total', 'vllm:num_preemptions'])
    summary.prefixCacheHitRate = ratio(
      firstDelta(d, ['vllm:prefix_cache_hits_total', 'vllm:prefix_cache_hits']),
      firstDelta(d, ['vllm:prefix_cache_queries_total', 'vllm:prefix_cache_queries']),
    )
    summary.meanTtftS = histogramMean(d, 'vllm:time_to_first_token_seconds')
    // Renamed upstream: inter_token_latency_seconds (new) / time_per_output_token_seconds (old).
    summary.meanItlS = histogramMean(d, 'vllm:inter_token_latency_seconds') ?? histogramMean(d, 'vllm:time_per_output_token_seconds')
    summary.meanE2eS = histogramMean(d, 'vllm:e2e_request_latency_seconds')
    summary.meanQueueS = histogramMean(d, 'vllm:request_queue_time_seconds')
    summary.meanPrefillS = histogramMean(d, 'vllm:request_prefill_time_seconds')
    summary.meanDecodeS = histogramMean(d, 'vllm:request_decode_time_seconds')
  }
  return summary
}

export type ScrapeOutcome = {ok: true; text: string} | {ok: false; note: string}

/** GET <endpoint>/metrics; failures come back as a note (a scrape never fails a run). */
export async function scrapeMetrics(metricsUrl: string, timeoutMs = 5000, headers: Record<string, string> = {}): Promise<ScrapeOutcome> {
  // A fresh connection per scrape (`connection: close`): llama-server closes idle keep-alive sockets, and a
  // scrape after a level picked up such a stale pooled socket ("fetch failed") although the server was fine.
  // Two scrapes per level make the extra TCP handshake free. Right after a burst of requests ends, llama-server
  // was seen closing even a fresh connection unanswered ("other side closed"): retry with a short backoff.
  let lastError: unknown
  for (let attempt = 1; attempt <= 3; attempt++) {
    if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, 250 * (attempt - 1)))
    try {
      const response = await fetch(metricsUrl, {headers: {accept: 'text/plain', connection: 'close', ...headers}, signal: AbortSignal.timeout(timeoutMs)})
      const text = await response.text()
      if (response.status !== 200) {
        return {
          ok: false,
          note: `GET ${metricsUrl} answered HTTP ${response.status}${response.status === 501 ? ' (llama-server needs --metrics)' : ''}: no server metrics for this level.`,
        }
      }
      return {ok: true, text}
    } catch (error) {
      lastError = error
    }
  }
  // undici's "fetch failed" hides the reason in `cause` (ECONNREFUSED, "other side closed", a timeout).
  const cause = lastError instanceof Error && lastError.cause instanceof Error ? `: ${lastError.cause.message}` : ''
  const message = lastError instanceof Error ? lastError.message : String(lastError)
  return {ok: false, note: `GET ${metricsUrl} failed (${message}${cause}): no server metrics for this level.`}
}
