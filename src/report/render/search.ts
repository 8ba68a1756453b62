/**
 * `capplan plan --model` output: the ranked deployments (source labels and ranges), the hosted twin and the
 * closed APIs, why the top choice wins, the pruned candidates, as terminal text, Markdown, CSV and HTML (with
 * the Pareto frontiers of cost vs TPOT and vs TTFT as inline SVG, each point labelled with its source). Pure:
 * SearchResult in, text out.
 */

import {describePrior, describeUpdate} from '../../planner/calibration.js'
import type {Candidate, Pruned, SearchResult} from '../../planner/search.js'
import {formatTokens, formatUsd} from '../../lib/units.js'
import {sloText} from '../format.js'
import {boxTable, TERMINAL_WIDTH} from './box.js'
import {cell, headTexts, rowTexts, type Column, type Table} from './rows.js'

/** Rows the terminal, Markdown and HTML tables show (JSON and CSV carry every candidate). */
export const SEARCH_TABLE_ROWS = 15

const col = <K extends string>(key: K, title: string, align: 'left' | 'right' = 'left'): Column<K> => ({key, title, align})
const text = (value: string) => cell(value, value)
const num = (value: number | null, digits = 0) => (value === null ? cell(null, '-') : cell(value, value.toFixed(digits)))
const usd = (value: number | null) => (value === null ? cell(null, '-') : cell(value, formatUsd(value)))

export const deploymentText = (c: Pick<Candidate, 'gpus' | 'gpu' | 'tp' | 'pp'>) => `${c.gpus} x ${c.gpu} (TP ${c.tp} x PP ${c.pp})`

/** "ESTIMATED 677-2968" / "MEASURED". */
export function sourceText(c: Candidate): string {
  return c.source === 'ESTIMATED' ? `ESTIMATED ${c.throughput.low.toFixed(0)}-${c.throughput.high.toFixed(0)}` : c.source
}

type RankedKey = 'rank' | 'deployment' | 'quant' | 'pricing' | 'source' | 'toks' | 'replicas' | 'month' | 'perMTok' | 'loss'

/** A weight format's label, short: "vLLM AWQ" -> "AWQ", "vLLM COMPRESSED-TENSORS" -> "W8A8", "vLLM BFLOAT16" -> "BF16". */
function shortFormat(label: string): string {
  const name = label.replace(/^vLLM /, '')
  return ({'COMPRESSED-TENSORS': 'W8A8', BFLOAT16: 'BF16', FLOAT16: 'FP16'} as Record<string, string>)[name] ?? name
}

/** A range end in thousands: 3076 -> "$3.1k", 950 -> "$950" (the exact figures are in --json and CSV). */
const kilo = (value: number) => (value >= 1000 ? `$${(value / 1000).toFixed(1)}k` : `$${Math.round(value)}`)

export function rankedTable(result: SearchResult, limit = SEARCH_TABLE_ROWS): Table<RankedKey> {
  return {
    columns: [
      col('rank', '#', 'right'),
      col('deployment', 'GPUs\nTP x PP'),
      col('quant', 'quant\nengine'),
      col('pricing', 'pricing'),
      col('source', 'source'),
      col('toks', 'tok/s @SLO', 'right'),
      col('replicas', 'replicas\npeak/avg', 'right'),
      col('month', '$/month', 'right'),
      col('perMTok', '$/1M\nin/out', 'right'),
      col('loss', 'loss'),
    ],
    rows: result.ranked.slice(0, limit).map((c) => ({
      rank: num(c.rank),
      deployment: text(`${c.gpus}x ${c.gpu}\nTP ${c.tp} x PP ${c.pp}`),
      quant: text(`${c.quant} ${shortFormat(c.format)}\n${c.engine}`),
      pricing: text(c.pricing),
      source: text(c.source === 'ESTIMATED' ? `ESTIMATED\n${c.throughput.low.toFixed(0)}-${c.throughput.high.toFixed(0)}` : c.source),
      toks: num(c.throughput.outputTokensPerSecond),
      replicas: cell(c.replicas.peak, `${c.replicas.peak} / ${c.replicas.average.toFixed(2)}`),
      month: cell(c.monthlyCost, c.source === 'ESTIMATED' ? `${formatUsd(c.monthlyCost)}\n${kilo(c.monthlyCostLow)}-${kilo(c.monthlyCostHigh)}` : formatUsd(c.monthlyCost)),
      perMTok: cell(c.perMTok.input, c.perMTok.input === null || c.perMTok.output === null ? '-' : `${formatUsd(c.perMTok.input)}/${formatUsd(c.perMTok.output)}`),
      loss: text(c.quantLoss === null ? (c.quant === 'fp16' ? 'none' : '?') : `${c.quantLoss.lossPct}%`),
    })),
  }
}

