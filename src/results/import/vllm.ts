/**
 * vLLM `vllm bench serve --save-result` JSON -> a capplan result file.
 *
 * Field names follow vLLM's vllm/benchmarks/serve.py (`benchmark()` builds `result`, `main` adds date,
 * backend, model_id, num_prompts, request_rate, burstiness, max_concurrency, then json.dump): per-request
 * arrays (input_lens, output_lens, ttfts, itls, latencies, start_times, errors) are IN SECONDS and kept only
 * with --save-detailed; aggregates (mean_ttft_ms, p99_tpot_ms, ...) are in ms. `--append-result` writes one
 * JSON object per line: each line becomes one level (e.g. a sweep of --max-concurrency).
 *
 * vLLM's TTFT, TPOT ((latency - ttft) / (output_len - 1)) and E2E are capplan's definitions, so with the
 * per-request arrays capplan recomputes every statistic itself. vLLM's "latency" ends at the last token (2025
 * and later; benchmark_serving.py of 2024 stopped it at the stream's [DONE], after the last token, and saved no
 * latencies array: capplan's E2E is then TTFT + the ITL gaps, start -> last token) and its ITL is per chunk;
 * token counts come from the server's usage (output_lens; 2024: the client's re-tokenization).
 *
 * Layouts seen in real files (vllmLayoutOf names them in notes and refusals): 2024 benchmark_serving.py
 * (best_of, use_beam_search, always the per-request arrays, no latencies); 2025 benchmark_serving.py / `vllm
 * bench serve` (burstiness, max_concurrency, total_token_throughput, arrays only with --save-detailed); 2026
 * `vllm bench serve` (endpoint_type, max_concurrent_requests, rtfx). A run where every request failed
 * (completed 0) has every statistic 0.0: those zeros are no measurement and are not kept.
 */

import {z} from 'zod'

import {invalidResult} from '../../lib/errors.js'
import {summarizeLevel} from '../../stats/summarize.js'
import {formatSchemaIssues} from '../read.js'
import {type LevelRecord, type RequestRecord, RESULT_SCHEMA_VERSION, type ResultFile} from '../schema.js'
import {
  contentUuid,
  type ImportContext,
  matchModelProfile,
  modelNameFromPath,
  peerNumbers,
  placeholderHost,
  quantFromFormat,
  reportedFromAggregates,
  throughputOnlySummary,
} from './common.js'

const {count, duration, seconds, timestamp, perSecond} = peerNumbers
export const vllmResultSchema = z.looseObject({
  date: z.string().optional(),
  backend: z.string().optional(),
  endpoint_type: z.string().optional(),
  model_id: z.string().min(1),
  num_prompts: count.optional(),
  request_rate: z.union([perSecond, z.literal('inf')]).optional(),
  burstiness: z.number().optional(),
  max_concurrency: count.positive().nullable().optional(),
  duration,
  completed: count,
  failed: count.optional(),
  total_input_tokens: count,
  total_output_tokens: count,
  request_throughput: perSecond,
  output_throughput: perSecond,
  // Not written by benchmark_serving.py before mid-2024; capplan derives it, so it may be absent.
  total_token_throughput: perSecond.optional(),
  input_lens: z.array(count).optional(),
  output_lens: z.array(count).optional(),
  ttfts: z.array(seconds).optional(),
  // Gaps are clamped at 0 below (a clock step); bounded so that their sum stays finite.
  itls: z.array(z.array(z.number().min(-1e9).max(1e9))).optional(),
  latencies: z.array(seconds).optional(),
  start_times: z.array(timestamp).optional(),
  errors: z.array(z.string().nullable()).optional(),
})
export type VllmResult = z.infer<typeof vllmResultSchema>

const knownKeys = new Set([
  ...Object.keys(vllmResultSchema.shape), 'tokenizer_id', 'request_goodput', 'request_goodput:', 'max_output_tokens_per_s', 'max_concurrent_requests',
  'best_of', 'use_beam_search', 'generated_texts', 'percentiles',
])
const aggregateKey = /^(mean|median|std|p\d+(?:\.\d+)?)_(ttft|tpot|itl|e2el)_ms$/

