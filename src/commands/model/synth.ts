import {integerFlag} from '../../cli/flags/custom.js'
import {Flags} from '@oclif/core'

import {CapplanCommand} from '../../cli/base-command.js'
import {quantFlag} from '../../cli/flags/choices.js'
import {renderSynthResult, synthesizeModel, type SynthResult} from '../../services/model/synth.js'

export default class ModelSynth extends CapplanCommand<typeof ModelSynth> {
  static override summary = "Write a random-weight GGUF with a model profile's exact architecture."

  static override description =
    "The file has every tensor llama.cpp loads for the model, at its real sizes, in the quant's format " +
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
    quant: quantFlag({description: 'Quantization level.', default: 'int4' as const}),
    output: Flags.string({char: 'o', description: 'Write to this file instead of the cache.'}),
    seed: integerFlag({description: 'Seed of the random weights.', default: 42, min: 0, max: 2 ** 32 - 1}),
    force: Flags.boolean({description: 'Rewrite even when a matching file exists (and overwrite a file at --output).', default: false}),
  }

  public async run(): Promise<SynthResult> {
    const {model, quant, output, seed, force} = this.flags
    const result = await synthesizeModel(
      {profilesDir: this.flags.profiles, model, quant, output, seed, force},
      {info: (message) => this.info(message), showProgress: !this.jsonEnabled() && process.stderr.isTTY === true},
    )
    if (!this.jsonEnabled()) for (const line of renderSynthResult(result)) this.log(line)
    return result
  }
}
