#!/usr/bin/env node
// Soak (issue 7 §5): the REAL `capplan bench` CLI against a local SSE source (perf/sse-source.ts) that fails
// 10% of requests at random (HTTP 500, dropped connection, malformed event, in-stream error event), for
// minutes at concurrency 64. Checks, from outside:
// - memory: capplan's RSS (/proc/<pid>/status VmRSS, every second) at the level's start (after warmup), at
//   its end, the max, end / start, and the slope (MB/min, least squares) over the middle half of the level;
//   and its live heap after every full GC (node --trace-gc), whose trend must not outgrow the request records
//   the level keeps for its file. RSS alone is a GC sawtooth (see MEMORY_PROBE): its end / start is a verdict
//   only with --probe-every-s, which forces a full GC in capplan every few seconds;
// - failures: the level summary's errors by kind equal what the source injected during the level, mapped
//   to the kinds capplan assigns (SOURCE_TO_CAPPLAN_KIND), and recorded requests = completed + failed =
//   what the source served;
// - numbers: the stored summary equals the summary recomputed here, independently, from the successful
//   requests in the result file (output/input tok/s over the window, req/s, TTFT / TPOT / E2E mean and p50).
//
//   node dist-perf/perf/soak.js [--minutes 3] [--concurrency 64] [--interval-ms 15] [--fail-rate 0.1] [--seed 1]
//                               [--probe-every-s 0 (force a full GC in capplan every N s)] [--json] [--keep]
//   (capplan itself is bin/run.js on dist/: `npm run build` first)
//
// From another script (perf/run.ts):
//   const {runSoak, formatSoak} = await import('./soak.js')
//   const summary = await runSoak({durationMs: 180_000}); console.log(formatSoak(summary)); summary.ok
//
// Why the source runs inside a small child of THIS file (fork, --serve-source): the source's stats() must be
// read at two exact moments — when capplan's level starts and when it ends — to separate the warmup's
// requests (the source serves them too, and fails 10% of them) from the measured level's. capplan scrapes
// GET /metrics of a loopback endpoint right before and right after each level (src/telemetry/level.ts), so
// the child snapshots stats() on each GET /metrics request and sends it to this process over IPC. At both
// moments capplan has no request in flight (warmup and level each wait for all their requests), which the
// report checks (source in flight = requests - completed - failed = 0).

import {fork, spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import type {IncomingMessage} from 'node:http'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {parseArgs} from 'node:util'

import {linearRegression} from 'simple-statistics'

import type {LevelRecord, LevelSummary, RequestRecord, ResultFile} from '../src/results/schema.js'
import {CAPPLAN_BIN, isMainModule, perfScript, REPO_ROOT, repoPath} from './paths.js'
import type {FailureKind, SourceStats, SseSource, SseSourceOptions} from './sse-source.js'

/**
 * The error kind capplan records for each kind of failure the source injects (src/engines/http/stream.ts):
 * a non-200 status is 'http'; a connection cut before [DONE] is 'dropped'; an event that is not JSON
 * ('malformed', sent as a complete SSE event) and an error object inside the stream are 'stream-error'.
 */
export const SOURCE_TO_CAPPLAN_KIND: Readonly<Record<FailureKind, string>> = Object.freeze({
  'http-500': 'http',
  drop: 'dropped',
  malformed: 'stream-error',
  'error-event': 'stream-error',
})

/**
 * Loaded into capplan's process with --import (capplan's code is unchanged): a full GC on SIGUSR2
 * (--expose-gc), which --trace-gc then reports with the live heap. Sent at the level's start and end, and
 * every probeEveryMs when asked: sampled RSS is a sawtooth (V8 lets garbage pile up to a limit a few times the
 * live heap before a full GC), so two arbitrary samples can differ by 1.5x with nothing leaking; with a full
 * GC every few seconds RSS follows the live data.
 */
const MEMORY_PROBE = "process.on('SIGUSR2', () => globalThis.gc())"

/** A summary field may differ from the recomputed one by this relative amount (float summation order). */
export const SUMMARY_TOLERANCE = 1e-9

// ------------------------------------------------------------------------------------------ pure parts

/** VmRSS of a /proc/<pid>/status text, in bytes; null when the line is absent (a zombie has none). */
export function parseVmRssBytes(statusText: string): number | null {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(statusText)
  return match === null ? null : Number(match[1]) * 1024
}

export interface RssSample {
  tMs: number
  bytes: number
}

export interface RssReport {
  startBytes: number
  endBytes: number
  maxBytes: number
  endOverStart: number
  slopeMBPerMin: number | null
  samples: number
  middleSamples: number
  /** Set by checkSoak: RSS just before capplan exited (after the level it still writes the file and costs). */
  beforeExitBytes?: number
}

/**
 * RSS over a level from samples [{tMs, bytes}] (any clock, ascending) and the level's start and end on the
 * same clock. start = first sample at or after startMs, end = last sample at or before endMs; max over the
 * level; slope = least-squares MB/min over the middle half of the level (the first and last quarters hold
 * ramp-up and drain). MB = 2^20 bytes.
 */
export function rssReport(samples: readonly RssSample[], {startMs, endMs}: {startMs: number; endMs: number}): RssReport | null {
  const inLevel = samples.filter((s) => s.tMs >= startMs && s.tMs <= endMs)
  const first = inLevel[0]
  const last = inLevel.at(-1)
  if (first === undefined || last === undefined) return null
  const span = endMs - startMs
  const middle = inLevel.filter((s) => s.tMs >= startMs + span / 4 && s.tMs <= endMs - span / 4)
  const slope = middle.length >= 2 && middle.at(-1)!.tMs > middle[0]!.tMs ? linearRegression(middle.map((s) => [(s.tMs - startMs) / 60_000, s.bytes / 2 ** 20])).m : null
  return {
    startBytes: first.bytes,
    endBytes: last.bytes,
    maxBytes: Math.max(...inLevel.map((s) => s.bytes)),
    endOverStart: last.bytes / first.bytes,
    slopeMBPerMin: slope,
    samples: inLevel.length,
    middleSamples: middle.length,
  }
}

export interface FullGc {
  tMs: number
  beforeMB: number
  liveMB: number
  reservedMB: number
  forced: boolean
  /** `pid:address` of the V8 isolate that collected: a process can hold more than one (a worker, a loader-hooks thread). */
  isolate: string
}

/**
 * The full (Mark-Compact) collections in a `node --trace-gc` stdout: time (ms since the isolate started), heap
 * before and after, the heap reserved after (MB = 2^20 bytes, as V8 prints them), and whether gc() forced
 * it. The heap right after a full GC is the live data: what a leak would grow. Every other line is returned
 * in `rest`.
 */
export function parseGcTrace(text: string): {fullGcs: FullGc[]; rest: string} {
  const fullGcs: FullGc[] = []
  const rest: string[] = []
  for (const line of text.split('\n')) {
    const gc = /^\[(\d+:0x[0-9a-f]+)\]\s+([\d.]+) ms: (\S+)(?: \([^)]*\))? ([\d.]+) \(([\d.]+)\) -> ([\d.]+) \(([\d.]+)\) MB/.exec(line)
    if (gc === null) {
      rest.push(line)
      continue
    }
    if (gc[3] === 'Mark-Compact' || gc[3] === 'Mark-sweep') {
      // gc() called by MEMORY_PROBE is reported with the reason "testing".
      fullGcs.push({tMs: Number(gc[2]), beforeMB: Number(gc[4]), liveMB: Number(gc[6]), reservedMB: Number(gc[7]), forced: line.includes(' testing;'), isolate: gc[1]!})
    }
  }
  return {fullGcs, rest: rest.join('\n')}
}

