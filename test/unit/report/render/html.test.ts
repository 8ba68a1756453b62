import {describe, expect, it} from 'vitest'

import {planCost} from '../../../../src/cost/plan.js'
import {costCurves, renderReportHtml} from '../../../../src/report/render/html.js'

// A replica: $1,000/month for 100M tokens/month (25 tok/s x 3600 x 730 = 65.7M; use totals that divide evenly:
// 1e8 / (3600 x 730) tok/s); one API at $20/1M -> crossover at 1000 / 20 = 50M tokens.
const plan = planCost({
  totalTokensPerSecond: 1e8 / (3600 * 730),
  usdPerGpuHour: 1000 / 730,
  apis: [{id: 'x', name: 'X', variant: null, inputPerMTok: 20, outputPerMTok: 20, source: 's', date: 'd'}],
})

describe('costCurves', () => {
  it('draws the self-hosted step function and the API line over log-spaced volumes', () => {
    const curves = costCurves(plan, 50)
    // range: from capacity / 100 = 1M to capacity x 20 = 2B (the crossover 50M x 10 = 500M is inside)
    expect(curves.volumes[0]).toBeCloseTo(1e6, 0)
    expect(curves.volumes.at(-1)).toBeCloseTo(2e9, -1)
    const at = (volume: number) => curves.volumes.findIndex((v) => v >= volume)
    // whole replicas: up to 100M one replica ($1,000), just past 100M two ($2,000)
    expect(curves.selfHosted[at(1e8)]).toBeCloseTo(1000, 6)
    expect(curves.selfHosted[at(1e8 * 1.01)]).toBeCloseTo(2000, 6)
    expect(curves.selfHosted.at(-1)).toBeCloseTo(20_000, 6) // 2B / 100M = 20 replicas
    // API line: $20/1M x volume
    expect(curves.apis[0]!.costs.at(-1)).toBeCloseTo(40_000, 3)
    expect(curves.apis[0]!.crossover).toBeCloseTo(5e7, 0)
  })
})

describe('renderReportHtml', () => {
  it('is one self-contained page: Chart.js and the data inlined, no external URL, no raw </script> in the data', () => {
    const html = renderReportHtml([], [{file: 'bad.json', message: 'bad.json is </script><b>odd</b>', suggestion: ''}], '/* chart.js stand-in */', '2026-11-22T00:00:00.000Z')
    expect(html).toContain('/* chart.js stand-in */')
    expect(html).not.toMatch(/<script[^>]+src=/)
    expect(html).not.toMatch(/https?:\/\//)
    expect(html).toContain('bad.json is &lt;/script&gt;&lt;b&gt;odd&lt;/b&gt;')
    expect(html).toContain('data-charts-rendered="0"')
  })
})
