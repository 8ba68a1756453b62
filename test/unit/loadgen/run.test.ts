import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import type {Engine, EngineExit, GenRequest, StreamEvent} from '../../../src/engines/types.js'
import {
  benchExitCode,
  type BenchProgress,
  type BenchRunPlan,
  engineExitNote,
  levelRequestBudgets,
  levelStatus,
  type OnEngineError,
  peakInFlight,
  RATE_WARMUP_MAX,
  RATE_WARMUP_SECONDS,
  runBench,
  runStatusOf,
  warmupSize,
} from '../../../src/loadgen/run.js'
import {precisionRule} from '../../../src/loadgen/stop-rules.js'
import {readResultFile} from '../../../src/results/read.js'
import type {LevelRecord} from '../../../src/results/schema.js'
import {tinyQwen2} from '../../helpers/tiny-models.js'
import {sampleResult} from '../results/sample-result.js'

const level = (status: LevelRecord['status']) => ({status}) as LevelRecord

describe('level and run status', () => {
  it('a level is partial when interrupted, failed when nothing succeeded, else complete', () => {
    expect(levelStatus('partial', 3, 0)).toBe('partial')
    expect(levelStatus('complete', 0, 4)).toBe('failed')
    expect(levelStatus('complete', 3, 1)).toBe('complete')
    expect(levelStatus('complete', 0, 0)).toBe('complete')
  })

  it('a run is complete only when every planned level completed', () => {
    expect(runStatusOf([level('complete'), level('complete')], 2, false)).toBe('complete')
    expect(runStatusOf([level('complete')], 2, false)).toBe('partial')
    expect(runStatusOf([level('complete'), level('failed')], 2, false)).toBe('partial')
    expect(runStatusOf([level('failed'), level('failed')], 2, false)).toBe('failed')
    expect(runStatusOf([level('complete'), level('complete')], 2, true)).toBe('interrupted')
  })
})

describe('benchExitCode', () => {
  it('is 9 (PARTIAL_RUN) when any run has a failed or partial level, 0 when every run completed', () => {
    expect(benchExitCode(['complete', 'complete'])).toBe(0)
    expect(benchExitCode(['complete', 'partial'])).toBe(9)
    expect(benchExitCode(['failed'])).toBe(9)
    expect(benchExitCode([])).toBe(0)
  })
})

describe('bench run: prompt budget and peak in-flight per load mode', () => {
  it('closed loop: each level reserves its own stop rule maximum; the peak is the highest concurrency', () => {
    const load = {kind: 'concurrency' as const, concurrencies: [1, 2, 4], stopFor: (c: number) => ({kind: 'requests' as const, requests: 3 * c})}
    // 3x1, 3x2, 3x4
    expect(levelRequestBudgets(load)).toEqual([3, 6, 12])
    expect(peakInFlight(load)).toBe(4)
  })

  it('open loop: every rate reserves the same maximum; the peak is --max-in-flight', () => {
    const load = {kind: 'rate' as const, rates: [0.5, 1, 2], stop: {kind: 'duration' as const, durationMs: 60_000, maxRequests: 200}, maxInFlight: 16}
    expect(levelRequestBudgets(load)).toEqual([200, 200, 200])
    expect(peakInFlight(load)).toBe(16)
  })

  it('sweep: reserves for every rung it may visit (1, 2, 4, ... up to the cap), the peak is the top rung', () => {
    const load = {kind: 'sweep' as const, maxConcurrency: 10, minGain: 0.05, stopFor: () => precisionRule(0.05, {maxRequests: 40})}
    // ladder 1, 2, 4, 8 (16 > 10): 4 rungs x 40
    expect(levelRequestBudgets(load)).toEqual([40, 40, 40, 40])
    expect(peakInFlight(load)).toBe(8)
  })
})