/**
 * The runs of one vLLM file grouped by their `--metadata key=value` pairs (string fields vLLM itself does not
 * write): runs of different deployments appended to one file become separate results, the runs of one
 * deployment its levels. Files without metadata give one group.
 */
export function groupVllmRunsByMetadata(values: unknown[]): {metadata: Record<string, string>; values: unknown[]}[] {
  const groups = new Map<string, {metadata: Record<string, string>; values: unknown[]}>()
  for (const value of values) {
    const metadata: Record<string, string> = {}
    if (typeof value === 'object' && value !== null) {
      for (const [key, field] of Object.entries(value)) if (typeof field === 'string' && !knownKeys.has(key) && !aggregateKey.test(key)) metadata[key] = field
    }
    const key = JSON.stringify(Object.entries(metadata).sort(([a], [b]) => (a < b ? -1 : 1)))
    const group = groups.get(key) ?? {metadata, values: []}
    group.values.push(value)
    groups.set(key, group)
  }
  return [...groups.values()]
}

/** Whether a parsed JSON value looks like a vLLM bench serve result (for format detection). */
export function looksLikeVllmResult(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) &&
    'output_throughput' in value && 'request_throughput' in value && 'duration' in value && 'model_id' in value
}

/**
 * Which vLLM benchmark client wrote a run, from the fields only that one wrote (for notes and refusals):
 * benchmark_serving.py of 2024 wrote best_of and use_beam_search, early 2025 best_of beside burstiness;
 * `vllm bench serve` of 2026 (0.2x) writes endpoint_type with max_concurrent_requests / rtfx; the 2025 script
 * and early `vllm bench serve` burstiness.
 */
export function vllmLayoutOf(value: unknown): string {
  if (typeof value !== 'object' || value === null) return 'vLLM bench serve (unknown layout)'
  const has = (key: string) => key in value
  if (has('use_beam_search')) return 'benchmark_serving.py of 2024 (best_of, use_beam_search)'
  if (has('best_of')) return 'benchmark_serving.py of early 2025 (best_of, burstiness)'
  if (has('endpoint_type') && (has('max_concurrent_requests') || has('rtfx'))) return '`vllm bench serve` of 2026 (endpoint_type, max_concurrent_requests)'
  if (has('burstiness')) return 'benchmark_serving.py / `vllm bench serve` of 2025 (burstiness, max_concurrency)'
  return 'vLLM bench serve (no version-specific fields)'
}

function parseRun(value: unknown, where: string): VllmResult {
  const parsed = vllmResultSchema.safeParse(value)
  if (!parsed.success) {
    throw invalidResult(
      `${where} is not a vLLM bench serve result capplan understands: ${formatSchemaIssues(parsed.error.issues)} (it looks like one written by ${vllmLayoutOf(value)})`,
      'Pass the JSON written by `vllm bench serve --save-result` (add --save-detailed for per-request samples).',
    )
  }
  return parsed.data
}

const ms = (s: number) => s * 1000

