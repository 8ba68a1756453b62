#!/usr/bin/env node
// Issue 5's performance check: `capplan report --format json` over 1,000 result files of realistic size must
// take at most 3x the time of just reading and JSON.parse-ing them. Both sides run as fresh node processes
// (the report's includes oclif's start-up), interleaved, median of --rounds. Prints the ratio.
//
//   node bench/report-bench.js [--files 1000] [--rounds 3] [--json] [--keep DIR (write the files there and keep them)]
//
// A "realistic" file: the chat workload (512 in / 256 out tokens) at concurrency 1, 2, 4 with bench's default
// request counts (4, 4, 8): 16 requests x 256 streamed chunks. Timings are synthetic (this measures reading
// speed, not an engine); the files pass the result-file schema.

import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {parseArgs} from 'node:util'

const dist = new URL('../dist/', import.meta.url)
const {summarizeLevel} = await import(new URL('stats/summarize.js', dist).href)
const {serializeResultFile} = await import(new URL('results/write.js', dist).href)

const {values: flags} = parseArgs({options: {files: {type: 'string', default: '1000'}, rounds: {type: 'string', default: '3'}, json: {type: 'boolean', default: false}, keep: {type: 'string'}}})
const fileCount = Number(flags.files)
const rounds = Number(flags.rounds)
const TARGET = 3

function level(concurrency, requestCount, seed) {
  const requests = []
  for (let index = 0; index < requestCount; index++) {
    const ttft = 200 + ((index * 37 + seed) % 100)
    const offsets = [ttft]
    for (let t = 1; t < 256; t++) offsets.push(offsets[t - 1] + 20 + ((t * 7 + index + seed) % 11) / 10)
    requests.push({index, startMs: index * 50, ttftMs: ttft, e2eMs: offsets[255], inputTokens: 512, outputTokens: 256, countedTokens: 256, chunkOffsetsMs: offsets, chunkTokens: null, error: null})
  }
  const window = {startMs: 0, endMs: 10_000 * concurrency}
  return {load: {kind: 'concurrency', value: concurrency}, warmupRequests: 1, window, status: 'complete', requests, summary: summarizeLevel(requests, window), telemetry: null, serverMetrics: null}
}

function result(i) {
  const hex = i.toString(16).padStart(12, '0')
  return {
    schemaVersion: 1, id: `3b241101-e2bb-4255-8caf-${hex}`, createdAt: '2026-11-22T06:15:00.000Z', finishedAt: '2026-11-22T06:20:00.000Z',
    capplan: {version: '0.1.0', command: 'capplan bench'},
    host: {hostname: 'bench', cpu: {model: 'x', physicalCores: 2, logicalCores: 2}, memoryBytes: 1e9, os: {platform: 'linux', distro: 'Debian', release: '12', kernel: '6', arch: 'x64'}, node: {version: 'v20'}, gpus: []},
    engine: {kind: 'embedded', version: '3.22.1', build: null, backend: 'cpu', threads: 2, gpuCount: 0, args: [], endpoint: null},
    model: {profile: 'qwen2.5-0.5b', quant: 'int4', format: 'Q4_0', file: null, repo: null, sha256: null, bytes: null, paramsB: 0.49, synthetic: true},
    gpuProfile: null,
    workload: {profile: 'chat', inputTokens: 512, outputTokens: 256, promptSource: 'synthetic-token-ids', dataset: null, seed: 1, ignoreEos: true},
    levels: [level(1, 4, i), level(2, 4, i + 1), level(4, 8, i + 2)],
    status: 'complete', notes: [],
  }
}

const dir = flags.keep ?? mkdtempSync(path.join(tmpdir(), 'capplan-report-bench-'))
mkdirSync(dir, {recursive: true})
let bytes = 0
for (let i = 0; i < fileCount; i++) {
  const text = serializeResultFile(result(i))
  bytes += text.length
  writeFileSync(path.join(dir, `r${String(i).padStart(5, '0')}.json`), text)
}