describe('warmup size', () => {
  const rate = (rates: number[], maxInFlight: number) => ({kind: 'rate' as const, rates, stop: {kind: 'requests' as const, requests: 10}, maxInFlight})

  it('a closed loop warms up at its highest concurrency (its levels really run that many at once)', () => {
    const load = {kind: 'concurrency' as const, concurrencies: [1, 8, 64], stopFor: () => ({kind: 'requests' as const, requests: 4})}
    expect(warmupSize(load)).toBe(64)
  })

  it(`--rate: what the highest rate sends in ${RATE_WARMUP_SECONDS} s, at least 1, at most ${RATE_WARMUP_MAX} and --max-in-flight`, () => {
    // openai/vllm's --max-in-flight 256 used to be the warmup: 256 requests at once.
    expect(warmupSize(rate([0.5, 1, 2], 256))).toBe(6)
    expect(warmupSize(rate([0.1], 256))).toBe(1)
    expect(warmupSize(rate([0.01], 256))).toBe(1)
    expect(warmupSize(rate([1.5], 256))).toBe(5)
    expect(warmupSize(rate([50, 100], 256))).toBe(RATE_WARMUP_MAX)
    expect(warmupSize(rate([100], 4))).toBe(4)
  })
})

/**
 * runBench when the engine's server dies in the middle of a level. The engine is a stand-in (this tests the
 * run's bookkeeping, not inference; the real llama-server is killed in test/integration/server-death.test.ts):
 * each request streams `maxTokens` one-token events a timer tick apart; when the `dieAt`-th request of the
 * whole run starts, the "server" dies: every stream in flight ends with an error and exited() reports it.
 * start() after stop() brings it back (a restart).
 */
const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, {recursive: true, force: true})
})
const logDir = mkdtempSync(path.join(tmpdir(), 'capplan-death-log-'))
dirs.push(logDir)
const serverLog = path.join(logDir, 'fake-server.log')
writeFileSync(serverLog, 'slot 0: decoding\nlast words of the server\n')

class DyingEngine implements Engine {
  requestsStarted = 0
  starts = 0
  stops = 0
  private dead = false
  private running = false
  private readonly deaths = new Set<() => void>()

  constructor(private readonly dieAt: number | null) {}

  async start() {
    this.starts++
    this.running = true
    this.dead = false
  }

  async stop() {
    this.stops++
    this.running = false
  }

  info() {
    return {kind: 'llamacpp' as const, version: null, build: null, backend: 'cpu', threads: 1, gpuCount: 0, args: ['fake-server'], endpoint: null}
  }

  async promptTokenPool() {
    return Array.from({length: 200}, (_, i) => i + 10)
  }

  exited(): EngineExit | null {
    if (!this.running || !this.dead) return null
    return {description: 'fake-server exited (signal SIGKILL)', logFile: serverLog}
  }

  private die() {
    this.dead = true
    for (const wake of this.deaths) wake()
  }

  async *stream(request: GenRequest, signal: AbortSignal): AsyncGenerator<StreamEvent> {
    this.requestsStarted++
    if (this.dead) {
      yield {kind: 'error', errorKind: 'dropped', message: 'connect ECONNREFUSED'}
      return
    }
    if (this.requestsStarted === this.dieAt) this.die()
    for (let sent = 0; sent < request.maxTokens; sent++) {
      let wake = () => {}
      const woken = new Promise<void>((resolve) => {
        wake = resolve
      })
      this.deaths.add(wake)
      await Promise.race([new Promise((resolve) => setTimeout(resolve, 1)), woken])
      this.deaths.delete(wake)
      if (this.dead) {
        yield {kind: 'error', errorKind: 'engine', message: 'fake-server exited (signal SIGKILL)'}
        return
      }
      if (signal.aborted) {
        yield {kind: 'error', errorKind: 'dropped', message: 'aborted'}
        return
      }
      yield {kind: 'content', atMs: performance.now(), tokens: 1}
    }
    yield {kind: 'usage', promptTokens: request.promptTokens!.length, completionTokens: request.maxTokens}
  }
}

const twoLevels: BenchRunPlan['load'] = {kind: 'concurrency', concurrencies: [1, 2], stopFor: () => ({kind: 'requests', requests: 6})}

