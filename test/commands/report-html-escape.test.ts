import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {parseResultFile} from '../../src/results/read.js'
import type {ResultFile} from '../../src/results/schema.js'
import {serializeResultFile} from '../../src/results/write.js'

/**
 * Every string of the HTML report that came from a file is text, never markup or script (issue 7 §4): a real
 * capplan result file with hostile strings in every free-form field is reported with --format html and the
 * page is opened in headless Chromium; a probe script inserted by the TEST at the top of <head> (so nothing in
 * the report can swallow it) records what the page did once it has loaded.
 */

const repo = path.resolve(import.meta.dirname, '..', '..')
const bin = path.join(repo, 'bin', 'run.js')
const realResult = path.join(repo, 'test', 'fixtures', 'peers', 'capplan-embedded-int4.json')

const SCRIPT_TAG = '<script>window.__pwned=1</script>'
const ATTRIBUTE_BREAK = '"><img src=x onerror="window.__pwned=2">'
const SCRIPT_CLOSE = '</script><script>window.__pwned=3</script>'
const COMMENT_OPEN = '<!--<script>window.__pwned=4</script>'
const payloads = [SCRIPT_TAG, ATTRIBUTE_BREAK, SCRIPT_CLOSE, COMMENT_OPEN]

/** Debian's chromium (apt-get install chromium), or CHROMIUM_PATH. */
function findChromium(): string | null {
  for (const candidate of [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (candidate !== undefined && existsSync(candidate)) return candidate
  }
  return null
}
const chromium = findChromium()
if (chromium === null) console.warn('[skip] report-html-escape: no Chromium (apt-get install chromium, or set CHROMIUM_PATH)')
const headless = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--window-size=1240,2800', '--virtual-time-budget=5000']

/** The real result with the hostile strings in the model profile, notes, host, engine args and workload dataset. */
function hostileResult(): ResultFile {
  const result = parseResultFile(readFileSync(realResult, 'utf8'), realResult)
  return {
    ...result,
    capplan: {...result.capplan, command: ['capplan', 'bench', '--model', SCRIPT_TAG]},
    host: {
      ...result.host,
      hostname: ATTRIBUTE_BREAK,
      cpu: {...result.host.cpu, model: SCRIPT_CLOSE},
      // A GPU the run did not use (engine.gpuCount 0): recorded in the host snapshot all the same.
      gpus: [{vendor: ATTRIBUTE_BREAK, model: SCRIPT_TAG, vramMiB: 1024, driver: SCRIPT_CLOSE}],
    },
    engine: {...result.engine, args: [...result.engine.args, ATTRIBUTE_BREAK, SCRIPT_CLOSE], build: COMMENT_OPEN},
    model: {...result.model, profile: `m ${SCRIPT_TAG} ${ATTRIBUTE_BREAK}`, format: `${SCRIPT_CLOSE}${COMMENT_OPEN}`},
    workload: {...result.workload, dataset: `${SCRIPT_CLOSE}.jsonl`, promptSource: 'dataset'},
    notes: [...result.notes, ...payloads],
  }
}

/**
 * Inserted first in <head> by the test: once the page has loaded (image errors fired, Chart.js ran), write what
 * happened into <body data-probe="...">, which --dump-dom prints. Its own <script> is the one extra element.
 */
const probe = `<script>window.addEventListener('load', function () { setTimeout(function () {
  var text = document.body.textContent;
  var payloads = ${JSON.stringify(payloads).replaceAll('<', '\\u003c')};
  document.body.setAttribute('data-probe', JSON.stringify({
    pwned: typeof window.__pwned === 'undefined' ? null : String(window.__pwned),
    images: document.querySelectorAll('img').length,
    scripts: document.querySelectorAll('script').length,
    asText: payloads.map(function (p) { return text.indexOf(p) >= 0; }),
    charts: document.body.getAttribute('data-charts-rendered'),
    errors: document.body.getAttribute('data-errors')
  }));
}, 200); });</script>`

interface Probe {
  pwned: string | null
  images: number
  scripts: number
  asText: boolean[]
  charts: string
  errors: string
}

function openInChromium(htmlFile: string): Probe {
  const probed = htmlFile.replace(/\.html$/, '.probed.html')
  const page = readFileSync(htmlFile, 'utf8')
  expect(page).toContain('<meta charset="utf-8">')
  writeFileSync(probed, page.replace('<meta charset="utf-8">', `<meta charset="utf-8">${probe}`))
  const dom = execFileSync(chromium!, [...headless, '--dump-dom', `file://${probed}`], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 120_000})
  const match = /<body[^>]*data-probe="([^"]*)"/.exec(dom)
  expect(match, 'the probe ran and wrote data-probe').not.toBeNull()
  const json = match![1]!.replaceAll('&quot;', '"').replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&')
  return JSON.parse(json) as Probe
}

