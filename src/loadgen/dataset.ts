import {createReadStream} from 'node:fs'
import {stat} from 'node:fs/promises'
import readline from 'node:readline'

import {CapplanError, invalidInput, notFound} from '../lib/errors.js'

/**
 * `--dataset FILE.jsonl`: text prompts, one JSON object per line. Each line holds exactly one of
 *   {"prompt": "Summarize the following ..."}
 *   {"messages": [{"role": "system", "content": "..."}, {"role": "user", "content": "..."}]}
 * Other fields (ids, reference answers, ...) are ignored, so common dataset exports load as they are. Blank
 * lines are skipped. `messages` are sent as one text: the contents joined by blank lines (capplan measures
 * serving speed; the engine's usage reports the real prompt token count, so a chat template's few extra
 * tokens are counted where they occur).
 * Output length stays fixed by --output-tokens with EOS ignored; the prompts only set the input side.
 *
 * Files over 1 GiB are refused before reading (a benchmark needs thousands of prompts, not a corpus); the file
 * is read line by line, so no single string approaches V8's string limit.
 */

export const DATASET_MAX_BYTES = 1024 ** 3

export interface DatasetPrompt {
  /** 1-based line of the file the prompt came from (for messages that name it). */
  line: number
  text: string
}

export interface Dataset {
  file: string
  prompts: DatasetPrompt[]
}

/** Parse one non-blank JSONL line into prompt text; throws invalidInput naming file:line. */
export function parseDatasetLine(content: string, file: string, line: number): string {
  const where = `${file}:${line}`
  const shape = 'Each line must be a JSON object with "prompt": "text" or "messages": [{"role": "user", "content": "text"}].'
  let value: unknown
  try {
    value = JSON.parse(content)
  } catch (error) {
    throw invalidInput(`${where}: not valid JSON (${error instanceof Error ? error.message : String(error)}).`, shape)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidInput(`${where}: expected a JSON object, found ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}.`, shape)
  }
  const record = value as Record<string, unknown>
  const hasPrompt = record.prompt !== undefined
  const hasMessages = record.messages !== undefined
  if (hasPrompt && hasMessages) throw invalidInput(`${where}: has both "prompt" and "messages".`, 'Keep one of them per line.')
  if (hasPrompt) {
    if (typeof record.prompt !== 'string') throw invalidInput(`${where}: "prompt" must be a string, found ${typeof record.prompt}.`, shape)
    if (record.prompt.trim().length === 0) throw invalidInput(`${where}: "prompt" is empty.`, 'Remove the line or give it text.')
    return record.prompt
  }
  if (hasMessages) {
    if (!Array.isArray(record.messages) || record.messages.length === 0) {
      throw invalidInput(`${where}: "messages" must be a non-empty array.`, shape)
    }
    const contents: string[] = []
    for (const [i, message] of record.messages.entries()) {
      const entry = message as Record<string, unknown> | null
      if (typeof entry !== 'object' || entry === null || typeof entry.role !== 'string' || typeof entry.content !== 'string') {
        throw invalidInput(`${where}: messages[${i}] needs a string "role" and a string "content".`, shape)
      }
      contents.push(entry.content)
    }
    const text = contents.join('\n\n')
    if (text.trim().length === 0) throw invalidInput(`${where}: every message's content is empty.`, 'Remove the line or give it text.')
    return text
  }
  throw invalidInput(`${where}: has neither "prompt" nor "messages".`, shape)
}

/**
 * Read a dataset. Throws notFound for a missing file, invalidInput for a file over `maxBytes` (checked
 * before reading), a bad line (file:line), or a file without prompts.
 */
export async function loadDataset(file: string, options: {flag?: string; maxBytes?: number} = {}): Promise<Dataset> {
  const flag = options.flag ?? '--dataset'
  const maxBytes = options.maxBytes ?? DATASET_MAX_BYTES
  let size: number
  try {
    const info = await stat(file)
    if (!info.isFile()) throw invalidInput(`${flag} ${file} is not a file.`, 'Point it at a .jsonl file.')
    size = info.size
  } catch (error) {
    if (error instanceof CapplanError) throw error
    const code = (error as NodeJS.ErrnoException).code
    // ENOTDIR: a path through a file ("data.jsonl/x") does not exist either.
    if (code === 'ENOENT' || code === 'ENOTDIR') throw notFound(`${flag}: ${file} does not exist.`, 'Check the path.')
    throw unreadable(flag, file, error)
  }
  if (size > maxBytes) {
    throw invalidInput(
      `${flag} ${file} is ${formatBytes(size)}, over the ${formatBytes(maxBytes)} limit.`,
      'A benchmark needs a few thousand prompts: take a sample, e.g. head -n 5000 FILE > sample.jsonl.',
    )
  }
  const prompts: DatasetPrompt[] = []
  const lines = readline.createInterface({input: createReadStream(file, {encoding: 'utf8'}), crlfDelay: Infinity})
  let line = 0
  try {
    for await (const content of lines) {
      line++
      // A UTF-8 byte order mark on the first line is not part of the JSON.
      const text = line === 1 ? content.replace(/^\uFEFF/, '') : content
      if (text.trim().length === 0) continue
      prompts.push({line, text: parseDatasetLine(text, file, line)})
    }
  } catch (error) {
    // A read error (permission, I/O) surfaces here from the stream, not from stat.
    throw error instanceof CapplanError ? error : unreadable(flag, file, error)
  } finally {
    lines.close()
  }
  if (prompts.length === 0) throw invalidInput(`${flag} ${file} holds no prompts.`, 'Add JSON lines like {"prompt": "text"}.')
  return {file, prompts}
}

/**
 * The prompt of request `index` (0-based over the run, warmup included). Refuses to reuse a prompt: a repeat
 * would let the engine's prefix cache skip the prefill and inflate throughput (metrics.md trap 1).
 */
export function datasetPrompt(dataset: Dataset, index: number): string {
  const prompt = dataset.prompts[index]
  if (prompt === undefined) {
    throw invalidInput(
      `${dataset.file} holds ${dataset.prompts.length} prompts but the run needs at least ${index + 1}; repeating one would let prefix caching skip its prefill.`,
      'Use a larger dataset, or fewer --requests / a shorter --duration.',
    )
  }
  return prompt.text
}

function unreadable(flag: string, file: string, error: unknown): CapplanError {
  const code = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error))
  return invalidInput(`${flag} ${file} cannot be read (${code}).`, "Check the file's permissions, or copy it somewhere readable.")
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GiB`
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`
  return `${bytes} bytes`
}