/**
 * The full GCs of capplan's main isolate only: the one MEMORY_PROBE's gc() runs on (its forced GCs), else the
 * first isolate seen. Another isolate's collections (seen under vitest: a second isolate with ~4.5 MB live) would
 * put points of a different heap into the trend and bend it (a +27 MB/min leak read as -13 MB/min).
 */
export function mainIsolateGcs(fullGcs: readonly FullGc[]): FullGc[] {
  const main = fullGcs.find((gc) => gc.forced)?.isolate ?? fullGcs[0]?.isolate
  return fullGcs.filter((gc) => gc.isolate === main)
}

/**
 * How much faster than its request records' JSON the live heap may grow. The records must stay in memory (the
 * file holds them all) and in V8 they take about what their JSON takes, so a flat run's fitted slope sits near
 * the JSON rate (measured +2.5 to +5.6 MB/min against 5.1 MB/min at concurrency 64): at x1.0 the slope's noise
 * failed a flat run in CI. A leak of one fetch Response per request measured +23 to +31 MB/min (x4.5 or more).
 */
export const LIVE_HEAP_OVER_RECORDS = 1.5

export interface LiveHeapTrend {
  points: number
  fittedPoints: number
  firstMB: number | null
  lastMB: number | null
  slopeMBPerMin: number | null
}

/**
 * The live heap's trend over a level from points {tMs, liveMB} measured right after full GCs (V8's own, from
 * --trace-gc, and the forced ones of MEMORY_PROBE), on the same clock as startMs / endMs. The slope (MB/min,
 * least squares) leaves out the first tenth of the level: the JIT and the connection pool still grow there.
 * null with fewer than 3 points over at least 20 s.
 */
export function liveHeapTrend(points: readonly {tMs: number; liveMB: number}[], {startMs, endMs}: {startMs: number; endMs: number}): LiveHeapTrend {
  const inLevel = points.filter((p) => p.tMs >= startMs && p.tMs <= endMs).sort((a, b) => a.tMs - b.tMs)
  const fitted = inLevel.filter((p) => p.tMs >= startMs + (endMs - startMs) / 10)
  const spanMs = fitted.length === 0 ? 0 : fitted.at(-1)!.tMs - fitted[0]!.tMs
  return {
    points: inLevel.length,
    fittedPoints: fitted.length,
    firstMB: inLevel[0]?.liveMB ?? null,
    lastMB: inLevel.at(-1)?.liveMB ?? null,
    slopeMBPerMin: fitted.length >= 3 && spanMs >= 20_000 ? linearRegression(fitted.map((p) => [(p.tMs - startMs) / 60_000, p.liveMB])).m : null,
  }
}

const FAILURE_KINDS: readonly FailureKind[] = ['http-500', 'drop', 'malformed', 'error-event']

/** Source stats as they arrive (over IPC, or hand-written in tests): every count may be absent. */
export type PartialSourceStats = Partial<Omit<SourceStats, 'failed'>> & {failed?: Partial<Record<FailureKind, number>>}

/** after - before, field by field (source stats at two moments). */
export function statsDelta(before: PartialSourceStats, after: PartialSourceStats): SourceStats {
  const failed = {} as Record<FailureKind, number>
  for (const kind of FAILURE_KINDS) failed[kind] = (after.failed?.[kind] ?? 0) - (before.failed?.[kind] ?? 0)
  return {
    requests: (after.requests ?? 0) - (before.requests ?? 0),
    completed: (after.completed ?? 0) - (before.completed ?? 0),
    failed,
    contentChunks: (after.contentChunks ?? 0) - (before.contentChunks ?? 0),
    tokensSent: (after.tokensSent ?? 0) - (before.tokensSent ?? 0),
  }
}

const totalFailed = (failed: Readonly<Record<string, number>>) => Object.values(failed).reduce((sum, n) => sum + n, 0)

/** The source's failures counted in capplan's kinds: {http: n, dropped: n, 'stream-error': n} (zeros left out). */
export function expectedCapplanErrors(
  sourceFailed: Readonly<Record<string, number>>,
  mapping: Readonly<Record<string, string>> = SOURCE_TO_CAPPLAN_KIND,
): Record<string, number> {
  const errors: Record<string, number> = {}
  for (const [kind, count] of Object.entries(sourceFailed)) {
    if (count === 0) continue
    const capplanKind = mapping[kind] ?? `unmapped:${kind}`
    errors[capplanKind] = (errors[capplanKind] ?? 0) + count
  }
  return errors
}

