/**
 * The tables every renderer draws, as values: columns (key, title, alignment) and rows of cells, each cell the
 * value behind it (what CSV writes) and its formatted text (what the terminal, Markdown and HTML show). The
 * renderers add only their syntax: box drawing, pipes, quoting, escaping.
 */

import type {PlanApiResult, PlanResult} from '../../cost/plan.js'
import type {ReportedLatency} from '../../results/reported-latency.js'
import type {LevelStatus, LevelSummary} from '../../results/schema.js'
import type {CompareResult, SampleSummary} from '../build/compare.js'
import type {LevelSloCheck} from '../build/operating-point.js'
import type {ResultReport} from '../build/result-report.js'
import {efficiencyText} from '../build/sanity.js'
import {apisInTableOrder, groupTitle, quantLossCell} from './buyer-lines.js'
import {
  apiId,
  apiName,
  crossoverText,
  formatDecimals,
  formatMs,
  formatPercent,
  formatPlanRate,
  formatRate,
  formatRatio,
  formatSeconds,
  formatUsd,
  loadCell,
  loadText,
  percentilesText,
  plural,
  type Load,
} from '../format.js'

/** value: the number or id behind the text (null when there is none or the text combines several). */
export interface Cell {
  value: string | number | null
  text: string
}

export interface Column<K extends string = string> {
  key: K
  title: string
  align: 'left' | 'right'
}

export interface Table<K extends string = string> {
  columns: Column<K>[]
  rows: Record<K, Cell>[]
}

export const cell = (value: string | number | null, text: string): Cell => ({value, text})
const textCell = (text: string): Cell => ({value: text, text})
const column = <K extends string>(key: K, title: string, align: 'left' | 'right' = 'left'): Column<K> => ({key, title, align})

/** The titles, then each row's texts in column order (what a text renderer lays out). */
export const headTexts = (table: Table) => table.columns.map((c) => c.title)
export const rowTexts = (table: Table) => table.rows.map((row) => table.columns.map((c) => row[c.key]!.text))

// ------------------------------------------------------------------------------------------- levels

type Pct = 'p50' | 'p90' | 'p95' | 'p99'
type LevelKey = 'load' | 'requests' | 'output' | 'total' | 'requestsPerS' | 'ttft' | 'tpot' | 'itl' | 'e2e' | 'e2eSeconds'

const percentileTitle = (metric: string, unit: string, percentiles: readonly Pct[]) => `${metric} ${unit} ${percentiles.join('/')}`

/** The columns a level can show, titled for the percentiles shown. */
function levelColumns(percentiles: readonly Pct[]): {[K in LevelKey]: Column<K>} {
  return {
    load: column('load', 'Load'),
    requests: column('requests', 'Requests ok/failed'),
    output: column('output', 'Output tok/s'),
    total: column('total', 'Total tok/s'),
    requestsPerS: column('requestsPerS', 'Req/s'),
    ttft: column('ttft', percentileTitle('TTFT', 'ms', percentiles)),
    tpot: column('tpot', percentileTitle('TPOT', 'ms', percentiles)),
    itl: column('itl', percentileTitle('ITL', 'ms', percentiles)),
    e2e: column('e2e', percentileTitle('E2E', 'ms', percentiles)),
    e2eSeconds: column('e2eSeconds', percentileTitle('E2E', 's', percentiles)),
  }
}

/** One measured level's cells; a percentile cell's value is its middle percentile. */
function levelCells(load: Load, summary: LevelSummary, percentiles: readonly Pct[], status?: LevelStatus, flag?: string): Record<LevelKey, Cell> {
  const middle = percentiles[Math.floor(percentiles.length / 2)]!
  const latency = (distribution: LevelSummary['ttftMs'], format: (ms: number) => string = formatMs) =>
    cell(distribution === null ? null : distribution[middle], percentilesText(distribution, percentiles, format))
  const {throughput} = summary
  return {
    load: cell(load.value, loadCell(load)),
    requests: cell(
      summary.requests.completed,
      `${summary.requests.completed}/${summary.requests.failed}${status === undefined || status === 'complete' ? '' : ` (${status})`}${flag === undefined ? '' : ` ${flag}`}`,
    ),
    output: cell(throughput.outputTokensPerS, formatRate(throughput.outputTokensPerS)),
    total: cell(throughput.totalTokensPerS, formatRate(throughput.totalTokensPerS)),
    requestsPerS: cell(throughput.requestsPerS, formatRate(throughput.requestsPerS)),
    ttft: latency(summary.ttftMs),
    tpot: latency(summary.tpotMs),
    itl: latency(summary.itlMsPerToken),
    e2e: latency(summary.e2eMs),
    e2eSeconds: latency(summary.e2eMs, formatSeconds),
  }
}

