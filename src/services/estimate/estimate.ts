/**
 * `capplan estimate`: the physics of a model on hardware (memory fit, KV capacity, ceilings), optionally checked
 * against a measurement (--measured, --what-if) or scaled from a result file (--from). Every number an ESTIMATE.
 */

import {totalmem} from 'node:os'

import {invalidInput, invalidResult} from '../../lib/errors.js'
import {loadProfiles} from '../../profiles/load.js'
import type {QuantLevel} from '../../profiles/schema.js'
import {readResultFile} from '../../results/read.js'
import {probeMemoryBandwidth, type BandwidthProbe} from '../../roofline/bandwidth-probe.js'
import {defaultEfficiency, hardwareFromProfile, type HardwareOverrides} from '../../roofline/ceilings.js'
import {DEFAULT_MEMORY_UTILIZATION, DEFAULT_OVERHEAD_GB_PER_GPU, estimate, type Estimate as EstimateResult} from '../../roofline/estimate.js'
import {type FormatChoice, formatFromName, type KvCacheDtype, resolveFormat} from '../../roofline/formats.js'
import {scaleResult} from '../../roofline/from-result.js'
import {unverifiedLevels, verifyResult} from '../../results/verify.js'
import {checkMeasuredDecode, whatIf, type FromResult, type MeasuredCheck, type OperatingPoint, type WhatIfResult} from '../../roofline/sanity.js'

export const DEFAULT_CONTEXT_TOKENS = 8192

/** The defaults the flags' help names (the roofline's own). */
export const ESTIMATE_DEFAULTS = {memoryUtilization: DEFAULT_MEMORY_UTILIZATION, overheadGBPerGpu: DEFAULT_OVERHEAD_GB_PER_GPU, efficiency: defaultEfficiency}

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

/** The flags of `capplan estimate` as oclif parses them (src/cli/flags/estimate.ts): values, every number parsed. */
export interface EstimateFlagValues {
  profiles?: string | undefined
  from?: string | undefined
  model?: string | undefined
  gpu: string
  quant?: QuantLevel | undefined
  format: FormatChoice
  gpus?: number | undefined
  'kv-cache': KvCacheDtype
  /** GB/s per GPU. */
  bandwidth?: number | undefined
  'measure-bandwidth': boolean
  'memory-gb'?: number | undefined
  tflops?: number | undefined
  /** Fractions in (0, 1]. */
  'eta-bw'?: number | undefined
  'eta-compute'?: number | undefined
  mfu?: number | undefined
  'memory-utilization'?: number | undefined
  /** >= 0. */
  'overhead-gb'?: number | undefined
  'input-tokens'?: number | undefined
  'output-tokens'?: number | undefined
  context?: number | undefined
  concurrency?: number | undefined
  /** Output tok/s. */
  measured?: number | undefined
  /** GPU ids, blanks dropped (each checked against the profiles here). */
  'what-if'?: readonly string[] | undefined
  'from-bandwidth'?: number | undefined
}

export async function estimateFromFlags(flags: EstimateFlagValues, io: {info: (message: string) => void; warn: (message: string) => void}): Promise<EstimateOutput> {
  const store = await loadProfiles(flags.profiles === undefined ? {} : {userDir: flags.profiles})
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
  if (flags.bandwidth !== undefined) overrides.bandwidthGBs = flags.bandwidth
  let bandwidthProbe: BandwidthProbe | null = null
  if (flags['measure-bandwidth']) {
    io.info('Measuring memory bandwidth (single-thread copy)...')
    bandwidthProbe = probeMemoryBandwidth()
    overrides.bandwidthGBs = bandwidthProbe.gbPerS
    overrides.bandwidthSource = 'probe'
    io.info(`Memory bandwidth: ${bandwidthProbe.gbPerS.toFixed(1)} GB/s (${bandwidthProbe.method}).`)
  }
  if (flags['memory-gb'] !== undefined) overrides.memoryGB = flags['memory-gb']
  else if (gpu.memoryGB === null) {
    overrides.memoryGB = totalmem() / 1e9
    overrides.memorySource = 'host'
    io.info(`${gpu.id} has no memory size: using this host's ${overrides.memoryGB.toFixed(1)} GB of RAM (set --memory-gb to plan another machine).`)
  }
  if (flags.tflops !== undefined) overrides.tflops = flags.tflops
  const hardware = hardwareFromProfile(gpu, overrides)
  const memoryBytesPerGpu = hardware.memoryBytesPerGpu ?? totalmem()

  const factors = {
    etaBandwidth: flags['eta-bw'] ?? defaultEfficiency.etaBandwidth,
    etaCompute: flags['eta-compute'] ?? defaultEfficiency.etaCompute,
    mfu: flags.mfu ?? defaultEfficiency.mfu,
  }
  const memoryUtilization = flags['memory-utilization'] ?? DEFAULT_MEMORY_UTILIZATION
  const overheadGBPerGpu = flags['overhead-gb'] ?? DEFAULT_OVERHEAD_GB_PER_GPU

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
    io.warn(`${gpu.id} has no memory bandwidth, so there are no decode ceilings: measure it or set it with --bandwidth GB/s.`)
  }

  let measured: EstimateOutput['measured'] = null
  const whatIfs: EstimateOutput['whatIf'] = []
  if (flags.measured !== undefined) {
    const tokensPerSecond = flags.measured
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
    for (const id of flags['what-if'] ?? []) {
      const target = store.get('gpu', id)
      const targetHardware = hardwareFromProfile(target, {})
      whatIfs.push({gpu: target.id, result: whatIf(point, {hardware: targetHardware, memoryUtilization, overheadGBPerGpu})})
    }
  }

  let fromResult: FromResult | null = null
  if (source !== undefined) {
    const bandwidthGBs = flags['from-bandwidth']
    // A level whose stored summary its own requests do not bear out (results/verify.ts) is not scaled, as report does not cost it.
    const excluded = unverifiedLevels(verifyResult(flags.from ?? '', source, {importedFrom: null}))
    for (const reason of excluded.values()) io.warn(`not scaled: ${reason}`)
    fromResult = scaleResult(
      store,
      {...source, levels: source.levels.filter((_, index) => !excluded.has(index))},
      flags.from ?? '',
      {...hardware, memoryBytesPerGpu},
      {
        ...(bandwidthGBs === undefined ? {} : {bandwidthGBs}),
        ...(flags.gpus === undefined ? {} : {gpus: flags.gpus}),
        memoryUtilization,
        overheadGBPerGpu,
        factors,
      },
    )
    if (fromResult.levels.length === 0) {
      throw invalidResult(
        `${flags.from} has no complete concurrency level with output tokens to scale.`,
        'Pass a result of `capplan bench --concurrency ...` that finished at least one level.',
      )
    }
  }

  return {...result, measured, whatIf: whatIfs, fromResult, bandwidthProbe}
}