export interface ErrorRow {
  kind: string
  capplan: number
  source: number
}

/** Per kind (union of both sides, sorted): capplan's count next to the expected one. */
export function compareErrors(capplanErrors: Readonly<Record<string, number | undefined>>, expected: Readonly<Record<string, number>>): {rows: ErrorRow[]; match: boolean} {
  const kinds = [...new Set([...Object.keys(capplanErrors), ...Object.keys(expected)])].sort()
  const rows = kinds.map((kind) => ({kind, capplan: capplanErrors[kind] ?? 0, source: expected[kind] ?? 0}))
  return {rows, match: rows.every((row) => row.capplan === row.source)}
}

/** numpy's default percentile (linear between closest ranks), written out here so the check is independent. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const h = (sorted.length - 1) * p
  const lower = Math.floor(h)
  const upper = Math.min(lower + 1, sorted.length - 1)
  return sorted[lower]! + (h - lower) * (sorted[upper]! - sorted[lower]!)
}

const meanOf = (values: readonly number[]) => values.reduce((sum, v) => sum + v, 0) / values.length

export interface RecomputedDistribution {
  count: number
  mean: number
  p50: number
}

export interface RecomputedSummary {
  completed: number
  failed: number
  errors: Record<string, number>
  durationS: number
  outputTokensPerS: number
  inputTokensPerS: number
  totalTokensPerS: number
  requestsPerS: number
  ttftMs: RecomputedDistribution | null
  tpotMs: RecomputedDistribution | null
  e2eMs: RecomputedDistribution | null
}

/**
 * A level's summary recomputed from its request records and window, with metrics.md's definitions: failed
 * requests only counted (by kind); throughput = sums over successful requests / window; TPOT = (E2E - TTFT) /
 * (outputTokens - 1) for requests with > 1 output token.
 */
export function recomputeSummary(level: {requests: readonly RequestRecord[]; window: {startMs: number; endMs: number}}): RecomputedSummary {
  const succeeded = level.requests.filter((r) => r.error === null)
  const errors: Record<string, number> = {}
  for (const r of level.requests) if (r.error !== null) errors[r.error.kind] = (errors[r.error.kind] ?? 0) + 1
  const durationS = (level.window.endMs - level.window.startMs) / 1000
  const per = (amount: number) => (durationS > 0 ? amount / durationS : 0)
  const output = succeeded.reduce((sum, r) => sum + r.outputTokens, 0)
  const input = succeeded.reduce((sum, r) => sum + r.inputTokens, 0)
  const ttfts = succeeded.flatMap((r) => (r.ttftMs === null ? [] : [r.ttftMs]))
  const e2es = succeeded.flatMap((r) => (r.e2eMs === null ? [] : [r.e2eMs]))
  const tpots = succeeded.flatMap((r) => (r.ttftMs !== null && r.e2eMs !== null && r.outputTokens > 1 ? [(r.e2eMs - r.ttftMs) / (r.outputTokens - 1)] : []))
  const dist = (values: number[]) => (values.length === 0 ? null : {count: values.length, mean: meanOf(values), p50: percentile(values, 0.5)})
  return {
    completed: succeeded.length,
    failed: level.requests.length - succeeded.length,
    errors,
    durationS,
    outputTokensPerS: per(output),
    inputTokensPerS: per(input),
    totalTokensPerS: per(output + input),
    requestsPerS: per(succeeded.length),
    ttftMs: dist(ttfts),
    tpotMs: dist(tpots),
    e2eMs: dist(e2es),
  }
}

const relativeDiff = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b)))

export interface ComparedField {
  name: string
  stored: unknown
  recomputed: unknown
  relativeDiff: number
}

/** The parts of a stored LevelSummary the soak compares (tests pass hand-made ones). */
export type StoredSummary = Pick<LevelSummary, 'requests' | 'errors' | 'durationS' | 'throughput'> & {
  ttftMs: {count: number; mean: number; p50: number} | null
  tpotMs: {count: number; mean: number; p50: number} | null
  e2eMs: {count: number; mean: number; p50: number} | null
}

/**
 * Stored summary vs recomputed: counts and error kinds must be equal; numbers within SUMMARY_TOLERANCE
 * (relative). Returns every compared field, the largest relative difference and the field it was in.
 */
export function compareSummary(
  stored: StoredSummary,
  recomputed: RecomputedSummary,
  tolerance = SUMMARY_TOLERANCE,
): {match: boolean; maxRelativeDiff: number; worstField: string; fields: ComparedField[]} {
  const fields: ComparedField[] = []
  const exact = (name: string, a: unknown, b: unknown) => fields.push({name, stored: a, recomputed: b, relativeDiff: a === b ? 0 : Number.POSITIVE_INFINITY})
  const close = (name: string, a: unknown, b: unknown) =>
    fields.push({name, stored: a, recomputed: b, relativeDiff: typeof a === 'number' && typeof b === 'number' ? relativeDiff(a, b) : a === b ? 0 : Number.POSITIVE_INFINITY})
  exact('requests.completed', stored.requests.completed, recomputed.completed)
  exact('requests.failed', stored.requests.failed, recomputed.failed)
  exact('errors', JSON.stringify(sortKeys(stored.errors)), JSON.stringify(sortKeys(recomputed.errors)))
  close('durationS', stored.durationS, recomputed.durationS)
  close('throughput.outputTokensPerS', stored.throughput.outputTokensPerS, recomputed.outputTokensPerS)
  close('throughput.inputTokensPerS', stored.throughput.inputTokensPerS, recomputed.inputTokensPerS)
  close('throughput.totalTokensPerS', stored.throughput.totalTokensPerS, recomputed.totalTokensPerS)
  close('throughput.requestsPerS', stored.throughput.requestsPerS, recomputed.requestsPerS)
  for (const metric of ['ttftMs', 'tpotMs', 'e2eMs'] as const) {
    const s = stored[metric]
    const r = recomputed[metric]
    if (s === null || r === null) {
      exact(`${metric}`, s === null ? null : 'present', r === null ? null : 'present')
      continue
    }
    exact(`${metric}.count`, s.count, r.count)
    close(`${metric}.mean`, s.mean, r.mean)
    close(`${metric}.p50`, s.p50, r.p50)
  }
  let worst = fields[0]!
  for (const field of fields) if (field.relativeDiff > worst.relativeDiff) worst = field
  return {match: fields.every((f) => f.relativeDiff <= tolerance), maxRelativeDiff: worst.relativeDiff, worstField: worst.name, fields}
}

