/**
 * A result file's numbers checked against themselves, before anything is reported or costed: each level's
 * stored summary is recomputed from its stored request records (stats/summarize.ts, the code bench wrote it
 * with) and compared field by field, and what cannot be true is named (no records behind a summary, one load
 * measured twice, a first token after the last, outputs of another length than the run asked for). Pure: the
 * parsed file in, a verdict per level out.
 *
 * - verified: the stored summary is what the level's records give (relative tolerance 1e-6 for floats,
 *   counts exact); the level may be costed.
 * - summary-only: an imported peer file without per-request records (or whose summary comes from the peer's
 *   own totals, not from the samples it kept): reported and costed as the peer measured it, marked "summary
 *   only, not verifiable".
 * - excluded: the summary cannot be trusted (it disagrees with its records, has none, the level is
 *   duplicated, a record or the summary is impossible, the outputs are not the length the run asked for, or
 *   the records never had the level's concurrency in flight): reported, flagged and never costed.
 *
 * Every problem is one sentence naming the file, the level and the field, e.g. "results/x.json level
 * concurrency 4: stored throughput.outputTokensPerS 1e12 but its 8 requests give 21.9".
 */

import {summarizeLevel} from '../stats/summarize.js'
import type {Distribution, LevelRecord, LevelSummary, RequestRecord, ResultFile} from './schema.js'

/** Relative tolerance of a float field (counts and kinds must be equal). */
export const SUMMARY_RELATIVE_TOLERANCE = 1e-6

export const levelVerdicts = ['verified', 'summary-only', 'excluded'] as const
export type LevelVerdict = (typeof levelVerdicts)[number]

/** One stored summary field that the level's records do not give. */
export interface SummaryDisagreement {
  /** Path in the level's summary, e.g. "throughput.outputTokensPerS", "ttftMs.p95", "errors.http". */
  field: string
  /** The stored value (a distribution or goodput as "present" / null, kinds by count). */
  stored: number | string | null
  recomputed: number | string | null
}

/** Successful requests whose output length is not the one the run asked for (ignore-EOS runs only). */
export interface TokenMismatch {
  /** Successful requests with another output length. */
  requests: number
  /** Successful requests of the level. */
  of: number
  /** The output length each request asked for (the workload's outputTokens; a distribution's nominal mean). */
  requested: number
  /** With an output length distribution: the lengths a request could ask for, e.g. "10-20 (uniform)"; absent = exactly `requested`. */
  allowed?: string
  /** The lengths returned instead (distinct, ascending, the first 5). */
  returned: number[]
  /** How many distinct lengths were returned instead (more than `returned` lists when above 5). */
  distinct: number
}

export interface LevelVerification {
  /** Index of the level in the file. */
  index: number
  load: LevelRecord['load']
  verdict: LevelVerdict
  /** Request records the level stores. */
  requestsStored: number
  /** Stored summary fields its records do not give (empty when verified or not recomputable). */
  disagreements: SummaryDisagreement[]
  /** Short reason for the tables (why excluded or not verifiable); '' when verified. */
  reason: string
  /** Why the level is excluded or not verifiable: sentences naming the file, the level and the field. */
  problems: string[]
  /** Flagged but still costed: streamed token counts unlike the server's. */
  warnings: string[]
  /**
   * Most requests in flight at once by the stored records (each from its start to its last content event; a
   * lower bound, requests without content left out); null without records or for imported files.
   */
  peakInFlight: number | null
  /** null when not checkable (imports, runs without ignore-EOS, no records). */
  tokenMismatch: TokenMismatch | null
}

export interface ResultVerification {
  /** The worst level's verdict (excluded > summary-only > verified); verified for a file without levels. */
  verdict: LevelVerdict
  levels: LevelVerification[]
}

export interface VerifyOptions {
  /** The peer format the result was imported from (results/import), or null for capplan's own file. */
  importedFrom: string | null
}

