/**
 * The operating point of a result: the highest measured load whose latency percentiles meet the SLO, and
 * the throughput there. That throughput (aggregate, batched, at the latency users accept) is what the cost
 * model may multiply by 24/7 — never a batch-1 number, never a load past the last one measured.
 *
 * Pure: levels + SLO in, a decision out (with the per-level checks that justify it).
 */

import type {ReportedLatency} from '../../results/reported-latency.js'
import type {LevelRecord, LoadKind, SloSpec} from '../../results/schema.js'
import {formatSlo} from '../../stats/slo.js'

export const sloPercentiles = ['p50', 'p90', 'p95', 'p99'] as const
export type SloPercentile = (typeof sloPercentiles)[number]

/** p95 -> 0.95: the share of requests that must meet a threshold. */
export function percentileFraction(percentile: SloPercentile): number {
  return Number(percentile.slice(1)) / 100
}

export type SloMetric = 'ttft' | 'tpot' | 'e2e'
const metricKeys = {ttft: 'ttftMs', tpot: 'tpotMs', e2e: 'e2eMs'} as const
const sloMetrics: SloMetric[] = ['ttft', 'tpot', 'e2e']

export interface MetricCheck {
  metric: SloMetric
  /** The level's percentile of the metric (ms); null when the level has no sample of it. */
  valueMs: number | null
  thresholdMs: number
  ok: boolean
  /**
   * The tool whose own reported statistic was checked (a level without per-request samples, e.g. "vLLM");
   * absent when capplan's distribution was.
   */
  reportedBy?: string
  /**
   * The reported statistic the check used when the tool did not report the SLO's percentile but another one
   * settles it (a higher percentile within the threshold, or a lower one over it), e.g. 'p99' for a p95 SLO.
   */
  boundBy?: string
  /** The tool reported nothing that settles this metric at the SLO's percentile (the level cannot meet it). */
  unknown?: boolean
}

export interface LevelSloCheck {
  /** Index of the level in the result file. */
  index: number
  load: {kind: LoadKind; value: number}
  meets: boolean
  checks: MetricCheck[]
  /** Failed requests / all requests of the level. */
  failedFraction: number
  /** Why the level does not meet the SLO ('' when it does). */
  reason: string
}

export type OperatingPointKind = 'measured' | 'interpolated' | 'none' | 'unchecked'

export interface OperatingPoint {
  /**
   * measured: a measured level; interpolated: between two measured levels (linear, marked); none: no level
   * meets the SLO (nothing to cost); unchecked: the source has no latency under load, so the SLO could not be
   * checked and the highest level's throughput is used as is (imports such as llama-bench).
   */
  kind: OperatingPointKind
  slo: SloSpec
  percentile: SloPercentile
  load: {kind: LoadKind; value: number} | null
  outputTokensPerS: number | null
  inputTokensPerS: number | null
  totalTokensPerS: number | null
  requestsPerS: number | null
  /** Latency percentiles at the operating point (interpolated linearly when kind is 'interpolated'). */
  latencyMs: Record<SloMetric, number | null>
  /** The measured level used (the lower one when interpolated); null when none. */
  levelIndex: number | null
  interpolation: {
    lowerLoad: number
    upperLoad: number
    /** 0..1 along the segment from the lower to the upper level. */
    fraction: number
    /** The metric that reaches its threshold first. */
    bindingMetric: SloMetric
  } | null
  /** The SLO holds even at the highest measured load: capacity may be higher, but capplan never extrapolates. */
  limitedByMeasurements: boolean
  checks: LevelSloCheck[]
  explanation: string
}

export interface OperatingPointOptions {
  percentile?: SloPercentile
  /** Allow interpolation between the last level that meets the SLO and the next one (default true). */
  interpolate?: boolean
  /** false for sources without latency under load: the SLO is not checked (kind 'unchecked'). */
  latencyMeasured?: boolean
  /**
   * Levels that must never be used (index in the file -> why), e.g. a throughput above the physical ceiling:
   * they do not meet the SLO, nothing interpolates towards them, and the reason is shown.
   */
  excluded?: ReadonlyMap<number, string>
}

