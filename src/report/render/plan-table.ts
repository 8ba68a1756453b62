import Table from 'cli-table3'

import type {PlanApiResult, PlanResult} from '../../cost/plan.js'
import {formatTokens, formatUsd} from '../../lib/units.js'

const rate = new Intl.NumberFormat('en-US', {maximumFractionDigits: 2})

/** Throughputs print with 2 decimals at most ("111.11", "25", "11,448.52"). */
function formatRate(tokensPerSecond: number): string {
  if (!Number.isFinite(tokensPerSecond)) return 'n/a'
  return rate.format(tokensPerSecond)
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

function apiLabel(api: PlanApiResult): string {
  return api.variant === null ? api.name : `${api.name} @${api.variant}`
}

function crossoverCell(api: PlanApiResult): string {
  const volume = api.crossover.volumeTokensPerMonth
  return volume === null ? 'never' : `> ${formatTokens(volume)}/month`
}

/** One line per API: which is cheaper at the volume, and where (or whether) self-hosting wins. */
export function planVerdicts(result: PlanResult): string[] {
  return result.apis.map((api) => {
    const label = apiLabel(api)
    const atVolume =
      api.monthlyCost === null || result.selfHostedMonthlyCost === null || result.inputs.volume === null
        ? ''
        : api.monthlyCost <= result.selfHostedMonthlyCost
          ? `at ${formatTokens(result.inputs.volume.tokensPerMonth)} tokens/month the API is cheaper (${formatUsd(api.monthlyCost)} vs ${formatUsd(result.selfHostedMonthlyCost)} self-hosted); `
          : `at ${formatTokens(result.inputs.volume.tokensPerMonth)} tokens/month self-hosting is cheaper (${formatUsd(result.selfHostedMonthlyCost)} vs ${formatUsd(api.monthlyCost)} for the API); `
    const breakEven =
      api.crossover.volumeTokensPerMonth === null && Number.isFinite(api.breakEvenThroughputTokensPerSecond)
        ? `; a replica would need more than ${formatRate(api.breakEvenThroughputTokensPerSecond)} tok/s to ever beat it`
        : ''
    return `${label}: ${atVolume}${api.crossover.reason}${breakEven}.`
  })
}

/** The plan as the terminal shows it: a summary, one table (self-hosted + each API), then a verdict per API. */
export function renderPlanTable(result: PlanResult): string {
  const {inputs} = result
  const lines: string[] = []
  const unit = inputs.priceUnit
  const gpuWord = plural(inputs.gpusPerReplica, unit)
  lines.push(
    `Replica: ${gpuWord} x ${formatUsd(inputs.usdPerGpuHour)}/${unit}-hour (${inputs.gpuPriceSource}) x ${inputs.hoursPerMonth} h = ` +
      `${formatUsd(result.replicaMonthlyCost)}/month`,
    `Capacity: ${formatRate(inputs.totalTokensPerSecond)} tok/s (total${inputs.throughputGivenAs === 'output' ? `, from ${formatRate(inputs.outputTokensPerSecond ?? 0)} output tok/s` : ''}) x 3600 x ${inputs.hoursPerMonth} h x utilization ${inputs.utilization} = ` +
      `${formatTokens(result.replicaCapacityTokensPerMonth)} tokens/month per replica`,
    `Self-hosted cost: ${formatUsd(result.costPerMillionTokens)}/1M tokens` +
      (result.costPerMillionOutputTokens === null ? '' : ` (${formatUsd(result.costPerMillionOutputTokens)}/1M output tokens)`) +
      ` at input:output ${inputs.ioRatio.label}`,
  )
  if (inputs.volume !== null && result.replicas !== null && result.gpus !== null && result.selfHostedMonthlyCost !== null) {
    const perDay = inputs.volume.tokensPerDay === null ? '' : ` (${formatTokens(inputs.volume.tokensPerDay)}/day x ${Number((inputs.hoursPerMonth / 24).toFixed(2))} days)`
    lines.push(
      `Volume: ${formatTokens(inputs.volume.tokensPerMonth)} tokens/month${perDay} -> ${plural(result.replicas, 'replica')} ` +
        `(${plural(result.gpus, unit)}, ${Math.round((result.fleetUtilization ?? 0) * 100)}% of capacity used) = ` +
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

  const table = new Table({
    head: ['Option', '$/1M in / out', `$/1M at ${inputs.ioRatio.label}`, 'Monthly', 'Annual', 'Self-host cheaper', 'Break-even tok/s (total)'],
    style: {head: [], border: []},
    colAligns: ['left', 'right', 'right', 'right', 'right', 'left', 'right'],
  })
  table.push([
    `Self-hosted (${result.replicas === null ? '1 replica' : plural(result.replicas, 'replica')} x ${gpuWord})`,
    '-',
    formatUsd(result.costPerMillionTokens),
    result.selfHostedMonthlyCost === null ? formatUsd(result.replicaMonthlyCost) : formatUsd(result.selfHostedMonthlyCost),
    result.selfHostedAnnualCost === null ? formatUsd(result.replicaMonthlyCost * 12) : formatUsd(result.selfHostedAnnualCost),
    '-',
    `${formatRate(inputs.totalTokensPerSecond)} (yours)`,
  ])
  for (const api of result.apis) {
    table.push([
      apiLabel(api),
      `${formatUsd(api.inputPerMTok)} / ${formatUsd(api.outputPerMTok)}`,
      `${formatUsd(api.blendedPerMTok)} (${formatUsd(api.inputPartPerMTok)} in + ${formatUsd(api.outputPartPerMTok)} out)`,
      api.monthlyCost === null ? '-' : formatUsd(api.monthlyCost),
      api.annualCost === null ? '-' : formatUsd(api.annualCost),
      crossoverCell(api),
      formatRate(api.breakEvenThroughputTokensPerSecond),
    ])
  }
  lines.push(table.toString())
  lines.push(...planVerdicts(result))
  lines.push(...result.notes.map((note) => `Note: ${note}`))
  return lines.join('\n')
}
