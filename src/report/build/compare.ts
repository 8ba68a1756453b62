/**
 * `capplan compare`: several results side by side — throughput and cost at the SLO (ratio to the first), and
 * latency at one common load with a significance test on the per-request samples. Pure.
 */

import {shapeDifference} from './workload-shape.js'
import type {LevelRecord, LoadKind, ResultFile} from '../../results/schema.js'
import {distribution} from '../../stats/distribution.js'
import {requestTpotMs} from '../../stats/slo.js'
import {welchTTest, type WelchResult} from '../../stats/significance.js'
import type {SloMetric} from './operating-point.js'
import type {ResultReport} from './result-report.js'

export const SIGNIFICANCE_TEST = "Welch's two-sample t-test (unequal variances, two-sided) on per-request samples, alpha 0.05"
const ALPHA = 0.05

export interface CompareInput {
  file: string
  result: ResultFile
  report: ResultReport
}

export interface SampleSummary {
  count: number
  mean: number
  p50: number
  p95: number
  p99: number
}

export interface MetricVsFirst {
  /** mean of this file / mean of the first file. */
  ratioOfMeans: number | null
  welch: WelchResult | null
  significant: boolean | null
  verdict: string
}

export interface MetricComparison {
  metric: SloMetric
  /** Per file (same order as entries): the samples' summary at the compared level; null without samples. */
  samples: (SampleSummary | null)[]
  /** Per file after the first. */
  vsFirst: MetricVsFirst[]
}

export interface CompareEntry {
  file: string
  label: string
  importedFrom: string | null
  operatingPoint: ResultReport['operatingPoint']['kind']
  load: ResultReport['operatingPoint']['load']
  outputTokensPerS: number | null
  costPerMillionTokens: number | null
  /** vs the first file; null when either side is missing. */
  throughputRatio: number | null
  costRatio: number | null
  /** The level whose per-request samples are compared (index in the file), null when none. */
  comparedLevel: number | null
}

export interface CompareResult {
  entries: CompareEntry[]
  /** The load at which latencies are compared: common to all files when possible. */
  comparedLoad: {kind: LoadKind; value: number} | null
  comparedLoadNote: string
  metrics: MetricComparison[]
  test: string
  warnings: string[]
  verdicts: string[]
}

/** Per-request samples of one metric in a level: successful requests only (TPOT: those with > 1 output token). */
export function metricSamples(level: LevelRecord, metric: SloMetric): number[] {
  const values: number[] = []
  for (const request of level.requests) {
    if (request.error !== null) continue
    const value = metric === 'ttft' ? request.ttftMs : metric === 'e2e' ? request.e2eMs : requestTpotMs(request)
    if (value !== null) values.push(value)
  }
  return values
}

/** The report's own distribution (stats/), so compare and report never disagree on a mean or a percentile. */
function summarize(values: number[]): SampleSummary | null {
  const d = distribution(values)
  return d === null ? null : {count: d.count, mean: d.mean, p50: d.p50, p95: d.p95, p99: d.p99}
}

const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b)
const key = (load: {kind: LoadKind; value: number}) => `${load.kind}:${load.value}`
const loadText = (load: {kind: LoadKind; value: number}) => (load.kind === 'concurrency' ? `concurrency ${load.value}` : `${load.value} req/s`)
const fmt = (value: number) => String(Number(value.toPrecision(4)))
const pText = (p: number) => (p < 1e-4 ? p.toExponential(1) : fmt(p))

/**
 * Which level of each file to compare latencies at: `wantedLoad` when given; else the highest load every
 * file measured (with per-request samples); else each file's operating-point level (flagged as unequal).
 */
function chooseLevels(inputs: readonly CompareInput[], wantedLoad?: number): {levels: (number | null)[]; load: CompareResult['comparedLoad']; note: string} {
  // Levels with per-request samples that the check of their summary did not exclude (results/verify.ts).
  const usable = (report: ResultReport, level: LevelRecord, index: number) => level.requests.length > 0 && report.verification.levels[index]?.verdict !== 'excluded'
  const withSamples = (result: ResultFile, report: ResultReport) =>
    result.levels.map((level, index) => ({level, index})).filter(({level, index}) => usable(report, level, index))
  if (wantedLoad !== undefined) {
    const levels = inputs.map(({result, report}) => withSamples(result, report).find(({level}) => level.load.value === wantedLoad)?.index ?? null)
    const kind = inputs.map(({result}) => result.levels.find((level) => level.load.value === wantedLoad)?.load.kind).find((k) => k !== undefined) ?? 'concurrency'
    return {levels, load: {kind, value: wantedLoad}, note: `latencies compared at the requested load ${wantedLoad}`}
  }
  const common = inputs
    .map(({result, report}) => new Set(withSamples(result, report).map(({level}) => key(level.load))))
    .reduce<Set<string> | null>((acc, set) => (acc === null ? set : new Set([...acc].filter((k) => set.has(k)))), null)
  const candidates = [...(common ?? [])]
    .map((text) => {
      const [kind, value] = text.split(':')
      return {kind: kind as LoadKind, value: Number(value)}
    })
    .sort((a, b) => b.value - a.value)
  const best = candidates[0]
  if (best !== undefined) {
    return {
      levels: inputs.map(({result, report}) => result.levels.findIndex((level, index) => key(level.load) === key(best) && usable(report, level, index))),
      load: best,
      note: `latencies compared at ${loadText(best)}, the highest load every file measured`,
    }
  }
  return {
    levels: inputs.map(({report, result}) => {
      const index = report.operatingPoint.levelIndex
      return index !== null && (result.levels[index]?.requests.length ?? 0) > 0 ? index : null
    }),
    load: null,
    note: "the files share no measured load with per-request samples: latencies compared at each file's operating-point level (NOT the same load)",
  }
}

