/**
 * AIPerf `profile_export_aiperf.json` (ai-dynamo/aiperf, `aiperf profile`) -> a capplan result file.
 *
 * The summary AIPerf writes beside its per-request `profile_export.jsonl` (aiperf-records.ts reads that one):
 * schema_version, aiperf_version, and one object per metric, {unit, avg, p1 ... p99, min, max, std}, at the top
 * level. Fields read: request_count and error_request_count (their avg is the count), benchmark_duration (s),
 * request_throughput, output_token_throughput (AIPerf's own rates), total_isl (input tokens),
 * input_sequence_length / output_sequence_length (the workload), time_to_first_token, inter_token_latency and
 * request_latency (ms), error_summary (failure kinds), input_config.endpoint.model_names and
 * input_config.loadgen.concurrency / request_rate (the load; 0.10 and later: input_config.models.items[].name and
 * the concurrency / request_rate of the phase not excluded from the results, input_config.phases[]).
 *
 * Definitions: AIPerf's TTFT and request_latency (request sent -> last response) are capplan's TTFT and E2E;
 * its inter_token_latency is (request_latency - TTFT) / (output_sequence_length - 1) per request, which is
 * capplan's TPOT. The file has no per-request samples: the level keeps AIPerf's own statistics (`reported`),
 * which the SLO check of `capplan report` reads.
 */

import {z} from 'zod'

import {invalidResult} from '../../lib/errors.js'
import {formatSchemaIssues} from '../read.js'
import type {ReportedLatency, ReportedStat} from '../reported-latency.js'
import {type LevelRecord, type RequestErrorKind, RESULT_SCHEMA_VERSION, type ResultFile} from '../schema.js'
import {contentUuid, type ImportContext, matchModelProfile, modelNameFromPath, peerNumbers, placeholderHost, quantFromFormat, throughputOnlySummary} from './common.js'

const {count, duration, perSecond, ms} = peerNumbers

/** One metric of an AIPerf / GenAI-Perf export: its unit and statistics (any may be missing). */
export const profileMetricSchema = z.looseObject({
  unit: z.string().optional(),
  avg: z.number().nonnegative().max(1e15).nullable().optional(),
  p50: ms.nullable().optional(),
  p90: ms.nullable().optional(),
  p95: ms.nullable().optional(),
  p99: ms.nullable().optional(),
})
type ProfileMetric = z.infer<typeof profileMetricSchema>
const metric = profileMetricSchema.optional()
const countMetric = z.looseObject({avg: count}).optional()

const loadFields = {concurrency: count.positive().nullable().optional(), request_rate: perSecond.positive().nullable().optional()}
const aiperfSummarySchema = z.looseObject({
  schema_version: z.string().optional(),
  aiperf_version: z.string(),
  request_throughput: z.looseObject({avg: perSecond}),
  request_count: z.looseObject({avg: count}),
  error_request_count: countMetric,
  benchmark_duration: z.looseObject({avg: duration}),
  output_token_throughput: z.looseObject({avg: perSecond}).optional(),
  total_isl: countMetric,
  total_osl: countMetric,
  input_sequence_length: metric,
  output_sequence_length: metric,
  time_to_first_token: metric,
  inter_token_latency: metric,
  request_latency: metric,
  error_summary: z.array(z.looseObject({error_details: z.looseObject({type: z.string().nullable().optional()}).optional(), count: count})).optional(),
  was_cancelled: z.boolean().optional(),
  start_time: z.string().optional(),
  input_config: z
    .looseObject({
      endpoint: z.looseObject({model_names: z.array(z.string()).optional(), type: z.string().optional(), streaming: z.boolean().optional()}).optional(),
      // Up to 0.8: loadgen {concurrency, request_rate}; 0.10 (schema 1.3): models.items[].name and phases[].
      loadgen: z.looseObject(loadFields).optional(),
      models: z.looseObject({items: z.array(z.looseObject({name: z.string()})).optional()}).optional(),
      phases: z.array(z.looseObject({name: z.string().optional(), exclude_from_results: z.boolean().optional(), ...loadFields})).optional(),
      cli_command: z.string().optional(),
    })
    .optional(),
  run_info: z.looseObject({cli_command: z.string().optional()}).optional(),
})
type AiperfSummary = z.infer<typeof aiperfSummarySchema>

/** Whether a parsed JSON value is an AIPerf summary export (for format detection). */
export function looksLikeAiperfSummary(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && 'aiperf_version' in value && 'request_throughput' in value
}

const statKeys: [ReportedStat, keyof ProfileMetric][] = [['mean', 'avg'], ['p50', 'p50'], ['p90', 'p90'], ['p95', 'p95'], ['p99', 'p99']]

