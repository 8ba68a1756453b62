import {describe, expect, it} from 'vitest'

import type {ModelProfile} from '../../../src/profiles/schema.js'
import {decodeStep, type CeilingInput, type Hardware} from '../../../src/roofline/ceilings.js'
import {weightFormats} from '../../../src/roofline/formats.js'
import {fitReplica, kvReadBytesPerToken} from '../../../src/roofline/memory.js'
import {checkMeasuredDecode, physicalDecodeLimit, type OperatingPoint} from '../../../src/roofline/sanity.js'
import {servingCeiling, type ServingInput} from '../../../src/roofline/serving.js'
import {builtins} from './helpers.js'

// A round-number dense model: 1B params, 10 layers, 8 KV heads x 125 = 40,000 B of fp16 KV per token.
const model = {
  kind: 'model',
  id: 'round-1b',
  name: 'Round 1B',
  architecture: 'llama',
  hfRepo: 'x/y',
  layers: 10,
  hiddenSize: 1000,
  attentionHeads: 8,
  kvHeads: 8,
  headDim: 125,
  ffnSize: 4000,
  vocabSize: 1000,
  contextLength: 4096,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  qkvBias: false,
  tiedEmbeddings: false,
  params: {totalB: 1, activeB: 1},
  specSource: 'test',
  quants: {} as ModelProfile['quants'],
  scores: [],
} as ModelProfile

// 1 TB/s, 100 dense TFLOPS, efficiency factors 1: the datasheet roofline.
const hardware: Hardware = {
  id: 'round-gpu',
  name: 'Round GPU',
  vendor: 'nvidia',
  memoryBytesPerGpu: 80e9,
  bandwidthBytesPerSPerGpu: 1e12,
  peakFlopsPerGpu: {fp16: 1e14, fp8: 2e14, int8: 2e14},
  bandwidthSource: 'profile',
  memorySource: 'profile',
}
const ones = {etaBandwidth: 1, etaCompute: 1, mfu: 1}
const input: ServingInput = {model, format: weightFormats.fp16, kvCache: 'fp16', hardware, tp: 1, pp: 1, factors: ones}

describe('servingCeiling: decode step + interleaved prefill', () => {
  it('batch 1, ISL 100, OSL 200: step 2.008 ms, prefill 2.004 ms, cycle 0.403604 s, 495.53 tok/s (hand-checked)', () => {
    // step: (2e9 weight bytes + 40,000 B x context 200) / 1e12 = 2.008 ms (compute 2.008e9 FLOPs / 1e14 is 20 us)
    // prefill: (2 x 1e9 x 100 + 4 x 10 x 8 x 125 x 100^2) FLOPs / 1e14 = 2.004 ms (memory 2e9 / 1e12 = 2 ms)
    // cycle = 200 x 2.008 ms + 1 x 2.004 ms = 0.403604 s; tok/s = 200 / 0.403604; TPOT = cycle / 200
    const c = servingCeiling(input, 1, 100, 200)!
    expect(c.contextTokens).toBe(200)
    expect(c.stepTimeS).toBeCloseTo(2.008e-3, 12)
    expect(c.prefillTimeS).toBeCloseTo(2.004e-3, 12)
    expect(c.cycleTimeS).toBeCloseTo(0.403604, 10)
    expect(c.outputTokensPerSecond).toBeCloseTo(200 / 0.403604, 8)
    expect(c.tpotS).toBeCloseTo(0.403604 / 200, 12)
    expect(c.ttftS).toBeCloseTo(2.004e-3, 12)
    expect(c.bound).toBe('memory')
  })

  it('a decode-only worker (disaggregated) spends no time in prefill: 200 / (200 x 2.008 ms) = 498.0 tok/s', () => {
    const c = servingCeiling({...input, features: {decodeOnly: true}}, 1, 100, 200)!
    expect(c.prefillTimeS).toBe(0)
    expect(c.outputTokensPerSecond).toBeCloseTo(1 / 2.008e-3, 8)
  })

  it('speculative decoding with 2 tokens per step halves the steps: cycle = 100 x 2.00802 ms + 2.004 ms', () => {
    // the step verifies 2 tokens: FLOPs double (40.16 us), bytes do not: still 2.008 ms memory-bound
    const c = servingCeiling({...input, features: {tokensPerStep: 2}}, 1, 100, 200)!
    expect(c.stepTimeS).toBeCloseTo(2.008e-3, 12)
    expect(c.cycleTimeS).toBeCloseTo(100 * 2.008e-3 + 2.004e-3, 10)
  })
})