/** Marks a latency cell holding the peer tool's own statistics (sections.ts says whose, under the table). */
export const REPORTED_MARK = ' (r)'

/** The peer's statistics of a metric shown in place of the level's own: it has no samples and the peer wrote some. */
function showsReported(own: LevelSummary['ttftMs'], stats: ReportedLatency['ttftMs']): stats is NonNullable<ReportedLatency['ttftMs']> {
  return own === null && stats !== undefined && Object.keys(stats).length > 0
}

/** Whether any latency cell of the level shows the peer's statistics (withReportedLatency). */
export function levelShowsReported(summary: LevelSummary, reported: ReportedLatency | null): boolean {
  return (
    reported !== null && (showsReported(summary.ttftMs, reported.ttftMs) || showsReported(summary.tpotMs, reported.tpotMs) || showsReported(summary.e2eMs, reported.e2eMs))
  )
}

/**
 * A level with no samples of a latency metric but the peer's own statistics of it (an import): the cell shows
 * those, marked; a percentile the tool did not write shows as "?" (never guessed).
 */
function withReportedLatency(cells: Record<LevelKey, Cell>, summary: LevelSummary, reported: ReportedLatency | null, percentiles: readonly Pct[]): Record<LevelKey, Cell> {
  if (reported === null) return cells
  const middle = percentiles[Math.floor(percentiles.length / 2)]!
  const fill = (own: LevelSummary['ttftMs'], stats: ReportedLatency['ttftMs'], current: Cell): Cell => {
    if (!showsReported(own, stats)) return current
    const text = percentiles.map((p) => (stats[p] === undefined ? '?' : formatMs(stats[p]))).join(' / ')
    return cell(stats[middle] ?? null, `${text}${REPORTED_MARK}`)
  }
  return {
    ...cells,
    ttft: fill(summary.ttftMs, reported.ttftMs, cells.ttft),
    tpot: fill(summary.tpotMs, reported.tpotMs, cells.tpot),
    e2e: fill(summary.e2eMs, reported.e2eMs, cells.e2e),
  }
}

type ReportLevelKey = 'load' | 'requests' | 'output' | 'total' | 'ttft' | 'tpot' | 'e2e' | 'slo' | 'efficiency'

/**
 * Each level's SLO cell, short ("meets", "misses [1]", "EXCLUDED [2]", "not checked"), and the numbered reasons
 * printed under the table: a reason in the cell made the table ~230 columns wide.
 */
export function levelSloCells(report: ResultReport): {cells: string[]; footnotes: string[]} {
  const point = report.operatingPoint
  const checksByIndex = new Map<number, LevelSloCheck>(point.checks.map((check) => [check.index, check]))
  const footnotes: string[] = []
  const cells = report.levels.map((_, index) => {
    const check = checksByIndex.get(index)
    const verified = report.verification.levels[index]
    const label = loadCell(report.loads[index]!)
    const numbered = (word: string, reason: string) => {
      footnotes.push(`[${footnotes.length + 1}] ${label}: ${word}: ${reason}`)
      return `${word} [${footnotes.length}]`
    }
    if (verified?.verdict === 'excluded') return numbered('EXCLUDED', verified.reason)
    // A level the roofline or the checks excluded is not a miss of the SLO: its cell says EXCLUDED.
    const missed = (reason: string) => (reason.startsWith('excluded: ') ? numbered('EXCLUDED', reason.slice('excluded: '.length)) : numbered('misses', reason))
    const slo = point.kind === 'unchecked' ? 'not checked' : check === undefined ? '-' : check.meets ? 'meets' : missed(check.reason)
    return verified?.verdict === 'summary-only' ? `${slo} (summary only)` : slo
  })
  return {cells, footnotes}
}

/**
 * The per-level table of a result: throughput, p50 / the SLO's percentile / p99, the SLO verdict (`slo`: the
 * cells of levelSloCells, whose footnotes go under the table), efficiency. The operating point's level is marked " *".
 */