const relativeDiff = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b)))
const close = (a: number, b: number) => relativeDiff(a, b) <= SUMMARY_RELATIVE_TOLERANCE

/** A number in a sentence: 6 significant digits, exponent notation ("1e12", "2.19e-5") when very large or small. */
export function formatValue(value: number | string | null): string {
  if (value === null) return 'null'
  if (typeof value === 'string') return value
  if (!Number.isFinite(value)) return String(value)
  const size = Math.abs(value)
  if (size !== 0 && (size >= 1e6 || size < 1e-3)) return Number(value.toPrecision(4)).toExponential().replace('e+', 'e')
  return String(Number(value.toPrecision(6)))
}

/** "concurrency 4", "0.5 req/s". */
export function levelLoadText(load: LevelRecord['load']): string {
  return load.kind === 'concurrency' ? `concurrency ${formatValue(load.value)}` : `${formatValue(load.value)} req/s`
}

const distributionFields = ['count', 'mean', 'stdev', 'min', 'p50', 'p90', 'p95', 'p99', 'max'] as const
const distributionKeys = ['ttftMs', 'tpotMs', 'itlMsPerToken', 'itlMsPerChunk', 'e2eMs'] as const

/** Every field where `stored` differs from `recomputed`: counts and kinds exactly, floats within the tolerance. */
export function summaryDisagreements(stored: LevelSummary, recomputed: LevelSummary): SummaryDisagreement[] {
  const out: SummaryDisagreement[] = []
  const exact = (field: string, a: number | string | null, b: number | string | null) => {
    if (a !== b) out.push({field, stored: a, recomputed: b})
  }
  const float = (field: string, a: number | null, b: number | null) => {
    if (a === null || b === null ? a !== b : !close(a, b)) out.push({field, stored: a, recomputed: b})
  }
  exact('requests.completed', stored.requests.completed, recomputed.requests.completed)
  exact('requests.failed', stored.requests.failed, recomputed.requests.failed)
  float('durationS', stored.durationS, recomputed.durationS)
  for (const key of ['outputTokensPerS', 'inputTokensPerS', 'totalTokensPerS', 'requestsPerS'] as const) {
    float(`throughput.${key}`, stored.throughput[key], recomputed.throughput[key])
  }
  for (const key of distributionKeys) {
    const a: Distribution | null = stored[key]
    const b: Distribution | null = recomputed[key]
    if (a === null || b === null) {
      if (a !== b) out.push({field: key, stored: a === null ? null : `${a.count} samples`, recomputed: b === null ? null : `${b.count} samples`})
      continue
    }
    for (const field of distributionFields) {
      if (field === 'count') exact(`${key}.count`, a.count, b.count)
      else float(`${key}.${field}`, a[field], b[field])
    }
  }
  float('perUserTokensPerS', stored.perUserTokensPerS, recomputed.perUserTokensPerS)
  if (stored.goodput === null || recomputed.goodput === null) {
    if (stored.goodput !== recomputed.goodput) out.push({field: 'goodput', stored: stored.goodput === null ? null : 'present', recomputed: recomputed.goodput === null ? null : 'present'})
  } else {
    exact('goodput.requests', stored.goodput.requests, recomputed.goodput.requests)
    float('goodput.requestsPerS', stored.goodput.requestsPerS, recomputed.goodput.requestsPerS)
    float('goodput.outputTokensPerS', stored.goodput.outputTokensPerS, recomputed.goodput.outputTokensPerS)
    float('goodput.fraction', stored.goodput.fraction, recomputed.goodput.fraction)
  }
  const kinds = [...new Set([...Object.keys(stored.errors), ...Object.keys(recomputed.errors)])].sort() as (keyof LevelSummary['errors'])[]
  for (const kind of kinds) exact(`errors.${kind}`, stored.errors[kind] ?? 0, recomputed.errors[kind] ?? 0)
  exact('tokenMismatches', stored.tokenMismatches, recomputed.tokenMismatches)
  return out
}