const ms = (value: number) => `${Number(value.toFixed(2))} ms`

/** "p50" is "median" in the peers' own words (vLLM, SGLang); the others keep their names. */
const statName = (stat: string) => (stat === 'p50' ? 'median' : stat)

/**
 * The tool's own statistic of a level without per-request samples: its value at `percentile`, or null with
 * the statistics it does have. Undefined when the level has samples of the metric or no reported ones.
 */
function reportedAt(
  level: LevelRecord,
  metric: SloMetric,
  percentile: SloPercentile,
): {source: string; valueMs: number | null; has: string[]; stats: Partial<Record<string, number>>} | undefined {
  const reported: ReportedLatency | undefined = level.reported
  if (reported === undefined || level.summary[metricKeys[metric]] !== null) return undefined
  const stats = reported[metricKeys[metric]] ?? {}
  return {source: reported.source, valueMs: stats[percentile] ?? null, has: Object.keys(stats).map(statName), stats}
}

const rank = (stat: string) => (stat.startsWith('p') ? Number(stat.slice(1)) : null)

/**
 * A percentile the tool did not report, settled by one it did: a higher percentile within the threshold means
 * this one is too; a lower one (the median) over it means this one is over it too. Null when none settles it.
 */
function bound(stats: Partial<Record<string, number>>, percentile: SloPercentile, thresholdMs: number): {stat: string; valueMs: number; ok: boolean} | null {
  const wanted = rank(percentile)!
  const entries = Object.entries(stats).flatMap(([stat, value]) => (rank(stat) === null || value === undefined ? [] : [{stat, value, rank: rank(stat)!}]))
  const above = entries.filter((e) => e.rank > wanted && e.value <= thresholdMs).sort((a, b) => a.rank - b.rank)[0]
  if (above !== undefined) return {stat: above.stat, valueMs: above.value, ok: true}
  const below = entries.filter((e) => e.rank < wanted && e.value > thresholdMs).sort((a, b) => b.rank - a.rank)[0]
  if (below !== undefined) return {stat: below.stat, valueMs: below.value, ok: false}
  return null
}