/** The statistics of one metric that the file has, in capplan's names (avg -> mean). */
function statsOf(metricValue: ProfileMetric | undefined): ReportedLatency['ttftMs'] {
  if (metricValue === undefined) return undefined
  const stats: NonNullable<ReportedLatency['ttftMs']> = {}
  for (const [ours, theirs] of statKeys) {
    const value = metricValue[theirs]
    if (typeof value === 'number') stats[ours] = value
  }
  return Object.keys(stats).length === 0 ? undefined : stats
}

/** TTFT, TPOT (their inter_token_latency) and E2E (their request_latency) as the tool reported them. */
export function reportedOf(
  source: string,
  metrics: {time_to_first_token?: ProfileMetric | undefined; inter_token_latency?: ProfileMetric | undefined; request_latency?: ProfileMetric | undefined},
): ReportedLatency | undefined {
  const ttftMs = statsOf(metrics.time_to_first_token)
  const tpotMs = statsOf(metrics.inter_token_latency)
  const e2eMs = statsOf(metrics.request_latency)
  if (ttftMs === undefined && tpotMs === undefined && e2eMs === undefined) return undefined
  return {source, ...(ttftMs === undefined ? {} : {ttftMs}), ...(tpotMs === undefined ? {} : {tpotMs}), ...(e2eMs === undefined ? {} : {e2eMs})}
}

/** "ttft p50=239.48 p99=1572.33 | tpot ..." for the notes. */
export function describeReported(reported: ReportedLatency | undefined): string {
  if (reported === undefined) return 'no latency statistics'
  const parts: string[] = []
  for (const [name, stats] of [['ttft', reported.ttftMs], ['tpot', reported.tpotMs], ['e2e', reported.e2eMs]] as const) {
    if (stats === undefined) continue
    parts.push(`${name} ${Object.entries(stats).map(([stat, value]) => `${stat}=${Number(value.toFixed(2))}`).join(' ')}`)
  }
  return parts.join(' | ')
}

/** The model record and notes for a model name as the tool wrote it (a served name, a repo id or a path). */
export function peerModel(rawName: string | undefined, context: ImportContext, notes: string[]): ResultFile['model'] {
  const name = rawName === undefined || rawName.trim() === '' ? 'unknown' : modelNameFromPath(rawName)
  if (rawName !== undefined && name !== rawName) notes.push(`converted: the model is a local path (${rawName}); recorded as the model it holds, ${name}`)
  const match = name === 'unknown' ? null : matchModelProfile(name, context.store)
  const quant = match?.quant ?? quantFromFormat(name.split(/[-_/:]/).find((part) => quantFromFormat(part) !== null) ?? '')
  const paramsFromName = /(\d+(?:\.\d+)?)b\b/i.exec(name)?.[1]
  if (name === 'unknown') notes.push('lacks: the model (pass --model to capplan import)')
  else if (match === null) notes.push(`lacks: a known model: "${name}" matches no model profile`)
  if (match === null && paramsFromName === undefined) notes.push('lacks: the parameter count (recorded as a 1B placeholder; pass --model to capplan import)')
  notes.push(`lacks: the quantization${quant === null ? ' (recorded as fp16)' : ` (taken from the model name: ${quant})`}`)
  return {
    profile: match?.profile ?? name,
    quant: quant ?? 'fp16',
    format: 'unknown',
    file: null,
    repo: name.includes('/') && !name.startsWith('/') ? name : null,
    sha256: null,
    bytes: null,
    paramsB: match?.paramsB ?? (paramsFromName === undefined ? 1 : Number(paramsFromName)),
    synthetic: false,
  }
}

/** Failed requests by kind from AIPerf's error_summary (a timeout is 'timeout', anything else 'http'). */
function errorsOf(summary: AiperfSummary, failed: number): Partial<Record<RequestErrorKind, number>> {
  if (failed === 0) return {}
  const errors: Partial<Record<RequestErrorKind, number>> = {}
  let counted = 0
  for (const entry of summary.error_summary ?? []) {
    if (entry.count === 0) continue
    const kind: RequestErrorKind = /timeout/i.test(entry.error_details?.type ?? '') ? 'timeout' : 'http'
    errors[kind] = (errors[kind] ?? 0) + entry.count
    counted += entry.count
  }
  if (counted < failed) errors.http = (errors.http ?? 0) + failed - counted
  return errors
}

/** The load AIPerf ran: --request-rate, else --concurrency (AIPerf's default is 1). */
export function aiperfLoad(loadgen: {concurrency?: number | null | undefined; request_rate?: number | null | undefined} | undefined, notes: string[]): LevelRecord['load'] {
  if (typeof loadgen?.request_rate === 'number') return {kind: 'rate', value: loadgen.request_rate}
  if (typeof loadgen?.concurrency === 'number') return {kind: 'concurrency', value: loadgen.concurrency}
  notes.push('converted: the file records neither a concurrency nor a request rate; recorded as concurrency 1 (AIPerf\'s default)')
  return {kind: 'concurrency', value: 1}
}

