#!/usr/bin/env node
// The load generator's own limits (issue 4 §5, first bullet), measured against perf/sse-source running as a
// CHILD PROCESS (its own event loop and, the OS willing, its own core):
//
// 1. Ceiling: `streams` concurrent streams (default 256) of `tokensPerStream` tokens from a source that sends
//    as fast as the socket drains. Reported: tokens the client counted / wall time of the level, against the
//    target 100,000 tok/s, and the client's CPU (process.cpuUsage) to show it ran on about one core.
// 2. ITL timing error: `itlStreams` streams (default 64) from a source that sends a chunk every
//    `itlIntervalMs` (10) and stamps each chunk's text with its send time ("t=<ms>"). For every consecutive
//    pair of content events: error = (client gap) - (source send gap). Reported: p50/p99/max of |error|
//    against the target p99 <= 1 ms, and |client gap - interval| for context.
//
// The client is capplan's real load-generator path (src/): the closed-loop level runner (src/loadgen/level.ts,
// the loop `capplan bench` runs, with its per-event bookkeeping) over an Engine whose stream() is the
// llamacpp engine's request path (streamRequest to POST /completion, token-id prompts, connection: close,
// toEngineEvent in one loop, as SpawnedServer.serverStream) or the real OpenAiEngine (--engine openai: POST /v1/completions).
// --transport picks streamRequest's HTTP transport on the llamacpp path: node-http (what capplan's llamacpp
// and vllm engines use: node:http, each read stamped in the socket's 'data' callback; the default) or fetch
// (undici; what the openai engine uses for endpoints that may be https or remote).
//
// What limits the ITL error, reported next to it: the client's event-loop delay (how late a 1 ms timer
// ran: the process not getting a core, or busy) and its GC pauses during the level (every event arriving
// during a pause is stamped late by up to the pause).
//
//   node dist-perf/perf/loadgen-bench.js [--json] [--streams 256] [--tokens 2000] [--itl-streams 64]
//                               [--itl-interval-ms 10] [--itl-tokens 100] [--engine llamacpp|openai]
//                               [--transport fetch|node-http] [--skip-ceiling] [--skip-itl] [--source-cpu N]
//                               [--compare [--compare-rounds 3] [--compare-streams 64,256] [--compare-clients CLI,fetch]]
//                               [--ceiling-threads 1,2 [--ceiling-rounds 3]]
//   (after `npm run build:perf`; from source: node --import tsx perf/loadgen-bench.ts ...)
//
// On a quiet multi-core machine, one core each: `taskset -c 0 node dist-perf/perf/loadgen-bench.js --source-cpu 1`
// (--source-cpu starts the source under `taskset -c N`; Linux only).

import {type ChildProcess, spawn} from 'node:child_process'
import {setMaxListeners} from 'node:events'
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {monitorEventLoopDelay, PerformanceObserver} from 'node:perf_hooks'
import {parseArgs} from 'node:util'

import {median} from 'simple-statistics'

import {useClientThreads} from '../src/engines/http/client-threads.js'
import {protocolPaths, requestBody} from '../src/engines/http/protocols.js'
import {streamRequest, toEngineEvent} from '../src/engines/http/stream.js'
import type {HttpTransport} from '../src/engines/http/transport.js'
import {OpenAiEngine} from '../src/engines/openai.js'
import type {Engine, GenRequest, StreamEvent} from '../src/engines/types.js'
import {runClosedLevel} from '../src/loadgen/level.js'
import {makePromptTokens, tokenIdRange} from '../src/loadgen/prompts.js'
import {percentileSorted} from '../src/stats/distribution.js'
import {summarizeLevel} from '../src/stats/summarize.js'
import type {RequestRecord} from '../src/results/schema.js'
import {CAPPLAN_BIN, isMainModule, perfScript, REPO_ROOT, repoPath} from './paths.js'
import type {SourceStats, StampedStream} from './sse-source.js'

export const TARGET_TOKENS_PER_SECOND = 100_000
export const TARGET_ITL_P99_MS = 1

const PROMPT_TOKENS = 16

export type LoadgenEngineKind = 'llamacpp' | 'openai'

// ------------------------------------------------------------------------------------------ pure parts

/**
 * Timing error of each consecutive pair of content events of one stream: (client gap) - (source send gap),
 * in ms. `clientMs` and `sourceMs` are the arrival and send times of the same events, in order (each in its
 * own clock: only differences are compared). n events -> n - 1 errors.
 */
export function gapErrors(clientMs: readonly number[], sourceMs: readonly number[]): number[] {
  if (clientMs.length !== sourceMs.length) {
    throw new RangeError(`gapErrors: ${clientMs.length} client times but ${sourceMs.length} source times`)
  }
  const errors: number[] = []
  for (let i = 1; i < clientMs.length; i++) errors.push(clientMs[i]! - clientMs[i - 1]! - (sourceMs[i]! - sourceMs[i - 1]!))
  return errors
}

/** Gaps between consecutive times, in ms. */
export function gaps(times: readonly number[]): number[] {
  const out: number[] = []
  for (let i = 1; i < times.length; i++) out.push(times[i]! - times[i - 1]!)
  return out
}

export interface Spread {
  count: number
  p50: number
  p99: number
  max: number
}

/**
 * count, p50, p99 and max of |value| (percentiles: linear interpolation, numpy's default, the rule capplan's
 * summaries use); null for no values.
 */
export function absoluteSpread(values: readonly number[]): Spread | null {
  if (values.length === 0) return null
  const sorted = values.map((v) => Math.abs(v)).sort((a, b) => a - b)
  return {
    count: sorted.length,
    p50: percentileSorted(sorted, 0.5),
    p99: percentileSorted(sorted, 0.99),
    max: sorted.at(-1)!,
  }
}

/** The source's send time stamped into a content text ("t=1795327509123.456"); null when absent. */
export function parseStamp(text: string | undefined): number | null {
  const match = /^t=(\d+(?:\.\d+)?)$/.exec(text ?? '')
  return match === null ? null : Number(match[1])
}

export interface ItlSummary {
  pairs: number
  skippedStreams: number
  absErrorMs: Spread | null
  absGapMinusIntervalMs: Spread | null
}

/**
 * The ITL error over many streams. Each stream: the client's arrival times of its content events and their
 * texts; a stream whose texts do not all carry a stamp is left out (counted) rather than mis-paired.
 */
export function itlErrorSummary(streams: readonly {clientMs: readonly number[]; texts: readonly string[]}[], intervalMs: number): ItlSummary {
  const errors: number[] = []
  const intervalDeviation: number[] = []
  let skippedStreams = 0
  for (const {clientMs, texts} of streams) {
    const stamps = texts.map(parseStamp)
    if (stamps.some((s) => s === null) || stamps.length !== clientMs.length) {
      skippedStreams++
      continue
    }
    errors.push(...gapErrors(clientMs, stamps as number[]))
    for (const gap of gaps(clientMs)) intervalDeviation.push(gap - intervalMs)
  }
  return {
    pairs: errors.length,
    skippedStreams,
    absErrorMs: absoluteSpread(errors),
    absGapMinusIntervalMs: absoluteSpread(intervalDeviation),
  }
}

interface CpuShare {
  userMs: number
  systemMs: number
  cores: number
}

export interface CeilingResult {
  engine: LoadgenEngineKind
  /** Absent in summaries from before --transport (the formatter then names none). */
  transport?: HttpTransport
  /** Client threads reading the streams (1 = the main thread; absent before issue 17's threads). */
  clientThreads?: number
  streams: number
  tokensPerStream: number
  requests: number
  failed: number
  clientTokens: number
  usageTokens: number
  sourceTokensSent: number | null
  wallMs: number
  tokensPerSecond: number
  targetTokensPerSecond: number
  ratio: number
  clientCpu: CpuShare
  tokensPerClientCpuSecond: number
  sourceCpu: {ms: number; cores: number} | null
  summarizeMs: number
  summaryOutputTokensPerSecond: number
}

