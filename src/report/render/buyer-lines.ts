/**
 * The sentences of the buyer's questions, as plain text: the decision first, the quantization's expected
 * quality loss, input and output priced apart, traffic over the day (fixed vs autoscaled fleets, replicas by
 * hour), owning vs renting, warnings. Renderers add only their syntax.
 */

import {benchmarkName, type ApiGroup} from '../../cost/comparison.js'
import type {PlanApiResult, PlanResult} from '../../cost/plan.js'
import type {ResultReport} from '../build/result-report.js'
import type {TrafficPlan} from '../../cost/traffic.js'
import {formatDecimals, formatPercent, formatSignificant, formatTokens, formatUsd, plural} from '../format.js'

/** The answer first: the decision's sentences ("Decision: ..." then what it rests on). */
export function decisionLines(result: PlanResult): string[] {
  const decision = result.decision
  if (decision === null) return []
  return decision.lines.map((line, index) => (index === 0 ? `Decision: ${line}` : `  ${line}`))
}

/** The group titles of the cost table, in the order they are shown. */
export const GROUP_ORDER: ApiGroup[] = ['same-model', 'nearest-model', 'closed', 'open-other']

/** The APIs as the cost table and the verdicts list them: by group, cheapest first; ungrouped ones as given. */
export function apisInTableOrder(result: PlanResult): PlanApiResult[] {
  if (!result.apis.some((api) => api.group !== null)) return result.apis
  const rank = (api: PlanApiResult) => (api.group === null ? GROUP_ORDER.length : GROUP_ORDER.indexOf(api.group))
  return [...result.apis].sort((a, b) => rank(a) - rank(b) || a.blendedPerMTok - b.blendedPerMTok)
}

export function groupTitle(result: PlanResult, group: ApiGroup): string {
  const comparison = result.comparison
  const benchmark = comparison?.benchmark ?? null
  switch (group) {
    case 'same-model':
      return `Same model, hosted: ${comparison?.model ?? 'the model'}`
    case 'nearest-model':
      return `Nearest served model: ${comparison?.twinModel ?? '?'}`
    case 'closed':
      return comparison === null || comparison.model === null || benchmark === null ? 'Closed APIs' : `Closed APIs, gap on ${benchmarkName(benchmark)}`
    case 'open-other':
      return 'Other open models, hosted'
  }
}

/** What the grouping rests on, under the table: the twin's note and the benchmark and harness of the gaps. */
export function comparisonLines(result: PlanResult): string[] {
  const comparison = result.comparison
  if (comparison === null || comparison.model === null) return []
  const lines: string[] = []
  const gaps = result.apis.filter((api) => api.qualityGap !== null).map((api) => api.qualityGap!)
  if (gaps.length > 0) {
    const harnesses = [...new Set(gaps.map((gap) => gap.harness))].join(', ')
    lines.push(
      `Quality gaps: ${benchmarkName(gaps[0]!.benchmark)} as scored in one table per pair (${harnesses}); a gap across harnesses is never computed. ` +
        `Full-precision scores: the quantization's loss is on the self-hosted rows.`,
    )
  } else if (result.apis.some((api) => api.group === 'closed')) {
    lines.push(
      `Quality gaps: no closed API was scored${comparison.benchmark === null ? '' : ` on ${benchmarkName(comparison.benchmark)}`} in the same table (harness) as ${comparison.model}, so none is shown (--quality-on BENCHMARK to pick another).`,
    )
  }
  return lines
}

/** The measured (or planned) quantization's expected loss, with where the figure comes from. */
export function quantLossLine(result: PlanResult): string | null {
  const comparison = result.comparison
  if (comparison === null) return null
  if (comparison.quantLoss !== null) {
    const loss = comparison.quantLoss
    return (
      `Quality: ${loss.format} loses about ${formatDecimals(loss.lossPct, 2)}% of the 16-bit score (${loss.metric}, measured on ${loss.measuredOn}; ` +
      `${loss.source}, ${loss.date})${loss.note === null ? '' : `; ${loss.note}`}.`
    )
  }
  return comparison.quantLossNote === null ? null : `Quality: ${comparison.quantLossNote}.`
}

/** Short form for the table's Quality cell of the self-hosted rows. */
export function quantLossCell(result: PlanResult): string {
  const loss = result.comparison?.quantLoss ?? null
  if (loss !== null) return `${loss.format}: -${formatDecimals(loss.lossPct, 2)}% (${loss.metric})`
  return result.comparison?.quantLossNote === null || result.comparison === null ? '' : 'loss unknown'
}

export function ioSplitLine(result: PlanResult): string | null {
  const split = result.ioSplit
  if (split === null) return null
  return (
    `Self-hosted, input and output apart: ${formatUsd(split.inputPerMTok)}/1M input, ${formatUsd(split.outputPerMTok)}/1M output ` +
    `(prefill ${formatPercent(split.prefillShare, 1)} of the replica's time; ${split.method}).`
  )
}

/** "00-05 2 | 06-08 3 | ..." : the replicas each hour needs, runs of equal hours merged. */
export function replicasByHour(traffic: TrafficPlan, pick: 'replicasNeeded' | 'autoscaledReplicas'): string {
  const runs: string[] = []
  let start = 0
  const hours = traffic.hours
  for (let h = 1; h <= hours.length; h++) {
    if (h === hours.length || hours[h]![pick] !== hours[start]![pick]) {
      const label = (hour: number) => (traffic.profile.hours === 24 ? String(hour).padStart(2, '0') : String(hour))
      runs.push(`${start === h - 1 ? label(start) : `${label(start)}-${label(h - 1)}`}: ${hours[start]![pick]}`)
      start = h
    }
  }
  return runs.join(' | ')
}

