import {totalmem} from 'node:os'

import {Flags} from '@oclif/core'

import {CapplanCommand} from '../cli/base-command.js'
import {invalidInput, invalidResult} from '../lib/errors.js'
import {parsePositiveNumber} from '../cli/parsers/numbers.js'
import {loadProfiles} from '../profiles/store.js'
import {quantLevels} from '../profiles/schema.js'
import {readResultFile} from '../results/read.js'
import {probeMemoryBandwidth, type BandwidthProbe} from '../roofline/bandwidth-probe.js'
import {defaultEfficiency, hardwareFromProfile, type HardwareOverrides} from '../roofline/ceilings.js'
import {DEFAULT_MEMORY_UTILIZATION, DEFAULT_OVERHEAD_GB_PER_GPU, estimate, type Estimate as EstimateResult} from '../roofline/estimate.js'
import {formatChoices, formatFromName, kvCacheDtypes, resolveFormat} from '../roofline/formats.js'
import {renderEstimate, renderFromResult, renderMeasuredCheck, renderWhatIf} from '../roofline/render.js'
import {scaleResult} from '../roofline/from-result.js'
import {checkMeasuredDecode, whatIf, type FromResult, type MeasuredCheck, type OperatingPoint, type WhatIfResult} from '../roofline/sanity.js'

export const DEFAULT_CONTEXT_TOKENS = 8192

export interface EstimateOutput extends EstimateResult {
  /** With --measure-bandwidth: the probe that set the bandwidth. */
  bandwidthProbe: BandwidthProbe | null
  /** With --from: each measured level of the result, checked and scaled to --gpu. */
  fromResult: FromResult | null
  /** With --measured: the measurement against this ceiling. */
  measured: (MeasuredCheck & {tokensPerSecond: number; batch: number}) | null
  /** With --what-if: the measured point scaled to each GPU, or why it was refused. */
  whatIf: {gpu: string; result: WhatIfResult}[]
}

