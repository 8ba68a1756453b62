/**
 * Read any result file capplan accepts: its own (schemaVersion), or a peer's, detected by CONTENT (never by
 * file name): llama-bench -o json|jsonl, vLLM bench serve --save-result (one object, or one per line with
 * --append-result), GuideLLM benchmarks.json. Every problem is one INVALID_RESULT naming the file.
 */


import {bug, invalidResult} from '../../lib/errors.js'
import {formatSchemaIssues, parseResultFile, readResultText} from '../read.js'
import {certainlyMatchesResultFileSchema} from '../fast-validate.js'
import {type ResultFile, resultFileSchema} from '../schema.js'
import type {ImportContext, PeerFormat} from './common.js'
import {importGuideLlm, looksLikeGuideLlmReport} from './guidellm.js'
import {importLlamaBench} from './llama-bench.js'
import {importVllm, looksLikeVllmResult} from './vllm.js'

export type ResultFormat = 'capplan' | PeerFormat

export interface LoadedResult {
  /** The file (with " #2" etc. when one peer file held several configurations). */
  source: string
  format: ResultFormat
  result: ResultFile
}

const looksLikeLlamaBenchRow = (value: unknown) =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && 'avg_ts' in value && 'n_gen' in value && 'build_commit' in value

const unrecognized = (source: string, what: string) =>
  invalidResult(
    `${source} is not a capplan result file nor a peer file capplan recognizes (${what}).`,
    'Pass a file written by capplan bench, llama-bench -o json|jsonl, vllm bench serve --save-result, or GuideLLM (benchmarks.json).',
  )

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

  // capplan writes schemaVersion first: skip the second JSON.parse for its own files (report reads thousands).
  if (/^\s*\{\s*"schemaVersion"\s*:/.test(text.slice(0, 200))) return one('capplan', parseResultFile(text, source))
  const whole = tryParse(text)

  if (whole.ok) {
    const value = whole.value
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      if ('schemaVersion' in value) return one('capplan', parseResultFile(text, source))
      if (looksLikeGuideLlmReport(value)) return one('guidellm', importGuideLlm(value, text, source, context))
      if (looksLikeVllmResult(value)) return one('vllm', importVllm([value], text, source, context))
      if (looksLikeLlamaBenchRow(value)) return many('llama-bench', importLlamaBench(text, source, context))
      const keys = Object.keys(value).slice(0, 6)
      throw unrecognized(source, `a JSON object with ${keys.length === 0 ? 'no fields' : `fields ${keys.map((key) => `"${key}"`).join(', ')}`}`)
    }
    if (Array.isArray(value)) {
      if (value.length > 0 && looksLikeLlamaBenchRow(value[0])) return many('llama-bench', importLlamaBench(text, source, context))
      throw unrecognized(source, value.length === 0 ? 'an empty JSON array' : 'a JSON array whose first element is not a llama-bench row')
    }
    throw unrecognized(source, `a JSON ${value === null ? 'null' : typeof value}`)
  }

  // Not one JSON document: JSON lines (llama-bench -o jsonl, vLLM --append-result), or damaged.
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '')
  const first = lines.length > 0 ? tryParse(lines[0]!) : {ok: false as const}
  if (lines.length > 1 && first.ok) {
    if (looksLikeLlamaBenchRow(first.value)) return many('llama-bench', importLlamaBench(text, source, context))
    if (looksLikeVllmResult(first.value)) {
      const values = lines.map((line, index) => {
        const parsed = tryParse(line)
        if (!parsed.ok) throw invalidResult(`${source} line ${index + 1} is not valid JSON (truncated file?).`, 'Re-run vllm bench serve --save-result --append-result, or remove the damaged line.')
        return parsed.value
      })
      return one('vllm', importVllm(values, text, source, context))
    }
  }
  // A damaged capplan file gets read.ts's precise JSON message (line, column, "truncated").
  if (text.trimStart().startsWith('{') || text.trim() === '') return one('capplan', parseResultFile(text, source))
  throw unrecognized(source, 'not JSON')
}

/** Read one file from disk (capplan's or a peer's) and parse it, detecting the format by content. */
export async function loadAnyResult(path: string, context: ImportContext): Promise<LoadedResult[]> {
  return parseAnyResult(readResultText(path), path, context)
}
