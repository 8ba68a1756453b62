/**
 * The measuring part of `capplan bench`: for each quantization, prepare the model (synthesize, a local GGUF,
 * a vLLM checkpoint or a remote endpoint), start the engine, run the load plan into a result file (loadgen's
 * runBench saves after every level), stop the engine and keep the server log beside the file.
 */

import {randomUUID} from 'node:crypto'
import {mkdir, rename, stat} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import type {StatusLine} from '../../cli/progress.js'
import {API_PATHS, createEngine, type EngineApi, type EngineKind} from '../../engines/registry.js'
import type {Engine} from '../../engines/types.js'
import {vllmCheckpoint} from '../../engines/vllm.js'
import {ensureSyntheticModel} from '../../gguf/synth.js'
import {checkResultsDir} from '../../lib/output-path.js'
import {type BenchProgress, type BenchRunOutcome, runBench} from '../../loadgen/run.js'
import type {ProfileStore} from '../../profiles/store.js'
import {formatRate, loadText} from '../../report/format.js'
import type {QuantLevel} from '../../profiles/schema.js'
import type {LevelRecord} from '../../results/schema.js'
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
    // Known as soon as the file exists: the server log goes beside it even when the run then throws.
    let resultPath: string | undefined
    try {
      await engine.start()
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
          onProgress: (progress) => showProgress(status, label, progress),
          serverLogKeptAs: keptServerLog,
          onResultFile: (file) => {
            resultPath = file
          },
          ...(context.resumedFrom === undefined ? {} : {resumedFrom: context.resumedFrom}),
        },
      )
      runs.push(outcome)
      status.log(`${label}: result file ${path.relative(process.cwd(), outcome.path) || outcome.path} (${outcome.result.status})`)
    } finally {
      await engine.stop()
      if (serverLog !== undefined && resultPath !== undefined) {
        await rename(serverLog, keptServerLog(resultPath)).catch(() => undefined)
      }
    }
  }
  return runs
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
    inputTokens: options.inputTokens,
    outputTokens: options.outputTokens,
    synthetic: flags.synthetic,
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

function showProgress(status: StatusLine, label: string, progress: BenchProgress): void {
  if (progress.phase === 'warmup') {
    status.update(`${label}: warmup (${progress.requests} request(s) at concurrency ${progress.concurrency})...`, true)
  } else if (progress.phase === 'level') {
    const {level} = progress
    const rate = level.elapsedMs > 0 ? (level.outputTokens / level.elapsedMs) * 1000 : 0
    const of = progress.levels === null ? '' : `/${progress.levels}`
    status.update(
      `${label}: level ${progress.levelIndex + 1}${of} · ${loadText(level.load)} · ` +
        `${level.done}${level.total === null ? '' : `/${level.total}`} requests${level.failed > 0 ? ` (${level.failed} failed)` : ''} · ${formatRate(rate)} output tok/s`,
    )
  } else {
    const {summary} = progress.record
    status.log(
      `${label}: ${loadText(progress.record.load)}: ${formatRate(summary.throughput.outputTokensPerS)} output tok/s, ` +
        `${formatRate(summary.throughput.totalTokensPerS)} total tok/s, ${summary.requests.completed} ok / ${summary.requests.failed} failed`,
    )
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
