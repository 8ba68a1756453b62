import type {ProfileStore} from '../profiles/store.js'
import type {LevelRecord, ResultFile} from '../results/schema.js'
import type {EfficiencyFactors, Hardware} from './ceilings.js'
import {checkMeasuredDecode, operatingPointFor, whatIf, type FromResult, type FromResultLevel, type MeasuredCheck, type OperatingPoint, type WhatIfResult} from './sanity.js'

/**
 * Result files meet the roofline here: the operating point of one measured level, its efficiency on the
 * hardware it ran on, and its what-if on other hardware. `report` and `estimate --from` both use these.
 */

export interface ResultLevelOptions {
  /** GB/s of the result's device when its profile has none (a CPU run); overrides the profile's otherwise. */
  bandwidthGBs?: number
  factors?: EfficiencyFactors
}

/** Whether a level carries a decode measurement the roofline can judge (complete, closed-loop, tokens out). */
export function isCheckableLevel(level: LevelRecord): boolean {
  return level.status === 'complete' && level.load.kind === 'concurrency' && level.summary.throughput.outputTokensPerS > 0
}

/** The operating point of one level: result model/quant/format, its GPU profile (cpu when none), concurrency. */
export function operatingPointOfLevel(store: ProfileStore, result: ResultFile, level: LevelRecord, options: ResultLevelOptions = {}): OperatingPoint {
  const point = operatingPointFor({
    model: store.get('model', result.model.profile),
    quant: result.model.quant,
    formatName: result.model.format,
    gpu: store.get('gpu', result.gpuProfile ?? 'cpu'),
    gpus: result.engine.gpuCount,
    concurrency: level.load.value,
    inputTokens: result.workload.inputTokens,
    outputTokens: result.workload.outputTokens,
    measuredTokensPerSecond: level.summary.throughput.outputTokensPerS,
    ...(options.bandwidthGBs === undefined ? {} : {bandwidthGBs: options.bandwidthGBs}),
    ...(result.serving?.kvCache === undefined ? {} : {kvCache: result.serving.kvCache}),
  })
  // The serving features the run recorded (results/serving.ts): the ceiling and the physical limit use them.
  const serving = result.serving
  const features =
    serving === undefined
      ? undefined
      : {
          ...(serving.dataParallelAttention === true ? {dataParallelAttention: true} : {}),
          ...(serving.speculative?.tokensPerStep === undefined ? {} : {tokensPerStep: serving.speculative.tokensPerStep}),
          ...(serving.decodeOnly === true ? {decodeOnly: true} : {}),
        }
  const withFeatures = features === undefined ? point : {...point, features}
  return options.factors === undefined ? withFeatures : {...withFeatures, factors: options.factors}
}

/** Efficiency of one level's output tok/s against its hardware's ceiling, and the verdict. */
export function checkResultLevel(store: ProfileStore, result: ResultFile, level: LevelRecord, options: ResultLevelOptions = {}): MeasuredCheck {
  return checkMeasuredDecode(operatingPointOfLevel(store, result, level, options))
}

export interface WhatIfTargetOptions {
  gpus?: number
  memoryUtilization?: number
  overheadGBPerGpu?: number
}

/** One level scaled to another GPU (labeled estimate), or why not. */
export function whatIfResultLevel(
  store: ProfileStore,
  result: ResultFile,
  level: LevelRecord,
  target: Hardware,
  options: ResultLevelOptions & WhatIfTargetOptions = {},
): WhatIfResult {
  const {gpus, memoryUtilization, overheadGBPerGpu, ...levelOptions} = options
  return whatIf(operatingPointOfLevel(store, result, level, levelOptions), {
    hardware: target,
    ...(gpus === undefined ? {} : {gpus}),
    ...(memoryUtilization === undefined ? {} : {memoryUtilization}),
    ...(overheadGBPerGpu === undefined ? {} : {overheadGBPerGpu}),
  })
}

/** Every checkable level of a result, checked on its hardware and scaled to `target` (`estimate --from`). */
export function scaleResult(store: ProfileStore, result: ResultFile, file: string, target: Hardware, options: ResultLevelOptions & WhatIfTargetOptions = {}): FromResult {
  const levels: FromResultLevel[] = result.levels.filter(isCheckableLevel).map((level) => ({
    concurrency: level.load.value,
    measuredTokensPerSecond: level.summary.throughput.outputTokensPerS,
    check: checkResultLevel(store, result, level, options),
    whatIf: whatIfResultLevel(store, result, level, target, options),
  }))
  return {
    file,
    resultId: result.id,
    sourceGpu: result.gpuProfile ?? 'cpu',
    sourceGpus: Math.max(1, result.engine.gpuCount),
    format: result.model.format,
    levels,
  }
}
