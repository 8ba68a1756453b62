#!/usr/bin/env node
// Issue 4 §5, second bullet: is capplan's decode speed at concurrency 1 against the REAL llama-server right?
// Two references, both on the same GGUF file and the same thread count:
//   1. llama-server's own timings for the same requests (predicted_n / predicted_ms, corrected: predicted_n
//      counts the first token, which the prompt pass produced) -> client / server, target 0.97..1.03;
//   2. llama-bench tg (-p 0 -n outputTokens) -> client / llama-bench, target >= 0.95.
// The client number is the one a result file would hold: requests go through capplan's LlamaCppEngine,
// the closed-loop level runner and summarizeLevel; per request decode tok/s = 1000 / TPOT with TPOT = (E2E - TTFT) /
// (outputTokens - 1), i.e. (n - 1) tokens over first content -> last content. llama-server's predicted_ms
// spans first token -> last token, so both sides time the same n - 1 tokens.
// The server stays up for the whole run; rounds interleave (server level, llama-bench run), alternating which
// goes first, and the reported ratios are medians of per-round ratios (perf/run.ts's method). llama-bench runs
// as many repetitions as the level has requests, so both sides of a round spend about the same time exposed to
// whatever else the machine is doing, and runs in its own session like the server (autogroup fairness). Every tok/s is 1000 / a MEDIAN of ms per token (client TPOT, server
// predicted_ms / (n - 1), llama-bench per repetition), so no side is a mean that one slow run drags down.
//
//   node dist-perf/perf/server-accuracy.js [--quant q4_0] [--rounds 3] [--requests 8] [--output-tokens 64]
//        [--input-tokens 32] [--threads N] [--flash-attn auto|on|off] [--model qwen2.5-0.5b]
//        [--server-bin PATH] [--llama-bench PATH] [--bench-repetitions N (default: --requests)] [--json]
//
// From another script (perf/run.ts):
//   const {runServerAccuracy, formatServerAccuracy} = await import('./server-accuracy.js')
//   console.log(formatServerAccuracy(await runServerAccuracy({rounds: 3})))
//
// Exit code 1 (standalone only) when a median ratio misses its target. The pure arithmetic at the top is
// unit-tested (test/unit/perf/server-accuracy.test.ts); the project's modules are loaded only by
// runServerAccuracy (dynamic imports: the arithmetic's tests do not pay node-llama-cpp's or execa's start-up).

