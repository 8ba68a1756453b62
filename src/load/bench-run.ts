import {randomUUID} from 'node:crypto'
import os from 'node:os'

import type {Engine, GenRequest} from '../engines/types.js'
import {invalidInput} from '../lib/errors.js'
import type {ModelProfile, QuantLevel} from '../profiles/schema.js'
import {ResultFileWriter} from '../results/write.js'
import type {
  HostSnapshot,
  LevelRecord,
  LevelStatus,
  ModelInfo,
  ResultFile,
  RunStatus,
  SloSpec,
  WorkloadInfo,
} from '../results/schema.js'
import {summarizeLevel} from '../stats/summarize.js'
import {type LevelRun, runLevel} from './closed-loop.js'
import {type Dataset, datasetPrompt} from './dataset.js'
import {type Arrival, type LoadLevelRun, runLoadLevel} from './open-loop.js'
import {maxRequestsOf, type StopRule} from './stop-rules.js'
import {runSweep, SWEEP_DEFAULTS, sweepLadder} from './sweep.js'
import {withLevelTelemetry} from '../telemetry/level.js'
import {makePromptTokens, uniquePromptCapacity} from './prompts.js'

/**
 * One benchmark run of one started engine: a warmup, then one closed-loop level per concurrency, the result
 * file created before the first level and saved (atomically) after every level, so an interruption keeps
 * everything measured so far.
 */

/**
 * How the levels load the engine (issue 4, load modes):
 * - concurrency: closed loop at each concurrency; each level ends by its stop rule (a request count runs
 *   closed-loop.ts's runLevel, a duration or precision rule open-loop.ts's runLoadLevel).
 * - rate: open loop, Poisson arrivals at each rate (seeded: seed + level index), at most maxInFlight at once.
 * - sweep: closed loop from concurrency 1 doubling until throughput stops growing or the SLO breaks (sweep.ts).
 */
export type LoadPlan =
  | {kind: 'concurrency'; concurrencies: number[]; stopFor: (concurrency: number) => StopRule}
  | {kind: 'rate'; rates: number[]; stop: StopRule; maxInFlight: number}
  | {kind: 'sweep'; maxConcurrency: number; minGain: number; stopFor: (concurrency: number) => StopRule}

export interface BenchRunPlan {
  load: LoadPlan
  inputTokens: number
  outputTokens: number
  seed: number
  /** Output tokens of each warmup request (short: warmup only has to touch every sequence and buffer). */
  warmupOutputTokens: number
  slo?: SloSpec
  /** Text prompts from a JSONL file instead of synthetic token ids (--dataset). */
  dataset?: Dataset
  /** Scrape the server's /metrics around each level (false for a remote endpoint). Default true. */
  scrapeMetrics?: boolean
}

/** The most requests a load can issue per level, in level order (a sweep: every rung it may visit). */
export function levelRequestBudgets(load: LoadPlan): number[] {
  if (load.kind === 'concurrency') return load.concurrencies.map((c) => maxRequestsOf(load.stopFor(c)))
  if (load.kind === 'rate') return load.rates.map(() => maxRequestsOf(load.stop))
  return sweepLadder({...SWEEP_DEFAULTS, maxConcurrency: load.maxConcurrency}).map((c) => maxRequestsOf(load.stopFor(c)))
}

/** Requests in flight at most (warmup runs this many; the engine needs this many slots). */
export function peakInFlight(load: LoadPlan): number {
  if (load.kind === 'concurrency') return Math.max(...load.concurrencies)
  if (load.kind === 'rate') return load.maxInFlight
  return Math.max(...sweepLadder({...SWEEP_DEFAULTS, maxConcurrency: load.maxConcurrency}))
}

