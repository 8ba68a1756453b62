/**
 * `capplan report --format html`: ONE self-contained file that works offline. Charts are drawn by Chart.js
 * (its UMD build is inlined, not fetched); the data is inlined as JSON. Per result:
 * - output throughput vs per-user speed (1000 / median TPOT), and vs TTFT p95, one point per level;
 * - monthly cost vs monthly volume on log axes: the self-hosted step function (whole replicas), each API's
 *   line, and the crossovers marked;
 * and the numbers in tables beneath. The page records on <body data-charts-rendered="N"> how many charts it
 * drew and lists any script error in #errors (what the headless-browser test checks).
 */

import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import path from 'node:path'

import type {PlanResult} from '../../cost/plan.js'
import type {ResultReport} from '../build/result-report.js'
import {apiName, loadCell} from '../format.js'
import {reportDecisionLines} from './buyer-lines.js'
import {INVALID_TITLE, invalidLine, NO_RESULTS, type InvalidResultFile} from './lines.js'
import {headTexts, rowTexts, type Table} from './rows.js'
import {planParts, reportSections, type Section} from './sections.js'

/** Chart.js's UMD bundle from node_modules (resolved through the package, so the installed version is used). */
export function chartJsSource(): string {
  const main = createRequire(import.meta.url).resolve('chart.js')
  return readFileSync(path.join(path.dirname(main), 'chart.umd.min.js'), 'utf8')
}

const escapeHtml = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')

/** JSON safe inside <script>: no "</script>", no HTML comment openers. */
const scriptJson = (value: unknown) => JSON.stringify(value).replaceAll('<', '\\u003c').replaceAll('>', '\\u003e')

/** Points of the cost-vs-volume chart: log-spaced volumes, self-hosted step cost and each API's cost. */
export function costCurves(
  plan: PlanResult,
  points = 240,
): {
  volumes: number[]
  selfHosted: number[]
  apis: {label: string; costs: number[]; crossover: number | null}[]
} {
  const capacity = plan.replicaCapacityTokensPerMonth
  const crossovers = plan.apis.map((api) => api.crossover.volumeTokensPerMonth).filter((v): v is number => v !== null)
  const volume = plan.inputs.volume?.tokensPerMonth
  const low = Math.min(capacity / 100, ...crossovers.map((v) => v / 10), ...(volume === undefined ? [] : [volume / 10]))
  const high = Math.max(capacity * 20, ...crossovers.map((v) => v * 10), ...(volume === undefined ? [] : [volume * 10]))
  const volumes: number[] = []
  for (let i = 0; i < points; i++) volumes.push(low * (high / low) ** (i / (points - 1)))
  // Each replica boundary inside the range is added on both sides, so the steps draw as steps.
  for (let n = 1; n * capacity <= high && n <= 200; n++) {
    if (n * capacity >= low) volumes.push(n * capacity)
    if (n * capacity >= low && n * capacity * (1 + 1e-9) <= high) volumes.push(n * capacity * (1 + 1e-9))
  }
  volumes.sort((a, b) => a - b)
  const selfHosted = volumes.map((v) => Math.max(1, Math.ceil(v / capacity - 1e-12)) * plan.replicaMonthlyCost)
  return {
    volumes,
    selfHosted,
    apis: plan.apis.map((api) => ({
      label: apiName(api),
      costs: volumes.map((v) => (v * api.blendedPerMTok) / 1e6),
      crossover: api.crossover.volumeTokensPerMonth,
    })),
  }
}

/** The per-hour chart of a plan with --traffic: replicas each hour (autoscaled), the fixed fleet, $ per hour. */
export function trafficSeries(plan: PlanResult): {hours: number[]; replicas: number[]; fixedReplicas: number; usdPerHour: number[]; fixedUsdPerHour: number} | null {
  const traffic = plan.traffic
  if (traffic === null) return null
  const replicaUsd = plan.inputs.usdPerGpuHour * plan.inputs.gpusPerReplica
  const owned = plan.ownership !== null
  const replicas = traffic.hours.map((h) => (owned ? traffic.fixed.replicas : h.autoscaledReplicas))
  return {
    hours: traffic.hours.map((h) => h.hour),
    replicas,
    fixedReplicas: traffic.fixed.replicas,
    usdPerHour: replicas.map((r) => r * replicaUsd),
    fixedUsdPerHour: traffic.fixed.replicas * replicaUsd,
  }
}