export interface GcPauses {
  count: number
  totalMs: number
  maxMs: number
  shareOfWall: number
}

export interface ItlResult extends ItlSummary {
  engine: LoadgenEngineKind
  transport?: HttpTransport
  streams: number
  intervalMs: number
  tokensPerStream: number
  failed: number
  targetP99Ms: number
  ratio: number | null
  clientCpu: CpuShare
  eventLoopDelayMs: {p50: number; p99: number; max: number}
  gcPauses?: GcPauses | null
}

export interface LoadgenSummary {
  machine: {cpuModel: string; cpus: number; node: string; loadavgBefore: number[]; loadavgAfter: number[]; sourceCpu?: number | null}
  ceiling: CeilingResult | null
  itl: ItlResult | null
}

const fmt = (value: number | null | undefined, digits = 3) => (value === null || value === undefined ? 'n/a' : Number(value).toFixed(digits))
const thousands = (value: number | null) => Math.round(Number(value)).toLocaleString('en-US')

/** Text lines of a summary from runLoadgenBench. */
export function formatLoadgenBench(summary: LoadgenSummary): string[] {
  const lines: string[] = []
  const m = summary.machine
  lines.push(
    `load generator bench (${m.cpuModel}, ${m.cpus} CPUs, node ${m.node}); loadavg before ${m.loadavgBefore.map((l) => l.toFixed(2)).join(' ')}, after ${m.loadavgAfter.map((l) => l.toFixed(2)).join(' ')}`,
  )
  const c = summary.ceiling
  if (c !== null) {
    lines.push(
      `ceiling (${c.engine} path${c.transport === undefined ? '' : ` over ${c.transport}`}, ${c.streams} streams x ${c.tokensPerStream} tokens, source interval 0 ms):`,
      `  client ingested ${thousands(c.clientTokens)} tokens in ${fmt(c.wallMs / 1000, 2)} s = ${thousands(c.tokensPerSecond)} tok/s; target ${thousands(c.targetTokensPerSecond)} -> ratio ${fmt(c.ratio)} (${c.ratio >= 1 ? 'meets' : 'below'} target)`,
      `  client CPU ${fmt(c.clientCpu.userMs / 1000, 2)} s user + ${fmt(c.clientCpu.systemMs / 1000, 2)} s system = ${fmt(c.clientCpu.cores, 2)} cores (${thousands(c.tokensPerClientCpuSecond)} tokens per client CPU-second); source CPU ${c.sourceCpu === null ? 'n/a' : `${fmt(c.sourceCpu.cores, 2)} cores`}`,
      `  failed requests ${c.failed}; usage tokens ${thousands(c.usageTokens)}; source sent ${thousands(c.sourceTokensSent)}; summarizeLevel ${fmt(c.summarizeMs, 1)} ms; level throughput per capplan's summary ${thousands(c.summaryOutputTokensPerSecond)} tok/s`,
    )
  }
  const i = summary.itl
  if (i !== null) {
    lines.push(
      `ITL timing error (${i.engine} path${i.transport === undefined ? '' : ` over ${i.transport}`}, ${i.streams} streams x ${i.tokensPerStream} tokens, source every ${i.intervalMs} ms):`,
      `  |client gap - source gap| over ${i.pairs} pairs: p50 ${fmt(i.absErrorMs?.p50)} ms, p99 ${fmt(i.absErrorMs?.p99)} ms, max ${fmt(i.absErrorMs?.max)} ms; target p99 <= ${i.targetP99Ms} ms -> ratio ${fmt(i.ratio)} (${i.ratio !== null && i.ratio <= 1 ? 'meets' : 'misses'} target)`,
      `  for context |client gap - ${i.intervalMs} ms|: p50 ${fmt(i.absGapMinusIntervalMs?.p50)} ms, p99 ${fmt(i.absGapMinusIntervalMs?.p99)} ms, max ${fmt(i.absGapMinusIntervalMs?.max)} ms`,
      `  client CPU ${fmt(i.clientCpu.cores, 2)} cores; client event-loop delay (1 ms timer) p50 ${fmt(i.eventLoopDelayMs?.p50)} ms, p99 ${fmt(i.eventLoopDelayMs?.p99)} ms, max ${fmt(i.eventLoopDelayMs?.max)} ms; failed requests ${i.failed}; streams without stamps ${i.skippedStreams}`,
    )
    if (i.gcPauses !== undefined && i.gcPauses !== null) {
      const g = i.gcPauses
      lines.push(
        `  client GC pauses during the level: ${g.count} (${fmt(g.totalMs, 1)} ms in all = ${fmt(g.shareOfWall * 100, 2)}% of the wall time), longest ${fmt(g.maxMs)} ms`,
      )
    }
  }
  return lines
}

// -------------------------------------------------------------------------------------------- process

interface SourceProcess {
  child: ChildProcess
  url: string
  /** SIGTERM; resolves with the stats JSON the source prints on its way out (null if none). */
  stop(): Promise<SourceStats | null>
}

/** Start perf/sse-source as a child; resolves once it printed its URL. */
async function startSourceProcess(args: string[], sourceCpu: number | null = null): Promise<SourceProcess> {
  const script = perfScript('sse-source')
  const nodeArgs = [...script.execArgv, script.file, ...args]
  // Pinned (Linux taskset) when asked: the source on its own core, away from a client pinned elsewhere.
  const [command, commandArgs] = sourceCpu === null ? [process.execPath, nodeArgs] : ['taskset', ['-c', String(sourceCpu), process.execPath, ...nodeArgs]]
  const child = spawn(command, commandArgs, {stdio: ['ignore', 'pipe', 'inherit']})
  const stdoutStream = child.stdout
  let stdout = ''
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (data: Buffer) => {
      stdout += data.toString()
      const newline = stdout.indexOf('\n')
      if (newline < 0) return
      stdoutStream.off('data', onData)
      try {
        resolve((JSON.parse(stdout.slice(0, newline)) as {url: string}).url)
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)))
      }
      stdout = stdout.slice(newline + 1)
    }
    stdoutStream.on('data', onData)
    child.once('exit', (code) => reject(new Error(`perf/sse-source exited (${code}) before listening`)))
    child.once('error', reject)
  })
  return {
    child,
    url,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return null
      let rest = ''
      stdoutStream.on('data', (data: Buffer) => (rest += data.toString()))
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
      try {
        return JSON.parse(rest.trim().split('\n').at(-1)!) as SourceStats
      } catch {
        return null
      }
    },
  }
}

let clockTicks: number | null = null
/** CPU ms a child process used so far, from /proc (Linux); null elsewhere. */
function processCpuMs(pid: number | undefined): number | null {
  try {
    clockTicks ??= 100 // USER_HZ: 100 on every Linux ABI Node runs on
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // After "pid (comm) ", field 3 (state) is index 0: utime = field 14 -> index 11, stime = 15 -> index 12.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks
  } catch {
    return null
  }
}

/**
 * An Engine over an already-running llama-server-compatible endpoint, streaming exactly as the llamacpp
 * engine does (src/engines/llamacpp/engine.ts stream(): POST /completion, requestBody, keepAlive false,
 * toEngineEvent in one loop) minus the server-death check, which has no server here.
 */
