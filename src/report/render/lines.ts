/**
 * The sentences every renderer prints, as plain text: a result's header and status, its operating point, the
 * roofline check, what-ifs, energy, the plan's summary and its verdict per API, files that could not be read.
 * Renderers add only their syntax (a bullet, a <p>, escaping).
 */

import {shapeText} from '../build/workload-shape.js'
import {apisInTableOrder, ioSplitLine, ownershipLines, quantLossLine, trafficLines} from './buyer-lines.js'
import type {PlanResult} from '../../cost/plan.js'
import type {OperatingPoint} from '../build/operating-point.js'
import type {ResultReport, WhatIfReport} from '../build/result-report.js'
import {BANDWIDTH_HINT} from '../build/sanity.js'
import {
  apiName,
  formatDecimals,
  formatMs,
  formatPercent,
  formatPlanRate,
  formatRate,
  formatSignificant,
  formatTokens,
  formatUsd,
  loadCell,
  plural,
  sloText,
} from '../format.js'

/** A file that could not be read, and why. */
export interface InvalidResultFile {
  file: string
  message: string
  suggestion: string
}

export const INVALID_TITLE = 'Files not reported (invalid)'
export const NO_RESULTS = 'No result files found.'
/** Under the levels table: what the " *" on a load means. */
export const OPERATING_POINT_MARK = '* = the level the operating point uses (the lower one when interpolated); Efficiency = output tok/s as a share of the roofline ceiling'

/**
 * What the run's status means for its numbers, in words; null for a complete run. A "running" file was saved
 * mid-run and never finished (capplan was killed, crashed or the machine went down): it holds the levels saved
 * before that.
 */
export function runStatusLine(report: Pick<ResultReport, 'runStatus' | 'levels'>): string | null {
  const levels = plural(report.levels.length, 'level')
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

/** What a result is, before its numbers: title, file, status (null when complete), workload, SLO. */
export interface ReportHeader {
  title: string
  file: string
  status: string | null
  workload: string
  slo: string
}

export function reportHeader(report: ResultReport): ReportHeader {
  const w = report.workload
  return {
    title: report.label,
    file: `File: ${report.file}`,
    status: runStatusLine(report),
    workload: `Workload: ${w.inputTokens} input / ${w.outputTokens} output tokens per request (${w.promptSource}${w.profile === null ? '' : `, profile ${w.profile}`})${w.shape === undefined ? '' : `\n${[shapeText(w.shape), report.hitRate].filter((line) => line !== null).join('\n')}`}`,
    slo: `SLO: ${sloText(report.slo)} at ${report.operatingPoint.percentile} (${report.sloSource})`,
  }
}

/** The header's lines under its title, in order (the status only when the run did not complete). */
export const headerLines = (header: ReportHeader) => [header.file, ...(header.status === null ? [] : [header.status]), header.workload, header.slo]

export function operatingPointLine(point: OperatingPoint): string {
  if (point.outputTokensPerS === null || point.load === null) return `Operating point: none. ${point.explanation}`
  const mark = point.kind === 'interpolated' ? 'INTERPOLATED' : point.kind === 'unchecked' ? 'UNCHECKED (no latency under load)' : 'measured'
  const latency = (['ttft', 'tpot', 'e2e'] as const)
    .filter((metric) => point.latencyMs[metric] !== null)
    .map((metric) => `${metric.toUpperCase()} ${point.percentile} ${formatMs(point.latencyMs[metric]!)} ms`)
    .join(', ')
  return (
    `Operating point (${mark}): ${loadCell(point.load)}, ${formatRate(point.outputTokensPerS)} output tok/s ` +
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
      : `${formatSignificant(sanity.bandwidthGBs, 4)} GB/s ${sanity.bandwidthSource === 'flag' ? 'from --bandwidth' : 'from the profile'}`
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
      lines.push(`EXCLUDED from cost: ${loadCell(level.load)} is ${level.check!.message}.`)
    } else if (verdict === 'above-ceiling') {
      lines.push(`Check: ${loadCell(level.load)} is ${level.check!.message}.`)
    }
  }
  return lines
}

