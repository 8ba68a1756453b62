import {randomUUID} from 'node:crypto'
import os from 'node:os'

import {clientThreadGcPauses} from '../engines/http/client-threads.js'
import {readLogTail} from '../engines/spawned/process.js'
import type {Engine, EngineExit, GenRequest} from '../engines/types.js'
import {invalidInput} from '../lib/errors.js'
import type {ModelProfile, QuantLevel} from '../profiles/schema.js'
import {ResultFileWriter} from '../results/write.js'
import type {HostSnapshot, LevelRecord, LevelStatus, ModelInfo, ResultFile, RunStatus, SloSpec, WorkloadInfo} from '../results/schema.js'
import {RESULT_SCHEMA_VERSION} from '../results/schema.js'
import {summarizeLevel} from '../stats/summarize.js'
import {type Arrival, loadOf} from './arrivals.js'
import {type Dataset, datasetPrompt} from './dataset.js'
import {watchClientHealth} from '../telemetry/client-health.js'
import {type LevelRun, runLevel} from './level.js'
import {LevelFailure} from './request.js'
import {maxRequestsOf, type StopRule} from './stop-rules.js'
import {runSweep, SWEEP_DEFAULTS, sweepLadder} from './sweep.js'
import {withLevelTelemetry} from '../telemetry/level.js'
import {makePromptTokens, uniquePromptCapacity} from './prompts.js'
import {type PromptLayout, type ShapePlan, ShapedPrompts} from './shape.js'
import type {LevelCache, WorkloadShape} from '../results/workload-shape.js'
import type {RequestRecord, ServerMetrics} from '../results/schema.js'

/**
 * One benchmark run of one started engine: a warmup, then one level per load, the result file created before
 * the first level and saved (atomically) after every level, so an interruption keeps everything measured so
 * far. The warmup and every level run on the one level runner (level.ts).
 */

/**
 * How the levels load the engine (issue 4, load modes):
 * - concurrency: closed arrivals at each concurrency; each level ends by its stop rule.
 * - rate: Poisson arrivals at each rate (seeded: seed + level index), at most maxInFlight at once.
 * - sweep: closed arrivals from concurrency 1 doubling until throughput stops growing or the SLO breaks (sweep.ts).
 */
export type LoadPlan =
  | {kind: 'concurrency'; concurrencies: number[]; stopFor: (concurrency: number) => StopRule}
  | {kind: 'rate'; rates: number[]; stop: StopRule; maxInFlight: number; burstiness?: number; rampMs?: number}
  | {kind: 'trace'; /** due time of each request, ms from the level's start (already scaled by --replay-speed) */ offsetsMs: number[]; maxInFlight: number}
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
  /**
   * A workload shape (shared prefixes, sessions, length distributions, a trace; shape.ts) and its record for
   * the result file; absent = the control: unique prompts of inputTokens, outputs of outputTokens.
   */
  shape?: {plan: ShapePlan; record: WorkloadShape}
  /** Scrape the server's /metrics around each level (false for a remote endpoint). Default true. */
  scrapeMetrics?: boolean
  /**
   * When the engine's server dies (engine.exited()): 'stop' (default) ends this run after recording the level
   * as failed; 'continue' restarts the engine (stop() then start(), a new warmup) and goes on with the next level.
   */
  onError?: OnEngineError
}

export const ON_ENGINE_ERROR = ['stop', 'continue'] as const
export type OnEngineError = (typeof ON_ENGINE_ERROR)[number]

/** How often a level checks whether the engine's process is still there (besides after every failed request). */
const ENGINE_WATCH_MS = 250
/** Server log lines a note about its death quotes. */
const EXIT_LOG_LINES = 20

/** A run note for a server that died: what ended it and its last log lines (the reason is usually there). */
export function engineExitNote(where: string, exit: EngineExit, logTail: readonly string[], logKeptAs: string | null = exit.logFile): string {
  const log = logKeptAs === null ? '' : ` (log: ${logKeptAs})`
  const tail = logTail.length === 0 ? ' The log is empty.' : ` Last log lines:\n${logTail.join('\n')}`
  return `${where}: ${exit.description}${log}.${tail}`
}

