/**
 * `capplan report` output: terminal table, Markdown, CSV. Pure: ResultReport[] in, text out.
 */

import Table from 'cli-table3'

import type {PlanApiResult, PlanResult} from '../../cost/plan.js'
import {formatTokens, formatUsd} from '../../lib/units.js'
import type {Distribution} from '../../results/schema.js'
import {formatSlo} from '../../stats/slo.js'
import type {LevelSloCheck, OperatingPoint} from '../build/operating-point.js'
import {planVerdicts, renderPlanTable} from './plan-table.js'
import type {ResultReport, WhatIfReport} from '../build/result-report.js'
import {BANDWIDTH_HINT, efficiencyText} from '../build/sanity.js'
import {formatMs, formatRate} from './summary-table.js'

/** A file that could not be read, and why. */
export interface InvalidResultFile {
  file: string
  message: string
  suggestion: string
}

export const reportFormats = ['table', 'md', 'csv', 'json', 'html'] as const
export type ReportFormat = (typeof reportFormats)[number]

function cell(distribution: Distribution | null, percentile: OperatingPoint['percentile']): string {
  if (distribution === null) return '-'
  return `${formatMs(distribution.p50)} / ${formatMs(distribution[percentile])} / ${formatMs(distribution.p99)}`
}

const loadText = (load: {kind: string; value: number}) => (load.kind === 'concurrency' ? `c=${Number(load.value.toFixed(2))}` : `${Number(load.value.toFixed(3))} req/s`)

/** Rows of the per-level table (shared by the terminal and Markdown renderers). */
function levelRows(report: ResultReport): {head: string[]; rows: string[][]} {
  const p = report.operatingPoint.percentile
  const checksByIndex = new Map<number, LevelSloCheck>(report.operatingPoint.checks.map((check) => [check.index, check]))
  const head = ['Load', 'Requests ok/failed', 'Output tok/s', 'Total tok/s', `TTFT ms p50/${p}/p99`, `TPOT ms p50/${p}/p99`, `E2E ms p50/${p}/p99`, 'SLO', 'Efficiency (of ceiling tok/s)']
  const rows = report.levels.map((summary, index) => {
    const check = checksByIndex.get(index)
    const verdict =
      report.operatingPoint.kind === 'unchecked' ? 'not checked' : check === undefined ? '-' : check.meets ? 'meets' : `misses: ${check.reason}`
    const marker = report.operatingPoint.levelIndex === index ? ' *' : ''
    return [
      loadText(report.loads[index]!) + marker,
      `${summary.requests.completed}/${summary.requests.failed}`,
      formatRate(summary.throughput.outputTokensPerS),
      formatRate(summary.throughput.totalTokensPerS),
      cell(summary.ttftMs, p),
      cell(summary.tpotMs, p),
      cell(summary.e2eMs, p),
      verdict,
      efficiencyText(report.sanity.levels[index]),
    ]
  })
  return {head, rows}
}

function operatingPointLine(point: OperatingPoint): string {
  if (point.outputTokensPerS === null || point.load === null) return `Operating point: none. ${point.explanation}`
  const mark = point.kind === 'interpolated' ? 'INTERPOLATED' : point.kind === 'unchecked' ? 'UNCHECKED (no latency under load)' : 'measured'
  const latency = (['ttft', 'tpot', 'e2e'] as const)
    .filter((metric) => point.latencyMs[metric] !== null)
    .map((metric) => `${metric.toUpperCase()} ${point.percentile} ${formatMs(point.latencyMs[metric]!)} ms`)
    .join(', ')
  return (
    `Operating point (${mark}): ${loadText(point.load)}, ${formatRate(point.outputTokensPerS)} output tok/s ` +
    `(${formatRate(point.totalTokensPerS ?? 0)} total)${latency === '' ? '' : `, ${latency}`}. ${point.explanation}`
  )
}

/** What the roofline says about the result: the hardware judged, efficiency at the operating point, excluded levels. */
export function sanityLines(report: ResultReport): string[] {
  const sanity = report.sanity
  if (sanity.problem !== null) return [`Roofline: not checked (${sanity.problem}).`]
  const bandwidth =
    sanity.bandwidthGBs === null
      ? 'bandwidth unknown'
      : `${Number(sanity.bandwidthGBs.toPrecision(4))} GB/s ${sanity.bandwidthSource === 'flag' ? 'from --bandwidth' : 'from the profile'}`
  const atPoint = report.operatingPointSanity
  const lines = [
    atPoint === null
      ? `Roofline (${sanity.hardwareProfile}, ${bandwidth}): no operating point to check; each level's efficiency is in the table.` +
        (sanity.bandwidthGBs === null ? ` Efficiency needs a bandwidth: ${BANDWIDTH_HINT}.` : '')
      : `Roofline (${sanity.hardwareProfile}, ${bandwidth}): at the operating point ${atPoint.note}.`,
  ]
  for (const level of sanity.levels) {
    const verdict = level.check?.verdict
    if (verdict === 'impossible' || verdict === 'does-not-fit') {
      lines.push(`EXCLUDED from cost: ${loadText(level.load)} is ${level.check!.message}.`)
    } else if (verdict === 'above-ceiling') {
      lines.push(`Check: ${loadText(level.load)} is ${level.check!.message}.`)
    }
  }
  return lines
}