import {mkdtempSync, rmSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import path from 'node:path'
import {parseArgs} from 'node:util'

import type {LlamaServerTimings} from '../src/engines/http/protocols.js'
import type {Engine, GenRequest} from '../src/engines/types.js'
import type {LevelRun} from '../src/loadgen/level.js'
import type {QuantLevel} from '../src/profiles/schema.js'
import type {LevelSummary, RequestRecord} from '../src/results/schema.js'
import {isMainModule} from './paths.js'

export const CLIENT_SERVER_TOLERANCE = 0.03
export const LLAMA_BENCH_TARGET = 0.95
export const QUANT_LEVEL: Record<string, QuantLevel> = {q4_0: 'int4', q8_0: 'int8', f16: 'fp16'}

export type FlashAttention = 'auto' | 'on' | 'off'

// ------------------------------------------------------------------------------------------ pure arithmetic

/** Median of finite numbers (mean of the two middle ones for an even count); null for none. */
export function median(values: readonly (number | null)[]): number | null {
  const sorted = values.filter((v): v is number => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return null
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * capplan's decode tok/s of one recorded request: the inverse of its TPOT (src/stats/slo.ts requestTpotMs:
 * (e2eMs - ttftMs) / (outputTokens - 1)), i.e. (n - 1) tokens over first content -> last content.
 * null for a failed request, one without content, or one with <= 1 token.
 */
export function clientDecodeTokensPerSecond(record: RequestRecord): number | null {
  if (record.error !== null || record.ttftMs === null || record.e2eMs === null || record.outputTokens <= 1) return null
  const spanMs = record.e2eMs - record.ttftMs
  return spanMs > 0 ? ((record.outputTokens - 1) * 1000) / spanMs : null
}

/**
 * llama-server's own decode tok/s of one request, corrected (src/engines/http/protocols.ts decodeTokensPerSecond):
 * predicted_n counts the first token, produced by the prompt pass, while predicted_ms runs from the first
 * token to the last, so n / t overstates by n / (n - 1); (n - 1) / t is the decode speed.
 */
export function serverDecodeTokensPerSecond(timings: LlamaServerTimings): number | null {
  if (timings.predictedTokens < 2 || timings.predictedMs <= 0) return null
  return ((timings.predictedTokens - 1) * 1000) / timings.predictedMs
}

/**
 * llama-bench's tg tok/s in the client's statistic: 1000 / median over repetitions of ms per token (samples_ts
 * holds each repetition's tok/s). Its avg_ts is a MEAN, which slow repetitions drag down where the client's
 * median TPOT ignores slow requests: on a busy machine that alone moved the ratio by tens of percent.
 * Falls back to avg_ts when llama-bench gave no samples.
 */
export function llamaBenchMedianTokensPerSecond(samplesTs: readonly number[], avgTs: number): number {
  const msPerToken = median(samplesTs.filter((ts) => ts > 0).map((ts) => 1000 / ts))
  return msPerToken === null ? avgTs : 1000 / msPerToken
}

/** llama-server's uncorrected figure (its predicted_per_second), kept to show the size of the correction. */
export function serverRawTokensPerSecond(timings: LlamaServerTimings): number | null {
  return timings.predictedMs > 0 ? (timings.predictedTokens * 1000) / timings.predictedMs : null
}

export interface RoundInput {
  records: readonly RequestRecord[]
  serverTimingsByIndex: ReadonlyMap<number, LlamaServerTimings>
  perUserTokensPerS: number | null
  llamaBenchTokensPerSecond: number | null
  llamaBenchSamples?: readonly number[]
}

export interface RoundNumbers {
  requests: number
  failed: number
  missingTimings: number
  tokenMismatches: number
  clientTokensPerSecond: number | null
  serverTokensPerSecond: number | null
  serverRawTokensPerSecond: number | null
  llamaBenchTokensPerSecond: number | null
  clientServerRatio: number | null
  pairedClientServerRatio: number | null
  clientFastestRequest: number | null
  llamaBenchFastestRun: number | null
  clientLlamaBenchRatio: number | null
  serverLlamaBenchRatio: number | null
}

/**
 * One round's numbers.
 * - records: the level's RequestRecords (the level runner's), in any order;
 * - serverTimingsByIndex: Map record.index -> llama-server timings of that same request;
 * - perUserTokensPerS: the level summary's 1000 / median TPOT (what the result file holds as per-user speed);
 * - llamaBenchTokensPerSecond: llama-bench tg avg_ts of this round.
 * client = perUserTokensPerS; server = the SAME statistic on the server's clock: 1000 / median over requests of
 * predicted_ms / (predicted_n - 1). (With an even request count a median interpolates between two requests, and
 * 1000 / median(ms) differs from median(1000 / ms), by several % when the requests vary, so both sides must use
 * one form.) paired = median over requests of client / server for the SAME request: the tightest check that
 * both time the same interval.
 */
export function roundAccuracy({records, serverTimingsByIndex, perUserTokensPerS, llamaBenchTokensPerSecond, llamaBenchSamples = []}: RoundInput): RoundNumbers {
  const clientTpots: number[] = []
  const serverTpots: number[] = []
  const serverRaw: (number | null)[] = []
  const paired: number[] = []
  let missingTimings = 0
  let tokenMismatches = 0
  for (const record of records) {
    const c = clientDecodeTokensPerSecond(record)
    if (c === null) continue
    clientTpots.push(1000 / c)
    const timings = serverTimingsByIndex.get(record.index)
    if (timings === undefined) {
      missingTimings++
      continue
    }
    if (timings.predictedTokens !== record.outputTokens) tokenMismatches++
    const s = serverDecodeTokensPerSecond(timings)
    if (s === null) continue
    serverTpots.push(1000 / s)
    serverRaw.push(serverRawTokensPerSecond(timings))
    paired.push(c / s)
  }
  const inverse = (ms: number | null) => (ms === null || ms <= 0 ? null : 1000 / ms)
  const serverTokensPerSecond = inverse(median(serverTpots))
  const clientTokensPerSecond = perUserTokensPerS ?? inverse(median(clientTpots))
  const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b)
  return {
    requests: records.length,
    failed: records.filter((r) => r.error !== null).length,
    missingTimings,
    tokenMismatches,
    clientTokensPerSecond,
    serverTokensPerSecond,
    serverRawTokensPerSecond: median(serverRaw),
    llamaBenchTokensPerSecond,
    clientServerRatio: ratio(clientTokensPerSecond, serverTokensPerSecond),
    pairedClientServerRatio: median(paired),
    // Fastest single request / llama-bench repetition: on a shared machine load only ever slows a run down.
    clientFastestRequest: inverse(clientTpots.length === 0 ? null : Math.min(...clientTpots)),
    llamaBenchFastestRun: maxOf(llamaBenchSamples) ?? llamaBenchTokensPerSecond,
    clientLlamaBenchRatio: ratio(clientTokensPerSecond, llamaBenchTokensPerSecond),
    serverLlamaBenchRatio: ratio(serverTokensPerSecond, llamaBenchTokensPerSecond),
  }
}

export interface RoundsSummary {
  clientTokensPerSecond: number | null
  serverTokensPerSecond: number | null
  serverRawTokensPerSecond: number | null
  llamaBenchTokensPerSecond: number | null
  clientServerRatio: number | null
  pairedClientServerRatio: number | null
  clientLlamaBenchRatio: number | null
  serverLlamaBenchRatio: number | null
  clientBest: number | null
  llamaBenchBest: number | null
  bestRatio: number | null
  clientServerPass: boolean
  clientLlamaBenchPass: boolean
}

/** Medians over rounds (tok/s and per-round ratios) and the verdicts against both targets. */
export function summarizeRounds(rounds: readonly Partial<RoundNumbers>[]): RoundsSummary {
  const pick = (key: keyof RoundNumbers) => median(rounds.map((r) => r[key] ?? null).filter((v) => v !== null))
  const clientServerRatio = pick('clientServerRatio')
  const clientLlamaBenchRatio = pick('clientLlamaBenchRatio')
  const clientBest = maxOf(rounds.map((r) => r.clientFastestRequest ?? r.clientTokensPerSecond))
  const llamaBenchBest = maxOf(rounds.map((r) => r.llamaBenchFastestRun ?? r.llamaBenchTokensPerSecond))
  return {
    clientTokensPerSecond: pick('clientTokensPerSecond'),
    serverTokensPerSecond: pick('serverTokensPerSecond'),
    serverRawTokensPerSecond: pick('serverRawTokensPerSecond'),
    llamaBenchTokensPerSecond: pick('llamaBenchTokensPerSecond'),
    clientServerRatio,
    pairedClientServerRatio: pick('pairedClientServerRatio'),
    clientLlamaBenchRatio,
    serverLlamaBenchRatio: pick('serverLlamaBenchRatio'),
    // Bests: background load only ever slows a run down, so best-of-N approximates the quiet machine
    // (fastest request vs fastest llama-bench repetition; round figures when those are absent).
    clientBest,
    llamaBenchBest,
    bestRatio: clientBest === null || llamaBenchBest === null ? null : clientBest / llamaBenchBest,
    clientServerPass: clientServerRatio !== null && Math.abs(clientServerRatio - 1) <= CLIENT_SERVER_TOLERANCE,
    clientLlamaBenchPass: clientLlamaBenchRatio !== null && clientLlamaBenchRatio >= LLAMA_BENCH_TARGET,
  }
}

function maxOf(values: readonly (number | null | undefined)[]): number | null {
  const finite = values.filter((v): v is number => v !== null && v !== undefined && Number.isFinite(v))
  return finite.length === 0 ? null : Math.max(...finite)
}

// ---------------------------------------------------------------------------------------------- the run

export interface ServerAccuracyOptions {
  model?: string
  quant?: string
  requests?: number
  outputTokens?: number
  inputTokens?: number
  threads?: number | undefined
  rounds?: number
  flashAttention?: string
  llamaBenchRepetitions?: number
  serverBin?: string | undefined
  llamaBench?: string | undefined
  seed?: number
  signal?: AbortSignal
  log?: (line: string) => void
}

export interface AccuracyRound extends RoundNumbers {
  round: number
  loadAverage: {before: number; after: number}
  tpotMsP50: number | null
  llamaBenchMeanTokensPerSecond: number
}

export interface ServerAccuracySummary extends RoundsSummary {
  target: {clientServer: [number, number]; clientLlamaBench: number}
  model: string
  quant: string
  modelFile: string
  threads: number
  flashAttention: FlashAttention
  requests: number
  inputTokens: number
  outputTokens: number
  llamaBenchRepetitions: number
  rounds: AccuracyRound[]
  loadAverage: {min: number; median: number | null; max: number}
  serverArgs: string[] | null
  serverPid: number | null
  serverLeftRunning: boolean | null
  llamaBenchArgs: string[]
}

const isFlashAttention = (value: string): value is FlashAttention => value === 'auto' || value === 'on' || value === 'off'

/**
 * Start the real llama-server (capplan's LlamaCppEngine, -np 1), and per round: one closed-loop level of
 * `requests` requests at concurrency 1 (1 warmup request, not recorded) and one llama-bench tg run on the
 * same file and threads. The server is stopped in every case (finally).
 */
export async function runServerAccuracy({
  model = 'qwen2.5-0.5b',
  quant = 'q4_0',
  requests = 8,
  outputTokens = 64,
  inputTokens = 32,
  threads,
  rounds = 3,
  flashAttention = 'auto',
  llamaBenchRepetitions = requests,
  serverBin,
  llamaBench,
  seed = 1,
  signal = new AbortController().signal,
  log = (line) => process.stderr.write(`${line}\n`),
}: ServerAccuracyOptions = {}): Promise<ServerAccuracySummary> {
  const level = QUANT_LEVEL[quant]
  if (level === undefined) throw new Error(`unknown quant ${quant}; use ${Object.keys(QUANT_LEVEL).join(', ')}`)
  if (!isFlashAttention(flashAttention)) throw new Error('flashAttention must be auto, on or off')
  for (const [name, value] of Object.entries({requests, outputTokens, inputTokens, rounds, llamaBenchRepetitions})) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer (got ${value})`)
  }
  if (outputTokens < 2) throw new Error('outputTokens must be >= 2 (decode speed needs two tokens)')

  const {loadProfiles} = await import('../src/profiles/load.js')
  const {ensureSyntheticModel} = await import('../src/gguf/synth.js')
  const {LlamaCppEngine} = await import('../src/engines/llamacpp/engine.js')
  const {contextSizeFor} = await import('../src/engines/embedded.js')
  const {findLlamaCppTool} = await import('../src/engines/llamacpp/build.js')
  const {llamaBenchArgs} = await import('../src/engines/llamacpp/llama-bench.js')
  const {parseLlamaBenchOutput} = await import('../src/results/import/llama-bench-format.js')
  const {execa} = await import('execa')
  const {runClosedLevel} = await import('../src/loadgen/level.js')
  const {makePromptTokens} = await import('../src/loadgen/prompts.js')
  const {summarizeLevel} = await import('../src/stats/summarize.js')
  const {groupAlive} = await import('../src/engines/spawned/process.js')

  const threadCount = threads ?? (await (await import('systeminformation')).default.cpu()).physicalCores
  const server = serverBin ?? (await findLlamaCppTool('llama-server'))
  const bench = llamaBench ?? (await findLlamaCppTool('llama-bench'))
  if (server === null || bench === null) {
    throw new Error(`${server === null ? 'llama-server' : 'llama-bench'} not found: build it with \`./bin/run.js engine build\` (offline)`)
  }

  const profile = (await loadProfiles()).get('model', model)
  const synth = await ensureSyntheticModel({profile, quant: level})
  log(`server-accuracy: ${model} ${quant} (${synth.path}${synth.reused ? ', reused' : ''}); ${threadCount} thread(s), -fa ${flashAttention}`)
  log(
    `server-accuracy: ${rounds} round(s) of ${requests} request(s) x ${inputTokens} in / ${outputTokens} out at concurrency 1, and llama-bench tg${outputTokens} x ${llamaBenchRepetitions} repetitions`,
  )

  // At concurrency 1 exactly one request is in flight, so the timings that arrive belong to `current`.
  const promptIndexOf = new WeakMap<GenRequest, number>()
  const timingsByPrompt = new Map<number, LlamaServerTimings>()
  let current: number | null = null
  const workDir = mkdtempSync(path.join(tmpdir(), 'capplan-server-accuracy-'))
  const logFile = path.join(workDir, 'llama-server.log')
  const engine = new LlamaCppEngine({
    modelPath: synth.path,
    serverBin: server,
    threads: threadCount,
    maxConcurrency: 1,
    tokensPerSequence: contextSizeFor(1, inputTokens, outputTokens).tokensPerSequence,
    flashAttention,
    logFile,
    onServerTimings: (timings) => {
      if (current !== null) timingsByPrompt.set(current, timings)
    },
    onNote: (message) => log(`server-accuracy: note: ${message}`),
  })
  // The level runner only calls stream(): this view marks which request is streaming.
  const tracked: Engine = {
    start: () => Promise.resolve(),
    info: () => engine.info(),
    stop: () => Promise.resolve(),
    stream(request, streamSignal) {
      current = promptIndexOf.get(request) ?? null
      return engine.stream(request, streamSignal)
    },
  }

  const roundResults: AccuracyRound[] = []
  const loadAverages: number[] = []
  let serverArgs: string[] | null = null
  let serverPid: number | null = null
  let serverLeftRunning: boolean | null = null
  let ok = false
  const benchArgsFor = (file: string) =>
    llamaBenchArgs({modelPath: file, threads: threadCount, nPrompt: 0, nGen: outputTokens, repetitions: llamaBenchRepetitions, extraArgs: ['-fa', flashAttention]})
  try {
    await engine.start()
    serverPid = engine.pid
    serverArgs = engine.info().args
    const pool = await engine.promptTokenPool()
    const makeRequest = (promptIndex: number): GenRequest => {
      const request: GenRequest = {promptTokens: makePromptTokens(pool, inputTokens, seed, promptIndex), promptText: null, maxTokens: outputTokens, ignoreEos: true}
      promptIndexOf.set(request, promptIndex)
      return request
    }
    let nextPrompt = 0
    const stopIfInterrupted = () => {
      if (signal.aborted) throw new Error('interrupted')
    }

    for (let round = 1; round <= rounds; round++) {
      stopIfInterrupted()
      const loadBefore = loadavg()[0]!
      const runServer = async (): Promise<{run: LevelRun; summary: LevelSummary; serverTimingsByIndex: Map<number, LlamaServerTimings>}> => {
        const firstPromptIndex = nextPrompt
        const run = await runClosedLevel(tracked, {concurrency: 1, requests, warmupRequests: 1, makeRequest, firstPromptIndex}, {t0: performance.now(), signal})
        stopIfInterrupted()
        nextPrompt += run.promptsUsed
        const summary = summarizeLevel(run.requests, run.window)
        // record.index is the slot; its prompt index is firstPromptIndex + warmup + slot.
        const serverTimingsByIndex = new Map<number, LlamaServerTimings>()
        for (const record of run.requests) {
          const timings = timingsByPrompt.get(firstPromptIndex + run.warmupRequests + record.index)
          if (timings !== undefined) serverTimingsByIndex.set(record.index, timings)
        }
        return {run, summary, serverTimingsByIndex}
      }
      const runBench = async () => {
        // In its own session, as LlamaCppEngine spawns llama-server (detached): with the kernel's autogroup
        // scheduling each session shares the CPU as one group, and llama-bench inside this script's session ran
        // ~9% slower than the same command under setsid on this busy machine (1 thread, 3 interleaved pairs).
        const args = benchArgsFor(synth.path)
        const result = await execa(bench, args, {detached: true, reject: false, cancelSignal: signal, stdin: 'ignore'})
        stopIfInterrupted()
        if (result.exitCode !== 0) {
          throw new Error(`llama-bench failed (${result.exitCode ?? result.signal}): ${[bench, ...args].join(' ')}\n${result.stderr.split('\n').slice(-10).join('\n')}`)
        }
        const rows = parseLlamaBenchOutput(result.stdout, `llama-bench output (${[bench, ...args].join(' ')})`)
        stopIfInterrupted()
        const tg = rows.find((row) => row.n_gen === outputTokens && row.n_prompt === 0)
        if (tg === undefined) throw new Error(`llama-bench returned no tg${outputTokens} row`)
        // avg_ts: the mean of the repetitions' tok/s, as the client side is a per-request figure
        return {median: llamaBenchMedianTokensPerSecond(tg.samples_ts, tg.avg_ts), average: tg.avg_ts, samples: tg.samples_ts}
      }
      // Alternate which side goes first so neither always runs right after the other's load.
      let serverSide
      let llamaBenchRun
      if (round % 2 === 1) {
        serverSide = await runServer()
        llamaBenchRun = await runBench()
      } else {
        llamaBenchRun = await runBench()
        serverSide = await runServer()
      }
      const llamaBenchTokensPerSecond = llamaBenchRun.median
      const loadAfter = loadavg()[0]!
      loadAverages.push(loadBefore, loadAfter)
      const numbers = roundAccuracy({
        records: serverSide.run.requests,
        serverTimingsByIndex: serverSide.serverTimingsByIndex,
        perUserTokensPerS: serverSide.summary.perUserTokensPerS,
        llamaBenchTokensPerSecond,
        llamaBenchSamples: llamaBenchRun.samples,
      })
      const result: AccuracyRound = {
        round,
        loadAverage: {before: loadBefore, after: loadAfter},
        tpotMsP50: serverSide.summary.tpotMs?.p50 ?? null,
        llamaBenchMeanTokensPerSecond: llamaBenchRun.average,
        ...numbers,
      }
      roundResults.push(result)
      const f = (v: number | null, d = 1) => (v === null ? 'n/a' : v.toFixed(d))
      log(
        `  round ${round}: client ${f(result.clientTokensPerSecond)}, server ${f(result.serverTokensPerSecond)} (raw ${f(result.serverRawTokensPerSecond)}), llama-bench ${f(llamaBenchTokensPerSecond)} tok/s; ` +
          `client/server ${f(result.clientServerRatio, 3)}, client/llama-bench ${f(result.clientLlamaBenchRatio, 3)}; load ${loadBefore.toFixed(2)} -> ${loadAfter.toFixed(2)}` +
          (result.failed > 0 ? `; ${result.failed} failed` : ''),
      )
    }
    ok = true
  } finally {
    await engine.stop()
    // Checked, not assumed: no process of the server's group may outlive the run.
    if (serverPid !== null) serverLeftRunning = groupAlive(serverPid)
    if (serverLeftRunning === true) log(`server-accuracy: llama-server process group ${serverPid} still alive after stop()`)
    // Keep the server log when something went wrong; it is the evidence.
    if (ok) rmSync(workDir, {recursive: true, force: true})
    else log(`server-accuracy: llama-server log kept at ${logFile}`)
  }

  return {
    target: {clientServer: [1 - CLIENT_SERVER_TOLERANCE, 1 + CLIENT_SERVER_TOLERANCE], clientLlamaBench: LLAMA_BENCH_TARGET},
    model,
    quant,
    modelFile: synth.path,
    threads: threadCount,
    flashAttention,
    requests,
    inputTokens,
    outputTokens,
    llamaBenchRepetitions,
    rounds: roundResults,
    loadAverage: {min: Math.min(...loadAverages), median: median(loadAverages), max: Math.max(...loadAverages)},
    serverArgs,
    serverPid,
    serverLeftRunning,
    llamaBenchArgs: [bench, ...benchArgsFor(synth.path)],
    ...summarizeRounds(roundResults),
  }
}