/** A fraction in (0, 1] given as text. */
function parseFraction(text: string, flagName: string, example: string): number {
  const value = parsePositiveNumber(text, flagName, example)
  if (value > 1) throw invalidInput(`--${flagName} must be at most 1 (got "${text}").`, `Give a fraction, e.g. --${flagName} ${example}.`)
  return value
}

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
    quant: Flags.option({options: quantLevels, summary: 'Quant level: picks the profile checkpoint (required unless --format names a concrete format).'})(),
    format: Flags.option({
      options: formatChoices,
      default: 'gguf',
      summary: "Weight format: gguf = the profile's llama.cpp file, vllm = its vLLM checkpoint, or a concrete format.",
    })(),
    gpu: Flags.string({char: 'g', summary: 'GPU profile id (see `capplan profiles list --kind gpu`), e.g. h100-sxm; with --from, the GPU to estimate for.', required: true, helpValue: 'ID'}),
    gpus: Flags.integer({min: 1, max: 256, summary: 'GPUs in one replica (default: the fewest that hold the model).', helpValue: 'N'}),
    context: Flags.integer({min: 1, summary: `KV tokens per sequence, ISL + OSL (default: --input-tokens + --output-tokens, else ${DEFAULT_CONTEXT_TOKENS}).`, helpValue: 'TOKENS'}),
    'input-tokens': Flags.integer({min: 1, summary: 'Prompt length (ISL): prefill ceiling and --measured check (default: the context).', helpValue: 'TOKENS'}),
    'output-tokens': Flags.integer({min: 1, summary: 'Output length (OSL) per request.', helpValue: 'TOKENS'}),
    concurrency: Flags.integer({min: 1, max: 4096, summary: 'Largest batch for the batched ceilings, and the batch of --measured (default: max sequences, <= 256).', helpValue: 'N'}),
    'kv-cache': Flags.option({options: kvCacheDtypes, default: 'fp16', summary: 'KV cache precision.'})(),
    'memory-utilization': Flags.string({summary: `Fraction of each GPU's memory the engine uses (default ${DEFAULT_MEMORY_UTILIZATION}).`, helpValue: 'U'}),
    'overhead-gb': Flags.string({summary: `Runtime memory per GPU besides weights and KV (default ${DEFAULT_OVERHEAD_GB_PER_GPU}).`, helpValue: 'GB'}),
    bandwidth: Flags.string({summary: "Memory bandwidth per GPU in GB/s; overrides the profile's (the cpu profile has none).", helpValue: 'GB/S'}),
    'measure-bandwidth': Flags.boolean({
      summary: "Measure this host's memory bandwidth (single-thread copy, ~1 s, a lower bound) and use it: for --gpu cpu.",
      exclusive: ['bandwidth'],
    }),
    'memory-gb': Flags.string({summary: "Memory per GPU in GB; overrides the profile's (cpu: default this host's RAM).", helpValue: 'GB'}),
    tflops: Flags.string({summary: "Dense TFLOPS per GPU at the format's compute precision; overrides the profile's.", helpValue: 'TFLOPS'}),
    'eta-bw': Flags.string({summary: `Fraction of peak bandwidth a decode step gets (default ${defaultEfficiency.etaBandwidth}).`, helpValue: 'ETA'}),
    'eta-compute': Flags.string({summary: `Fraction of peak FLOPs decode GEMMs get (default ${defaultEfficiency.etaCompute}).`, helpValue: 'ETA'}),
    mfu: Flags.string({summary: `Prefill model FLOPs utilization (default ${defaultEfficiency.mfu}).`, helpValue: 'MFU'}),
    measured: Flags.string({summary: 'A measured aggregate decode output tok/s at --concurrency (default 1): its efficiency vs the ceiling.', helpValue: 'TOK/S'}),
    'what-if': Flags.string({summary: 'Comma-separated GPU ids: scale --measured to each by the ceiling ratio (an estimate).', helpValue: 'IDS', dependsOn: ['measured']}),
    from: Flags.string({
      summary: 'A result file: scale each of its measured concurrency levels to --gpu (model, quant, format, lengths come from the file).',
      helpValue: 'RESULT',
      exclusive: ['measured', 'what-if', 'quant', 'input-tokens', 'output-tokens'],
    }),
    'from-bandwidth': Flags.string({summary: "GB/s of the result's hardware when its profile has none (a CPU run).", helpValue: 'GB/S', dependsOn: ['from']}),
  }

  public async run(): Promise<EstimateOutput> {
    const flags = this.flags
    const store = await loadProfiles({userDir: flags.profiles})
    const source = flags.from === undefined ? undefined : await readResultFile(flags.from)
    const modelId = source?.model.profile ?? flags.model
    if (modelId === undefined) throw invalidInput('--model is missing.', 'Name a model profile, e.g. --model qwen2.5-72b, or estimate from a result with --from RESULT.')
    if (source !== undefined && flags.model !== undefined && flags.model !== source.model.profile) {
      throw invalidInput(`--model ${flags.model} differs from ${flags.from}'s model ${source.model.profile}.`, 'Drop --model: with --from the result says which model ran.')
    }
    const model = store.get('model', modelId)
    const gpu = store.get('gpu', flags.gpu)
    if (source === undefined && flags.quant === undefined && (flags.format === 'gguf' || flags.format === 'vllm')) {
      throw invalidInput(
        `--quant is missing: it picks ${model.id}'s ${flags.format === 'gguf' ? 'GGUF' : 'vLLM'} checkpoint.`,
        'Add --quant int4, int8 or fp16, or name a concrete format, e.g. --format awq.',
      )
    }
    const format =
      source === undefined ? resolveFormat(model, flags.quant, flags.format) : (formatFromName(source.model.format) ?? resolveFormat(model, source.model.quant, 'gguf'))

    const overrides: HardwareOverrides = {}
    if (flags.bandwidth !== undefined) overrides.bandwidthGBs = parsePositiveNumber(flags.bandwidth, 'bandwidth', '3350')
    let bandwidthProbe: BandwidthProbe | null = null
    if (flags['measure-bandwidth']) {
      this.info('Measuring memory bandwidth (single-thread copy)...')
      bandwidthProbe = probeMemoryBandwidth()
      overrides.bandwidthGBs = bandwidthProbe.gbPerS
      overrides.bandwidthSource = 'probe'
      this.info(`Memory bandwidth: ${bandwidthProbe.gbPerS.toFixed(1)} GB/s (${bandwidthProbe.method}).`)
    }
    if (flags['memory-gb'] !== undefined) overrides.memoryGB = parsePositiveNumber(flags['memory-gb'], 'memory-gb', '80')
    else if (gpu.memoryGB === null) {
      overrides.memoryGB = totalmem() / 1e9
      overrides.memorySource = 'host'
      this.info(`${gpu.id} has no memory size: using this host's ${overrides.memoryGB.toFixed(1)} GB of RAM (set --memory-gb to plan another machine).`)
    }
    if (flags.tflops !== undefined) overrides.tflops = parsePositiveNumber(flags.tflops, 'tflops', '989')
    const hardware = hardwareFromProfile(gpu, overrides)
    const memoryBytesPerGpu = hardware.memoryBytesPerGpu ?? totalmem()

    const factors = {
      etaBandwidth: flags['eta-bw'] === undefined ? defaultEfficiency.etaBandwidth : parseFraction(flags['eta-bw'], 'eta-bw', '0.8'),
      etaCompute: flags['eta-compute'] === undefined ? defaultEfficiency.etaCompute : parseFraction(flags['eta-compute'], 'eta-compute', '0.5'),
      mfu: flags.mfu === undefined ? defaultEfficiency.mfu : parseFraction(flags.mfu, 'mfu', '0.5'),
    }
    const memoryUtilization =
      flags['memory-utilization'] === undefined ? DEFAULT_MEMORY_UTILIZATION : parseFraction(flags['memory-utilization'], 'memory-utilization', '0.9')
    const overheadGBPerGpu = flags['overhead-gb'] === undefined ? DEFAULT_OVERHEAD_GB_PER_GPU : parseNonNegative(flags['overhead-gb'], 'overhead-gb')

    const isl = source?.workload.inputTokens ?? flags['input-tokens']
    const osl = source?.workload.outputTokens ?? flags['output-tokens']
    const contextTokens = flags.context ?? (isl !== undefined || osl !== undefined ? (isl ?? 0) + (osl ?? 0) : DEFAULT_CONTEXT_TOKENS)
    const inputTokens = isl ?? contextTokens

    const result = estimate({
      model,
      format,
      hardware: {...hardware, memoryBytesPerGpu},
      gpus: flags.gpus,
      kvCache: flags['kv-cache'],
      memoryUtilization,
      overheadGBPerGpu,
      contextTokens,
      inputTokens,
      concurrency: flags.concurrency,
      factors,
    })
    if (hardware.bandwidthSource === 'missing') {
      this.warnLine(`${gpu.id} has no memory bandwidth, so there are no decode ceilings: measure it or set it with --bandwidth GB/s.`)
    }

    let measured: EstimateOutput['measured'] = null
    const whatIfs: EstimateOutput['whatIf'] = []
    if (flags.measured !== undefined) {
      const tokensPerSecond = parsePositiveNumber(flags.measured, 'measured', '25')
      const batch = flags.concurrency ?? 1
      const point: OperatingPoint = {
        model,
        format,
        kvCache: flags['kv-cache'],
        hardware: {...hardware, memoryBytesPerGpu},
        tp: result.layout.tp,
        pp: result.layout.pp,
        batch,
        inputTokens,
        outputTokens: osl ?? Math.max(0, contextTokens - inputTokens),
        measuredTokensPerSecond: tokensPerSecond,
        factors,
      }
      measured = {...checkMeasuredDecode(point), tokensPerSecond, batch}
      for (const id of (flags['what-if'] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')) {
        const target = store.get('gpu', id)
        const targetHardware = hardwareFromProfile(target, {})
        whatIfs.push({gpu: target.id, result: whatIf(point, {hardware: targetHardware, memoryUtilization, overheadGBPerGpu})})
      }
    }

    let fromResult: FromResult | null = null
    if (source !== undefined) {
      const bandwidthGBs = flags['from-bandwidth'] === undefined ? undefined : parsePositiveNumber(flags['from-bandwidth'], 'from-bandwidth', '20')
      fromResult = scaleResult(store, source, flags.from ?? '', {...hardware, memoryBytesPerGpu}, {
        ...(bandwidthGBs === undefined ? {} : {bandwidthGBs}),
        ...(flags.gpus === undefined ? {} : {gpus: flags.gpus}),
        memoryUtilization,
        overheadGBPerGpu,
        factors,
      })
      if (fromResult.levels.length === 0) {
        throw invalidResult(`${flags.from} has no complete concurrency level with output tokens to scale.`, 'Pass a result of `capplan bench --concurrency ...` that finished at least one level.')
      }
    }

    if (!this.jsonEnabled()) {
      this.log(renderEstimate(result))
      if (fromResult !== null) this.log(`\n${renderFromResult(fromResult)}`)
      if (measured !== null) this.log(`\n${renderMeasuredCheck(measured, measured.batch)}`)
      for (const w of whatIfs) this.log(renderWhatIf(w.result.ok ? `${w.result.target.gpus} x ${w.gpu}` : w.gpu, w.result))
    }
    return {...result, measured, whatIf: whatIfs, fromResult, bandwidthProbe}
  }
}

function parseNonNegative(text: string, flagName: string): number {
  if (text.trim() === '0') return 0
  return parsePositiveNumber(text, flagName, '1')
}