/** The what-if lines of one target: the estimate and where it comes from, or why it was refused. */
export function whatIfLines(whatIf: WhatIfReport): string[] {
  if (!whatIf.ok) return [`What-if ${whatIf.target} (ESTIMATE): refused: ${whatIf.reason}. Not costed.`]
  return [
    `What-if ${whatIf.target} (ESTIMATE, not measured): ${formatRate(whatIf.throughput.outputTokensPerS)} output tok/s on ${whatIf.gpusPerReplica} x ${whatIf.target}; ${whatIf.basis}.`,
    ...whatIf.warnings.map((warning) => `  warning: ${warning}`),
    whatIf.costNote,
  ]
}

function energyLine(report: ResultReport): string | null {
  if (report.energy === null) return null
  const parts: string[] = []
  if (report.energy.joulesPerOutputToken !== null) parts.push(`${Number(report.energy.joulesPerOutputToken.toPrecision(3))} J/output token`)
  if (report.energy.averagePowerW !== null) parts.push(`${Number(report.energy.averagePowerW.toFixed(1))} W average`)
  return `Energy (measured, ${report.energy.source}): ${parts.join(', ')}${report.plan?.energy ? '' : ' (add --kwh-price for its cost)'}`
}

/**
 * What the run's status means for its numbers, in words; null for a complete run. A "running" file was saved
 * mid-run and never finished (capplan was killed, crashed or the machine went down): it holds the levels saved
 * before that.
 */
export function runStatusLine(report: Pick<ResultReport, 'runStatus' | 'levels'>): string | null {
  const levels = `${report.levels.length} level${report.levels.length === 1 ? '' : 's'}`
  switch (report.runStatus) {
    case 'complete':
      return null
    case 'running':
      return `Incomplete: run did not finish (status "running": killed?); the file holds the ${levels} saved before it stopped.`
    case 'interrupted':
      return `Incomplete: run interrupted (Ctrl-C or a signal); the file holds the ${levels} measured before it.`
    case 'partial':
      return `Incomplete: some levels failed or were cut short (status "partial"); see the table.`
    case 'failed':
      return `Failed: the run failed (status "failed"); see the table for what was measured.`
  }
}

function header(report: ResultReport): string[] {
  const w = report.workload
  const status = runStatusLine(report)
  return [
    `== ${report.label}`,
    `File: ${report.file}`,
    ...(status === null ? [] : [status]),
    `Workload: ${w.inputTokens} input / ${w.outputTokens} output tokens per request (${w.promptSource}${w.profile === null ? '' : `, profile ${w.profile}`})`,
    `SLO: ${formatSlo(report.slo) || 'none'} at ${report.operatingPoint.percentile} (${report.sloSource})`,
  ]
}

/** One line per result, first, so several results can be scanned before their details. */
export function renderOverview(reports: readonly ResultReport[]): string {
  const table = new Table({
    head: ['#', 'Result', 'Operating point', 'Output tok/s', 'Efficiency', '$/1M tokens', 'Replicas (GPUs) for the volume'],
    style: {head: [], border: []},
  })
  for (const [index, report] of reports.entries()) {
    const point = report.operatingPoint
    table.push([
      String(index + 1),
      `${report.label}\n${report.file}`,
      point.load === null ? point.kind : `${point.kind}, ${loadText(point.load)}`,
      point.outputTokensPerS === null ? '-' : formatRate(point.outputTokensPerS),
      efficiencyText(report.operatingPointSanity),
      report.plan === null ? 'not costed' : formatUsd(report.plan.costPerMillionTokens),
      report.plan?.replicas == null ? '-' : `${report.plan.replicas} (${report.plan.gpus})`,
    ])
  }
  return `Overview (details below)\n${table.toString()}`
}

