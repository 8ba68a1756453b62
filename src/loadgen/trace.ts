import {createHash} from 'node:crypto'
import {readFile, stat} from 'node:fs/promises'

import {CapplanError, invalidInput, notFound} from '../lib/errors.js'

/**
 * `--trace FILE`: a request trace in the Mooncake format (github.com/kvcache-ai/Mooncake, FAST'25 traces), one
 * JSON object per line:
 *   {"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47, 48, 49]}
 * timestamp = ms since the trace's start; hash_ids = one id per block of prompt tokens (512 in Mooncake's
 * traces, --trace-block-tokens otherwise), equal ids = equal blocks, chained (an id names its whole prefix).
 * Other fields are ignored. Timestamps must not decrease. Files over 256 MiB are refused before reading.
 */

export const TRACE_MAX_BYTES = 256 * 1024 ** 2

export interface TraceRequest {
  /** ms from the trace's start. */
  timestampMs: number
  inputLength: number
  outputLength: number
  hashIds: number[]
}

export interface Trace {
  file: string
  sha256: string
  requests: TraceRequest[]
}

const isCount = (value: unknown, min: number): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= min

/** Parse one non-blank trace line; throws invalidInput naming file:line and the field. */
export function parseTraceLine(content: string, where: string): TraceRequest {
  const shape = 'Each line must be {"timestamp": ms, "input_length": n, "output_length": n, "hash_ids": [ids]} (Mooncake format).'
  let value: unknown
  try {
    value = JSON.parse(content)
  } catch {
    throw invalidInput(`${where} is not valid JSON.`, shape)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidInput(`${where} is not a JSON object.`, shape)
  const line = value as Record<string, unknown>
  const timestamp = line.timestamp
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || timestamp < 0) {
    throw invalidInput(`${where}: "timestamp" must be a number of ms >= 0, got ${JSON.stringify(timestamp)}.`, shape)
  }
  for (const field of ['input_length', 'output_length'] as const) {
    if (!isCount(line[field], 1)) throw invalidInput(`${where}: "${field}" must be a whole number >= 1, got ${JSON.stringify(line[field])}.`, shape)
  }
  const hashIds = line.hash_ids ?? []
  if (!Array.isArray(hashIds) || !hashIds.every((id) => isCount(id, 0))) {
    throw invalidInput(`${where}: "hash_ids" must be an array of whole numbers >= 0.`, shape)
  }
  return {timestampMs: timestamp, inputLength: line.input_length as number, outputLength: line.output_length as number, hashIds: hashIds as number[]}
}

/** Parse a whole trace text (file = the name errors use). */
export function parseTrace(text: string, file: string): TraceRequest[] {
  const requests: TraceRequest[] = []
  for (const [i, content] of text.split('\n').entries()) {
    if (content.trim() === '') continue
    const request = parseTraceLine(content, `${file}:${i + 1}`)
    const previous = requests.at(-1)
    if (previous !== undefined && request.timestampMs < previous.timestampMs) {
      throw invalidInput(
        `${file}:${i + 1}: timestamp ${request.timestampMs} is before the previous line's ${previous.timestampMs}.`,
        'Sort the trace by timestamp (e.g. jq -s -c "sort_by(.timestamp)[]").',
      )
    }
    requests.push(request)
  }
  if (requests.length === 0) throw invalidInput(`${file} holds no requests.`, 'Give a JSONL trace with one request per line.')
  return requests
}

export async function loadTrace(file: string, flag = '--trace'): Promise<Trace> {
  let size: number
  try {
    size = (await stat(file)).size
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw notFound(`${flag} ${file} does not exist.`, 'Pass the path of a JSONL trace file.')
    throw new CapplanError('INVALID_INPUT', `${flag} ${file} cannot be read: ${(error as Error).message}`, 'Check the path and its permissions.')
  }
  if (size > TRACE_MAX_BYTES) {
    throw invalidInput(
      `${flag} ${file} is ${(size / 1024 ** 2).toFixed(0)} MiB; at most ${TRACE_MAX_BYTES / 1024 ** 2} MiB is read.`,
      'Cut the trace to the window to replay (head -n N).',
    )
  }
  const bytes = await readFile(file)
  return {file, sha256: createHash('sha256').update(bytes).digest('hex'), requests: parseTrace(bytes.toString('utf8'), file)}
}
