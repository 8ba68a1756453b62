import {capplanFlag, integerFlag} from '../cli/flags/custom.js'
import {parseServingSpec} from '../cli/parsers/serving.js'
import {Args, Flags} from '@oclif/core'

import {CapplanCommand} from '../cli/base-command.js'
import {quantFlag, weightFormatIdFlag} from '../cli/flags/choices.js'
import {importPeerFile, type ImportPayload} from '../services/import/import.js'

export type {ImportPayload} from '../services/import/import.js'

export default class Import extends CapplanCommand<typeof Import> {
  static override summary = "Convert a peer's result file (llama-bench, vLLM bench serve, GuideLLM, SGLang bench_serving) into capplan result files."

  static override description = `The format is detected from the content. Metrics are converted to capplan's definitions (GuideLLM's "TPOT" includes TTFT from 0.3 on; vLLM's arrays are in seconds; llama-bench is single-stream; SGLang's JSONL has aggregates only) and the file is marked imported: its notes say where it came from, what was converted and what the source lacks. Placeholders (host, GPU count, quantization when the source does not say) are named in the notes; --model, --quant, --gpu and --gpus set what you know.

Without --out the file goes to results/ under capplan's usual name; nothing is ever overwritten. \`capplan report\` and \`capplan compare\` also read peer files directly.`

  static override examples = [
    {description: 'A llama-bench run', command: '<%= config.bin %> <%= command.id %> llama_bench.json'},
    {description: 'SGLang bench_serving runs on 8 H200s', command: '<%= config.bin %> <%= command.id %> online.jsonl --model llama-3.1-70b --gpu h200 --gpus 8'},
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
    quant: quantFlag({summary: 'Quantization level of the run.'}),
    gpu: Flags.string({summary: 'GPU profile id the run used (report prices with it).', helpValue: 'ID'}),
    gpus: integerFlag({min: 0, max: 1024, summary: 'GPUs one replica used (0 = CPU only).', helpValue: 'N'}),
    format: weightFormatIdFlag({summary: "The weights' precision when the file does not say (fp8, awq, gptq, bf16, q4_k_m, ...); sets --quant's level too."}),
    serving: capplanFlag(parseServingSpec)({
      summary: 'Serving features the run used, for the physics check: dp-attention, kv-cache=fp8, spec=METHOD[:TOKENS-PER-STEP], ep=N, decode-only.',
      helpValue: 'LIST',
    }),
  }

  public async run(): Promise<ImportPayload> {
    const payload = await importPeerFile(this.args.file, this.flags, {capplanVersion: this.config.version, info: (message) => this.info(message)})
    if (!this.jsonEnabled()) for (const note of payload.written.flatMap((w) => w.notes)) this.log(`  ${note}`)
    return payload
  }
}
