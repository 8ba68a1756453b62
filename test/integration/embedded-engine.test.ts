import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {contextSizeFor, EmbeddedEngine} from '../../src/engines/embedded.js'
import {EngineError} from '../../src/lib/errors.js'
import {ensureSyntheticModel} from '../../src/gguf/synth.js'
import {runClosedLevel} from '../../src/loadgen/level.js'
import {makePromptTokens} from '../../src/loadgen/prompts.js'
import {tinyQwen2} from '../helpers/tiny-models.js'

/**
 * The embedded engine on a real (tiny, synthesized) model: exact token counts, monotonic per-token times,
 * and concurrent sequences decoded in shared batches.
 */
describe('embedded engine on a tiny synthetic qwen2', () => {
  let cacheDir: string
  let modelPath: string
  const previousCache = process.env.CAPPLAN_CACHE_DIR

  beforeAll(async () => {
    cacheDir = mkdtempSync(path.join(os.tmpdir(), 'capplan-embedded-'))
    process.env.CAPPLAN_CACHE_DIR = cacheDir
    modelPath = (await ensureSyntheticModel({profile: tinyQwen2, quant: 'int4'})).path
  })

  afterAll(() => {
    if (previousCache === undefined) delete process.env.CAPPLAN_CACHE_DIR
    else process.env.CAPPLAN_CACHE_DIR = previousCache
    rmSync(cacheDir, {recursive: true, force: true})
  })

  it('records exactly `requests` requests at concurrency 2, each with the requested output length', async () => {
    const input = 32
    const output = 24
    // One thread: this test checks behaviour, not speed, and 2 threads collapse when other jobs share the cores.
    const threads = 1
    const engine = new EmbeddedEngine({
      modelPath,
      device: 'cpu',
      threads,
      maxConcurrency: 2,
      tokensPerSequence: contextSizeFor(2, input, output).tokensPerSequence,
    })
    await engine.start()
    try {
      const info = engine.info()
      expect(info.kind).toBe('embedded')
      expect(info.backend).toBe('cpu')
      expect(info.threads).toBe(threads)
      expect(info.version).toMatch(/^\d+\.\d+\.\d+/)

      const pool = await engine.promptTokenPool()
      // tiny-qwen2's vocabulary is 1024 entries; byte tokens, <|endoftext|> and padding are excluded.
      expect(pool.length).toBeGreaterThan(100)
      expect(pool.length).toBeLessThan(1024)

      const t0 = performance.now()
      const level = await runClosedLevel(
        engine,
        {
          concurrency: 2,
          requests: 6,
          warmupRequests: 2,
          firstPromptIndex: 0,
          makeRequest: (i) => ({promptTokens: makePromptTokens(pool, input, 7, i), promptText: null, maxTokens: output, ignoreEos: true}),
        },
        {t0, signal: new AbortController().signal},
      )
      expect(level.status).toBe('complete')
      expect(level.requests).toHaveLength(6)
      expect(level.promptsUsed).toBe(8)
      for (const request of level.requests) {
        expect(request.error).toBeNull()
        expect(request.outputTokens).toBe(output)
        expect(request.countedTokens).toBe(output)
        expect(request.inputTokens).toBe(input)
        expect(request.chunkOffsetsMs).toHaveLength(output)
        for (let i = 1; i < request.chunkOffsetsMs.length; i++) {
          expect(request.chunkOffsetsMs[i]!).toBeGreaterThan(request.chunkOffsetsMs[i - 1]!)
        }
      }
      // Closed loop at 2: requests 0 and 1 start together; the window spans first start .. last end.
      const starts = level.requests.map((r) => r.startMs)
      expect(level.window.startMs).toBe(Math.min(...starts))
      const ends = level.requests.map((r) => r.startMs + r.e2eMs!)
      expect(level.window.endMs).toBeCloseTo(Math.max(...ends), 6)

      // Shared batches: requests 0 and 1 run side by side; in one batch their k-th tokens come out of the same
      // llama_decode, so the two absolute timestamps lie far closer together than one decode step apart.
      const [a, b] = level.requests
      const stepMs = a!.chunkOffsetsMs[output - 1]! - a!.chunkOffsetsMs[output - 2]!
      const gaps = a!.chunkOffsetsMs.slice(1, 10).map((offset, k) => Math.abs(a!.startMs + offset - (b!.startMs + b!.chunkOffsetsMs[k + 1]!)))
      expect(Math.max(...gaps)).toBeLessThan(stepMs / 2)
      expect(engine.batchStats().meanTokensPerStep).toBeGreaterThan(1.5)
    } finally {
      await engine.stop()
    }
  })

  it('turns a truncated model file into an ENGINE_FAILURE naming the file, and stops cleanly', async () => {
    const broken = path.join(cacheDir, 'truncated.gguf')
    writeFileSync(broken, readFileSync(modelPath).subarray(0, 4096))
    const engine = new EmbeddedEngine({modelPath: broken, device: 'cpu', threads: 1, maxConcurrency: 1, tokensPerSequence: 64})
    const failure = await engine.start().then(
      () => null,
      (error: unknown) => error,
    )
    await engine.stop()
    expect(failure).toBeInstanceOf(EngineError)
    expect((failure as EngineError).exitCode).toBe(8)
    expect((failure as EngineError).message).toContain(`Could not load the model ${broken}`)
  })
})
