import {randomUUID} from 'node:crypto'
import os from 'node:os'

import type {Engine} from '../engines/types.js'
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
import {type LevelProgress, runLevel} from './closed-loop.js'
import {makePromptTokens, uniquePromptCapacity} from './prompts.js'

/**
 * One benchmark run of one started engine: a warmup, then one closed-loop level per concurrency, the result
 * file created before the first level and saved (atomically) after every level, so an interruption keeps
 * everything measured so far.
 */

export interface BenchRunPlan {
  concurrencies: number[]
  /** Measured requests of the level at this concurrency. */
  requestsFor: (concurrency: number) => number
  inputTokens: number
  outputTokens: number
  seed: number
  /** Output tokens of each warmup request (short: warmup only has to touch every sequence and buffer). */
  warmupOutputTokens: number
  slo?: SloSpec
}

export interface BenchRunContext {
  engine: Engine
  profile: ModelProfile
  quant: QuantLevel
  model: Omit<ModelInfo, 'profile' | 'quant' | 'paramsB' | 'synthetic' | 'repo'> & {synthetic: boolean}
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
  | {phase: 'level'; levelIndex: number; levels: number; level: LevelProgress}
  | {phase: 'level-done'; levelIndex: number; levels: number; record: LevelRecord}

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

export async function runBench(plan: BenchRunPlan, context: BenchRunContext): Promise<BenchRunOutcome> {
  const {engine, signal} = context
  const maxConcurrency = Math.max(...plan.concurrencies)
  const pool = (await engine.promptTokenPool?.()) ?? []
  const totalPrompts = maxConcurrency + plan.concurrencies.reduce((sum, c) => sum + plan.requestsFor(c), 0)
  if (totalPrompts > uniquePromptCapacity(pool.length, plan.inputTokens)) {
    throw invalidInput(
      `${totalPrompts} unique prompts are needed but ${pool.length} token ids at --input-tokens ${plan.inputTokens} allow only ${uniquePromptCapacity(pool.length, plan.inputTokens)}.`,
      'Use fewer --requests or a longer --input-tokens.',
    )
  }
  const makeRequest = (maxTokens: number) => (promptIndex: number) => ({
    promptTokens: makePromptTokens(pool, plan.inputTokens, plan.seed, promptIndex),
    promptText: null,
    maxTokens,
    ignoreEos: true as const,
  })

  const workload: WorkloadInfo = {
    profile: context.workloadProfile,
    inputTokens: plan.inputTokens,
    outputTokens: plan.outputTokens,
    promptSource: 'synthetic-token-ids',
    dataset: null,
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
      repo: null,
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
      `warmup: ${maxConcurrency} request(s) of ${plan.warmupOutputTokens} output tokens at concurrency ${maxConcurrency} before the first level, not recorded`,
    ],
  }
  const writer = await ResultFileWriter.create(context.resultsDir, result)

  let nextPrompt = 0
  context.onProgress?.({phase: 'warmup', requests: maxConcurrency, concurrency: maxConcurrency})
  const warmup = await runLevel(
    engine,
    {
      concurrency: maxConcurrency,
      requests: maxConcurrency,
      warmupRequests: 0,
      firstPromptIndex: nextPrompt,
      makeRequest: makeRequest(plan.warmupOutputTokens),
    },
    {t0, signal},
  )
  nextPrompt += warmup.promptsUsed
  const warmupFailures = warmup.requests.filter((request) => request.error !== null)
  if (warmupFailures.length > 0) {
    result.notes.push(`warmup: ${warmupFailures.length} request(s) failed: ${warmupFailures[0]!.error!.message}`)
  }

  for (const [levelIndex, concurrency] of plan.concurrencies.entries()) {
    if (signal.aborted) break
    const batchesBefore = engine.batchStats?.()
    const run = await runLevel(
      engine,
      {
        concurrency,
        requests: plan.requestsFor(concurrency),
        warmupRequests: 0,
        firstPromptIndex: nextPrompt,
        makeRequest: makeRequest(plan.outputTokens),
      },
      {
        t0,
        signal,
        onProgress: (level) => context.onProgress?.({phase: 'level', levelIndex, levels: plan.concurrencies.length, level}),
      },
    )
    nextPrompt += run.promptsUsed
    const batchesAfter = engine.batchStats?.()
    const levelNotes: string[] = []
    if (batchesBefore !== undefined && batchesAfter !== undefined && batchesAfter.steps > batchesBefore.steps) {
      const perStep = (batchesAfter.tokens - batchesBefore.tokens) / (batchesAfter.steps - batchesBefore.steps)
      levelNotes.push(`${perStep.toFixed(2)} sequences per decode step on average`)
    }
    // Other work on the machine lowers every number; the reader of the file should see how busy it was.
    levelNotes.push(`1-minute load average at the end ${os.loadavg()[0]!.toFixed(2)}`)
    result.notes.push(`concurrency ${concurrency}: ${levelNotes.join('; ')}`)
    const summary = summarizeLevel(run.requests, run.window, plan.slo)
    const record: LevelRecord = {
      load: {kind: 'concurrency', value: concurrency},
      warmupRequests: run.warmupRequests,
      window: run.window,
      status: levelStatus(run.status, summary.requests.completed, summary.requests.failed),
      requests: run.requests,
      summary,
      telemetry: null,
      serverMetrics: null,
    }
    // An interrupted level with nothing finished adds nothing worth keeping.
    if (run.status === 'partial' && run.requests.length === 0) break
    result.levels.push(record)
    await writer.save(result)
    context.onProgress?.({phase: 'level-done', levelIndex, levels: plan.concurrencies.length, record})
  }

  result.status = runStatusOf(result.levels, plan.concurrencies.length, signal.aborted)
  result.finishedAt = new Date().toISOString()
  await writer.save(result)
  return {path: writer.path, result}
}