function sortKeys(object: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).sort(([a], [b]) => a.localeCompare(b)))
}

/** The "warmup: N request(s) failed" note bench writes (src/loadgen/run.ts); 0 when absent. */
export function warmupFailuresFromNotes(notes: readonly string[]): number {
  for (const note of notes) {
    const match = /^warmup: (\d+) request\(s\) failed/.exec(note)
    if (match !== null) return Number(match[1])
  }
  return 0
}

/**
 * `count` distinct JSONL text prompts of `length` characters each (the source counts one token per
 * character): "soak prompt 17 " padded with a letter cycle, so no two share a prefix beyond the number.
 */
export function datasetLines(count: number, length: number): string {
  const lines: string[] = []
  for (let i = 0; i < count; i++) {
    const head = `${i} soak prompt `
    let text = head
    for (let k = 0; text.length < length; k++) text += 'abcdefghijklmnopqrstuvwxyz'[(i + k) % 26]!
    lines.push(JSON.stringify({prompt: text}))
  }
  return `${lines.join('\n')}\n`
}

/** Distinct token ids the server's POST /tokenize gives for capplan's prompt word list (as OpenAiEngine asks). */
async function tokenizerPoolSize(url: string): Promise<number> {
  const {PROMPT_POOL_TEXT} = await import('../src/engines/prompt-pool.js')
  const response = await fetch(`${url}/tokenize`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({prompt: PROMPT_POOL_TEXT, content: PROMPT_POOL_TEXT, add_special_tokens: false}),
    signal: AbortSignal.timeout(10_000),
  })
  const {tokens} = (await response.json()) as {tokens: number[]}
  return new Set(tokens).size
}

/**
 * --requests for a timed level: the cap must not end the level before its duration. A request lasts at
 * least (outputTokens / tokensPerChunk) x intervalMs at the source; failed ones end sooner (an HTTP 500 at
 * once), so allow twice the successful pace, plus one round of the concurrency.
 */
export function requestCap({
  concurrency,
  durationMs,
  outputTokens,
  tokensPerChunk = 1,
  intervalMs,
}: {
  concurrency: number
  durationMs: number
  outputTokens: number
  tokensPerChunk?: number
  intervalMs: number
}): number {
  const requestMs = Math.max(1, Math.ceil(outputTokens / tokensPerChunk) * intervalMs)
  return Math.ceil((2 * concurrency * durationMs) / requestMs) + concurrency
}

// ------------------------------------------------------------------------------------------ the run

export interface SoakOptions {
  durationMs: number
  concurrency: number
  inputTokens: number
  outputTokens: number
  intervalMs: number
  tokensPerChunk: number
  failRate: number
  seed: number
  sampleMs: number
  /** Keep the results directory. */
  keep: boolean
  promptSource: 'auto' | 'tokens' | 'dataset'
  /** Force a full GC in capplan this often (0 = never). */
  probeEveryMs: number
  /** More node flags for capplan's process, e.g. an --import that leaks on purpose to check the checks. */
  extraNodeFlags: string[]
  log: (line: string) => void
}

const DEFAULT_SOAK: SoakOptions = {
  durationMs: 180_000,
  concurrency: 64,
  inputTokens: 32,
  outputTokens: 64,
  intervalMs: 15,
  tokensPerChunk: 1,
  failRate: 0.1,
  seed: 1,
  sampleMs: 1000,
  keep: false,
  promptSource: 'auto',
  probeEveryMs: 0,
  extraNodeFlags: [],
  log: () => {},
}

/**
 * Runs the soak; resolves with a summary (see formatSoak). Needs dist/ (npm run build: capplan runs as
 * bin/run.js) and perf/sse-source. Options (all optional): durationMs (default 3 min), concurrency 64,
 * inputTokens 32, outputTokens 64, intervalMs 15, tokensPerChunk 1, failRate 0.1, seed 1, sampleMs 1000,
 * probeEveryMs 0 (force a full GC in capplan this often), extraNodeFlags [], keep (keep the results dir), log(line)
 */