export interface BenchRunContext {
  engine: Engine
  profile: ModelProfile
  quant: QuantLevel
  model: Omit<ModelInfo, 'profile' | 'quant' | 'paramsB' | 'synthetic' | 'repo'> & {synthetic: boolean; repo?: string | null}
  workloadProfile: string | null
  host: HostSnapshot
  gpuProfile: string | null
  resultsDir: string
  capplan: {version: string; command: string}
  notes: string[]
  signal: AbortSignal
  onProgress?: (progress: BenchProgress) => void
}

export type BenchProgress =
  | {phase: 'warmup'; requests: number; concurrency: number}
  | {phase: 'level'; levelIndex: number; levels: number | null; level: BenchLevelProgress}
  | {phase: 'level-done'; levelIndex: number; levels: number | null; record: LevelRecord}

/** Live progress of one level in any load mode (total null when a duration or precision rule ends it). */
export interface BenchLevelProgress {
  load: {kind: 'concurrency' | 'rate'; value: number}
  done: number
  failed: number
  total: number | null
  outputTokens: number
  elapsedMs: number
}

export interface BenchRunOutcome {
  path: string
  result: ResultFile
}

/** A level's status from what happened: interrupted -> partial; nothing succeeded -> failed. */
export function levelStatus(runStatus: 'complete' | 'partial', completed: number, failed: number): LevelStatus {
  if (runStatus === 'partial') return 'partial'
  return completed === 0 && failed > 0 ? 'failed' : 'complete'
}

/** The run's status once it stops: every level complete -> complete; every level failed -> failed. */
export function runStatusOf(levels: readonly LevelRecord[], expectedLevels: number, interrupted: boolean): RunStatus {
  if (interrupted) return 'interrupted'
  if (levels.length > 0 && levels.every((level) => level.status === 'failed')) return 'failed'
  if (levels.length === expectedLevels && levels.every((level) => level.status === 'complete')) return 'complete'
  return 'partial'
}

/**
 * The exit code of a bench whose runs all ended (not interrupted): 9 (PARTIAL_RUN) when any run has a failed or
 * partial level, so scripts notice; the result files still hold everything measured. 0 otherwise.
 */
export function benchExitCode(statuses: readonly RunStatus[]): 0 | 9 {
  return statuses.some((status) => status === 'partial' || status === 'failed') ? 9 : 0
}