export function importAiperfSummary(value: unknown, text: string, source: string, context: ImportContext): ResultFile {
  const parsed = aiperfSummarySchema.safeParse(value)
  if (!parsed.success) {
    throw invalidResult(
      `${source} looks like an AIPerf profile_export_aiperf.json but is not one capplan can read: ${formatSchemaIssues(parsed.error.issues)}`,
      'Pass the profile_export_aiperf.json written by `aiperf profile`, unedited (or its per-request profile_export.jsonl).',
    )
  }
  const summary = parsed.data
  const version = `AIPerf ${summary.aiperf_version}`
  const notes: string[] = [`imported from aiperf: ${source} (profile_export_aiperf.json, ${version}${summary.schema_version === undefined ? '' : `, schema ${summary.schema_version}`})`]
  // 0.10+: the load of the phase whose results these are (warmup phases are excluded from them).
  const profiling = (summary.input_config?.phases ?? []).filter((phase) => phase.exclude_from_results !== true && phase.name !== 'warmup')
  const load = aiperfLoad(summary.input_config?.loadgen ?? profiling.at(-1), notes)
  const completed = summary.request_count.avg
  const failed = summary.error_request_count?.avg ?? 0
  const durationS = summary.benchmark_duration.avg
  const inputTokens = summary.total_isl?.avg
  const reported = reportedOf(version, summary)
  const tpotMedian = reported?.tpotMs?.p50
  const level: LevelRecord = {
    load,
    warmupRequests: 0,
    window: {startMs: 0, endMs: durationS * 1000},
    status: completed === 0 ? 'failed' : 'complete',
    requests: [],
    summary: {
      ...throughputOnlySummary({
        completed,
        failed,
        durationS,
        outputTokensPerS: summary.output_token_throughput?.avg ?? (summary.total_osl?.avg ?? 0) / durationS,
        inputTokensPerS: inputTokens === undefined ? 0 : inputTokens / durationS,
        requestsPerS: summary.request_throughput.avg,
        perUserTokensPerS: tpotMedian === undefined || tpotMedian <= 0 ? null : 1000 / tpotMedian,
      }),
      errors: errorsOf(summary, failed),
    },
    telemetry: null,
    serverMetrics: null,
    ...(reported === undefined ? {} : {reported}),
  }
  notes.push(
    'converted: output tok/s and req/s are AIPerf\'s own (output_token_throughput, request_throughput); input tok/s = total_isl / benchmark_duration; ' +
      'AIPerf\'s inter_token_latency ((request_latency - TTFT) / (output tokens - 1)) is capplan\'s TPOT, its request_latency capplan\'s E2E; ' +
      'interactivity = 1000 / its median inter_token_latency',
  )
  notes.push(`lacks: per-request samples (they are in profile_export.jsonl beside this file: import that for capplan's own statistics); ${version} reported: ${describeReported(reported)}`)
  if (inputTokens === undefined) notes.push('lacks: total_isl (input tok/s recorded as 0)')
  if (summary.was_cancelled === true) notes.push('lacks: a complete run (AIPerf says was_cancelled: the run was stopped early)')
  const model = peerModel(summary.input_config?.endpoint?.model_names?.[0] ?? summary.input_config?.models?.items?.[0]?.name, context, notes)
  notes.push('lacks: the GPU type and count (assumed 1 GPU per replica: pass --gpus N and --gpu ID), the engine and its version, the host (placeholders)')
  const isl = summary.input_sequence_length?.avg ?? (inputTokens === undefined ? null : inputTokens / Math.max(1, completed))
  const osl = summary.output_sequence_length?.avg ?? (summary.total_osl === undefined ? null : summary.total_osl.avg / Math.max(1, completed))
  notes.push(`converted: workload lengths are AIPerf's mean input / output sequence lengths (${isl === null ? 'unknown' : Number(isl.toFixed(1))} in, ${osl === null ? 'unknown' : Number(osl.toFixed(1))} out)`)
  const started = summary.start_time === undefined ? null : /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?$/.exec(summary.start_time)
  if (started !== null) notes.push('converted: AIPerf records start_time without a zone; createdAt treats it as UTC')
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    id: contentUuid(text, 'aiperf'),
    createdAt: started === null ? new Date(0).toISOString() : `${started[1]}${(started[2] ?? '.000').slice(0, 4).padEnd(4, '0')}Z`,
    finishedAt: null,
    capplan: {version: context.capplanVersion, command: context.command},
    host: placeholderHost('aiperf'),
    engine: {
      kind: 'openai',
      version: null,
      build: null,
      backend: 'unknown',
      threads: null,
      gpuCount: 1,
      args: [summary.input_config?.cli_command ?? summary.run_info?.cli_command ?? 'aiperf profile'],
      endpoint: null,
    },
    model,
    gpuProfile: null,
    workload: {
      profile: null,
      inputTokens: Math.max(1, Math.round(isl ?? 1)),
      outputTokens: Math.max(1, Math.round(osl ?? 1)),
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
