/**
 * SGLang `python -m sglang.bench_serving --output-file out.jsonl` -> capplan result files.
 *
 * bench_serving APPENDS one JSON object per run to the output file (python/sglang/bench_serving.py,
 * `benchmark()` builds `result` and writes `json.dumps(result) + "\n"` in append mode). Fields read: backend,
 * dataset_name, request_rate ("inf" or a number), max_concurrency, duration (s), completed,
 * total_input_tokens, total_output_tokens (the server's usage), output_throughput, and when present
 * request_throughput, random_input_len / random_output_len / random_range_ratio / sharegpt_output_len (the
 * workload), and the reported latency aggregates (mean/median/p99 _ttft_ms, _itl_ms, _e2e_latency_ms). The
 * JSONL never holds per-request samples, so the levels have throughput only and the aggregates go in the notes.
 *
 * Runs of different workloads (dataset, lengths) become separate results, the runs of one workload its levels.
 */

import {z} from 'zod'

import {invalidResult} from '../../lib/errors.js'
import {formatSchemaIssues} from '../read.js'
import {type LevelRecord, RESULT_SCHEMA_VERSION, type ResultFile} from '../schema.js'
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

const {count, duration, perSecond, ms} = peerNumbers
const sglangRunSchema = z.looseObject({
  backend: z.string(),
  dataset_name: z.string().optional(),
  request_rate: z.union([perSecond, z.literal('inf'), z.null()]).optional(),
  max_concurrency: count.positive().nullable().optional(),
  duration,
  completed: count,
  total_input_tokens: count,
  total_output_tokens: count,
  output_throughput: perSecond,
  request_throughput: perSecond.optional(),
  model_id: z.string().optional(),
  tokenizer_id: z.string().optional(),
  random_input_len: count.nullable().optional(),
  random_output_len: count.nullable().optional(),
  random_range_ratio: z.number().nullable().optional(),
  sharegpt_output_len: count.nullable().optional(),
  mean_ttft_ms: ms.nullable().optional(),
  median_ttft_ms: ms.nullable().optional(),
  p99_ttft_ms: ms.nullable().optional(),
  mean_itl_ms: ms.nullable().optional(),
  median_itl_ms: ms.nullable().optional(),
  p99_itl_ms: ms.nullable().optional(),
  mean_e2e_latency_ms: ms.nullable().optional(),
  median_e2e_latency_ms: ms.nullable().optional(),
  p99_e2e_latency_ms: ms.nullable().optional(),
})
type SglangRun = z.infer<typeof sglangRunSchema>

/** Whether a parsed JSON value looks like one line of sglang.bench_serving's output file. */
export function looksLikeSglangRun(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  return 'backend' in value && 'output_throughput' in value && 'duration' in value && 'completed' in value &&
    ('median_e2e_latency_ms' in value || 'mean_e2e_latency_ms' in value) && !('request_goodput:' in value)
}

const reportedKeys = [
  'mean_ttft_ms', 'median_ttft_ms', 'p99_ttft_ms', 'mean_itl_ms', 'median_itl_ms', 'p99_itl_ms',
  'mean_e2e_latency_ms', 'median_e2e_latency_ms', 'p99_e2e_latency_ms',
] as const

const workloadKey = (run: SglangRun) =>
  JSON.stringify([run.backend, run.dataset_name ?? null, run.random_input_len ?? null, run.random_output_len ?? null, run.random_range_ratio ?? null, run.sharegpt_output_len ?? null, run.model_id ?? null])

function levelOf(run: SglangRun, notes: string[]): LevelRecord {
  let load: LevelRecord['load']
  if (run.max_concurrency !== undefined && run.max_concurrency !== null) load = {kind: 'concurrency', value: run.max_concurrency}
  else if (typeof run.request_rate === 'number' && run.request_rate > 0) load = {kind: 'rate', value: run.request_rate}
  else {
    load = {kind: 'concurrency', value: Math.max(1, run.completed)}
    notes.push(`converted: request rate inf without --max-concurrency sends all ${run.completed} requests at once; recorded as concurrency ${Math.max(1, run.completed)}`)
  }
  const summary = throughputOnlySummary({
    completed: run.completed,
    failed: 0,
    durationS: run.duration,
    outputTokensPerS: run.total_output_tokens / run.duration,
    inputTokensPerS: run.total_input_tokens / run.duration,
    requestsPerS: run.completed / run.duration,
    perUserTokensPerS: null,
  })
  // A run that completed nothing has no latency to report (its statistics, if any, are zeros): none kept.
  const reported = run.completed > 0 ? reportedFromAggregates(run, 'SGLang', {ttft: 'ttft', e2e_latency: 'e2e'}) : undefined
  return {
    load,
    warmupRequests: 0,
    window: {startMs: 0, endMs: run.duration * 1000},
    status: run.completed === 0 ? 'failed' : 'complete',
    requests: [],
    summary,
    telemetry: null,
    serverMetrics: null,
    // SGLang's TTFT and E2E are capplan's; its ITL is per chunk, not TPOT, so it is not kept for the SLO check.
    ...(reported === undefined ? {} : {reported}),
  }
}