export function levelsTable(report: ResultReport, slo: readonly string[] = levelSloCells(report).cells): Table<ReportLevelKey> {
  const point = report.operatingPoint
  // p50 / the SLO's percentile / p99; an SLO at p50 or p99 shows p95 between them rather than a column twice.
  const percentiles: Pct[] = ['p50', point.percentile === 'p50' || point.percentile === 'p99' ? 'p95' : point.percentile, 'p99']
  const c = levelColumns(percentiles)
  const rows = report.levels.map((summary, index) => {
    const cells = withReportedLatency(levelCells(report.loads[index]!, summary, percentiles), summary, report.reportedLatency[index] ?? null, percentiles)
    const verified = report.verification.levels[index]
    const load = report.loads[index]!
    // The load it claims and, when the records show fewer requests ever in flight, the load it reached.
    const peak = verified?.peakInFlight ?? null
    const reached = load.kind === 'concurrency' && peak !== null && peak < load.value ? ` (peak ${peak})` : ''
    const loadCellWithPeak = {...cells.load, text: `${cells.load.text}${reached}`}
    const marked = point.levelIndex === index ? {...loadCellWithPeak, text: `${loadCellWithPeak.text} *`} : loadCellWithPeak
    return {
      load: marked,
      requests: cells.requests,
      output: cells.output,
      total: cells.total,
      ttft: cells.ttft,
      tpot: cells.tpot,
      e2e: cells.e2e,
      slo: textCell(slo[index]!),
      efficiency: cell(report.sanity.levels[index]?.check?.efficiency ?? null, efficiencyText(report.sanity.levels[index])),
    }
  })
  return {
    columns: [c.load, c.requests, c.output, c.total, c.ttft, c.tpot, c.e2e, column('slo', 'SLO'), column('efficiency', 'Efficiency')],
    rows,
  }
}

/**
 * One measured level as the bench summary shows it. `concurrency` alone (the first form) means a closed-loop
 * level. `flag`: a word after its request counts, e.g. "EXCLUDED" for a level results/verify.ts excluded from cost.
 */
export type SummaryLevel = {status: LevelStatus; summary: LevelSummary; flag?: string} & ({load: Load} | {concurrency: number})

/** One run (one model x quant x engine): its label, e.g. "qwen2.5-0.5b int4 (Q4_0)", and its levels. */
export interface SummaryRun {
  label: string
  levels: SummaryLevel[]
}

const summaryLoad = (level: SummaryLevel): Load => ('load' in level ? level.load : {kind: 'concurrency', value: level.concurrency})

/**
 * The per-level table `capplan bench` prints: throughput (output and total tok/s, req/s) and p50/p90/p99 latencies
 * (request-weighted TTFT, TPOT, E2E; token-weighted ITL). Several runs share one table, with a Run column.
 */
export function benchSummaryTable(runs: readonly SummaryRun[]): Table<LevelKey | 'run'> {
  const percentiles: Pct[] = ['p50', 'p90', 'p99']
  const c = levelColumns(percentiles)
  const several = runs.length > 1
  const rows = runs.flatMap((run) =>
    run.levels.map((level) => ({run: textCell(run.label), ...levelCells(summaryLoad(level), level.summary, percentiles, level.status, level.flag)})),
  )
  const columns: Column<LevelKey | 'run'>[] = [c.load, c.requests, c.output, c.total, c.requestsPerS, c.ttft, c.tpot, c.itl, c.e2eSeconds]
  return {columns: several ? [column('run', 'Run'), ...columns] : columns, rows}
}

/** What the loads of a bench summary mean, for its title. */
export function benchSummaryMode(runs: readonly SummaryRun[]): string {
  const kinds = new Set(runs.flatMap((run) => run.levels.map((level) => summaryLoad(level).kind)))
  if (kinds.has('rate') && kinds.has('concurrency')) return 'c=N: closed loop, N requests in flight; N req/s: open loop, Poisson arrivals'
  if (kinds.has('rate')) return 'open loop: Poisson arrivals at N req/s'
  return 'closed loop: N requests in flight'
}

// ------------------------------------------------------------------------------------------- results

type OverviewKey = 'index' | 'result' | 'point' | 'output' | 'efficiency' | 'cost' | 'fleet'

/** " [2 levels EXCLUDED]", " [summary only]" or '' (the overview's flag of results/verify.ts's verdict). */
function verificationMark(report: ResultReport): string {
  const excluded = report.verification.levels.filter((level) => level.verdict === 'excluded').length
  const marks = [
    ...(excluded > 0 ? [`${plural(excluded, 'level')} EXCLUDED`] : []),
    ...(report.verification.levels.some((level) => level.verdict === 'summary-only') ? ['summary only'] : []),
  ]
  return marks.length === 0 ? '' : ` [${marks.join(', ')}]`
}

