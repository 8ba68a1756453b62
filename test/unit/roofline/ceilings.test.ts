import {beforeAll, describe, expect, it} from 'vitest'

import type {GpuProfile, ModelProfile} from '../../../src/profiles/schema.js'
import {
  attentionFlopsPerPair,
  batch1DecodeCeiling,
  batchSizes,
  decodeStep,
  defaultEfficiency,
  hardwareFromProfile,
  peakFlops,
  prefillCeiling,
  type CeilingInput,
} from '../../../src/roofline/ceilings.js'
import {builtins} from './helpers.js'

let m: (id: string) => ModelProfile
let g: (id: string) => GpuProfile
beforeAll(async () => {
  const p = await builtins()
  m = p.model
  g = p.gpu
})

function input(model: string, gpu: string, bits: number, tp = 1, pp = 1): CeilingInput {
  return {
    model: m(model),
    bitsPerWeight: bits,
    computeDtype: 'fp16',
    kvBytesPerElement: 2,
    hardware: hardwareFromProfile(g(gpu)),
    tp,
    pp,
    factors: defaultEfficiency,
  }
}

describe('hardware', () => {
  it('profile numbers per GPU; the cpu profile has no bandwidth until --bandwidth sets it', () => {
    const h100 = hardwareFromProfile(g('h100-sxm'))
    expect(h100.bandwidthBytesPerSPerGpu).toBe(3.35e12)
    expect(h100.memoryBytesPerGpu).toBe(80e9)
    expect(h100.peakFlopsPerGpu.fp16).toBe(989e12)
    const cpu = hardwareFromProfile(g('cpu'))
    expect(cpu.bandwidthBytesPerSPerGpu).toBeNull()
    expect(cpu.bandwidthSource).toBe('missing')
    const set = hardwareFromProfile(g('cpu'), {bandwidthGBs: 40, memoryGB: 16})
    expect(set.bandwidthBytesPerSPerGpu).toBe(40e9)
    expect(set.bandwidthSource).toBe('flag')
    expect(set.memoryBytesPerGpu).toBe(16e9)
  })

  it('A100 has no FP8 tensor cores: FP8 weights run at the FP16 peak', () => {
    expect(peakFlops(hardwareFromProfile(g('a100-80gb-sxm')), 'fp8')).toBe(312e12)
    expect(peakFlops(hardwareFromProfile(g('h100-sxm')), 'fp8')).toBe(1979e12)
  })
})

describe('attention FLOPs per (query, context) token pair', () => {
  it('GQA 4 x L x heads x headDim; MLA decode absorbed 2 x L x H x (2 x 512 + 64); MLA prefill 2 x L x H x (128 + 64 + 128)', () => {
    expect(attentionFlopsPerPair(m('llama-3.1-70b'), 'decode')).toBe(2_621_440) // 4 x 80 x 64 x 128
    expect(attentionFlopsPerPair(m('deepseek-v3'), 'decode')).toBe(16_990_208) // 2 x 61 x 128 x 1088
    expect(attentionFlopsPerPair(m('deepseek-v3'), 'prefill')).toBe(4_997_120) // 2 x 61 x 128 x 320
  })
})