// In-process too (no node / oclif start-up on either side): read + JSON.parse vs what `report --format json`
// does after start-up (profiles, read, detect, validate, operating point, cost, JSON.stringify).
const {readdirSync, readFileSync} = await import('node:fs')
const {loadProfiles} = await import(new URL('profiles/load.js', dist).href)
const {collectResultFiles, loadResultFiles, reportOptionsFromFlags} = await import(new URL('report/report-flags.js', dist).href)
const {buildResultReport} = await import(new URL('report/result-report.js', dist).href)
async function inProcessReport() {
  const store = await loadProfiles()
  const options = reportOptionsFromFlags({}, store)
  const files = await collectResultFiles([dir])
  const {loaded: results, invalid} = await loadResultFiles(files, {capplanVersion: '0.1.0', command: 'bench', store}, ({source, result}) =>
    buildResultReport(source, result, store, options),
  )
  return JSON.stringify({results, invalid}).length
}
function inProcessBaseline() {
  let n = 0
  for (const name of readdirSync(dir).sort()) if (name.endsWith('.json')) n += JSON.parse(readFileSync(path.join(dir, name), 'utf8')) === null ? 0 : 1
  return n
}

const baselineScript = `
const {readdirSync, readFileSync} = require('node:fs'); const path = require('node:path');
const dir = process.argv[1]; let n = 0;
for (const name of readdirSync(dir).sort()) { if (name.endsWith('.json')) { JSON.parse(readFileSync(path.join(dir, name), 'utf8')); n++ } }
if (n === 0) process.exit(1)`
const bin = new URL('../bin/run.js', import.meta.url).pathname
const timeMs = (fn) => {
  const start = process.hrtime.bigint()
  fn()
  return Number(process.hrtime.bigint() - start) / 1e6
}
const baseline = []
const report = []
const inBaseline = []
const inReport = []
const timeAsync = async (fn) => {
  const start = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - start) / 1e6
}
for (let r = 0; r < rounds; r++) {
  inBaseline.push(await timeAsync(inProcessBaseline))
  inReport.push(await timeAsync(inProcessReport))
  baseline.push(timeMs(() => execFileSync(process.execPath, ['-e', baselineScript, dir], {stdio: 'ignore'})))
  report.push(timeMs(() => execFileSync(process.execPath, [bin, 'report', dir, '--format', 'json', '--out', path.join(tmpdir(), `capplan-report-bench-${process.pid}.json`)], {stdio: 'ignore'})))
}
if (flags.keep === undefined) rmSync(dir, {recursive: true, force: true})
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const summary = {files: fileCount, megabytes: Number((bytes / 1e6).toFixed(1)), baselineMs: median(baseline), reportMs: median(report)}
summary.ratio = Number((summary.reportMs / summary.baselineMs).toFixed(2))
summary.inProcess = {baselineMs: median(inBaseline), reportMs: median(inReport)}
summary.inProcess.ratio = Number((summary.inProcess.reportMs / summary.inProcess.baselineMs).toFixed(2))
summary.target = TARGET
summary.pass = summary.ratio <= TARGET
if (flags.json) console.log(JSON.stringify(summary))
else {
  console.log(`report over ${fileCount} files (${summary.megabytes} MB), as processes: ${summary.reportMs.toFixed(0)} ms vs read + JSON.parse ${summary.baselineMs.toFixed(0)} ms -> ratio ${summary.ratio} (target <= ${TARGET}: ${summary.pass ? 'PASS' : 'FAIL'})`)
  console.log(`  in-process (no node/oclif start-up): ${summary.inProcess.reportMs.toFixed(0)} ms vs ${summary.inProcess.baselineMs.toFixed(0)} ms -> ratio ${summary.inProcess.ratio}`)
}
process.exitCode = summary.pass ? 0 : 1
