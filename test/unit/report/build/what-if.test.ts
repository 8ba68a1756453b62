import path from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {parseCostFlags} from '../../../../src/cli/parsers/cost.js'

import {loadProfiles} from '../../../../src/profiles/load.js'
import {type ProfileStore} from '../../../../src/profiles/store.js'
import {parseWhatIfTargets, reportOptionsFromFlags} from '../../../../src/services/report/collect.js'
import {renderReportCsv, renderReportMarkdown, renderReportTable, reportCsvColumns} from '../../../../src/report/render/report.js'
import {renderReportHtml} from '../../../../src/report/render/html.js'
import {buildResultReport, type WhatIfReport} from '../../../../src/report/build/result-report.js'
import {readResultFile} from '../../../../src/results/read.js'
import type {ResultFile} from '../../../../src/results/schema.js'
import {sampleResult} from '../../results/sample-result.js'
import {handWritten, level} from '../levels.js'

const fixture = path.resolve(import.meta.dirname, '..', '..', '..', 'fixtures', 'peers', 'capplan-embedded-int4.json')

let store: ProfileStore
let recorded: ResultFile
beforeAll(async () => {
  store = await loadProfiles()
  recorded = await readResultFile(fixture)
})

/** The recorded run's SLO is loose enough that c=2 (its highest level) is the operating point. */
const slo = {ttftMs: 10_000, tpotMs: 2000}
const MEASURED_C2 = 1.125270332272108

/** RFC 4180 fields of one CSV line (quoted fields may hold commas). */
function csvFields(line: string): string[] {
  const fields: string[] = []
  for (const match of line.matchAll(/("(?:[^"]|"")*"|[^,]*)(,|$)/g)) {
    const raw = match[1]!
    fields.push(raw.startsWith('"') ? raw.slice(1, -1).replaceAll('""', '"') : raw)
    if (match[2] === '') break
  }
  return fields
}

function okWhatIf(whatIf: WhatIfReport | undefined): Extract<WhatIfReport, {ok: true}> {
  if (whatIf === undefined || !whatIf.ok) throw new Error(`expected an estimate, got ${JSON.stringify(whatIf)}`)
  return whatIf
}