/**
 * What no summary can hold whatever its records (checked where there is nothing to recompute from): the
 * percentiles out of order, the first token after the last, total throughput other than input + output,
 * more requests meeting the SLO than succeeded.
 */
export function impossibleSummaryValues(summary: LevelSummary): string[] {
  const out: string[] = []
  const slack = (a: number, b: number) => a <= b || close(a, b)
  for (const key of distributionKeys) {
    const d = summary[key]
    if (d === null) continue
    const order = ['min', 'p50', 'p90', 'p95', 'p99', 'max'] as const
    for (let i = 1; i < order.length; i++) {
      if (!slack(d[order[i - 1]!], d[order[i]!])) out.push(`stored ${key}.${order[i - 1]} ${formatValue(d[order[i - 1]!])} > ${key}.${order[i]} ${formatValue(d[order[i]!])}`)
    }
    if (!slack(d.min, d.mean) || !slack(d.mean, d.max)) out.push(`stored ${key}.mean ${formatValue(d.mean)} lies outside [min ${formatValue(d.min)}, max ${formatValue(d.max)}]`)
  }
  const {ttftMs: ttft, e2eMs: e2e} = summary
  if (ttft !== null && e2e !== null && ttft.count === e2e.count) {
    // Per request TTFT <= E2E, so every order statistic (and every percentile) of TTFT is <= E2E's.
    for (const p of ['min', 'p50', 'p90', 'p95', 'p99', 'max'] as const) {
      if (!slack(ttft[p], e2e[p])) {
        out.push(`stored ttftMs.${p} ${formatValue(ttft[p])} > e2eMs.${p} ${formatValue(e2e[p])}: the first token cannot come after the last`)
        break
      }
    }
  }
  const t = summary.throughput
  if (!close(t.totalTokensPerS, t.outputTokensPerS + t.inputTokensPerS) && !(t.totalTokensPerS === 0 && t.outputTokensPerS + t.inputTokensPerS === 0)) {
    out.push(
      `stored throughput.totalTokensPerS ${formatValue(t.totalTokensPerS)} is not inputTokensPerS + outputTokensPerS (${formatValue(t.inputTokensPerS + t.outputTokensPerS)})`,
    )
  }
  if (summary.goodput !== null && summary.goodput.requests > summary.requests.completed) {
    out.push(`stored goodput.requests ${summary.goodput.requests} > requests.completed ${summary.requests.completed}`)
  }
  return out
}