/** Human-readable table of a runServerAccuracy summary. */
export function formatServerAccuracy(summary: ServerAccuracySummary): string {
  const f = (v: number | null | undefined, d = 1) => (v === null || v === undefined ? 'n/a' : v.toFixed(d))
  const pad = (text: string, width: number) => text.padStart(width)
  const lines = [
    `llama-server accuracy at concurrency 1: ${summary.model} ${summary.quant}, ${summary.threads} thread(s), -fa ${summary.flashAttention}, ` +
      `${summary.requests} x ${summary.inputTokens} in / ${summary.outputTokens} out per round`,
    `${'round'.padEnd(6)}${pad('client', 9)}${pad('server', 9)}${pad('srv raw', 9)}${pad('l-bench', 9)}${pad('cli/srv', 9)}${pad('paired', 8)}${pad('cli/l-b', 9)}${pad('load', 13)}`,
  ]
  for (const r of summary.rounds) {
    lines.push(
      `${String(r.round).padEnd(6)}${pad(f(r.clientTokensPerSecond), 9)}${pad(f(r.serverTokensPerSecond), 9)}${pad(f(r.serverRawTokensPerSecond), 9)}` +
        `${pad(f(r.llamaBenchTokensPerSecond), 9)}${pad(f(r.clientServerRatio, 3), 9)}${pad(f(r.pairedClientServerRatio, 3), 8)}${pad(f(r.clientLlamaBenchRatio, 3), 9)}` +
        `${pad(`${f(r.loadAverage.before, 2)}-${f(r.loadAverage.after, 2)}`, 13)}${r.failed > 0 ? `  ${r.failed} failed` : ''}`,
    )
  }
  lines.push(
    `${'median'.padEnd(6)}${pad(f(summary.clientTokensPerSecond), 9)}${pad(f(summary.serverTokensPerSecond), 9)}${pad(f(summary.serverRawTokensPerSecond), 9)}` +
      `${pad(f(summary.llamaBenchTokensPerSecond), 9)}${pad(f(summary.clientServerRatio, 3), 9)}${pad(f(summary.pairedClientServerRatio, 3), 8)}${pad(f(summary.clientLlamaBenchRatio, 3), 9)}`,
    `client/server ${f(summary.clientServerRatio, 3)} (target ${summary.target.clientServer.map((v) => v.toFixed(2)).join('..')}): ${summary.clientServerPass ? 'ok' : 'MISSED'}; ` +
      `client/llama-bench ${f(summary.clientLlamaBenchRatio, 3)} (target >= ${summary.target.clientLlamaBench}): ${summary.clientLlamaBenchPass ? 'ok' : 'MISSED'}`,
    `(tok/s: client = 1000 / median TPOT, server = 1000 / median of llama-server's predicted_ms / (n - 1), raw = median of its uncorrected n / predicted_ms, ` +
      `l-bench = llama-bench tg${summary.outputTokens}, 1000 / median ms per token over ${summary.llamaBenchRepetitions} repetitions; ratios: medians of per-round ratios, "paired" = same-request client/server; ` +
      `fastest request ${f(summary.clientBest)} / fastest llama-bench repetition ${f(summary.llamaBenchBest)} = ${f(summary.bestRatio, 3)}; 1-min load average ${f(summary.loadAverage.min, 2)}..${f(summary.loadAverage.max, 2)})`,
  )
  return lines.join('\n')
}

