/**
 * The measuring part of `capplan bench`: for each quantization, prepare the model (synthesize, a local GGUF,
 * a vLLM checkpoint or a remote endpoint), start the engine, run the load plan into a result file (loadgen's
 * runBench saves after every level), stop the engine and keep the server log beside the file.
 */

import {randomUUID} from 'node:crypto'
import {mkdir, rename, rm, stat} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import type {StatusLine} from '../../cli/progress.js'
import {API_PATHS, createEngine, type EngineApi, type EngineKind} from '../../engines/registry.js'
import type {Engine} from '../../engines/types.js'
import {vllmCheckpoint} from '../../engines/vllm.js'
import {ensureSyntheticModel} from '../../gguf/synth.js'
import {checkResultsDir} from '../../lib/output-path.js'
import {CapplanError} from '../../lib/errors.js'
import {quoteArgv} from '../../lib/redact.js'
import {type BenchProgress, type BenchRunOutcome, runBench} from '../../loadgen/run.js'
import type {ProfileStore} from '../../profiles/store.js'
import {formatRate, loadText} from '../../report/format.js'
import type {QuantLevel} from '../../profiles/schema.js'
import type {LevelRecord} from '../../results/schema.js'
import {useClientThreads} from '../../engines/http/client-threads.js'
import {detectHostGpuProfileId, physicalCoreCount, snapshotHost} from '../../telemetry/host.js'
import {type BenchOptions, isLoopbackEndpoint} from './options.js'
import {assertLevelsReachConcurrency, assertSyntheticRunFits, busyMachineWarning} from './preflight.js'

/** Where bench reports while it measures, and how it is stopped. */
export interface BenchIo {
  status: StatusLine
  /** An informational line (silent under --json). */
  info: (message: string) => void
  /** A warning (stderr in every mode). */
  warn: (message: string) => void
  /** Aborted by Ctrl-C / SIGTERM: the level in flight ends, what was measured is saved. */
  signal: AbortSignal
}

export interface BenchRunContextValues {
  capplanVersion: string
  /** The command line to record, as argv (already redacted). */
  command: string[]
  /** bench --resume: the earlier file and its complete levels. */
  resumedFrom?: {file: string; levels: LevelRecord[]}
}

interface BenchModel {
  format: string
  file: string | null
  sha256: string | null
  bytes: number | null
  synthetic: boolean
  repo: string | null
}

