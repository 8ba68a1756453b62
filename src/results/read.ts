import {readFileSync, statSync} from 'node:fs'

import type {z} from 'zod'

import {CapplanError, invalidResult, notFound} from '../lib/errors.js'
import {certainlyMatchesResultFileSchema, certainlyMatchesResultFileV1Schema, certainlyMatchesResultFileV2Schema} from './fast-validate.js'
import {type ResultFile, readableSchemaVersions, resultFileSchema, resultFileV1Schema, resultFileV2Schema} from './schema.js'
import {upgradeV1, upgradeV2} from './upgrade.js'

/** Result files above this are refused before being read whole (a bench run of hours stays far below). */
export const MAX_RESULT_FILE_BYTES = 256 * 1024 * 1024

const MAX_ISSUES_SHOWN = 5

/** zod path -> `levels[0].summary.ttftMs.p50` */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let text = ''
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) text += text.length === 0 ? key : `.${key}`
    else text += `[${JSON.stringify(String(key))}]`
  }
  return text.length === 0 ? '(top level)' : text
}

/** "levels[0].summary.ttftMs.p50: expected number, received string; ..." (first few issues, then a count). */
export function formatSchemaIssues(issues: readonly z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, MAX_ISSUES_SHOWN).map((issue) => {
    let message = issue.message.replace(/^Invalid input: /, '')
    if (issue.code === 'unrecognized_keys') message = `unknown field(s) ${issue.keys.map((key) => `"${key}"`).join(', ')}`
    return `${formatIssuePath(issue.path)}: ${message}`
  })
  const more = issues.length > MAX_ISSUES_SHOWN ? `; and ${issues.length - MAX_ISSUES_SHOWN} more` : ''
  return shown.join('; ') + more
}

/** Node's JSON.parse message carries "position N"; turn it into line:column for a person. */
function describeJsonError(text: string, error: Error): string {
  const position = /position (\d+)/.exec(error.message)
  if (position === null) {
    return /end of JSON input|Unterminated/i.test(error.message) ? 'the JSON ends early (truncated file?)' : error.message
  }
  const offset = Number(position[1])
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  const column = offset - before.lastIndexOf('\n')
  return `${error.message.replace(/\s*\(line \d+ column \d+\)$/, '')} (line ${line}, column ${column})`
}

/**
 * Parse and validate the text of a result file. `source` names the file in every error. A version 1 file is
 * (or 2) is validated against its own schema, then upgraded: the result is always the current version.
 * Throws invalidResult for: not JSON, not an object, no/unknown schemaVersion, schema violations (with paths).
 */
export function parseResultFile(text: string, source: string): ResultFile {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (error) {
    throw invalidResult(
      `${source} is not valid JSON: ${describeJsonError(text, error as Error)}.`,
      'Re-run the benchmark, or pass a capplan result file (peer files: capplan import).',
    )
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw invalidResult(
      `${source} is not a capplan result file: expected a JSON object, found ${Array.isArray(data) ? 'an array' : typeof data}.`,
      'Pass a file written by capplan bench (peer files: capplan import).',
    )
  }
  const version = (data as Record<string, unknown>)['schemaVersion']
  const readable = `${readableSchemaVersions.slice(0, -1).join(', ')} and ${readableSchemaVersions.at(-1)}`
  if (version === undefined) {
    throw invalidResult(
      `${source} has no schemaVersion: it is not a capplan result file.`,
      'Pass a file written by capplan bench; llama-bench, vLLM and GuideLLM files go through capplan import.',
    )
  }
  if (!(readableSchemaVersions as readonly unknown[]).includes(version)) {
    const newer = typeof version === 'number' && version > Math.max(...readableSchemaVersions)
    throw invalidResult(
      `${source} has schemaVersion ${JSON.stringify(version)}; this capplan reads schemaVersion ${readable}.`,
      newer ? 'The file was written by a newer capplan: upgrade capplan to read it.' : 'The file is damaged or not a capplan result file.',
    )
  }
  // Fast path: a plain-code check never more lenient than the schema (see fast-validate.ts); when it is not certain,
  // zod decides and names the paths. JSON.parse's fresh objects are returned as they are (zod would copy them).
  if (version === 1) {
    if (certainlyMatchesResultFileV1Schema(data)) return upgradeV1(data)
    return upgradeV1(validated(resultFileV1Schema, data, source, version))
  }
  if (version === 2) {
    if (certainlyMatchesResultFileV2Schema(data)) return upgradeV2(data)
    return upgradeV2(validated(resultFileV2Schema, data, source, version))
  }
  if (certainlyMatchesResultFileSchema(data)) return data
  return validated(resultFileSchema, data, source, version)
}

function validated<T>(schema: z.ZodType<T>, data: unknown, source: string, version: unknown): T {
  const parsed = schema.safeParse(data)
  if (!parsed.success) {
    throw invalidResult(
      `${source} does not match the result-file schema (version ${String(version)}): ${formatSchemaIssues(parsed.error.issues)}`,
      'The file was edited or damaged; re-run the benchmark or restore the file.',
    )
  }
  return parsed.data
}

/**
 * The text of one result file (capplan's or a peer's), refusing missing files, non-files and files over
 * 256 MiB before reading them. Synchronous on purpose: report reads thousands of files one after another, and
 * each async round trip through libuv's pool (one thread in capplan, see bin/run.js) cost more than the read.
 */
export function readResultText(path: string): string {
  let size: number
  try {
    const info = statSync(path)
    if (!info.isFile()) throw invalidResult(`${path} is not a file.`, 'Pass a result file (.json) or, to report, a directory of them.')
    size = info.size
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    // ENOTDIR: a path through a file ("run.json/x") does not exist either (it escaped as a raw Error).
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw notFound(`Result file ${path} does not exist.`, 'Check the path; result files are in results/ by default.')
    }
    if (error instanceof CapplanError || code === undefined) throw error
    throw invalidResult(`Result file ${path} cannot be read (${code}).`, 'Check the file\'s permissions.')
  }
  if (size > MAX_RESULT_FILE_BYTES) {
    throw invalidResult(
      `${path} is ${(size / 1024 / 1024).toFixed(0)} MiB; capplan reads result files up to ${MAX_RESULT_FILE_BYTES / 1024 / 1024} MiB.`,
      'This is not a result file (or it is damaged); check the path.',
    )
  }
  return readFileSync(path, 'utf8')
}

/** Read and validate one capplan result file. */
export async function readResultFile(path: string): Promise<ResultFile> {
  return parseResultFile(readResultText(path), path)
}
