/**
 * Read any result file capplan accepts: its own (schemaVersion), or a peer's, detected by CONTENT (never by
 * file name): llama-bench -o json|jsonl, vLLM bench serve --save-result (one object, or one per line with
 * --append-result), GuideLLM benchmarks.json, AIPerf profile_export_aiperf.json / profile_export.jsonl, GenAI-Perf
 * profile_export_genai_perf.json. Every problem is one INVALID_RESULT naming the file.
 */


import {parse as parseYaml} from 'yaml'

import {bug, invalidResult} from '../../lib/errors.js'
import {formatSchemaIssues, parseResultFile, readResultText} from '../read.js'
import {certainlyMatchesResultFileSchema} from '../fast-validate.js'
import {type ResultFile, resultFileSchema} from '../schema.js'
import {importAiperfSummary, looksLikeAiperfSummary} from './aiperf.js'
import {importAiperfRecords, looksLikeAiperfRecord} from './aiperf-records.js'
import type {ImportContext, PeerFormat} from './common.js'
import {importGenaiPerf, looksLikeGenaiPerfSummary} from './genai-perf.js'
import {importGuideLlm, looksLikeGuideLlmReport} from './guidellm.js'
import {importLlamaBench} from './llama-bench.js'
import {importSglang, looksLikeSglangRun} from './sglang.js'
import {groupVllmRunsByMetadata, importVllm, looksLikeVllmResult, vllmLayoutOf} from './vllm.js'

export type ResultFormat = 'capplan' | PeerFormat

export interface LoadedResult {
  /** The file (with " #2" etc. when one peer file held several configurations). */
  source: string
  format: ResultFormat
  result: ResultFile
}

const looksLikeLlamaBenchRow = (value: unknown) =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && 'avg_ts' in value && 'n_gen' in value && 'build_commit' in value

const SUPPORTED =
  'capplan reads: capplan bench results, llama-bench -o json|jsonl, vllm bench serve --save-result (one object, --append-result lines, or a JSON array of runs), ' +
  'GuideLLM benchmarks.json or .yaml (0.2 and later), SGLang bench_serving --output-file JSONL, ' +
  'AIPerf profile_export_aiperf.json or profile_export.jsonl, GenAI-Perf profile_export_genai_perf.json.'

const has = (value: Record<string, unknown>, ...keys: string[]) => keys.every((key) => key in value)

/**
 * What an unreadable JSON object looks like: the tool and version its fields point to, and what capplan
 * would need from it. Never a bare "not recognized".
 */
function describeUnknown(value: Record<string, unknown>): {looks: string; missing: string} {
  const keys = Object.keys(value)
  if (has(value, 'avg_latency', 'latencies') || has(value, 'avg_latency', 'percentiles')) {
    return {looks: 'a `vllm bench latency` (benchmark_latency.py) result: the end-to-end latency', missing: 'per-request TTFT, output tokens and throughput under load (re-run with `vllm bench serve --save-result`)'}
  }
  if (has(value, 'elapsed_time', 'num_requests', 'tokens_per_second') || has(value, 'requests_per_second', 'tokens_per_second', 'elapsed_time')) {
    return {looks: 'a `vllm bench throughput` (benchmark_throughput.py) result: offline batch throughput', missing: 'latency and the load it ran at (re-run with `vllm bench serve --save-result`)'}
  }
  if ('model_id' in value && ('request_throughput' in value || 'output_throughput' in value)) {
    const required = ['model_id', 'duration', 'completed', 'total_input_tokens', 'total_output_tokens', 'request_throughput', 'output_throughput']
    return {looks: `a vLLM result written by ${vllmLayoutOf(value)}`, missing: required.filter((key) => !(key in value)).join(', ')}
  }
  if (has(value, 'request_throughput', 'output_throughput') && !('model_id' in value)) {
    return {looks: 'a vLLM bench serve result without model_id (or a wrapper of one)', missing: 'model_id, duration, completed, total_input_tokens and total_output_tokens at the top level'}
  }
  if ('benchmarks' in value && Array.isArray(value['benchmarks'])) {
    return {looks: 'a GuideLLM report whose benchmarks have no metrics (an empty or edited benchmarks.json)', missing: 'benchmarks[].metrics with request_totals and token counts'}
  }
  if (('records' in value || 'metrics' in value) && ('input_config' in value || 'telemetry_data' in value || 'time_to_first_token' in value || 'request_throughput' in value)) {
    return {
      looks: 'an AIPerf / GenAI-Perf profile export with its metrics nested under "records" or "metrics" (an early or a converted layout)',
      missing: 'the metric objects (request_throughput, time_to_first_token, ...) at the top level, as aiperf 0.x and genai-perf write profile_export_*.json',
    }
  }
  if ('experiments' in value && 'service_kind' in value) {
    return {looks: "perf_analyzer's raw profile_export.json (GenAI-Perf's input, with request timestamps but no tokens)", missing: 'the summary GenAI-Perf writes from it: import profile_export_genai_perf.json'}
  }
  if ('time_to_first_token' in value && 'request_throughput' in value) {
    return {looks: 'a GenAI-Perf profile_export_genai_perf.json summary without input_config', missing: 'input_config (the load and the model it ran)'}
  }
  if (has(value, 'avg_ts') || has(value, 'n_prompt', 'n_gen')) {
    return {looks: 'a llama-bench row', missing: 'build_commit, n_gen and avg_ts (llama-bench -o json writes all three)'}
  }
  return {looks: `a JSON object with ${keys.length === 0 ? 'no fields' : `fields ${keys.slice(0, 6).map((key) => `"${key}"`).join(', ')}`} that matches no benchmark tool capplan knows`, missing: 'the fields of one of the formats below'}
}

