/**
 * What a result's report says, in order, as values: the renderers (terminal, Markdown, HTML) walk these sections
 * and add only their syntax, so the order and the content of a report live here once.
 */

import type {PlanResult} from '../../cost/plan.js'
import type {ResultReport} from '../build/result-report.js'
import {
  caveatLine,
  energyLine,
  OPERATING_POINT_MARK,
  operatingPointLine,
  planLines,
  planNotes,
  planVerdicts,
  reportHeader,
  sanityLines,
  verificationLines,
  whatIfLines,
  type ReportHeader,
} from './lines.js'
import {comparisonLines, decisionLines, warningLines} from './buyer-lines.js'
import {costTable, levelShowsReported, levelSloCells, levelsTable, REPORTED_MARK, type CostTable, type Table} from './rows.js'

export type Section =
  | {kind: 'header'; header: ReportHeader}
  /** The per-level table and what its " *" marks. */
  /** notes: lines under the table (the marks' meanings, the SLO cells' numbered reasons). */
  | {kind: 'levels'; table: Table; notes: string[]}
  /** emphasis: the answer of the report (the operating point). */
  | {kind: 'paragraph'; text: string; emphasis: boolean}
  | {kind: 'list'; name: 'verification' | 'sanity' | 'caveats'; lines: string[]}
  | {kind: 'plan'; plan: PlanResult}
  /** A what-if target: its lines (refused or estimated) and, when costed, its plan. */
  | {kind: 'whatIf'; target: string; lines: string[]; plan: PlanResult | null}

/** The levels table, and under it the marks' meanings and the SLO cells' numbered reasons (levelSloCells, made once). */
function levelsSection(report: ResultReport): Section {
  const slo = levelSloCells(report)
  return {kind: 'levels', table: levelsTable(report, slo.cells), notes: [...levelsMarks(report), ...slo.footnotes]}
}

/** The operating-point mark, and the reported-statistics mark when a cell uses it. */
function levelsMarks(report: ResultReport): string[] {
  const sources = [
    ...new Set(report.reportedLatency.flatMap((reported, index) => (reported !== null && levelShowsReported(report.levels[index]!, reported) ? [reported.source] : []))),
  ]
  return sources.length === 0
    ? [OPERATING_POINT_MARK]
    : [
        OPERATING_POINT_MARK,
        `${REPORTED_MARK.trim()} = ${sources.join(', ')}'s own statistics as its file gives them (no per-request samples to recompute them from; ? = not in the file)`,
      ]
}

export function reportSections(report: ResultReport): Section[] {
  const energy = energyLine(report)
  return [
    {kind: 'header', header: reportHeader(report)},
    levelsSection(report),
    {kind: 'list', name: 'verification', lines: verificationLines(report)},
    {kind: 'paragraph', text: operatingPointLine(report.operatingPoint), emphasis: true},
    {kind: 'list', name: 'sanity', lines: sanityLines(report)},
    {kind: 'paragraph', text: report.costNote, emphasis: false},
    ...(report.plan === null ? [] : [{kind: 'plan' as const, plan: report.plan}]),
    ...report.whatIf.map((whatIf) => ({kind: 'whatIf' as const, target: whatIf.target, lines: whatIfLines(whatIf), plan: whatIf.ok ? whatIf.plan : null})),
    ...(energy === null ? [] : [{kind: 'paragraph' as const, text: energy, emphasis: false}]),
    {kind: 'list', name: 'caveats', lines: [...report.caveats.map(caveatLine), ...report.clientHealthWarnings.map((warning) => `Check: ${warning}.`)]},
  ]
}

/** A plan in three parts: its summary lines, the cost table (self-hosted + each API), then a verdict per API and the notes. */
export function planParts(plan: PlanResult): {lines: string[]; table: CostTable; verdicts: string[]} {
  return {
    lines: [...decisionLines(plan), ...planLines(plan)],
    table: costTable(plan),
    verdicts: [...comparisonLines(plan), ...planVerdicts(plan), ...warningLines(plan), ...planNotes(plan)],
  }
}
