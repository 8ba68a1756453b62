/**
 * GenAI-Perf `profile_export_genai_perf.json` (triton-inference-server/perf_analyzer, `genai-perf profile`)
 * -> a capplan result file.
 *
 * The same metric objects as AIPerf ({unit, avg, p25 ... p99, min, max, std}, aiperf.ts), written by
 * genai_perf/export_data/json_exporter.py, plus input_config (the command line as parsed). Fields read:
 * request_throughput, output_token_throughput (GenAI-Perf's own rates), input_sequence_length /
 * output_sequence_length (mean lengths), time_to_first_token, inter_token_latency, request_latency (ms), and
 * input_config.model, .concurrency / .request_rate (or perf_analyzer.stimulus in later releases).
 *
 * Definitions: as AIPerf's (GenAI-Perf is its predecessor): inter_token_latency = (request_latency - TTFT) /
 * (output tokens - 1) is capplan's TPOT. The file has NO request count and NO duration; the level records
 * 1 request over 1 / request_throughput seconds (placeholders named in the notes) so that every rate is
 * GenAI-Perf's own.
 */

import {z} from 'zod'

import {invalidResult} from '../../lib/errors.js'
import {formatSchemaIssues} from '../read.js'
import {type LevelRecord, RESULT_SCHEMA_VERSION, type ResultFile} from '../schema.js'
import {describeReported, peerModel, profileMetricSchema, reportedOf} from './aiperf.js'
import {contentUuid, type ImportContext, peerNumbers, placeholderHost, throughputOnlySummary} from './common.js'

const {count, perSecond} = peerNumbers
const loadSchema = {concurrency: count.positive().nullable().optional(), request_rate: perSecond.positive().nullable().optional()}
const genaiPerfSchema = z.looseObject({
  request_throughput: z.looseObject({avg: perSecond.positive()}),
  output_token_throughput: z.looseObject({avg: perSecond}),
  input_sequence_length: profileMetricSchema.optional(),
  output_sequence_length: profileMetricSchema.optional(),
  time_to_first_token: profileMetricSchema.optional(),
  inter_token_latency: profileMetricSchema.optional(),
  request_latency: profileMetricSchema.optional(),
  input_config: z.looseObject({
    model: z.union([z.array(z.string()), z.string()]).optional(),
    model_names: z.array(z.string()).optional(),
    backend: z.string().nullable().optional(),
    service_kind: z.string().nullable().optional(),
    endpoint_type: z.string().nullable().optional(),
    streaming: z.boolean().optional(),
    ...loadSchema,
    perf_analyzer: z.looseObject({stimulus: z.looseObject(loadSchema).optional()}).optional(),
  }),
})

/** Whether a parsed JSON value is a GenAI-Perf summary export (for format detection; AIPerf's has aiperf_version). */
export function looksLikeGenaiPerfSummary(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !('aiperf_version' in value) &&
    'request_throughput' in value && 'input_config' in value && ('time_to_first_token' in value || 'request_latency' in value)
}

export function importGenaiPerf(value: unknown, text: string, source: string, context: ImportContext): ResultFile {
  const parsed = genaiPerfSchema.safeParse(value)
  if (!parsed.success) {
    throw invalidResult(
      `${source} looks like a GenAI-Perf profile_export_genai_perf.json but is not one capplan can read: ${formatSchemaIssues(parsed.error.issues)}`,
      'Pass the profile_export_genai_perf.json written by `genai-perf profile`, unedited.',
    )
  }
  const file = parsed.data
  const config = file.input_config
  const notes: string[] = [
    `imported from genai-perf: ${source} (profile_export_genai_perf.json, service kind ${config.service_kind ?? 'unknown'}, backend ${config.backend ?? 'unknown'}${config.streaming === false ? ', NOT streaming' : ''})`,
  ]
  const stimulus = config.perf_analyzer?.stimulus
  const rate = config.request_rate ?? stimulus?.request_rate
  const concurrency = config.concurrency ?? stimulus?.concurrency
  let load: LevelRecord['load']
  if (typeof rate === 'number') load = {kind: 'rate', value: rate}
  else if (typeof concurrency === 'number') load = {kind: 'concurrency', value: concurrency}
  else {
    load = {kind: 'concurrency', value: 1}
    notes.push('converted: input_config records neither a concurrency nor a request rate; recorded as concurrency 1 (GenAI-Perf\'s default)')
  }
  const requestsPerS = file.request_throughput.avg
  const isl = file.input_sequence_length?.avg ?? null
  const osl = file.output_sequence_length?.avg ?? null
  // Without a request count or a duration, one placeholder request over 1 / req/s keeps GenAI-Perf's rates.
  const durationS = 1 / requestsPerS
  const reported = reportedOf('GenAI-Perf', file)
  const tpotMedian = reported?.tpotMs?.p50
  const level: LevelRecord = {
    load,
    warmupRequests: 0,
    window: {startMs: 0, endMs: durationS * 1000},
    status: 'complete',
    requests: [],
    summary: throughputOnlySummary({
      completed: 1,
      failed: 0,
      durationS,
      outputTokensPerS: file.output_token_throughput.avg,
      inputTokensPerS: isl === null ? 0 : isl * requestsPerS,
      requestsPerS,
      perUserTokensPerS: tpotMedian === undefined || tpotMedian <= 0 ? null : 1000 / tpotMedian,
    }),
    telemetry: null,
    serverMetrics: null,
    ...(reported === undefined ? {} : {reported}),
  }
  notes.push(
    'converted: output tok/s and req/s are GenAI-Perf\'s own (output_token_throughput, request_throughput); input tok/s = mean input_sequence_length x req/s; ' +
      'its inter_token_latency ((request_latency - TTFT) / (output tokens - 1)) is capplan\'s TPOT, its request_latency capplan\'s E2E',
  )
  notes.push(
    'lacks: the request count and the duration (the summary has neither: the level records 1 request over 1 / request_throughput s as placeholders), failed requests (counted 0), ' +
      `per-request samples; GenAI-Perf reported: ${describeReported(reported)}`,
  )
  if (config.streaming === false) notes.push('lacks: streaming (the run did not stream, so GenAI-Perf\'s TTFT is the whole response time)')
  const name = Array.isArray(config.model) ? config.model[0] : (config.model ?? config.model_names?.[0])
  const model = peerModel(name, context, notes)
  notes.push('lacks: the GPU type and count (assumed 1 GPU per replica: pass --gpus N and --gpu ID), the engine version, the host (placeholders)')
  notes.push(`converted: workload lengths are GenAI-Perf's mean sequence lengths (${isl === null ? 'unknown' : Number(isl.toFixed(1))} in, ${osl === null ? 'unknown' : Number(osl.toFixed(1))} out; GenAI-Perf counts them with its --tokenizer)`)
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    id: contentUuid(text, 'genai-perf'),
    createdAt: new Date(0).toISOString(),
    finishedAt: null,
    capplan: {version: context.capplanVersion, command: context.command},
    host: placeholderHost('genai-perf'),
    engine: {
      kind: 'openai',
      version: null,
      build: null,
      backend: 'unknown',
      threads: null,
      gpuCount: 1,
      args: ['genai-perf profile', ...(config.service_kind === undefined || config.service_kind === null ? [] : [`--service-kind ${config.service_kind}`])],
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
      seed: typeof config['random_seed'] === 'number' && Number.isSafeInteger(config['random_seed']) ? config['random_seed'] : 0,
      ignoreEos: false,
    },
    levels: [level],
    status: 'complete',
    notes,
  }
}
