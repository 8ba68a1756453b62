import {writeFile} from 'node:fs/promises'
import path from 'node:path'

import {Args, Flags} from '@oclif/core'

import {invalidInput} from '../lib/errors.js'
import {CapplanCommand} from '../cli/base-command.js'
import {loadProfiles} from '../profiles/store.js'
import {quantLevels} from '../profiles/schema.js'
import {loadAnyResult} from '../results/import/load.js'
import type {ResultFile} from '../results/schema.js'
import {serializeResultFile, writeResultFile} from '../results/write.js'
import {resultFileSchema} from '../results/schema.js'
import {formatSchemaIssues} from '../results/read.js'
import {DEFAULT_RESULTS_DIR} from '../services/report/collect.js'

export interface ImportPayload {
  source: string
  format: string
  written: {path: string; id: string; levels: number; notes: string[]}[]
}

export default class Import extends CapplanCommand<typeof Import> {
  static override summary = "Convert a peer's result file (llama-bench, vLLM bench serve, GuideLLM) into a capplan result file."

  static override description = `The format is detected from the content. Metrics are converted to capplan's definitions (GuideLLM's "TPOT" includes TTFT; vLLM's arrays are in seconds; llama-bench is single-stream) and the file is marked imported: its notes say where it came from, what was converted and what the source lacks. Placeholders (host, GPU count, quantization when the source does not say) are named in the notes; --model, --quant, --gpu and --gpus set what you know.

Without --out the file goes to results/ under capplan's usual name; nothing is ever overwritten. \`capplan report\` and \`capplan compare\` also read peer files directly.`

  static override examples = [
    {description: 'A llama-bench run', command: '<%= config.bin %> <%= command.id %> llama_bench.json'},
    {
      description: 'A vLLM run on 2 H100s, to a chosen file',
      command: '<%= config.bin %> <%= command.id %> vllm-result.json --gpu h100-sxm --gpus 2 --out results/vllm-h100.json',
    },
  ]

  static override args = {
    file: Args.string({description: 'The peer result file.', required: true}),
  }

  static override flags = {
    out: Flags.string({char: 'o', summary: 'Write here (refused if it exists). Several configurations in one file get -2, -3, ... added.', helpValue: 'FILE'}),
    model: Flags.string({summary: 'Model profile id of the run (when the source names its model differently).', helpValue: 'ID'}),
    quant: Flags.option({options: quantLevels, summary: 'Quantization level of the run.'})(),
    gpu: Flags.string({summary: 'GPU profile id the run used (report prices with it).', helpValue: 'ID'}),
    gpus: Flags.integer({min: 0, max: 1024, summary: 'GPUs one replica used (0 = CPU only).', helpValue: 'N'}),
  }

  private applyOverrides(result: ResultFile, store: Awaited<ReturnType<typeof loadProfiles>>): ResultFile {
    const set: string[] = []
    const next: ResultFile = structuredClone(result)
    if (this.flags.model !== undefined) {
      const model = store.get('model', this.flags.model)
      next.model.profile = model.id
      next.model.paramsB = model.params.totalB
      set.push(`--model ${model.id}`)
    }
    if (this.flags.quant !== undefined) {
      next.model.quant = this.flags.quant
      set.push(`--quant ${this.flags.quant}`)
    }
    if (this.flags.gpu !== undefined) {
      next.gpuProfile = store.get('gpu', this.flags.gpu).id
      set.push(`--gpu ${this.flags.gpu}`)
    }
    if (this.flags.gpus !== undefined) {
      next.engine.gpuCount = this.flags.gpus
      set.push(`--gpus ${this.flags.gpus}`)
    }
    if (set.length > 0) next.notes.push(`set by capplan import: ${set.join(' ')}`)
    const checked = resultFileSchema.safeParse(next)
    if (!checked.success) {
      throw invalidInput(`The imported result does not validate: ${formatSchemaIssues(checked.error.issues)}`, 'Check --model/--quant/--gpu/--gpus.')
    }
    return checked.data
  }

  public async run(): Promise<ImportPayload> {
    const store = await loadProfiles({userDir: this.flags.profiles})
    const source = this.args.file
    const loaded = await loadAnyResult(source, {capplanVersion: this.config.version, command: `capplan import ${source}`, store})
    const format = loaded[0]!.format
    if (format === 'capplan') {
      throw invalidInput(`${source} is already a capplan result file.`, 'Pass it to capplan report or capplan compare as it is.')
    }
    const written: ImportPayload['written'] = []
    for (const [index, {result: imported}] of loaded.entries()) {
      const result = this.applyOverrides(imported, store)
      let target: string
      if (this.flags.out === undefined) {
        target = await writeResultFile(DEFAULT_RESULTS_DIR, result)
      } else {
        const parsed = path.parse(this.flags.out)
        target = index === 0 ? this.flags.out : path.join(parsed.dir, `${parsed.name}-${index + 1}${parsed.ext || '.json'}`)
        try {
          await writeFile(target, serializeResultFile(result), {flag: 'wx'})
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code
          if (code === 'EEXIST') throw invalidInput(`${target} already exists; capplan never overwrites a result file.`, 'Choose another --out, or leave it out to write into results/.')
          if (code === 'ENOENT') throw invalidInput(`Cannot write ${target}: its directory does not exist.`, 'Create the directory first, or choose another --out.')
          throw error
        }
      }
      written.push({path: target, id: result.id, levels: result.levels.length, notes: result.notes})
      this.info(`Imported ${source} (${format}) -> ${target}`)
    }
    if (!this.jsonEnabled()) for (const note of written.flatMap((w) => w.notes)) this.log(`  ${note}`)
    return {source, format, written}
  }
}
