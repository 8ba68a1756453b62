import {chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {PROMPT_POOL_TEXT} from '../../../src/engines/prompt-pool.js'
import {groupAlive} from '../../../src/engines/spawned/process.js'
import type {StreamEvent} from '../../../src/engines/types.js'
import {VllmEngine, vllmCheckpoint, vllmCommandLine, vllmMaxModelLen, vllmRequestBody} from '../../../src/engines/vllm.js'
import {CapplanError, EngineError} from '../../../src/lib/errors.js'
import {loadProfiles} from '../../../src/profiles/load.js'
import type {ModelProfile} from '../../../src/profiles/schema.js'
import {summarizeServerMetrics} from '../../../src/telemetry/prometheus.js'
import {withLevelTelemetry} from '../../../src/telemetry/level.js'

/*
 * No vLLM can run here (no GPU, no CUDA). The engine is exercised end to end against a TEST DOUBLE of
 * `vllm serve`: a small Node server started by the engine exactly as vLLM would be (same argv), that
 * answers /health, /version, /v1/models and /metrics, and replays test/fixtures/vllm/completions_stream.sse
 * (bytes shaped by vLLM's serving_completion.py, see that folder's README) on POST /v1/completions.
 */

const fixtures = fileURLToPath(new URL('../../fixtures/vllm/', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'capplan-fake-vllm-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const FAKE_VLLM = `#!${process.execPath}
const {createServer} = require('node:http')
const {readFileSync, writeFileSync, appendFileSync} = require('node:fs')
const argv = process.argv.slice(2)
writeFileSync(process.env.FAKE_VLLM_ARGV, JSON.stringify(argv))
if (process.env.FAKE_VLLM_MODE === 'oom') {
  console.error('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.')
  process.exit(1)
}
const port = Number(argv[argv.indexOf('--port') + 1])
const fixtures = process.env.FAKE_VLLM_FIXTURES
let metricsCalls = 0
const server = createServer((req, res) => {
  let body = ''
  req.on('data', (c) => (body += c))
  req.on('end', () => {
    // vLLM's --api-key middleware: every /v1/* route needs "Authorization: Bearer KEY" (401 otherwise).
    const key = argv.includes('--api-key') ? argv[argv.indexOf('--api-key') + 1] : null
    if (key !== null && req.url.startsWith('/v1/') && req.headers.authorization !== 'Bearer ' + key) {
      return res.writeHead(401, {'content-type': 'application/json'}).end('{"error":"Unauthorized"}')
    }
    if (req.url === '/health') return res.writeHead(200).end()
    if (req.url === '/version') return res.writeHead(200, {'content-type': 'application/json'}).end(readFileSync(fixtures + 'version.json'))
    if (req.url === '/v1/models') return res.writeHead(200, {'content-type': 'application/json'}).end(readFileSync(fixtures + 'v1_models.json'))
    if (req.url === '/tokenize' && req.method === 'POST') {
      // vLLM TokenizeResponse {count, max_model_len, tokens}; this double numbers distinct words from 1000
      writeFileSync(process.env.FAKE_VLLM_BODIES + '.tokenize', body)
      const ids = new Map()
      const tokens = JSON.parse(body).prompt.split(' ').map((w) => (ids.has(w) ? ids.get(w) : (ids.set(w, 1000 + ids.size), ids.get(w))))
      return res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({count: tokens.length, max_model_len: 29, tokens}))
    }
    if (req.url === '/metrics') {
      metricsCalls++
      return res.writeHead(200, {'content-type': 'text/plain; version=0.0.4'}).end(readFileSync(fixtures + (metricsCalls === 1 ? 'metrics_before.txt' : 'metrics_after.txt')))
    }
    if (req.url === '/v1/completions' && req.method === 'POST') {
      appendFileSync(process.env.FAKE_VLLM_BODIES, body + '\\n')
      res.writeHead(200, {'content-type': 'text/event-stream; charset=utf-8'})
      const events = readFileSync(fixtures + 'completions_stream.sse', 'utf8').split('\\n\\n').filter((e) => e !== '')
      let i = 0
      const next = () => {
        if (i === events.length) return res.end()
        res.write(events[i++] + '\\n\\n')
        setTimeout(next, 5)
      }
      return next()
    }
    res.writeHead(404).end('{"detail":"Not Found"}')
  })
})
// vLLM listens only once the model is loaded: /health is unreachable before that.
setTimeout(() => server.listen(port, argv[argv.indexOf('--host') + 1], () => console.log('INFO:     Application startup complete.')), 300)
process.on('SIGTERM', () => server.close(() => process.exit(0)))
`

const fakeBin = join(dir, 'vllm')
writeFileSync(fakeBin, FAKE_VLLM)
chmodSync(fakeBin, 0o755)

let profile: ModelProfile
beforeAll(async () => {
  profile = (await loadProfiles({})).get('model', 'qwen2.5-72b')
})

function makeEngine(mode = '', tag = 'run', host?: string, extraArgs: string[] = []): {engine: VllmEngine; argvFile: string; bodiesFile: string} {
  const argvFile = join(dir, `${tag}-argv.json`)
  const bodiesFile = join(dir, `${tag}-bodies.jsonl`)
  const engine = new VllmEngine({
    profile,
    quant: 'int4',
    gpus: 2,
    maxConcurrency: 4,
    inputTokens: 8,
    outputTokens: 5,
    synthetic: true,
    vllmBin: fakeBin,
    logFile: join(dir, `${tag}.log`),
    startupTimeoutMs: 20_000,
    ...(host === undefined ? {} : {host}),
    extraArgs,
    env: {FAKE_VLLM_ARGV: argvFile, FAKE_VLLM_BODIES: bodiesFile, FAKE_VLLM_FIXTURES: fixtures, FAKE_VLLM_MODE: mode},
  })
  return {engine, argvFile, bodiesFile}
}

async function collect(stream: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = []
  for await (const event of stream) events.push(event)
  return events
}

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
    expect(vllmCommandLine(profile, 'int4', opts)).toEqual([
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
      ...profile,
      quants: {
        ...profile.quants,
        int4: {...profile.quants.int4, vllm: {repo: 'Qwen/Qwen2.5-72B-Instruct-GPTQ-Int4', quantization: 'gptq_marlin', dtype: 'float16', bitsPerWeight: 4.25}},
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
    expect(vllmCommandLine(profile, 'int8', opts)).toEqual([
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
    expect(vllmCommandLine(profile, 'fp16', opts)).toEqual([
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
    const line = vllmCommandLine(profile, 'fp16', {...opts, bin: '/opt/venv/bin/vllm', synthetic: true, gpuMemoryUtilization: 0.85, extraArgs: ['--kv-cache-dtype', 'fp8']})
    expect(line[0]).toBe('/opt/venv/bin/vllm')
    expect(line.slice(-5)).toEqual(['--no-enable-prefix-caching', '--load-format', 'dummy', '--kv-cache-dtype', 'fp8'])
    expect(line[line.indexOf('--gpu-memory-utilization') + 1]).toBe('0.85')
  })

  it('a caching workload (shared prefix, sessions, trace) turns prefix caching on and asks for cached_tokens in the usage', () => {
    const line = vllmCommandLine(profile, 'fp16', {...opts, prefixCaching: true})
    expect(line).toEqual(expect.arrayContaining(['--enable-prefix-caching', '--enable-prompt-tokens-details']))
    expect(line).not.toContain('--no-enable-prefix-caching')
  })
})

describe('vllmCheckpoint', () => {
  it('names the repo and weight format the result file records', () => {
    expect(vllmCheckpoint(profile, 'int4')).toEqual({repo: 'Qwen/Qwen2.5-72B-Instruct-AWQ', format: 'AWQ'})
    expect(vllmCheckpoint(profile, 'int8')).toEqual({repo: 'Qwen/Qwen2.5-72B-Instruct-GPTQ-Int8', format: 'GPTQ-Int8'})
    expect(vllmCheckpoint(profile, 'fp16')).toEqual({repo: 'Qwen/Qwen2.5-72B-Instruct', format: 'BF16'})
    const withVllm = (vllm: ModelProfile['quants']['int8']['vllm']): ModelProfile => ({...profile, quants: {...profile.quants, int8: {...profile.quants.int8, vllm}}})
    expect(
      vllmCheckpoint(withVllm({repo: 'RedHatAI/Qwen2.5-72B-Instruct-quantized.w8a8', quantization: 'compressed-tensors', dtype: 'auto', bitsPerWeight: 8}), 'int8').format,
    ).toBe('W8A8')
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
    const base = {profile: profile, quant: 'int4' as const, gpus: 2, maxConcurrency: 4, inputTokens: 128, outputTokens: 32}
    expect(() => new VllmEngine({...base, gpus: 0})).toThrow(CapplanError)
    expect(() => new VllmEngine({...base, gpus: 0})).toThrow(/--gpus/)
    expect(() => new VllmEngine({...base, gpuMemoryUtilization: 1.5})).toThrow(/memory utilization/)
  })

  it('a missing vllm is NOT_FOUND with a suggestion, before anything is spawned', async () => {
    const engine = new VllmEngine({profile: profile, quant: 'int4', gpus: 2, maxConcurrency: 4, inputTokens: 128, outputTokens: 32, vllmBin: 'vllm-not-installed-here'})
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

describe('VllmEngine against a fake `vllm serve`', () => {
  it('spawns vllm serve with the int4 checkpoint, waits for /health, streams, scrapes /metrics and tears down', async () => {
    const {engine, argvFile, bodiesFile} = makeEngine('', 'ok')
    try {
      await engine.start()
      const port = new URL(engine.info().endpoint!).port
      expect(JSON.parse(readFileSync(argvFile, 'utf8'))).toEqual([
        'serve',
        'Qwen/Qwen2.5-72B-Instruct-AWQ',
        '--host',
        '127.0.0.1',
        '--port',
        port,
        '--dtype',
        'float16',
        '--quantization',
        'awq_marlin',
        '--tensor-parallel-size',
        '2',
        '--max-model-len',
        '29', // 8 + 5 + 16
        '--gpu-memory-utilization',
        '0.9',
        '--max-num-seqs',
        '4',
        '--no-enable-prefix-caching',
        '--load-format',
        'dummy',
      ])
      expect(engine.info()).toMatchObject({kind: 'vllm', version: '0.11.0', build: null, backend: 'cuda', gpuCount: 2, threads: null})
      expect(engine.servedModel()).toBe('Qwen/Qwen2.5-72B-Instruct-AWQ')

      // the synthetic-prompt pool: the distinct ids the server's tokenizer gives the pool text
      const distinctWords = new Set(PROMPT_POOL_TEXT.split(' ')).size
      const pool = await engine.promptTokenPool()
      expect(pool).toEqual(Array.from({length: distinctWords}, (_, i) => 1000 + i))
      expect(pool.length).toBe(250) // 13 lines of distinct words
      expect(JSON.parse(readFileSync(`${bodiesFile}.tokenize`, 'utf8'))).toEqual({
        model: 'Qwen/Qwen2.5-72B-Instruct-AWQ',
        prompt: PROMPT_POOL_TEXT,
        add_special_tokens: false,
      })

      const prompt = [9707, 11, 1879, 0, 576, 3974, 13876, 38835]
      const {result: events, serverMetrics} = await withLevelTelemetry(engine, {t0Ms: performance.now(), gpu: false, outputTokens: () => 5}, async () =>
        collect(engine.stream({promptTokens: prompt, promptText: null, maxTokens: 5, ignoreEos: true}, AbortSignal.timeout(10_000))),
      )
      const content = events.filter((e) => e.kind === 'content')
      expect(content).toHaveLength(5)
      for (let i = 1; i < content.length; i++) {
        expect((content[i] as {atMs: number}).atMs).toBeGreaterThanOrEqual((content[i - 1] as {atMs: number}).atMs)
      }
      expect(events.filter((e) => e.kind === 'error')).toEqual([])
      expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: 8, completionTokens: 5})

      const body = JSON.parse(readFileSync(bodiesFile, 'utf8').trim()) as Record<string, unknown>
      expect(body).toEqual({
        model: 'Qwen/Qwen2.5-72B-Instruct-AWQ',
        prompt,
        max_tokens: 5,
        min_tokens: 5,
        ignore_eos: true,
        stream: true,
        stream_options: {include_usage: true},
      })

      expect(serverMetrics?.source).toBe('vllm')
      const summary = summarizeServerMetrics(serverMetrics!)
      expect(summary.outputTokens).toBe(1024) // 2048 - 1024 (fixture README)
      expect(summary.meanTtftS).toBeCloseTo(0.15, 12) // (4.0 - 1.6) / (32 - 16)
    } finally {
      const pid = engine.pid
      await engine.stop()
      if (pid !== null) expect(groupAlive(pid)).toBe(false)
    }
    expect(engine.pid).toBeNull()
    // after stop(): an error event, never a throw
    const after = await collect(engine.stream({promptTokens: [1], promptText: null, maxTokens: 1, ignoreEos: true}, AbortSignal.timeout(1000)))
    expect(after).toEqual([{kind: 'error', errorKind: 'engine', message: expect.stringContaining('after stop()') as string}])
  })

  it('--host 0.0.0.0 reaches vllm serve (the double binds it) and the client connects to 127.0.0.1; exited() reports a death until stop()', async () => {
    const {engine, argvFile} = makeEngine('', 'host', '0.0.0.0')
    try {
      await engine.start()
      const argv = JSON.parse(readFileSync(argvFile, 'utf8')) as string[]
      expect(argv.slice(argv.indexOf('--host'), argv.indexOf('--host') + 2)).toEqual(['--host', '0.0.0.0'])
      expect(engine.info().endpoint).toBe(`http://127.0.0.1:${argv[argv.indexOf('--port') + 1]}`)
      expect(engine.exited()).toBeNull()
      process.kill(engine.pid!, 'SIGKILL')
      const deadline = Date.now() + 5000
      while (engine.exited() === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      expect(engine.exited()).toEqual({description: 'vllm serve exited (signal SIGKILL)', logFile: engine.logFile})
      const after = await collect(engine.stream({promptTokens: [1, 2], promptText: null, maxTokens: 5, ignoreEos: true}, new AbortController().signal))
      expect(after).toEqual([{kind: 'error', errorKind: 'engine', message: expect.stringMatching(/^vllm serve exited \(signal SIGKILL\): /)}])
    } finally {
      await engine.stop()
    }
    expect(engine.exited()).toBeNull()
  })

  it('a server that dies while loading is an ENGINE_FAILURE carrying the log tail', async () => {
    const {engine} = makeEngine('oom', 'oom')
    const error = await engine.start().then(
      () => null,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(EngineError)
    expect((error as CapplanError).kind).toBe('ENGINE_FAILURE')
    expect((error as EngineError).message).toContain('exited before it was ready (exit code 1)')
    expect((error as EngineError).logTail.join('\n')).toContain('CUDA out of memory')
    expect(engine.pid).toBeNull()
  })
})

