import {beforeAll, describe, expect, it} from 'vitest'

import {parseCostFlags} from '../../../../src/cli/parsers/cost.js'

import {loadProfiles} from '../../../../src/profiles/load.js'
import {type ProfileStore} from '../../../../src/profiles/store.js'
import {renderReportHtml} from '../../../../src/report/render/html.js'
import {renderReportCsv, renderReportMarkdown, renderReportTable, reportCsvColumns} from '../../../../src/report/render/report.js'
import {costTable, levelsTable, rowTexts} from '../../../../src/report/render/rows.js'
import {buildResultReport as buildReport, type ResultReport} from '../../../../src/report/build/result-report.js'
import {sampleResult} from '../../results/sample-result.js'
import {handWritten, level} from '../levels.js'

/** The cost stages over hand-written summaries (levels.ts): their verification is the test double handWritten. */
const buildResultReport = (...[file, result, store, options]: Parameters<typeof buildReport>) => buildReport(file, result, store, options, handWritten(result))

/** Fields of one CSV line (RFC 4180 quoting: "a, b" and "" inside quotes). */
function csvFields(line: string): string[] {
  const fields: string[] = []
  const pattern = /("(?:[^"]|"")*"|[^,]*)(,|$)/g
  for (const match of line.matchAll(pattern)) {
    const raw = match[1]!
    fields.push(raw.startsWith('"') ? raw.slice(1, -1).replaceAll('""', '"') : raw)
    if (match[2] === '') break
  }
  return fields
}

let store: ProfileStore
let costed: ResultReport
let uncosted: ResultReport
beforeAll(async () => {
  store = await loadProfiles()
  const result = sampleResult({
    workload: {profile: null, inputTokens: 512, outputTokens: 256, promptSource: 'synthetic-token-ids', dataset: null, seed: 1, ignoreEos: true},
    levels: [level({concurrency: 1, outputTokensPerS: 10, ttftP95: 100, tpotP95: 20}), level({concurrency: 2, outputTokensPerS: 18, ttftP95: 200, tpotP95: 30})],
  })
  // c=2 meets tpot <= 50 ms and is the last level: 18 output tok/s -> 54 total at 2:1; $2/h x 730 = $1,460/month;
  // capacity 54 x 3600 x 730 = 141.912M tokens -> $/1M = 1460 / 141.912 = $10.29; 1B tokens -> ceil(7.05) = 8 replicas
  costed = buildResultReport('a.json', result, store, {slo: {tpotMs: 50}, plan: parseCostFlags({'gpu-price': '2', volume: '1B', api: 'gpt-4o,deepseek-v3'})})
  uncosted = buildResultReport('b.json', result, store, {slo: {tpotMs: 5}, plan: parseCostFlags({'gpu-price': '2', volume: '1B', api: 'gpt-4o'})})
})

describe('report renderers', () => {
  it('terminal: an overview line per result, then each result with its levels, operating point and cost', () => {
    const text = renderReportTable([costed, uncosted], [{file: 'bad.json', message: 'bad.json is not valid JSON.', suggestion: 'Re-run.'}])
    // the decision first (one of the two results is costed at a volume), then the overview, then the details
    expect(text.startsWith('Decision for qwen2.5-0.5b int4 (Q4_0), embedded cpu (a.json):\n  At ')).toBe(true)
    expect(text.indexOf('Overview (details below)')).toBeGreaterThan(0)
    expect(text.indexOf('Overview (details below)')).toBeLessThan(text.indexOf('== '))
    expect(text).toContain('$10.29')
    expect(text).toContain('8 (8)')
    expect(text).toContain('not costed')
    expect(text).toContain('Operating point (measured): c=2, 18.0 output tok/s (54.0 total)')
    expect(text).toContain('Files not reported (invalid):\n  bad.json is not valid JSON. Re-run.')
  })

  it('CSV: one row per result and API, a row for an uncosted result, a row per invalid file', () => {
    const lines = renderReportCsv([costed, uncosted], [{file: 'bad.json', message: 'broken', suggestion: ''}])
      .trim()
      .split('\n')
    expect(lines[0]).toBe(reportCsvColumns.join(','))
    expect(lines).toHaveLength(1 + 2 + 1 + 1)
    const row = csvFields(lines[1]!)
    const column = (name: (typeof reportCsvColumns)[number]) => row[reportCsvColumns.indexOf(name)]
    expect(column('output_tok_s')).toBe('18')
    expect(Number(column('self_usd_per_1m'))).toBeCloseTo(1460 / 141.912, 9)
    expect(column('replicas')).toBe('8')
    expect(column('api')).toBe('gpt-4o')
    expect(lines.map((line) => csvFields(line).length)).toEqual(lines.map(() => reportCsvColumns.length))
    expect(row[1]).toBe('qwen2.5-0.5b int4 (Q4_0), embedded cpu')
  })

  it('Markdown: a heading per result and pipe tables', () => {
    const md = renderReportMarkdown([costed], [])
    expect(md).toMatch(/^# capplan report\n/)
    expect(md).toContain('## qwen2.5-0.5b int4 (Q4_0), embedded cpu')
    // The same cost table and plan lines as the terminal, in Markdown syntax
    expect(md).toContain('| Option | Quality | $/1M in / out | $/1M at 512:256 | Monthly | Self-host cheaper |')
    expect(md).toContain('- Volume: 1B tokens/month -> 8 replicas (8 GPUs, ')
    expect(md).toContain('| Self-hosted (8 replicas x 1 GPU) | Q4_0: -7.5% (wikitext-2 perplexity) | - | $10.29 |')
    expect(md).toMatch(/^- GPT-4o: /m)
  })

  it('terminal, Markdown and HTML show the same level and cost rows', () => {
    const text = renderReportTable([costed], [])
    const md = renderReportMarkdown([costed], [])
    const html = renderReportHtml([costed], [], '', 'now')
    const escape = (t: string) => t.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')
    for (const row of [...rowTexts(levelsTable(costed)), ...rowTexts(costTable(costed.plan!))]) {
      expect(md).toContain(`| ${row.map((t) => t.replaceAll('|', '\\|')).join(' | ')} |`)
      expect(html).toContain(`<tr>${row.map((t) => `<td>${escape(t)}</td>`).join('')}</tr>`)
      // the terminal wraps long cells to fit 120 columns: every word of the cell is there
      for (const t of row) for (const word of t.split(/\s+/)) expect(text).toContain(word)
    }
  })
})