export async function runSoak(options: Partial<SoakOptions> = {}): Promise<SoakSummary> {
  const o: SoakOptions = {...DEFAULT_SOAK, ...options}
  if (!existsSync(repoPath('dist', 'commands', 'bench.js'))) throw new Error('dist/ is missing: run `npm run build` first')
  const sourceScript = perfScript('sse-source').file
  if (!existsSync(sourceScript)) throw new Error(`${sourceScript} is missing`)
  const {readResultFile} = await import('../src/results/read.js')

  const source = await startSourceChild({
    intervalMs: o.intervalMs,
    tokensPerChunk: o.tokensPerChunk,
    failRate: o.failRate,
    seed: o.seed,
    failureKinds: FAILURE_KINDS,
  })
  let capplanPid: number | null = null
  const resultsDir = mkdtempSync(path.join(tmpdir(), 'capplan-soak-'))
  try {
    o.log(`soak: source ${source.url} (fail rate ${o.failRate}, ${o.intervalMs} ms between chunks, seed ${o.seed})`)
    const cap = requestCap(o)
    // Synthetic prompts need (token ids the server's /tokenize gives)^2 >= warmup + cap (src/loadgen/prompts.ts);
    // when the source's tokenizer gives too few ids, text prompts from a generated --dataset instead.
    const poolIds = await tokenizerPoolSize(source.url)
    const promptsNeeded = o.concurrency + cap
    const promptSource = o.promptSource === 'auto' ? (poolIds * poolIds >= promptsNeeded ? 'tokens' : 'dataset') : o.promptSource
    const promptArgs = ['--input-tokens', String(o.inputTokens)]
    if (promptSource === 'dataset') {
      const file = path.join(resultsDir, 'prompts.jsonl')
      writeFileSync(file, datasetLines(promptsNeeded, o.inputTokens))
      promptArgs.push('--dataset', file)
      o.log(
        `soak: the source's /tokenize gives ${poolIds} distinct ids (${poolIds * poolIds} unique synthetic prompts < ${promptsNeeded}): ${promptsNeeded} text prompts from --dataset`,
      )
    }
    // prettier-ignore
    const args = [
      CAPPLAN_BIN, 'bench', '--engine', 'openai', '--endpoint', source.url,
      '--concurrency', String(o.concurrency), '--duration', `${o.durationMs}ms`, '--requests', String(cap),
      ...promptArgs, '--output-tokens', String(o.outputTokens),
      '--seed', String(o.seed), '--results-dir', resultsDir, '--json',
    ]
    o.log(`soak: capplan bench ${args.slice(2).join(' ')}`)
    // --trace-gc: V8 prints every collection on stdout; the heap after each full one is the live data (RSS
    // also holds garbage not yet collected and heap V8 keeps reserved). Its lines are filtered out below.
    const spawnedAt = performance.now()
    const nodeFlags = ['--trace-gc', '--expose-gc', `--import=data:text/javascript,${encodeURIComponent(MEMORY_PROBE)}`, ...o.extraNodeFlags]
    const capplan = spawn(process.execPath, [...nodeFlags, ...args], {cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe']})
    capplanPid = capplan.pid ?? null
    let stdout = ''
    let stderr = ''
    capplan.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
    // Under --json capplan's stderr is nearly empty; keep it whole (bounded) to look for Node's warnings.
    capplan.stderr.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-1_000_000)))
    const exited = new Promise<SoakExit>((resolve) => capplan.on('close', (code, signal) => resolve({code, signal})))

    // RSS: every sampleMs, and once more at each /metrics scrape (level start / end), on this clock.
    const samples: RssSample[] = []
    const sample = () => {
      try {
        const bytes = parseVmRssBytes(readFileSync(`/proc/${capplan.pid}/status`, 'utf8'))
        if (bytes !== null) samples.push({tMs: performance.now(), bytes})
      } catch {
        // the process has exited
      }
    }
    const scrapes: Scrape[] = []
    let probeTimer: NodeJS.Timeout | null = null
    source.onScrape = (stats) => {
      sample()
      scrapes.push({tMs: performance.now(), stats})
      if (scrapes.length <= 2) capplan.kill('SIGUSR2')
      if (scrapes.length === 1 && o.probeEveryMs > 0) {
        probeTimer = setInterval(() => capplan.kill('SIGUSR2'), o.probeEveryMs)
      } else if (probeTimer !== null) clearInterval(probeTimer)
      if (scrapes.length === 1) o.log(`soak: warmup done, level started (capplan RSS ${mb(samples.at(-1)?.bytes)} MB)`)
    }
    sample()
    const timer = setInterval(() => {
      sample()
      const elapsed = scrapes.length > 0 ? performance.now() - scrapes[0]!.tMs : 0
      if (scrapes.length === 1 && Math.round(elapsed / 1000) % 30 === 0) o.log(`soak: ${(elapsed / 1000).toFixed(0)} s, RSS ${mb(samples.at(-1)?.bytes)} MB`)
    }, o.sampleMs)
    const exit = await exited
    clearInterval(timer)
    if (probeTimer !== null) clearInterval(probeTimer)
    capplanPid = null
    const finalStats = await source.stop()

    const gcTrace = parseGcTrace(stdout)
    const fullGcs = mainIsolateGcs(gcTrace.fullGcs).map((gc) => ({...gc, tMs: spawnedAt + gc.tMs}))
    let payload: {results?: {file?: string}[]} | null = null
    try {
      payload = JSON.parse(gcTrace.rest) as {results?: {file?: string}[]}
    } catch {
      payload = null
    }
    const resultPath =
      payload?.results?.[0]?.file ??
      readdirSync(resultsDir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => path.join(resultsDir, f))[0]
    if (resultPath === undefined) {
      throw new Error(`capplan bench wrote no result file (exit ${exit.code ?? exit.signal}). Its stderr ends:\n${stderr.slice(-2000)}`)
    }
    const result = await readResultFile(resultPath)
    const summary = checkSoak({result, resultPath, exit, scrapes, finalStats, samples, fullGcs, stderr, options: o, cap, promptSource})
    return summary
  } finally {
    if (capplanPid !== null) {
      try {
        process.kill(capplanPid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    await source.stop().catch(() => undefined)
    if (!o.keep) rmSync(resultsDir, {recursive: true, force: true})
  }
}

const mb = (bytes: number | null | undefined) => (bytes === undefined || bytes === null ? '?' : (bytes / 2 ** 20).toFixed(1))

export interface SoakExit {
  code: number | null
  signal: NodeJS.Signals | null
}

/** The source's stats at one GET /metrics (the level's start, then its end), on this process's clock. */
export interface Scrape {
  tMs: number
  stats: PartialSourceStats
}

export interface SoakCheck {
  name: string
  ok: boolean
  detail: string
}

export interface SoakCheckInput {
  result: Pick<ResultFile, 'status' | 'notes'> & {levels: Pick<LevelRecord, 'status' | 'requests' | 'window' | 'summary'>[]}
  resultPath: string
  exit: SoakExit
  scrapes: readonly Scrape[]
  finalStats: PartialSourceStats | null
  samples: readonly RssSample[]
  fullGcs?: readonly FullGc[]
  stderr?: string
  options: Pick<SoakOptions, 'concurrency' | 'durationMs' | 'inputTokens' | 'outputTokens' | 'intervalMs' | 'failRate' | 'seed'> & {probeEveryMs?: number}
  cap: number
  promptSource: string
}

export interface SoakSummary {
  ok: boolean
  checks: SoakCheck[]
  exitCode: number | null
  resultPath: string
  config?: {
    durationS: number
    concurrency: number
    inputTokens: number
    outputTokens: number
    intervalMs: number
    failRate: number
    seed: number
    requestCap: number
    promptSource: string
    probeEveryMs: number
  }
  runStatus?: string
  levelStatus?: string
  requests?: {recorded: number; completed: number; failed: number; source: SourceStats; warmup: {source: SourceStats; capplanNotedFailures: number}}
  failuresByKind?: ErrorRow[]
  summary?: {match: boolean; maxRelativeDiff: number; worstField: string; outputTokensPerS: number; ttftP50Ms: number | null; tpotP50Ms: number | null; windowS: number}
  rss?: RssReport | null
  /** The RSS curve over the level (s since its start, MB): a sawtooth between full GCs is not growth. */
  rssSeries?: [number, number][]
  liveHeap?: LiveHeapTrend & {naturalFullGcs: number; maxReservedMB: number; recordsJsonMBPerMin: number | null}
}

/** Every check of one soak, from the result file, the source's snapshots and the RSS samples. Pure. */
export function checkSoak({result, resultPath, exit, scrapes, finalStats, samples, fullGcs = [], stderr = '', options, cap, promptSource}: SoakCheckInput): SoakSummary {
  const checks: SoakCheck[] = []
  const check = (name: string, ok: boolean, detail: string) => checks.push({name, ok, detail})
  const level = result.levels[0]
  const zero: PartialSourceStats = {requests: 0, completed: 0, failed: {}, contentChunks: 0, tokensSent: 0}
  const [atStart, atEnd] = scrapes
  check('one level in the result file', result.levels.length === 1 && level !== undefined, `${result.levels.length} level(s), run status ${result.status}`)
  check('level start and end seen at the source (GET /metrics before and after the level)', scrapes.length >= 2, `${scrapes.length} scrape(s)`)
  if (level === undefined || atStart === undefined || atEnd === undefined) {
    return {ok: false, checks, exitCode: exit.code, resultPath}
  }
  const warmup = statsDelta(zero, atStart.stats)
  const measured = statsDelta(atStart.stats, atEnd.stats)
  const after = finalStats === null ? null : statsDelta(atEnd.stats, finalStats)
  const inFlight = (d: SourceStats) => d.requests - d.completed - totalFailed(d.failed)

  // capplan's exit code: a level with some successful requests is 'complete' (levelStatus), so 0; 9 only
  // when the level failed entirely (README, exit codes).
  const expectedExit = level.summary.requests.completed > 0 ? 0 : 9
  check(`exit code ${expectedExit}`, exit.code === expectedExit, `exit ${exit.code ?? exit.signal}, level status ${level.status}, run status ${result.status}`)
  const stopNote = result.notes.find((note) => note.startsWith(`concurrency ${options.concurrency}:`)) ?? ''
  check('the level ran for its duration (not ended by the --requests cap)', stopNote.startsWith(`concurrency ${options.concurrency}: duration `), stopNote.split(';')[0]!)

  check(
    'warmup: the source served one request per concurrency slot',
    warmup.requests === options.concurrency && inFlight(warmup) === 0,
    `${warmup.requests} requests, ${inFlight(warmup)} in flight at the level start`,
  )
  const warmupNoted = warmupFailuresFromNotes(result.notes)
  check('warmup failures noted = failures injected', warmupNoted === totalFailed(warmup.failed), `capplan note ${warmupNoted}, source ${totalFailed(warmup.failed)}`)

  const recorded = level.requests.length
  const {completed, failed} = level.summary.requests
  check('no request in flight at the source at the level end', inFlight(measured) === 0, `${inFlight(measured)}`)
  check('requests recorded = requests the source served in the level', recorded === measured.requests, `capplan ${recorded}, source ${measured.requests}`)
  check('completed + failed = requests recorded', completed + failed === recorded, `${completed} + ${failed} = ${completed + failed} vs ${recorded}`)
  check('completed = source completed', completed === measured.completed, `capplan ${completed}, source ${measured.completed}`)
  const errors = compareErrors(level.summary.errors, expectedCapplanErrors(measured.failed))
  check('failures by kind = failures injected by kind', errors.match, errors.rows.map((r) => `${r.kind} ${r.capplan}/${r.source}`).join(', '))
  check(
    'nothing after the level (cost, payload) reached the source',
    after !== null && after.requests === 0,
    after === null ? 'the source sent no final stats' : `${after.requests} request(s) after the level`,
  )

  const summaryCheck = compareSummary(level.summary, recomputeSummary(level))
  check(
    'stored summary = summary recomputed from the requests',
    summaryCheck.match,
    `largest relative difference ${summaryCheck.maxRelativeDiff.toExponential(2)} (${summaryCheck.worstField})`,
  )

  const rss = rssReport(samples, {startMs: atStart.tMs, endMs: atEnd.tMs})
  // After the level capplan still writes the file and costs the result: its RSS just before it exited.
  if (rss !== null) rss.beforeExitBytes = samples.at(-1)!.bytes
  // Sampled RSS is a sawtooth between V8's full GCs (garbage piles up to a limit a few times the live heap):
  // with V8 left alone, its end / start depends on where in a tooth each falls, so it is a verdict only when
  // the soak forces a full GC every few seconds (probeEveryMs): then it follows the live data.
  const probeEveryMs = options.probeEveryMs ?? 0
  if (probeEveryMs > 0) {
    check(
      `RSS at the end < 1.5 x RSS at the level start (a full GC forced every ${probeEveryMs / 1000} s)`,
      rss !== null && rss.endOverStart < 1.5,
      rss === null ? 'no samples' : `${mb(rss.startBytes)} -> ${mb(rss.endBytes)} MB (x${rss.endOverStart.toFixed(3)})`,
    )
  }
  // A leak grows the live heap (after a full GC: V8's own and the forced ones) by what each request leaves behind. The level must keep every request record
  // (the file holds them all), so the live heap may grow as fast as those records' JSON, not faster.
  const recordsBytes = Buffer.byteLength(JSON.stringify(level.requests))
  const inLevel = fullGcs.filter((gc) => gc.tMs >= atStart.tMs && gc.tMs <= atEnd.tMs)
  const liveHeap = {
    ...liveHeapTrend(fullGcs, {startMs: atStart.tMs, endMs: atEnd.tMs}),
    naturalFullGcs: inLevel.filter((gc) => !gc.forced).length,
    maxReservedMB: Math.max(0, ...inLevel.map((gc) => gc.reservedMB)),
    recordsJsonMBPerMin: level.summary.durationS > 0 ? recordsBytes / 2 ** 20 / (level.summary.durationS / 60) : null,
  }
  check(
    'live heap (after full GCs) grows no faster than the request records it keeps',
    liveHeap.slopeMBPerMin !== null && liveHeap.recordsJsonMBPerMin !== null && liveHeap.slopeMBPerMin <= LIVE_HEAP_OVER_RECORDS * liveHeap.recordsJsonMBPerMin,
    liveHeap.slopeMBPerMin === null
      ? `too few full GCs in the level to fit a trend (${liveHeap.fittedPoints}; run longer or force them with probeEveryMs)`
      : `${liveHeap.slopeMBPerMin.toFixed(2)} MB/min over ${liveHeap.fittedPoints} full GCs vs the records' ${liveHeap.recordsJsonMBPerMin?.toFixed(2)} MB/min as JSON (limit x${LIVE_HEAP_OVER_RECORDS})`,
  )
  const warning = /MaxListenersExceededWarning|memory leak/i.exec(stderr)
  check(
    'no memory-leak warning from Node on stderr',
    warning === null,
    warning === null ? 'none' : stderr.slice(Math.max(0, warning.index - 20), warning.index + 160).replaceAll('\n', ' '),
  )

  return {
    ok: checks.every((c) => c.ok),
    config: {
      durationS: options.durationMs / 1000,
      concurrency: options.concurrency,
      inputTokens: options.inputTokens,
      outputTokens: options.outputTokens,
      intervalMs: options.intervalMs,
      failRate: options.failRate,
      seed: options.seed,
      requestCap: cap,
      promptSource,
      probeEveryMs,
    },
    exitCode: exit.code,
    resultPath,
    runStatus: result.status,
    levelStatus: level.status,
    requests: {recorded, completed, failed, source: measured, warmup: {source: warmup, capplanNotedFailures: warmupNoted}},
    failuresByKind: errors.rows,
    summary: {
      match: summaryCheck.match,
      maxRelativeDiff: summaryCheck.maxRelativeDiff,
      worstField: summaryCheck.worstField,
      outputTokensPerS: level.summary.throughput.outputTokensPerS,
      ttftP50Ms: level.summary.ttftMs?.p50 ?? null,
      tpotP50Ms: level.summary.tpotMs?.p50 ?? null,
      windowS: level.summary.durationS,
    },
    rss,
    rssSeries: samples
      .filter((x) => x.tMs >= atStart.tMs && x.tMs <= atEnd.tMs)
      .map((x) => [Math.round((x.tMs - atStart.tMs) / 100) / 10, Math.round((x.bytes / 2 ** 20) * 10) / 10]),
    liveHeap,
    checks,
  }
}

/** Text lines of a soak summary. */
export function formatSoak(s: SoakSummary): string {
  const lines: string[] = []
  if (s.config !== undefined && s.requests !== undefined && s.failuresByKind !== undefined && s.summary !== undefined) {
    const c = s.config
    lines.push(
      `soak: capplan bench --engine openai, concurrency ${c.concurrency}, ${c.durationS} s, ${c.inputTokens} in / ${c.outputTokens} out tokens, source fails ${c.failRate * 100}% (seed ${c.seed}), ${c.intervalMs} ms between chunks`,
    )
    lines.push(
      `  requests: ${s.requests.recorded} recorded (${s.requests.completed} ok, ${s.requests.failed} failed), source served ${s.requests.source.requests}; warmup ${s.requests.warmup.source.requests} (${s.requests.warmup.capplanNotedFailures} failed)`,
    )
    lines.push(`  failures by kind (capplan / source): ${s.failuresByKind.map((r) => `${r.kind} ${r.capplan}/${r.source}`).join(', ')}`)
    lines.push(
      `  summary = recomputed from the requests: ${s.summary.match ? 'yes' : 'NO'} (largest relative difference ${s.summary.maxRelativeDiff.toExponential(2)} in ${s.summary.worstField}); ${s.summary.outputTokensPerS.toFixed(1)} output tok/s over ${s.summary.windowS.toFixed(1)} s, TTFT p50 ${s.summary.ttftP50Ms?.toFixed(1)} ms, TPOT p50 ${s.summary.tpotP50Ms?.toFixed(2)} ms`,
    )
    if (s.rss !== null && s.rss !== undefined) {
      const slope = s.rss.slopeMBPerMin === null ? 'n/a' : `${s.rss.slopeMBPerMin >= 0 ? '+' : ''}${s.rss.slopeMBPerMin.toFixed(2)} MB/min`
      lines.push(
        `  capplan RSS: ${mb(s.rss.startBytes)} MB at the level start, ${mb(s.rss.endBytes)} MB at its end (x${s.rss.endOverStart.toFixed(3)}), max ${mb(s.rss.maxBytes)} MB, slope over the middle half ${slope} (${s.rss.samples} samples); ${mb(s.rss.beforeExitBytes)} MB just before exiting`,
      )
    }
    const h = s.liveHeap
    if (h !== undefined && h.points > 0) {
      const slope = h.slopeMBPerMin === null ? 'n/a' : `${h.slopeMBPerMin >= 0 ? '+' : ''}${h.slopeMBPerMin.toFixed(2)} MB/min`
      const forced = c.probeEveryMs > 0 ? `, a full GC forced every ${c.probeEveryMs / 1000} s` : ''
      lines.push(
        `  capplan live heap after full GCs: ${h.firstMB?.toFixed(1)} -> ${h.lastMB?.toFixed(1)} MB, trend ${slope} (${h.points} GCs, ${h.naturalFullGcs} of them V8's own${forced}); the request records it keeps: ${h.recordsJsonMBPerMin?.toFixed(2)} MB/min as JSON; V8 reserved up to ${h.maxReservedMB} MB`,
      )
    }
  }
  for (const c of s.checks) lines.push(`  [${c.ok ? 'ok' : 'FAIL'}] ${c.name}: ${c.detail}`)
  lines.push(`soak: ${s.ok ? 'all checks pass' : 'SOME CHECKS FAIL'}`)
  return lines.join('\n')
}

// ------------------------------------------------------------------------------------------ the source child

type ChildMessage = {type: 'ready'; url: string} | {type: 'scrape'; stats: SourceStats} | {type: 'final'; stats: SourceStats}

interface SourceChild {
  url: string
  onScrape: (stats: SourceStats) => void
  stop(): Promise<SourceStats | null>
}

/**
 * Forks this file as the source's process; resolves once it listens. onScrape(stats) is called for every
 * GET /metrics the source receives, with stats() at that moment; stop() resolves with the final stats.
 */
function startSourceChild(sourceOptions: SseSourceOptions): Promise<SourceChild> {
  return new Promise((resolve, reject) => {
    const self = perfScript('soak')
    const child = fork(self.file, ['--serve-source', JSON.stringify(sourceOptions)], {stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: self.execArgv})
    let stderr = ''
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-4096)))
    let finalStats: SourceStats | null = null
    let stopping: Promise<SourceStats | null> | null = null
    let listening = false
    const handle: SourceChild = {
      url: '',
      onScrape: () => {},
      stop() {
        stopping ??= new Promise((done, fail) => {
          if (finalStats !== null || child.exitCode !== null) {
            done(finalStats)
            return
          }
          child.once('exit', () => (finalStats === null ? fail(new Error(`the source exited without its stats: ${stderr}`)) : done(finalStats)))
          child.send({type: 'stop'})
        })
        return stopping
      },
    }
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'ready') {
        handle.url = message.url
        listening = true
        resolve(handle)
      } else if (message.type === 'scrape') handle.onScrape(message.stats)
      else if (message.type === 'final') finalStats = message.stats
    })
    child.once('exit', (code) => {
      if (!listening) reject(new Error(`the source exited (${code}) before listening: ${stderr}`))
    })
  })
}

