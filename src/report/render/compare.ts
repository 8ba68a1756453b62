/** `capplan compare` as a terminal table (one column per file) plus the verdicts. Pure. */

import type {CompareResult} from '../build/compare.js'
import {boxTable, TERMINAL_WIDTH} from './box.js'
import {compareTable} from './rows.js'

export function renderCompareTable(result: CompareResult): string {
  const lines = [boxTable(compareTable(result), {wordWrap: true, maxWidth: TERMINAL_WIDTH}), `Latencies: ${result.comparedLoadNote}. Significance: ${result.test}.`]
  for (const warning of result.warnings) lines.push(`Warning: ${warning}`)
  lines.push(...result.verdicts)
  return lines.join('\n')
}