function importWorkload(runs: {run: SglangRun; line: number}[], text: string, source: string, context: ImportContext, index: number): ResultFile {
  const first = runs[0]!.run
  const notes: string[] = [
    `imported from sglang: ${source} (sglang.bench_serving --output-file, backend ${first.backend}, dataset ${first.dataset_name ?? 'unknown'}, lines ${runs.map((r) => r.line).join(', ')})`,
  ]
  const levels = runs.map(({run}) => levelOf(run, notes))
  notes.push('converted: throughput = total_output_tokens / duration (SGLang\'s own output_throughput), input = total_input_tokens / duration, requests = completed / duration')
  const reported = runs.map(({run, line}) => `line ${line}: ` + reportedKeys.filter((key) => typeof run[key] === 'number').map((key) => `${key}=${Number((run[key] as number).toFixed(2))}`).join(' '))
  notes.push(
    "lacks: per-request samples (bench_serving's output file has only aggregates): the SLO is checked on SGLang's own TTFT and E2E statistics; " +
      `it reports no TPOT (its ITL is per chunk), so a TPOT threshold cannot be checked; SGLang reported: ${reported.join(' | ')}`,
  )
  const modelName = first.model_id === undefined ? 'unknown' : modelNameFromPath(first.model_id)
  const match = modelName === 'unknown' ? null : matchModelProfile(modelName, context.store)
  const paramsFromName = /(\d+(?:\.\d+)?)b\b/i.exec(modelName)?.[1]
  notes.push(
    `lacks: ${first.model_id === undefined ? 'the model (this bench_serving version does not record it: pass --model to capplan import), ' : ''}` +
      'the GPU type and count (assumed 1 GPU per replica), the SGLang version and server flags, the quantization (recorded as fp16 unless the model name says), the host (placeholders), failed requests (counted as 0)',
  )
  if (match === null && paramsFromName === undefined) notes.push('lacks: the parameter count (recorded as a 1B placeholder; pass --model to capplan import)')
  const quant = match?.quant ?? quantFromFormat(modelName.split(/[-_/]/).find((part) => quantFromFormat(part) !== null) ?? '')
  const inputTokens = first.total_input_tokens / Math.max(1, first.completed)
  const outputTokens = first.total_output_tokens / Math.max(1, first.completed)
  notes.push(`converted: workload lengths are the mean per completed request of the first run (${Number(inputTokens.toFixed(1))} in, ${Number(outputTokens.toFixed(1))} out)`)
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    id: contentUuid(text, `sglang:${index}`),
    createdAt: new Date(0).toISOString(),
    finishedAt: null,
    capplan: {version: context.capplanVersion, command: context.command},
    host: placeholderHost('sglang'),
    engine: {
      kind: 'openai',
      version: null,
      build: null,
      backend: 'unknown',
      threads: null,
      gpuCount: 1,
      args: ['python -m sglang.bench_serving', `--backend ${first.backend}`, ...(first.dataset_name === undefined ? [] : [`--dataset-name ${first.dataset_name}`])],
      endpoint: null,
    },
    model: {
      profile: match?.profile ?? modelName,
      quant: quant ?? 'fp16',
      format: 'unknown',
      file: null,
      repo: modelName.includes('/') && !modelName.startsWith('/') ? modelName : null,
      sha256: null,
      bytes: null,
      paramsB: match?.paramsB ?? (paramsFromName === undefined ? 1 : Number(paramsFromName)),
      synthetic: false,
    },
    gpuProfile: null,
    workload: {
      profile: null,
      inputTokens: Math.max(1, Math.round(inputTokens)),
      outputTokens: Math.max(1, Math.round(outputTokens)),
      promptSource: 'dataset',
      dataset: first.dataset_name ?? null,
      seed: 0,
      ignoreEos: false,
    },
    levels,
    status: 'complete',
    notes,
  }
}

/** `values` are the parsed lines of the file (1-based line numbers in `lines`). */
export function importSglang(values: unknown[], lines: number[], text: string, source: string, context: ImportContext): ResultFile[] {
  const runs = values.map((value, index) => {
    const where = values.length === 1 ? source : `${source} line ${lines[index]}`
    const parsed = sglangRunSchema.safeParse(value)
    if (!parsed.success) {
      throw invalidResult(
        `${where} looks like SGLang bench_serving output but is not one capplan can read: ${formatSchemaIssues(parsed.error.issues)}`,
        'Pass the JSONL written by `python -m sglang.bench_serving --output-file FILE`, unedited.',
      )
    }
    return {run: parsed.data, line: lines[index]!}
  })
  const groups = new Map<string, {run: SglangRun; line: number}[]>()
  for (const entry of runs) groups.set(workloadKey(entry.run), [...(groups.get(workloadKey(entry.run)) ?? []), entry])
  return [...groups.values()].map((group, index) => importWorkload(group, text, source, context, index))
}