function endpointEngine(url: string, transport: HttpTransport = 'fetch'): Engine {
  return {
    start: async () => {},
    info: () => ({kind: 'llamacpp', version: null, build: null, backend: 'cpu', threads: null, gpuCount: 0, args: [], endpoint: url}),
    stop: async () => {},
    // The llamacpp engine's loop (SpawnedServer.serverStream) without the server-death check (no server here).
    stream: async function* (request, signal) {
      const events = streamRequest({
        url: `${url}${protocolPaths['llamacpp-completion']}`,
        protocol: 'llamacpp-completion',
        body: requestBody('llamacpp-completion', request, {model: 'capplan'}),
        keepAlive: false,
        signal,
        timeoutMs: 600_000,
        transport,
      })
      for await (const event of events) {
        const engineEvent = toEngineEvent(event)
        if (engineEvent !== null) yield engineEvent
      }
    },
  }
}

async function makeEngine(kind: LoadgenEngineKind, url: string, transport: HttpTransport = 'fetch'): Promise<Engine> {
  if (kind === 'openai') {
    const engine = new OpenAiEngine({endpoint: url, requestTimeoutMs: 600_000, transport})
    await engine.start()
    return engine
  }
  return endpointEngine(url, transport)
}

/** Requests for a level: unique token-id prompts, fixed output length; kept so events can be matched back. */
function requestMaker(maxTokens: number) {
  const pool = tokenIdRange(1000, 3000)
  const made = new Map<number, GenRequest>()
  return {
    made,
    makeRequest: (promptIndex: number): GenRequest => {
      const request: GenRequest = {promptTokens: makePromptTokens(pool, PROMPT_TOKENS, 1, promptIndex), promptText: null, maxTokens, ignoreEos: true}
      made.set(promptIndex, request)
      return request
    },
  }
}

async function level(engine: Engine, concurrency: number, requests: number, maxTokens: number) {
  const maker = requestMaker(maxTokens)
  const t0 = performance.now()
  // Every in-flight request listens on the level's one signal: more than 10 is expected, not a leak.
  const {signal} = new AbortController()
  setMaxListeners(0, signal)
  const run = await runClosedLevel(engine, {concurrency, requests, warmupRequests: 0, makeRequest: maker.makeRequest, firstPromptIndex: 0}, {t0, signal})
  return {run, made: maker.made}
}

const sumOf = (values: readonly number[]) => values.reduce((total, value) => total + value, 0)

interface MeasureOptions {
  streams: number
  tokensPerStream: number
  engineKind: LoadgenEngineKind
  sourceCpu: number | null
  transport: HttpTransport
  /** Client threads (useClientThreads); 1 = streams read in the main thread; 0 = in ONE worker thread. */
  clientThreads?: number
}

/** useClientThreads for a MeasureOptions count: 0 = one worker thread (the A/B's "main thread only keeps the books"). */
const clientThreadsFor = (count: number) => (count === 0 ? useClientThreads(1, {workersEvenForOne: true}) : useClientThreads(count))

async function measureCeiling({
  streams,
  tokensPerStream,
  engineKind,
  warmupTokens,
  sourceCpu,
  transport,
  clientThreads = 1,
}: MeasureOptions & {warmupTokens: number}): Promise<CeilingResult> {
  const source = await startSourceProcess(['--port', '0', '--interval-ms', '0'], sourceCpu)
  const undoThreads = clientThreadsFor(clientThreads)
  try {
    const engine = await makeEngine(engineKind, source.url, transport)
    // Warm the JIT and the connection machinery on a short level first; not measured.
    await level(engine, Math.min(streams, 32), Math.min(streams, 32), warmupTokens)
    const sourceCpuBefore = processCpuMs(source.child.pid)
    const cpuBefore = process.cpuUsage()
    const started = performance.now()
    const {run} = await level(engine, streams, streams, tokensPerStream)
    const wallMs = performance.now() - started
    const cpu = process.cpuUsage(cpuBefore)
    const sourceCpuAfter = processCpuMs(source.child.pid)
    const summarizeStarted = performance.now()
    const summary = summarizeLevel(run.requests, run.window)
    const summarizeMs = performance.now() - summarizeStarted
    const succeeded = run.requests.filter((r) => r.error === null)
    const clientTokens = sumOf(run.requests.map((r) => r.countedTokens))
    const stats = await source.stop()
    const tokensPerSecond = (clientTokens * 1000) / wallMs
    return {
      engine: engineKind,
      transport,
      clientThreads,
      streams,
      tokensPerStream,
      requests: run.requests.length,
      failed: run.requests.length - succeeded.length,
      clientTokens,
      usageTokens: sumOf(succeeded.map((r) => r.outputTokens)),
      // Warmup tokens included: the source counts everything it sent.
      sourceTokensSent: stats === null ? null : stats.tokensSent - Math.min(streams, 32) * warmupTokens,
      wallMs,
      tokensPerSecond,
      targetTokensPerSecond: TARGET_TOKENS_PER_SECOND,
      ratio: tokensPerSecond / TARGET_TOKENS_PER_SECOND,
      clientCpu: {userMs: cpu.user / 1000, systemMs: cpu.system / 1000, cores: (cpu.user + cpu.system) / 1000 / wallMs},
      // On a busy machine the client gets less than a core: tokens per CPU-second of the client is what one
      // dedicated core would ingest (an upper estimate: a source sharing that core would take its cut).
      tokensPerClientCpuSecond: (clientTokens * 1e6) / Math.max(1, cpu.user + cpu.system),
      sourceCpu: sourceCpuBefore === null || sourceCpuAfter === null ? null : {ms: sourceCpuAfter - sourceCpuBefore, cores: (sourceCpuAfter - sourceCpuBefore) / wallMs},
      summarizeMs,
      summaryOutputTokensPerSecond: summary.throughput.outputTokensPerS,
    }
  } finally {
    await undoThreads()
    await source.stop()
  }
}

export interface CeilingThreadsComparison {
  rounds: number
  threads: number[]
  /** os.cpus().length of the machine (absent in summaries from before: then no verdict is printed). */
  machineCores?: number
  /** Per round, per thread count: the ceiling, with the load average before it. */
  results: {
    threads: number
    loadavg1: number
    tokensPerSecond: number
    tokensPerClientCpuSecond: number
    clientCores: number
    sourceCores: number | null
    failed: number
    countedEqualsUsage: boolean
  }[][]
}

/** The ceiling with each client-thread count in turn, `rounds` times (interleaved: same background load). */
export async function compareCeilingThreads({
  rounds = 3,
  threads = [1, 2],
  streams = 256,
  tokensPerStream = 2000,
  warmupTokens = 200,
} = {}): Promise<CeilingThreadsComparison> {
  const results: CeilingThreadsComparison['results'] = []
  for (let round = 0; round < rounds; round++) {
    const row: CeilingThreadsComparison['results'][number] = []
    for (const count of threads) {
      const loadavg1 = os.loadavg()[0]!
      const c = await measureCeiling({
        streams,
        tokensPerStream,
        engineKind: 'llamacpp',
        warmupTokens,
        sourceCpu: null,
        transport: 'node-http',
        clientThreads: count,
      })
      row.push({
        threads: count,
        loadavg1,
        tokensPerSecond: c.tokensPerSecond,
        tokensPerClientCpuSecond: c.tokensPerClientCpuSecond,
        clientCores: c.clientCpu.cores,
        sourceCores: c.sourceCpu?.cores ?? null,
        failed: c.failed,
        countedEqualsUsage: c.clientTokens === c.usageTokens,
      })
    }
    results.push(row)
  }
  return {rounds, threads, machineCores: os.cpus().length, results}
}

const ceilingVariant = (r: {threads: number}) => `${r.threads} thread(s)`

