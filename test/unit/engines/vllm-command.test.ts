import {beforeAll, describe, expect, it} from 'vitest'

import {VllmEngine, vllmCheckpoint, vllmCommandLine, vllmMaxModelLen, vllmRequestBody} from '../../../src/engines/vllm.js'
import {CapplanError} from '../../../src/lib/errors.js'
import {loadProfiles} from '../../../src/profiles/store.js'
import type {ModelProfile} from '../../../src/profiles/schema.js'

let qwen72b: ModelProfile
beforeAll(async () => {
  qwen72b = (await loadProfiles({})).get('model', 'qwen2.5-72b')
})

/** capplan bench --model qwen2.5-72b --engine vllm --gpus 2 --input-tokens 512 --output-tokens 128 --concurrency 1,8,32 */
const opts = {host: '127.0.0.1', port: 8123, gpus: 2, maxModelLen: vllmMaxModelLen(512, 128), maxNumSeqs: 32}

/** Flags every quant shares after the quant-specific ones. */
const common = [
  '--tensor-parallel-size',
  '2',
  '--max-model-len',
  '656', // 512 + 128 + 16 margin
  '--gpu-memory-utilization',
  '0.9',
  '--max-num-seqs',
  '32',
  '--no-enable-prefix-caching',
]

describe('vllmCommandLine for qwen2.5-72b on 2 GPUs', () => {
  it('int4: the AWQ checkpoint with the awq_marlin kernel in fp16', () => {
    expect(vllmCommandLine(qwen72b, 'int4', opts)).toEqual([
      'vllm',
      'serve',
      'Qwen/Qwen2.5-72B-Instruct-AWQ',
      '--host',
      '127.0.0.1',
      '--port',
      '8123',
      '--dtype',
      'float16',
      '--quantization',
      'awq_marlin',
      ...common,
    ])
  })

  it('int4 from a GPTQ-Int4 checkpoint (a profile that names one)', () => {
    const gptq: ModelProfile = {
      ...qwen72b,
      quants: {
        ...qwen72b.quants,
        int4: {...qwen72b.quants.int4, vllm: {repo: 'Qwen/Qwen2.5-72B-Instruct-GPTQ-Int4', quantization: 'gptq_marlin', dtype: 'float16', bitsPerWeight: 4.25}},
      },
    }
    expect(vllmCommandLine(gptq, 'int4', opts)).toEqual([
      'vllm',
      'serve',
      'Qwen/Qwen2.5-72B-Instruct-GPTQ-Int4',
      '--host',
      '127.0.0.1',
      '--port',
      '8123',
      '--dtype',
      'float16',
      '--quantization',
      'gptq_marlin',
      ...common,
    ])
  })

  it('int8: the GPTQ-Int8 checkpoint', () => {
    expect(vllmCommandLine(qwen72b, 'int8', opts)).toEqual([
      'vllm',
      'serve',
      'Qwen/Qwen2.5-72B-Instruct-GPTQ-Int8',
      '--host',
      '127.0.0.1',
      '--port',
      '8123',
      '--dtype',
      'float16',
      '--quantization',
      'gptq_marlin',
      ...common,
    ])
  })

  it('fp16: the original BF16 checkpoint, no --quantization', () => {
    expect(vllmCommandLine(qwen72b, 'fp16', opts)).toEqual([
      'vllm',
      'serve',
      'Qwen/Qwen2.5-72B-Instruct',
      '--host',
      '127.0.0.1',
      '--port',
      '8123',
      '--dtype',
      'bfloat16',
      ...common,
    ])
  })

  it('--synthetic adds --load-format dummy; extra args come last; the binary can be a path', () => {
    const line = vllmCommandLine(qwen72b, 'fp16', {...opts, bin: '/opt/venv/bin/vllm', synthetic: true, gpuMemoryUtilization: 0.85, extraArgs: ['--kv-cache-dtype', 'fp8']})
    expect(line[0]).toBe('/opt/venv/bin/vllm')
    expect(line.slice(-5)).toEqual(['--no-enable-prefix-caching', '--load-format', 'dummy', '--kv-cache-dtype', 'fp8'])
    expect(line[line.indexOf('--gpu-memory-utilization') + 1]).toBe('0.85')
  })
})

describe('vllmCheckpoint', () => {
  it('names the repo and weight format the result file records', () => {
    expect(vllmCheckpoint(qwen72b, 'int4')).toEqual({repo: 'Qwen/Qwen2.5-72B-Instruct-AWQ', format: 'AWQ'})
    expect(vllmCheckpoint(qwen72b, 'int8')).toEqual({repo: 'Qwen/Qwen2.5-72B-Instruct-GPTQ-Int8', format: 'GPTQ-Int8'})
    expect(vllmCheckpoint(qwen72b, 'fp16')).toEqual({repo: 'Qwen/Qwen2.5-72B-Instruct', format: 'BF16'})
    const withVllm = (vllm: ModelProfile['quants']['int8']['vllm']): ModelProfile => ({...qwen72b, quants: {...qwen72b.quants, int8: {...qwen72b.quants.int8, vllm}}})
    expect(vllmCheckpoint(withVllm({repo: 'RedHatAI/Qwen2.5-72B-Instruct-quantized.w8a8', quantization: 'compressed-tensors', dtype: 'auto', bitsPerWeight: 8}), 'int8').format).toBe('W8A8')
    expect(vllmCheckpoint(withVllm({repo: 'Qwen/Qwen2.5-72B-Instruct', quantization: 'fp8', dtype: 'bfloat16', bitsPerWeight: 8}), 'int8').format).toBe('FP8')
  })
})

describe('vllmRequestBody', () => {
  it('sends token ids with ignore_eos, min_tokens = max_tokens and usage in the stream, without llama.cpp fields', () => {
    expect(vllmRequestBody({promptTokens: [11, 22, 33], promptText: null, maxTokens: 64, ignoreEos: true}, 'Qwen/Qwen2.5-72B-Instruct-AWQ')).toEqual({
      model: 'Qwen/Qwen2.5-72B-Instruct-AWQ',
      prompt: [11, 22, 33],
      max_tokens: 64,
      min_tokens: 64,
      ignore_eos: true,
      stream: true,
      stream_options: {include_usage: true},
    })
  })
})

describe('VllmEngine options', () => {
  it('rejects a bad --gpus and a bad memory utilization with INVALID_INPUT', () => {
    const base = {profile: qwen72b, quant: 'int4' as const, gpus: 2, maxConcurrency: 4, inputTokens: 128, outputTokens: 32}
    expect(() => new VllmEngine({...base, gpus: 0})).toThrow(CapplanError)
    expect(() => new VllmEngine({...base, gpus: 0})).toThrow(/--gpus/)
    expect(() => new VllmEngine({...base, gpuMemoryUtilization: 1.5})).toThrow(/memory utilization/)
  })

  it('a missing vllm is NOT_FOUND with a suggestion, before anything is spawned', async () => {
    const engine = new VllmEngine({profile: qwen72b, quant: 'int4', gpus: 2, maxConcurrency: 4, inputTokens: 128, outputTokens: 32, vllmBin: 'vllm-not-installed-here'})
    const error = await engine.start().then(
      () => null,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(CapplanError)
    expect((error as CapplanError).kind).toBe('NOT_FOUND')
    expect((error as CapplanError).message).toContain('vllm-not-installed-here')
    expect(engine.pid).toBeNull()
  })
})