/** Two closed-loop levels (concurrency 1: 6 requests, concurrency 2: 6 requests) after a warmup of 2 requests. */
async function bench(engine: DyingEngine, onError: OnEngineError | undefined, load: BenchRunPlan['load'] = twoLevels, onProgress?: (progress: BenchProgress) => void) {
  const resultsDir = mkdtempSync(path.join(tmpdir(), 'capplan-death-'))
  dirs.push(resultsDir)
  await engine.start()
  const plan: BenchRunPlan = {
    load,
    inputTokens: 4,
    outputTokens: 5,
    seed: 1,
    warmupOutputTokens: 2,
    scrapeMetrics: false,
    ...(onError === undefined ? {} : {onError}),
  }
  const outcome = await runBench(plan, {
    engine,
    profile: tinyQwen2,
    quant: 'int4',
    model: {format: 'Q4_0', file: null, sha256: null, bytes: null, synthetic: true},
    workloadProfile: null,
    host: sampleResult().host,
    gpuProfile: null,
    resultsDir,
    capplan: {version: '0.0.0-test', command: ['capplan', 'bench']},
    notes: [],
    signal: new AbortController().signal,
    ...(onProgress === undefined ? {} : {onProgress}),
  })
  // What is on disk is what runBench returned (the file was saved after the failed level and at the end).
  const onDisk = await readResultFile(outcome.path)
  expect(onDisk.levels.map((level) => level.status)).toEqual(outcome.result.levels.map((level) => level.status))
  return onDisk
}

