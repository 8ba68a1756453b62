import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {contextSizeFor, EmbeddedEngine} from '../../src/engines/embedded.js'
import {ensureSyntheticModel} from '../../src/gguf/synth.js'
import {datasetPrompt, loadDataset} from '../../src/loadgen/dataset.js'
import {runLevel} from '../../src/loadgen/level.js'
import {poissonScheduleMs} from '../../src/loadgen/arrivals.js'
import {makePromptTokens} from '../../src/loadgen/prompts.js'
import {precisionRule} from '../../src/loadgen/stop-rules.js'
import {runSweep} from '../../src/loadgen/sweep.js'
import {levelRecordSchema} from '../../src/results/schema.js'
import {summarizeLevel} from '../../src/stats/summarize.js'
import {tinyQwen2} from '../helpers/tiny-models.js'

/**
 * The load modes on the REAL embedded engine (node-llama-cpp, CPU) with a tiny synthesized qwen2: an open
 * loop at a low Poisson rate, a closed loop ended by a duration, and text prompts from a JSONL dataset.
 * Short on purpose: the machine is shared.
 */
describe('load modes on the embedded engine', () => {
  const input = 16
  const output = 8
  let cacheDir: string
  let engine: EmbeddedEngine
  let pool: number[]
  const previousCache = process.env.CAPPLAN_CACHE_DIR

  beforeAll(async () => {
    cacheDir = mkdtempSync(path.join(os.tmpdir(), 'capplan-load-modes-'))
    process.env.CAPPLAN_CACHE_DIR = cacheDir
    const modelPath = (await ensureSyntheticModel({profile: tinyQwen2, quant: 'int4'})).path
    // Text prompts tokenize to a few dozen tokens, the adaptive test generates 48: give each sequence room.
    engine = new EmbeddedEngine({modelPath, device: 'cpu', threads: 1, maxConcurrency: 2, tokensPerSequence: contextSizeFor(2, 64, 64).tokensPerSequence})
    await engine.start()
    pool = await engine.promptTokenPool()
  })

  afterAll(async () => {
    await engine?.stop()
    if (previousCache === undefined) delete process.env.CAPPLAN_CACHE_DIR
    else process.env.CAPPLAN_CACHE_DIR = previousCache
    rmSync(cacheDir, {recursive: true, force: true})
  })

  const tokenRequest = (promptIndex: number) => ({
    promptTokens: makePromptTokens(pool, input, 11, promptIndex),
    promptText: null,
    maxTokens: output,
    ignoreEos: true as const,
  })

  it('runs an open-loop level at 4 req/s and records each request with its scheduled start', async () => {
    const t0 = performance.now()
    const run = await runLevel(
      engine,
      {
        // the embedded engine has 2 sequences: the in-flight cap must not pass them
        arrival: {kind: 'rate', rate: 4, seed: 9, maxInFlight: 2},
        stop: {kind: 'requests', requests: 4},
        firstPromptIndex: 0,
        makeRequest: tokenRequest,
      },
      {t0, signal: new AbortController().signal},
    )
    expect(run.status).toBe('complete')
    expect(run.requests).toHaveLength(4)
    const lags = run.requests.map((request) => (request.startMs - run.scheduledMs![request.index]!).toFixed(2))
    console.error(`open loop 4 req/s: send lag behind schedule (ms) ${lags.join(', ')}; ${run.notes.join('; ')}`)
    const schedule = poissonScheduleMs(4, 9, 4)
    const scheduled = run.scheduledMs!
    for (const request of run.requests) {
      expect(request.error).toBeNull()
      expect(request.outputTokens).toBe(output)
      expect(request.countedTokens).toBe(output)
      expect(request.inputTokens).toBe(input)
      // sent at (never before) its Poisson time; the schedule is the seed's, shifted by the level start
      expect(request.startMs).toBeGreaterThanOrEqual(scheduled[request.index]!)
      expect(scheduled[request.index]! - scheduled[0]!).toBeCloseTo(schedule[request.index]! - schedule[0]!, 6)
    }
    // The level is a valid result-file level of kind 'rate'.
    const summary = summarizeLevel(run.requests, run.window)
    const record = levelRecordSchema.parse({
      load: run.load,
      warmupRequests: 0,
      window: run.window,
      status: 'complete',
      requests: run.requests,
      summary,
      telemetry: null,
      serverMetrics: null,
    })
    expect(record.load).toEqual({kind: 'rate', value: 4})
    expect(summary.requests.completed).toBe(4)
    expect(summary.throughput.outputTokensPerS).toBeGreaterThan(0)
  })

  it('ends a closed-loop level by duration with every issued request finished', async () => {
    const run = await runLevel(
      engine,
      {arrival: {kind: 'concurrency', concurrency: 2}, stop: {kind: 'duration', durationMs: 300, maxRequests: 40}, firstPromptIndex: 100, makeRequest: tokenRequest},
      {t0: performance.now(), signal: new AbortController().signal},
    )
    expect(['duration', 'max-requests']).toContain(run.stopReason)
    expect(run.status).toBe('complete')
    expect(run.requests.length).toBe(run.promptsUsed)
    expect(run.requests.length).toBeGreaterThanOrEqual(2)
    expect(run.requests.every((request) => request.error === null && request.outputTokens === output)).toBe(true)
  })

  it('stops a closed-loop level adaptively once the batch-means CI is within the precision', async () => {
    // Requests of 48 output tokens (with 8, prefill dominated), windows of 500 ms, the first two skipped as
    // ramp-up, at least 4 more. The precision asked is loose ON PURPOSE: on this shared 2-core machine (load
    // average ~12) successive 500 ms windows varied with a coefficient of variation of 0.16-0.41, so 10% took
    // 30+ s or hit the cap. The exact CI arithmetic is unit-tested (stop-rules.test.ts); this checks the loop
    // on the real engine: it stops by itself, with a CI at least that tight, and records every request.
    const rule = precisionRule(0.25, {windowMs: 500, minWindows: 4, skipWindows: 2, minRequests: 6, maxRequests: 3000})
    const run = await runLevel(
      engine,
      {
        arrival: {kind: 'concurrency', concurrency: 2},
        stop: rule,
        firstPromptIndex: 200,
        makeRequest: (promptIndex) => ({...tokenRequest(promptIndex), maxTokens: 48}),
      },
      {t0: performance.now(), signal: new AbortController().signal},
    )
    console.error(
      `adaptive stop: ${run.stopMessage}; ${run.requests.length} requests; summary ${summarizeLevel(run.requests, run.window).throughput.outputTokensPerS.toFixed(1)} output tok/s`,
    )
    expect(run.status).toBe('complete')
    expect(run.requests.length).toBe(run.promptsUsed)
    expect(run.stopReason).toBe('precision')
    expect(run.precision!.relativeMargin).toBeLessThanOrEqual(0.25)
    expect(run.precision!.windows).toBeGreaterThanOrEqual(4)
    expect(run.requests.length).toBeGreaterThanOrEqual(6)
    // The CI's mean (steady windows) and the level's summary (first start .. last end) measure the same rate;
    // the summary includes the ramp and the tail, so it may be a little lower, never wildly different.
    const summary = summarizeLevel(run.requests, run.window)
    expect(summary.throughput.outputTokensPerS / run.precision!.mean).toBeGreaterThan(0.5)
    expect(summary.throughput.outputTokensPerS / run.precision!.mean).toBeLessThan(1.5)
  })

  it('sweeps concurrency 1, 2 on the real engine and says why it stopped', async () => {
    let nextPrompt = 5000
    const outcome = await runSweep(
      async (concurrency) => {
        const run = await runLevel(
          engine,
          {arrival: {kind: 'concurrency', concurrency}, stop: {kind: 'requests', requests: 6}, firstPromptIndex: nextPrompt, makeRequest: tokenRequest},
          {t0: performance.now(), signal: new AbortController().signal},
        )
        nextPrompt += run.promptsUsed
        return summarizeLevel(run.requests, run.window)
      },
      // the engine has 2 sequences: the sweep may not go past them
      {start: 1, factor: 2, maxConcurrency: 2, minGain: 0.05},
    )
    console.error(
      `sweep: ${outcome.steps.map((step) => `c${step.concurrency} ${step.summary.throughput.totalTokensPerS.toFixed(0)} tok/s`).join(', ')}; ${outcome.stop}: ${outcome.message}`,
    )
    expect(outcome.steps[0]!.concurrency).toBe(1)
    expect(outcome.steps.every((step) => step.summary.requests.completed === 6)).toBe(true)
    // either 2 did not add 5% (plateau at 2) or it did and 4 would pass the engine's 2 sequences
    expect(outcome.steps.map((step) => step.concurrency)).toEqual([1, 2])
    expect(['plateau', 'max-concurrency']).toContain(outcome.stop)
  })

  it('sends text prompts from a JSONL dataset', async () => {
    const file = path.join(cacheDir, 'prompts.jsonl')
    writeFileSync(file, '{"prompt": "Explain what a KV cache stores."}\n{"messages": [{"role": "user", "content": "Name three GPUs."}]}\n')
    const dataset = await loadDataset(file)
    const run = await runLevel(
      engine,
      {
        arrival: {kind: 'rate', rate: 8, seed: 2, maxInFlight: 2},
        stop: {kind: 'requests', requests: 2},
        firstPromptIndex: 0,
        makeRequest: (i) => ({promptTokens: null, promptText: datasetPrompt(dataset, i), maxTokens: output, ignoreEos: true}),
      },
      {t0: performance.now(), signal: new AbortController().signal},
    )
    expect(run.requests).toHaveLength(2)
    for (const request of run.requests) {
      expect(request.error).toBeNull()
      expect(request.outputTokens).toBe(output)
      // the engine's own count of the tokenized text
      expect(request.inputTokens).toBeGreaterThan(3)
    }
  })
})