describe('--what-if: the operating point scaled to an unmeasured GPU, costed as an estimate', () => {
  it('scales the recorded CPU run (20 GB/s) to an H200 by the ceiling ratio and costs it at the H200 price', () => {
    const report = buildResultReport('run.json', recorded, store, {slo, plan: parseCostFlags({api: 'gpt-4o', volume: '1B'}), bandwidthGBs: 20, whatIf: ['h200']})
    expect(report.operatingPoint.load).toEqual({kind: 'concurrency', value: 2})
    const h200 = okWhatIf(report.whatIf[0])
    // Both are memory-bound at batch 2 with the same bytes per step (276,608,040), so the ceiling ratio is
    // the bandwidth ratio: source 20e9 x 0.8 -> 115.687 tok/s, target 4.8e12 x 0.8 -> 2 x 3.84e12 / 276,608,040 = 27,765.4 tok/s;
    // ratio 4.8e12 / 20e9 = 240. Estimate = 1.125270 x 240 = 270.065 output tok/s.
    expect(h200.sourceCeilingTokensPerS).toBeCloseTo(32e9 / 276_608_040, 9)
    expect(h200.targetCeilingTokensPerS).toBeCloseTo(7.68e12 / 276_608_040, 6)
    expect(h200.scale).toBeCloseTo(240, 9)
    expect(h200.throughput.outputTokensPerS).toBeCloseTo(MEASURED_C2 * 240, 9)
    expect(h200.throughput.totalTokensPerS).toBeCloseTo(3.375810996816324 * 240, 9)
    expect(h200.sourceEfficiency).toBeCloseTo(MEASURED_C2 / (32e9 / 276_608_040), 12)
    expect(h200.gpusPerReplica).toBe(1)
    expect(h200.label).toBe('estimate')
    expect(h200.fromFile).toBe('run.json')
    expect(h200.fromResultId).toBe(recorded.id)
    expect(h200.warnings.join(' ')).toContain('measured on cpu hardware, estimated for nvidia')
    // Cost like a measurement: total = 270.065 x 3 (32:16) = 810.195 tok/s; H200 on-demand $4.88/h:
    // $/1M = 4.88 x 1e6 / (810.195 x 3600) = $1.6731; 1B/month / (810.195 x 3600 x 730 = 2.1292B) -> 1 replica
    const plan = h200.plan!
    expect(plan.inputs.usdPerGpuHour).toBe(4.88)
    expect(plan.costPerMillionTokens).toBeCloseTo(4.88e6 / (MEASURED_C2 * 240 * 3 * 3600), 9)
    expect(plan.costPerMillionTokens).toBeCloseTo(1.6731, 4)
    expect(plan.replicas).toBe(1)
    expect(h200.costNote).toMatch(/^ESTIMATE costed at 270\.1 output tok\/s on 1 x h200 \(TP 1\), not measured/)
    // The measured result is still costed on its own hardware, untouched by the what-if.
    expect(report.plan!.inputs.outputTokensPerSecond).toBe(MEASURED_C2)
  })

  it('refuses, with the reason and no cost, when the model does not fit the target', () => {
    // Qwen2.5-72B Q4_0 measured on 1 x H100 (80 GB); weights 72.7e9 x 4.5 / 8 = 40.9 GB > an L4's 24 GB.
    const run72b = sampleResult({
      gpuProfile: 'h100-sxm',
      engine: {...sampleResult().engine, backend: 'cuda', gpuCount: 1},
      model: {...sampleResult().model, profile: 'qwen2.5-72b', format: 'Q4_0', paramsB: 72.7},
      workload: {profile: null, inputTokens: 512, outputTokens: 256, promptSource: 'synthetic-token-ids', dataset: null, seed: 1, ignoreEos: true},
      levels: [level({concurrency: 1, outputTokensPerS: 40, ttftP95: 100, tpotP95: 25})],
    })
    const report = buildResultReport('72b.json', run72b, store, {plan: parseCostFlags({api: 'gpt-4o'}), whatIf: ['l4', 'h200']}, handWritten(run72b))
    const [l4, h200] = report.whatIf
    expect(l4).toEqual({
      target: 'l4',
      ok: false,
      label: 'estimate',
      fromFile: '72b.json',
      fromResultId: run72b.id,
      reason: 'qwen2.5-72b (40.9 GB of Q4_0 weights) does not fit on 1 x l4',
    })
    // H200 holds it: 40 tok/s on H100 at batch 1 (memory-bound both) x 4.8 / 3.35 = 57.31 tok/s
    expect(okWhatIf(h200).throughput.outputTokensPerS).toBeCloseTo((40 * 4.8) / 3.35, 9)
    expect(renderReportTable([report], [])).toContain('What-if l4 (ESTIMATE): refused: qwen2.5-72b (40.9 GB of Q4_0 weights) does not fit on 1 x l4. Not costed.')
  })

  it('refuses a CPU result without a bandwidth (its efficiency is unknown), and a result with no operating point', () => {
    const noBandwidth = buildResultReport('run.json', recorded, store, {slo, plan: parseCostFlags({api: 'gpt-4o'}), whatIf: ['h200']})
    expect(noBandwidth.whatIf[0]!.ok).toBe(false)
    expect(noBandwidth.whatIf[0]).toMatchObject({reason: expect.stringContaining('--bandwidth GB/s')})
    // The default SLO (TTFT 2 s, TPOT 50 ms at p95) is missed at c=1 (TTFT p95 5053 ms): nothing to scale.
    const noPoint = buildResultReport('run.json', recorded, store, {plan: parseCostFlags({api: 'gpt-4o'}), bandwidthGBs: 20, whatIf: ['h200']})
    expect(noPoint.whatIf[0]).toMatchObject({ok: false, reason: 'no operating point to scale (no measured level meets the SLO)'})
  })

  it('renders the estimate, clearly labeled, in table, Markdown, CSV and HTML', () => {
    const report = buildResultReport('run.json', recorded, store, {slo, plan: parseCostFlags({api: 'gpt-4o'}), bandwidthGBs: 20, whatIf: ['h200', 'l4']})
    const table = renderReportTable([report], [])
    expect(table).toContain('What-if h200 (ESTIMATE, not measured): 270.1 output tok/s on 1 x h200; estimate: 1.13 tok/s measured on 1 x cpu at batch 2')
    expect(renderReportMarkdown([report], [])).toContain('### What-if h200 (ESTIMATE)')
    const html = renderReportHtml([report], [], '/* chart.js */', 'now')
    expect(html).toContain('What-if h200 (ESTIMATE, not measured)</h3>')
    const rows = renderReportCsv([report], []).trim().split('\n').map(csvFields)
    expect(rows.every((row) => row.length === reportCsvColumns.length)).toBe(true)
    const column = (row: string[], name: (typeof reportCsvColumns)[number]) => row[reportCsvColumns.indexOf(name)]
    const estimateRows = rows.filter((row) => column(row, 'operating_point') === 'estimate')
    // One row per target x API (h200 x gpt-4o, l4 x gpt-4o): the 0.5B model fits an L4 too.
    expect(estimateRows).toHaveLength(2)
    expect(column(estimateRows[0]!, 'gpu_profile')).toBe('h200')
    expect(column(estimateRows[0]!, 'estimate_from')).toBe(recorded.id)
    expect(Number(column(estimateRows[0]!, 'output_tok_s'))).toBeCloseTo(MEASURED_C2 * 240, 9)
    // The measured row carries its efficiency: 1.125270 / 115.687 = 0.97%
    const measured = rows.find((row) => column(row, 'operating_point') === 'measured')!
    expect(Number(column(measured, 'efficiency'))).toBeCloseTo(MEASURED_C2 / (32e9 / 276_608_040), 12)
    expect(column(measured, 'roofline_verdict')).toBe('ok')
  })
})

