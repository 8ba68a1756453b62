#!/usr/bin/env node
// Issue 5's performance check: `capplan report --format json` over 1,000 result files of realistic size must
// take at most 3x the time of just reading and JSON.parse-ing them. Both sides run as fresh node processes
// (the report's time includes node's and oclif's start-up) on the SAME files, interleaved in each round (the
// order alternates so neither side always runs on a warmer machine), after one discarded warm-up of each;
// the median of the rounds is compared. Prints the ratio; exit code 1 when over the target.
//
//   node bench/report-bench.js [--files 1000] [--rounds 5] [--json] [--keep DIR (write the files there and keep them)]
//
// From another script (bench/run.js), after `npm run build`:
//   const {runReportBench} = await import('./report-bench.js')
//   const {ratio, pass, reportMs, baselineMs} = await runReportBench({files: 1000, rounds: 5})
//
// A "realistic" file: the chat workload (512 in / 256 out tokens) at concurrency 1, 2, 4 with bench's default
// request counts (4, 4, 8): 16 requests x 256 streamed chunks, ~49 KB. Timings are synthetic (this measures
// reading speed, not an engine); the files pass the result-file schema, and the report's output is checked
// (every file reported, none invalid) so a failing report cannot pass as a fast one.

import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {parseArgs} from 'node:util'

export const REPORT_BENCH_TARGET = 3

const dist = new URL('../dist/', import.meta.url)
const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))

function level(summarizeLevel, concurrency, requestCount, seed) {
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

function result(summarizeLevel, i) {
  const hex = i.toString(16).padStart(12, '0')
  return {
    schemaVersion: 1, id: `3b241101-e2bb-4255-8caf-${hex}`, createdAt: '2026-11-22T06:15:00.000Z', finishedAt: '2026-11-22T06:20:00.000Z',
    capplan: {version: '0.1.0', command: 'capplan bench'},
    host: {hostname: 'bench', cpu: {model: 'x', physicalCores: 2, logicalCores: 2}, memoryBytes: 1e9, os: {platform: 'linux', distro: 'Debian', release: '12', kernel: '6', arch: 'x64'}, node: {version: 'v20'}, gpus: []},
    engine: {kind: 'embedded', version: '3.22.1', build: null, backend: 'cpu', threads: 2, gpuCount: 0, args: [], endpoint: null},
    model: {profile: 'qwen2.5-0.5b', quant: 'int4', format: 'Q4_0', file: null, repo: null, sha256: null, bytes: null, paramsB: 0.49, synthetic: true},
    gpuProfile: null,
    workload: {profile: 'chat', inputTokens: 512, outputTokens: 256, promptSource: 'synthetic-token-ids', dataset: null, seed: 1, ignoreEos: true},
    levels: [level(summarizeLevel, 1, 4, i), level(summarizeLevel, 2, 4, i + 1), level(summarizeLevel, 4, 8, i + 2)],
    status: 'complete', notes: [],
  }
}

// The baseline: a fresh node reading and parsing the same files, nothing else.
const baselineScript = `
const {readdirSync, readFileSync} = require('node:fs'); const path = require('node:path');
const dir = process.argv[1]; let n = 0;
for (const name of readdirSync(dir).sort()) { if (name.endsWith('.json')) { JSON.parse(readFileSync(path.join(dir, name), 'utf8')); n++ } }
if (n === 0) process.exit(1)`

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const round1 = (ms) => Number(ms.toFixed(1))

function timeMs(fn) {
  const start = process.hrtime.bigint()
  fn()
  return Number(process.hrtime.bigint() - start) / 1e6
}

async function timeAsyncMs(fn) {
  const start = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - start) / 1e6
}

/**
 * Write `files` realistic result files, then time `capplan report --format json` against read + JSON.parse,
 * both as processes (the target) and in-process (no node/oclif start-up; for diagnosis).
 * `keep`: directory to write the files into and keep (default: a temporary one, removed).
 * Needs a built tree (npm run build). Returns {ratio, pass, target, reportMs, baselineMs, startupMs, inProcess, samples, ...}.
 */