const unrecognized = (source: string, looks: string, missing: string) =>
  invalidResult(`${source} looks like ${looks}; capplan cannot import it: missing ${missing}.`, SUPPORTED)

function tryParse(text: string): {ok: true; value: unknown} | {ok: false} {
  try {
    return {ok: true, value: JSON.parse(text)}
  } catch {
    return {ok: false}
  }
}

/**
 * The last check on an imported peer result: the importers bound every number they read, and this makes sure
 * whatever slipped through (a combination no bound foresaw) is one clear error, not a result file that
 * capplan itself would later refuse to read, or a NaN in a report. A wrong SHAPE (an unknown or missing field)
 * cannot come from the peer's values: that is the importer's bug (exit 1), not a damaged file (exit 6).
 */
function checkedImport(result: ResultFile, format: PeerFormat, source: string): ResultFile {
  if (certainlyMatchesResultFileSchema(result)) return result
  const parsed = resultFileSchema.safeParse(result)
  if (parsed.success) return result
  const shape = parsed.error.issues.filter((issue) => issue.code === 'unrecognized_keys' || (issue.code === 'invalid_type' && / received undefined$/.test(issue.message)))
  if (shape.length > 0) throw bug(`the ${format} importer built a result of the wrong shape from ${source}: ${formatSchemaIssues(shape)}`)
  throw invalidResult(
    `${source} holds values capplan cannot record as a ${format} import (a value out of range, or fields that contradict each other): ${formatSchemaIssues(parsed.error.issues)}`,
    'The file is damaged or edited; re-run the peer tool, or check the fields its numbers come from.',
  )
}

