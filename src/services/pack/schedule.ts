/**
 * The order an offline kit measures a plan in, and what fits its time budget (pure: values in, values out).
 *
 * Most valuable first: pass 1 measures every quant (in the plan's order) at the lowest and the highest
 * concurrency of the ladder, the latency floor and the throughput ceiling, so the quant-vs-quant ratio and
 * the top of each curve land before anything else; pass 2 fills in the middle levels, quant by quant. Each
 * step is one `capplan bench` (one result file, saved after every level), so a budget that runs out keeps
 * every finished level and loses only the step it cut.
 */

import type {PackPlan} from './plan-file.js'

export interface ScheduleStep {
  /** 1-based, in run order. */
  step: number
  pass: 1 | 2
  quant: PackPlan['quants'][number]
  concurrency: number[]
  /** setupSeconds + levels x levelSeconds. */
  estimateSeconds: number
  /** Estimated seconds from the start when it ends (the steps before it included). */
  endsAtSeconds: number
  /** Whether it ends inside the budget by the estimate; run.sh still decides on the clock. */
  fits: boolean
}

export interface Schedule {
  budgetSeconds: number
  steps: ScheduleStep[]
  /** Levels planned, and how many of them fit by the estimate. */
  levels: number
  levelsThatFit: number
}

/** The plan's steps in run order, each with its estimate and whether it fits `budgetSeconds`. */
export function planSchedule(plan: Pick<PackPlan, 'quants' | 'concurrency' | 'levelSeconds' | 'setupSeconds'>, budgetSeconds: number): Schedule {
  const ladder = [...new Set(plan.concurrency)].sort((a, b) => a - b)
  const ends = ladder.length === 1 ? ladder : [ladder[0]!, ladder.at(-1)!]
  const middle = ladder.slice(1, -1)
  const passes: Array<{pass: 1 | 2; levels: number[]}> = [{pass: 1, levels: ends}]
  if (middle.length > 0) passes.push({pass: 2, levels: middle})
  const steps: ScheduleStep[] = []
  let elapsed = 0
  for (const {pass, levels} of passes) {
    for (const quant of plan.quants) {
      const estimateSeconds = plan.setupSeconds + levels.length * plan.levelSeconds
      elapsed += estimateSeconds
      steps.push({step: steps.length + 1, pass, quant, concurrency: levels, estimateSeconds, endsAtSeconds: elapsed, fits: elapsed <= budgetSeconds})
    }
  }
  const levels = steps.reduce((sum, s) => sum + s.concurrency.length, 0)
  const levelsThatFit = steps.filter((s) => s.fits).reduce((sum, s) => sum + s.concurrency.length, 0)
  return {budgetSeconds, steps, levels, levelsThatFit}
}

/** schedule.tsv as run.sh reads it: step, quant, concurrency list, estimate seconds; one line per step. */
export function scheduleTsv(schedule: Schedule): string {
  return schedule.steps.map((s) => `${s.step}\t${s.quant}\t${s.concurrency.join(',')}\t${s.estimateSeconds}\n`).join('')
}