// ------------------------------------------------------------------------------------------- standalone

if (isMainModule(import.meta.url)) {
  const {values: flags} = parseArgs({
    options: {
      model: {type: 'string', default: 'qwen2.5-0.5b'},
      quant: {type: 'string', default: 'q4_0'},
      rounds: {type: 'string', default: '3'},
      requests: {type: 'string', default: '8'},
      'output-tokens': {type: 'string', default: '64'},
      'input-tokens': {type: 'string', default: '32'},
      threads: {type: 'string'},
      'flash-attn': {type: 'string', default: 'auto'},
      'server-bin': {type: 'string'},
      'llama-bench': {type: 'string'},
      'bench-repetitions': {type: 'string'},
      json: {type: 'boolean', default: false},
    },
  })
  const positive = (name: 'rounds' | 'requests' | 'output-tokens' | 'input-tokens' | 'threads' | 'bench-repetitions') => {
    const value = Number(flags[name])
    if (!Number.isInteger(value) || value < 1) {
      process.stderr.write(`server-accuracy: --${name} must be a positive integer (got ${flags[name]})\n`)
      process.exit(1)
    }
    return value
  }
  // Our own handlers: process.ts then only SIGTERMs the server group and leaves the exit to us (the
  // finally in runServerAccuracy stops the engine); without them a signal could leave this process running.
  const controller = new AbortController()
  let interruptedBy: NodeJS.Signals | null = null
  for (const name of ['SIGINT', 'SIGTERM'] as const) {
    process.once(name, () => {
      interruptedBy = name
      controller.abort()
    })
  }
  try {
    const summary = await runServerAccuracy({
      signal: controller.signal,
      model: flags.model,
      quant: flags.quant.toLowerCase(),
      rounds: positive('rounds'),
      requests: positive('requests'),
      outputTokens: positive('output-tokens'),
      inputTokens: positive('input-tokens'),
      threads: flags.threads === undefined ? undefined : positive('threads'),
      flashAttention: flags['flash-attn'],
      serverBin: flags['server-bin'],
      llamaBench: flags['llama-bench'],
      ...(flags['bench-repetitions'] === undefined ? {} : {llamaBenchRepetitions: positive('bench-repetitions')}),
    })
    if (flags.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`)
    else console.log(formatServerAccuracy(summary))
    if (!summary.clientServerPass || !summary.clientLlamaBenchPass) process.exitCode = 1
  } catch (error) {
    const by = interruptedBy as NodeJS.Signals | null
    process.stderr.write(`server-accuracy: ${by === null ? (error instanceof Error ? error.message : String(error)) : `stopped by ${by}`}\n`)
    process.exitCode = by === 'SIGINT' ? 130 : by === 'SIGTERM' ? 143 : 1
  }
}