describe('runBench when the server dies mid-level', () => {
  // Requests of the run, in order: 2 warmup (1, 2), concurrency 1: requests 3..8. dieAt 5 = the 3rd request of
  // level 1, so its first two requests (3, 4) finished before the death and the 3rd fails with it.
  it('--on-error stop (the default): level 1 is failed with the requests finished before, no level 2, notes hold the exit and log tail', async () => {
    const engine = new DyingEngine(5)
    const file = await bench(engine, undefined)
    expect(file.levels).toHaveLength(1)
    const [level] = file.levels
    expect(level!.status).toBe('failed')
    const ok = level!.requests.filter((request) => request.error === null)
    expect(ok).toHaveLength(2)
    for (const request of ok) expect(request.outputTokens).toBe(5)
    // The request in flight at the death is recorded failed (engine); the level ended at once: no request
    // after it was sent (2 warmup + 3 of the level started), so 6 - 3 = 3 requests of the level never ran.
    const failed = level!.requests.filter((request) => request.error !== null)
    expect(failed.map((request) => request.error!.kind)).toEqual(['engine'])
    expect(engine.requestsStarted).toBe(5)
    // Every level recorded failed: the run is failed (the existing rule; bench exits 9 as for partial).
    expect(file.status).toBe('failed')
    expect(file.notes).toContain(`concurrency 1: fake-server exited (signal SIGKILL) (log: ${serverLog}). Last log lines:\nslot 0: decoding\nlast words of the server`)
    expect(file.notes.some((note) => note.startsWith('concurrency 1: the engine died during this level, which ends as failed with the 3 request(s) it sent (1 failed)'))).toBe(
      true,
    )
    expect(engine.starts).toBe(1)
  })

  it('--on-error continue: the engine is restarted (stop, start, new warmup) and level 2 is complete', async () => {
    const engine = new DyingEngine(5)
    const file = await bench(engine, 'continue')
    expect(file.levels.map((level) => level.status)).toEqual(['failed', 'complete'])
    expect(file.levels[1]!.requests).toHaveLength(6)
    for (const request of file.levels[1]!.requests) {
      expect(request.error).toBeNull()
      expect(request.outputTokens).toBe(5)
    }
    expect(engine.starts).toBe(2)
    expect(engine.stops).toBe(1)
    expect(file.status).toBe('partial')
    expect(file.notes.some((note) => note.startsWith('engine restarted after its exit during concurrency 1 (--on-error continue)'))).toBe(true)
    // Prompts of the measured levels stay unique over the run (only the warmup's repeat, on the new server).
    expect(file.levels[1]!.requests.every((request) => request.error === null)).toBe(true)
  })

  it('a server that dies during the warmup: stop ends the run with no level (failed); continue restarts before level 1', async () => {
    const stopped = await bench(new DyingEngine(1), 'stop')
    expect(stopped.levels).toEqual([])
    expect(stopped.status).toBe('failed')
    expect(stopped.notes.some((note) => note.startsWith('before concurrency 1: fake-server exited (signal SIGKILL)'))).toBe(true)

    const engine = new DyingEngine(1)
    const continued = await bench(engine, 'continue')
    expect(continued.levels.map((level) => level.status)).toEqual(['complete', 'complete'])
    expect(continued.status).toBe('complete')
    expect(engine.starts).toBe(2)
  })

  it('an open-loop (--rate) level ends the same way, without calling the death an interruption', async () => {
    const engine = new DyingEngine(5)
    // Warmup: 2 requests (max in flight 2); rate 200 req/s, 6 requests per level.
    const file = await bench(engine, 'stop', {kind: 'rate', rates: [200, 400], stop: {kind: 'requests', requests: 6}, maxInFlight: 2})
    expect(file.levels.map((level) => [level.load.kind, level.load.value, level.status])).toEqual([['rate', 200, 'failed']])
    expect(file.notes.some((note) => note.startsWith('rate 200 req/s: fake-server exited (signal SIGKILL)'))).toBe(true)
    expect(file.notes.join('\n')).not.toMatch(/interrupted by a signal/)
    expect(file.status).toBe('failed')
  })

  it('every request in flight at the death is recorded failed (engine, naming the exit): recorded = sent', async () => {
    // Warmup: 4 requests (the peak concurrency); level 1 at concurrency 4, 12 requests. dieAt 11 = the 7th
    // request of level 1: 6 requests were issued before it, 3 of them still in flight with it when it dies.
    const engine = new DyingEngine(11)
    const file = await bench(engine, 'stop', {kind: 'concurrency', concurrencies: [4], stopFor: () => ({kind: 'requests', requests: 12})})
    const [level] = file.levels
    expect(level!.status).toBe('failed')
    const sent = engine.requestsStarted - 4
    expect(level!.requests).toHaveLength(sent)
    expect(level!.requests.map((request) => request.index)).toEqual(Array.from({length: sent}, (_, i) => i))
    const failed = level!.requests.filter((request) => request.error !== null)
    // The 4 in flight when the server died, all at once.
    expect(failed).toHaveLength(4)
    for (const request of failed) {
      expect(request.error!.kind).toBe('engine')
      expect(request.error!.message).toMatch(/^fake-server exited \(signal SIGKILL\)/)
    }
    expect(level!.summary.requests.failed).toBe(4)
    expect(
      file.notes.some((note) => note.startsWith(`concurrency 4: the engine died during this level, which ends as failed with the ${sent} request(s) it sent (4 failed)`)),
    ).toBe(true)
  })

  it('--rate with --max-in-flight 256 warms up with rate x 3 s requests (24 at 8 req/s), not 256, and reports its progress', async () => {
    const engine = new DyingEngine(null)
    const seen: BenchProgress[] = []
    const file = await bench(engine, 'stop', {kind: 'rate', rates: [4, 8], stop: {kind: 'requests', requests: 3}, maxInFlight: 256}, (p) => seen.push(p))
    expect(file.levels.map((level) => level.status)).toEqual(['complete', 'complete'])
    // 24 warmup + 3 + 3
    expect(engine.requestsStarted).toBe(30)
    expect(file.notes).toContain('warmup: 24 request(s) of 2 output tokens at concurrency 24 before the first level, not recorded')
    const warmup = seen.filter((p) => p.phase === 'warmup')
    expect(warmup[0]).toMatchObject({requests: 24, concurrency: 24, done: 0})
    expect(warmup.at(-1)).toMatchObject({requests: 24, done: 24, failed: 0})
  })

  it('a healthy engine: both levels complete, exited() never stops anything', async () => {
    const engine = new DyingEngine(null)
    const file = await bench(engine, 'stop')
    expect(file.levels.map((level) => level.status)).toEqual(['complete', 'complete'])
    expect(file.status).toBe('complete')
    // 2 warmup + 6 + 6
    expect(engine.requestsStarted).toBe(14)
  })
})

describe('engine exit notes and run status', () => {
  it('names the exit, the log and its last lines; says when the log is empty', () => {
    expect(engineExitNote('concurrency 4', {description: 'llama-server exited (exit code 1)', logFile: '/r/x.log'}, ['a', 'b'])).toBe(
      'concurrency 4: llama-server exited (exit code 1) (log: /r/x.log). Last log lines:\na\nb',
    )
    expect(engineExitNote('before rate 2 req/s', {description: 'vllm serve exited (signal SIGKILL)', logFile: null}, [])).toBe(
      'before rate 2 req/s: vllm serve exited (signal SIGKILL). The log is empty.',
    )
  })

  it('a run with no level at all (its engine died first) is failed, unless interrupted', () => {
    expect(runStatusOf([], 2, false)).toBe('failed')
    expect(runStatusOf([], 2, true)).toBe('interrupted')
    expect(runStatusOf([{status: 'failed'} as LevelRecord], 1, false)).toBe('failed')
  })
})