/** Text lines of compareCeilingThreads: every round, then each variant's range and its ratio to the first variant. */
export function formatCeilingThreads(c: CeilingThreadsComparison): string[] {
  const lines = [`ceiling by client threads (llamacpp path over node-http, ${c.rounds} interleaved rounds):`]
  for (const [round, row] of c.results.entries()) {
    lines.push(
      `  round ${round + 1}: ${row
        .map(
          (r) =>
            `${ceilingVariant(r)} ${thousands(r.tokensPerSecond)} tok/s, ${thousands(r.tokensPerClientCpuSecond)} per client CPU-s, client ${fmt(r.clientCores, 2)} + source ${fmt(r.sourceCores, 2)} cores, load ${fmt(r.loadavg1, 2)}, failed ${r.failed}${r.countedEqualsUsage ? '' : ' COUNTED != USAGE'}`,
        )
        .join('; ')}`,
    )
  }
  const first = c.results[0] ?? []
  for (const [index, variant] of first.entries()) {
    const ratios = c.results.map((row) => row[index]!.tokensPerSecond / row[0]!.tokensPerSecond)
    const perCpu = c.results.map((row) => row[index]!.tokensPerClientCpuSecond)
    const perCpuRatios = c.results.map((row) => row[index]!.tokensPerClientCpuSecond / row[0]!.tokensPerClientCpuSecond)
    lines.push(
      `  ${ceilingVariant(variant)}: tok/s ratio to ${ceilingVariant(first[0]!)} per round ${ratios.map((r) => fmt(r, 2)).join(', ')}; tokens per client CPU-s ${thousands(Math.min(...perCpu))}-${thousands(Math.max(...perCpu))} (ratio per round ${perCpuRatios.map((r) => fmt(r, 2)).join(', ')})`,
    )
  }
  if (c.machineCores !== undefined) lines.push(...ceilingVerdict(c, c.machineCores))
  return lines
}

/** Issue 17: with worker threads the client uses every core: >= 1.8x the one-thread ceiling on 2 cores. */
export const TARGET_THREADS_SPEEDUP = 1.8
/**
 * Issue 17's "at least today's tokens per client CPU-second": the one-thread ceiling measured on 2026-12-02
 * after the check-phase wake (perf/README.md), 112-121k. From another run, so only a rough bar.
 */
export const PREVIOUS_TOKENS_PER_CLIENT_CPU_SECOND = 112_000

/**
 * The issue-17 verdict of compareCeilingThreads: the most threads' median tok/s ratio to one thread against
 * 1.8x, and when it misses, why (the machine's cores full with client + source, or the cores were not full:
 * the main thread, which still handles every event, is the limit); the one-thread tokens per client CPU-second
 * against the previous figure.
 */
export function ceilingVerdict(c: CeilingThreadsComparison, machineCores: number): string[] {
  const lines: string[] = []
  const firstRow = c.results[0] ?? []
  const one = firstRow.findIndex((r) => r.threads === 1)
  const most = firstRow.reduce((best, r, index) => (r.threads > (firstRow[best]?.threads ?? 0) ? index : best), 0)
  if (one >= 0 && most !== one) {
    const ratio = median(c.results.map((row) => row[most]!.tokensPerSecond / row[one]!.tokensPerSecond))
    const used = Math.max(...c.results.map((row) => row[most]!.clientCores + (row[most]!.sourceCores ?? 0)))
    const threads = firstRow[most]!.threads
    const met = ratio >= TARGET_THREADS_SPEEDUP
    lines.push(
      `  target: ${threads} thread(s) >= ${TARGET_THREADS_SPEEDUP}x one thread's tok/s -> ${met ? 'MET' : 'MISSED'} (median of ${c.results.length} rounds ${fmt(ratio, 2)}x)`,
    )
    if (!met) {
      lines.push(
        used >= machineCores - 0.5
          ? `    why: client + source used up to ${fmt(used, 2)} of this machine's ${machineCores} cores: no core was left for more client work (the target needs the source elsewhere or a machine with cores beyond the client's threads)`
          : `    why: client + source used at most ${fmt(used, 2)} of ${machineCores} cores: the cores were not full, so the client's own serial part (the main thread handles every event) is the limit`,
      )
    }
  }
  if (one >= 0) {
    const perCpu = c.results.map((row) => row[one]!.tokensPerClientCpuSecond)
    const low = Math.min(...perCpu)
    lines.push(
      `  target: one thread >= the previous ${thousands(PREVIOUS_TOKENS_PER_CLIENT_CPU_SECOND)} tokens per client CPU-s (another run) -> ${low >= PREVIOUS_TOKENS_PER_CLIENT_CPU_SECOND ? 'MET' : 'MISSED'} (${thousands(low)}-${thousands(Math.max(...perCpu))})`,
    )
  }
  return lines
}

/** GC pauses (PerformanceObserver 'gc' entries) from start() to stop(): count, total, longest, in ms. */
function watchGcPauses() {
  const durations: number[] = []
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) durations.push(entry.duration)
  })
  observer.observe({entryTypes: ['gc']})
  return {
    stop: (wallMs: number): GcPauses => {
      // Entries are delivered asynchronously; takeRecords() collects those not delivered yet.
      for (const entry of observer.takeRecords()) durations.push(entry.duration)
      observer.disconnect()
      const totalMs = durations.reduce((sum, d) => sum + d, 0)
      return {count: durations.length, totalMs, maxMs: durations.length === 0 ? 0 : Math.max(...durations), shareOfWall: wallMs > 0 ? totalMs / wallMs : 0}
    },
  }
}

async function measureItl(options: MeasureOptions & {intervalMs: number}): Promise<ItlResult> {
  const source = await startSourceProcess(['--port', '0', '--interval-ms', String(options.intervalMs), '--stamp-times'], options.sourceCpu)
  try {
    const {perStream, ...result} = await itlLevel(source.url, options)
    void perStream // the pairs are summarized in result; the raw times are only for the comparison's pooling
    return result
  } finally {
    await source.stop()
  }
}

/** One measured ITL level of capplan's client (after a short unmeasured one) against a running stamping source. */
async function itlLevel(
  url: string,
  {streams, intervalMs, tokensPerStream, engineKind, transport, clientThreads = 1}: Omit<MeasureOptions, 'sourceCpu'> & {intervalMs: number},
): Promise<ItlResult & {perStream: {clientMs: readonly number[]; texts: readonly string[]}[]}> {
  const undoThreads = clientThreadsFor(clientThreads)
  try {
    const inner = await makeEngine(engineKind, url, transport)
    // The texts of every content event, per request object: the stamps live there, not in the RequestRecord.
    const texts = new Map<GenRequest, string[]>()
    const engine: Engine = {
      start: () => inner.start(),
      info: () => inner.info(),
      stop: () => inner.stop(),
      stream: async function* (request: GenRequest, signal: AbortSignal): AsyncGenerator<StreamEvent> {
        const seen: string[] = []
        texts.set(request, seen)
        for await (const event of inner.stream(request, signal)) {
          if (event.kind === 'content') seen.push(event.text ?? '')
          yield event
        }
      },
    }
    // Warm the JIT and the connection path on a short paced level first (not measured): without it the
    // measured level includes the first compilations of the per-event code, which the ceiling's warmup
    // does not cover when the ceiling is skipped (measured: p99 ~5.5 ms cold vs ~1-3 ms warm, same build).
    await level(inner, streams, streams, Math.min(tokensPerStream, 20))
    texts.clear()
    // How late this process's event loop ran (timer lateness, 1 ms resolution): when it is as large as the
    // ITL error, the error is the machine not giving the client a core, not the client's own work.
    const loopDelay = monitorEventLoopDelay({resolution: 1})
    loopDelay.enable()
    const gc = watchGcPauses()
    const cpuBefore = process.cpuUsage()
    const started = performance.now()
    const {run, made} = await level(engine, streams, streams, tokensPerStream)
    const wallMs = performance.now() - started
    const cpu = process.cpuUsage(cpuBefore)
    loopDelay.disable()
    const gcPauses = gc.stop(wallMs)
    const succeeded = run.requests.filter((r) => r.error === null)
    // record.index is the measured slot; with warmupRequests 0 and firstPromptIndex 0 it is the prompt index.
    const perStream = succeeded.map((record) => {
      const request = made.get(record.index)
      return {clientMs: record.chunkOffsetsMs, texts: (request === undefined ? undefined : texts.get(request)) ?? []}
    })
    const result = itlErrorSummary(perStream, intervalMs)
    return {
      engine: engineKind,
      transport,
      streams,
      intervalMs,
      tokensPerStream,
      failed: run.requests.length - succeeded.length,
      ...result,
      targetP99Ms: TARGET_ITL_P99_MS,
      ratio: result.absErrorMs === null ? null : result.absErrorMs.p99 / TARGET_ITL_P99_MS,
      clientCpu: {userMs: cpu.user / 1000, systemMs: cpu.system / 1000, cores: (cpu.user + cpu.system) / 1000 / wallMs},
      // The histogram is in ns and includes the 1 ms sampling resolution itself.
      eventLoopDelayMs: {p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6},
      gcPauses,
      perStream,
    }
  } finally {
    await undoThreads()
  }
}

