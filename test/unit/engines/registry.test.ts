import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {EmbeddedEngine} from '../../../src/engines/embedded.js'
import {LlamaCppEngine} from '../../../src/engines/llamacpp/engine.js'
import {OpenAiEngine} from '../../../src/engines/openai.js'
import {ALL_APIS, API_PATHS, createEngine, defaultMaxInFlight, ENGINE_APIS, ENGINE_KINDS, type EngineOptions} from '../../../src/engines/registry.js'
import {VllmEngine} from '../../../src/engines/vllm.js'
import {CapplanError} from '../../../src/lib/errors.js'
import {loadProfiles} from '../../../src/profiles/load.js'

/** createEngine is what bench's flags become: each kind must get exactly the options it reads. */

const dir = mkdtempSync(join(tmpdir(), 'capplan-registry-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

let base: EngineOptions
beforeAll(async () => {
  base = {
    modelPath: '/models/m.gguf',
    profile: (await loadProfiles({})).get('model', 'qwen2.5-0.5b'),
    quant: 'int4',
    device: 'auto',
    threads: 2,
    maxConcurrency: 4,
    tokensPerSequence: 160,
    inputTokens: 128,
    outputTokens: 16,
    synthetic: true,
    extraArgs: ['--foo'],
    logFile: join(dir, 'server.log'),
    startupTimeoutMs: 60_000,
  }
})

const note = () => {}

describe('engine kinds and APIs', () => {
  it('lists the four kinds, the APIs with a choice (the first is the default) and their open-loop limits', () => {
    expect(ENGINE_KINDS).toEqual(['embedded', 'llamacpp', 'vllm', 'openai'])
    expect(ENGINE_APIS).toEqual({llamacpp: ['completion', 'v1-completions'], openai: ['completions', 'chat']})
    expect(ALL_APIS).toEqual(['completion', 'v1-completions', 'completions', 'chat'])
    expect(ENGINE_KINDS.map(defaultMaxInFlight)).toEqual([16, 16, 256, 256])
  })

  it('each API posts to its wire protocol path', () => {
    expect(API_PATHS).toEqual({completion: '/completion', 'v1-completions': '/v1/completions', completions: '/v1/completions', chat: '/v1/chat/completions'})
  })
})

describe('createEngine', () => {
  it('embedded: the model, device, threads (null -> 1) and the sequence sizes, nothing of the servers', () => {
    const engine = createEngine('embedded', {...base, device: 'cpu', requestTimeoutMs: 5000, onNote: note})
    expect(engine).toBeInstanceOf(EmbeddedEngine)
    expect((engine as EmbeddedEngine).options).toEqual({modelPath: '/models/m.gguf', device: 'cpu', threads: 2, maxConcurrency: 4, tokensPerSequence: 160})
    expect((createEngine('embedded', {...base, threads: null}) as EmbeddedEngine).options.threads).toBe(1)
  })

  it('llamacpp: --device cpu is -ngl 0; the server flags, the API and the note pass through', () => {
    const engine = createEngine('llamacpp', {
      ...base,
      device: 'cpu',
      serverBin: '/bin/llama-server',
      requestTimeoutMs: 5000,
      bindHost: '0.0.0.0',
      api: 'v1-completions',
      onNote: note,
    })
    expect(engine).toBeInstanceOf(LlamaCppEngine)
    expect((engine as LlamaCppEngine).options).toEqual({
      modelPath: '/models/m.gguf',
      serverBin: '/bin/llama-server',
      threads: 2,
      maxConcurrency: 4,
      tokensPerSequence: 160,
      gpuLayers: 0,
      extraArgs: ['--foo'],
      logFile: join(dir, 'server.log'),
      startupTimeoutMs: 60_000,
      requestTimeoutMs: 5000,
      host: '0.0.0.0',
      api: 'v1-completions',
      onNote: note,
    })
    // --device auto leaves -ngl to the binary (99 with a GPU, 0 without); no --api is the native /completion.
    const auto = (createEngine('llamacpp', {...base, threads: null}) as LlamaCppEngine).options
    expect(auto).toEqual({
      modelPath: '/models/m.gguf',
      threads: null,
      maxConcurrency: 4,
      tokensPerSequence: 160,
      extraArgs: ['--foo'],
      logFile: join(dir, 'server.log'),
      startupTimeoutMs: 60_000,
      api: 'completion',
    })
  })

  it('vllm: the profile checkpoint, --gpus (default 1), the lengths, --synthetic and the server flags', () => {
    const engine = createEngine('vllm', {...base, gpus: 2, vllmBin: '/opt/vllm', requestTimeoutMs: 5000, bindHost: '::', onNote: note})
    expect(engine).toBeInstanceOf(VllmEngine)
    expect((engine as VllmEngine).options).toEqual({
      profile: base.profile,
      quant: 'int4',
      gpus: 2,
      maxConcurrency: 4,
      inputTokens: 128,
      outputTokens: 16,
      synthetic: true,
      vllmBin: '/opt/vllm',
      extraArgs: ['--foo'],
      logFile: join(dir, 'server.log'),
      startupTimeoutMs: 60_000,
      requestTimeoutMs: 5000,
      host: '::',
    })
    expect((createEngine('vllm', base) as VllmEngine).options.gpus).toBe(1)
  })

  it('openai: the endpoint, model id, key variable, API, GPUs behind it (default 0) and the note', () => {
    const engine = createEngine('openai', {
      ...base,
      endpoint: 'http://10.0.0.5:8000/v1',
      modelId: 'm',
      apiKeyEnv: 'MY_KEY',
      api: 'chat',
      gpus: 8,
      requestTimeoutMs: 5000,
      onNote: note,
    })
    expect(engine).toBeInstanceOf(OpenAiEngine)
    expect((engine as OpenAiEngine).options).toEqual({
      endpoint: 'http://10.0.0.5:8000/v1',
      model: 'm',
      apiKeyEnv: 'MY_KEY',
      api: 'chat',
      gpuCount: 8,
      requestTimeoutMs: 5000,
      onNote: note,
    })
    expect((engine as OpenAiEngine).endpoint).toBe('http://10.0.0.5:8000')
    expect((createEngine('openai', {...base, endpoint: 'http://127.0.0.1:8000'}) as OpenAiEngine).options).toEqual({
      endpoint: 'http://127.0.0.1:8000',
      api: 'completions',
      gpuCount: 0,
    })
  })

  it('openai without an endpoint is INVALID_INPUT, not a crash', () => {
    expect(() => createEngine('openai', base)).toThrow(CapplanError)
    expect(() => createEngine('openai', base)).toThrow(/--endpoint/)
  })
})