describe('an INTERPOLATED operating point is checked and scaled at its own load and throughput', () => {
  it('uses batch 10/3 and 26 tok/s, not the measured level below it', () => {
    // Levels c=1 10, c=2 18, c=4 30 tok/s at 512:256; TPOT p95 30 -> 60 ms crosses 50 ms 2/3 of the way from
    // c=2 to c=4: load 2 + 2/3 x 2 = 10/3, output 18 + 2/3 x 12 = 26 tok/s (as result-report.test.ts).
    const run = sampleResult({
      workload: {profile: null, inputTokens: 512, outputTokens: 256, promptSource: 'synthetic-token-ids', dataset: null, seed: 1, ignoreEos: true},
      levels: [
        level({concurrency: 1, outputTokensPerS: 10, ttftP95: 100, tpotP95: 20}),
        level({concurrency: 2, outputTokensPerS: 18, ttftP95: 200, tpotP95: 30}),
        level({concurrency: 4, outputTokensPerS: 30, ttftP95: 600, tpotP95: 60}),
      ],
    })
    const report = buildResultReport(
      'i.json',
      run,
      store,
      {slo: {ttftMs: 2000, tpotMs: 50}, plan: parseCostFlags({'gpu-price': '2'}), bandwidthGBs: 20, whatIf: ['h200']},
      handWritten(run),
    )
    expect(report.operatingPoint.kind).toBe('interpolated')
    // Ceiling at batch 10/3, context 512 + 128 = 640: KV = 10/3 x 12,288 x 640 = 26,214,400 bytes;
    // 10/3 x 16e9 / (275,625,000 + 26,214,400) = 53.333e9 / 301,839,400 = 176.69 tok/s; efficiency 26 / 176.69 = 14.7%
    const check = report.operatingPointSanity!.check!
    expect(check.ceilingTokensPerSecond).toBeCloseTo(((10 / 3) * 16e9) / 301_839_400, 6)
    expect(check.efficiency).toBeCloseTo(26 / (((10 / 3) * 16e9) / 301_839_400), 9)
    // On an H200 (memory-bound too): x 4.8e12 / 20e9 = 240 -> 6240 output tok/s, total x3 = 18,720
    const h200 = okWhatIf(report.whatIf[0])
    expect(h200.fromLoad.value).toBeCloseTo(10 / 3, 12)
    expect(h200.throughput.outputTokensPerS).toBeCloseTo(26 * 240, 6)
    expect(h200.throughput.totalTokensPerS).toBeCloseTo(78 * 240, 6)
    expect(h200.basis).toContain('interpolated operating point')
  })
})

describe('--what-if and --bandwidth flags', () => {
  it('parses GPU ids and rejects unknown ones (exit 3)', () => {
    expect(parseWhatIfTargets('h200, b200,h200', store)).toEqual(['h200', 'b200'])
    expect(() => parseWhatIfTargets('h300', store)).toThrow('--what-if: no GPU profile "h300".')
    expect(() => parseWhatIfTargets(' , ', store)).toThrow('--what-if is empty.')
    const options = reportOptionsFromFlags({bandwidth: '20', 'what-if': 'h200'}, store)
    expect(options.bandwidthGBs).toBe(20)
    expect(options.whatIf).toEqual(['h200'])
    expect(() => reportOptionsFromFlags({bandwidth: '0'}, store)).toThrow('--bandwidth must be more than 0')
  })
})
