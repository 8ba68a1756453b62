import Table from 'cli-table3'

import type {Estimate} from '../../roofline/estimate.js'
import {GB} from '../../roofline/memory.js'
import type {FromResult, MeasuredCheck, WhatIfResult} from '../../roofline/sanity.js'

const num = (digits: number) => new Intl.NumberFormat('en-US', {maximumFractionDigits: digits})
const n0 = num(0)
const n2 = num(2)

/** Tokens/s with 2 decimals below 100, whole above ("60.81", "378"). */
export function formatRate(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return 'unknown'
  return value >= 100 ? n0.format(value) : n2.format(value)
}

const gb = (bytes: number) => `${n2.format(bytes / GB)} GB`

function tpList(sizes: number[]): string {
  return sizes.length === 0 ? 'none' : sizes.join(', ')
}

/** The human form of `capplan estimate`: fit, ceilings, assumptions, warnings. */
export function renderEstimate(e: Estimate): string {
  const lines: string[] = []
  const hw = e.hardware
  const bw =
    hw.bandwidthGBsPerGpu === null
      ? 'bandwidth unknown'
      : `${n0.format(hw.bandwidthGBsPerGpu)} GB/s${hw.bandwidthSource === 'flag' ? ' (--bandwidth)' : hw.bandwidthSource === 'probe' ? ' (measured: single-thread copy, a lower bound)' : ''}`
  const tf = hw.peakTflopsPerGpu === null ? 'TFLOPS unknown' : `${n0.format(hw.peakTflopsPerGpu)} TFLOPS ${e.format.computeDtype}`
  lines.push(
    `${e.model.name}, ${e.format.quant} ${e.format.label} (${e.format.bitsPerWeight} bits/weight) on ${e.layout.gpus} x ${hw.name} (${n0.format(hw.memoryGBPerGpu)} GB, ${bw}, ${tf})`,
    'ESTIMATE from datasheet physics, not a measurement.',
    '',
    'Fit',
  )
  const m = e.memory
  const kv = e.kvCache.perToken
  const moe = e.model.moe === null ? '' : ` (MoE: ${e.model.totalParamsB}B must fit, ${e.model.activeParamsB}B read per token)`
  const fitRows: [string, string][] = [
    ['weights', `${gb(m.weightsBytes)} = ${e.model.totalParamsB}B params x ${e.format.bitsPerWeight} / 8${moe}`],
    [
      'KV per token',
      `${n0.format(kv.bytes)} B = ${kv.formula} (${e.kvCache.dtype}); per GPU at TP ${e.layout.tp}${e.layout.pp > 1 ? ` x PP ${e.layout.pp}` : ''}: ${n0.format(m.kvBytesPerTokenPerGpu)} B`,
    ],
    ['usable memory', `${gb(m.usableBytes)} (${e.layout.gpus} x ${n0.format(hw.memoryGBPerGpu)} GB x utilization) - ${gb(m.overheadBytes)} overhead`],
    ['free for KV', m.weightsFit ? `${gb(m.freeForKvBytes)} = ${n0.format(m.kvTokenCapacity)} tokens` : `none: the weights do not fit (short by ${gb(-m.freeForKvBytes)})`],
    ['max sequences', `${n0.format(m.maxSequences)} at ${n0.format(e.contextTokens)} tokens (${gb(m.kvBytesPerSequence)} of KV each)`],
    [
      'minimum GPUs',
      e.minimumGpus.byMemory === null
        ? 'more than 256: does not fit'
        : `${e.minimumGpus.byMemory} (${e.minimumGpus.layouts.map((l) => `TP ${l.tp} x PP ${l.pp}`).join(' or ')}); as one TP group: ${e.minimumGpus.tensorParallel ?? 'none fits'}`,
    ],
    ['valid TP sizes', `${tpList(e.validTensorParallel.split)} (KV heads split); ${tpList(e.validTensorParallel.replicated)} (KV heads replicated)`],
    ['layout', `TP ${e.layout.tp} x PP ${e.layout.pp}: ${e.layout.reason}`],
    ['fits', m.fits ? 'yes' : 'NO'],
  ]
  for (const [key, value] of fitRows) lines.push(`  ${key.padEnd(15)}${value}`)

  const f = e.factors
  const b1 = e.ceilings.batch1
  lines.push(
    '',
    `Ceilings (eta_bw ${f.etaBandwidth}, eta_c ${f.etaCompute}, prefill MFU ${f.mfu})`,
    `  batch-1 decode ${formatRate(b1.tokensPerSecond)} tok/s (${gb(b1.bytesPerToken)} of weights read per token at ${
      b1.bandwidthBytesPerS === null ? 'unknown' : `${n0.format((b1.bandwidthBytesPerS * f.etaBandwidth) / 1e9)} GB/s`
    } effective)`,
  )
  const table = new Table({
    head: ['batch', 'tok/s', 'tok/s per seq', 'bound', 'weights GB/step', 'KV GB/step', 'KV fits'],
    style: {head: [], border: []},
  })
  for (const row of e.ceilings.batched) {
    table.push([
      row.batch,
      formatRate(row.tokensPerSecond),
      formatRate(row.perSequenceTokensPerSecond),
      row.bound,
      n2.format(row.weightBytesRead / GB),
      n2.format(row.kvBytesRead / GB),
      row.fitsInMemory ? 'yes' : 'NO',
    ])
  }
  lines.push(`  batched decode at ${n0.format(e.contextTokens)} tokens of context per sequence:`, table.toString())
  const p = e.ceilings.prefill
  lines.push(
    `  prefill of a ${n0.format(p.inputTokens)}-token prompt: ${formatRate(p.tokensPerSecond)} tok/s, TTFT >= ${
      p.ttftS === null ? 'unknown' : `${n2.format(p.ttftS)} s`
    } (${p.bound}-bound)`,
    '',
    'Assumptions',
    ...e.assumptions.map((a) => `  - ${a}`),
  )
  if (e.warnings.length > 0) lines.push('', 'Warnings', ...e.warnings.map((w) => `  ! ${w}`))
  return lines.join('\n')
}