/** The most requests a load can issue per level, in level order (a sweep: every rung it may visit). */
export function levelRequestBudgets(load: LoadPlan): number[] {
  if (load.kind === 'concurrency') return load.concurrencies.map((c) => maxRequestsOf(load.stopFor(c)))
  if (load.kind === 'rate') return load.rates.map(() => maxRequestsOf(load.stop))
  if (load.kind === 'trace') return [load.offsetsMs.length]
  return sweepLadder({...SWEEP_DEFAULTS, maxConcurrency: load.maxConcurrency}).map((c) => maxRequestsOf(load.stopFor(c)))
}

/** Requests in flight at most (the engine needs this many slots). */
export function peakInFlight(load: LoadPlan): number {
  if (load.kind === 'concurrency') return Math.max(...load.concurrencies)
  if (load.kind === 'rate' || load.kind === 'trace') return load.maxInFlight
  return Math.max(...sweepLadder({...SWEEP_DEFAULTS, maxConcurrency: load.maxConcurrency}))
}

/** A --rate warmup stands for this many seconds of arrivals at the highest rate... */
export const RATE_WARMUP_SECONDS = 3
/** ...and sends at most this many requests (at once), however high the rate and --max-in-flight. */
export const RATE_WARMUP_MAX = 32

/**
 * The warmup: `requests` short requests, all `requests` at once (a closed loop), before the first level. A
 * closed loop warms up at its highest concurrency: its levels really run that many at once. An open loop
 * (--rate) has about rate x latency in flight, not --max-in-flight (256 for openai/vllm: 256 prompts at once
 * kept a modest server busy for minutes before anything was measured), so it sends what the highest rate
 * issues in RATE_WARMUP_SECONDS, at least 1, at most RATE_WARMUP_MAX and --max-in-flight.
 */
export function warmupSize(load: LoadPlan): number {
  if (load.kind === 'trace') return Math.max(1, Math.min(load.maxInFlight, RATE_WARMUP_MAX, 4))
  if (load.kind !== 'rate') return peakInFlight(load)
  const fromRate = Math.ceil(Math.max(...load.rates) * RATE_WARMUP_SECONDS)
  return Math.max(1, Math.min(load.maxInFlight, RATE_WARMUP_MAX, fromRate))
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
  capplan: {version: string; command: string[]}
  notes: string[]
  signal: AbortSignal
  onProgress?: (progress: BenchProgress) => void
  /**
   * Where the server's log will be kept once the run ends, from the result file's path (bench moves it beside
   * the file): the notes about a dead server name that path. Default: the engine's own log path.
   */
  serverLogKeptAs?: (resultPath: string) => string
  /** Called once the result file exists (its path), before the warmup. */
  onResultFile?: (path: string) => void
  /** bench --resume: the earlier file and its complete levels, copied into this run's NEW file. */
  resumedFrom?: {file: string; levels: LevelRecord[]}
}

export type BenchProgress =
  | {phase: 'warmup'; requests: number; concurrency: number; done: number; failed: number; elapsedMs: number}
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

/**
 * The run's status once it stops: every level complete -> complete; every level failed, or none measured at
 * all (the engine died before the first) -> failed.
 */
