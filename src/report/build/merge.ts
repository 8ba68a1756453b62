import {invalidInput} from '../../lib/errors.js'
import type {LevelRecord, RequestRecord, ResultFile} from '../../results/schema.js'
import {summarizeLevel} from '../../stats/summarize.js'

/**
 * `capplan report --merge`: the result files of several capplan processes that loaded ONE endpoint at the same
 * time (each at a share of the load) as one result, one level per load they all measured.
 *
 * Alignment, by wall clock: a file's times are monotonic ms relative to its own run's t0, and its `createdAt`
 * is the wall-clock time read right after t0 (loadgen/run.ts). So a level's window in wall-clock ms is
 * createdAt + window.startMs .. createdAt + window.endMs; it is only as good as the clocks of the machines
 * (NTP: a few ms) and createdAt's 1 ms resolution. The merged level's window is the OVERLAP of the files'
 * windows (latest start .. earliest end); levels whose windows do not overlap are refused.
 *
 * The merged level: load = the sum of the files' loads (64 + 64 in flight = 128 at the endpoint); requests =
 * every file's requests that STARTED inside the overlap (the ones sent while all processes were loading), on the
 * first file's clock; its window = the first of them's start .. the last of them's end, and its summary =
 * summarizeLevel over them, the same rules as one process's level (tokens of its requests / its window): so the
 * throughputs add up over the common window, and the latency percentiles are over the pooled samples.
 */

export interface MergeSource {
  source: string
  result: ResultFile
}

export interface MergedResult {
  result: ResultFile
  /** Lines for the user: what was merged and how (also in the merged result's notes). */
  notes: string[]
  /** Loads not measured by every file: left out. */
  skippedLoads: string[]
}

/** A level's window shorter than this share covered by the overlap is named in the notes (the merge is then mostly one process). */
export const LOW_OVERLAP_SHARE = 0.9

const loadText = (load: LevelRecord['load']) => (load.kind === 'concurrency' ? `concurrency ${load.value}` : `${load.value} req/s`)
const iso = (ms: number) => new Date(ms).toISOString()

/** What must be equal for the files to be one experiment (one model, quantization, engine kind and workload). */
function sameExperiment(first: MergeSource, other: MergeSource): void {
  const a = first.result
  const b = other.result
  const checks: [string, unknown, unknown][] = [
    ['model profile', a.model.profile, b.model.profile],
    ['quantization', a.model.quant, b.model.quant],
    ['engine', a.engine.kind, b.engine.kind],
    ['endpoint', a.engine.endpoint, b.engine.endpoint],
    ['input tokens', a.workload.inputTokens, b.workload.inputTokens],
    ['output tokens', a.workload.outputTokens, b.workload.outputTokens],
  ]
  for (const [what, x, y] of checks) {
    if (x !== y) {
      throw invalidInput(
        `--merge: ${other.source} measured ${what} ${String(y)}, ${first.source} ${String(x)}: only files of one experiment merge into one level.`,
        'Merge the files of processes that ran the same bench command against the same endpoint at the same time.',
      )
    }
  }
}

