/**
 * The llama-bench FILE FORMAT (`-o json` / `-o jsonl`): its row schema and the parser of its output. Shared by
 * the importer (./llama-bench.ts) and the engine that runs llama-bench (src/engines/llamacpp/llama-bench.ts),
 * which imports it from here: results/import never imports engines.
 */

import {z} from 'zod'

import {invalidResult} from '../../lib/errors.js'

/**
 * One row of `llama-bench -o json|jsonl`: one test (ppN, tgN or pp+tg) of one parameter combination.
 * Only what capplan reads is required; llama-bench adds fields between versions, so extra ones pass through.
 */
export const llamaBenchRowSchema = z.looseObject({
  build_commit: z.string(),
  build_number: z.number().int(),
  cpu_info: z.string(),
  gpu_info: z.string(),
  backends: z.string(),
  model_filename: z.string(),
  model_type: z.string(),
  model_size: z.number().nonnegative(),
  model_n_params: z.number().nonnegative(),
  n_batch: z.number().int(),
  n_ubatch: z.number().int(),
  n_threads: z.number().int(),
  type_k: z.string(),
  type_v: z.string(),
  n_gpu_layers: z.number().int(),
  // A boolean in older llama-bench builds, -1/0/1 (auto/off/on) in newer ones.
  flash_attn: z.union([z.number().int(), z.boolean()]),
  n_prompt: z.number().int().nonnegative(),
  n_gen: z.number().int().nonnegative(),
  n_depth: z.number().int().nonnegative().default(0),
  test_time: z.string(),
  avg_ns: z.number().nonnegative(),
  stddev_ns: z.number().nonnegative(),
  /** Mean tokens per second over the repetitions. */
  avg_ts: z.number().nonnegative(),
  stddev_ts: z.number().nonnegative(),
  samples_ns: z.array(z.number()).default([]),
  samples_ts: z.array(z.number()).default([]),
})
export type LlamaBenchRow = z.infer<typeof llamaBenchRowSchema>

/** llama-bench's own test label: pp512, tg128, pp512+tg128, with " @ d4096" for a prefilled depth. */
export function llamaBenchTestName(row: Pick<LlamaBenchRow, 'n_prompt' | 'n_gen' | 'n_depth'>): string {
  const parts: string[] = []
  if (row.n_prompt > 0) parts.push(`pp${row.n_prompt}`)
  if (row.n_gen > 0) parts.push(`tg${row.n_gen}`)
  const name = parts.join('+')
  return row.n_depth > 0 ? `${name} @ d${row.n_depth}` : name
}

/**
 * Parse llama-bench output in either machine format: `-o json` (one array) or `-o jsonl` (one object per
 * line). `source` names the file (or command) in error messages.
 */
export function parseLlamaBenchOutput(text: string, source: string): LlamaBenchRow[] {
  const trimmed = text.trim()
  if (trimmed === '') {
    throw invalidResult(
      `${source} holds no llama-bench rows (it is empty).`,
      'Produce it with `llama-bench ... -o json` or `-o jsonl`.',
    )
  }
  return trimmed.startsWith('[') ? parseJsonArray(trimmed, source) : parseJsonLines(text, source)
}

function parseJsonArray(text: string, source: string): LlamaBenchRow[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw invalidResult(
      `${source} is not valid JSON: ${(error as Error).message}.`,
      'Pass the complete output of `llama-bench -o json` (a truncated run leaves the array unclosed).',
    )
  }
  if (!Array.isArray(parsed)) {
    throw invalidResult(`${source} is not a JSON array of llama-bench rows.`, 'Produce it with `llama-bench -o json`.')
  }
  return parsed.map((value, index) => validateRow(value, `${source} row ${index + 1}`))
}

function parseJsonLines(text: string, source: string): LlamaBenchRow[] {
  const rows: LlamaBenchRow[] = []
  const lines = text.split(/\r?\n/)
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue
    const where = `${source} line ${index + 1}`
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch (error) {
      throw invalidResult(
        `${where} is not valid JSON: ${(error as Error).message}.`,
        'Pass the output of `llama-bench -o jsonl` (one JSON object per line) or `-o json`.',
      )
    }
    rows.push(validateRow(parsed, where))
  }
  return rows
}

/**
 * llama-bench builds before the `backends` field (mid-2024 and older, and forks such as ik_llama.cpp) record
 * one boolean per backend (cuda, vulkan, metal, sycl, kompute, gpu_blas, blas): the backend name is derived
 * from them ("CPU" when none is set), so such rows read like current ones.
 */
const legacyBackendFlags = [
  ['cuda', 'CUDA'], ['vulkan', 'Vulkan'], ['metal', 'Metal'], ['sycl', 'SYCL'], ['kompute', 'Kompute'], ['gpu_blas', 'GPU BLAS'], ['blas', 'BLAS'],
] as const

export function withLegacyBackends(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || 'backends' in value) return value
  const row = value as Record<string, unknown>
  if (!legacyBackendFlags.some(([flag]) => typeof row[flag] === 'boolean')) return value
  const names = legacyBackendFlags.filter(([flag]) => row[flag] === true).map(([, name]) => name)
  return {...row, backends: names.length === 0 ? 'CPU' : names.join(',')}
}

function validateRow(value: unknown, where: string): LlamaBenchRow {
  const result = llamaBenchRowSchema.safeParse(withLegacyBackends(value))
  if (result.success) return result.data
  const issue = result.error.issues[0]
  const field = issue === undefined || issue.path.length === 0 ? '(the row itself)' : issue.path.join('.')
  throw invalidResult(
    `${where}: field ${field} is invalid: ${issue?.message ?? 'unknown problem'}.`,
    'This is not a llama-bench row capplan understands; re-run llama-bench with -o json or -o jsonl.',
  )
}
