import type {ModelProfile} from '../profiles/schema.js'
import {decodeStep, defaultEfficiency, prefillCeiling, type CeilingInput, type EfficiencyFactors, type Hardware} from './ceilings.js'
import {kvCacheBytesPerElement, type KvCacheDtype, type ResolvedFormat} from './formats.js'
import type {ServingFeatures} from './memory.js'

/**
 * The ceiling of a SERVING replica (what the planner estimates and the calibration set is divided by): B
 * sequences in flight, each a prompt of ISL tokens and OSL output tokens, prefill interleaved with decode on
 * the same GPUs (chunked prefill), unless the replica is a decode-only worker of a disaggregated deployment.
 *
 *   step(B)   = the decode step of B sequences at the average context ISL + OSL / 2 (ceilings.ts decodeStep,
 *               with the serving features: DP attention, k = tokensPerStep)
 *   P         = the prefill of one prompt on the whole replica (ceilings.ts prefillCeiling); 0 when decode-only
 *   Pc        = its compute time alone: chunked prefill rides on the decode steps, which read the weights
 *               anyway, so in the cycle a prompt adds its FLOPs, not another read of the weights
 *   cycle     = (OSL / k) x step(B) + B x Pc       (B requests finish their OSL tokens; their B prefills share the GPUs)
 *   output tok/s = B x OSL / cycle;  TPOT = cycle / OSL (what a user sees, others' prefills included);  TTFT = P
 *
 * Queueing is not modeled (TTFT is the prefill alone). Pure.
 */

export interface ServingInput {
  model: ModelProfile
  format: ResolvedFormat
  kvCache: KvCacheDtype
  hardware: Hardware
  tp: number
  pp: number
  features?: ServingFeatures
  factors?: EfficiencyFactors
}

export interface ServingCeiling {
  batch: number
  contextTokens: number
  stepTimeS: number
  /** One prompt's prefill alone (the TTFT). */
  prefillTimeS: number
  /** What one prompt's prefill adds to the cycle (its compute time; P without a FLOPs peak). */
  prefillInCycleS: number
  cycleTimeS: number
  outputTokensPerSecond: number
  tpotS: number
  ttftS: number
  bound: 'memory' | 'compute' | 'unknown'
}

export function ceilingInputFor(input: ServingInput): CeilingInput {
  return {
    model: input.model,
    bitsPerWeight: input.format.bitsPerWeight,
    computeDtype: input.format.computeDtype,
    kvBytesPerElement: kvCacheBytesPerElement[input.kvCache],
    hardware: input.hardware,
    tp: input.tp,
    pp: input.pp,
    factors: input.factors ?? defaultEfficiency,
  }
}

/** The serving ceiling at batch B; null when the hardware has no bandwidth (no decode ceiling). */
export function servingCeiling(input: ServingInput, batch: number, inputTokens: number, outputTokens: number): ServingCeiling | null {
  const features = input.features ?? {}
  const ceilingInput = ceilingInputFor(input)
  const contextTokens = inputTokens + outputTokens / 2
  const step = decodeStep(ceilingInput, batch, contextTokens, features)
  if (step.memoryTimeS === null) return null
  const stepTimeS = Math.max(step.memoryTimeS, step.computeTimeS ?? 0)
  const prefill = features.decodeOnly === true ? null : prefillCeiling(ceilingInput, inputTokens)
  const prefillTimeS = prefill?.ttftS ?? 0
  const prefillInCycleS = prefill === null ? 0 : (prefill.computeTimeS ?? prefillTimeS)
  const k = features.tokensPerStep ?? 1
  const cycleTimeS = (outputTokens / k) * stepTimeS + batch * prefillInCycleS
  return {
    batch,
    contextTokens,
    stepTimeS,
    prefillTimeS,
    prefillInCycleS,
    cycleTimeS,
    outputTokensPerSecond: (batch * outputTokens) / cycleTimeS,
    tpotS: cycleTimeS / outputTokens,
    ttftS: prefillTimeS,
    bound: step.bound,
  }
}