/** Per-request records from --save-detailed arrays (all the same length), or null when they are absent. */
function requestsOf(run: VllmResult, where: string): RequestRecord[] | null {
  const {input_lens: inputs, output_lens: outputs, ttfts, itls, errors} = run
  if (inputs === undefined || outputs === undefined || ttfts === undefined || itls === undefined) return null
  const n = ttfts.length
  // Files saved without `latencies` (benchmark_serving.py before it kept them) still have each request's
  // end: TTFT + the sum of its gaps, which is what vLLM's latency measures (request start -> last token).
  const latencies = run.latencies ?? ttfts.map((ttft, index) => ttft + (itls[index] ?? []).reduce((sum, gap) => sum + Math.max(0, gap), 0))
  for (const [name, array] of Object.entries({input_lens: inputs, output_lens: outputs, itls, latencies})) {
    if (array.length !== n) {
      throw invalidResult(`${where}: ${name} has ${array.length} entries but ttfts has ${n}.`, 'The file is damaged; re-run vllm bench serve --save-result --save-detailed.')
    }
  }
  const starts = run.start_times ?? []
  const t0 = starts.length === n && n > 0 ? Math.min(...starts) : 0
  return ttfts.map((ttft, index): RequestRecord => {
    const error = errors?.[index]
    const failed = error !== undefined && error !== null && error !== ''
    const startMs = starts.length === n ? ms(starts[index]! - t0) : 0
    if (failed) {
      return {
        index, startMs, ttftMs: null, e2eMs: null, inputTokens: inputs[index]!, outputTokens: 0, countedTokens: 0,
        chunkOffsetsMs: [], chunkTokens: null, error: {kind: 'http', message: error},
      }
    }
    // Content events: the first at TTFT, then one per ITL gap (vLLM's ITL is per chunk).
    const offsets = [ms(ttft)]
    for (const gap of itls[index]!) offsets.push(offsets.at(-1)! + ms(Math.max(0, gap)))
    return {
      index,
      startMs,
      ttftMs: ms(ttft),
      e2eMs: ms(latencies[index]!),
      inputTokens: inputs[index]!,
      outputTokens: outputs[index]!,
      countedTokens: offsets.length,
      chunkOffsetsMs: offsets,
      chunkTokens: null,
      error: null,
    }
  })
}

function loadOf(run: VllmResult): {load: LevelRecord['load']; note: string | null} {
  if (run.max_concurrency !== undefined && run.max_concurrency !== null) return {load: {kind: 'concurrency', value: run.max_concurrency}, note: null}
  if (typeof run.request_rate === 'number' && run.request_rate > 0) return {load: {kind: 'rate', value: run.request_rate}, note: null}
  const all = Math.max(1, run.num_prompts ?? run.completed + (run.failed ?? 0))
  return {
    load: {kind: 'concurrency', value: all},
    note: `converted: request rate inf without --max-concurrency sends all ${all} requests at once; recorded as concurrency ${all}`,
  }
}

function importRun(run: VllmResult, where: string, notes: string[]): LevelRecord {
  const {load, note} = loadOf(run)
  if (note !== null) notes.push(note)
  const window = {startMs: 0, endMs: ms(run.duration)}
  const requests = requestsOf(run, where)
  const summary =
    requests === null
      ? throughputOnlySummary({
          completed: run.completed,
          failed: run.failed ?? 0,
          durationS: run.duration,
          outputTokensPerS: run.output_throughput,
          inputTokensPerS: run.total_input_tokens / run.duration,
          requestsPerS: run.request_throughput,
          perUserTokensPerS: null,
        })
      : summarizeLevel(requests, window)
  // Without samples, vLLM's own statistics (its TTFT, TPOT and E2E are capplan's definitions) are kept for the SLO check.
  // A run where nothing completed has every statistic 0.0 (vLLM fills them in): no measurement, not kept.
  const reported = requests === null && run.completed > 0 ? reportedFromAggregates(run, 'vLLM', {ttft: 'ttft', tpot: 'tpot', e2el: 'e2e'}) : undefined
  return {
    load,
    warmupRequests: 0,
    window,
    status: summary.requests.completed === 0 ? 'failed' : 'complete',
    requests: requests ?? [],
    summary,
    telemetry: null,
    serverMetrics: null,
    ...(reported === undefined ? {} : {reported}),
  }
}

const aggregateKeys = ['mean_ttft_ms', 'p99_ttft_ms', 'mean_tpot_ms', 'p99_tpot_ms', 'mean_e2el_ms', 'p99_e2el_ms'] as const

