import {beforeAll, describe, expect, it} from 'vitest'

import type {GpuProfile, ModelProfile} from '../../../src/profiles/schema.js'
import {defaultEfficiency, hardwareFromProfile} from '../../../src/roofline/ceilings.js'
import {estimate, type Estimate} from '../../../src/roofline/estimate.js'
import {weightFormats, type WeightFormatId} from '../../../src/roofline/formats.js'
import {checkMeasuredDecode, efficiency} from '../../../src/roofline/sanity.js'
import {builtins} from './helpers.js'

/**
 * Seed 000's self-hosted configurations ("Cost Model", self_hosted = {...}) through the roofline. The article
 * states a batch-1 tokens/s for each and prices a whole GPU month on it. INT4 is read as AWQ/GPTQ g128
 * (4.25 bits, planning.md), FP16 as 16 bits; A100 80GB SXM: 80 GB, 2.039 TB/s, 312 TFLOPS.
 * Defaults: memory utilization 0.9, 1 GB/GPU overhead, 8192 tokens of context, eta_bw 0.8.
 */

let m: (id: string) => ModelProfile
let g: (id: string) => GpuProfile
beforeAll(async () => {
  const p = await builtins()
  m = p.model
  g = p.gpu
})

function seedConfig(model: string, format: WeightFormatId, gpus: number): Estimate {
  const hardware = hardwareFromProfile(g('a100-80gb-sxm'))
  return estimate({
    model: m(model),
    format: {...weightFormats[format]},
    hardware: {...hardware, memoryBytesPerGpu: 80e9},
    gpus,
    kvCache: 'fp16',
    memoryUtilization: 0.9,
    overheadGBPerGpu: 1,
    contextTokens: 8192,
    inputTokens: 1024,
    concurrency: 1,
    factors: defaultEfficiency,
  })
}

/** The seed's stated tokens/s checked at batch 1 with a 1-token context: the most generous reading. */
function checkStated(e: Estimate, model: string, format: WeightFormatId, tokensPerSecond: number) {
  return checkMeasuredDecode({
    model: m(model),
    format: {...weightFormats[format]},
    kvCache: 'fp16',
    hardware: hardwareFromProfile(g('a100-80gb-sxm')),
    tp: e.layout.tp,
    pp: e.layout.pp,
    batch: 1,
    inputTokens: 1,
    outputTokens: 1,
    measuredTokensPerSecond: tokensPerSecond,
  })
}

describe('seed 000: Llama 3.1 70B (INT4, 1x A100), stated 25 tok/s', () => {
  it('fits; the stated 25 tok/s is 57% of the 43.5 tok/s batch-1 ceiling: plausible', () => {
    const e = seedConfig('llama-3.1-70b', 'awq', 1)
    expect(e.memory.weightsBytes).toBe(37_506_250_000) // 70.6e9 x 4.25 / 8 = 37.5 GB
    expect(e.memory.fits).toBe(true)
    expect(e.memory.maxSequences).toBe(12) // (72 - 1 - 37.50625) GB / (327,680 x 8192) = 12.48
    expect(e.layout.impliedTp.validity).toBe('split') // TP 1
    // 2.039e12 x 0.8 / 37.50625e9 = 1.6312e12 / 37.50625e9 = 43.4914
    expect(e.ceilings.batch1.tokensPerSecond).toBeCloseTo(43.4914, 4)
    expect(efficiency(25, e.ceilings.batch1.tokensPerSecond)).toBeCloseTo(0.574_825, 5)
    expect(checkStated(e, 'llama-3.1-70b', 'awq', 25).verdict).toBe('ok')
  })
})

describe('seed 000: DeepSeek V3 (INT4, 4x A100), stated 15 tok/s', () => {
  it('does NOT fit: 356.5 GB of weights > 320 GB of memory; needs 6 GPUs (TP 2 x PP 3) or 8 as one TP group', () => {
    const e = seedConfig('deepseek-v3', 'awq', 4)
    expect(e.memory.weightsBytes).toBe(356_468_750_000) // 671e9 x 4.25 / 8
    expect(e.memory.weightsBytes).toBeGreaterThan(4 * 80e9) // more than ALL the memory, before any overhead
    expect(e.memory.weightsFit).toBe(false)
    expect(e.memory.fits).toBe(false)
    // 5 x 71 GB = 355 GB < 356.5 GB; 6 x 71 GB = 426 GB holds it with TP 2 x PP 3 (TP must divide 128 heads: 6 does not).
    expect(e.minimumGpus.byMemory).toBe(6)
    expect(e.minimumGpus.layouts[0]).toEqual({tp: 2, pp: 3, kv: 'split'})
    expect(e.minimumGpus.tensorParallel).toBe(8)
    // Had it fit: 4 x 1.6312e12 / (37e9 x 4.25 / 8 = 19.65625e9) = 331.95 tok/s; 15 would be 4.5% of that.
    expect(e.ceilings.batch1.tokensPerSecond).toBeCloseTo(331.945, 2)
    expect(checkStated(e, 'deepseek-v3', 'awq', 15).verdict).toBe('does-not-fit')
  })
})

