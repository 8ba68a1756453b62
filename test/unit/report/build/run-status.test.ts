import {beforeAll, describe, expect, it} from 'vitest'

import {parseCostFlags} from '../../../../src/cli/parsers/cost.js'

import {loadProfiles} from '../../../../src/profiles/load.js'
import {type ProfileStore} from '../../../../src/profiles/store.js'
import {renderReportHtml} from '../../../../src/report/render/html.js'
import {renderReportMarkdown, renderReportTable, runStatusLine} from '../../../../src/report/render/report.js'
import {buildResultReport} from '../../../../src/report/build/result-report.js'
import type {ResultFile} from '../../../../src/results/schema.js'
import {sampleResult} from '../../results/sample-result.js'
import {level} from '../levels.js'

/** A result file that never finished (capplan killed mid-run) must say so wherever it is reported. */
let store: ProfileStore
beforeAll(async () => {
  store = await loadProfiles()
})

const report = (status: ResultFile['status']) =>
  buildResultReport(
    'run.json',
    sampleResult({
      status,
      levels: [level({concurrency: 1, outputTokensPerS: 10, ttftP95: 100, tpotP95: 20}), level({concurrency: 2, outputTokensPerS: 18, ttftP95: 200, tpotP95: 30})],
    }),
    store,
    {slo: {tpotMs: 50}, plan: parseCostFlags({'gpu-price': '2'})},
  )

describe('the run status in reports', () => {
  it('carries the file status and words it; a complete run adds no line', () => {
    expect(report('running').runStatus).toBe('running')
    expect(runStatusLine(report('complete'))).toBeNull()
    expect(runStatusLine(report('running'))).toBe('Incomplete: run did not finish (status "running": killed?); the file holds the 2 levels saved before it stopped.')
    expect(runStatusLine(report('interrupted'))).toBe('Incomplete: run interrupted (Ctrl-C or a signal); the file holds the 2 levels measured before it.')
    expect(runStatusLine(report('partial'))).toMatch(/^Incomplete: some levels failed/)
    expect(runStatusLine(report('failed'))).toMatch(/^Failed: /)
  })

  it('terminal, Markdown and HTML show it under the file name; a complete run shows none', () => {
    const running = report('running')
    expect(renderReportTable([running], [])).toMatch(/File: run\.json\nIncomplete: run did not finish/)
    expect(renderReportMarkdown([running], [])).toMatch(/- File: run\.json\n- Incomplete: run did not finish/)
    expect(renderReportHtml([running], [], '', 'now')).toContain('<p class="status">Incomplete: run did not finish (status &quot;running&quot;: killed?)')
    expect(renderReportTable([report('complete')], [])).not.toMatch(/Incomplete|Failed:/)
    expect(renderReportHtml([report('complete')], [], '', 'now')).not.toContain('<p class="status">')
  })
})