/** Run every quantization of the plan; returns the result files written (also when interrupted). */
export async function measureBench(options: BenchOptions, store: ProfileStore, context: BenchRunContextValues, io: BenchIo): Promise<BenchRunOutcome[]> {
  const {engineKind, profile, quants} = options
  assertLevelsReachConcurrency(options.load)
  // A --results-dir that is a file, not writable or on a full disk is refused before any model or server.
  await checkResultsDir(options.resultsDir)
  // Refuse a model this machine cannot hold before synthesizing anything (all quants first).
  if (options.synthesize) await assertSyntheticRunFits(profile, quants, options.contextSize)

  const local = engineKind === 'embedded' || engineKind === 'llamacpp'
  const threads = options.engineFlags.threads ?? (local ? await physicalCoreCount() : null)
  const loadBefore = os.loadavg()[0]!
  const busy = threads === null ? null : busyMachineWarning(loadBefore, os.availableParallelism(), threads)
  if (busy !== null) io.info(`Warning: ${busy}`)
  const host = await snapshotHost()
  const {status, signal} = io

  const runs: BenchRunOutcome[] = []
  // --client-threads: every stream of the run read in those threads (stopped when the run ends).
  const undoClientThreads = useClientThreads(options.clientThreads)
  try {
    for (const quant of quants) {
      if (signal.aborted) break
      const label = `${profile.id} ${quant}`
      const model = await prepareModel(options, quant, label, status)
      if (signal.aborted) break
      // The server's log goes beside the result file; its name is only known once the file exists.
      let serverLog: string | undefined
      if (engineKind === 'llamacpp' || engineKind === 'vllm') {
        await mkdir(options.resultsDir, {recursive: true})
        serverLog = path.join(options.resultsDir, `.capplan-server-${randomUUID()}.log`)
      }
      const engine = makeEngine(options, quant, model.file ?? '', threads, serverLog, io.warn)
      status.update(`${label}: starting the ${engineKind} engine...`, true)
      const progress = progressReporter(status, label)
      // Known as soon as the file exists: the server log goes beside it even when the run then throws.
      let resultPath: string | undefined
      try {
        try {
          await engine.start()
        } catch (error) {
          // Ctrl-C / SIGTERM while the server starts (its failure to start is then ours): interrupted, as at any moment.
          if (signal.aborted) break
          throw error
        }
        if (signal.aborted) break
        const info = engine.info()
        const endpointIsLocal = engineKind !== 'openai' || isLoopbackEndpoint(options.engineFlags.endpoint!)
        const gpuProfile = info.gpuCount > 0 && endpointIsLocal ? detectHostGpuProfileId(store, host) : null
        const outcome = await runBench(
          {
            load: options.load,
            inputTokens: options.inputTokens,
            outputTokens: options.outputTokens,
            seed: options.seed,
            warmupOutputTokens: Math.min(options.outputTokens, 8),
            ...(options.slo === undefined ? {} : {slo: options.slo}),
            ...(options.dataset === undefined ? {} : {dataset: options.dataset}),
            ...(options.shape === undefined ? {} : {shape: {plan: options.shape.plan, record: options.shape.record}}),
            scrapeMetrics: endpointIsLocal,
            onError: options.onError,
          },
          {
            engine,
            profile,
            quant,
            model,
            workloadProfile: options.workloadProfileId,
            host,
            gpuProfile,
            resultsDir: options.resultsDir,
            capplan: {version: context.capplanVersion, command: context.command},
            notes: runNotes(engineKind, model.synthetic, threads, loadBefore, options.api),
            signal,
            onProgress: progress.onProgress,
            serverLogKeptAs: keptServerLog,
            onResultFile: (file) => {
              resultPath = file
            },
            ...(context.resumedFrom === undefined ? {} : {resumedFrom: context.resumedFrom}),
          },
        )
        if (measuredNothing(outcome, context.resumedFrom)) {
          // Interrupted before a level was measured: no result file (and so no server log) is left behind.
          await rm(outcome.path, {force: true})
          resultPath = undefined
          break
        }
        runs.push(outcome)
        status.log(`${label}: result file ${path.relative(process.cwd(), outcome.path) || outcome.path} (${outcome.result.status})`)
      } finally {
        progress.stop()
        await engine.stop()
        if (serverLog !== undefined && resultPath !== undefined) {
          await rename(serverLog, keptServerLog(resultPath)).catch(() => undefined)
        } else if (serverLog !== undefined && signal.aborted) {
          // Interrupted before there was a result file to keep it beside: nothing to keep it for.
          await rm(serverLog, {force: true})
        }
      }
    }
  } finally {
    await undoClientThreads()
  }
  return runs
}

/**
 * The error bench ends with after Ctrl-C / SIGTERM (exit 130): which files hold what was measured, and the
 * command that measures the rest of each (`capplan bench --resume FILE`: a new file with the levels it lacks).
 * `paths`: the result files this bench wrote (none when it was interrupted before a level was measured).
 */
export function interruptedError(paths: readonly string[]): CapplanError {
  if (paths.length === 0) return new CapplanError('INTERRUPTED', 'Interrupted. Nothing was measured yet.', 'Run the same capplan bench command again.')
  const resumes = paths.map((file) => quoteArgv(['capplan', 'bench', '--resume', file]))
  return new CapplanError(
    'INTERRUPTED',
    `Interrupted. Saved what was measured in ${paths.join(', ')}.`,
    `Measure the remaining levels with ${resumes.join(', then ')}${paths.length > 1 ? ' (one run per file)' : ''}.`,
  )
}

