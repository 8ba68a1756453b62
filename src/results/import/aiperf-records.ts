/**
 * AIPerf's per-request `profile_export.jsonl` -> a capplan result file with every request's record.
 *
 * One JSON object per request (aiperf MetricRecordInfo): metadata {request_start_ns, request_end_ns,
 * benchmark_phase ("warmup" | "profiling"), was_cancelled, ...}, metrics {name: {value, unit}} and, for a failed
 * request, error {type, message}. Fields read: time_to_first_token and request_latency (ms),
 * inter_chunk_latency (ms, one gap per streamed chunk after the first), input_sequence_length /
 * output_sequence_length (tokens, counted by AIPerf's --tokenizer), error_isl (a failed request's prompt).
 *
 * capplan recomputes every statistic from the records: TTFT and E2E are AIPerf's; TPOT = (E2E - TTFT) /
 * (output - 1) is AIPerf's inter_token_latency; percentiles use the same interpolation as AIPerf (numpy's
 * linear). Warmup records are left out. The file records neither the model nor the load nor AIPerf's
 * benchmark_duration (those are in profile_export_aiperf.json beside it): the window runs from the first
 * request's start to the last one's end, and the load is the most requests that were in flight at once.
 */

import {z} from 'zod'

import {invalidResult} from '../../lib/errors.js'
import {summarizeLevel} from '../../stats/summarize.js'
import {formatSchemaIssues} from '../read.js'
import {type LevelRecord, type RequestRecord, RESULT_SCHEMA_VERSION, type ResultFile} from '../schema.js'
import {peerModel} from './aiperf.js'
import {contentUuid, type ImportContext, peerNumbers, placeholderHost} from './common.js'

const {count, ms} = peerNumbers
// Epoch nanoseconds (~1.8e18): beyond exact doubles, still well within 1 µs after the difference is taken.
const ns = z.number().nonnegative().max(1e20)
const value = (schema: z.ZodType) => z.looseObject({value: schema}).optional()
const aiperfRecordSchema = z.looseObject({
  metadata: z.looseObject({
    request_start_ns: ns,
    request_end_ns: ns.optional(),
    benchmark_phase: z.string().optional(),
    was_cancelled: z.boolean().optional(),
  }),
  metrics: z
    .looseObject({
      time_to_first_token: value(ms),
      request_latency: value(ms),
      inter_chunk_latency: value(z.array(ms)),
      input_sequence_length: value(count),
      output_sequence_length: value(count),
      error_isl: value(count),
    })
    .default({}),
  error: z.looseObject({type: z.string().nullable().optional(), message: z.string().nullable().optional()}).nullable().optional(),
})
type AiperfRecord = z.infer<typeof aiperfRecordSchema>

/** Whether a parsed JSON value is one line of AIPerf's profile_export.jsonl (for format detection). */
export function looksLikeAiperfRecord(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const metadata = (value as Record<string, unknown>)['metadata']
  return typeof metadata === 'object' && metadata !== null && 'request_start_ns' in metadata && ('metrics' in value || 'error' in value)
}

const nsToMs = (nanoseconds: number) => nanoseconds / 1e6

function requestOf(record: AiperfRecord, index: number, t0: number, where: string): RequestRecord {
  const {metadata, metrics, error} = record
  const startMs = nsToMs(metadata.request_start_ns - t0)
  const failed = (error !== undefined && error !== null) || metadata.was_cancelled === true
  const ttft = metrics.time_to_first_token?.value as number | undefined
  const latency = metrics.request_latency?.value as number | undefined
  if (failed || ttft === undefined || latency === undefined) {
    const message = error === undefined || error === null ? (metadata.was_cancelled === true ? 'cancelled' : 'no time_to_first_token / request_latency') : `${error.type ?? 'error'}: ${error.message ?? ''}`.trim()
    return {
      index, startMs, ttftMs: null, e2eMs: null,
      inputTokens: (metrics.error_isl?.value ?? metrics.input_sequence_length?.value ?? 0) as number,
      outputTokens: 0, countedTokens: 0, chunkOffsetsMs: [], chunkTokens: null,
      error: {kind: /timeout/i.test(message) ? 'timeout' : 'http', message},
    }
  }
  const output = metrics.output_sequence_length?.value as number | undefined
  if (output === undefined) throw invalidResult(`${where} has timings but no output_sequence_length.`, 'The file is damaged; re-run aiperf profile.')
  // Content events: the first at TTFT, then one per inter-chunk gap.
  const offsets = [ttft]
  for (const gap of (metrics.inter_chunk_latency?.value ?? []) as number[]) offsets.push(offsets.at(-1)! + gap)
  return {
    index,
    startMs,
    ttftMs: ttft,
    // request_latency = TTFT + the gaps (to rounding): never before the last content event.
    e2eMs: Math.max(latency, offsets.at(-1)!),
    inputTokens: (metrics.input_sequence_length?.value ?? 0) as number,
    outputTokens: output,
    // AIPerf's token count is its tokenizer's; chunks are not tokens (a chunk may carry several, or none).
    countedTokens: output,
    chunkOffsetsMs: offsets,
    chunkTokens: null,
    error: null,
  }
}