type ApiKey = 'api' | 'group' | 'blended' | 'month' | 'gap'

export function apiTable(result: SearchResult): Table<ApiKey> {
  return {
    columns: [
      col('api', 'API'),
      col('group', 'compared as'),
      col('blended', '$/1M blended', 'right'),
      col('month', '$/month', 'right'),
      col('gap', 'quality gap (same harness)'),
    ],
    rows: result.apis.options.map((api) => ({
      api: text(api.id),
      group: text(api.group === 'same-model' ? 'hosted twin' : api.group === 'nearest-model' ? 'nearest hosted model' : 'closed API'),
      blended: usd(api.blendedPerMTok),
      month: usd(api.monthlyCost),
      gap: text(api.qualityGap ?? '-'),
    })),
  }
}

type PrunedKey = 'deployment' | 'quant' | 'engine' | 'pricing' | 'reason' | 'detail'

export function prunedTable(pruned: readonly Pruned[]): Table<PrunedKey> {
  return {
    columns: [
      col('deployment', 'GPU x count (TP x PP)'),
      col('quant', 'quant'),
      col('engine', 'engine'),
      col('pricing', 'pricing'),
      col('reason', 'pruned'),
      col('detail', 'why'),
    ],
    rows: pruned.map((p) => ({
      deployment: text(deploymentText(p)),
      quant: text(p.quant ?? '-'),
      engine: text(p.engine ?? '-'),
      pricing: text(p.pricing ?? '-'),
      reason: text(p.reason),
      detail: text(p.detail),
    })),
  }
}

/** The lines above the table: what was searched, against what, with which prior. */
export function searchHeaderLines(result: SearchResult): string[] {
  const lines = [
    `Deployments of ${result.model.name} (${result.model.id}) for workload ${result.workload.id} (${result.workload.inputTokens} in / ${result.workload.outputTokens} out tokens), SLO ${sloText(result.slo)} (${result.sloSource})`,
    `Volume ${formatTokens(result.volume.tokensPerMonth)} tokens/month (${formatTokens(result.volume.tokensPerDay)}/day), traffic ${result.traffic.label} (peak ${result.traffic.peakToAverage.toFixed(2)}x the average hour), ${result.hoursPerMonth} h/month`,
    `Searched ${result.space.gpus.length} GPU(s) x 1-${result.space.maxGpus} GPUs x ${result.space.quants.join('/')} x ${result.space.engines.join('/')} x ${result.space.pricing.join('/')}: ` +
      `${result.space.deployments} deployments, ${result.space.candidates} priced candidates, ${result.ranked.length} ranked, ${result.pruned.length} pruned`,
  ]
  for (const [key, prior] of Object.entries(result.priors)) lines.push(describePrior(key, prior))
  for (const update of result.priorUpdates) lines.push(describeUpdate(update))
  return lines
}

function prunedSummary(result: SearchResult, shown: boolean): string {
  const counts = new Map<string, number>()
  for (const p of result.pruned) counts.set(p.reason, (counts.get(p.reason) ?? 0) + 1)
  const parts = [...counts.entries()].map(([reason, n]) => `${n} ${reason}`)
  return parts.length === 0 ? 'Nothing pruned.' : `Pruned: ${parts.join(', ')}${shown ? '.' : ' (--show-pruned lists each with its reason).'}`
}

