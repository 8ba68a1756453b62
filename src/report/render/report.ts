/**
 * `capplan report` output: terminal table, Markdown, CSV. Pure: ResultReport[] in, text out. The tables and
 * sentences come from rows.ts and lines.ts; this file adds box drawing, Markdown pipes and CSV quoting.
 */

import type {PlanResult} from '../../cost/plan.js'
import type {ResultReport} from '../build/result-report.js'
import {boxTable, TERMINAL_WIDTH} from './box.js'
import {headerLines, INVALID_TITLE, invalidLine, NO_RESULTS, type InvalidResultFile} from './lines.js'
import {reportDecisionLines} from './buyer-lines.js'
import {renderPlanTable} from './plan-table.js'
import {loadCell} from '../format.js'
import {costTable, headTexts, overviewTable, rowTexts, type Table} from './rows.js'
import {planParts, reportSections, type Section} from './sections.js'

// Other modules and tests import these from here.
export {runStatusLine, sanityLines, verificationLines, whatIfLines, type InvalidResultFile} from './lines.js'

export const reportFormats = ['table', 'md', 'csv', 'json', 'html'] as const
export type ReportFormat = (typeof reportFormats)[number]

/** One line per result, first, so several results can be scanned before their details. */
export function renderOverview(reports: readonly ResultReport[]): string {
  return `Overview (details below)\n${boxTable(overviewTable(reports), {maxWidth: TERMINAL_WIDTH})}`
}

function terminalSection(section: Section): string[] {
  switch (section.kind) {
    case 'header':
      return [`== ${section.header.title}`, ...headerLines(section.header)]
    case 'levels':
      return [boxTable(section.table), ...section.notes]
    case 'paragraph':
      return [section.text]
    case 'list':
      return section.lines
    case 'plan':
      return [renderPlanTable(section.plan)]
    case 'whatIf':
      return [...section.lines, ...(section.plan === null ? [] : [renderPlanTable(section.plan)])]
  }
}

/** The terminal report: per result its levels, operating point and cost; then the files that could not be read. */
export function renderReportTable(reports: readonly ResultReport[], invalid: readonly InvalidResultFile[]): string {
  const blocks: string[] = []
  const decision = reportDecisionLines(reports)
  if (decision.length > 0) blocks.push(decision.join('\n'))
  if (reports.length > 1) blocks.push(renderOverview(reports))
  for (const report of reports) blocks.push(reportSections(report).flatMap(terminalSection).join('\n'))
  if (invalid.length > 0) blocks.push([`${INVALID_TITLE}:`, ...invalid.map((bad) => `  ${invalidLine(bad)}`)].join('\n'))
  if (reports.length === 0 && invalid.length === 0) blocks.push(NO_RESULTS)
  return blocks.join('\n\n')
}

const mdEscape = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ')
const mdList = (lines: readonly string[]) => lines.map((line) => `- ${mdEscape(line)}`).join('\n')
function mdTable(table: Table): string {
  const head = headTexts(table)
  return [`| ${head.map(mdEscape).join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rowTexts(table).map((row) => `| ${row.map(mdEscape).join(' | ')} |`)].join('\n')
}

function markdownPlan(plan: PlanResult): string[] {
  const {lines, table, verdicts} = planParts(plan)
  return [mdList(lines), mdTable(table), mdList(verdicts)]
}

function markdownSection(section: Section): string[] {
  switch (section.kind) {
    case 'header':
      return [`## ${mdEscape(section.header.title)}`, mdList(headerLines(section.header))]
    case 'levels':
      return [mdTable(section.table), ...section.notes.map(mdEscape)]
    case 'paragraph':
      return [mdEscape(section.text)]
    case 'list':
      return section.lines.length === 0 ? [] : [mdList(section.lines)]
    case 'plan':
      return markdownPlan(section.plan)
    case 'whatIf':
      return [
        `### What-if ${mdEscape(section.target)} (ESTIMATE)`,
        section.lines.map((line) => mdEscape(line.trim())).join('\n\n'),
        ...(section.plan === null ? [] : markdownPlan(section.plan)),
      ]
  }
}

export function renderReportMarkdown(reports: readonly ResultReport[], invalid: readonly InvalidResultFile[]): string {
  const blocks: string[] = ['# capplan report']
  const decision = reportDecisionLines(reports)
  if (decision.length > 0) blocks.push('## Decision', mdList(decision.map((line) => line.trim())))
  for (const report of reports) blocks.push(...reportSections(report).flatMap(markdownSection))
  if (invalid.length > 0) blocks.push(`## ${INVALID_TITLE}`, mdList(invalid.map(invalidLine)))
  if (reports.length === 0 && invalid.length === 0) blocks.push(NO_RESULTS)
  return `${blocks.join('\n\n')}\n`
}