describe('serving features in the KV arithmetic', () => {
  const oneKvHead = {...model, kvHeads: 1} as ModelProfile
  it('TP 2 over 1 KV head replicates it (10,000 B/token); DP attention holds one copy (5,000 B)', () => {
    // one copy: 2 x 10 layers x 1 head x 125 x 2 B = 5,000 B
    expect(kvReadBytesPerToken(oneKvHead, 2, 2, 1)).toBe(10_000)
    expect(kvReadBytesPerToken(oneKvHead, 2, 2, 1, {dataParallelAttention: true})).toBe(5_000)
  })

  it('DP attention doubles the sequences that fit when TP 2 replicates the KV head', () => {
    const base = {
      model: oneKvHead,
      bitsPerWeight: 16,
      kvBytesPerElement: 2,
      memoryBytesPerGpu: 10e9,
      gpus: 2,
      tp: 2,
      pp: 1,
      memoryUtilization: 1,
      overheadBytesPerGpu: 0,
      contextTokens: 1000,
    }
    // free = 20e9 - 2e9 = 18e9; per sequence 10 MB replicated, 5 MB with DP attention
    expect(fitReplica(base).maxSequences).toBe(1800)
    expect(fitReplica({...base, dataParallelAttention: true}).maxSequences).toBe(3600)
  })

  it('decodeStep at batch 4 with tokensPerStep 3: 3x the tokens of the same step when memory-bound', () => {
    const ceiling: CeilingInput = {model, bitsPerWeight: 16, computeDtype: 'fp16', kvBytesPerElement: 2, hardware, tp: 1, pp: 1, factors: ones}
    const plain = decodeStep(ceiling, 4, 200)
    const spec = decodeStep(ceiling, 4, 200, {tokensPerStep: 3})
    expect(spec.memoryTimeS).toBe(plain.memoryTimeS)
    expect(spec.tokensPerSecond! / plain.tokensPerSecond!).toBeCloseTo(3, 12)
  })
})

describe('the physical limit never calls a DP-attention measurement impossible', () => {
  it('DeepSeek V3 on 8 x H200 at batch 512, ISL 8192: replicated MLA KV makes 20k tok/s "impossible", one copy does not', async () => {
    const {model: m, gpu} = await builtins()
    const {hardwareFromProfile} = await import('../../../src/roofline/ceilings.js')
    const point: OperatingPoint = {
      model: m('deepseek-v3'),
      format: {...weightFormats.fp8},
      kvCache: 'fp16',
      hardware: hardwareFromProfile(gpu('h200')),
      tp: 8,
      pp: 1,
      batch: 512,
      inputTokens: 8192,
      outputTokens: 1024,
      measuredTokensPerSecond: 20_000,
    }
    const replicated = physicalDecodeLimit(point)!
    const dp = physicalDecodeLimit({...point, features: {dataParallelAttention: true}})!
    // KV read per step: 512 x 61 x 576 x 2 B x 8192 = 294.8 GB replicated 8x = 2358 GB vs 294.8 GB once
    expect(dp / replicated).toBeGreaterThan(5)
    expect(replicated).toBeLessThan(20_000)
    expect(dp).toBeGreaterThan(20_000)
    expect(checkMeasuredDecode(point).verdict).toBe('impossible')
    expect(checkMeasuredDecode({...point, features: {dataParallelAttention: true}}).verdict).not.toBe('impossible')
  })
})

describe('servingCeiling: a prompt adds its prefill FLOPs to the cycle, not another read of the weights', () => {
  it('ISL 10: prefill alone 2 ms (memory-bound), in the cycle 0.20004 ms of compute: cycle = 200 x 2.0044 ms + 0.20004 ms', () => {
    // prefill FLOPs: 2 x 1e9 x 10 + 4 x 10 x 8 x 125 x 10^2 = 2.0004e10 -> 0.20004 ms at 1e14; weights 2e9 B / 1e12 = 2 ms
    // decode context 10 + 100 = 110: (2e9 + 40,000 x 110) / 1e12 = 2.0044 ms per step
    const c = servingCeiling(input, 1, 10, 200)!
    expect(c.ttftS).toBeCloseTo(2e-3, 12)
    expect(c.prefillTimeS).toBeCloseTo(2e-3, 12)
    expect(c.prefillInCycleS).toBeCloseTo(2.0004e-4, 15)
    expect(c.cycleTimeS).toBeCloseTo(200 * 2.0044e-3 + 2.0004e-4, 12)
  })
})
