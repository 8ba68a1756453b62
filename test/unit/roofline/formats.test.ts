import {beforeAll, describe, expect, it} from 'vitest'

import {CapplanError, ExitCode} from '../../../src/lib/errors.js'
import type {ModelProfile} from '../../../src/profiles/schema.js'
import {formatFromName, kvCacheBytesPerElement, resolveFormat, weightFormats} from '../../../src/roofline/formats.js'
import {builtins} from './helpers.js'

let qwen72: ModelProfile
let deepseek: ModelProfile
beforeAll(async () => {
  const p = await builtins()
  qwen72 = p.model('qwen2.5-72b')
  deepseek = p.model('deepseek-v3')
})

function invalid(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(CapplanError)
    expect((error as CapplanError).exitCode).toBe(ExitCode.invalidInput)
    return (error as CapplanError).message
  }
  throw new Error('expected INVALID_INPUT')
}

describe('bits per weight table (planning.md)', () => {
  it('holds the effective bits of each format, scales included', () => {
    // Q8_0: 34 bytes per 32 weights = 8.5; Q4_0: 18 bytes per 32 = 4.5.
    expect(Object.fromEntries(Object.values(weightFormats).map((f) => [f.id, f.bitsPerWeight]))).toEqual({
      fp16: 16,
      bf16: 16,
      fp8: 8,
      q8_0: 8.5,
      'gptq-int8': 8.25,
      q4_k_m: 4.85,
      q4_0: 4.5,
      awq: 4.25,
      gptq: 4.25,
    })
  })

  it('KV cache bytes per element: q8_0 is 34 / 32', () => {
    expect(kvCacheBytesPerElement).toEqual({fp16: 2, bf16: 2, fp8: 1, q8_0: 1.0625})
  })
})

describe('resolveFormat', () => {
  it('gguf (default) takes the profile llama.cpp format of the quant level', () => {
    const f = resolveFormat(qwen72, 'int4')
    expect(f).toMatchObject({label: 'Q4_K_M', bitsPerWeight: 4.85, quant: 'int4', computeDtype: 'fp16'})
    expect(f.source).toContain('Qwen/Qwen2.5-72B-Instruct-GGUF')
    expect(resolveFormat(deepseek, 'fp16').label).toBe('BF16')
  })

  it('vllm takes the checkpoint bitsPerWeight; FP8 checkpoints compute at the FP8 peak', () => {
    expect(resolveFormat(qwen72, 'int4', 'vllm')).toMatchObject({label: 'vLLM AWQ', bitsPerWeight: 4.25, computeDtype: 'fp16'})
    expect(resolveFormat(qwen72, 'int8', 'vllm')).toMatchObject({label: 'vLLM GPTQ', bitsPerWeight: 8.25})
    expect(resolveFormat(deepseek, 'int8', 'vllm')).toMatchObject({label: 'vLLM FP8', bitsPerWeight: 8, computeDtype: 'fp8'})
  })

  it('a concrete format needs no --quant, and must agree with one when given', () => {
    expect(resolveFormat(qwen72, undefined, 'awq').bitsPerWeight).toBe(4.25)
    const message = invalid(() => resolveFormat(qwen72, 'int4', 'q8_0'))
    expect(message).toBe('--format q8_0 is an int8 format (8.5 bits per weight) but --quant is int4.')
    expect(invalid(() => resolveFormat(qwen72, undefined, 'gguf'))).toContain('needs --quant')
  })
})

describe('formatFromName (result files)', () => {
  it('maps recorded names to sizes, case-insensitively', () => {
    expect(formatFromName('Q4_K_M')?.bitsPerWeight).toBe(4.85)
    expect(formatFromName('awq')?.bitsPerWeight).toBe(4.25)
    expect(formatFromName('GPTQ-Int4')?.bitsPerWeight).toBe(4.25)
    expect(formatFromName('GPTQ-Int8')?.bitsPerWeight).toBe(8.25)
    expect(formatFromName('BF16')?.bitsPerWeight).toBe(16)
    expect(formatFromName('F16')?.label).toBe('FP16')
    expect(formatFromName('Q5_K_S')).toBeUndefined()
  })
})