/** The child: the source, plus a stats() snapshot sent to the parent on every GET /metrics. */
async function serveSource(sourceOptions: SseSourceOptions): Promise<void> {
  const http = await import('node:http')
  const send = (message: ChildMessage, callback?: () => void) => process.send!(message, undefined, undefined, callback)
  let source: SseSource | null = null
  // Hook the server's 'request' event before the source's handler runs: the snapshot is the state at the
  // moment capplan's scrape arrived.
  type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean
  const emit = http.Server.prototype.emit as Emit
  http.Server.prototype.emit = function (this: unknown, event: string | symbol, ...args: unknown[]) {
    if (event === 'request' && source !== null) {
      const request = args[0] as IncomingMessage
      if (request.method === 'GET' && request.url?.startsWith('/metrics') === true) send({type: 'scrape', stats: source.stats()})
    }
    return emit.call(this, event, ...args)
  }
  const {startSseSource} = await import('./sse-source.js')
  source = await startSseSource(sourceOptions)
  const running = source
  process.on('message', (message: {type?: string}) => {
    if (message.type !== 'stop') return
    const stats = running.stats()
    void running.close().then(() => send({type: 'final', stats}, () => process.exit(0)))
  })
  // The parent died: do not outlive it.
  process.on('disconnect', () => process.exit(0))
  send({type: 'ready', url: source.url})
}