/** The files as one result (see the module comment). Throws INVALID_INPUT (exit 3) naming the file and level. */
export function mergeResults(sources: readonly MergeSource[], id: string): MergedResult {
  if (sources.length < 2) throw invalidInput(`--merge needs at least two result files (got ${sources.length}).`, 'e.g. capplan report --merge a.json b.json')
  const first = sources[0]!
  for (const other of sources.slice(1)) sameExperiment(first, other)
  const origins = sources.map(({source, result}) => {
    const ms = Date.parse(result.createdAt)
    if (!Number.isFinite(ms)) throw invalidInput(`--merge: ${source} has no readable createdAt (${result.createdAt}).`, 'Merge capplan result files.')
    return ms
  })
  const origin0 = origins[0]!
  const levels: LevelRecord[] = []
  const notes: string[] = []
  const skippedLoads: string[] = []
  for (const level0 of first.result.levels) {
    const matching = sources.map(({result}) => result.levels.find((l) => l.load.kind === level0.load.kind && l.load.value === level0.load.value))
    if (matching.some((level) => level === undefined)) {
      skippedLoads.push(loadText(level0.load))
      continue
    }
    const matched = matching as LevelRecord[]
    // Everything on the first file's clock (ms since its t0): file i's times + (its createdAt - the first's).
    // The first file's shift is exactly 0, so its own times are not rounded through epoch milliseconds.
    const shifts = origins.map((origin) => origin - origin0)
    const walls = matched.map((level, i) => ({start: shifts[i]! + level.window.startMs, end: shifts[i]! + level.window.endMs}))
    const start = Math.max(...walls.map((w) => w.start))
    const end = Math.min(...walls.map((w) => w.end))
    if (!(end > start)) {
      throw invalidInput(
        `--merge: the ${loadText(level0.load)} levels do not overlap in time: ${sources.map((s, i) => `${s.source} ${iso(origin0 + walls[i]!.start)} .. ${iso(origin0 + walls[i]!.end)}`).join(', ')}.`,
        'Start the capplan processes together (their windows are aligned by wall clock: createdAt + the level window).',
      )
    }
    // Every file's requests that started inside the overlap.
    const requests: RequestRecord[] = []
    for (const [i, level] of matched.entries()) {
      for (const request of level.requests) {
        const startMs = shifts[i]! + request.startMs
        if (startMs >= start && startMs <= end) requests.push({...request, startMs})
      }
    }
    requests.sort((x, y) => x.startMs - y.startMs)
    const renumbered = requests.map((request, index) => ({...request, index}))
    // The rule of one process's level: its window spans its first request's start to its last request's end.
    let windowStart = Infinity
    let windowEnd = -Infinity
    for (const request of renumbered) {
      windowStart = Math.min(windowStart, request.startMs)
      windowEnd = Math.max(windowEnd, request.startMs + (request.e2eMs ?? 0))
    }
    const window = renumbered.length === 0 ? {startMs: start, endMs: end} : {startMs: windowStart, endMs: Math.max(windowStart, windowEnd)}
    const slo = level0.summary.goodput?.slo
    const shares = walls.map((w) => (end - start) / Math.max(1e-9, w.end - w.start))
    const low = shares.flatMap((share, i) => (share < LOW_OVERLAP_SHARE ? [`${sources[i]!.source} ${(share * 100).toFixed(1)}%`] : []))
    notes.push(
      `${loadText(level0.load)} x ${sources.length} files -> ${level0.load.kind === 'concurrency' ? 'concurrency' : 'rate'} ${matched.reduce((sum, l) => sum + l.load.value, 0)}: the windows overlap ${iso(origin0 + start)} .. ${iso(origin0 + end)} (${((end - start) / 1000).toFixed(3)} s), ${renumbered.length} of ${matched.reduce((sum, l) => sum + l.requests.length, 0)} requests started in it; merged window their first start .. last end (${((window.endMs - window.startMs) / 1000).toFixed(3)} s)` +
        (low.length > 0 ? `; WARNING: the overlap covers only ${low.join(', ')} of these windows` : ''),
    )
    levels.push({
      load: {kind: level0.load.kind, value: matched.reduce((sum, l) => sum + l.load.value, 0)},
      warmupRequests: matched.reduce((sum, l) => sum + l.warmupRequests, 0),
      window,
      status: matched.every((l) => l.status === 'complete') ? 'complete' : matched.some((l) => l.status === 'failed') ? 'failed' : 'partial',
      requests: renumbered,
      summary: summarizeLevel(renumbered, window, slo),
      telemetry: null,
      serverMetrics: null,
    })
  }
  // Loads of the other files that the first one lacks are left out too.
  for (const {result} of sources.slice(1)) {
    for (const level of result.levels) {
      const text = loadText(level.load)
      if (!first.result.levels.some((l) => l.load.kind === level.load.kind && l.load.value === level.load.value) && !skippedLoads.includes(text)) skippedLoads.push(text)
    }
  }
  if (levels.length === 0) {
    throw invalidInput(
      `--merge: no load was measured by every file (${sources.map((s) => `${s.source}: ${s.result.levels.map((l) => loadText(l.load)).join(', ') || 'none'}`).join('; ')}).`,
      'Merge files of processes run with the same --concurrency / --rate.',
    )
  }
  const header = `merged by capplan report --merge from ${sources.map((s) => s.source).join(', ')}, aligned by wall clock (createdAt + level window; as good as the machines' clocks)`
  const allNotes = [header, ...notes, ...(skippedLoads.length > 0 ? [`left out (not measured by every file): ${skippedLoads.join(', ')}`] : [])]
  return {
    result: {
      ...first.result,
      id,
      levels,
      status: sources.every((s) => s.result.status === 'complete') ? 'complete' : 'partial',
      notes: [...first.result.notes, ...allNotes],
    },
    notes: allNotes,
    skippedLoads,
  }
}
