import {beforeAll, describe, expect, it} from 'vitest'

import type {ModelProfile} from '../../../src/profiles/schema.js'
import {
  expertFractionRead,
  fitReplica,
  kvBytesPerToken,
  kvBytesPerTokenPerGpu,
  kvBytesPerTokenReplica,
  minimumGpus,
  paramsReadPerStepB,
  parallelLayouts,
  routedExpertParamsB,
  tensorParallelProblem,
  tensorParallelValidity,
  validTensorParallelSizes,
  weightBytes,
} from '../../../src/roofline/memory.js'
import {builtins} from './helpers.js'

let m: (id: string) => ModelProfile
beforeAll(async () => {
  m = (await builtins()).model
})

describe('weight bytes', () => {
  it('params x bits / 8', () => {
    expect(weightBytes(70.6, 4.25)).toBe(37_506_250_000) // 70.6e9 x 4.25 / 8
    expect(weightBytes(406, 16)).toBe(812e9) // 406e9 x 2
    expect(weightBytes(72.7, 4.85)).toBeCloseTo(44_074_375_000, 0) // 72.7e9 x 4.85 / 8
  })
})

describe('KV bytes per token', () => {
  it('GQA: Llama 3.1 70B and Qwen2.5-72B = 2 x 80 x 8 x 128 x 2 = 327,680', () => {
    for (const id of ['llama-3.1-70b', 'qwen2.5-72b']) {
      const kv = kvBytesPerToken(m(id), 2)
      expect(kv.layout).toBe('gqa')
      expect(kv.bytes).toBe(327_680)
    }
    expect(kvBytesPerToken(m('llama-3.1-70b'), 1).bytes).toBe(163_840) // fp8
    expect(kvBytesPerToken(m('llama-3.1-70b'), 34 / 32).bytes).toBe(174_080) // q8_0: 2 x 80 x 8 x 128 x 1.0625
  })

  it('MLA: DeepSeek V3 = 61 x (512 + 64) x 2 = 70,272 (4.7x less than 70B GQA)', () => {
    const kv = kvBytesPerToken(m('deepseek-v3'), 2)
    expect(kv.layout).toBe('mla')
    expect(kv.bytes).toBe(70_272)
    expect(kv.formula).toBe('61 layers x (512 + 64) x 2 B')
  })

  it('under TP each GPU holds kvHeads/TP heads, at least 1 (replicated beyond kvHeads)', () => {
    const llama = m('llama-3.1-70b')
    expect(kvBytesPerTokenPerGpu(llama, 2, 4)).toBe(81_920) // 2 x 80 x 2 heads x 128 x 2
    expect(kvBytesPerTokenPerGpu(llama, 2, 8)).toBe(40_960) // 1 head each
    expect(kvBytesPerTokenPerGpu(llama, 2, 16)).toBe(40_960) // still 1 head each: replicated
    expect(kvBytesPerTokenReplica(llama, 2, 8)).toBe(327_680) // 8 x 40,960: one copy
    expect(kvBytesPerTokenReplica(llama, 2, 16)).toBe(655_360) // 16 x 40,960: two copies
    // PP splits layers: TP 4 x PP 2 -> 2 x 40 layers x 2 heads x 128 x 2 per GPU.
    expect(kvBytesPerTokenPerGpu(llama, 2, 4, 2)).toBe(40_960)
  })

  it('MLA latent is held whole by every TP rank', () => {
    const ds = m('deepseek-v3')
    expect(kvBytesPerTokenPerGpu(ds, 2, 8)).toBe(70_272)
    expect(kvBytesPerTokenReplica(ds, 2, 8)).toBe(562_176) // 8 x 70,272
  })
})

describe('MoE: total must fit, active are read', () => {
  it('Mixtral 8x7B routed experts = 32 layers x 8 x 3 x 4096 x 14336 = 45.097B of 46.7B', () => {
    expect(routedExpertParamsB(m('mixtral-8x7b'))).toBeCloseTo(45.097_156_608, 9)
    expect(routedExpertParamsB(m('llama-3.1-70b'))).toBe(0)
  })

  it('DeepSeek V3 routed = 58 MoE layers x 256 x 3 x 7168 x 2048 = 653.9B', () => {
    expect(routedExpertParamsB(m('deepseek-v3'))).toBeCloseTo(653.908_770_816, 9)
  })

  it('fraction of experts read at batch B = 1 - (1 - k/E)^B (DeepSeek V3 at 64: ~87%)', () => {
    expect(expertFractionRead(1, 2, 8)).toBe(0.25)
    expect(expertFractionRead(2, 2, 8)).toBe(0.4375) // 1 - 0.75^2
    expect(expertFractionRead(64, 8, 256)).toBeCloseTo(0.868_916, 5) // 1 - (31/32)^64 = 1 - e^(64 x ln 0.96875) = 1 - e^-2.031917 = 1 - 0.131084
  })

  it('params read per step: active at batch 1, more experts at larger batches, never above total', () => {
    const mixtral = m('mixtral-8x7b')
    expect(paramsReadPerStepB(mixtral, 1)).toBe(12.9)
    // 12.9 + 45.097156608 x (0.4375 - 0.25) = 12.9 + 8.455716864
    expect(paramsReadPerStepB(mixtral, 2)).toBeCloseTo(21.355_716_864, 9)
    // 12.9 + 45.097 x (1 - 0.75^64 - 0.25) = 46.72 > 46.7: capped at the total
    expect(paramsReadPerStepB(mixtral, 64)).toBe(46.7)
    expect(paramsReadPerStepB(m('qwen2.5-72b'), 64)).toBe(72.7)
    // Mixtral Q4_K_M: 46.7B x 4.85 / 8 = 28.31 GB must fit; 12.9B x 4.85 / 8 = 7.82 GB read per token.
    expect(weightBytes(mixtral.params.totalB, 4.85)).toBeCloseTo(28_311_875_000, 0)
    expect(weightBytes(mixtral.params.activeB, 4.85)).toBeCloseTo(7_820_625_000, 0)
  })
})

