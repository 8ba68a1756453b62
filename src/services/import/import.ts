/**
 * `capplan import`: a peer's result file (llama-bench, vLLM bench serve, GuideLLM) -> capplan result files,
 * with what the user knows (--model, --quant, --gpu, --gpus) set and noted. Nothing is ever overwritten.
 */

import path from 'node:path'

import {invalidInput} from '../../lib/errors.js'
import {checkOutputPath} from '../../lib/output-path.js'
import {errnoCode, fileWriteError, writeFileComplete} from '../../lib/safe-write.js'
import {loadProfiles} from '../../profiles/load.js'
import {type ProfileStore} from '../../profiles/store.js'
import type {QuantLevel} from '../../profiles/schema.js'
import type {ServingRecord} from '../../results/serving.js'
import {weightFormats, type WeightFormatId} from '../../roofline/formats.js'
import {loadAnyResult} from '../../results/import/load.js'
import {formatSchemaIssues} from '../../results/read.js'
import {resultFileSchema, type ResultFile} from '../../results/schema.js'
import {serializeResultFile, writeResultFile} from '../../results/write.js'
import {DEFAULT_RESULTS_DIR} from '../report/collect.js'

export interface ImportPayload {
  source: string
  format: string
  written: {path: string; id: string; levels: number; notes: string[]}[]
}

export interface ImportOverrides {
  model?: string | undefined
  quant?: QuantLevel | undefined
  gpu?: string | undefined
  gpus?: number | undefined
  /** --format: the weights' precision (a weight format id); sets the quant level unless --quant says otherwise. */
  format?: WeightFormatId | undefined
  /** --serving: the serving features the run used. */
  serving?: ServingRecord | undefined
}

export interface ImportFlagValues extends ImportOverrides {
  out?: string | undefined
  profiles?: string | undefined
}

export function applyImportOverrides(result: ResultFile, store: ProfileStore, flags: ImportOverrides): ResultFile {
  const set: string[] = []
  const next: ResultFile = structuredClone(result)
  if (flags.model !== undefined) {
    const model = store.get('model', flags.model)
    next.model.profile = model.id
    next.model.paramsB = model.params.totalB
    set.push(`--model ${model.id}`)
  }
  if (flags.quant !== undefined) {
    next.model.quant = flags.quant
    set.push(`--quant ${flags.quant}`)
  }
  if (flags.gpu !== undefined) {
    next.gpuProfile = store.get('gpu', flags.gpu).id
    set.push(`--gpu ${flags.gpu}`)
  }
  if (flags.gpus !== undefined) {
    next.engine.gpuCount = flags.gpus
    set.push(`--gpus ${flags.gpus}`)
  }
  if (flags.format !== undefined) {
    const spec = weightFormats[flags.format]
    if (flags.quant !== undefined && flags.quant !== spec.quant) {
      throw invalidInput(
        `--format ${flags.format} is an ${spec.quant} format but --quant is ${flags.quant}.`,
        `Drop --quant (--format sets it), or give an ${flags.quant} format.`,
      )
    }
    next.model.format = flags.format.toUpperCase()
    next.model.quant = spec.quant
    set.push(`--format ${flags.format}`)
  }
  if (flags.serving !== undefined) {
    next.serving = {...next.serving, ...flags.serving}
    set.push(`--serving ${JSON.stringify(flags.serving)}`)
  }
  if (set.length > 0) next.notes.push(`set by capplan import: ${set.join(' ')}`)
  const checked = resultFileSchema.safeParse(next)
  if (!checked.success) {
    throw invalidInput(`The imported result does not validate: ${formatSchemaIssues(checked.error.issues)}`, 'Check --model/--quant/--gpu/--gpus.')
  }
  return checked.data
}

const OUT_RULE = {flag: '--out', what: 'the imported result', mustNotExist: true} as const

export async function importPeerFile(source: string, flags: ImportFlagValues, context: {capplanVersion: string; info: (message: string) => void}): Promise<ImportPayload> {
  // Before the source is read: a directory, a missing directory or an existing file at --out is refused.
  if (flags.out !== undefined) await checkOutputPath(flags.out, {...OUT_RULE, inputs: [source]})
  const store = await loadProfiles(flags.profiles === undefined ? {} : {userDir: flags.profiles})
  const loaded = await loadAnyResult(source, {capplanVersion: context.capplanVersion, command: ['capplan', 'import', source], store})
  const format = loaded[0]!.format
  if (format === 'capplan') {
    throw invalidInput(`${source} is already a capplan result file.`, 'Pass it to capplan report or capplan compare as it is.')
  }
  const written: ImportPayload['written'] = []
  for (const [index, {result: imported}] of loaded.entries()) {
    const result = applyImportOverrides(imported, store, flags)
    let target: string
    if (flags.out === undefined) {
      target = await writeResultFile(DEFAULT_RESULTS_DIR, result)
    } else {
      const parsed = path.parse(flags.out)
      target = index === 0 ? flags.out : path.join(parsed.dir, `${parsed.name}-${index + 1}${parsed.ext || '.json'}`)
      // Complete or nothing (a full disk: exit 7), never over an existing file (EEXIST).
      const kept = written.length === 0 ? 'Nothing was written.' : `Already written: ${written.map((w) => w.path).join(', ')}.`
      try {
        await writeFileComplete(target, serializeResultFile(result), {exclusive: true})
      } catch (error) {
        if (errnoCode(error) === 'EEXIST') {
          throw invalidInput(`--out: ${target} already exists; capplan never overwrites a file. ${kept}`, 'Choose another --out, or leave it out to write into results/.')
        }
        throw fileWriteError(error, target, {flag: '--out', what: 'the imported result', kept})
      }
    }
    written.push({path: target, id: result.id, levels: result.levels.length, notes: result.notes})
    context.info(`Imported ${source} (${format}) -> ${target}`)
  }
  return {source, format, written}
}