function checkLevel(level: LevelRecord, index: number, slo: SloSpec, percentile: SloPercentile, excludedReason?: string): LevelSloCheck {
  const {summary} = level
  const total = summary.requests.completed + summary.requests.failed
  const failedFraction = total === 0 ? 0 : summary.requests.failed / total
  const checks: MetricCheck[] = []
  const missingReported: string[] = []
  for (const metric of sloMetrics) {
    const thresholdMs = slo[metricKeys[metric]]
    if (thresholdMs === undefined) continue
    const reported = reportedAt(level, metric, percentile)
    if (reported !== undefined) {
      // The tool's own number, checked as it is. A percentile it did not report is never guessed: another
      // reported percentile may settle it (a bound), else the level cannot meet it and the reason says so.
      if (reported.valueMs !== null) {
        checks.push({metric, valueMs: reported.valueMs, thresholdMs, ok: reported.valueMs <= thresholdMs, reportedBy: reported.source})
        continue
      }
      const settled = bound(reported.stats, percentile, thresholdMs)
      if (settled !== null) {
        checks.push({metric, valueMs: settled.valueMs, thresholdMs, ok: settled.ok, reportedBy: reported.source, boundBy: settled.stat})
        if (!settled.ok) {
          missingReported.push(
            `${reported.source} reported no ${statName(percentile)} ${metric.toUpperCase()}, but its ${statName(settled.stat)} ${ms(settled.valueMs)} > ${ms(thresholdMs)} already`,
          )
        }
        continue
      }
      checks.push({metric, valueMs: null, thresholdMs, ok: false, reportedBy: reported.source, unknown: true})
      missingReported.push(
        `${reported.source} reported no ${statName(percentile)} ${metric.toUpperCase()}` +
          (reported.has.length === 0 ? '' : ` (it has ${reported.has.join(', ')}: try --percentile ${reported.has.includes('p99') ? 'p99' : 'p50'})`),
      )
      continue
    }
    const distribution = summary[metricKeys[metric]]
    const valueMs = distribution === null ? null : distribution[percentile]
    // No TPOT sample = every request had <= 1 output token: it has no per-token time to exceed (vLLM's
    // goodput convention, as meetsSlo). No TTFT/E2E sample = no request produced anything: fails.
    const ok = valueMs === null ? metric === 'tpot' && summary.requests.completed > 0 : valueMs <= thresholdMs
    checks.push({metric, valueMs, thresholdMs, ok})
  }
  const reasons: string[] = []
  if (excludedReason !== undefined) reasons.push(`excluded: ${excludedReason}`)
  // A failed request misses every threshold, so more than (1 - q) failures alone break a q-percentile SLO.
  const allowedFailures = 1 - percentileFraction(percentile)
  if (level.status === 'failed') reasons.push('the level failed')
  else if (summary.requests.completed === 0) reasons.push('no request succeeded')
  if (failedFraction > allowedFailures + 1e-12) {
    reasons.push(`${(failedFraction * 100).toFixed(1)}% of requests failed (a ${percentile} SLO allows ${Number((allowedFailures * 100).toFixed(1))}%)`)
  }
  reasons.push(...missingReported)
  for (const check of checks) {
    if (check.ok || check.unknown === true || check.boundBy !== undefined) continue
    reasons.push(
      check.valueMs === null
        ? `no ${check.metric.toUpperCase()} sample`
        : `${check.reportedBy === undefined ? '' : `${check.reportedBy}'s reported `}${check.metric.toUpperCase()} ${percentile} ${ms(check.valueMs)} > ${ms(check.thresholdMs)}`,
    )
  }
  return {index, load: {...level.load}, meets: reasons.length === 0, checks, failedFraction, reason: reasons.join('; ')}
}

/** The level's percentiles: capplan's distributions, else the tool's own reported statistics. */
const latencyAt = (level: LevelRecord, percentile: SloPercentile): Record<SloMetric, number | null> => ({
  ttft: level.summary.ttftMs?.[percentile] ?? level.reported?.ttftMs?.[percentile] ?? null,
  tpot: level.summary.tpotMs?.[percentile] ?? level.reported?.tpotMs?.[percentile] ?? null,
  e2e: level.summary.e2eMs?.[percentile] ?? level.reported?.e2eMs?.[percentile] ?? null,
})

/** " SLO checked on vLLM's reported p99 TTFT / p99 TPOT (no per-request samples)." or '' when none was reported. */
function reportedNote(checks: readonly LevelSloCheck[], percentile: SloPercentile): string {
  const used = new Map<string, Set<string>>()
  for (const check of checks) {
    for (const metric of check.checks) {
      if (metric.reportedBy === undefined || metric.valueMs === null) continue
      const metrics = used.get(metric.reportedBy) ?? new Set<string>()
      metrics.add(
        metric.boundBy === undefined
          ? `${statName(percentile)} ${metric.metric.toUpperCase()}`
          : `${statName(metric.boundBy)} ${metric.metric.toUpperCase()} (a bound of its ${statName(percentile)})`,
      )
      used.set(metric.reportedBy, metrics)
    }
  }
  if (used.size === 0) return ''
  const parts = [...used].map(([source, metrics]) => `${source}'s reported ${[...metrics].join(' / ')}`)
  return ` SLO checked on ${parts.join('; ')} (the file has no per-request samples).`
}

function measuredPoint(
  level: LevelRecord,
  index: number,
  base: Pick<OperatingPoint, 'slo' | 'percentile' | 'checks'>,
  kind: 'measured' | 'unchecked',
  limitedByMeasurements: boolean,
  explanation: string,
): OperatingPoint {
  const {throughput} = level.summary
  return {
    ...base,
    kind,
    load: {...level.load},
    outputTokensPerS: throughput.outputTokensPerS,
    inputTokensPerS: throughput.inputTokensPerS,
    totalTokensPerS: throughput.totalTokensPerS,
    requestsPerS: throughput.requestsPerS,
    latencyMs: latencyAt(level, base.percentile),
    levelIndex: index,
    interpolation: null,
    limitedByMeasurements,
    explanation,
  }
}