/** One row per result, so several can be scanned before their details. */
export function overviewTable(reports: readonly ResultReport[]): Table<OverviewKey> {
  return {
    columns: [
      column('index', '#'),
      column('result', 'Result'),
      column('point', 'Operating point'),
      column('output', 'Output tok/s'),
      column('efficiency', 'Efficiency'),
      column('cost', '$/1M tokens'),
      column('fleet', 'Replicas (GPUs) for the volume'),
    ],
    rows: reports.map((report, index) => {
      const point = report.operatingPoint
      const plan = report.plan
      return {
        index: cell(index + 1, String(index + 1)),
        result: cell(report.file, `${report.label}\n${report.file}`),
        point: cell(point.kind, `${point.load === null ? point.kind : `${point.kind}, ${loadCell(point.load)}`}${verificationMark(report)}`),
        output: cell(point.outputTokensPerS, point.outputTokensPerS === null ? '-' : formatRate(point.outputTokensPerS)),
        efficiency: cell(report.operatingPointSanity?.check?.efficiency ?? null, efficiencyText(report.operatingPointSanity)),
        cost: cell(plan?.costPerMillionTokens ?? null, plan === null ? 'not costed' : formatUsd(plan.costPerMillionTokens)),
        fleet: cell(plan?.replicas ?? null, plan === null || plan.replicas === null ? '-' : `${plan.replicas} (${plan.gpus})`),
      }
    }),
  }
}

// ------------------------------------------------------------------------------------------- cost

type CostKey = 'option' | 'quality' | 'pricesInOut' | 'blended' | 'monthly' | 'crossover'

export interface CostTable extends Table<CostKey> {
  /** The API rows (no group titles), one per API, option.value its id ("gpt-4o@seed-000"). */
  apiRows: (Record<CostKey, Cell> & {annual: Cell; breakEven: Cell})[]
}

/** What the provider serves (precision, version) in the Quality cell of a hosted twin. */
function servedText(api: PlanApiResult): string {
  // The version's first words only ("Llama 3.3 70B Instruct Turbo"): its explanation is in the profile.
  const version = api.servedVersion?.split(' (')[0] ?? null
  return [api.precision, version].filter((part) => part !== null && part !== '').join(', ')
}

function qualityText(api: PlanApiResult): string {
  if (api.group === 'same-model' || api.group === 'nearest-model') return servedText(api) || 'precision ?'
  if (api.qualityGap !== null) return api.qualityGap.text
  return api.group === 'closed' ? 'no same-harness score' : ''
}

/**
 * Self-hosting and the APIs, grouped as a buyer compares them: the self-hosted rows (with --traffic the fixed
 * and the autoscaled fleet), then the same model hosted, the nearest served model, the closed APIs with the
 * quality gap, other open models. A group's title is a row of its own; each group is sorted by its $/1M.
 */