export function trafficLines(result: PlanResult): string[] {
  const traffic = result.traffic
  if (traffic === null) return []
  const owned = result.ownership !== null
  const {fixed, autoscaled} = traffic
  const clock = (hour: number) => (traffic.profile.hours === 24 ? `${String(hour).padStart(2, '0')}:00` : `hour ${hour}`)
  const lines = [
    `Traffic ${traffic.profile.label} (${traffic.profile.description}): ${formatTokens(traffic.tokensPerDay)} tokens/day, busiest ${clock(traffic.peakHour)} with ` +
      `${formatTokens(traffic.peakTokensPerHour)} tokens (${formatSignificant(traffic.peakToAverage, 3)}x the average hour); a replica serves ` +
      `${formatTokens(traffic.replicaTokensPerHour)} tokens/hour${traffic.headroom > 0 ? `, headroom ${formatPercent(traffic.headroom)}` : ''}.`,
    `Fixed fleet (sized for the peak hour): ${plural(fixed.replicas, 'replica')} all month = ${formatUsd(fixed.monthlyCost)}/month, ` +
      `utilization ${formatPercent(fixed.utilization, 1)}, idle capacity costs ${formatUsd(fixed.idleMonthlyCost)}/month (${formatUsd(fixed.costPerMillionTokens)}/1M served).`,
    owned
      ? 'Autoscaled fleet: not for owned GPUs (they are paid every hour; scaling down would save only power).'
      : `Autoscaled fleet (min ${traffic.minReplicas}, step ${traffic.scaleStep}): ${formatDecimals(autoscaled.replicaHoursPerMonth / (result.inputs.hoursPerMonth / 24), 2)} replica-hours/day ` +
        `(${formatDecimals(autoscaled.replicas, 2)} on average) = ${formatUsd(autoscaled.monthlyCost)}/month, utilization ${formatPercent(autoscaled.utilization, 1)}, ` +
        `idle ${formatUsd(autoscaled.idleMonthlyCost)}/month (${formatUsd(autoscaled.costPerMillionTokens)}/1M served); saves ${formatUsd(traffic.autoscalingSavesMonthly)}/month against the fixed fleet.`,
    `Replicas by hour${traffic.profile.hours === 168 ? ' (Monday 00:00 = 0)' : ''}: ${replicasByHour(traffic, owned ? 'replicasNeeded' : 'autoscaledReplicas')}.`,
  ]
  return lines
}

export function ownershipLines(result: PlanResult): string[] {
  const ownership = result.ownership
  if (ownership === null) return []
  const {input, atUtilization: at, busy} = ownership
  const cents = (usd: number) => formatUsd(usd)
  return [
    `Owned: ${formatUsd(input.usdPerGpu)}/GPU over ${formatDecimals(input.usefulLifeYears, 2)} years (residual ${formatPercent(input.residualFraction)}, ` +
      `cost of capital ${formatPercent(input.costOfCapital ?? 0, 1)}, ${input.purchaseSource}).`,
    `Owned $/GPU-hour at ${formatPercent(at.utilization, 1)} utilization: capital ${cents(at.capitalPerHour)} + power ${cents(at.powerPerHour)} ` +
      `(${input.idleWatts}-${input.busyWatts} W x PUE ${input.pue} x ${formatUsd(input.usdPerKwh)}/kWh) + colo ${cents(at.coloPerHour)} ` +
      `(${formatUsd(input.coloUsdPerKwMonth)}/kW-month) + ops ${cents(at.opsPerHour)} (${formatPercent(input.opsOverhead)}) = ${cents(at.usdPerHour)} ` +
      `(${cents(busy.usdPerHour)} busy every hour). Power: ${input.powerSource}.`,
    ...ownership.versusRent.map((rent) => `Owning vs renting ${rent.tier} (${formatUsd(rent.usdPerHour)}/h): ${rent.reason}.`),
  ]
}

export const warningLines = (result: PlanResult) => result.warnings.map((warning) => `Warning: ${warning}`)

/**
 * The report's opening: for the volume (and traffic) given, the cheapest measured self-hosted option and its
 * decision (the cheapest option overall, the hosted twin, the closed API of comparable quality, crossovers).
 */
export function reportDecisionLines(reports: readonly ResultReport[]): string[] {
  const costed = reports.filter((report) => report.plan !== null)
  if (costed.length === 0) return []
  const decided = costed.filter((report) => report.plan!.decision !== null)
  if (decided.length === 0) {
    return ['Decision: give the volume (--volume or --daily-volume, and --traffic for its hours) to get the cheapest option for your traffic.']
  }
  const best = decided.reduce((a, b) => (b.plan!.decision!.selfHosted.monthlyCost < a.plan!.decision!.selfHosted.monthlyCost ? b : a))
  const self = best.plan!.decision!.selfHosted
  const lines =
    decided.length > 1
      ? [
          `Decision: of ${decided.length} results, the cheapest to self-host is ${best.label} (${best.file}): ${formatUsd(self.monthlyCost)}/month (${formatUsd(self.perMTok)}/1M).`,
        ]
      : [`Decision for ${best.label} (${best.file}):`]
  return [...lines, ...best.plan!.decision!.lines.map((line) => `  ${line}`)]
}
