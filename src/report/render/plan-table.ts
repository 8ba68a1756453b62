/** The plan as the terminal shows it (`capplan plan`, and under each result of `report` and `bench`). */

import type {PlanResult} from '../../cost/plan.js'
import {boxTable} from './box.js'
import {planLines, planNotes, planVerdicts} from './lines.js'
import {costTable} from './rows.js'

export {planVerdicts}

/** A summary, one table (self-hosted + each API), then a verdict per API and the notes. */
export function renderPlanTable(result: PlanResult): string {
  return [...planLines(result), boxTable(costTable(result)), ...planVerdicts(result), ...planNotes(result)].join('\n')
}