/** An interrupted run that added no level of its own (a resumed file's copied levels are not new): nothing to keep. */
function measuredNothing(outcome: BenchRunOutcome, resumedFrom: BenchRunContextValues['resumedFrom']): boolean {
  return outcome.result.status === 'interrupted' && outcome.result.levels.length <= (resumedFrom?.levels.length ?? 0)
}

/** The model one quantization serves: synthesized (cached), the user's GGUF, a vLLM checkpoint, or remote. */
async function prepareModel(options: BenchOptions, quant: QuantLevel, label: string, status: StatusLine): Promise<BenchModel> {
  if (options.synthesize) {
    status.update(`${label}: preparing the synthetic model...`, true)
    const synth = await ensureSyntheticModel({
      profile: options.profile,
      quant,
      onProgress: (done, total) => status.update(`${label}: writing the synthetic model ${Math.floor((100 * done) / total)}%`),
    })
    status.log(`${label}: ${synth.reused ? 'reusing' : 'wrote'} ${synth.path} (${synth.format}, ${(synth.bytes / 2 ** 20).toFixed(0)} MiB)`)
    return {format: synth.format, file: synth.path, sha256: synth.sha256, bytes: synth.bytes, synthetic: true, repo: null}
  }
  if (options.modelFile !== undefined) {
    return {format: 'gguf', file: options.modelFile, sha256: null, bytes: (await stat(options.modelFile)).size, synthetic: false, repo: null}
  }
  if (options.engineKind === 'vllm') {
    const checkpoint = vllmCheckpoint(options.profile, quant)
    return {format: checkpoint.format, file: null, sha256: null, bytes: null, synthetic: options.engineFlags.synthetic, repo: checkpoint.repo}
  }
  return {format: 'remote', file: null, sha256: null, bytes: null, synthetic: false, repo: null}
}

/** The engine for one quantization, from the run's options (engines/registry makes it). */
function makeEngine(
  options: BenchOptions,
  quant: QuantLevel,
  modelPath: string,
  threads: number | null,
  logFile: string | undefined,
  warn: (message: string) => void,
): Engine {
  const flags = options.engineFlags
  return createEngine(options.engineKind, {
    modelPath,
    profile: options.profile,
    quant,
    device: flags.device,
    threads,
    maxConcurrency: options.maxConcurrency,
    tokensPerSequence: options.tokensPerSequence,
    inputTokens: options.shape?.maxPromptTokens ?? options.inputTokens,
    outputTokens: options.shape?.maxOutputTokens ?? options.outputTokens,
    synthetic: flags.synthetic,
    ...(options.shape?.record.promptCache === 'on' ? {prefixCaching: true} : {}),
    extraArgs: options.extraArgs,
    ...(logFile === undefined ? {} : {logFile}),
    startupTimeoutMs: options.startupTimeoutMs,
    ...(options.requestTimeoutMs === undefined ? {} : {requestTimeoutMs: options.requestTimeoutMs}),
    ...(options.bindHost === undefined ? {} : {bindHost: options.bindHost}),
    api: options.api,
    ...(flags.serverBin === undefined ? {} : {serverBin: flags.serverBin}),
    ...(flags.vllmBin === undefined ? {} : {vllmBin: flags.vllmBin}),
    ...(flags.gpus === undefined ? {} : {gpus: flags.gpus}),
    ...(flags.endpoint === undefined ? {} : {endpoint: flags.endpoint}),
    ...(flags.modelId === undefined ? {} : {modelId: flags.modelId}),
    ...(flags.apiKeyEnv === undefined ? {} : {apiKeyEnv: flags.apiKeyEnv}),
    onNote: warn,
  })
}

/** How often the live progress is drawn again without news (a slow prefill streams nothing for minutes). */
const PROGRESS_TICK_MS = 1000