const loadLabel = (load: {kind: LoadKind; value: number}) =>
  load.kind === 'concurrency' ? `concurrency ${Number(load.value.toFixed(2))}` : `${Number(load.value.toFixed(3))} req/s`

/**
 * Find the operating point. Levels are ordered by load (the file's order is kept for ties); the highest
 * load that meets the SLO wins, even if a lower load missed it (noise). With `interpolate`, the point moves
 * linearly towards the next higher level up to where the first metric reaches its threshold — only when
 * that level was measured, missed the SLO by latency alone, and had more throughput. Past the last level
 * nothing is assumed.
 */
export function findOperatingPoint(levels: readonly LevelRecord[], slo: SloSpec, options: OperatingPointOptions = {}): OperatingPoint {
  const point = findPoint(levels, slo, options)
  if (point.kind === 'unchecked') return point
  // Which numbers the SLO was checked on, when they are the tool's own (levels without samples).
  return {...point, explanation: point.explanation + reportedNote(point.checks, point.percentile)}
}

function findPoint(levels: readonly LevelRecord[], slo: SloSpec, options: OperatingPointOptions): OperatingPoint {
  const percentile = options.percentile ?? 'p95'
  const order = levels.map((level, index) => ({level, index})).sort((a, b) => a.level.load.value - b.level.load.value || a.index - b.index)
  const excluded = options.excluded ?? new Map<number, string>()
  const checks = order.map(({level, index}) => checkLevel(level, index, slo, percentile, excluded.get(index)))
  const base = {slo, percentile, checks}
  const sloText = formatSlo(slo) === '' ? 'no SLO' : `${formatSlo(slo)} at ${percentile}`

  const none = (explanation: string): OperatingPoint => ({
    ...base,
    kind: 'none',
    load: null,
    outputTokensPerS: null,
    inputTokensPerS: null,
    totalTokensPerS: null,
    requestsPerS: null,
    latencyMs: {ttft: null, tpot: null, e2e: null},
    levelIndex: null,
    interpolation: null,
    limitedByMeasurements: false,
    explanation,
  })

  if (order.length === 0) return none('The result has no measured level.')

  if (options.latencyMeasured === false) {
    const usable = order.filter(({level, index}) => level.status !== 'failed' && level.summary.requests.completed > 0 && !excluded.has(index))
    const top = usable.at(-1)
    if (top === undefined) return none(excluded.size > 0 ? `The result has no usable level: ${[...excluded.values()].join('; ')}.` : 'The result has no successful level.')
    return measuredPoint(
      top.level,
      top.index,
      base,
      'unchecked',
      true,
      `The source gives no latency percentiles under load, so ${sloText} could not be checked; ${loadLabel(top.level.load)}'s throughput is used as is.` +
        (excluded.size === 0 ? '' : ` Skipped: ${[...excluded.values()].join('; ')}.`),
    )
  }

  // The tool's own statistics settle no threshold on any level (SGLang without TPOT and without the SLO's
  // percentile): as for a source without latency, the highest level's throughput is used as is, and why is named.
  if (checks.length > 0 && checks.every((check) => check.checks.length > 0 && check.checks.every((metric) => metric.unknown === true))) {
    const usable = order.filter(({level, index}) => level.status !== 'failed' && level.summary.requests.completed > 0 && !excluded.has(index))
    const top = usable.at(-1)
    if (top !== undefined) {
      const missing = checks.find((check) => check.index === top.index)?.reason ?? ''
      return measuredPoint(
        top.level,
        top.index,
        base,
        'unchecked',
        true,
        `The file's own statistics cannot check ${sloText} (${missing}), so it was not checked; ${loadLabel(top.level.load)}'s throughput is used as is.`,
      )
    }
  }

  let best = -1
  for (let i = checks.length - 1; i >= 0; i--) {
    if (checks[i]!.meets) {
      best = i
      break
    }
  }
  if (best === -1) {
    const first = checks[0]!
    return none(`No measured level meets ${sloText}: even ${loadLabel(first.load)} misses it (${first.reason}). Nothing is costed.`)
  }

  const lower = order[best]!
  if (best === order.length - 1) {
    return measuredPoint(
      lower.level,
      lower.index,
      base,
      'measured',
      true,
      `${loadLabel(lower.level.load)} meets ${sloText}, and it is the highest load measured: the real capacity may be higher (measure more load; capplan never extrapolates).`,
    )
  }

  const upper = order[best + 1]!
  const upperCheck = checks[best + 1]!
  const measuredExplanation = `${loadLabel(lower.level.load)} is the highest load that meets ${sloText}; ${loadLabel(upper.level.load)} misses it (${upperCheck.reason}).`
  const interpolationBlocked =
    options.interpolate === false ||
    excluded.has(upper.index) ||
    upper.level.load.kind !== lower.level.load.kind ||
    upper.level.status === 'failed' ||
    upper.level.summary.requests.completed === 0 ||
    upperCheck.failedFraction > 1 - percentileFraction(percentile) + 1e-12 ||
    !(upper.level.summary.throughput.outputTokensPerS > lower.level.summary.throughput.outputTokensPerS)
  if (interpolationBlocked) return measuredPoint(lower.level, lower.index, base, 'measured', false, measuredExplanation)

  const lowerLatency = latencyAt(lower.level, percentile)
  const upperLatency = latencyAt(upper.level, percentile)
  let fraction = 1
  let bindingMetric: SloMetric | null = null
  for (const check of upperCheck.checks) {
    if (check.ok) continue
    const a = lowerLatency[check.metric]
    const b = upperLatency[check.metric]
    // A metric missing on either side cannot be interpolated: stay at the measured level.
    const f = a === null || b === null || b <= a ? 0 : Math.max(0, Math.min(1, (check.thresholdMs - a) / (b - a)))
    if (f < fraction || bindingMetric === null) {
      fraction = Math.min(fraction, f)
      bindingMetric = check.metric
    }
  }
  if (bindingMetric === null || fraction <= 0 || fraction >= 1) {
    return measuredPoint(lower.level, lower.index, base, 'measured', false, measuredExplanation)
  }

  const lerp = (a: number, b: number) => a + fraction * (b - a)
  const lerpNullable = (a: number | null, b: number | null) => (a === null || b === null ? null : lerp(a, b))
  const lt = lower.level.summary.throughput
  const ut = upper.level.summary.throughput
  const loadValue = lerp(lower.level.load.value, upper.level.load.value)
  return {
    ...base,
    kind: 'interpolated',
    load: {kind: lower.level.load.kind, value: loadValue},
    outputTokensPerS: lerp(lt.outputTokensPerS, ut.outputTokensPerS),
    inputTokensPerS: lerp(lt.inputTokensPerS, ut.inputTokensPerS),
    totalTokensPerS: lerp(lt.totalTokensPerS, ut.totalTokensPerS),
    requestsPerS: lerp(lt.requestsPerS, ut.requestsPerS),
    latencyMs: {
      ttft: lerpNullable(lowerLatency.ttft, upperLatency.ttft),
      tpot: lerpNullable(lowerLatency.tpot, upperLatency.tpot),
      e2e: lerpNullable(lowerLatency.e2e, upperLatency.e2e),
    },
    levelIndex: lower.index,
    interpolation: {lowerLoad: lower.level.load.value, upperLoad: upper.level.load.value, fraction, bindingMetric},
    limitedByMeasurements: false,
    explanation:
      `${measuredExplanation} INTERPOLATED linearly ${Number((fraction * 100).toFixed(1))}% of the way to ${loadLabel(upper.level.load)}, ` +
      `where ${bindingMetric.toUpperCase()} ${percentile} reaches its threshold: ${loadLabel({kind: lower.level.load.kind, value: loadValue})} (not measured).`,
  }
}