/** Records that cannot be a measurement (capplan's own files: recorded by loadgen/request.ts within the window). */
function impossibleRecords(level: LevelRecord, imported: boolean): {problems: string[]; short: string[]} {
  const problems: string[] = []
  const short = new Set<string>()
  const ttftAfterE2e: string[] = []
  const other: string[] = []
  const eps = (value: number) => Math.max(1e-6, Math.abs(value) * SUMMARY_RELATIVE_TOLERANCE)
  for (const request of level.requests) {
    const id = `request ${request.index}`
    if (request.ttftMs !== null && request.e2eMs !== null && request.ttftMs > request.e2eMs + eps(request.e2eMs)) {
      ttftAfterE2e.push(`${id}: ttftMs ${formatValue(request.ttftMs)} > e2eMs ${formatValue(request.e2eMs)}`)
    }
    if (imported) continue
    const offsets = request.chunkOffsetsMs
    const first = offsets[0] ?? null
    const last = offsets.at(-1) ?? null
    if ((request.ttftMs === null) !== (first === null) || (first !== null && request.ttftMs !== null && !close(first, request.ttftMs))) {
      other.push(`${id}: ttftMs ${formatValue(request.ttftMs)} is not its first chunk offset ${formatValue(first)}`)
    }
    if ((request.e2eMs === null) !== (last === null) || (last !== null && request.e2eMs !== null && !close(last, request.e2eMs))) {
      other.push(`${id}: e2eMs ${formatValue(request.e2eMs)} is not its last chunk offset ${formatValue(last)}`)
    }
    const streamed = request.chunkTokens === null ? offsets.length : request.chunkTokens.reduce((sum, n) => sum + n, 0)
    if (streamed !== request.countedTokens) other.push(`${id}: countedTokens ${request.countedTokens} but its chunks carry ${streamed}`)
    if (request.startMs < level.window.startMs - eps(level.window.startMs)) {
      other.push(`${id}: starts at ${formatValue(request.startMs)} ms, before the level's window (${formatValue(level.window.startMs)} ms)`)
    } else if (request.e2eMs !== null && request.startMs + request.e2eMs > level.window.endMs + eps(level.window.endMs)) {
      other.push(`${id}: ends at ${formatValue(request.startMs + request.e2eMs)} ms, after the level's window (${formatValue(level.window.endMs)} ms)`)
    }
  }
  const listed = (items: string[]) => items.slice(0, 3).join('; ') + (items.length > 3 ? `; and ${items.length - 3} more` : '')
  if (ttftAfterE2e.length > 0) {
    problems.push(`${ttftAfterE2e.length} request record(s) have their first token after their last (${listed(ttftAfterE2e)})`)
    short.add('impossible request records (TTFT > E2E)')
  }
  if (other.length > 0) {
    problems.push(`${other.length} request record(s) contradict themselves or the level's window (${listed(other)})`)
    short.add('request records that contradict themselves')
  }
  return {problems, short: [...short]}
}

/**
 * Most requests in flight at once: each record from its start to its last content event (a request without
 * content has no known end and is left out), ends before starts at the same instant. A lower bound.
 */
