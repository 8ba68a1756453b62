import {beforeAll, describe, expect, it} from 'vitest'

import type {GpuProfile, ModelProfile} from '../../../src/profiles/schema.js'
import {defaultEfficiency, hardwareFromProfile} from '../../../src/roofline/ceilings.js'
import {estimate, type EstimateInput} from '../../../src/roofline/estimate.js'
import {resolveFormat, weightFormats} from '../../../src/roofline/formats.js'
import {renderEstimate} from '../../../src/report/render/estimate.js'
import {builtins} from './helpers.js'

let m: (id: string) => ModelProfile
let g: (id: string) => GpuProfile
beforeAll(async () => {
  const p = await builtins()
  m = p.model
  g = p.gpu
})

function qwenOnH100(overrides: Partial<EstimateInput> = {}): EstimateInput {
  return {
    model: m('qwen2.5-72b'),
    format: resolveFormat(m('qwen2.5-72b'), 'int4'),
    hardware: {...hardwareFromProfile(g('h100-sxm')), memoryBytesPerGpu: 80e9},
    kvCache: 'fp16',
    memoryUtilization: 0.9,
    overheadGBPerGpu: 1,
    contextTokens: 8192,
    inputTokens: 8192,
    factors: defaultEfficiency,
    ...overrides,
  }
}

describe('estimate: the issue example (qwen2.5-72b int4 on h100-sxm)', () => {
  it('fit, capacity and ceilings match the hand calculation', () => {
    const e = estimate(qwenOnH100())
    expect(e.format.label).toBe('Q4_K_M')
    expect(e.memory.weightsBytes).toBeCloseTo(44_074_375_000, 0) // 72.7e9 x 4.85 / 8
    expect(e.kvCache.perToken.bytes).toBe(327_680)
    expect(e.memory.freeForKvBytes).toBeCloseTo(26_925_625_000, 0) // 72e9 - 44.074375e9 - 1e9
    expect(e.memory.maxSequences).toBe(10) // 26.925625e9 / 2.68435456e9 = 10.03
    expect(e.minimumGpus.byMemory).toBe(1)
    expect(e.layout).toMatchObject({gpus: 1, tp: 1, pp: 1})
    expect(e.ceilings.batch1.tokensPerSecond).toBeCloseTo(60.8063, 4) // 2.68e12 / 44.074375e9
    // Without --concurrency the batched table goes to the max sequences: 1, 2, 4, 8, 10.
    expect(e.ceilings.batched.map((r) => r.batch)).toEqual([1, 2, 4, 8, 10])
    expect(e.ceilings.batched.at(-1)?.tokensPerSecond).toBeCloseTo(377.9, 1)
    expect(e.ceilings.prefill.tokensPerSecond).toBeCloseTo(2963.29, 1)
    expect(e.warnings).toEqual([])
  })

  it('--concurrency beyond the KV capacity marks the rows that do not fit and warns', () => {
    const e = estimate(qwenOnH100({concurrency: 16}))
    expect(e.ceilings.batched.map((r) => [r.batch, r.fitsInMemory])).toEqual([
      [1, true],
      [2, true],
      [4, true],
      [8, true],
      [16, false],
    ])
    expect(e.warnings).toContain('--concurrency 16 exceeds the 10 sequences whose KV fits at 8192 tokens')
  })

  it('an FP8 KV cache halves KV per token and doubles the sequences that fit (10 -> 20)', () => {
    const e = estimate(qwenOnH100({kvCache: 'fp8'}))
    expect(e.kvCache.perToken.bytes).toBe(163_840)
    expect(e.memory.maxSequences).toBe(20) // 26.925625e9 / (163,840 x 8192) = 20.06
  })

  it('AWQ on 2 GPUs: TP 2, weights 38.62 GB across two, free = 144 - 38.62 - 2 = 103.38 GB -> 38 sequences', () => {
    const e = estimate(qwenOnH100({format: {...weightFormats.awq}, gpus: 2}))
    expect(e.layout).toMatchObject({tp: 2, pp: 1, kv: 'split'})
    expect(e.memory.freeForKvBytes).toBeCloseTo(103_378_125_000, 0)
    expect(e.memory.maxSequences).toBe(38) // 103.378125e9 / 2.68435456e9 = 38.51
    // 2 x 2.68e12 / 38.621875e9 = 138.78
    expect(e.ceilings.batch1.tokensPerSecond).toBeCloseTo(138.7814, 3)
  })

  it('assumptions state every factor and the overhead; the human form prints fit, ceilings and the estimate label', () => {
    const e = estimate(qwenOnH100())
    const text = e.assumptions.join('\n')
    expect(text).toContain('eta_bw 0.8 (planning.md')
    expect(text).toContain('eta_c 0.5')
    expect(text).toContain('prefill MFU 0.5')
    expect(text).toContain('minus 1 GB per GPU runtime overhead')
    expect(text).toContain('72.7B params x 4.85 bits / 8 = 44.07 GB')
    const human = renderEstimate(e)
    expect(human).toContain('ESTIMATE from datasheet physics, not a measurement.')
    expect(human).toContain('max sequences  10 at 8,192 tokens')
    expect(human).toContain('batch-1 decode 60.81 tok/s')
    expect(human).toContain('prefill of a 8,192-token prompt: 2,963 tok/s')
  })

  it('MoE assumptions name the expert-fraction rule', () => {
    const e = estimate({...qwenOnH100(), model: m('mixtral-8x7b'), format: {...weightFormats.q4_k_m}})
    expect(e.model.routedExpertParamsB).toBeCloseTo(45.0972, 4)
    expect(e.assumptions.some((a) => a.includes('1 - (1 - 2/8)^B'))).toBe(true)
  })
})