interface ChartData {
  id: string
  title: string
  traffic: ReturnType<typeof trafficSeries>
  levels: {load: string; outputTokensPerS: number; perUserTokensPerS: number | null; ttftP95: number | null}[]
  cost: ReturnType<typeof costCurves> | null
  operatingPoint: {outputTokensPerS: number; perUserTokensPerS: number | null; ttftP95: number | null; kind: string} | null
}

/** A level on the charts' axes: per-user speed (1000 / median TPOT, else the recorded one) and TTFT at the SLO's percentile. */
function levelPoint(report: ResultReport, index: number): {speed: number | null; ttft: number | null} {
  const summary = report.levels[index]!
  return {
    speed: summary.tpotMs === null || summary.tpotMs.p50 <= 0 ? summary.perUserTokensPerS : 1000 / summary.tpotMs.p50,
    ttft: summary.ttftMs?.[report.operatingPoint.percentile] ?? null,
  }
}

/** The operating point on the level charts' axes, interpolated like the point. */
function operatingPointX(report: ResultReport): {perUserTokensPerS: number | null; ttftP95: number | null} {
  const p = report.operatingPoint
  if (p.levelIndex === null) return {perUserTokensPerS: null, ttftP95: null}
  const lower = levelPoint(report, p.levelIndex)
  if (p.interpolation === null) return {perUserTokensPerS: lower.speed, ttftP95: lower.ttft}
  const upperIndex = report.loads.findIndex((load) => load.value === p.interpolation!.upperLoad)
  if (upperIndex < 0) return {perUserTokensPerS: lower.speed, ttftP95: lower.ttft}
  const upper = levelPoint(report, upperIndex)
  const f = p.interpolation.fraction
  const lerp = (a: number | null, b: number | null) => (a === null || b === null ? null : a + f * (b - a))
  return {perUserTokensPerS: lerp(lower.speed, upper.speed), ttftP95: lerp(lower.ttft, upper.ttft)}
}

function chartData(report: ResultReport, index: number): ChartData {
  const p = report.operatingPoint
  return {
    id: `r${index}`,
    title: report.label,
    // A level excluded by the check of its summary (results/verify.ts) is not drawn: its numbers are not a measurement.
    levels: report.levels.flatMap((summary, i) => {
      if (report.verification.levels[i]?.verdict === 'excluded') return []
      const point = levelPoint(report, i)
      return [{load: loadCell(report.loads[i]!), outputTokensPerS: summary.throughput.outputTokensPerS, perUserTokensPerS: point.speed, ttftP95: point.ttft}]
    }),
    cost: report.plan === null ? null : costCurves(report.plan),
    traffic: report.plan === null ? null : trafficSeries(report.plan),
    operatingPoint: p.outputTokensPerS === null ? null : {...operatingPointX(report), outputTokensPerS: p.outputTokensPerS, kind: p.kind},
  }
}

/** HTML syntax: every text escaped, titles included. */
function htmlTable(table: Table): string {
  const head = headTexts(table)
    .map((title) => `<th>${escapeHtml(title)}</th>`)
    .join('')
  const rows = rowTexts(table).map((row) => `<tr>${row.map((text) => `<td>${escapeHtml(text)}</td>`).join('')}</tr>`)
  return `<table><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>`
}

const htmlList = (className: string, lines: readonly string[]) =>
  lines.length === 0 ? '' : `<ul class="${className}">${lines.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>`

function planBlock(plan: PlanResult): string {
  const {lines, table, verdicts} = planParts(plan)
  return `${htmlList('plan', lines)}\n${htmlTable(table)}\n${htmlList('verdicts', verdicts)}`
}

/** One section as HTML; the charts follow the header (`id` names their canvases). */
function htmlSection(section: Section, id: string, costChart: boolean, trafficChart = false): string {
  switch (section.kind) {
    case 'header': {
      const {header} = section
      return `<h2>${escapeHtml(header.title)}</h2>
<p class="meta">${[header.file, header.workload, header.slo].map(escapeHtml).join('<br>')}</p>
${header.status === null ? '' : `<p class="status">${escapeHtml(header.status)}</p>\n`}<div class="charts"><canvas id="${id}-speed" width="560" height="360"></canvas><canvas id="${id}-ttft" width="560" height="360"></canvas>${costChart ? `<canvas id="${id}-cost" width="1120" height="420"></canvas>` : ''}${trafficChart ? `<canvas id="${id}-traffic" width="1120" height="360"></canvas>` : ''}</div>`
    }
    case 'levels':
      return `${htmlTable(section.table)}\n<p class="meta">${section.notes.map(escapeHtml).join('<br>')}</p>`
    case 'paragraph':
      return section.emphasis ? `<p><strong>${escapeHtml(section.text)}</strong></p>` : `<p>${escapeHtml(section.text)}</p>`
    case 'list':
      return htmlList(section.name, section.lines)
    case 'plan':
      return planBlock(section.plan)
    case 'whatIf':
      return `<div class="what-if"><h3>What-if ${escapeHtml(section.target)} (ESTIMATE, not measured)</h3>${section.lines
        .map((line) => `<p>${escapeHtml(line.trim())}</p>`)
        .join('')}${section.plan === null ? '' : planBlock(section.plan)}</div>`
  }
}