describe('tensor-parallel sizes', () => {
  it('Llama 3.1 405B (128 heads, 8 KV heads): 1,2,4,8 split; 16..128 replicate KV; 12 invalid', () => {
    const llama = m('llama-3.1-405b')
    expect(validTensorParallelSizes(llama)).toEqual({split: [1, 2, 4, 8], replicated: [16, 32, 64, 128]})
    expect(tensorParallelValidity(llama, 12)).toBe('invalid')
    expect(tensorParallelValidity(llama, 16)).toBe('replicated')
    expect(tensorParallelProblem(llama, 12)).toBe('TP 12 does not divide 128 attention heads')
    expect(tensorParallelProblem(llama, 8)).toBeUndefined()
  })

  it('Qwen2.5-7B (28 heads, 4 KV heads): 7 and 14 divide the heads but neither split nor replicate 4 KV heads', () => {
    const qwen = m('qwen2.5-7b')
    expect(validTensorParallelSizes(qwen)).toEqual({split: [1, 2, 4], replicated: [28]})
    expect(tensorParallelProblem(qwen, 7)).toBe('TP 7 neither divides 4 KV heads nor is a multiple of them')
  })

  it('MLA has no KV heads to split: every divisor of the 128 heads', () => {
    expect(validTensorParallelSizes(m('deepseek-v3'))).toEqual({split: [1, 2, 4, 8, 16, 32, 64, 128], replicated: []})
  })

  it('12 GPUs for 405B: TP 4 x PP 3, TP 2 x PP 6, TP 1 x PP 12', () => {
    expect(parallelLayouts(m('llama-3.1-405b'), 12)).toEqual([
      {tp: 4, pp: 3, kv: 'split'},
      {tp: 2, pp: 6, kv: 'split'},
      {tp: 1, pp: 12, kv: 'split'},
    ])
  })
})

describe('fit', () => {
  const a100 = 80e9
  it('Llama 3.1 70B AWQ on 1 x A100 80GB at 0.9, 1 GB overhead, 8192 tokens', () => {
    const fit = fitReplica({
      model: m('llama-3.1-70b'),
      bitsPerWeight: 4.25,
      kvBytesPerElement: 2,
      memoryBytesPerGpu: a100,
      gpus: 1,
      tp: 1,
      pp: 1,
      memoryUtilization: 0.9,
      overheadBytesPerGpu: 1e9,
      contextTokens: 8192,
    })
    expect(fit.weightsBytes).toBe(37_506_250_000)
    expect(fit.usableBytes).toBe(72e9) // 80e9 x 0.9
    expect(fit.freeForKvBytes).toBe(33_493_750_000) // 72e9 - 37.50625e9 - 1e9
    expect(fit.kvBytesPerSequence).toBe(2_684_354_560) // 327,680 x 8192
    expect(fit.maxSequences).toBe(12) // 33.49375e9 / 2.68435456e9 = 12.48
    expect(fit.kvTokenCapacity).toBe(102_214) // 33.49375e9 / 327,680 = 102,214.1
    expect(fit.fits).toBe(true)
  })

  it('weights that do not fit leave no sequences', () => {
    const fit = fitReplica({
      model: m('deepseek-v3'),
      bitsPerWeight: 4.25,
      kvBytesPerElement: 2,
      memoryBytesPerGpu: a100,
      gpus: 4,
      tp: 4,
      pp: 1,
      memoryUtilization: 0.9,
      overheadBytesPerGpu: 1e9,
      contextTokens: 8192,
    })
    expect(fit.weightsBytes).toBe(356_468_750_000) // 671e9 x 4.25 / 8
    expect(fit.freeForKvBytes).toBeCloseTo(-72_468_750_000, 0) // 288e9 - 356.46875e9 - 4e9
    expect(fit.weightsFit).toBe(false)
    expect(fit.maxSequences).toBe(0)
  })

  it('minimum GPUs: 405B FP16 on A100 80GB needs 12 (TP 4 x PP 3), or 16 as one TP group', () => {
    const min = minimumGpus({
      model: m('llama-3.1-405b'),
      bitsPerWeight: 16,
      kvBytesPerElement: 2,
      memoryBytesPerGpu: a100,
      memoryUtilization: 0.9,
      overheadBytesPerGpu: 1e9,
      contextTokens: 8192,
    })
    // 11 x (72 - 1) = 781 GB < 812 GB; 12 x 71 = 852 GB leaves 40 GB > 4.23 GB for one sequence (516,096 x 8192).
    expect(min.byMemory).toBe(12)
    expect(min.layouts.map((l) => `${l.tp}x${l.pp}`)).toEqual(['4x3', '2x6', '1x12'])
    expect(min.tensorParallel).toBe(16)
  })
})