// ------------------------------------------------------------------ the CLI, timed from its result file

/** Shortest measured stream of the CLI level: the measured streams are 100, 101, ... tokens long. */
export const CLI_MEASURED_FIRST_TOKENS = 100
/** The CLI level's unmeasured warmup: 64 streams of 10, 11, ... 73 tokens, all at once, before the measured ones. */
export const CLI_WARMUP = {streams: 64, firstTokens: 10, measuredAtMs: 1500}

/**
 * The Mooncake-format trace `capplan bench --trace` replays for the CLI's ITL level: a warmup burst (JIT, the
 * connection path) then `streams` requests at one instant. Every request asks for its own number of tokens,
 * so each stream of the result file is paired with the source's log of the same stream by its length (the
 * result file keeps chunk offsets, not the texts that carry the send stamps).
 */
export function cliTraceText(streams: number, promptTokens = PROMPT_TOKENS): string {
  const line = (timestamp: number, outputLength: number) => JSON.stringify({timestamp, input_length: promptTokens, output_length: outputLength, hash_ids: []})
  const lines: string[] = []
  for (let k = 0; k < CLI_WARMUP.streams; k++) lines.push(line(0, CLI_WARMUP.firstTokens + k))
  for (let k = 0; k < streams; k++) lines.push(line(CLI_WARMUP.measuredAtMs, CLI_MEASURED_FIRST_TOKENS + k))
  return `${lines.join('\n')}\n`
}

export interface PairedCliStreams {
  streams: PerStream[]
  /** Measured requests that failed in the result file. */
  failed: number
  /** Measured successful requests with no single logged stream of their length (none, or two). */
  unpaired: number
}

/**
 * The result file's measured requests (outputTokens >= measuredFrom) paired with the source's logged streams
 * by length; each pair becomes a PerStream (the first measuredFrom client chunk offsets and texts
 * "t=<send time>") for itlErrorSummary, which pairs event i with send i and leaves out a stream whose counts
 * differ.
 */
export function pairCliStreams(
  requests: readonly Pick<RequestRecord, 'outputTokens' | 'chunkOffsetsMs' | 'error'>[],
  logged: readonly StampedStream[],
  measuredFrom = CLI_MEASURED_FIRST_TOKENS,
): PairedCliStreams {
  const byLength = new Map<number, StampedStream[]>()
  for (const stream of logged) byLength.set(stream.maxTokens, [...(byLength.get(stream.maxTokens) ?? []), stream])
  const streams: PerStream[] = []
  let failed = 0
  let unpaired = 0
  for (const request of requests) {
    if (request.error !== null) {
      // A failed request's outputTokens is what arrived, not what it asked for: count every failure.
      failed++
      continue
    }
    if (request.outputTokens < measuredFrom) continue
    const matches = byLength.get(request.outputTokens) ?? []
    if (matches.length !== 1) {
      unpaired++
      continue
    }
    // Only the first `measuredFrom` events: all the streams are in flight then (they start together and each
    // runs at least that long), as in the fixed-length levels the other clients run; later the count decays.
    streams.push({clientMs: request.chunkOffsetsMs.slice(0, measuredFrom), texts: matches[0]!.sentAt.slice(0, measuredFrom).map((stamp) => `t=${stamp}`)})
  }
  return {streams, failed, unpaired}
}

/**
 * A shell script capplan can start as llama-server (`--server-bin`): it takes the --host and --port capplan
 * passes (ignoring the rest: the model, threads, ...) and runs perf/sse-source with stamped chunks every
 * `intervalMs`, its stamp log written to `stampsFile` when it is stopped.
 */
export function fakeLlamaServerScript(stampsFile: string, intervalMs: number): string {
  const quote = (text: string) => `'${text.replaceAll("'", `'"'"'`)}'`
  const {file, execArgv} = perfScript('sse-source')
  const node = [process.execPath, ...execArgv, file].map(quote).join(' ')
  return [
    '#!/bin/sh',
    'host=127.0.0.1; port=8080',
    'while [ $# -gt 0 ]; do case "$1" in --host) host="$2"; shift;; --port) port="$2"; shift;; esac; shift; done',
    `exec ${node} --host "$host" --port "$port" --interval-ms ${intervalMs} --stamp-times --stamps-file ${quote(stampsFile)}`,
    '',
  ].join('\n')
}

async function sourceStamps(url: string): Promise<StampedStream[]> {
  const response = await fetch(`${url}/stamps`)
  if (!response.ok) throw new Error(`GET ${url}/stamps answered ${response.status}: the source must run with --stamp-times`)
  return ((await response.json()) as {streams: StampedStream[]}).streams
}

/**
 * One ITL level of `capplan bench --engine openai --trace` (bin/run.js on dist/, a process of its own) against a
 * running stamping source: the warmup and measured bursts of cliTraceText, paired by length (pairCliStreams).
 * GC figures are the result file's clientHealth of the level (warmup included); CPU is not measured (the
 * process's start-up would dominate it).
 */
