import {Flags} from '@oclif/core'

import {ensureSyntheticModel, estimateSyntheticFileBytes, syntheticFormatFor, type SynthResult} from '../../gguf/synth.js'
import {CapplanCommand} from '../../cli/base-command.js'
import {loadProfiles} from '../../profiles/store.js'
import {quantLevels} from '../../profiles/schema.js'

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`

export default class ModelSynth extends CapplanCommand<typeof ModelSynth> {
  static override summary = 'Write a random-weight GGUF with a model profile\'s exact architecture.'

  static override description =
    'The file has every tensor llama.cpp loads for the model, at its real sizes, in the quant\'s format ' +
    '(int4 = Q4_0, int8 = Q8_0, fp16 = F16), so it runs as fast as the real model would — without a download. ' +
    'Deterministic for a seed; cached in the user cache dir (CAPPLAN_CACHE_DIR overrides it) and reused on the ' +
    'next run. Checks free disk and memory before writing.'

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --model qwen2.5-0.5b --quant int8',
    '<%= config.bin %> <%= command.id %> --model llama-3.1-8b --quant int4 -o llama8b-q4_0.gguf --seed 7',
    '<%= config.bin %> <%= command.id %> --model qwen2.5-0.5b --json',
  ]

  static override flags = {
    model: Flags.string({char: 'm', description: 'Model profile id (capplan profiles list --kind model).', default: 'qwen2.5-0.5b'}),
    quant: Flags.option({options: quantLevels, description: 'Quantization level.', default: 'int4' as const})(),
    output: Flags.string({char: 'o', description: 'Write to this file instead of the cache.'}),
    seed: Flags.integer({description: 'Seed of the random weights.', default: 42, min: 0, max: 2 ** 32 - 1}),
    force: Flags.boolean({description: 'Rewrite even when a matching file exists (and overwrite a file at --output).', default: false}),
  }

  public async run(): Promise<SynthResult> {
    const {model, quant, output, seed, force} = this.flags
    const store = await loadProfiles({userDir: this.flags.profiles})
    const profile = store.get('model', model)
    const format = syntheticFormatFor(profile, quant)
    const estimate = estimateSyntheticFileBytes(profile, quant)
    const showProgress = !this.jsonEnabled() && process.stderr.isTTY === true
    let lastDrawn = 0
    const onProgress = (done: number, total: number) => {
      if (!showProgress) return
      const now = Date.now()
      if (now - lastDrawn < 200 && done < total) return
      lastDrawn = now
      process.stderr.write(`\rWriting ${mib(done)} / ${mib(total)} (${((done / total) * 100).toFixed(0)}%)`)
    }
    this.info(`${profile.id} at ${quant} (${format}, seed ${seed}): ${mib(estimate)}`)
    const result = await ensureSyntheticModel({profile, quant, seed, outFile: output, force, onProgress})
    if (showProgress && !result.reused) process.stderr.write('\n')
    if (!this.jsonEnabled()) {
      this.log(`${result.reused ? 'Reused' : 'Wrote'} ${result.path}`)
      this.log(`  ${result.format}, ${mib(result.bytes)} (${result.bytes} bytes), seed ${result.seed}`)
      this.log(`  sha256 ${result.sha256}`)
    }
    return result
  }
}