// ------------------------------------------------------------------------------------------ standalone

if (isMainModule(import.meta.url)) {
  const serve = process.argv.indexOf('--serve-source')
  if (serve !== -1) {
    await serveSource(JSON.parse(process.argv[serve + 1]!) as SseSourceOptions)
  } else {
    const {values: flags} = parseArgs({
      options: {
        minutes: {type: 'string', default: '3'},
        concurrency: {type: 'string', default: '64'},
        'interval-ms': {type: 'string', default: '15'},
        'fail-rate': {type: 'string', default: '0.1'},
        seed: {type: 'string', default: '1'},
        'probe-every-s': {type: 'string', default: '0'},
        json: {type: 'boolean', default: false},
        keep: {type: 'boolean', default: false},
      },
    })
    const number = (name: 'minutes' | 'concurrency' | 'interval-ms' | 'fail-rate' | 'seed' | 'probe-every-s', test: (value: number) => boolean) => {
      const value = Number(flags[name])
      if (!test(value)) {
        process.stderr.write(`soak: --${name} ${flags[name]} is out of range\n`)
        process.exit(1)
      }
      return value
    }
    const summary = await runSoak({
      durationMs: number('minutes', (v) => v > 0) * 60_000,
      concurrency: number('concurrency', (v) => Number.isInteger(v) && v >= 1 && v <= 256),
      intervalMs: number('interval-ms', (v) => v >= 0),
      failRate: number('fail-rate', (v) => v >= 0 && v < 1),
      seed: number('seed', Number.isInteger),
      probeEveryMs: number('probe-every-s', (v) => v >= 0) * 1000,
      keep: flags.keep,
      log: (line) => process.stderr.write(`${line}\n`),
    })
    if (flags.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`)
    else console.log(formatSoak(summary))
    if (flags.keep) process.stderr.write(`soak: result file kept: ${summary.resultPath}\n`)
    process.exitCode = summary.ok ? 0 : 1
  }
}