/** `text` is the file: one JSON object, or several lines of them (--append-result). */
export function importVllm(
  values: unknown[],
  text: string,
  source: string,
  context: ImportContext,
  where: {lines?: number[]; metadata?: Record<string, string>; salt?: string} = {},
): ResultFile {
  const at = (index: number) => (values.length === 1 && where.lines === undefined ? source : `${source} ${where.lines === undefined ? 'run' : 'line'} ${where.lines?.[index] ?? index + 1}`)
  const runs = values.map((value, index) => parseRun(value, at(index)))
  const first = runs[0]!
  const metadata = Object.entries(where.metadata ?? {})
  const layouts = [...new Set(values.map(vllmLayoutOf))]
  const notes: string[] = [
    `imported from vllm: ${source} (${layouts.join(' + ')}, --save-result, backend ${first.backend ?? first.endpoint_type ?? 'unknown'}, ${runs.length} run${runs.length === 1 ? '' : 's'}` +
      `${where.lines === undefined ? '' : `, lines ${where.lines.join(', ')}`}${metadata.length === 0 ? '' : `, metadata ${metadata.map(([key, value]) => `${key}=${value}`).join(' ')}`})`,
  ]
  const levels = runs.map((run, index) => importRun(run, at(index), notes))
  runs.forEach((run, index) => {
    if (run.completed > 0) return
    notes.push(
      `lacks: any completed request in ${runs.length === 1 ? 'the run' : `run ${index + 1}`} (completed 0, failed ${run.failed ?? 'not recorded'}): vLLM wrote 0.0 for every statistic of it; those zeros are no measurement and are not kept (the level is recorded failed)`,
    )
  })
  const measured = levels.filter((level) => level.summary.requests.completed > 0)
  const detailed = measured.length > 0 && measured.every((level) => level.requests.length > 0)
  if (detailed && runs.some((run) => run.latencies === undefined)) {
    notes.push('converted: the file has no latencies array; each request\'s E2E = its TTFT + the sum of its ITL gaps (request start -> last token, capplan\'s E2E)')
    runs.forEach((run, index) => {
      // benchmark_serving.py of 2024 stopped its latency at the stream's [DONE], after the last token: its
      // latency and TPOT statistics run that much longer than capplan's; the difference is said, not hidden.
      const theirs = typeof run['mean_latency_ms'] === 'number' ? run['mean_latency_ms'] : typeof run['mean_e2el_ms'] === 'number' ? run['mean_e2el_ms'] : undefined
      const ours = levels[index]!.summary.e2eMs?.mean
      if (theirs === undefined || ours === undefined || run.latencies !== undefined) return
      notes.push(
        `converted: ${runs.length === 1 ? '' : `run ${index + 1}: `}vLLM's own mean latency ${Number(theirs.toFixed(2))} ms ends at the stream's end ([DONE]), ${Number((theirs - ours).toFixed(2))} ms after capplan's mean E2E ${Number(ours.toFixed(2))} ms (last token); vLLM's TPOT (mean ${typeof run['mean_tpot_ms'] === 'number' ? Number(run['mean_tpot_ms'].toFixed(2)) : '?'} ms) includes that tail, capplan's (mean ${Number((levels[index]!.summary.tpotMs?.mean ?? 0).toFixed(2))} ms) does not`,
      )
    })
  }
  if (detailed) {
    notes.push('converted: TTFT, TPOT, E2E and throughput recomputed by capplan from the per-request arrays (seconds -> ms); ITL is per chunk (vLLM\'s), token counts are the server\'s usage')
    const requests = measured.flatMap((level) => level.requests.filter((request) => request.error === null))
    const chunks = requests.reduce((n, request) => n + request.countedTokens, 0)
    const tokens = requests.reduce((n, request) => n + request.outputTokens, 0)
    // One token a chunk gives about as many chunks as tokens (2024 files re-tokenized the text: a few off).
    if (tokens >= 1.5 * chunks) {
      notes.push(
        `lacks: tokens per chunk: the streams carried ${tokens} output tokens in ${chunks} chunks (several tokens a chunk: multi-step scheduling or a stream interval); ITL per token is then per chunk, read TPOT for the per-token pace`,
      )
    }
  } else if (measured.length > 0) {
    const reported = runs.filter((run) => run.completed > 0).map((run) =>
      aggregateKeys.filter((key) => typeof run[key] === 'number').map((key) => `${key}=${Number((run[key] as number).toFixed(2))}`).join(' '),
    )
    notes.push(
      `lacks: per-request samples (the file was saved without --save-detailed): the SLO is checked on vLLM's own reported statistics (mean, median, p99 unless --metric-percentiles asked for more); vLLM reported: ${reported.join(' | ')}`,
    )
  }
  const models = [...new Set(runs.map((run) => modelNameFromPath(run.model_id)))]
  if (models.length > 1) {
    throw invalidResult(`${source} holds runs of several models (${models.join(', ')}).`, 'Split the file: one model per result.')
  }
  const modelId = models[0]!
  if (modelId !== first.model_id) notes.push(`converted: model_id is a local path (${first.model_id}); recorded as the model it holds, ${modelId}`)
  const match = matchModelProfile(modelId, context.store)
  const quant = match?.quant ?? quantFromFormat(modelId.split(/[-_/]/).find((part) => quantFromFormat(part) !== null) ?? '')
  const paramsFromName = /(\d+(?:\.\d+)?)b\b/i.exec(modelId)?.[1]
  notes.push(
    'lacks: the GPU type and count (assumed 1 GPU per replica: pass --gpus N and --gpu ID to report), the vLLM version and server flags, the quantization' +
      (quant === null ? ' (recorded as fp16)' : ` (taken from the model name: ${quant})`) +
      ', the host (placeholders)',
  )
  if (match === null) notes.push(`lacks: a known model: ${modelId} matches no model profile`)
  if (match === null && paramsFromName === undefined) notes.push('lacks: the parameter count (recorded as a 1B placeholder; pass --model to capplan import)')
  const requestedIn = first.total_input_tokens / Math.max(1, first.completed)
  const requestedOut = first.total_output_tokens / Math.max(1, first.completed)
  notes.push(`converted: workload lengths are the mean per successful request of the first run (${Number(requestedIn.toFixed(1))} in, ${Number(requestedOut.toFixed(1))} out)`)

  const date = first.date === undefined ? null : /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})$/.exec(first.date)
  // vLLM's date is local time without a zone; recorded as if UTC (the note says so).
  const createdAt = date === null ? new Date(0).toISOString() : `${date[1]}-${date[2]}-${date[3]}T${date[4]}:${date[5]}:${date[6]}.000Z`
  if (date !== null) notes.push('converted: vLLM records local time without a zone; createdAt treats it as UTC')

  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    id: contentUuid(text, `vllm${where.salt ?? ''}`),
    createdAt,
    finishedAt: null,
    capplan: {version: context.capplanVersion, command: context.command},
    host: placeholderHost('vllm'),
    engine: {
      kind: 'vllm',
      version: null,
      build: null,
      backend: 'unknown',
      threads: null,
      gpuCount: 1,
      args: ['vllm bench serve', `--backend ${first.backend ?? first.endpoint_type ?? 'unknown'}`, `--model ${modelId}`],
      endpoint: null,
    },
    model: {
      profile: match?.profile ?? modelId,
      quant: quant ?? 'fp16',
      format: quant === null ? 'unknown' : quant,
      file: null,
      repo: modelId.includes('/') && !modelId.startsWith('/') ? modelId : null,
      sha256: null,
      bytes: null,
      paramsB: match?.paramsB ?? (paramsFromName === undefined ? 1 : Number(paramsFromName)),
      synthetic: false,
    },
    gpuProfile: null,
    workload: {
      profile: null,
      inputTokens: Math.max(1, Math.round(requestedIn)),
      outputTokens: Math.max(1, Math.round(requestedOut)),
      promptSource: 'dataset',
      dataset: null,
      seed: 0,
      ignoreEos: false,
    },
    levels,
    status: levels.every((level) => level.status === 'failed') ? 'failed' : 'complete',
    notes,
  }
}