async function cliItlLevel(
  url: string,
  streams: number,
  engineKind: LoadgenEngineKind,
  intervalMs: number,
): Promise<{perStream: PerStream[]; failed: number; unpaired: number; gcPauseMaxMs: number | null; gcCount: number; gcTotalMs: number}> {
  const {readResultFile} = await import('../src/results/read.js')
  const dir = mkdtempSync(path.join(os.tmpdir(), 'capplan-cli-itl-'))
  try {
    const trace = path.join(dir, 'trace.jsonl')
    writeFileSync(trace, cliTraceText(streams))
    const stampsFile = path.join(dir, 'stamps.json')
    let target: string[]
    if (engineKind === 'openai') {
      await sourceStamps(url) // empties the source's log: only this run's streams are paired
      target = ['--engine', 'openai', '--endpoint', url]
    } else {
      // capplan starts its "llama-server": this wrapper, which starts a stamping source on the host and port
      // capplan gives and writes its stamp log when capplan stops it (SIGTERM).
      const wrapper = path.join(dir, 'llama-server')
      writeFileSync(wrapper, fakeLlamaServerScript(stampsFile, intervalMs), {mode: 0o755})
      target = ['--engine', 'llamacpp', '--server-bin', wrapper]
    }
    const args = [CAPPLAN_BIN, 'bench', ...target, '--trace', trace, '--results-dir', path.join(dir, 'results')]
    const child = spawn(process.execPath, args, {cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (data: Buffer) => (stderr = (stderr + data.toString()).slice(-4000)))
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('exit', resolve)
    })
    if (code !== 0) throw new Error(`capplan bench --engine openai exited with ${code}:\n${stderr}`)
    const files = readdirSync(path.join(dir, 'results')).filter((name) => name.endsWith('.json'))
    if (files.length !== 1) throw new Error(`capplan bench wrote ${files.length} result files in ${dir}/results, expected 1`)
    const result = await readResultFile(path.join(dir, 'results', files[0]!))
    const requests = result.levels.flatMap((level) => level.requests)
    const logged = engineKind === 'openai' ? await sourceStamps(url) : (JSON.parse(readFileSync(stampsFile, 'utf8')) as {streams: StampedStream[]}).streams
    const paired = pairCliStreams(requests, logged)
    const gc = result.levels.map((level) => level.clientHealth?.gcPauseMs ?? null).filter((g) => g !== null)
    return {
      perStream: paired.streams,
      failed: paired.failed,
      unpaired: paired.unpaired,
      gcPauseMaxMs: gc.length === 0 ? null : Math.max(...gc.map((g) => g.max)),
      gcCount: gc.reduce((sum, g) => sum + g.count, 0),
      gcTotalMs: gc.reduce((sum, g) => sum + g.totalMs, 0),
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

// ------------------------------------------------------------------ ITL error vs the Python yardstick

/** The Python yardstick (perf/yardstick.py), run with Debian's interpreter (python3-aiohttp lives there). */
export const YARDSTICK_PYTHON = '/usr/bin/python3'

type PerStream = {clientMs: readonly number[]; texts: readonly string[]}

/** capplan's client paths compared with the yardstick: the spawned-server path and the openai engine. */
export const COMPARED_CLIENTS = [
  {name: 'capplan llamacpp/node-http', engineKind: 'llamacpp', transport: 'node-http', clientThreads: 1, isDefault: true},
  {name: 'capplan llamacpp/node-http 1 worker', engineKind: 'llamacpp', transport: 'node-http', clientThreads: 0},
  {name: 'capplan llamacpp/node-http 2 workers', engineKind: 'llamacpp', transport: 'node-http', clientThreads: 2},
  {name: 'capplan openai/node-http', engineKind: 'openai', transport: 'node-http', clientThreads: 1, isDefault: true},
  {name: 'capplan openai/node-http 2 workers', engineKind: 'openai', transport: 'node-http', clientThreads: 2},
  {name: 'capplan openai/fetch', engineKind: 'openai', transport: 'fetch', clientThreads: 1},
  {name: 'capplan bench --engine openai (CLI)', engineKind: 'openai', transport: 'node-http', clientThreads: 1, viaCli: true, isDefault: true},
  {name: 'capplan bench --engine llamacpp (CLI)', engineKind: 'llamacpp', transport: 'node-http', clientThreads: 1, viaCli: true, isDefault: true},
] as const satisfies readonly ComparedClientSpec[]

export interface ComparedClientSpec {
  name: string
  engineKind: LoadgenEngineKind
  transport: HttpTransport
  clientThreads: number
  /**
   * true = `capplan bench --engine <engineKind>` run as its own process (its CLI, telemetry and result writing
   * included), timed from the chunk offsets in the result file it writes (cliItlLevel); the other fields
   * then only say what that command uses by default. llamacpp: capplan spawns a stamping source as its
   * llama-server (`--server-bin`), so the spawned-server engine path is the one measured.
   */
  viaCli?: boolean
  /** A path a user gets without asking (the target is judged on these; fetch and worker threads are options). */
  isDefault?: boolean
}

export interface ComparedClient {
  name: string
  /** See ComparedClientSpec.isDefault (absent in summaries from before: then judged as a default path). */
  isDefault?: boolean
  summary: ItlSummary
  failed: number
  /** capplan's p99 |error| / the yardstick's p99 |error| over the same rounds (null without both). */
  ratioToYardstick: number | null
  /** The target: <= the yardstick's p99, and <= 1.0 ms whenever the yardstick reaches 1.0 ms. */
  meetsTarget: boolean | null
  gcPauseMaxMs: number | null
  /** GC pauses during the measured levels, all rounds together (absent in summaries from before). */
  gcPauses?: {count: number; totalMs: number}
  /** Client CPU-seconds over the measured levels, all rounds together (absent for the CLI: not measured). */
  cpuS?: number
  /** The CLI's measured streams not paired with a logged source stream (absent for the in-process clients). */
  unpaired?: number
}

export interface ItlComparisonAt {
  streams: number
  /** The 1-minute load average at the start of each round. */
  loadavgPerRound?: number[]
  yardstick: {summary: ItlSummary; failed: number; cpuS: number; wallS: number}
  clients: ComparedClient[]
}

export interface ItlComparison {
  rounds: number
  intervalMs: number
  tokensPerStream: number
  loadavgBefore: number[]
  loadavgAfter: number[]
  at: ItlComparisonAt[]
}

/** COMPARED_CLIENTS, or those named exactly in `only`, else those whose name contains one; throws naming the names when none does. */
export function comparedClients(only?: readonly string[]): readonly ComparedClientSpec[] {
  if (only === undefined) return COMPARED_CLIENTS
  // Exact names first ("capplan llamacpp/node-http" alone, not its worker variants); otherwise name parts.
  const exact = COMPARED_CLIENTS.filter((client) => only.includes(client.name))
  if (exact.length > 0) return exact
  const chosen = COMPARED_CLIENTS.filter((client) => only.some((part) => client.name.includes(part)))
  if (chosen.length === 0)
    throw new Error(`no compared client's name contains ${only.map((o) => `"${o}"`).join(' or ')} (names: ${COMPARED_CLIENTS.map((c) => c.name).join('; ')})`)
  return chosen
}

/** The yardstick's p99 vs capplan's: meets when capplan <= yardstick, and <= 1 ms when the yardstick is <= 1 ms. */
export function meetsYardstick(capplanP99: number, yardstickP99: number): boolean {
  return capplanP99 <= yardstickP99 && (yardstickP99 > TARGET_ITL_P99_MS || capplanP99 <= TARGET_ITL_P99_MS)
}

function runYardstick(url: string, streams: number, tokens: number): Promise<{streams: PerStream[]; failed: number; wallS: number; cpuS: number}> {
  const child = spawn(YARDSTICK_PYTHON, [repoPath('perf', 'yardstick.py'), '--url', url, '--streams', String(streams), '--tokens', String(tokens)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let stdout = ''
  child.stdout.on('data', (data: Buffer) => (stdout += data.toString()))
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`perf/yardstick.py exited with ${code} (needs ${YARDSTICK_PYTHON} with python3-aiohttp)`))
      else resolve(JSON.parse(stdout) as {streams: PerStream[]; failed: number; wallS: number; cpuS: number})
    })
  })
}

/**
 * capplan's paths and the yardstick, interleaved in each round (yardstick, then each capplan path, in turn,
 * against one fresh stamping source per round and stream count), pooled over the rounds: both see the same
 * background load. Ratios come from this one run.
 */