/** The most requests in flight at once (a sweep over starts and ends; an end before a start at the same time). */
function maxInFlight(spans: {start: number; end: number}[]): number {
  const events = spans.flatMap(({start, end}) => [{t: start, d: 1}, {t: end, d: -1}]).sort((a, b) => a.t - b.t || a.d - b.d)
  let now = 0
  let most = 0
  for (const event of events) {
    now += event.d
    most = Math.max(most, now)
  }
  return most
}

/** `values` are the parsed lines of the file (1-based line numbers in `lines`). */
export function importAiperfRecords(values: unknown[], lines: number[], text: string, source: string, context: ImportContext): ResultFile {
  const records = values.map((entry, index) => {
    const parsed = aiperfRecordSchema.safeParse(entry)
    if (!parsed.success) {
      throw invalidResult(
        `${source} line ${lines[index]} looks like AIPerf's profile_export.jsonl but is not a record capplan can read: ${formatSchemaIssues(parsed.error.issues)}`,
        'Pass the profile_export.jsonl written by `aiperf profile`, unedited.',
      )
    }
    return {record: parsed.data, line: lines[index]!}
  })
  const measured = records.filter(({record}) => record.metadata.benchmark_phase !== 'warmup')
  const warmup = records.length - measured.length
  if (measured.length === 0) throw invalidResult(`${source} holds only warmup records (benchmark_phase "warmup").`, 'Pass the profile_export.jsonl of a run that profiled.')
  measured.sort((a, b) => a.record.metadata.request_start_ns - b.record.metadata.request_start_ns)
  const t0 = measured[0]!.record.metadata.request_start_ns
  const requests = measured.map(({record, line}, index) => requestOf(record, index, t0, `${source} line ${line}`))
  const spans = measured.map(({record}, index) => {
    const request = requests[index]!
    const start = nsToMs(record.metadata.request_start_ns - t0)
    const end = record.metadata.request_end_ns === undefined ? start + (request.e2eMs ?? 0) : nsToMs(record.metadata.request_end_ns - t0)
    return {start, end: Math.max(start, end)}
  })
  const window = {startMs: 0, endMs: Math.max(...spans.map((span) => span.end))}
  if (!(window.endMs > 0)) throw invalidResult(`${source}: its requests span no time (request_end_ns not after request_start_ns).`, 'The file is damaged; re-run aiperf profile.')
  const inFlight = Math.max(1, maxInFlight(spans))
  const summary = summarizeLevel(requests, window)
  const level: LevelRecord = {
    load: {kind: 'concurrency', value: inFlight},
    warmupRequests: warmup,
    window,
    status: summary.requests.completed === 0 ? 'failed' : 'complete',
    requests,
    summary,
    telemetry: null,
    serverMetrics: null,
  }
  const notes: string[] = [`imported from aiperf: ${source} (profile_export.jsonl, ${records.length} records${warmup === 0 ? '' : `, ${warmup} warmup left out`})`]
  notes.push(
    'converted: TTFT, E2E (request_latency), TPOT = (E2E - TTFT) / (output - 1) (AIPerf\'s inter_token_latency) and their percentiles recomputed by capplan from the records; ' +
      'content events at TTFT + the inter_chunk_latency gaps; output tokens are AIPerf\'s output_sequence_length (its --tokenizer\'s count)',
  )
  notes.push(
    `converted: the window runs from the first request's start to the last one's end (${Number((window.endMs / 1000).toFixed(3))} s; AIPerf's own benchmark_duration is in profile_export_aiperf.json, not here), ` +
      'so throughput is capplan\'s over that window',
  )
  notes.push(`lacks: the load (recorded as concurrency ${inFlight}, the most requests in flight at once; profile_export_aiperf.json has AIPerf's --concurrency / --request-rate)`)
  const model = peerModel(undefined, context, notes)
  notes.push('lacks: the GPU type and count (assumed 1 GPU per replica: pass --gpus N and --gpu ID), the engine and its version, the host (placeholders)')
  const succeeded = requests.filter((request) => request.error === null)
  const meanOf = (pick: (request: RequestRecord) => number) => (succeeded.length === 0 ? 1 : succeeded.reduce((sum, request) => sum + pick(request), 0) / succeeded.length)
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    id: contentUuid(text, 'aiperf-records'),
    createdAt: new Date(Math.round(nsToMs(t0))).toISOString(),
    finishedAt: null,
    capplan: {version: context.capplanVersion, command: context.command},
    host: placeholderHost('aiperf'),
    engine: {kind: 'openai', version: null, build: null, backend: 'unknown', threads: null, gpuCount: 1, args: ['aiperf profile'], endpoint: null},
    model,
    gpuProfile: null,
    workload: {
      profile: null,
      inputTokens: Math.max(1, Math.round(meanOf((request) => request.inputTokens))),
      outputTokens: Math.max(1, Math.round(meanOf((request) => request.outputTokens))),
      promptSource: 'dataset',
      dataset: null,
      seed: 0,
      ignoreEos: false,
    },
    levels: [level],
    status: 'complete',
    notes,
  }
}