describe('VllmEngine started with -- --api-key', () => {
  it('sends the key on every /v1 request (the server answers 401 otherwise) and never records it', async () => {
    const key = 'sk-vllm-planted-7f3a'
    const {engine, argvFile} = makeEngine('', 'key', undefined, ['--api-key', key])
    try {
      await engine.start() // /v1/models needs the key: without it start() fails with HTTP 401
      expect(JSON.parse(readFileSync(argvFile, 'utf8')).slice(-2)).toEqual(['--api-key', key])
      const events = await collect(engine.stream({promptTokens: [9707, 11], promptText: null, maxTokens: 5, ignoreEos: true}, AbortSignal.timeout(10_000)))
      expect(events.filter((e) => e.kind === 'error')).toEqual([])
      expect(events.filter((e) => e.kind === 'content')).toHaveLength(5)
      expect(engine.info().args.slice(-2)).toEqual(['--api-key', '***'])
      expect(JSON.stringify(engine.info())).not.toContain(key)
    } finally {
      await engine.stop()
    }
  })

  it('vllmApiKey: the flag (both spellings) wins over VLLM_API_KEY; none -> null', async () => {
    const {vllmApiKey} = await import('../../../src/engines/vllm.js')
    expect(vllmApiKey(['--api-key', 'a'], {VLLM_API_KEY: 'env'})).toBe('a')
    expect(vllmApiKey(['--api-key=b'], {})).toBe('b')
    expect(vllmApiKey([], {VLLM_API_KEY: 'env'})).toBe('env')
    expect(vllmApiKey(['--max-num-batched-tokens', '8192'], {})).toBeNull()
    expect(() => vllmApiKey(['--api-key'], {})).toThrow(CapplanError)
  })
})