export function renderMeasuredCheck(check: MeasuredCheck, batch: number): string {
  return `Measured ${batch === 1 ? 'batch-1' : `batch-${batch}`} decode: ${check.message}${
    check.fractionOfLimit === null || check.verdict === 'impossible' || check.verdict === 'does-not-fit'
      ? ''
      : ` (physical limit ${formatRate(check.physicalLimitTokensPerSecond)} tok/s: ${(check.fractionOfLimit * 100).toFixed(0)}%)`
  }`
}

export function renderWhatIf(target: string, result: WhatIfResult): string {
  if (!result.ok) return `What-if ${target}: refused: ${result.reason}`
  const lines = [`What-if ${target}: ${formatRate(result.estimatedTokensPerSecond)} tok/s (${result.basis})`]
  for (const w of result.warnings) lines.push(`  ! ${w}`)
  return lines.join('\n')
}

/** `estimate --from`: each measured level, its efficiency on its own hardware, and the estimate on the target. */
export function renderFromResult(from: FromResult): string {
  const table = new Table({
    head: ['concurrency', 'measured tok/s', 'ceiling there', 'efficiency', 'verdict', 'target', 'ESTIMATE tok/s'],
    style: {head: [], border: []},
  })
  for (const level of from.levels) {
    table.push([
      level.concurrency,
      formatRate(level.measuredTokensPerSecond),
      formatRate(level.check.ceilingTokensPerSecond),
      level.check.efficiency === null ? 'unknown' : `${(level.check.efficiency * 100).toFixed(1)}%`,
      level.check.verdict,
      level.whatIf.ok ? `${level.whatIf.target.gpus} x ${level.whatIf.target.id}` : 'refused',
      level.whatIf.ok ? formatRate(level.whatIf.estimatedTokensPerSecond) : '-',
    ])
  }
  const lines = [
    `From ${from.file} (result ${from.resultId}, ${from.format} on ${from.sourceGpus} x ${from.sourceGpu}): measured output tok/s scaled by the ceiling ratio, labeled ESTIMATE`,
    table.toString(),
  ]
  const reasons = new Set<string>()
  for (const level of from.levels) {
    if (!level.whatIf.ok) reasons.add(`concurrency ${level.concurrency} refused: ${level.whatIf.reason}`)
    else for (const w of level.whatIf.warnings) reasons.add(`concurrency ${level.concurrency}: ${w}`)
  }
  for (const r of reasons) lines.push(`  ! ${r}`)
  if (from.levels.some((level) => level.check.verdict === 'unknown')) {
    lines.push(`  (${from.sourceGpu} has no bandwidth in its profile: give it with --from-bandwidth GB/s)`)
  }
  return lines.join('\n')
}