describe('capplan report --format html escapes strings from result files', () => {
  let dir: string
  let html: string
  let page: string
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'capplan-html-escape-'))
    // The file NAME is hostile too (a '/' cannot be in a name; the attribute-breaking payload has none).
    writeFileSync(path.join(dir, `${ATTRIBUTE_BREAK}.json`), serializeResultFile(hostileResult()))
    // An unreadable file whose name and error message carry markup: listed under "Files not reported".
    writeFileSync(path.join(dir, `${SCRIPT_TAG.replaceAll('/', '')}.json`), '{"schemaVersion": 1, "id": "<img src=x onerror=window.__pwned=5>"}')
    html = path.join(dir, 'report.html')
    const run = await execa(
      'node',
      [bin, 'report', dir, '--slo', 'ttft=60s,tpot=5s', '--gpu-price', '0.36', '--volume', '100M', '--api', 'gpt-4o', '--format', 'html', '--out', html],
      {
        reject: false,
        cwd: repo,
      },
    )
    // 6 = INVALID_RESULT: the second file is reported as invalid, the hostile one is reported.
    expect(run.exitCode, run.stderr).toBe(6)
    page = readFileSync(html, 'utf8')
  })
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it('the page bytes: only the template\'s four <script> elements, no payload unescaped, embedded JSON without "<"', () => {
    expect(page.match(/<script/gi)?.length, 'number of <script in the page').toBe(4)
    expect(/<img/i.test(page), 'the page holds <img').toBe(false)
    expect(page.includes('<!--'), 'the page holds <!--').toBe(false)
    expect(
      payloads.filter((payload) => page.includes(payload)),
      'payloads present unescaped',
    ).toEqual([])
    // The data Chart.js reads sits inside <script>: it must neither close that element nor open a comment,
    // and must still parse back to the hostile label, character for character.
    const data = /<script type="application\/json" id="capplan-data">([\s\S]*?)<\/script>/.exec(page)![1]!
    expect(data.includes('<'), 'the embedded JSON holds "<"').toBe(false)
    const charts = JSON.parse(data) as {title: string}[]
    expect(charts.map((chart) => chart.title)).toEqual([`m ${SCRIPT_TAG} ${ATTRIBUTE_BREAK} int4 (${SCRIPT_CLOSE}${COMMENT_OPEN}), embedded cpu`])
  })

  it.skipIf(chromium === null)(
    'in headless Chromium: hostile model names, hosts, engine args, datasets and file names render as text, nothing executes',
    () => {
      const probed = openInChromium(html)
      expect(probed.pwned, 'window.__pwned').toBeNull()
      expect(probed.images, '<img> elements').toBe(0)
      // The template's four scripts plus the test's probe.
      expect(probed.scripts, '<script> elements').toBe(5)
      expect(probed.errors).toBe('0')
      // speed + TTFT + cost charts of the one readable result: the embedded JSON survived intact.
      expect(probed.charts).toBe('3')
      // The label (section heading) holds the model profile (SCRIPT_TAG, ATTRIBUTE_BREAK) and the format
      // (SCRIPT_CLOSE, COMMENT_OPEN): all four show as text.
      expect(probed.asText).toEqual([true, true, true, true])
    },
    300_000,
  )
})