function workloadWarnings(inputs: readonly CompareInput[]): string[] {
  const warnings: string[] = []
  const first = inputs[0]!.result.workload
  for (const {file, result, report} of inputs.slice(1)) {
    const w = result.workload
    const diffs: string[] = []
    if (w.inputTokens !== first.inputTokens || w.outputTokens !== first.outputTokens) {
      diffs.push(`lengths ${w.inputTokens} in / ${w.outputTokens} out vs ${first.inputTokens} / ${first.outputTokens}`)
    }
    if (w.promptSource !== first.promptSource) diffs.push(`prompts ${w.promptSource} vs ${first.promptSource}`)
    else if (w.dataset !== first.dataset) diffs.push(`dataset ${w.dataset ?? 'none'} vs ${first.dataset ?? 'none'}`)
    if (w.ignoreEos !== first.ignoreEos) diffs.push(`ignore-EOS ${w.ignoreEos} vs ${first.ignoreEos}`)
    diffs.push(...[shapeDifference(first, w)].filter((diff) => diff !== null))
    if (diffs.length > 0) warnings.push(`${file}: workload differs from ${inputs[0]!.file} (${diffs.join('; ')}): apples vs oranges, compare with care.`)
    if (report.importedFrom !== null && result.levels.every((level) => level.requests.length === 0)) {
      warnings.push(`${file}: imported from ${report.importedFrom} without per-request samples: no significance test is possible for it.`)
    }
  }
  for (const {file, report} of inputs) {
    const excluded = report.verification.levels.filter((level) => level.verdict === 'excluded')
    if (excluded.length > 0) {
      warnings.push(
        `${file}: ${excluded.length} level(s) EXCLUDED (neither costed nor compared): ${excluded.map((level) => `${loadText(level.load)}: ${level.reason}`).join('; ')}.`,
      )
    }
  }
  const slos = new Set(inputs.map(({report}) => JSON.stringify(report.slo)))
  if (slos.size > 1) warnings.push('The files were judged against different SLOs (their workload profiles differ); pass --slo to use one.')
  return warnings
}

export function compareResults(inputs: readonly CompareInput[], options: {load?: number} = {}): CompareResult {
  const first = inputs[0]!
  const chosen = chooseLevels(inputs, options.load)
  const firstPoint = first.report.operatingPoint
  const firstCost = first.report.plan?.costPerMillionTokens ?? null
  const entries: CompareEntry[] = inputs.map(({file, report}, index) => {
    const point = report.operatingPoint
    const cost = report.plan?.costPerMillionTokens ?? null
    return {
      file,
      label: report.label,
      importedFrom: report.importedFrom,
      operatingPoint: point.kind,
      load: point.load,
      outputTokensPerS: point.outputTokensPerS,
      costPerMillionTokens: cost,
      throughputRatio: ratio(point.outputTokensPerS, firstPoint.outputTokensPerS),
      costRatio: ratio(cost, firstCost),
      comparedLevel: chosen.levels[index] ?? null,
    }
  })

  const metrics: MetricComparison[] = (['ttft', 'tpot', 'e2e'] as const).map((metric) => {
    const samples = inputs.map(({result}, index) => {
      const levelIndex = chosen.levels[index]
      return levelIndex === null || levelIndex === undefined || levelIndex < 0 ? [] : metricSamples(result.levels[levelIndex]!, metric)
    })
    const summaries = samples.map(summarize)
    const vsFirst = samples.slice(1).map((values, offset): MetricVsFirst => {
      const a = samples[0]!
      const ratioOfMeans = ratio(summaries[offset + 1]?.mean ?? null, summaries[0]?.mean ?? null)
      const welch = welchTTest(a, values, 1 - ALPHA)
      if (welch === null) {
        return {ratioOfMeans, welch: null, significant: null, verdict: `not tested (fewer than 2 samples on a side: ${a.length} vs ${values.length})`}
      }
      const direction = welch.difference < 0 ? 'lower (faster)' : 'higher (slower)'
      return {
        ratioOfMeans,
        welch,
        significant: welch.significant,
        verdict: welch.significant
          ? `significantly ${direction} (mean ${fmt(welch.meanB)} vs ${fmt(welch.meanA)} ms, p = ${pText(welch.pValue)})`
          : `no significant difference (mean ${fmt(welch.meanB)} vs ${fmt(welch.meanA)} ms, p = ${pText(welch.pValue)})`,
      }
    })
    return {metric, samples: summaries, vsFirst}
  })

  const verdicts: string[] = []
  for (const [offset, entry] of entries.slice(1).entries()) {
    const parts: string[] = []
    if (entry.throughputRatio !== null) {
      parts.push(
        entry.throughputRatio >= 1
          ? `${fmt(entry.throughputRatio)}x the throughput of ${first.file} at the SLO`
          : `${fmt(entry.throughputRatio)}x the throughput (${fmt(1 / entry.throughputRatio)}x slower) of ${first.file} at the SLO`,
      )
    } else {
      parts.push('no throughput ratio (an operating point is missing)')
    }
    if (entry.costRatio !== null) parts.push(`${fmt(entry.costRatio)}x its $/1M`)
    const tpot = metrics[1]!.vsFirst[offset]!
    parts.push(`TPOT ${tpot.verdict}`)
    verdicts.push(`${entry.file}: ${parts.join('; ')}.`)
  }

  return {
    entries,
    comparedLoad: chosen.load,
    comparedLoadNote: chosen.note,
    metrics,
    test: SIGNIFICANCE_TEST,
    warnings: workloadWarnings(inputs),
    verdicts,
  }
}