describe('decode ceilings', () => {
  it('batch-1: Qwen2.5-72B Q4_K_M on 1 x H100 = 3.35e12 x 0.8 / 44.074375e9 = 60.806 tok/s', () => {
    const c = batch1DecodeCeiling(input('qwen2.5-72b', 'h100-sxm', 4.85))
    expect(c.bytesPerToken).toBeCloseTo(44_074_375_000, 0)
    expect(c.tokensPerSecond).toBeCloseTo(60.8063, 4) // 2.68e12 / 44.074375e9
  })

  it('batch-1 under TP 8 reads 8 GPUs in parallel: Llama 3.1 70B FP16 on 8 x H100', () => {
    // 8 x 3.35e12 x 0.8 / (70.6e9 x 2) = 21.44e12 / 141.2e9 = 151.84
    expect(batch1DecodeCeiling(input('llama-3.1-70b', 'h100-sxm', 16, 8)).tokensPerSecond).toBeCloseTo(151.841, 3)
  })

  it('batched, memory-bound: Qwen2.5-72B Q4_K_M, 10 sequences of 8192 tokens on 1 x H100', () => {
    const step = decodeStep(input('qwen2.5-72b', 'h100-sxm', 4.85), 10, 8192)
    expect(step.kvBytesRead).toBe(26_843_545_600) // 10 x 327,680 x 8192
    // (44.074375e9 + 26.8435456e9) / 2.68e12 = 26.4619 ms
    expect(step.memoryTimeS).toBeCloseTo(0.026_461_9, 7)
    // 10 x (2 x 72.7e9 + 2,621,440 x 8192) = 1.66874836e12 FLOPs / (989e12 x 0.5) = 3.3746 ms
    expect(step.flops).toBeCloseTo(1.668_748_364_8e12, -3)
    expect(step.computeTimeS).toBeCloseTo(0.003_374_6, 7)
    expect(step.bound).toBe('memory')
    expect(step.tokensPerSecond).toBeCloseTo(377.9, 1) // 10 / 26.4619 ms
    expect(step.perSequenceTokensPerSecond).toBeCloseTo(37.79, 2)
  })

  it('batched, compute-bound: Llama 3.1 8B FP16, 256 sequences of 16 tokens on 1 x H100', () => {
    const step = decodeStep(input('llama-3.1-8b', 'h100-sxm', 16), 256, 16)
    // bytes 16.06e9 + 256 x 131,072 x 16 = 16.596870912e9 -> / 2.68e12 = 6.1929 ms
    expect(step.memoryTimeS).toBeCloseTo(0.006_192_9, 7)
    // 256 x (16.06e9 + 4 x 32 x 32 x 128 x 16) = 256 x 16,068,388,608 = 4.1135e12 / 494.5e12 = 8.3185 ms
    expect(step.computeTimeS).toBeCloseTo(0.008_318_5, 7)
    expect(step.bound).toBe('compute')
    expect(step.tokensPerSecond).toBeCloseTo(30_774.7, 0) // 256 / 8.3185 ms
  })

  it('MoE reads more experts as the batch grows: Mixtral Q4_K_M weights read at batch 1 vs 2', () => {
    const i = input('mixtral-8x7b', 'h100-sxm', 4.85)
    expect(decodeStep(i, 1, 1).weightBytesRead).toBeCloseTo(7_820_625_000, 0) // 12.9e9 x 4.85 / 8
    expect(decodeStep(i, 2, 1).weightBytesRead).toBeCloseTo(12_946_903_348.8, 0) // 21.355716864e9 x 4.85 / 8
  })

  it('pipeline: PP stages take turns, so batch 2 on TP 4 x PP 3 is twice batch 1, each sequence no faster', () => {
    const i = input('llama-3.1-405b', 'a100-80gb-sxm', 16, 4, 3)
    const one = decodeStep(i, 1, 2048)
    const two = decodeStep(i, 2, 2048)
    // batch 1: (812e9 + 516,096 x 2048) / (4 x 2.039e12 x 0.8) = 813.057e9 / 6.5248e12 = 124.61 ms -> 8.025 tok/s
    expect(one.tokensPerSecond).toBeCloseTo(8.025, 3)
    // batch 2: 2 micro-batches each read the weights: (2 x 812e9 + 2 x 1.057e9) / (8 x 1.6312e12) -> same 124.61 ms
    expect(two.weightBytesRead).toBe(1624e9)
    expect(two.tokensPerSecond).toBeCloseTo(2 * (one.tokensPerSecond ?? 0), 6)
  })

  it('no bandwidth -> unknown, never a made-up number', () => {
    const cpu: CeilingInput = {...input('qwen2.5-0.5b', 'cpu', 4.85)}
    expect(batch1DecodeCeiling(cpu).tokensPerSecond).toBeNull()
    const step = decodeStep(cpu, 4, 512)
    expect(step.tokensPerSecond).toBeNull()
    expect(step.bound).toBe('unknown')
  })
})

describe('prefill ceiling', () => {
  it('Qwen2.5-72B Q4_K_M, 8192-token prompt on 1 x H100 at MFU 0.5', () => {
    const p = prefillCeiling(input('qwen2.5-72b', 'h100-sxm', 4.85), 8192)
    // 2 x 72.7e9 x 8192 + 2,621,440 x 8192^2 = 1.1911168e15 + 1.7592186044416e14 = 1.36703866044416e15
    expect(p.flops).toBeCloseTo(1.367_038_660_444_16e15, -3)
    expect(p.computeTimeS).toBeCloseTo(2.764_486, 5) // / (989e12 x 0.5)
    expect(p.bound).toBe('compute')
    expect(p.tokensPerSecond).toBeCloseTo(2963.29, 1) // 8192 / 2.764486
  })

  it('a short prompt is memory-bound: 16 tokens still read every weight', () => {
    const p = prefillCeiling(input('qwen2.5-72b', 'h100-sxm', 4.85), 16)
    expect(p.bound).toBe('memory')
    expect(p.ttftS).toBeCloseTo(0.016_445_7, 6) // 44.074375e9 / 2.68e12
  })

  it('without a FLOPs peak (cpu) prefill is unknown', () => {
    const cpu = {...input('qwen2.5-0.5b', 'cpu', 4.85), hardware: hardwareFromProfile(g('cpu'), {bandwidthGBs: 40})}
    expect(prefillCeiling(cpu, 512).tokensPerSecond).toBeNull()
    expect(decodeStep(cpu, 1, 0).tokensPerSecond).toBeCloseTo((40e9 * 0.8) / ((0.49e9 * 4.85) / 8), 6) // 32e9 / 297.0625e6 = 107.72
  })
})

describe('batchSizes', () => {
  it('powers of two, then the max', () => {
    expect(batchSizes(10)).toEqual([1, 2, 4, 8, 10])
    expect(batchSizes(8)).toEqual([1, 2, 4, 8])
    expect(batchSizes(1)).toEqual([1])
  })
})
