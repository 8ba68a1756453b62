import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {contextSizeFor} from '../../src/engines/embedded.js'
import {LlamaCppEngine} from '../../src/engines/llamacpp/engine.js'
import {findLlamaCppTool} from '../../src/engines/llamacpp/build.js'
import {groupAlive, liveProcesses} from '../../src/engines/spawned/process.js'
import type {GenRequest, StreamEvent} from '../../src/engines/types.js'
import {ensureSyntheticModel} from '../../src/gguf/synth.js'
import {EngineError} from '../../src/lib/errors.js'
import {runClosedLevel} from '../../src/loadgen/level.js'
import {decodeTokensPerSecond, type LlamaServerTimings} from '../../src/engines/http/protocols.js'
import {makePromptTokens} from '../../src/loadgen/prompts.js'
import {tinyQwen2} from '../helpers/tiny-models.js'

/**
 * A REAL llama-server (capplan's build from node-llama-cpp's bundled source, or $CAPPLAN_LLAMA_BIN_DIR / PATH)
 * serving a tiny synthesized qwen2. Skipped, with the reason printed, when no llama-server exists.
 */

const serverBin = await findLlamaCppTool('llama-server')
if (serverBin === null) {
  console.warn('[skip] llamacpp-server integration: no llama-server found (run `capplan engine build` or set CAPPLAN_LLAMA_BIN_DIR).')
}

const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3))
  } catch {
    return false
  }
}

async function collect(stream: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = []
  for await (const event of stream) events.push(event)
  return events
}

describe.skipIf(serverBin === null)('llama-server engine on a tiny synthetic qwen2', () => {
  let dir: string
  let modelPath: string
  const previousCache = process.env.CAPPLAN_CACHE_DIR

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'capplan-llamacpp-'))
    process.env.CAPPLAN_CACHE_DIR = dir
    modelPath = (await ensureSyntheticModel({profile: tinyQwen2, quant: 'int4'})).path
  })

  afterAll(() => {
    if (previousCache === undefined) delete process.env.CAPPLAN_CACHE_DIR
    else process.env.CAPPLAN_CACHE_DIR = previousCache
    rmSync(dir, {recursive: true, force: true})
  })

  for (const api of ['completion', 'v1-completions'] as const) {
    it(`streams 2 concurrent token-id requests over ${api} with exact output counts, then stops the server`, async () => {
      const input = 24
      const output = 16
      const timings: LlamaServerTimings[] = []
      const logFile = path.join(dir, `server-${api}.log`)
      const engine = new LlamaCppEngine({
        modelPath,
        serverBin: serverBin!,
        threads: 1,
        maxConcurrency: 2,
        tokensPerSequence: contextSizeFor(2, input, output).tokensPerSequence,
        logFile,
        startupTimeoutMs: 120_000,
        requestTimeoutMs: 120_000,
        api,
        onServerTimings: (t) => timings.push(t),
      })
      await engine.start()
      const pid = engine.pid!
      try {
        expect(alive(pid)).toBe(true)
        const info = engine.info()
        expect(info.kind).toBe('llamacpp')
        expect(info.backend).toBe('cpu')
        expect(info.gpuCount).toBe(0)
        expect(info.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
        // -c = 2 slots x (24 + 16 + 16 margin) = 112; -np 2; CPU build -> -ngl 0.
        expect(info.args).toEqual(expect.arrayContaining(['-c', '112', '-np', '2', '--metrics', '-ngl', '0', '-t', '1']))
        // Each slot must hold one request (56 tokens); llama.cpp raises tiny contexts to its minimum (256 here).
        expect(engine.slotContext()).toBeGreaterThanOrEqual(56)

        const pool = await engine.promptTokenPool()
        // tiny-qwen2: 1024 entries; byte / control tokens and <|endoftext|> are not "normal" (type 1).
        expect(pool.length).toBeGreaterThan(100)
        expect(pool.length).toBeLessThan(1024)

        const request = (i: number): GenRequest => ({promptTokens: makePromptTokens(pool, input, 7, i), promptText: null, maxTokens: output, ignoreEos: true})
        const signal = new AbortController().signal
        const [a, b] = await Promise.all([collect(engine.stream(request(0), signal)), collect(engine.stream(request(1), signal))])
        for (const events of [a, b]) {
          expect(events.filter((e) => e.kind === 'error')).toEqual([])
          // ignore_eos + n_predict/max_tokens 16: exactly 16 tokens; the prompt is the 24 ids sent.
          // the prompt cache is off for the control workload: llama-server's timings.cache_n is 0
          expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: input, completionTokens: output, cachedTokens: 0})
          const content = events.filter((e) => e.kind === 'content')
          expect(content.reduce((sum, e) => sum + e.tokens, 0)).toBeLessThanOrEqual(output)
          const times = content.map((e) => e.atMs)
          expect([...times].sort((x, y) => x - y)).toEqual(times)
        }
        // llama-server's own timings for each request (predicted_n counts all 16 tokens).
        expect(timings.map((t) => t.predictedTokens)).toEqual([output, output])
        expect(decodeTokensPerSecond(timings[0]!)).toBeGreaterThan(0)
        expect(readFileSync(logFile, 'utf8')).toContain('llama-server')

        // The closed loop on top: 4 measured requests at concurrency 2, each recorded with 16 output tokens.
        const level = await runClosedLevel(
          engine,
          {concurrency: 2, requests: 4, warmupRequests: 0, makeRequest: request, firstPromptIndex: 2},
          {t0: performance.now(), signal},
        )
        expect(level.status).toBe('complete')
        expect(level.requests.map((r) => [r.error, r.inputTokens, r.outputTokens])).toEqual(Array.from({length: 4}, () => [null, input, output]))
      } finally {
        await engine.stop()
      }
      expect(alive(pid)).toBe(false)
      expect(groupAlive(pid)).toBe(false)
      expect(liveProcesses()).toEqual([])
    })
  }

  it('a server that cannot start (bad model path) -> EngineError with its log lines, and no process left', async () => {
    const engine = new LlamaCppEngine({
      modelPath: path.join(dir, 'missing.gguf'),
      serverBin: serverBin!,
      threads: 1,
      maxConcurrency: 1,
      tokensPerSequence: 64,
      logFile: path.join(dir, 'bad.log'),
      startupTimeoutMs: 60_000,
    })
    const error = await engine.start().then(
      () => null,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(EngineError)
    const engineError = error as EngineError
    expect(engineError.exitCode).toBe(8)
    expect(engineError.message).toMatch(/llama-server exited before it was ready \(exit code \d+\)/)
    expect(engineError.logTail.length).toBeGreaterThan(0)
    expect(engineError.logTail.join('\n')).toContain('missing.gguf')
    expect(liveProcesses()).toEqual([])
    await engine.stop()
  })
})