describe('seed 000: Llama 3.1 405B (FP16, 12x A100), stated 30 tok/s', () => {
  it('fits on memory, but TP 12 is invalid; TP 4 x PP 3 caps batch 1 at 8 tok/s: the stated 30 is impossible', () => {
    const e = seedConfig('llama-3.1-405b', 'fp16', 12)
    expect(e.memory.weightsBytes).toBe(812e9) // 406e9 x 2
    expect(e.memory.usableBytes).toBe(864e9) // 12 x 80e9 x 0.9 (960 GB raw)
    expect(e.memory.freeForKvBytes).toBeCloseTo(40e9, 0) // 864 - 812 - 12
    expect(e.memory.maxSequences).toBe(9) // 40e9 / (516,096 x 8192 = 4.228e9) = 9.46
    // 128 attention heads / 8 KV heads: 12 divides neither.
    expect(e.layout.impliedTp).toEqual({tp: 12, validity: 'invalid', problem: 'TP 12 does not divide 128 attention heads'})
    expect([e.layout.tp, e.layout.pp]).toEqual([4, 3])
    expect(e.validTensorParallel).toEqual({split: [1, 2, 4, 8], replicated: [16, 32, 64, 128]})
    // One sequence crosses the 3 stages in turn, so it reads at 4 GPUs' bandwidth: 4 x 1.6312e12 / 812e9 = 8.0355
    expect(e.ceilings.batch1.tokensPerSecond).toBeCloseTo(8.0355, 4)
    expect(efficiency(30, e.ceilings.batch1.tokensPerSecond)).toBeCloseTo(3.7334, 4) // 373% of the ceiling
    const stated = checkStated(e, 'llama-3.1-405b', 'fp16', 30)
    expect(stated.verdict).toBe('impossible')
    // physical limit at eta 1: 4 x 2.039e12 / (812e9 + 516,096 x 1) = 10.044 tok/s
    expect(stated.physicalLimitTokensPerSecond).toBeCloseTo(10.0443, 3)
  })

  it('even a (non-existent) TP 12 at 100% bandwidth would give only 12 x 2.039e12 / 812e9 = 30.13 tok/s; TP 16 (KV replicated) at eta 0.8 gives 32.1', () => {
    expect((12 * 2.039e12) / 812e9).toBeCloseTo(30.133, 4)
    const e16 = seedConfig('llama-3.1-405b', 'fp16', 16)
    expect(e16.layout).toMatchObject({tp: 16, pp: 1, kv: 'replicated'})
    expect(e16.ceilings.batch1.tokensPerSecond).toBeCloseTo(32.1419, 4) // 16 x 1.6312e12 / 812e9
    expect(e16.warnings.some((w) => w.includes('spans more than one 8-GPU node'))).toBe(true)
  })
})

describe('seed 000: Qwen 2.5 72B (INT4, 1x A100), stated 22 tok/s', () => {
  it('fits; 22 tok/s is 52% of the 42.2 tok/s ceiling: plausible', () => {
    const e = seedConfig('qwen2.5-72b', 'awq', 1)
    expect(e.memory.weightsBytes).toBe(38_621_875_000) // 72.7e9 x 4.25 / 8
    expect(e.memory.fits).toBe(true)
    expect(e.memory.maxSequences).toBe(12) // (72 - 1 - 38.621875) GB / 2.68435456 GB = 12.06
    expect(e.ceilings.batch1.tokensPerSecond).toBeCloseTo(42.2351, 4) // 1.6312e12 / 38.621875e9
    expect(efficiency(22, e.ceilings.batch1.tokensPerSecond)).toBeCloseTo(0.520_894, 5)
    expect(checkStated(e, 'qwen2.5-72b', 'awq', 22).verdict).toBe('ok')
  })
})