/**
 * What the check of the stored summaries against their request records says (results/verify.ts): one line
 * when every level verifies, else each excluded level's problems (EXCLUDED from cost), each level that can
 * only be taken as the peer reported it (summary only), and the flags that do not stop a cost (Check:).
 */
export function verificationLines(report: Pick<ResultReport, 'verification'>): string[] {
  const {levels} = report.verification
  const lines: string[] = []
  for (const level of levels) {
    if (level.verdict === 'excluded') lines.push(...level.problems.map((problem) => `EXCLUDED from cost: ${problem}.`))
    else if (level.verdict === 'summary-only') lines.push(...level.problems.map((problem) => `Summary only: ${problem}; reported and costed as the source gives it.`))
  }
  for (const level of levels) lines.push(...level.warnings.map((warning) => `Check: ${warning}.`))
  const verified = levels.filter((level) => level.verdict === 'verified')
  if (verified.length > 0) {
    const records = verified.reduce((sum, level) => sum + level.requestsStored, 0)
    const which =
      verified.length === levels.length
        ? levels.length === 1
          ? 'the level'
          : `each of the ${levels.length} levels`
        : `${verified.map((level) => loadCell(level.load)).join(', ')}`
    lines.unshift(`Verified: the stored summary of ${which} is what its request records give (${plural(records, 'request')} recomputed).`)
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

/** Measured energy per output token and power; null when the result has none. */
export function energyLine(report: ResultReport): string | null {
  if (report.energy === null) return null
  const parts: string[] = []
  if (report.energy.joulesPerOutputToken !== null) parts.push(`${formatSignificant(report.energy.joulesPerOutputToken, 3)} J/output token`)
  if (report.energy.averagePowerW !== null) parts.push(`${formatDecimals(report.energy.averagePowerW, 1)} W average`)
  return `Energy (measured, ${report.energy.source}): ${parts.join(', ')}${report.plan?.energy ? '' : ' (add --kwh-price for its cost)'}`
}

export const caveatLine = (caveat: string) => `Source: ${caveat}`

/** The plan above its table: what a replica costs and holds, the $/1M, the fleet for the volume and the peak, energy. */
export function planLines(result: PlanResult): string[] {
  const {inputs} = result
  const unit = inputs.priceUnit
  const lines = [
    `Replica: ${plural(inputs.gpusPerReplica, unit)} x ${formatUsd(inputs.usdPerGpuHour)}/${unit}-hour (${inputs.gpuPriceSource}) x ${inputs.hoursPerMonth} h = ` +
      `${formatUsd(result.replicaMonthlyCost)}/month`,
    `Capacity: ${formatPlanRate(inputs.totalTokensPerSecond)} tok/s (total${inputs.throughputGivenAs === 'output' ? `, from ${formatPlanRate(inputs.outputTokensPerSecond ?? 0)} output tok/s` : ''}) x 3600 x ${inputs.hoursPerMonth} h x utilization ${inputs.utilization} = ` +
      `${formatTokens(result.replicaCapacityTokensPerMonth)} tokens/month per replica`,
    `Self-hosted cost: ${formatUsd(result.costPerMillionTokens)}/1M tokens` +
      (result.costPerMillionOutputTokens === null ? '' : ` (${formatUsd(result.costPerMillionOutputTokens)}/1M output tokens)`) +
      ` at input:output ${inputs.ioRatio.label}`,
  ]
  const split = ioSplitLine(result)
  if (split !== null) lines.push(split)
  const loss = quantLossLine(result)
  if (loss !== null) lines.push(loss)
  if (result.traffic === null && inputs.volume !== null && result.replicas !== null && result.gpus !== null && result.selfHostedMonthlyCost !== null) {
    const perDay = inputs.volume.tokensPerDay === null ? '' : ` (${formatTokens(inputs.volume.tokensPerDay)}/day x ${formatDecimals(inputs.hoursPerMonth / 24, 2)} days)`
    lines.push(
      `Volume: ${formatTokens(inputs.volume.tokensPerMonth)} tokens/month${perDay} -> ${plural(result.replicas, 'replica')} ` +
        `(${plural(result.gpus, unit)}, ${formatPercent(result.fleetUtilization ?? 0)} of capacity used) = ` +
        `${formatUsd(result.selfHostedMonthlyCost)}/month`,
    )
  }
  if (result.peak !== null) {
    lines.push(
      `Peak x${result.peak.factor}: ${plural(result.peak.replicas, 'replica')} (${plural(result.peak.gpus, unit)}) = ${formatUsd(result.peak.monthlyCost)}/month if provisioned for the peak`,
    )
  }
  if (result.energy !== null) {
    const fleet = result.energy.monthlyCostForFleet === null ? '' : `, ${formatUsd(result.energy.monthlyCostForFleet)}/month for the fleet`
    lines.push(
      `Energy: ${result.energy.powerWattsPerGpu} W/GPU (${result.energy.powerSource}) x PUE ${result.energy.pue} x ${formatUsd(result.energy.usdPerKwh)}/kWh = ` +
        `${formatUsd(result.energy.monthlyCostPerReplica)}/month per replica${fleet} (not included above)`,
    )
  }
  lines.push(...trafficLines(result), ...ownershipLines(result))
  return lines
}

/** The self-hosted fleet the verdicts compare with: the decision's (autoscaled or fixed with --traffic). */
function verdictFleet(result: PlanResult): {cost: number; fleet: 'fixed' | 'autoscaled' | null} | null {
  if (result.traffic !== null && result.decision !== null) {
    return {cost: result.decision.selfHosted.monthlyCost, fleet: result.decision.selfHosted.label.includes('autoscaled') ? 'autoscaled' : 'fixed'}
  }
  return result.selfHostedMonthlyCost === null ? null : {cost: result.selfHostedMonthlyCost, fleet: null}
}

/** One line per API: which is cheaper at the volume, and where (or whether) self-hosting wins. */
export function planVerdicts(result: PlanResult): string[] {
  const self = verdictFleet(result)
  const tokens = result.traffic?.tokensPerMonth ?? result.inputs.volume?.tokensPerMonth ?? null
  return apisInTableOrder(result).map((api) => {
    const atVolume =
      api.monthlyCost === null || self === null || tokens === null
        ? ''
        : api.monthlyCost <= self.cost
          ? `at ${formatTokens(tokens)} tokens/month the API is cheaper (${formatUsd(api.monthlyCost)} vs ${formatUsd(self.cost)} self-hosted); `
          : `at ${formatTokens(tokens)} tokens/month self-hosting is cheaper (${formatUsd(self.cost)} vs ${formatUsd(api.monthlyCost)} for the API); `
    const crossover =
      self?.fleet === null || self === null || api.trafficCrossover === null ? api.crossover.reason : `${api.trafficCrossover[self.fleet].reason} (${self.fleet} fleet)`
    const breakEven =
      api.crossover.volumeTokensPerMonth === null && Number.isFinite(api.breakEvenThroughputTokensPerSecond)
        ? `; a replica would need more than ${formatPlanRate(api.breakEvenThroughputTokensPerSecond)} tok/s to ever beat it`
        : ''
    return `${apiName(api)}: ${atVolume}${crossover}${breakEven}.`
  })
}

/** The plan's notes, each as a line. */
export const planNotes = (result: PlanResult) => result.notes.map((note) => `Note: ${note}`)

/** One line per unreadable file: the problem and what to do. */
export const invalidLine = (bad: InvalidResultFile) => (bad.suggestion === '' ? bad.message : `${bad.message} ${bad.suggestion}`)
