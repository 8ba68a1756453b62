/** The plan as the terminal shows it (`capplan plan`, and under each result of `report` and `bench`). */

import type {PlanResult} from '../../cost/plan.js'
import {boxTable, TERMINAL_WIDTH} from './box.js'
import {planParts} from './sections.js'

export {planVerdicts} from './lines.js'

/** A summary, one table (self-hosted + each API), then a verdict per API and the notes. */
export function renderPlanTable(result: PlanResult): string {
  const {lines, table, verdicts} = planParts(result)
  return [...lines, boxTable(table, {maxWidth: TERMINAL_WIDTH}), ...verdicts].join('\n')
}