export interface SearchRenderOptions {
  showPruned?: boolean
}

export function renderSearchTable(result: SearchResult, options: SearchRenderOptions = {}): string {
  const blocks: string[] = [searchHeaderLines(result).join('\n')]
  blocks.push(
    result.ranked.length === 0
      ? 'No deployment fits and meets the SLO.'
      : `${boxTable(rankedTable(result), {maxWidth: TERMINAL_WIDTH})}${result.ranked.length > SEARCH_TABLE_ROWS ? `\n(${result.ranked.length - SEARCH_TABLE_ROWS} more ranked: --json or --format csv lists every candidate)` : ''}`,
  )
  if (result.apis.options.length > 0)
    blocks.push(`Against the APIs${result.apis.twinNote === null ? '' : ` (${result.apis.twinNote})`}:\n${boxTable(apiTable(result), {maxWidth: TERMINAL_WIDTH})}`)
  blocks.push(['Why:', ...result.why.map((line) => `  ${line}`)].join('\n'))
  blocks.push(prunedSummary(result, options.showPruned === true))
  if (options.showPruned === true && result.pruned.length > 0) blocks.push(boxTable(prunedTable(result.pruned), {maxWidth: TERMINAL_WIDTH, compact: true}))
  if (result.notes.length > 0) blocks.push(['Notes:', ...result.notes.map((note) => `  ${note}`)].join('\n'))
  blocks.push(['Assumptions:', ...result.assumptions.map((line) => `  ${line}`)].join('\n'))
  return blocks.join('\n\n')
}