// Runs in the page: draws every chart from the inlined data, then records how many it drew.
// Runs first: records script errors and console errors (what the headless test checks) before Chart.js loads.
const errorHookScript = `
window.capplanErrors = [];
window.capplanFail = function (message) { window.capplanErrors.push(String(message)); var el = document.getElementById('errors'); el.textContent = window.capplanErrors.join('\\n'); el.hidden = false; document.body.setAttribute('data-errors', String(window.capplanErrors.length)); };
window.addEventListener('error', function (e) { window.capplanFail(e.message); });
(function () { var original = console.error; console.error = function () { window.capplanFail(Array.prototype.join.call(arguments, ' ')); return original.apply(console, arguments); }; })();
`

const pageScript = `
(function () {
  var errors = window.capplanErrors;
  var fail = window.capplanFail;
  var data = JSON.parse(document.getElementById('capplan-data').textContent);
  var rendered = 0;
  var palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
  function usd(v) { return '$' + (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3)); }
  function decade(v) { var m = v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9)); return Math.abs(m - 1) < 1e-6; }
  function tokens(v) { var u = [[1e12,'T'],[1e9,'B'],[1e6,'M'],[1e3,'k']]; for (var i = 0; i < u.length; i++) if (v >= u[i][0]) return +(v / u[i][0]).toPrecision(3) + u[i][1]; return String(+v.toPrecision(3)); }
  function scatter(canvasId, xKey, xTitle, result) {
    var points = result.levels.filter(function (l) { return l[xKey] !== null; }).map(function (l) { return {x: l[xKey], y: l.outputTokensPerS, label: l.load}; });
    if (points.length === 0) {
      var note = document.createElement('p'); note.className = 'meta';
      note.textContent = 'No ' + xTitle + ' data in this result: chart omitted.';
      document.getElementById(canvasId).replaceWith(note); return;
    }
    var datasets = [{label: 'measured levels', data: points, showLine: true, borderColor: palette[0], backgroundColor: palette[0]}];
    var op = result.operatingPoint;
    if (op !== null && op[xKey] !== null) datasets.push({label: 'operating point (' + op.kind + ')', data: [{x: op[xKey], y: op.outputTokensPerS}], pointRadius: 7, pointStyle: 'star', borderColor: palette[1], backgroundColor: palette[1]});
    new Chart(document.getElementById(canvasId), {type: 'scatter', data: {datasets: datasets}, options: {animation: false, responsive: false,
      plugins: {title: {display: true, text: 'Output tok/s vs ' + xTitle}},
      scales: {x: {title: {display: true, text: xTitle}}, y: {title: {display: true, text: 'output tok/s (all users)'}, beginAtZero: true}}}});
    rendered++;
  }
  function cost(canvasId, result) {
    var c = result.cost; if (c === null) return;
    var datasets = [{label: 'self-hosted (whole replicas)', data: c.volumes.map(function (v, i) { return {x: v, y: c.selfHosted[i]}; }), borderColor: palette[0], pointRadius: 0, borderWidth: 2}];
    c.apis.forEach(function (api, k) {
      var color = palette[(k + 1) % palette.length];
      datasets.push({label: api.label, data: c.volumes.map(function (v, i) { return {x: v, y: api.costs[i]}; }), borderColor: color, pointRadius: 0, borderWidth: 1.5, borderDash: [6, 3]});
      if (api.crossover !== null) {
        var y = null; for (var i = 0; i < c.volumes.length; i++) if (c.volumes[i] >= api.crossover) { y = api.costs[i]; break; }
        datasets.push({label: 'crossover vs ' + api.label + ' (' + tokens(api.crossover) + '/month)', data: [{x: api.crossover, y: y === null ? api.costs[api.costs.length - 1] : y}], pointRadius: 6, pointStyle: 'triangle', borderColor: color, backgroundColor: color, showLine: false});
      }
    });
    new Chart(document.getElementById(canvasId), {type: 'line', data: {datasets: datasets}, options: {animation: false, responsive: false, parsing: false,
      plugins: {title: {display: true, text: 'Monthly cost vs monthly volume (log axes)'}},
      scales: {x: {type: 'logarithmic', title: {display: true, text: 'tokens per month'}, ticks: {autoSkip: false, callback: function (v) { return decade(v) ? tokens(v) : ''; }}},
               y: {type: 'logarithmic', title: {display: true, text: '$ per month'}, ticks: {autoSkip: false, callback: function (v) { return decade(v) ? usd(v) : ''; }}}}}});
    rendered++;
  }
  function traffic(canvasId, result) {
    var t = result.traffic; if (t === null) return;
    new Chart(document.getElementById(canvasId), {data: {labels: t.hours.map(function (h) { return String(h); }), datasets: [
      {type: 'bar', label: 'replicas this hour', data: t.replicas, backgroundColor: palette[0], yAxisID: 'replicas'},
      {type: 'line', label: 'fixed fleet (' + t.fixedReplicas + ' replicas)', data: t.hours.map(function () { return t.fixedReplicas; }), borderColor: palette[1], pointRadius: 0, yAxisID: 'replicas'},
      {type: 'line', label: '$ per hour', data: t.usdPerHour, borderColor: palette[2], backgroundColor: palette[2], yAxisID: 'usd'}]},
      options: {animation: false, responsive: false,
      plugins: {title: {display: true, text: 'Replicas and cost per hour of the traffic profile'}},
      scales: {x: {title: {display: true, text: 'hour'}}, replicas: {position: 'left', beginAtZero: true, title: {display: true, text: 'replicas'}},
               usd: {position: 'right', beginAtZero: true, grid: {drawOnChartArea: false}, title: {display: true, text: '$ per hour'}}}}});
    rendered++;
  }
  try {
    if (typeof Chart === 'undefined') throw new Error('Chart.js did not load');
    data.forEach(function (result) {
      scatter(result.id + '-speed', 'perUserTokensPerS', 'per-user speed (tok/s = 1000 / median TPOT)', result);
      scatter(result.id + '-ttft', 'ttftP95', 'TTFT (ms)', result);
      cost(result.id + '-cost', result);
      traffic(result.id + '-traffic', result);
    });
  } catch (e) { fail(e && e.message ? e.message : e); }
  document.body.setAttribute('data-charts-rendered', String(rendered));
  document.body.setAttribute('data-errors', String(errors.length));
})();
`

