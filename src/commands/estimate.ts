import {integerFlag} from '../cli/flags/custom.js'
import {Flags} from '@oclif/core'

import {CapplanCommand} from '../cli/base-command.js'
import {kvCacheFlag, quantFlag, weightFormatFlag} from '../cli/flags/choices.js'
import {estimateFlag} from '../cli/flags/estimate.js'
import {renderEstimate, renderFromResult, renderMeasuredCheck, renderWhatIf} from '../report/render/estimate.js'
import {DEFAULT_CONTEXT_TOKENS, ESTIMATE_DEFAULTS, estimateFromFlags, type EstimateOutput} from '../services/estimate/estimate.js'

export type {EstimateOutput} from '../services/estimate/estimate.js'

export default class Estimate extends CapplanCommand<typeof Estimate> {
  static override summary = 'Physics of a model on GPUs you may not have: memory fit, KV capacity, decode and prefill ceilings.'

  static override description = `Datasheet arithmetic, no measurement (everything printed is an ESTIMATE, with every assumption listed):
- weights = params x bits per weight / 8, with the real bits of the format (Q4_K_M ~4.85, Q4_0 4.5, Q8_0 8.5, AWQ/GPTQ g128 ~4.25, FP16 16); MoE: total params must fit, active params are read;
- KV per token = 2 x layers x KV heads x head dim x bytes (GQA), layers x (kv_lora_rank + rope dim) x bytes (MLA);
- fit: free = GPUs x memory x utilization - weights - overhead; max sequences = free / (KV per token x context); valid TP sizes divide the attention heads and split or replicate the KV heads;
- ceilings: batch-1 decode = bandwidth x eta_bw / active weight bytes; batched decode = B / max(bytes / (bw x eta_bw), FLOPs / (peak x eta_c)); prefill from FLOPs at an MFU.
With --measured TOK/S, the measurement is checked against the ceiling (impossible above the physical limit); with --what-if, it is scaled to other GPUs by the ceiling ratio.`

  static override examples = [
    {description: 'The issue example', command: '<%= config.bin %> <%= command.id %> --model qwen2.5-72b --quant int4 --gpu h100-sxm'},
    {
      description: "Seed 000's Llama 3.1 405B FP16 on 12 A100s, and its claimed 30 tok/s at batch 1",
      command: '<%= config.bin %> <%= command.id %> --model llama-3.1-405b --quant fp16 --gpu a100-80gb-sxm --gpus 12 --measured 30',
    },
    {
      description: 'An AWQ checkpoint at 32 concurrent 4k-token sequences with an FP8 KV cache',
      command: '<%= config.bin %> <%= command.id %> --model llama-3.1-70b --format awq --gpu h100-sxm --gpus 2 --context 4096 --concurrency 32 --kv-cache fp8',
    },
    {
      description: 'Scale a measured 1,200 tok/s at concurrency 16 on an A100 to an H200 and a B200',
      command:
        '<%= config.bin %> <%= command.id %> --model qwen2.5-7b --format awq --gpu a100-80gb-sxm --input-tokens 1024 --output-tokens 256 --concurrency 16 --measured 1200 --what-if h200,b200',
    },
    {description: 'The CPU profile has no bandwidth: set it', command: '<%= config.bin %> <%= command.id %> --model qwen2.5-0.5b --quant int4 --gpu cpu --bandwidth 40'},
  ]