/** The terminal report: per result its levels, operating point and cost; then the files that could not be read. */
export function renderReportTable(reports: readonly ResultReport[], invalid: readonly InvalidResultFile[]): string {
  const blocks: string[] = []
  if (reports.length > 1) blocks.push(renderOverview(reports))
  for (const report of reports) {
    const lines = header(report)
    const {head, rows} = levelRows(report)
    const table = new Table({head, style: {head: [], border: []}})
    for (const row of rows) table.push(row)
    lines.push(table.toString(), '* = the level the operating point uses (the lower one when interpolated)')
    lines.push(operatingPointLine(report.operatingPoint))
    lines.push(...sanityLines(report))
    lines.push(report.costNote)
    if (report.plan !== null) lines.push(renderPlanTable(report.plan))
    for (const whatIf of report.whatIf) {
      lines.push(...whatIfLines(whatIf))
      if (whatIf.ok && whatIf.plan !== null) lines.push(renderPlanTable(whatIf.plan))
    }
    const energy = energyLine(report)
    if (energy !== null) lines.push(energy)
    for (const caveat of report.caveats) lines.push(`Source: ${caveat}`)
    blocks.push(lines.join('\n'))
  }
  if (invalid.length > 0) {
    blocks.push(['Files not reported (invalid):', ...invalid.map((bad) => `  ${bad.message} ${bad.suggestion}`)].join('\n'))
  }
  if (reports.length === 0 && invalid.length === 0) blocks.push('No result files found.')
  return blocks.join('\n\n')
}

const mdEscape = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ')
function mdTable(head: string[], rows: string[][]): string {
  return [
    `| ${head.map(mdEscape).join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.map(mdEscape).join(' | ')} |`),
  ].join('\n')
}

const crossoverText = (api: PlanApiResult) =>
  api.crossover.volumeTokensPerMonth === null ? 'never' : `> ${formatTokens(api.crossover.volumeTokensPerMonth)}/month`

function markdownPlan(plan: PlanResult): string[] {
  const blocks = [mdTable(['Option', `$/1M at ${plan.inputs.ioRatio.label}`, 'Monthly', 'Annual', 'Self-host cheaper', 'Break-even tok/s (total)'], costRows(plan))]
  const volume = plan.inputs.volume
  if (volume !== null && plan.replicas !== null) {
    blocks.push(`Volume ${formatTokens(volume.tokensPerMonth)} tokens/month -> ${plan.replicas} replica(s), ${plan.gpus} GPU(s)` +
      (plan.peak === null ? '' : `; peak x${plan.peak.factor}: ${plan.peak.replicas} replica(s), ${plan.peak.gpus} GPU(s)`))
  }
  blocks.push(planVerdicts(plan).map((line) => `- ${line}`).join('\n'))
  return blocks
}

function costRows(plan: PlanResult): string[][] {
  const self = [
    `Self-hosted (${plan.replicas ?? 1} replica(s) x ${plan.inputs.gpusPerReplica} GPU)`,
    formatUsd(plan.costPerMillionTokens),
    formatUsd(plan.selfHostedMonthlyCost ?? plan.replicaMonthlyCost),
    formatUsd(plan.selfHostedAnnualCost ?? plan.replicaMonthlyCost * 12),
    '-',
    formatRate(plan.inputs.totalTokensPerSecond),
  ]
  return [
    self,
    ...plan.apis.map((api) => [
      api.variant === null ? api.name : `${api.name} @${api.variant}`,
      formatUsd(api.blendedPerMTok),
      api.monthlyCost === null ? '-' : formatUsd(api.monthlyCost),
      api.annualCost === null ? '-' : formatUsd(api.annualCost),
      crossoverText(api),
      formatRate(api.breakEvenThroughputTokensPerSecond),
    ]),
  ]
}

export function renderReportMarkdown(reports: readonly ResultReport[], invalid: readonly InvalidResultFile[]): string {
  const blocks: string[] = ['# capplan report']
  for (const report of reports) {
    const [title, ...rest] = header(report)
    const {head, rows} = levelRows(report)
    blocks.push(`## ${mdEscape(title!.replace(/^== /, ''))}`, rest.map((line) => `- ${line}`).join('\n'), mdTable(head, rows))
    blocks.push(operatingPointLine(report.operatingPoint), sanityLines(report).map((line) => `- ${line}`).join('\n'), report.costNote)
    if (report.plan !== null) blocks.push(...markdownPlan(report.plan))
    for (const whatIf of report.whatIf) {
      blocks.push(`### What-if ${whatIf.target} (ESTIMATE)`, whatIfLines(whatIf).map((line) => mdEscape(line.trim())).join('\n\n'))
      if (whatIf.ok && whatIf.plan !== null) blocks.push(...markdownPlan(whatIf.plan))
    }
    const energy = energyLine(report)
    if (energy !== null) blocks.push(energy)
    if (report.caveats.length > 0) blocks.push(report.caveats.map((caveat) => `- Source: ${mdEscape(caveat)}`).join('\n'))
  }
  if (invalid.length > 0) blocks.push('## Files not reported (invalid)', invalid.map((bad) => `- ${mdEscape(bad.message)}`).join('\n'))
  return `${blocks.join('\n\n')}\n`
}

