import {beforeAll, describe, expect, it} from 'vitest'

import type {GpuProfile, ModelProfile} from '../../../src/profiles/schema.js'
import {hardwareFromProfile} from '../../../src/roofline/ceilings.js'
import {weightFormats} from '../../../src/roofline/formats.js'
import {checkMeasuredDecode, efficiency, operatingPointFor, whatIf, type OperatingPoint} from '../../../src/roofline/sanity.js'
import {builtins} from './helpers.js'

let m: (id: string) => ModelProfile
let g: (id: string) => GpuProfile
beforeAll(async () => {
  const p = await builtins()
  m = p.model
  g = p.gpu
})

const awq = {...weightFormats.awq}

/** Llama 3.1 70B AWQ on one A100 80GB, batch 1, 1024 in / 256 out. */
function llamaOnA100(measured: number, overrides: Partial<OperatingPoint> = {}): OperatingPoint {
  return {
    model: m('llama-3.1-70b'),
    format: awq,
    kvCache: 'fp16',
    hardware: hardwareFromProfile(g('a100-80gb-sxm')),
    tp: 1,
    pp: 1,
    batch: 1,
    inputTokens: 1024,
    outputTokens: 256,
    measuredTokensPerSecond: measured,
    ...overrides,
  }
}

describe('efficiency', () => {
  it('measured / ceiling, null without a ceiling', () => {
    expect(efficiency(25, 50)).toBe(0.5)
    expect(efficiency(25, null)).toBeNull()
  })
})

describe('checkMeasuredDecode', () => {
  it('ceiling at the average context ISL + OSL/2, physical limit at eta 1 and context ISL', () => {
    const check = checkMeasuredDecode(llamaOnA100(25))
    expect(check.contextTokens).toBe(1152) // 1024 + 256 / 2
    // 2.039e12 x 0.8 / (37.50625e9 + 327,680 x 1152) = 1.6312e12 / 37.88373736e9
    expect(check.ceilingTokensPerSecond).toBeCloseTo(43.0581, 3)
    // 2.039e12 / (37.50625e9 + 327,680 x 1024) = 2.039e12 / 37.84179432e9
    expect(check.physicalLimitTokensPerSecond).toBeCloseTo(53.8822, 3)
    expect(check.efficiency).toBeCloseTo(0.580_61, 4) // 25 / 43.0581
    expect(check.verdict).toBe('ok')
    expect(check.message).toBe('25.0 tok/s is 58% of the 43.1 tok/s ceiling')
  })

  it('between the ceiling and the physical limit: above-ceiling, to be checked', () => {
    const check = checkMeasuredDecode(llamaOnA100(50))
    expect(check.verdict).toBe('above-ceiling')
    expect(check.efficiency).toBeCloseTo(1.1612, 3) // 50 / 43.0581
  })

  it('above the physical limit: impossible, with the suspects named', () => {
    const check = checkMeasuredDecode(llamaOnA100(60))
    expect(check.verdict).toBe('impossible')
    expect(check.message).toBe('impossible: 60.0 tok/s is 111% of the physical limit 53.9 tok/s (suspect a prefix cache, wrong token counts, or clocks)')
  })

  it('weights larger than all the claimed memory: does-not-fit (DeepSeek V3 AWQ on 4 x A100)', () => {
    const check = checkMeasuredDecode(llamaOnA100(15, {model: m('deepseek-v3'), tp: 4}))
    expect(check.verdict).toBe('does-not-fit')
    expect(check.message).toContain('356.5 GB of AWQ 4-bit (g128) weights exceed 4 x 80 GB')
  })

  it('no bandwidth (cpu): unknown, asks to measure or set it', () => {
    const check = checkMeasuredDecode(llamaOnA100(5, {model: m('qwen2.5-0.5b'), hardware: hardwareFromProfile(g('cpu'))}))
    expect(check.verdict).toBe('unknown')
    expect(check.efficiency).toBeNull()
    expect(check.message).toContain('measure it or set it')
  })
})

describe('whatIf', () => {
  it('scales by the ceiling ratio at the same batch and context: A100 -> H200 = x 4.8 / 2.039 (both memory-bound)', () => {
    const r = whatIf(llamaOnA100(25), {hardware: hardwareFromProfile(g('h200'))})
    expect(r.ok).toBe(true)
    if (!r.ok) return
    expect(r.label).toBe('estimate')
    expect(r.targetCeilingTokensPerSecond).toBeCloseTo(101.3628, 3) // 4.8e12 x 0.8 / 37.88373736e9
    expect(r.estimatedTokensPerSecond).toBeCloseTo(58.8524, 3) // 25 x 4.8 / 2.039
    expect(r.ceilingRatio).toBeCloseTo(2.354_09, 4) // 4.8 / 2.039
    expect(r.target).toEqual({id: 'h200', gpus: 1, tp: 1, pp: 1})
    expect(r.basis).toContain('25.0 tok/s measured on 1 x a100-80gb-sxm at batch 1 = 58% of its ceiling')
    expect(r.warnings).toEqual([])
  })

  it('refuses a target the weights do not fit', () => {
    const r = whatIf(llamaOnA100(25), {hardware: hardwareFromProfile(g('rtx-4090'))})
    expect(r).toEqual({ok: false, reason: 'llama-3.1-70b (37.5 GB of AWQ 4-bit (g128) weights) does not fit on 1 x rtx-4090'})
  })

  it('refuses a target that holds the weights but not the batch: 64 x 1280 tokens on one L40S', () => {
    // L40S: 48e9 x 0.9 - 1e9 - 37.50625e9 = 4.69375e9 free / (327,680 x 1280) = 11 sequences < 64
    const r = whatIf(llamaOnA100(900, {batch: 64}), {hardware: hardwareFromProfile(g('l40s'))})
    expect(r).toEqual({
      ok: false,
      reason: '1 x l40s holds the weights but the KV of only 11 sequences of 1280 tokens, not the measured batch of 64',
    })
  })

  it('refuses to scale an impossible measurement', () => {
    const r = whatIf(llamaOnA100(60), {hardware: hardwareFromProfile(g('h200'))})
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.reason).toContain('impossible')
  })
})

describe('operatingPointFor (what report builds from a result file)', () => {
  it('reads the recorded format name; unknown names fall back to the profile GGUF; 0 GPUs (CPU) is 1 device', () => {
    const base = {
      model: m('qwen2.5-0.5b'),
      quant: 'int4' as const,
      gpu: g('cpu'),
      gpus: 0,
      concurrency: 4,
      inputTokens: 128,
      outputTokens: 64,
      measuredTokensPerSecond: 40,
      bandwidthGBs: 20,
    }
    const known = operatingPointFor({...base, formatName: 'Q4_0'})
    expect(known.format.bitsPerWeight).toBe(4.5)
    expect(known.tp).toBe(1)
    expect(known.hardware.bandwidthBytesPerSPerGpu).toBe(20e9)
    expect(operatingPointFor({...base, formatName: 'IQ2_XS'}).format.bitsPerWeight).toBe(4.85) // profile int4 GGUF: Q4_K_M
  })

  it('an invalid TP for the GPU count becomes the largest valid TP x PP', () => {
    const p = operatingPointFor({
      model: m('llama-3.1-405b'),
      quant: 'fp16',
      formatName: 'BF16',
      gpu: g('a100-80gb-sxm'),
      gpus: 12,
      concurrency: 1,
      inputTokens: 1,
      outputTokens: 1,
      measuredTokensPerSecond: 30,
    })
    expect([p.tp, p.pp]).toEqual([4, 3])
  })
})