  static override flags = {
    model: Flags.string({char: 'm', summary: 'Model profile id (see `capplan profiles list --kind model`); with --from, taken from the result.', helpValue: 'ID'}),
    quant: quantFlag({summary: 'Quant level: picks the profile checkpoint (required unless --format names a concrete format).'}),
    format: weightFormatFlag({
      default: 'gguf',
      summary: "Weight format: gguf = the profile's llama.cpp file, vllm = its vLLM checkpoint, or a concrete format.",
    }),
    gpu: Flags.string({
      char: 'g',
      summary: 'GPU profile id (see `capplan profiles list --kind gpu`), e.g. h100-sxm; with --from, the GPU to estimate for.',
      required: true,
      helpValue: 'ID',
    }),
    gpus: integerFlag({min: 1, max: 256, summary: 'GPUs in one replica (default: the fewest that hold the model).', helpValue: 'N'}),
    context: integerFlag({
      min: 1,
      summary: `KV tokens per sequence, ISL + OSL (default: --input-tokens + --output-tokens, else ${DEFAULT_CONTEXT_TOKENS}).`,
      helpValue: 'TOKENS',
    }),
    'input-tokens': integerFlag({min: 1, summary: 'Prompt length (ISL): prefill ceiling and --measured check (default: the context).', helpValue: 'TOKENS'}),
    'output-tokens': integerFlag({min: 1, summary: 'Output length (OSL) per request.', helpValue: 'TOKENS'}),
    concurrency: integerFlag({
      min: 1,
      max: 4096,
      summary: 'Largest batch for the batched ceilings, and the batch of --measured (default: max sequences, <= 256).',
      helpValue: 'N',
    }),
    'kv-cache': kvCacheFlag({default: 'fp16', summary: 'KV cache precision.'}),
    'memory-utilization': estimateFlag['memory-utilization']({
      summary: `Fraction of each GPU's memory the engine uses (default ${ESTIMATE_DEFAULTS.memoryUtilization}).`,
      helpValue: 'U',
    }),
    'overhead-gb': estimateFlag['overhead-gb']({summary: `Runtime memory per GPU besides weights and KV (default ${ESTIMATE_DEFAULTS.overheadGBPerGpu}).`, helpValue: 'GB'}),
    bandwidth: estimateFlag.bandwidth({summary: "Memory bandwidth per GPU in GB/s; overrides the profile's (the cpu profile has none).", helpValue: 'GB/S'}),
    'measure-bandwidth': Flags.boolean({
      summary: "Measure this host's memory bandwidth (single-thread copy, ~1 s, a lower bound) and use it: for --gpu cpu.",
      exclusive: ['bandwidth'],
    }),
    'memory-gb': estimateFlag['memory-gb']({summary: "Memory per GPU in GB; overrides the profile's (cpu: default this host's RAM).", helpValue: 'GB'}),
    tflops: estimateFlag.tflops({summary: "Dense TFLOPS per GPU at the format's compute precision; overrides the profile's.", helpValue: 'TFLOPS'}),
    'eta-bw': estimateFlag['eta-bw']({summary: `Fraction of peak bandwidth a decode step gets (default ${ESTIMATE_DEFAULTS.efficiency.etaBandwidth}).`, helpValue: 'ETA'}),
    'eta-compute': estimateFlag['eta-compute']({summary: `Fraction of peak FLOPs decode GEMMs get (default ${ESTIMATE_DEFAULTS.efficiency.etaCompute}).`, helpValue: 'ETA'}),
    mfu: estimateFlag.mfu({summary: `Prefill model FLOPs utilization (default ${ESTIMATE_DEFAULTS.efficiency.mfu}).`, helpValue: 'MFU'}),
    measured: estimateFlag.measured({summary: 'A measured aggregate decode output tok/s at --concurrency (default 1): its efficiency vs the ceiling.', helpValue: 'TOK/S'}),
    'what-if': estimateFlag['what-if']({
      summary: 'Comma-separated GPU ids: scale --measured to each by the ceiling ratio (an estimate).',
      helpValue: 'IDS',
      dependsOn: ['measured'],
    }),
    from: Flags.string({
      summary: 'A result file: scale each of its measured concurrency levels to --gpu (model, quant, format, lengths come from the file).',
      helpValue: 'RESULT',
      exclusive: ['measured', 'what-if', 'quant', 'input-tokens', 'output-tokens'],
    }),
    'from-bandwidth': estimateFlag['from-bandwidth']({
      summary: "GB/s of the result's hardware when its profile has none (a CPU run).",
      helpValue: 'GB/S',
      dependsOn: ['from'],
    }),
  }

  public async run(): Promise<EstimateOutput> {
    const output = await estimateFromFlags(this.flags, {info: (message) => this.info(message), warn: (message) => this.warnLine(message)})
    if (!this.jsonEnabled()) {
      this.log(renderEstimate(output))
      if (output.fromResult !== null) this.log(`\n${renderFromResult(output.fromResult)}`)
      if (output.measured !== null) this.log(`\n${renderMeasuredCheck(output.measured, output.measured.batch)}`)
      for (const w of output.whatIf) this.log(renderWhatIf(w.result.ok ? `${w.result.target.gpus} x ${w.gpu}` : w.gpu, w.result))
    }
    return output
  }
}