const csvField = (value: string | number | null) => {
  if (value === null) return ''
  const text = String(value)
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

export const reportCsvColumns = [
  'file', 'label', 'imported_from', 'operating_point', 'load_kind', 'load', 'output_tok_s', 'total_tok_s',
  'gpu_profile', 'usd_per_gpu_hour', 'gpus_per_replica', 'io_ratio', 'self_usd_per_1m', 'volume_tokens_per_month',
  'replicas', 'gpus', 'self_monthly_usd', 'api', 'api_usd_per_1m', 'api_monthly_usd', 'crossover_tokens_per_month',
  'break_even_total_tok_s', 'note', 'efficiency', 'roofline_verdict', 'ceiling_tok_s', 'estimate_from',
] as const

/** One row per result and API (one row with empty API columns when a result is not costed). */
export function renderReportCsv(reports: readonly ResultReport[], invalid: readonly InvalidResultFile[]): string {
  const lines = [reportCsvColumns.join(',')]
  const pushRows = (common: (string | number | null)[], plan: PlanResult | null, note: string, sanity: (string | number | null)[]) => {
    const apis = plan?.apis ?? []
    if (apis.length === 0) {
      lines.push([...common, null, null, null, null, null, note, ...sanity].map(csvField).join(','))
      return
    }
    for (const api of apis) {
      lines.push(
        [
          ...common,
          api.variant === null ? api.id : `${api.id}@${api.variant}`,
          api.blendedPerMTok,
          api.monthlyCost,
          api.crossover.volumeTokensPerMonth ?? 'never',
          api.breakEvenThroughputTokensPerSecond,
          note,
          ...sanity,
        ].map(csvField).join(','),
      )
    }
  }
  for (const report of reports) {
    const point = report.operatingPoint
    const plan = report.plan
    const check = report.operatingPointSanity?.check ?? null
    pushRows(
      [
        report.file, report.label, report.importedFrom, point.kind, point.load?.kind ?? null, point.load?.value ?? null,
        point.outputTokensPerS, point.totalTokensPerS, report.gpuProfile, plan?.inputs.usdPerGpuHour ?? null,
        report.gpusPerReplica, plan?.inputs.ioRatio.label ?? null, plan?.costPerMillionTokens ?? null,
        plan?.inputs.volume?.tokensPerMonth ?? null, plan?.replicas ?? null, plan?.gpus ?? null, plan?.selfHostedMonthlyCost ?? null,
      ],
      plan,
      report.costNote,
      [check?.efficiency ?? null, check?.verdict ?? (report.operatingPointSanity === null ? null : 'not-checked'), check?.ceilingTokensPerSecond ?? null, null],
    )
    // What-if rows: operating_point "estimate", gpu_profile the target, estimate_from the result id.
    for (const whatIf of report.whatIf) {
      const target = whatIf.ok ? whatIf : null
      const wPlan = target?.plan ?? null
      pushRows(
        [
          report.file, `${report.label} -> ${whatIf.target} (ESTIMATE)`, report.importedFrom, 'estimate', target?.fromLoad.kind ?? null, target?.fromLoad.value ?? null,
          target?.throughput.outputTokensPerS ?? null, target?.throughput.totalTokensPerS ?? null, whatIf.target, wPlan?.inputs.usdPerGpuHour ?? null,
          target?.gpusPerReplica ?? null, wPlan?.inputs.ioRatio.label ?? null, wPlan?.costPerMillionTokens ?? null,
          wPlan?.inputs.volume?.tokensPerMonth ?? null, wPlan?.replicas ?? null, wPlan?.gpus ?? null, wPlan?.selfHostedMonthlyCost ?? null,
        ],
        wPlan,
        whatIf.ok ? whatIf.costNote : `refused: ${whatIf.reason}`,
        [target?.sourceEfficiency ?? null, null, target?.targetCeilingTokensPerS ?? null, whatIf.fromResultId],
      )
    }
  }
  for (const bad of invalid) {
    const row: (string | null)[] = reportCsvColumns.map(() => null)
    row[0] = bad.file
    row[reportCsvColumns.indexOf('operating_point')] = 'invalid'
    row[reportCsvColumns.indexOf('note')] = bad.message
    lines.push(row.map(csvField).join(','))
  }
  return `${lines.join('\n')}\n`
}