/** Parse the text of a result or peer file; `source` names it in errors and notes. */
export function parseAnyResult(text: string, source: string, context: ImportContext): LoadedResult[] {
  const one = (format: ResultFormat, result: ResultFile): LoadedResult[] => [
    {source, format, result: format === 'capplan' ? result : checkedImport(result, format, source)},
  ]
  const many = (format: PeerFormat, results: ResultFile[]): LoadedResult[] =>
    results.map((result, index) => {
      const name = results.length === 1 ? source : `${source} #${index + 1}`
      return {source: name, format, result: checkedImport(result, format, name)}
    })

  const vllmRuns = (values: unknown[], lines: number[] | undefined): LoadedResult[] => {
    const groups = groupVllmRunsByMetadata(values)
    if (groups.length === 1) return one('vllm', importVllm(values, text, source, context, lines === undefined ? {} : {lines, metadata: groups[0]!.metadata}))
    const numberOf = (value: unknown) => (lines === undefined ? values.indexOf(value) + 1 : lines[values.indexOf(value)]!)
    return many(
      'vllm',
      groups.map((group, index) =>
        importVllm(group.values, text, source, context, {...(lines === undefined ? {} : {lines: group.values.map(numberOf)}), metadata: group.metadata, salt: `:${index}`}),
      ),
    )
  }

  // capplan writes schemaVersion first: skip the second JSON.parse for its own files (report reads thousands).
  if (/^\s*\{\s*"schemaVersion"\s*:/.test(text.slice(0, 200))) return one('capplan', parseResultFile(text, source))
  const whole = tryParse(text)

  if (whole.ok) {
    const value = whole.value
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      if ('schemaVersion' in value) return one('capplan', parseResultFile(text, source))
      if (looksLikeGuideLlmReport(value)) return one('guidellm', importGuideLlm(value, text, source, context))
      if (looksLikeVllmResult(value)) return one('vllm', importVllm([value], text, source, context))
      if (looksLikeSglangRun(value)) return many('sglang', importSglang([value], [1], text, source, context))
      if (looksLikeLlamaBenchRow(value)) return many('llama-bench', importLlamaBench(text, source, context))
      if (looksLikeAiperfSummary(value)) return one('aiperf', importAiperfSummary(value, text, source, context))
      if (looksLikeGenaiPerfSummary(value)) return one('genai-perf', importGenaiPerf(value, text, source, context))
      if (looksLikeAiperfRecord(value)) return one('aiperf', importAiperfRecords([value], [1], text, source, context))
      const {looks, missing} = describeUnknown(value as Record<string, unknown>)
      throw unrecognized(source, looks, missing)
    }
    if (Array.isArray(value)) {
      if (value.length > 0 && looksLikeLlamaBenchRow(value[0])) return many('llama-bench', importLlamaBench(text, source, context))
      // `vllm bench sweep` summaries and hand-collected runs: a JSON array of bench serve results, one level each.
      if (value.length > 0 && value.every((entry) => looksLikeVllmResult(entry))) return vllmRuns(value, undefined)
      if (value.length === 0) throw unrecognized(source, 'an empty JSON array', 'any run (a llama-bench -o json array or a list of vLLM bench serve results has at least one)')
      const first = value[0]
      const looks = typeof first === 'object' && first !== null && !Array.isArray(first) ? describeUnknown(first as Record<string, unknown>) : {looks: `a JSON ${typeof first}`, missing: 'an object'}
      const index = value.findIndex((entry) => !looksLikeVllmResult(entry))
      throw unrecognized(
        source,
        `a JSON array whose first element is ${looks.looks}`,
        looksLikeVllmResult(first) ? `vLLM bench serve fields in element ${index + 1} (model_id, duration, request_throughput, output_throughput)` : looks.missing,
      )
    }
    throw unrecognized(source, `a JSON ${value === null ? 'null' : typeof value}`, 'an object or an array of runs')
  }

  // Not one JSON document: JSON lines (llama-bench -o jsonl, vLLM --append-result, SGLang bench_serving), or damaged.
  const allLines = text.split(/\r?\n/)
  const numbered = allLines.map((line, index) => ({line, number: index + 1})).filter(({line}) => line.trim() !== '')
  const lines = numbered.map(({line}) => line)
  const first = lines.length > 0 ? tryParse(lines[0]!) : {ok: false as const}
  const parseLines = (hint: string) =>
    numbered.map(({line, number}) => {
      const parsed = tryParse(line)
      if (!parsed.ok) throw invalidResult(`${source} line ${number} is not valid JSON (truncated file?).`, hint)
      return parsed.value
    })
  if (lines.length > 1 && first.ok) {
    if (looksLikeLlamaBenchRow(first.value)) return many('llama-bench', importLlamaBench(text, source, context))
    if (looksLikeVllmResult(first.value)) {
      return vllmRuns(parseLines('Re-run vllm bench serve --save-result --append-result, or remove the damaged line.'), numbered.map(({number}) => number))
    }
    if (looksLikeSglangRun(first.value)) {
      const values = parseLines('Re-run sglang.bench_serving, or remove the damaged line.')
      return many('sglang', importSglang(values, numbered.map(({number}) => number), text, source, context))
    }
    if (looksLikeAiperfRecord(first.value)) {
      const values = parseLines('Re-run aiperf profile, or remove the damaged line.')
      return one('aiperf', importAiperfRecords(values, numbered.map(({number}) => number), text, source, context))
    }
    if (typeof first.value === 'object' && first.value !== null && !Array.isArray(first.value)) {
      const {looks, missing} = describeUnknown(first.value as Record<string, unknown>)
      throw unrecognized(`${source} (JSON lines)`, `lines of ${looks}`, missing)
    }
  }
  // A damaged capplan file gets read.ts's precise JSON message (line, column, "truncated").
  if (text.trimStart().startsWith('{') || text.trim() === '') return one('capplan', parseResultFile(text, source))
  const head = text.trimStart().slice(0, 40)
  if (/^(---|[A-Za-z_]+:(\s|$))/.test(head)) {
    // GuideLLM writes the same report as YAML (--output-path benchmarks.yaml).
    let yaml: unknown
    try {
      yaml = parseYaml(text)
    } catch (error) {
      throw unrecognized(source, 'YAML', `valid YAML (${(error as Error).message.split('\n')[0]})`)
    }
    if (looksLikeGuideLlmReport(yaml)) return one('guidellm', importGuideLlm(yaml, text, source, context, 'yaml'))
    if (typeof yaml === 'object' && yaml !== null && !Array.isArray(yaml)) {
      const {looks, missing} = describeUnknown(yaml as Record<string, unknown>)
      throw unrecognized(source, `YAML holding ${looks}`, missing)
    }
  }
  throw unrecognized(source, `neither JSON nor JSON lines (it starts with ${JSON.stringify(head.slice(0, 20))})`, 'a JSON document or JSON lines')
}

/** Read one file from disk (capplan's or a peer's) and parse it, detecting the format by content. */
export async function loadAnyResult(path: string, context: ImportContext): Promise<LoadedResult[]> {
  return parseAnyResult(readResultText(path), path, context)
}