export async function compareWithYardstick({
  rounds = 3,
  streamsList = [64, 256],
  intervalMs = 10,
  tokensPerStream = 100,
  only,
}: {
  rounds?: number
  streamsList?: number[]
  intervalMs?: number
  tokensPerStream?: number
  /** Only the clients whose name contains one of these (default: all of COMPARED_CLIENTS). */
  only?: readonly string[]
} = {}): Promise<ItlComparison> {
  const clients: readonly ComparedClientSpec[] = comparedClients(only)
  const loadavgBefore = os.loadavg()
  const at: ItlComparisonAt[] = []
  for (const streams of streamsList) {
    const yardstickStreams: PerStream[] = []
    const yardstick = {failed: 0, cpuS: 0, wallS: 0}
    const pooled = clients.map(() => ({streams: [] as PerStream[], failed: 0, unpaired: 0, gcPauseMaxMs: 0, gcCount: 0, gcTotalMs: 0, cpuS: 0 as number | null}))
    const loadavgPerRound: number[] = []
    for (let round = 0; round < rounds; round++) {
      loadavgPerRound.push(os.loadavg()[0]!)
      const source = await startSourceProcess(['--port', '0', '--interval-ms', String(intervalMs), '--stamp-times'])
      try {
        const y = await runYardstick(source.url, streams, tokensPerStream)
        yardstickStreams.push(...y.streams)
        yardstick.failed += y.failed
        yardstick.cpuS += y.cpuS
        yardstick.wallS += y.wallS
        for (const [index, client] of clients.entries()) {
          if (client.viaCli === true) {
            const cli = await cliItlLevel(source.url, streams, client.engineKind, intervalMs)
            pooled[index]!.streams.push(...cli.perStream)
            pooled[index]!.failed += cli.failed
            pooled[index]!.unpaired += cli.unpaired
            pooled[index]!.gcPauseMaxMs = Math.max(pooled[index]!.gcPauseMaxMs, cli.gcPauseMaxMs ?? 0)
            pooled[index]!.gcCount += cli.gcCount
            pooled[index]!.gcTotalMs += cli.gcTotalMs
            pooled[index]!.cpuS = null
            continue
          }
          const result = await itlLevel(source.url, {
            streams,
            intervalMs,
            tokensPerStream,
            engineKind: client.engineKind,
            transport: client.transport,
            clientThreads: client.clientThreads,
          })
          pooled[index]!.streams.push(...result.perStream)
          pooled[index]!.failed += result.failed
          pooled[index]!.gcPauseMaxMs = Math.max(pooled[index]!.gcPauseMaxMs, result.gcPauses?.maxMs ?? 0)
          pooled[index]!.gcCount += result.gcPauses?.count ?? 0
          pooled[index]!.gcTotalMs += result.gcPauses?.totalMs ?? 0
          pooled[index]!.cpuS = (pooled[index]!.cpuS ?? 0) + (result.clientCpu.userMs + result.clientCpu.systemMs) / 1000
        }
      } finally {
        await source.stop()
      }
    }
    const yardstickSummary = itlErrorSummary(yardstickStreams, intervalMs)
    const yP99 = yardstickSummary.absErrorMs?.p99 ?? null
    at.push({
      streams,
      loadavgPerRound,
      yardstick: {summary: yardstickSummary, ...yardstick},
      clients: clients.map((client, index) => {
        const summary = itlErrorSummary(pooled[index]!.streams, intervalMs)
        const p99 = summary.absErrorMs?.p99 ?? null
        return {
          name: client.name,
          isDefault: client.isDefault === true,
          summary,
          failed: pooled[index]!.failed,
          ratioToYardstick: p99 === null || yP99 === null || yP99 === 0 ? null : p99 / yP99,
          meetsTarget: p99 === null || yP99 === null ? null : meetsYardstick(p99, yP99),
          gcPauseMaxMs: pooled[index]!.gcPauseMaxMs,
          gcPauses: {count: pooled[index]!.gcCount, totalMs: pooled[index]!.gcTotalMs},
          ...(pooled[index]!.cpuS === null ? {} : {cpuS: pooled[index]!.cpuS}),
          ...(client.viaCli === true ? {unpaired: pooled[index]!.unpaired} : {}),
        }
      }),
    })
  }
  return {rounds, intervalMs, tokensPerStream, loadavgBefore, loadavgAfter: os.loadavg(), at}
}

/**
 * The issue-17 verdict over a comparison's default paths: how many (stream count, path) cells meet the target
 * (p99 <= the yardstick's, and <= 1 ms where the yardstick reached 1 ms), which miss and by how much, whether
 * the 1 ms clause applied at all, and the p50s beside the yardstick's.
 */
export function itlVerdict(c: ItlComparison): string[] {
  const cells = c.at.flatMap((a) => a.clients.filter((client) => client.isDefault !== false).map((client) => ({a, client})))
  const judged = cells.filter(({client}) => client.meetsTarget !== null)
  const met = judged.filter(({client}) => client.meetsTarget === true)
  const lines = [
    `  target (default paths: ${[...new Set(cells.map(({client}) => client.name))].join(', ')}): p99 <= the yardstick's in ${met.length} of ${judged.length} cells -> ${judged.length > 0 && met.length === judged.length ? 'MET' : 'MISSED'}`,
  ]
  for (const {a, client} of judged.filter(({client}) => client.meetsTarget === false)) {
    // The evidence beside each miss: a pause as long as the p99 (the process collecting, or descheduled while
    // it did) and the machine's load say whose tail it is.
    const load =
      a.loadavgPerRound === undefined || a.loadavgPerRound.length === 0
        ? ''
        : `, load average ${fmt(Math.min(...a.loadavgPerRound), 2)}-${fmt(Math.max(...a.loadavgPerRound), 2)}`
    lines.push(
      `    missed: ${client.name} at ${a.streams} streams, p99 ${fmt(client.summary.absErrorMs?.p99)} ms = ${fmt(client.ratioToYardstick, 2)}x the yardstick's ${fmt(a.yardstick.summary.absErrorMs?.p99)} ms (its longest GC pause ${fmt(client.gcPauseMaxMs, 1)} ms${load})`,
    )
  }
  const underOneMs = c.at.filter((a) => (a.yardstick.summary.absErrorMs?.p99 ?? Infinity) <= TARGET_ITL_P99_MS)
  lines.push(
    underOneMs.length === 0
      ? `    the <= ${TARGET_ITL_P99_MS} ms clause did not apply: the yardstick's p99 was above ${TARGET_ITL_P99_MS} ms at every stream count (${c.at.map((a) => `${fmt(a.yardstick.summary.absErrorMs?.p99, 2)} ms at ${a.streams}`).join(', ')})`
      : `    the <= ${TARGET_ITL_P99_MS} ms clause applied at ${underOneMs.map((a) => a.streams).join(', ')} streams (judged in the cells above)`,
  )
  for (const a of c.at) {
    const p50s = a.clients.filter((client) => client.isDefault !== false).map((client) => fmt(client.summary.absErrorMs?.p50))
    lines.push(`    p50 at ${a.streams} streams: capplan ${p50s.join(' / ')} ms vs the yardstick's ${fmt(a.yardstick.summary.absErrorMs?.p50)} ms`)
  }
  return lines
}