export function costTable(result: PlanResult): CostTable {
  const {inputs, traffic} = result
  const usd = (value: number | null) => cell(value, value === null ? '-' : formatUsd(value))
  const empty = cell(null, '')
  const loss = quantLossCell(result)
  const replicaText = plural(inputs.gpusPerReplica, inputs.priceUnit)
  const selfRows: Record<CostKey, Cell>[] =
    traffic === null
      ? [
          {
            option: cell('self-hosted', `Self-hosted (${plural(result.replicas ?? 1, 'replica')} x ${plural(inputs.gpusPerReplica, inputs.priceUnit)})`),
            quality: textCell(loss),
            pricesInOut: cell(null, result.ioSplit === null ? '-' : `${formatUsd(result.ioSplit.inputPerMTok)} / ${formatUsd(result.ioSplit.outputPerMTok)}`),
            blended: usd(result.costPerMillionTokens),
            monthly: usd(result.selfHostedMonthlyCost ?? result.replicaMonthlyCost),
            crossover: cell(null, '-'),
          },
        ]
      : [
          {
            option: cell('self-hosted-fixed', `Self-hosted, fixed (${traffic.fixed.replicas} x ${replicaText})`),
            quality: textCell(loss),
            pricesInOut: cell(null, '-'),
            blended: usd(traffic.fixed.costPerMillionTokens),
            monthly: usd(traffic.fixed.monthlyCost),
            crossover: cell(null, `${formatPercent(traffic.fixed.utilization)} used`),
          },
          ...(result.ownership !== null
            ? []
            : [
                {
                  option: cell('self-hosted-autoscaled', `Self-hosted, autoscaled (avg ${formatDecimals(traffic.autoscaled.replicas, 2)} x ${replicaText})`),
                  quality: textCell(loss),
                  pricesInOut: cell(null, '-'),
                  blended: usd(traffic.autoscaled.costPerMillionTokens),
                  monthly: usd(traffic.autoscaled.monthlyCost),
                  crossover: cell(null, `${formatPercent(traffic.autoscaled.utilization)} used`),
                },
              ]),
        ]
  const fleet = result.decision?.selfHosted.label.includes('autoscaled') === true ? 'autoscaled' : 'fixed'
  const apiRow = (api: PlanApiResult) => {
    const crossover = traffic === null || api.trafficCrossover === null ? api.crossover.volumeTokensPerMonth : api.trafficCrossover[fleet].volumeTokensPerMonth
    return {
      option: cell(apiId(api), `${apiName(api)}${api.retired ? ' (retired)' : ''}`),
      quality: textCell(qualityText(api)),
      pricesInOut: cell(null, `${formatUsd(api.effectiveInputPerMTok)} / ${formatUsd(api.outputPerMTok)}`),
      blended: cell(api.blendedPerMTok, formatUsd(api.blendedPerMTok)),
      monthly: usd(api.monthlyCost),
      crossover: cell(crossover ?? 'never', crossoverText(crossover)),
      annual: usd(api.annualCost),
      breakEven: cell(api.breakEvenThroughputTokensPerSecond, formatPlanRate(api.breakEvenThroughputTokensPerSecond)),
    }
  }
  const apiRows: CostTable['apiRows'] = []
  const rows: Record<CostKey, Cell>[] = [...selfRows]
  let group: PlanApiResult['group'] = null
  for (const api of apisInTableOrder(result)) {
    // A group's title is a row of its own, before its first API.
    if (api.group !== null && api.group !== group) {
      rows.push({option: cell(null, `== ${groupTitle(result, api.group)}`), quality: empty, pricesInOut: empty, blended: empty, monthly: empty, crossover: empty})
    }
    group = api.group
    const row = apiRow(api)
    apiRows.push(row)
    rows.push(row)
  }
  return {
    columns: [
      column('option', 'Option'),
      column('quality', 'Quality'),
      column('pricesInOut', `$/1M in / out${result.cacheHitRate === null ? '' : ' (cache)'}`, 'right'),
      column('blended', `$/1M at ${inputs.ioRatio.label}`, 'right'),
      column('monthly', 'Monthly', 'right'),
      column('crossover', 'Self-host cheaper'),
    ],
    rows,
    apiRows,
  }
}

// ------------------------------------------------------------------------------------------- compare

const timesText = (ratio: number | null) => (ratio === null ? '' : ` (${formatRatio(ratio)})`)

/** `capplan compare`: one column per file (the first is the reference), one row per measure. */
export function compareTable(result: CompareResult): Table {
  const files = result.entries.map((entry, index) => column(`f${index}`, `${index === 0 ? 'A (reference)' : String.fromCharCode(65 + index)}: ${entry.file}`))
  const row = (label: string, cells: Cell[]): Record<string, Cell> => Object.fromEntries([['measure', textCell(label)], ...cells.map((c, i) => [`f${i}`, c])])
  const samples = (summary: SampleSummary | null) =>
    summary === null ? cell(null, '-') : cell(summary.p95, `${percentilesText(summary, ['p50', 'p95', 'p99'])} (n=${summary.count})`)
  const rows = [
    row(
      'Run',
      result.entries.map((entry) => textCell(entry.label)),
    ),
    row(
      'Operating point',
      result.entries.map((entry) => cell(entry.operatingPoint, entry.load === null ? entry.operatingPoint : `${entry.operatingPoint}, ${loadText(entry.load)}`)),
    ),
    row(
      'Output tok/s at the SLO',
      result.entries.map((entry) =>
        cell(entry.outputTokensPerS, entry.outputTokensPerS === null ? 'none' : `${formatRate(entry.outputTokensPerS)}${timesText(entry.throughputRatio)}`),
      ),
    ),
    row(
      '$/1M tokens',
      result.entries.map((entry) =>
        cell(entry.costPerMillionTokens, entry.costPerMillionTokens === null ? 'not costed' : `${formatUsd(entry.costPerMillionTokens)}${timesText(entry.costRatio)}`),
      ),
    ),
  ]
  for (const metric of result.metrics) {
    const name = metric.metric.toUpperCase()
    rows.push(row(`${name} ms p50/p95/p99`, metric.samples.map(samples)))
    rows.push(row(`${name} vs A`, [cell(null, '-'), ...metric.vsFirst.map((vs) => cell(vs.ratioOfMeans, `${timesText(vs.ratioOfMeans).trim()} ${vs.verdict}`.trim()))]))
  }
  return {columns: [column('measure', ''), ...files], rows}
}