export function renderReportHtml(
  reports: readonly ResultReport[],
  invalid: readonly InvalidResultFile[],
  chartJs: string = chartJsSource(),
  generatedAt: string = new Date().toISOString(),
): string {
  const data = reports.map(chartData)
  const decision = reportDecisionLines(reports)
  const sections = reports.map((report, index) => {
    const body = reportSections(report).map((section) => htmlSection(section, `r${index}`, report.plan !== null, (report.plan?.traffic ?? null) !== null))
    return `<section>\n${body.filter((html) => html !== '').join('\n')}\n</section>`
  })
  const invalidList = invalid.length === 0 ? '' : `<section><h2>${escapeHtml(INVALID_TITLE)}</h2>${htmlList('invalid', invalid.map(invalidLine))}</section>`
  const empty = reports.length === 0 && invalid.length === 0 ? `<p>${escapeHtml(NO_RESULTS)}</p>` : ''
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>capplan report</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{margin-bottom:4px} section{border-top:1px solid #ccc;margin-top:24px;padding-top:8px}
.meta{color:#555;font-size:90%} .charts canvas{margin:4px;border:1px solid #eee}
table{border-collapse:collapse;margin:8px 0;font-size:90%} td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
#errors{color:#b00;white-space:pre-wrap} .caveats{color:#555;font-size:85%}
.status{color:#b00;font-weight:bold} .verification{font-size:90%} .what-if{border-left:4px solid #c80;padding-left:8px;margin:8px 0} .sanity{font-size:90%}
</style></head>
<body data-charts-rendered="0" data-errors="0">
<h1>capplan report</h1>
<p class="meta">Generated ${escapeHtml(generatedAt)} — ${reports.length} result(s). Works offline: Chart.js and the data are inlined.</p>
<pre id="errors" hidden></pre>
${
  decision.length === 0
    ? ''
    : `<section class="decision"><h2>Decision</h2>${htmlList(
        'decision',
        decision.map((line) => line.trim()),
      )}</section>\n`
}${sections.join('\n')}
${invalidList}${empty}
<script>${errorHookScript}</script>
<script type="application/json" id="capplan-data">${scriptJson(data)}</script>
<script>${chartJs.replaceAll('</script', '<\\/script')}</script>
<script>${pageScript}</script>
</body></html>
`
}