/** Text lines of compareWithYardstick's result. */
export function formatItlComparison(c: ItlComparison): string[] {
  const spread = (s: ItlSummary) =>
    `p50 ${fmt(s.absErrorMs?.p50)} / p99 ${fmt(s.absErrorMs?.p99)} / max ${fmt(s.absErrorMs?.max)} ms; |gap - ${c.intervalMs}| p99 ${fmt(s.absGapMinusIntervalMs?.p99)} ms (${s.pairs} pairs)`
  const lines = [
    `ITL error vs the Python asyncio+aiohttp yardstick (perf/yardstick.py), ${c.rounds} interleaved rounds, source every ${c.intervalMs} ms, ${c.tokensPerStream} tokens per stream; loadavg before ${c.loadavgBefore.map((l) => l.toFixed(2)).join(' ')}, after ${c.loadavgAfter.map((l) => l.toFixed(2)).join(' ')}`,
  ]
  for (const a of c.at) {
    lines.push(
      `  ${a.streams} streams${a.loadavgPerRound === undefined || a.loadavgPerRound.length === 0 ? '' : ` (load average at each round's start ${a.loadavgPerRound.map((l) => l.toFixed(2)).join(', ')})`}: yardstick ${spread(a.yardstick.summary)}; failed ${a.yardstick.failed}; CPU ${fmt(a.yardstick.cpuS / Math.max(1e-9, a.yardstick.wallS), 2)} cores`,
    )
    for (const client of a.clients) {
      const verdict = client.meetsTarget === null ? 'n/a' : client.meetsTarget ? 'meets' : 'misses'
      lines.push(
        `    ${client.name}: ${spread(client.summary)}; p99 ratio to yardstick ${fmt(client.ratioToYardstick)} (${verdict} target); longest GC pause ${fmt(client.gcPauseMaxMs)} ms${client.gcPauses === undefined ? '' : ` (${client.gcPauses.count} pauses, ${fmt(client.gcPauses.totalMs, 1)} ms in all)`}${client.cpuS === undefined ? '' : `; client CPU ${fmt(client.cpuS, 2)} s`}; failed ${client.failed}${client.unpaired === undefined ? '' : `; unpaired ${client.unpaired}, streams left out ${client.summary.skippedStreams}`}`,
      )
    }
  }
  lines.push(...itlVerdict(c))
  return lines
}

export interface LoadgenBenchOptions {
  streams?: number
  tokensPerStream?: number
  itlStreams?: number
  itlIntervalMs?: number
  itlTokens?: number
  engine?: LoadgenEngineKind
  warmupTokens?: number
  skipCeiling?: boolean
  skipItl?: boolean
  /** Pin the source to that CPU with taskset; null = not pinned. */
  sourceCpu?: number | null
  /** streamRequest's transport on the llamacpp path (default node-http; the openai path is always fetch). */
  transport?: HttpTransport
}

/**
 * Both measurements, one run each. Options: streams (256), tokensPerStream (2000), itlStreams (64),
 * itlIntervalMs (10), itlTokens (100), engine ('llamacpp' | 'openai'), warmupTokens (200),
 * skipCeiling / skipItl, sourceCpu (pin the source to that CPU with taskset; null = not pinned),
 * transport ('fetch' | 'node-http': streamRequest's transport on the llamacpp path).
 */
export async function runLoadgenBench({
  streams = 256,
  tokensPerStream = 2000,
  itlStreams = 64,
  itlIntervalMs = 10,
  itlTokens = 100,
  engine = 'llamacpp',
  warmupTokens = 200,
  skipCeiling = false,
  skipItl = false,
  sourceCpu = null,
  transport = 'node-http',
}: LoadgenBenchOptions = {}): Promise<LoadgenSummary> {
  const loadavgBefore = os.loadavg()
  const ceiling = skipCeiling ? null : await measureCeiling({streams, tokensPerStream, engineKind: engine, warmupTokens, sourceCpu, transport})
  const itl = skipItl ? null : await measureItl({streams: itlStreams, intervalMs: itlIntervalMs, tokensPerStream: itlTokens, engineKind: engine, sourceCpu, transport})
  return {
    machine: {
      cpuModel: os.cpus()[0]?.model ?? 'unknown CPU',
      cpus: os.cpus().length,
      node: process.versions.node,
      loadavgBefore,
      loadavgAfter: os.loadavg(),
      sourceCpu,
    },
    ceiling,
    itl,
  }
}

// ------------------------------------------------------------------------------------------------ CLI

async function main(): Promise<void> {
  const {values} = parseArgs({
    options: {
      json: {type: 'boolean', default: false},
      streams: {type: 'string', default: '256'},
      tokens: {type: 'string', default: '2000'},
      'itl-streams': {type: 'string', default: '64'},
      'itl-interval-ms': {type: 'string', default: '10'},
      'itl-tokens': {type: 'string', default: '100'},
      engine: {type: 'string', default: 'llamacpp'},
      transport: {type: 'string'},
      'skip-ceiling': {type: 'boolean', default: false},
      'skip-itl': {type: 'boolean', default: false},
      'source-cpu': {type: 'string'},
      compare: {type: 'boolean', default: false},
      'compare-rounds': {type: 'string', default: '3'},
      'compare-streams': {type: 'string', default: '64,256'},
      'compare-clients': {type: 'string'},
      'ceiling-threads': {type: 'string'},
      'ceiling-rounds': {type: 'string', default: '3'},
    },
  })
  type NumberFlag = 'streams' | 'tokens' | 'itl-streams' | 'itl-interval-ms' | 'itl-tokens' | 'source-cpu' | 'compare-rounds' | 'ceiling-rounds'
  const positive = (name: NumberFlag) => {
    const value = Number(values[name])
    if (!Number.isInteger(value) || value < 1) {
      process.stderr.write(`loadgen-bench: --${name} must be a positive integer (got ${values[name]})\n`)
      process.exit(2)
    }
    return value
  }
  const nonNegative = (name: NumberFlag) => {
    const value = Number(values[name])
    if (!Number.isInteger(value) || value < 0) {
      process.stderr.write(`loadgen-bench: --${name} must be a CPU number >= 0 (got ${values[name]})\n`)
      process.exit(2)
    }
    return value
  }
  const engine = values.engine
  if (engine !== 'llamacpp' && engine !== 'openai') {
    process.stderr.write(`loadgen-bench: --engine must be llamacpp or openai (got ${engine})\n`)
    process.exit(2)
  }
  const transport = values.transport
  if (transport !== undefined && transport !== 'fetch' && transport !== 'node-http') {
    process.stderr.write(`loadgen-bench: --transport must be fetch or node-http (got ${transport})\n`)
    process.exit(2)
  }
  if (values['ceiling-threads'] !== undefined) {
    const threads = values['ceiling-threads'].split(',').map(Number)
    if (threads.some((n) => !Number.isInteger(n) || n < 1)) {
      process.stderr.write(`loadgen-bench: --ceiling-threads must be positive integers, comma-separated (got ${values['ceiling-threads']})\n`)
      process.exit(2)
    }
    const comparison = await compareCeilingThreads({
      rounds: positive('ceiling-rounds'),
      threads,
      streams: positive('streams'),
      tokensPerStream: positive('tokens'),
    })
    process.stdout.write(values.json ? `${JSON.stringify(comparison, null, 2)}\n` : `${formatCeilingThreads(comparison).join('\n')}\n`)
    return
  }
  if (values.compare) {
    const streamsList = values['compare-streams'].split(',').map(Number)
    if (streamsList.some((n) => !Number.isInteger(n) || n < 1)) {
      process.stderr.write(`loadgen-bench: --compare-streams must be positive integers, comma-separated (got ${values['compare-streams']})\n`)
      process.exit(2)
    }
    const only = values['compare-clients']?.split(',')
    try {
      comparedClients(only)
    } catch (error) {
      process.stderr.write(`loadgen-bench: --compare-clients: ${(error as Error).message}\n`)
      process.exit(2)
    }
    const comparison = await compareWithYardstick({
      rounds: positive('compare-rounds'),
      streamsList,
      intervalMs: positive('itl-interval-ms'),
      tokensPerStream: positive('itl-tokens'),
      ...(only === undefined ? {} : {only}),
    })
    process.stdout.write(values.json ? `${JSON.stringify(comparison, null, 2)}\n` : `${formatItlComparison(comparison).join('\n')}\n`)
    return
  }
  const summary = await runLoadgenBench({
    streams: positive('streams'),
    tokensPerStream: positive('tokens'),
    itlStreams: positive('itl-streams'),
    itlIntervalMs: positive('itl-interval-ms'),
    itlTokens: positive('itl-tokens'),
    engine,
    skipCeiling: values['skip-ceiling'],
    skipItl: values['skip-itl'],
    sourceCpu: values['source-cpu'] === undefined ? null : nonNegative('source-cpu'),
    ...(transport === undefined ? {} : {transport}),
  })
  process.stdout.write(values.json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatLoadgenBench(summary).join('\n')}\n`)
}

if (isMainModule(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`loadgen-bench: ${error instanceof Error ? error.stack : String(error)}\n`)
    process.exit(1)
  })
}
