/**
 * The bench plan of an offline kit (`capplan pack --plan FILE`): ONE zod schema for the file, and its reader.
 * YAML or JSON (YAML reads both). Every problem names the file and the field.
 */

import {readFile} from 'node:fs/promises'

import YAML from 'yaml'
import {z} from 'zod'

import {invalidInput, notFound} from '../../lib/errors.js'

const count = (what: string) =>
  z
    .number({error: `${what} must be a whole number`})
    .int({error: `${what} must be a whole number`})
    .positive({error: `${what} must be above 0`})

export const packPlanSchema = z
  .object({
    /** Model profile id (built-in or from the --profiles directory packed with it). */
    model: z.string().min(1),
    /** Quantization levels, most valuable first: the first is measured first. */
    quants: z
      .array(z.enum(['int4', 'int8', 'fp16']))
      .min(1)
      .max(3),
    /** The concurrency ladder (any order; measured lowest and highest first, then the rest). */
    concurrency: z.array(count('a concurrency')).min(1).max(16),
    inputTokens: count('inputTokens'),
    outputTokens: count('outputTokens'),
    /** The whole run's time budget in seconds, from host check to summary (`pack --budget` overrides it). */
    budgetSeconds: count('budgetSeconds').optional(),
    /** How long each concurrency level is measured. */
    levelSeconds: count('levelSeconds').default(20),
    /** Allowance per bench run for synthesizing the model, starting llama-server and the warmup. */
    setupSeconds: count('setupSeconds').default(60),
    /** GPU profile that costs the results on a GPU host (on a host without nvidia-smi: the cpu profile). */
    gpu: z.string().min(1).optional(),
  })
  .strict()
export type PackPlan = z.infer<typeof packPlanSchema>

/** Read and check a plan file; a missing file is NOT_FOUND (exit 4), anything wrong inside INVALID_INPUT (exit 3). */
export async function readPackPlan(file: string): Promise<PackPlan> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw notFound(
      `--plan ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)}).`,
      'Give the path of a plan file (YAML or JSON; see README "Offline kit").',
    )
  }
  let data: unknown
  try {
    data = YAML.parse(text)
  } catch (error) {
    throw invalidInput(`--plan ${file}: not YAML or JSON: ${(error as Error).message.split('\n')[0]}`, 'Fix the syntax; a plan is one mapping (see README "Offline kit").')
  }
  return parsePackPlan(data, file)
}

/** The checked plan, or INVALID_INPUT naming the first problem's field. */
export function parsePackPlan(data: unknown, file: string): PackPlan {
  const parsed = packPlanSchema.safeParse(data)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const field = issue.path.length === 0 ? '(top level)' : issue.path.join('.')
    throw invalidInput(
      `--plan ${file}: ${field}: ${issue.message}.`,
      'A plan has model, quants, concurrency, inputTokens, outputTokens and optionally budgetSeconds, levelSeconds, setupSeconds, gpu (see README "Offline kit").',
    )
  }
  const ladder = parsed.data.concurrency
  if (new Set(ladder).size !== ladder.length) throw invalidInput(`--plan ${file}: concurrency: ${ladder.join(', ')} lists a level twice.`, 'List each concurrency once.')
  if (new Set(parsed.data.quants).size !== parsed.data.quants.length)
    throw invalidInput(`--plan ${file}: quants: ${parsed.data.quants.join(', ')} lists a quant twice.`, 'List each quant once.')
  return parsed.data
}