export async function runReportBench({files: fileCount = 1000, rounds = 5, keep} = {}) {
  if (!(Number.isInteger(fileCount) && fileCount > 0 && Number.isInteger(rounds) && rounds > 0)) {
    throw new Error(`runReportBench: files and rounds must be positive integers (got ${fileCount}, ${rounds})`)
  }
  const {summarizeLevel} = await import(new URL('stats/summarize.js', dist).href)
  const {serializeResultFile} = await import(new URL('results/write.js', dist).href)
  const {loadProfiles} = await import(new URL('profiles/store.js', dist).href)
  const {collectResultFiles, loadResultFiles, reportOptionsFromFlags} = await import(new URL('services/report/collect.js', dist).href)
  const {buildResultReport} = await import(new URL('report/build/result-report.js', dist).href)

  const dir = keep ?? mkdtempSync(path.join(tmpdir(), 'capplan-report-bench-'))
  const out = path.join(tmpdir(), `capplan-report-bench-${process.pid}.json`)
  mkdirSync(dir, {recursive: true})
  try {
    let bytes = 0
    for (let i = 0; i < fileCount; i++) {
      const text = serializeResultFile(result(summarizeLevel, i))
      bytes += Buffer.byteLength(text)
      writeFileSync(path.join(dir, `r${String(i).padStart(5, '0')}.json`), text)
    }

    // What `report --format json` does after start-up: profiles, read, detect, validate, operating point, cost, JSON.
    const inProcessReport = async () => {
      const store = await loadProfiles()
      const options = reportOptionsFromFlags({}, store)
      const paths = await collectResultFiles([dir])
      const {loaded: results, invalid} = await loadResultFiles(paths, {capplanVersion: '0.1.0', command: 'bench', store}, ({source, result}) =>
        buildResultReport(source, result, store, options),
      )
      return JSON.stringify({results, invalid}).length
    }
    const inProcessBaseline = () => {
      let n = 0
      for (const name of readdirSync(dir).sort()) if (name.endsWith('.json')) n += JSON.parse(readFileSync(path.join(dir, name), 'utf8')) === null ? 0 : 1
      return n
    }
    const baselineProcess = () => execFileSync(process.execPath, ['-e', baselineScript, dir], {stdio: 'ignore'})
    const reportProcess = () => execFileSync(process.execPath, [bin, 'report', dir, '--format', 'json', '--out', out], {stdio: 'ignore'})
    const startupProcess = () => execFileSync(process.execPath, [bin, '--version'], {stdio: 'ignore'})

    // Warm-up (page cache, compile cache), discarded; then check the report really reported every file.
    baselineProcess()
    reportProcess()
    const written = JSON.parse(readFileSync(out, 'utf8'))
    if (written.results.length !== fileCount || written.invalid.length !== 0) {
      throw new Error(`capplan report read ${written.results.length} of ${fileCount} files (${written.invalid.length} invalid): the bench files or the report are broken`)
    }

    const samples = {baseline: [], report: [], startup: [], inProcessBaseline: [], inProcessReport: []}
    for (let r = 0; r < rounds; r++) {
      // Alternate which side goes first so a busy moment on the (shared) machine does not always hit the same one.
      if (r % 2 === 0) {
        samples.baseline.push(timeMs(baselineProcess))
        samples.report.push(timeMs(reportProcess))
      } else {
        samples.report.push(timeMs(reportProcess))
        samples.baseline.push(timeMs(baselineProcess))
      }
      samples.startup.push(timeMs(startupProcess))
      samples.inProcessBaseline.push(await timeAsyncMs(inProcessBaseline))
      samples.inProcessReport.push(await timeAsyncMs(inProcessReport))
    }

    const baselineMs = median(samples.baseline)
    const reportMs = median(samples.report)
    const inProcess = {baselineMs: round1(median(samples.inProcessBaseline)), reportMs: round1(median(samples.inProcessReport))}
    inProcess.ratio = Number((median(samples.inProcessReport) / median(samples.inProcessBaseline)).toFixed(2))
    const ratio = Number((reportMs / baselineMs).toFixed(2))
    for (const key of Object.keys(samples)) samples[key] = samples[key].map(round1)
    return {
      files: fileCount,
      megabytes: Number((bytes / 1e6).toFixed(1)),
      rounds,
      baselineMs: round1(baselineMs),
      reportMs: round1(reportMs),
      ratio,
      target: REPORT_BENCH_TARGET,
      pass: ratio <= REPORT_BENCH_TARGET,
      /** `capplan --version` as a process: node + oclif start-up, the floor under reportMs. */
      startupMs: round1(median(samples.startup)),
      inProcess,
      samples,
    }
  } finally {
    if (keep === undefined) rmSync(dir, {recursive: true, force: true})
    rmSync(out, {force: true})
  }
}

/** The one-line human summary (also what bench/run.js may print). */
export function formatReportBench(summary) {
  return [
    `report over ${summary.files} files (${summary.megabytes} MB), as processes: ${summary.reportMs.toFixed(0)} ms vs read + JSON.parse ${summary.baselineMs.toFixed(0)} ms -> ratio ${summary.ratio} (target <= ${summary.target}: ${summary.pass ? 'PASS' : 'FAIL'}; median of ${summary.rounds})`,
    `  start-up alone (capplan --version): ${summary.startupMs.toFixed(0)} ms; in-process (no node/oclif start-up): ${summary.inProcess.reportMs.toFixed(0)} ms vs ${summary.inProcess.baselineMs.toFixed(0)} ms -> ratio ${summary.inProcess.ratio}`,
  ].join('\n')
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const {values: flags} = parseArgs({options: {files: {type: 'string', default: '1000'}, rounds: {type: 'string', default: '5'}, json: {type: 'boolean', default: false}, keep: {type: 'string'}}})
  const summary = await runReportBench({files: Number(flags.files), rounds: Number(flags.rounds), keep: flags.keep})
  console.log(flags.json ? JSON.stringify(summary) : formatReportBench(summary))
  process.exitCode = summary.pass ? 0 : 1
}