/** "42 s", "3 m 07 s": the elapsed time of a phase in progress lines. */
export function elapsedText(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000))
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} m ${String(seconds % 60).padStart(2, '0')} s`
}

/** The status line of a warmup or a level in progress (requests done / planned, live tok/s, elapsed). */
export function progressText(label: string, progress: Exclude<BenchProgress, {phase: 'level-done'}>, elapsedMs: number): string {
  if (progress.phase === 'warmup') {
    const failed = progress.failed > 0 ? ` (${progress.failed} failed)` : ''
    return `${label}: warmup · ${progress.done}/${progress.requests} requests${failed} · ${progress.concurrency} at once · ${elapsedText(elapsedMs)}`
  }
  const {level} = progress
  const rate = elapsedMs > 0 ? (level.outputTokens / elapsedMs) * 1000 : 0
  const of = progress.levels === null ? '' : `/${progress.levels}`
  return (
    `${label}: level ${progress.levelIndex + 1}${of} · ${loadText(level.load)} · ` +
    `${level.done}${level.total === null ? '' : `/${level.total}`} requests${level.failed > 0 ? ` (${level.failed} failed)` : ''} · ` +
    `${formatRate(rate)} output tok/s · ${elapsedText(elapsedMs)}`
  )
}

/**
 * bench's progress on the status line: each warmup / level event redraws it, and a timer redraws the last one
 * every second with its elapsed time moving on, so a phase that streams nothing for a while (a long prefill)
 * still shows it is alive. A finished level becomes a permanent line. stop() ends the timer.
 */
function progressReporter(status: StatusLine, label: string): {onProgress: (progress: BenchProgress) => void; stop: () => void} {
  let last: {progress: Exclude<BenchProgress, {phase: 'level-done'}>; at: number} | null = null
  const draw = (force: boolean) => {
    if (last === null) return
    status.update(
      progressText(
        label,
        last.progress,
        last.progress.phase === 'warmup' ? last.progress.elapsedMs + performance.now() - last.at : last.progress.level.elapsedMs + performance.now() - last.at,
      ),
      force,
    )
  }
  const timer = setInterval(() => draw(false), PROGRESS_TICK_MS)
  timer.unref()
  return {
    onProgress: (progress) => {
      if (progress.phase === 'level-done') {
        last = null
        const {summary} = progress.record
        status.log(
          `${label}: ${loadText(progress.record.load)}: ${formatRate(summary.throughput.outputTokensPerS)} output tok/s, ` +
            `${formatRate(summary.throughput.totalTokensPerS)} total tok/s, ${summary.requests.completed} ok / ${summary.requests.failed} failed`,
        )
        return
      }
      // A new phase is drawn at once; updates within one are throttled by the status line.
      const fresh =
        last === null ||
        last.progress.phase !== progress.phase ||
        (progress.phase === 'level' && last.progress.phase === 'level' && last.progress.levelIndex !== progress.levelIndex)
      last = {progress, at: performance.now()}
      draw(fresh)
    },
    stop: () => clearInterval(timer),
  }
}

/** The server log's name beside its result file: <result>.server.log. */
function keptServerLog(resultPath: string): string {
  return path.join(path.dirname(resultPath), `${path.basename(resultPath, '.json')}.server.log`)
}

/** What a reader of the result file needs to judge the numbers. */
function runNotes(engine: EngineKind, synthetic: boolean, threads: number | null, loadBefore: number, api: EngineApi | null): string[] {
  const notes: string[] = []
  if (api !== null) notes.push(`requests sent to POST ${API_PATHS[api]} (--api ${api})`)
  if (synthetic) notes.push('synthetic weights with the real architecture: throughput is faithful, the generated text is not')
  if (threads !== null) notes.push(`llama.cpp threads: ${threads}`)
  notes.push(`1-minute load average before the run: ${loadBefore.toFixed(2)} on ${os.availableParallelism()} CPU(s)`)
  const pool = process.env.UV_THREADPOOL_SIZE
  if (engine === 'embedded' && pool !== '1') {
    notes.push(`UV_THREADPOOL_SIZE=${pool ?? 'unset (libuv default 4)'}: above 1 it cost ~15% decode speed on a 2-core machine; run through bin/run.js, which sets 1`)
  }
  return notes
}
