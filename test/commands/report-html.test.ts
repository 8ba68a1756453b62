import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, statSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {describe, expect, it} from 'vitest'

const repo = path.resolve(import.meta.dirname, '..', '..')
const bin = path.join(repo, 'bin', 'run.js')
const peers = path.join(repo, 'test', 'fixtures', 'peers')
const outDir = path.join(repo, 'test-output', 'report-html')

/** Debian's chromium (apt-get install chromium), or CHROMIUM_PATH. */
function findChromium(): string | null {
  for (const candidate of [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (candidate !== undefined && existsSync(candidate)) return candidate
  }
  return null
}
const chromium = findChromium()
const headless = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--window-size=1240,2800', '--virtual-time-budget=5000']

/** The page after its scripts ran, as headless Chromium serialises it. */
const renderedDom = (html: string) =>
  execFileSync(chromium!, [...headless, '--dump-dom', `file://${html}`], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 120_000})
const screenshot = (html: string, png: string) => execFileSync(chromium!, [...headless, `--screenshot=${png}`, `file://${html}`], {stdio: 'ignore', timeout: 120_000})

describe.skipIf(chromium === null)('capplan report --format html in headless Chromium', () => {
  it('renders every chart with no script or console error, offline, and saves a screenshot', async () => {
    mkdirSync(outDir, {recursive: true})
    const html = path.join(outDir, 'report.html')
    // llama-bench (costed on the cpu profile: throughput + cost charts, no TTFT), vLLM (misses the SLO: 33% failed;
    // speed + TTFT charts), GuideLLM (meets tpot 100 ms, priced by --gpu-price: speed + TTFT + cost) = 7 charts
    const run = await execa(
      'node',
      [
        bin,
        'report',
        path.join(peers, 'llama_bench.json'),
        path.join(peers, 'vllm_serve_detailed.json'),
        path.join(peers, 'guidellm_benchmarks.json'),
        '--slo',
        'ttft=2s,tpot=100ms',
        '--gpu-price',
        '0.36',
        '--volume',
        '100M',
        '--api',
        'gpt-4o,deepseek-v3',
        '--format',
        'html',
        '--out',
        html,
      ],
      {reject: false, cwd: repo},
    )
    expect(run.exitCode).toBe(0)
    expect(readFileSync(html, 'utf8')).not.toMatch(/<script[^>]+src=/)

    const dom = renderedDom(html)
    expect(dom).toMatch(/<body[^>]*data-charts-rendered="7"/)
    expect(dom).toMatch(/<body[^>]*data-errors="0"/)

    const png = path.join(outDir, 'report.png')
    screenshot(html, png)
    expect(statSync(png).size).toBeGreaterThan(20_000)
  }, 300_000)

  it('with --traffic: the decision opens the page and a chart of replicas and cost per hour is drawn', async () => {
    mkdirSync(outDir, {recursive: true})
    const html = path.join(outDir, 'report-traffic.html')
    // capplan's own embedded result: speed + TTFT + cost + traffic = 4 charts
    const run = await execa(
      'node',
      [
        bin,
        'report',
        path.join(peers, 'capplan-embedded-int4.json'),
        '--slo',
        'ttft=30s,tpot=2s',
        '--daily-volume',
        '2M',
        '--traffic',
        'business-hours:4',
        '--format',
        'html',
        '--out',
        html,
      ],
      {reject: false, cwd: repo},
    )
    expect(run.exitCode).toBe(0)
    const page = readFileSync(html, 'utf8')
    expect(page.indexOf('<section class="decision"><h2>Decision</h2>')).toBeGreaterThan(0)
    expect(page.indexOf('class="decision"')).toBeLessThan(page.indexOf('<section>\n<h2>'))
    expect(page).toContain('id="r0-traffic"')
    const dom = renderedDom(html)
    expect(dom).toMatch(/<body[^>]*data-charts-rendered="4"/)
    expect(dom).toMatch(/<body[^>]*data-errors="0"/)
    screenshot(html, path.join(outDir, 'report-traffic.png'))
  }, 300_000)
})