export function peakInFlight(requests: readonly RequestRecord[]): number {
  const events: [number, number][] = []
  for (const request of requests) {
    if (request.e2eMs === null) continue
    events.push([request.startMs, 1], [request.startMs + request.e2eMs, -1])
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let now = 0
  let peak = 0
  for (const [, step] of events) {
    now += step
    if (now > peak) peak = now
  }
  return peak
}

/** The output lengths a request of a distribution could ask for: a test and how to say it. */
export interface AllowedLengths {
  test: (tokens: number) => boolean
  text: string
}

/**
 * What each request of the run asked for, from its recorded workload: undefined = exactly outputTokens (fixed
 * lengths); the lengths of its output distribution (uniform / normal / lognormal are drawn within [min, max],
 * a histogram from its bins' lengths); 'unknown' for a replayed trace, whose per-request lengths are in the
 * trace file, not in the result file (the check cannot be made, so it is not).
 */
export function allowedOutputLengths(workload: ResultFile['workload']): AllowedLengths | undefined | 'unknown' {
  const shape = workload.shape
  if (shape === undefined) return undefined
  if (shape.trace !== null) return 'unknown'
  const output = shape.output
  switch (output.kind) {
    case 'fixed':
      return undefined
    case 'histogram': {
      const lengths = new Set(output.bins.map((bin) => bin.tokens))
      return {test: (tokens) => lengths.has(tokens), text: `one of the histogram's ${lengths.size} lengths`}
    }
    default:
      return {test: (tokens) => tokens >= output.min && tokens <= output.max, text: `${output.min}-${output.max} (${output.kind})`}
  }
}

/** Successful requests returning another output length than the run asked for; null when not checkable. */
export function tokenMismatchOf(level: LevelRecord, requested: number, allowed?: AllowedLengths): TokenMismatch | null {
  const succeeded = level.requests.filter((request) => request.error === null)
  if (succeeded.length === 0) return null
  const wrong = succeeded.filter((request) => (allowed === undefined ? request.outputTokens !== requested : !allowed.test(request.outputTokens)))
  if (wrong.length === 0) return null
  const lengths = [...new Set(wrong.map((request) => request.outputTokens))].sort((a, b) => a - b)
  return {requests: wrong.length, of: succeeded.length, requested, ...(allowed === undefined ? {} : {allowed: allowed.text}), returned: lengths.slice(0, 5), distinct: lengths.length}
}

/** "token mismatch: 3 of 4 requests returned a different output length than requested (64 tokens; returned 48, 50)" */
export function tokenMismatchText(mismatch: TokenMismatch): string {
  return (
    `token mismatch: ${mismatch.requests} of ${mismatch.of} requests returned a different output length than requested ` +
    `(${mismatch.allowed ?? mismatch.requested} tokens; returned ${mismatch.returned.join(', ')}${mismatch.distinct > mismatch.returned.length ? ', ...' : ''})`
  )
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

function verifyLevel(file: string, result: ResultFile, index: number, sameLoad: readonly number[], options: VerifyOptions): LevelVerification {
  const level = result.levels[index]!
  const imported = options.importedFrom !== null
  const label = `${file} level ${levelLoadText(level.load)}`
  const stored = level.summary
  const records = level.requests.length
  const problems: string[] = []
  const reasons: string[] = []
  const warnings: string[] = []
  let unverifiable: string | null = null
  let disagreements: SummaryDisagreement[] = []

  if (sameLoad.length > 1) {
    problems.push(
      `${label}: the file holds ${sameLoad.length} levels at this load (levels ${sameLoad.map((i) => `#${i + 1}`).join(', ')}): which one measured it cannot be told, so none is costed`,
    )
    reasons.push(`duplicated level (${sameLoad.length} at this load in one file)`)
  }

  const claimed = stored.requests.completed + stored.requests.failed
  if (records === 0) {
    if (imported) {
      unverifiable = `${label}: summary only, not verifiable (imported from ${options.importedFrom} without per-request records)`
    } else if (claimed > 0) {
      problems.push(
        `${label}: stored requests.completed ${stored.requests.completed} and requests.failed ${stored.requests.failed} but the level stores no request records: its summary cannot be recomputed`,
      )
      reasons.push(`no request records behind its summary (${stored.requests.completed} ok claimed)`)
    }
  }
  if (records > 0 || (!imported && claimed === 0)) {
    const recomputed = summarizeLevel(level.requests, level.window, stored.goodput?.slo)
    disagreements = summaryDisagreements(stored, recomputed)
    if (disagreements.length > 0) {
      const fields = disagreements.map((d) => d.field)
      const shown = fields.slice(0, 3).join(', ') + (fields.length > 3 ? `, +${fields.length - 3} more` : '')
      if (imported) {
        unverifiable =
          `${label}: summary only, not verifiable: its ${plural(records, 'stored request sample')} do not give the imported ${options.importedFrom} summary ` +
          `(${shown}), which keeps the peer's own totals and leaves out what the samples cannot say`
      } else {
        for (const d of disagreements) {
          problems.push(`${label}: stored ${d.field} ${formatValue(d.stored)} but its ${plural(records, 'request')} give ${formatValue(d.recomputed)}`)
        }
        reasons.push(`its stored summary disagrees with its ${plural(records, 'request')} (${shown})`)
      }
    }
  }
  // Nothing recomputed the summary (an import's own numbers): at least it must be possible.
  if (unverifiable !== null) {
    const impossible = impossibleSummaryValues(stored)
    for (const text of impossible) problems.push(`${label}: ${text}`)
    if (impossible.length > 0) reasons.push(`impossible summary values (${impossible.length})`)
  }
  if (records > 0) {
    const bad = impossibleRecords(level, imported)
    for (const text of bad.problems) problems.push(`${label}: ${text}`)
    reasons.push(...bad.short)
  }

  let tokenMismatch: TokenMismatch | null = null
  let peak: number | null = null
  if (!imported && records > 0) {
    const allowed = allowedOutputLengths(result.workload)
    if (result.workload.ignoreEos && allowed !== 'unknown') {
      tokenMismatch = tokenMismatchOf(level, result.workload.outputTokens, allowed)
      if (tokenMismatch !== null) {
        problems.push(
          `${label}: ${tokenMismatchText(tokenMismatch)}: the throughput and the input:output ratio of the cost would rest on lengths the run did not ask for, so it is not costed`,
        )
        reasons.push(`token mismatch: ${tokenMismatch.requests} of ${tokenMismatch.of} requests returned a different output length than requested`)
      }
    }
    const succeeded = level.requests.filter((request) => request.error === null)
    const streamedOther = succeeded.filter((request) => request.countedTokens !== request.outputTokens)
    if (streamedOther.length > 0) {
      const example = streamedOther[0]!
      warnings.push(
        `${label}: ${streamedOther.length} of ${succeeded.length} requests streamed a different number of tokens than the server reported ` +
          `(e.g. request ${example.index}: ${example.countedTokens} streamed, ${example.outputTokens} reported); throughput uses the server's count`,
      )
    }
    peak = peakInFlight(level.requests)
    // A request without content has no known end: the peak is then a lower bound, and only fewer records
    // than the concurrency prove the load was never reached. Such a level's place on the load axis is wrong:
    // the operating point (the highest load meeting the SLO) would rank it above levels that carried more.
    const concurrency = level.load.value
    if (level.load.kind === 'concurrency' && records < concurrency) {
      problems.push(
        `${label}: only ${plural(records, 'request')} stored, fewer than its concurrency: never more than ${records} in flight, ` +
          `so it did not measure concurrency ${formatValue(concurrency)} and is not costed`,
      )
      reasons.push(`only ${plural(records, 'request')} for concurrency ${formatValue(concurrency)}`)
    } else if (level.load.kind === 'concurrency' && peak < concurrency && level.requests.every((request) => request.e2eMs !== null)) {
      problems.push(
        `${label}: never had more than ${peak} request${peak === 1 ? '' : 's'} in flight (${plural(records, 'request')} stored): ` +
          `it did not measure concurrency ${formatValue(concurrency)}, so it is not costed`,
      )
      reasons.push(`peak in flight ${peak} < concurrency ${formatValue(concurrency)}`)
    }
  }

  const verdict: LevelVerdict = problems.length > 0 ? 'excluded' : unverifiable !== null ? 'summary-only' : 'verified'
  const reason = verdict === 'excluded' ? reasons.join('; ') : verdict === 'summary-only' ? 'summary only, not verifiable' : ''
  return {
    index,
    load: {...level.load},
    verdict,
    requestsStored: records,
    disagreements,
    reason,
    problems: unverifiable === null ? problems : [...problems, unverifiable],
    warnings,
    peakInFlight: peak,
    tokenMismatch,
  }
}

/** Every level of `result` checked; `file` names it in every sentence. */
export function verifyResult(file: string, result: ResultFile, options: VerifyOptions): ResultVerification {
  const byLoad = new Map<string, number[]>()
  result.levels.forEach((level, index) => {
    const key = `${level.load.kind}:${level.load.value}`
    byLoad.set(key, [...(byLoad.get(key) ?? []), index])
  })
  const levels = result.levels.map((level, index) => verifyLevel(file, result, index, byLoad.get(`${level.load.kind}:${level.load.value}`)!, options))
  const verdict: LevelVerdict = levels.some((l) => l.verdict === 'excluded') ? 'excluded' : levels.some((l) => l.verdict === 'summary-only') ? 'summary-only' : 'verified'
  return {verdict, levels}
}

/** The levels that must not be costed (index -> short reason), for the operating point's `excluded`. */
export function unverifiedLevels(verification: ResultVerification): Map<number, string> {
  const excluded = new Map<number, string>()
  for (const level of verification.levels) if (level.verdict === 'excluded') excluded.set(level.index, level.reason)
  return excluded
}