const csvField = (value: string | number | null) => {
  if (value === null) return ''
  const text = String(value)
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

export const reportCsvColumns = [
  'file',
  'label',
  'imported_from',
  'operating_point',
  'load_kind',
  'load',
  'output_tok_s',
  'total_tok_s',
  'gpu_profile',
  'usd_per_gpu_hour',
  'gpus_per_replica',
  'io_ratio',
  'self_usd_per_1m',
  'volume_tokens_per_month',
  'replicas',
  'gpus',
  'self_monthly_usd',
  'api',
  'api_usd_per_1m',
  'api_monthly_usd',
  'crossover_tokens_per_month',
  'break_even_total_tok_s',
  'note',
  'efficiency',
  'roofline_verdict',
  'ceiling_tok_s',
  'estimate_from',
  'summary_check',
  'excluded_levels',
] as const

/** One row per result and API (one row with empty API columns when a result is not costed). */
export function renderReportCsv(reports: readonly ResultReport[], invalid: readonly InvalidResultFile[]): string {
  const lines = [reportCsvColumns.join(',')]
  const pushRows = (common: (string | number | null)[], plan: PlanResult | null, note: string, sanity: (string | number | null)[]) => {
    // The API columns are the values of the cost table's API rows, so CSV and the tables never disagree.
    const apis = plan === null ? [] : costTable(plan).apiRows
    if (apis.length === 0) {
      lines.push([...common, null, null, null, null, null, note, ...sanity].map(csvField).join(','))
      return
    }
    for (const api of apis) {
      lines.push([...common, api.option.value, api.blended.value, api.monthly.value, api.crossover.value, api.breakEven.value, note, ...sanity].map(csvField).join(','))
    }
  }
  for (const report of reports) {
    const point = report.operatingPoint
    const plan = report.plan
    const check = report.operatingPointSanity?.check ?? null
    // results/verify.ts's verdict for the file, and each excluded level with why ("c=4: ...; c=8: ...").
    const excludedText = report.verification.levels
      .filter((level) => level.verdict === 'excluded')
      .map((level) => `${loadCell(level.load)}: ${level.reason}`)
      .join('; ')
    const verification = [report.verification.verdict, excludedText === '' ? null : excludedText]
    pushRows(
      [
        report.file,
        report.label,
        report.importedFrom,
        point.kind,
        point.load?.kind ?? null,
        point.load?.value ?? null,
        point.outputTokensPerS,
        point.totalTokensPerS,
        report.gpuProfile,
        plan?.inputs.usdPerGpuHour ?? null,
        report.gpusPerReplica,
        plan?.inputs.ioRatio.label ?? null,
        plan?.costPerMillionTokens ?? null,
        plan?.inputs.volume?.tokensPerMonth ?? null,
        plan?.replicas ?? null,
        plan?.gpus ?? null,
        plan?.selfHostedMonthlyCost ?? null,
      ],
      plan,
      report.costNote,
      [
        check?.efficiency ?? null,
        check?.verdict ?? (report.operatingPointSanity === null ? null : 'not-checked'),
        check?.ceilingTokensPerSecond ?? null,
        null,
        ...verification,
      ],
    )
    // What-if rows: operating_point "estimate", gpu_profile the target, estimate_from the result id.
    for (const whatIf of report.whatIf) {
      const target = whatIf.ok ? whatIf : null
      const wPlan = target?.plan ?? null
      pushRows(
        [
          report.file,
          `${report.label} -> ${whatIf.target} (ESTIMATE)`,
          report.importedFrom,
          'estimate',
          target?.fromLoad.kind ?? null,
          target?.fromLoad.value ?? null,
          target?.throughput.outputTokensPerS ?? null,
          target?.throughput.totalTokensPerS ?? null,
          whatIf.target,
          wPlan?.inputs.usdPerGpuHour ?? null,
          target?.gpusPerReplica ?? null,
          wPlan?.inputs.ioRatio.label ?? null,
          wPlan?.costPerMillionTokens ?? null,
          wPlan?.inputs.volume?.tokensPerMonth ?? null,
          wPlan?.replicas ?? null,
          wPlan?.gpus ?? null,
          wPlan?.selfHostedMonthlyCost ?? null,
        ],
        wPlan,
        whatIf.ok ? whatIf.costNote : `refused: ${whatIf.reason}`,
        [target?.sourceEfficiency ?? null, null, target?.targetCeilingTokensPerS ?? null, whatIf.fromResultId, ...verification],
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