export async function runBench(plan: BenchRunPlan, context: BenchRunContext): Promise<BenchRunOutcome> {
  const {engine, signal} = context
  const {load, dataset} = plan
  const warmupRequests = peakInFlight(load)
  const totalPrompts = warmupRequests + levelRequestBudgets(load).reduce((sum, n) => sum + n, 0)
  let makeRequest: (maxTokens: number) => (promptIndex: number) => GenRequest
  if (dataset === undefined) {
    const pool = (await engine.promptTokenPool?.()) ?? []
    if (totalPrompts > uniquePromptCapacity(pool.length, plan.inputTokens)) {
      throw invalidInput(
        `${totalPrompts} unique prompts are needed but ${pool.length} token ids at --input-tokens ${plan.inputTokens} allow only ${uniquePromptCapacity(pool.length, plan.inputTokens)}.`,
        'Use fewer --requests (or a shorter --duration / --max-requests) or a longer --input-tokens.',
      )
    }
    makeRequest = (maxTokens) => (promptIndex) => ({
      promptTokens: makePromptTokens(pool, plan.inputTokens, plan.seed, promptIndex),
      promptText: null,
      maxTokens,
      ignoreEos: true as const,
    })
  } else {
    // A repeated prompt would let prefix caching skip its prefill: refuse before starting, not mid-level.
    if (totalPrompts > dataset.prompts.length) {
      throw invalidInput(
        `--dataset ${dataset.file} holds ${dataset.prompts.length} prompts but this run may need ${totalPrompts} (warmup ${warmupRequests} + the levels' maximum requests).`,
        'Use a larger dataset, or fewer --requests / a lower maximum per level.',
      )
    }
    makeRequest = (maxTokens) => (promptIndex) => ({promptTokens: null, promptText: datasetPrompt(dataset, promptIndex), maxTokens, ignoreEos: true as const})
  }

  const workload: WorkloadInfo = {
    profile: context.workloadProfile,
    inputTokens: plan.inputTokens,
    outputTokens: plan.outputTokens,
    promptSource: dataset === undefined ? 'synthetic-token-ids' : 'dataset',
    dataset: dataset?.file ?? null,
    seed: plan.seed,
    ignoreEos: true,
  }
  const t0 = performance.now()
  const result: ResultFile = {
    schemaVersion: 1,
    id: randomUUID(),
    createdAt: new Date().toISOString(),
    finishedAt: null,
    capplan: context.capplan,
    host: context.host,
    engine: engine.info(),
    model: {
      profile: context.profile.id,
      quant: context.quant,
      format: context.model.format,
      file: context.model.file,
      repo: context.model.repo ?? null,
      sha256: context.model.sha256,
      bytes: context.model.bytes,
      paramsB: context.profile.params.totalB,
      synthetic: context.model.synthetic,
    },
    gpuProfile: context.gpuProfile,
    workload,
    levels: [],
    status: 'running',
    notes: [
      ...context.notes,
      `warmup: ${warmupRequests} request(s) of ${plan.warmupOutputTokens} output tokens at concurrency ${warmupRequests} before the first level, not recorded`,
    ],
  }
  const writer = await ResultFileWriter.create(context.resultsDir, result)

  let nextPrompt = 0
  context.onProgress?.({phase: 'warmup', requests: warmupRequests, concurrency: warmupRequests})
  const warmup = await runLevel(
    engine,
    {concurrency: warmupRequests, requests: warmupRequests, warmupRequests: 0, firstPromptIndex: nextPrompt, makeRequest: makeRequest(plan.warmupOutputTokens)},
    {t0, signal},
  )
  nextPrompt += warmup.promptsUsed
  const warmupFailures = warmup.requests.filter((request) => request.error !== null)
  if (warmupFailures.length > 0) {
    result.notes.push(`warmup: ${warmupFailures.length} request(s) failed: ${warmupFailures[0]!.error!.message}`)
  }

  const levelCount = load.kind === 'concurrency' ? load.concurrencies.length : load.kind === 'rate' ? load.rates.length : null
  /** Runs one level, records it (file saved); null when an interruption left nothing worth keeping. */
  const measure = async (levelIndex: number, arrival: Arrival, stop: StopRule): Promise<LevelRecord | null> => {
    const loadOf = arrival.kind === 'rate' ? {kind: 'rate' as const, value: arrival.rate} : {kind: 'concurrency' as const, value: arrival.concurrency}
    const batchesBefore = engine.batchStats?.()
    const onProgress = (level: BenchLevelProgress) => context.onProgress?.({phase: 'level', levelIndex, levels: levelCount, level})
    const levelNotes: string[] = []
    const {result: run, telemetry, serverMetrics} = await withLevelTelemetry<LevelRun | LoadLevelRun>(
      engine,
      {
        t0Ms: t0,
        scrape: plan.scrapeMetrics ?? true,
        outputTokens: (run) => run.requests.filter((r) => r.error === null).reduce((sum, r) => sum + r.outputTokens, 0),
        windowOf: (run) => run.window,
      },
      () =>
        arrival.kind === 'concurrency' && stop.kind === 'requests'
          ? runLevel(
              engine,
              {concurrency: arrival.concurrency, requests: stop.requests, warmupRequests: 0, firstPromptIndex: nextPrompt, makeRequest: makeRequest(plan.outputTokens)},
              {t0, signal, onProgress: (p) => onProgress({load: loadOf, done: p.done, failed: p.failed, total: p.total, outputTokens: p.outputTokens, elapsedMs: p.elapsedMs})},
            )
          : runLoadLevel(
              engine,
              {arrival, stop, firstPromptIndex: nextPrompt, makeRequest: makeRequest(plan.outputTokens)},
              {
                t0,
                signal,
                onProgress: (p) =>
                  onProgress({load: loadOf, done: p.done, failed: p.failed, total: stop.kind === 'requests' ? stop.requests : null, outputTokens: p.outputTokens, elapsedMs: p.elapsedMs}),
              },
            ),
    )
    nextPrompt += run.promptsUsed
    if ('stopMessage' in run) {
      levelNotes.push(run.stopMessage, ...run.notes)
      if (run.precision !== null) {
        levelNotes.push(`output tok/s ${run.precision.mean.toFixed(2)} ± ${(run.precision.relativeMargin * 100).toFixed(1)}% (95% CI, ${run.precision.windows} windows)`)
      }
    }
    const batchesAfter = engine.batchStats?.()
    if (batchesBefore !== undefined && batchesAfter !== undefined && batchesAfter.steps > batchesBefore.steps) {
      const perStep = (batchesAfter.tokens - batchesBefore.tokens) / (batchesAfter.steps - batchesBefore.steps)
      levelNotes.push(`${perStep.toFixed(2)} sequences per decode step on average`)
    }
    levelNotes.push(...telemetry.notes)
    // Other work on the machine lowers every number; the reader of the file should see how busy it was.
    levelNotes.push(`1-minute load average at the end ${os.loadavg()[0]!.toFixed(2)}`)
    result.notes.push(`${loadOf.kind} ${loadOf.value}: ${levelNotes.join('; ')}`)
    const summary = summarizeLevel(run.requests, run.window, plan.slo)
    const record: LevelRecord = {
      load: loadOf,
      warmupRequests: run.warmupRequests,
      window: run.window,
      status: levelStatus(run.status, summary.requests.completed, summary.requests.failed),
      requests: run.requests,
      summary,
      telemetry,
      serverMetrics,
    }
    // An interrupted level with nothing finished adds nothing worth keeping.
    if (run.status === 'partial' && run.requests.length === 0) return null
    result.levels.push(record)
    await writer.save(result)
    context.onProgress?.({phase: 'level-done', levelIndex, levels: levelCount, record})
    return record
  }

  let expectedLevels: number
  if (load.kind === 'concurrency') {
    expectedLevels = load.concurrencies.length
    for (const [levelIndex, concurrency] of load.concurrencies.entries()) {
      if (signal.aborted) break
      if ((await measure(levelIndex, {kind: 'concurrency', concurrency}, load.stopFor(concurrency))) === null) break
    }
  } else if (load.kind === 'rate') {
    expectedLevels = load.rates.length
    for (const [levelIndex, rate] of load.rates.entries()) {
      if (signal.aborted) break
      const arrival: Arrival = {kind: 'rate', rate, seed: plan.seed + levelIndex, maxInFlight: load.maxInFlight}
      if ((await measure(levelIndex, arrival, load.stop)) === null) break
    }
  } else {
    let levelIndex = 0
    const outcome = await runSweep(
      async (concurrency) => {
        if (signal.aborted) return null
        const record = await measure(levelIndex++, {kind: 'concurrency', concurrency}, load.stopFor(concurrency))
        return record === null || signal.aborted ? null : record.summary
      },
      {...SWEEP_DEFAULTS, maxConcurrency: load.maxConcurrency, minGain: load.minGain, ...(plan.slo === undefined ? {} : {slo: plan.slo})},
    )
    // The sweep decides its own length: every level it ran is the whole plan.
    expectedLevels = result.levels.length
    result.notes.push(
      `sweep stopped (${outcome.stop}): ${outcome.message}; best level meeting the SLO: ${outcome.best === null ? 'none' : `concurrency ${outcome.best.concurrency}`}`,
    )
  }

  result.status = runStatusOf(result.levels, expectedLevels, signal.aborted)
  result.finishedAt = new Date().toISOString()
  await writer.save(result)
  return {path: writer.path, result}
}