export function runStatusOf(levels: readonly LevelRecord[], expectedLevels: number, interrupted: boolean): RunStatus {
  if (interrupted) return 'interrupted'
  if (levels.every((level) => level.status === 'failed') && (levels.length > 0 || expectedLevels > 0)) return 'failed'
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

interface MeasuredLevel {
  record: LevelRecord
  /** How the engine's server ended during the level; null when it still runs. */
  died: EngineExit | null
}

function loadLabelOf(load: LevelRecord['load']): string {
  return load.kind === 'rate' ? `rate ${load.value} req/s` : `concurrency ${load.value}`
}

export async function runBench(plan: BenchRunPlan, context: BenchRunContext): Promise<BenchRunOutcome> {
  const {engine, signal} = context
  const {load, dataset} = plan
  const warmupRequests = warmupSize(load)
  const totalPrompts = warmupRequests + levelRequestBudgets(load).reduce((sum, n) => sum + n, 0)
  /** Requests for prompt indices from layout.base on; maxTokens null = the workload's output length. */
  let makeRequest: (maxTokens: number | null, layout: PromptLayout) => (promptIndex: number) => GenRequest
  /** Per prompt index of a shaped workload: what an ideal prefix cache would serve (the intended hit). */
  const intendedCached = new Map<number, number>()
  let shaped: ShapedPrompts | null = null
  if (dataset === undefined && plan.shape !== undefined) {
    const pool = (await engine.promptTokenPool?.()) ?? []
    const prompts = new ShapedPrompts(pool, plan.shape.plan, plan.seed)
    shaped = prompts
    const cachePrompt = plan.shape.record.promptCache === 'on'
    // A trace's warmup must not warm the cache with the trace's blocks: unique prompts of one block.
    const traceBlock = plan.shape.plan.trace?.blockTokens ?? null
    makeRequest = (maxTokens, layout) => (promptIndex) => {
      if (traceBlock !== null && maxTokens !== null) {
        return {promptTokens: makePromptTokens(pool, traceBlock, plan.seed, promptIndex), promptText: null, maxTokens, ignoreEos: true as const, cachePrompt}
      }
      const request = prompts.request(promptIndex, layout)
      intendedCached.set(promptIndex, request.intendedCachedTokens)
      return {promptTokens: request.promptTokens, promptText: null, maxTokens: maxTokens ?? request.maxTokens, ignoreEos: true as const, cachePrompt}
    }
  } else if (dataset === undefined) {
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
      maxTokens: maxTokens ?? plan.outputTokens,
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
    makeRequest = (maxTokens) => (promptIndex) => ({
      promptTokens: null,
      promptText: datasetPrompt(dataset, promptIndex),
      maxTokens: maxTokens ?? plan.outputTokens,
      ignoreEos: true as const,
    })
  }

  const workload: WorkloadInfo = {
    profile: context.workloadProfile,
    inputTokens: plan.inputTokens,
    outputTokens: plan.outputTokens,
    promptSource: dataset === undefined ? 'synthetic-token-ids' : 'dataset',
    dataset: dataset?.file ?? null,
    seed: plan.seed,
    ignoreEos: true,
    ...(plan.shape === undefined ? {} : {shape: plan.shape.record}),
  }
  const t0 = performance.now()
  const result: ResultFile = {
    schemaVersion: RESULT_SCHEMA_VERSION,
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
    levels: [...(context.resumedFrom?.levels ?? [])],
    status: 'running',
    notes: [
      ...context.notes,
      ...(context.resumedFrom === undefined
        ? []
        : [
            `resumed from ${context.resumedFrom.file}: its complete level(s) ${context.resumedFrom.levels.map((level) => loadLabelOf(level.load)).join(', ') || 'none'} copied as measured there; the others measured again in this run`,
          ]),
      `warmup: ${warmupRequests} request(s) of ${plan.warmupOutputTokens} output tokens at concurrency ${warmupRequests} before the first level, not recorded`,
    ],
  }
  const writer = await ResultFileWriter.create(context.resultsDir, result)
  context.onResultFile?.(writer.path)

  const onError = plan.onError ?? 'stop'
  const engineExit = (): EngineExit | null => engine.exited?.() ?? null
  /** The run note about a dead server: its last log lines, and the log's name once bench has moved it. */
  const exitNote = async (where: string, exit: EngineExit) => {
    const tail = exit.logFile === null ? [] : await readLogTail(exit.logFile, EXIT_LOG_LINES)
    const kept = exit.logFile === null || context.serverLogKeptAs === undefined ? exit.logFile : context.serverLogKeptAs(writer.path)
    return engineExitNote(where, exit, tail, kept)
  }

  /**
   * The warmup: prompt indices 0 .. warmupRequests-1, also after a restart — a fresh server has nothing
   * cached, so repeating them there cannot help its prefix cache, and the levels' prompts stay unique.
   */
  const warmUp = async (label: string) => {
    const progress = (done: number, failed: number, elapsedMs: number) =>
      context.onProgress?.({phase: 'warmup', requests: warmupRequests, concurrency: warmupRequests, done, failed, elapsedMs})
    progress(0, 0, 0)
    const warmup = await runLevel(
      engine,
      {
        arrival: {kind: 'concurrency', concurrency: warmupRequests},
        stop: {kind: 'requests', requests: warmupRequests},
        firstPromptIndex: 0,
        makeRequest: makeRequest(plan.warmupOutputTokens, {base: 0, lanes: warmupRequests}),
      },
      {t0, signal, onProgress: (p) => progress(p.done, p.failed, p.elapsedMs)},
    )
    const warmupFailures = warmup.requests.filter((request) => request.error !== null)
    if (warmupFailures.length > 0) {
      result.notes.push(`${label}: ${warmupFailures.length} request(s) failed: ${warmupFailures[0]!.error!.message}`)
    }
    return warmup.promptsUsed
  }
  let nextPrompt = await warmUp('warmup')

  /** --on-error continue: a new server (stop() then start()) and a new warmup; false when it cannot start. */
  const restart = async (after: string): Promise<boolean> => {
    try {
      await engine.stop()
      await engine.start()
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      result.notes.push(`restarting the engine after ${after} failed, the run ends here: ${message}`)
      return false
    }
    result.notes.push(`engine restarted after ${after} (--on-error continue), now at ${engine.info().endpoint ?? 'the same place'}; a new warmup ran before the next level`)
    await warmUp('warmup after the restart')
    return true
  }

  /** Before a level: a server that died outside a level (warmup, between levels) stops or restarts the run too. */
  const readyForLevel = async (what: string): Promise<boolean> => {
    if (signal.aborted) return false
    const exit = engineExit()
    if (exit === null) return true
    result.notes.push(await exitNote(`before ${what}`, exit))
    await writer.save(result)
    return onError === 'continue' && (await restart(`its exit before ${what}`))
  }

  /** After a level: go on unless it was interrupted or its engine died (then --on-error decides). */
  const goOn = async (outcome: MeasuredLevel | null): Promise<boolean> => {
    if (outcome === null || signal.aborted) return false
    if (outcome.died === null) return true
    return onError === 'continue' && (await restart(`its exit during ${loadLabelOf(outcome.record.load)}`))
  }

  const levelCount = load.kind === 'concurrency' ? load.concurrencies.length : load.kind === 'rate' ? load.rates.length : load.kind === 'trace' ? 1 : null
  const sessions = plan.shape?.plan.sessions ?? null
  /**
   * Runs one level, records it (file saved); null when an interruption left nothing worth keeping. A server
   * that dies mid-level ends the level at once (checked after every failed request and every 250 ms): every
   * request it sent is kept, those finished before and those in flight at the death (failed, 'engine', naming
   * the exit: the level's signal carries a LevelFailure), the level is failed, the notes hold the exit and the
   * log's last lines.
   */
  const measure = async (levelIndex: number, arrival: Arrival, stop: StopRule): Promise<MeasuredLevel | null> => {
    const levelLoad = loadOf(arrival)
    const batchesBefore = engine.batchStats?.()
    const levelStop = new AbortController()
    const levelSignal = AbortSignal.any([signal, levelStop.signal])
    let died: EngineExit | null = null
    // Synchronous, so a failure caused by the death stops the level before the runner sends the next request.
    const watch = () => {
      if (died !== null || levelSignal.aborted) return
      died = engineExit()
      // Not an interruption: the requests in flight are recorded as failed by the death (request.ts).
      if (died !== null) levelStop.abort(new LevelFailure('engine', died.description))
    }
    const watcher = engine.exited === undefined ? undefined : setInterval(watch, ENGINE_WATCH_MS)
    let failedSoFar = 0
    const onProgress = (level: BenchLevelProgress) => {
      if (level.failed > failedSoFar) {
        failedSoFar = level.failed
        watch()
      }
      context.onProgress?.({phase: 'level', levelIndex, levels: levelCount, level})
    }
    const levelNotes: string[] = []
    // capplan's own event-loop delay and GC pauses over the level: they bound how late chunks were stamped.
    const health = watchClientHealth({threadGc: clientThreadGcPauses})
    const measured = withLevelTelemetry<LevelRun>(
      engine,
      {
        t0Ms: t0,
        scrape: plan.scrapeMetrics ?? true,
        outputTokens: (run) => run.requests.filter((r) => r.error === null).reduce((sum, r) => sum + r.outputTokens, 0),
        windowOf: (run) => run.window,
      },
      () =>
        runLevel(
          engine,
          {
            arrival,
            stop,
            firstPromptIndex: nextPrompt,
            makeRequest: makeRequest(null, {base: nextPrompt, lanes: arrival.kind === 'concurrency' ? arrival.concurrency : arrival.maxInFlight}),
            ...(shaped === null ? {} : {recordCache: true}),
            ...(sessions === null
              ? {}
              : {
                  sessionOf: sessionsOf(shaped!, {base: nextPrompt, lanes: arrival.kind === 'concurrency' ? arrival.concurrency : arrival.maxInFlight}),
                  thinkTimeMs: sessions.thinkTimeMs,
                }),
          },
          {
            t0,
            signal: levelSignal,
            onProgress: (p) => onProgress({load: levelLoad, done: p.done, failed: p.failed, total: p.total, outputTokens: p.outputTokens, elapsedMs: p.elapsedMs}),
          },
        ),
    )
    let levelRun: Awaited<typeof measured>
    try {
      levelRun = await measured
    } finally {
      clearInterval(watcher)
    }
    const clientHealth = await health.stop()
    const {result: run, telemetry, serverMetrics} = levelRun
    const levelFirstPrompt = nextPrompt
    // The last word on a death the watch did not see yet (it died as the level's last request ended).
    if (died === null && !signal.aborted) died = engineExit()
    nextPrompt += run.promptsUsed
    // A level its engine ended was stopped by capplan, not by the user: the death note below says so. A closed
    // loop of a fixed count is its own stop and has never noted it (result files read as before).
    const notesStop = died === null && !(arrival.kind === 'concurrency' && stop.kind === 'requests')
    levelNotes.push(...(notesStop ? [run.stopMessage] : []), ...run.notes)
    if (run.precision !== null) {
      levelNotes.push(`output tok/s ${run.precision.mean.toFixed(2)} ± ${(run.precision.relativeMargin * 100).toFixed(1)}% (95% CI, ${run.precision.windows} windows)`)
    }
    const batchesAfter = engine.batchStats?.()
    if (batchesBefore !== undefined && batchesAfter !== undefined && batchesAfter.steps > batchesBefore.steps) {
      const perStep = (batchesAfter.tokens - batchesBefore.tokens) / (batchesAfter.steps - batchesBefore.steps)
      levelNotes.push(`${perStep.toFixed(2)} sequences per decode step on average`)
    }
    if (died !== null) {
      const failed = run.requests.filter((request) => request.error !== null).length
      levelNotes.unshift(`the engine died during this level, which ends as failed with the ${run.requests.length} request(s) it sent (${failed} failed)`)
    }
    levelNotes.push(...telemetry.notes)
    // Other work on the machine lowers every number; the reader of the file should see how busy it was.
    levelNotes.push(`1-minute load average at the end ${os.loadavg()[0]!.toFixed(2)}`)
    result.notes.push(`${levelLoad.kind} ${levelLoad.value}: ${levelNotes.join('; ')}`)
    if (died !== null) result.notes.push(await exitNote(loadLabelOf(levelLoad), died))
    const summary = summarizeLevel(run.requests, run.window, plan.slo)
    const record: LevelRecord = {
      load: levelLoad,
      warmupRequests: run.warmupRequests,
      window: run.window,
      status: died === null ? levelStatus(run.status, summary.requests.completed, summary.requests.failed) : 'failed',
      requests: run.requests,
      summary,
      telemetry,
      serverMetrics,
      clientHealth,
      ...(shaped === null ? {} : {cache: levelCache(run.requests, (index) => intendedCached.get(levelFirstPrompt + index) ?? 0, serverMetrics)}),
    }
    // An interrupted level with nothing finished adds nothing worth keeping (a level its engine ended does).
    if (died === null && run.status === 'partial' && run.requests.length === 0) return null
    result.levels.push(record)
    // Levels copied from a resumed file and new ones read in load order.
    if (context.resumedFrom !== undefined) result.levels.sort((a, b) => a.load.value - b.load.value)
    await writer.save(result)
    context.onProgress?.({phase: 'level-done', levelIndex, levels: levelCount, record})
    return {record, died}
  }

  let expectedLevels: number
  if (load.kind === 'concurrency') {
    expectedLevels = load.concurrencies.length
    for (const [levelIndex, concurrency] of load.concurrencies.entries()) {
      if (!(await readyForLevel(`concurrency ${concurrency}`))) break
      if (!(await goOn(await measure(levelIndex, {kind: 'concurrency', concurrency}, load.stopFor(concurrency))))) break
    }
  } else if (load.kind === 'trace') {
    expectedLevels = 1
    if (await readyForLevel('the trace replay')) {
      await goOn(await measure(0, {kind: 'trace', offsetsMs: load.offsetsMs, maxInFlight: load.maxInFlight}, {kind: 'requests', requests: load.offsetsMs.length}))
    }
  } else if (load.kind === 'rate') {
    expectedLevels = load.rates.length
    for (const [levelIndex, rate] of load.rates.entries()) {
      if (!(await readyForLevel(`rate ${rate} req/s`))) break
      const arrival: Arrival = {
        kind: 'rate',
        rate,
        seed: plan.seed + levelIndex,
        maxInFlight: load.maxInFlight,
        ...(load.burstiness === undefined ? {} : {burstiness: load.burstiness}),
        ...(load.rampMs === undefined ? {} : {rampMs: load.rampMs}),
      }
      if (!(await goOn(await measure(levelIndex, arrival, load.stop)))) break
    }
  } else {
    let levelIndex = 0
    const outcome = await runSweep(
      async (concurrency) => {
        if (!(await readyForLevel(`concurrency ${concurrency}`))) return null
        const outcome = await measure(levelIndex++, {kind: 'concurrency', concurrency}, load.stopFor(concurrency))
        return (await goOn(outcome)) ? outcome!.record.summary : null
      },
      {...SWEEP_DEFAULTS, maxConcurrency: load.maxConcurrency, minGain: load.minGain, ...(plan.slo === undefined ? {} : {slo: plan.slo})},
    )
    // The sweep decides its own length: every level it ran is the whole plan (at least one: its first rung).
    expectedLevels = Math.max(1, result.levels.length)
    result.notes.push(
      `sweep stopped (${outcome.stop}): ${outcome.message}; best level meeting the SLO: ${outcome.best === null ? 'none' : `concurrency ${outcome.best.concurrency}`}`,
    )
  }

  result.status = runStatusOf(result.levels, expectedLevels + (context.resumedFrom?.levels.length ?? 0), signal.aborted)
  result.finishedAt = new Date().toISOString()
  await writer.save(result)
  return {path: writer.path, result}
}

/** The session of each prompt index under a layout (multi-turn workloads), for the level runner. */
function sessionsOf(prompts: ShapedPrompts, layout: PromptLayout): (promptIndex: number) => {id: number; turn: number; previous: number | null} | null {
  return (promptIndex) => prompts.request(promptIndex, layout).session
}

/**
 * A level's cache evidence over its successful requests: measured = cached / prompt tokens when every one of
 * them carries the server's cachedTokens (source server-usage); else vLLM's prefix-cache counters over the
 * level (server-metrics: hits / queries); else unknown. Intended = the ideal cache's tokens / prompt tokens.
 */
export function levelCache(requests: readonly RequestRecord[], intendedOf: (index: number) => number, serverMetrics: ServerMetrics | null | undefined): LevelCache {
  const ok = requests.filter((request) => request.error === null)
  const promptTokens = ok.reduce((sum, request) => sum + request.inputTokens, 0)
  const intended = ok.reduce((sum, request) => sum + intendedOf(request.index), 0)
  const intendedHitRate = promptTokens > 0 ? Math.min(1, intended / promptTokens) : null
  const known = ok.length > 0 && ok.every((request) => typeof request.cachedTokens === 'number')
  if (known) {
    const cachedTokens = ok.reduce((sum, request) => sum + (request.cachedTokens ?? 0), 0)
    return {intendedHitRate, measuredHitRate: promptTokens > 0 ? Math.min(1, cachedTokens / promptTokens) : null, cachedTokens, promptTokens, source: 'server-usage'}
  }
  const deltas = serverMetrics?.deltas ?? {}
  const hits = deltas['vllm:prefix_cache_hits_total'] ?? deltas['vllm:prefix_cache_hits']
  const queries = deltas['vllm:prefix_cache_queries_total'] ?? deltas['vllm:prefix_cache_queries']
  if (hits !== undefined && queries !== undefined && queries > 0) {
    return {intendedHitRate, measuredHitRate: Math.min(1, hits / queries), cachedTokens: Math.round(hits), promptTokens: Math.round(queries), source: 'server-metrics'}
  }
  return {intendedHitRate, measuredHitRate: null, cachedTokens: 0, promptTokens, source: 'unknown'}
}