const mdEscape = (value: string) => value.replaceAll('|', '\\|').replaceAll('\n', ' ')
function mdTable(table: Table): string {
  const head = headTexts(table)
  return [`| ${head.map(mdEscape).join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rowTexts(table).map((row) => `| ${row.map(mdEscape).join(' | ')} |`)].join('\n')
}
const mdList = (lines: readonly string[]) => lines.map((line) => `- ${mdEscape(line)}`).join('\n')

export function renderSearchMarkdown(result: SearchResult, options: SearchRenderOptions = {}): string {
  const parts = [`# Deployment search: ${mdEscape(result.model.name)}`, mdList(searchHeaderLines(result)), '## Ranked', mdTable(rankedTable(result))]
  if (result.apis.options.length > 0) parts.push('## Against the APIs', mdTable(apiTable(result)))
  parts.push('## Why', mdList(result.why), mdEscape(prunedSummary(result, options.showPruned === true)))
  if (options.showPruned === true && result.pruned.length > 0) parts.push('## Pruned', mdTable(prunedTable(result.pruned)))
  parts.push('## Assumptions', mdList([...result.assumptions, ...result.notes]))
  return `${parts.join('\n\n')}\n`
}

const csvQuote = (value: string) => (/[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value)

/** One line per candidate (ranked, then pruned): numbers unrounded, the source and its range in columns of their own. */
export function renderSearchCsv(result: SearchResult): string {
  const head = [
    'rank',
    'status',
    'gpu',
    'gpus',
    'tp',
    'pp',
    'quant',
    'format',
    'engine',
    'pricing',
    'source',
    'output_tok_s',
    'output_tok_s_low',
    'output_tok_s_high',
    'batch',
    'tpot_ms',
    'ttft_ms',
    'replicas_peak',
    'replicas_average',
    'usd_per_gpu_hour',
    'usd_month',
    'usd_month_low',
    'usd_month_high',
    'usd_per_1m_input',
    'usd_per_1m_output',
    'quant_loss_pct',
    'pareto_tpot',
    'pareto_ttft',
    'reason',
  ]
  const value = (v: number | string | boolean | null) => (v === null ? '' : csvQuote(String(v)))
  const lines = [head.join(',')]
  for (const c of result.ranked) {
    lines.push(
      [
        c.rank,
        'ranked',
        c.gpu,
        c.gpus,
        c.tp,
        c.pp,
        c.quant,
        c.format,
        c.engine,
        c.pricing,
        c.source,
        c.throughput.outputTokensPerSecond,
        c.throughput.low,
        c.throughput.high,
        c.throughput.batch,
        c.throughput.tpotMs,
        c.throughput.ttftMs,
        c.replicas.peak,
        c.replicas.average,
        c.usdPerGpuHour,
        c.monthlyCost,
        c.monthlyCostLow,
        c.monthlyCostHigh,
        c.perMTok.input,
        c.perMTok.output,
        c.quantLoss?.lossPct ?? null,
        c.pareto.tpot,
        c.pareto.ttft,
        '',
      ]
        .map(value)
        .join(','),
    )
  }
  for (const p of result.pruned) {
    lines.push(
      [
        '',
        'pruned',
        p.gpu,
        p.gpus,
        p.tp,
        p.pp,
        p.quant,
        '',
        p.engine,
        p.pricing,
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        `${p.reason}: ${p.detail}`,
      ]
        .map(value)
        .join(','),
    )
  }
  return `${lines.join('\n')}\n`
}

const escapeHtml = (value: string) => value.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')
function htmlTable(table: Table): string {
  const head = headTexts(table)
    .map((title) => `<th>${escapeHtml(title)}</th>`)
    .join('')
  const rows = rowTexts(table).map((row) => `<tr>${row.map((t) => `<td>${escapeHtml(t)}</td>`).join('')}</tr>`)
  return `<table><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>`
}

const SOURCE_COLOURS: Record<Candidate['source'], string> = {MEASURED: '#1b7f3b', SCALED: '#c77c02', ESTIMATED: '#3656c9'}

/**
 * Cost per month (x) against a latency (y) for every ranked candidate with that latency: the frontier's points
 * joined and labelled "source: deployment", the others drawn faint. Inline SVG: no script, no dependency.
 */
export function paretoSvg(result: SearchResult, metric: 'tpot' | 'ttft'): string {
  const width = 720
  const height = 420
  const pad = {left: 70, right: 20, top: 30, bottom: 50}
  const latency = (c: Candidate) => (metric === 'tpot' ? c.throughput.tpotMs : c.throughput.ttftMs)
  const points = result.ranked.filter((c) => latency(c) !== null)
  const title = `Cost vs ${metric.toUpperCase()} (${metric === 'tpot' ? 'ms per output token' : 'ms to first token'}), Pareto frontier labelled`
  if (points.length === 0)
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="60" role="img"><text x="10" y="30">${escapeHtml(title)}: no candidate has this latency</text></svg>`
  const xs = points.map((c) => c.monthlyCost)
  const ys = points.map((c) => latency(c)!)
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)]
  const [y0, y1] = [0, Math.max(...ys) * 1.1]
  const sx = (x: number) => pad.left + ((x - x0) / (x1 - x0 || 1)) * (width - pad.left - pad.right)
  const sy = (y: number) => height - pad.bottom - ((y - y0) / (y1 - y0 || 1)) * (height - pad.top - pad.bottom)
  const frontierKeys = metric === 'tpot' ? result.pareto.tpot : result.pareto.ttft
  const frontier = frontierKeys.map((key) => points.find((c) => c.key === key)!).filter((c) => c !== undefined)
  const dots = points
    .map((c) => {
      const on = frontierKeys.includes(c.key)
      return `<circle cx="${sx(c.monthlyCost).toFixed(1)}" cy="${sy(latency(c)!).toFixed(1)}" r="${on ? 5 : 3}" fill="${SOURCE_COLOURS[c.source]}" fill-opacity="${on ? 1 : 0.3}"><title>${escapeHtml(`${c.source}: ${deploymentText(c)} ${c.quant} ${c.engine} ${c.pricing}, ${formatUsd(c.monthlyCost)}/month, ${latency(c)!.toFixed(1)} ms`)}</title></circle>`
    })
    .join('')
  const line = frontier.map((c) => `${sx(c.monthlyCost).toFixed(1)},${sy(latency(c)!).toFixed(1)}`).join(' ')
  const labels = frontier
    .map(
      (c, i) =>
        `<text x="${(sx(c.monthlyCost) + 7).toFixed(1)}" y="${(sy(latency(c)!) - 6 - (i % 2) * 12).toFixed(1)}" font-size="11">${escapeHtml(`${c.source}: ${c.gpus}x${c.gpu} ${c.quant} ${c.engine} ${c.pricing}`)}</text>`,
    )
    .join('')
  const axes =
    `<line x1="${pad.left}" y1="${height - pad.bottom}" x2="${width - pad.right}" y2="${height - pad.bottom}" stroke="#444"/>` +
    `<line x1="${pad.left}" y1="${pad.top}" x2="${pad.left}" y2="${height - pad.bottom}" stroke="#444"/>` +
    `<text x="${pad.left}" y="${height - 15}" font-size="12">${escapeHtml(formatUsd(x0))}</text>` +
    `<text x="${width - pad.right - 90}" y="${height - 15}" font-size="12">${escapeHtml(formatUsd(x1))}/month</text>` +
    `<text x="5" y="${pad.top + 10}" font-size="12">${y1.toFixed(0)} ms</text><text x="5" y="${height - pad.bottom}" font-size="12">0</text>`
  const legend = (Object.keys(SOURCE_COLOURS) as Candidate['source'][])
    .map(
      (source, i) =>
        `<circle cx="${width - 260 + i * 90}" cy="14" r="5" fill="${SOURCE_COLOURS[source]}"/><text x="${width - 252 + i * 90}" y="18" font-size="11">${source}</text>`,
    )
    .join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(title)}"><text x="${pad.left}" y="18" font-size="13">${escapeHtml(title)}</text>${legend}${axes}<polyline points="${line}" fill="none" stroke="#888" stroke-dasharray="4 3"/>${dots}${labels}</svg>`
}

export function renderSearchHtml(result: SearchResult, options: SearchRenderOptions = {}): string {
  const list = (lines: readonly string[]) => `<ul>${lines.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>`
  const body = [
    `<h1>Deployment search: ${escapeHtml(result.model.name)}</h1>`,
    list(searchHeaderLines(result)),
    '<h2>Ranked</h2>',
    htmlTable(rankedTable(result)),
    '<h2>Pareto frontier</h2>',
    `<div class="charts">${paretoSvg(result, 'tpot')}${paretoSvg(result, 'ttft')}</div>`,
    ...(result.apis.options.length > 0 ? ['<h2>Against the APIs</h2>', htmlTable(apiTable(result))] : []),
    '<h2>Why</h2>',
    list(result.why),
    `<p>${escapeHtml(prunedSummary(result, options.showPruned === true))}</p>`,
    ...(options.showPruned === true && result.pruned.length > 0 ? ['<h2>Pruned</h2>', htmlTable(prunedTable(result.pruned))] : []),
    '<h2>Assumptions</h2>',
    list([...result.assumptions, ...result.notes]),
  ]
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(`capplan plan --model ${result.model.id}`)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}.charts svg{margin:0 1em 1em 0;border:1px solid #eee}</style>
</head><body>
${body.join('\n')}
</body></html>
`
}

export type SearchFormatName = 'table' | 'md' | 'csv' | 'html' | 'json'

/** The search in one format (json: the whole result, every candidate with its source and inputs). */
export function renderSearch(result: SearchResult, format: SearchFormatName, options: SearchRenderOptions = {}): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(result, null, 2)}\n`
    case 'md':
      return renderSearchMarkdown(result, options)
    case 'csv':
      return renderSearchCsv(result)
    case 'html':
      return renderSearchHtml(result, options)
    case 'table':
      return `${renderSearchTable(result, options)}\n`
  }
}
