#!/usr/bin/env node
// Issue 5's performance check: `capplan report --format json` over 1,000 result files of realistic size must
// take at most 3x the time of just reading and JSON.parse-ing them. Both sides run as fresh node processes
// (the report's time includes node's and oclif's start-up) on the SAME files, interleaved in each round (the
// order alternates so neither side always runs on a warmer machine), after one discarded warm-up of each;
// the median of the rounds is compared. Prints the ratio; exit code 1 when over the target.
//
//   node dist-perf/perf/report-bench.js [--files 1000] [--rounds 5] [--json] [--keep DIR (write the files there and keep them)]
//   (`npm run bench:report` builds both trees and runs it; the report process is bin/run.js on dist/)
//
// From another script (perf/run.ts):
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
import {parseArgs} from 'node:util'

import {type LevelRecord, RESULT_SCHEMA_VERSION, type RequestRecord, type ResultFile} from '../src/results/schema.js'
import {serializeResultFile} from '../src/results/write.js'
import {buildReports, reportText} from '../src/services/report/report.js'
import {summarizeLevel} from '../src/stats/summarize.js'
import {CAPPLAN_BIN, isMainModule} from './paths.js'

export const REPORT_BENCH_TARGET = 3

function level(concurrency: number, requestCount: number, seed: number): LevelRecord {
  const requests: RequestRecord[] = []
  for (let index = 0; index < requestCount; index++) {
    const ttft = 200 + ((index * 37 + seed) % 100)
    const offsets = [ttft]
    for (let t = 1; t < 256; t++) offsets.push(offsets[t - 1]! + 20 + ((t * 7 + index + seed) % 11) / 10)
    requests.push({
      index,
      startMs: index * 50,
      ttftMs: ttft,
      e2eMs: offsets[255]!,
      inputTokens: 512,
      outputTokens: 256,
      countedTokens: 256,
      chunkOffsetsMs: offsets,
      chunkTokens: null,
      error: null,
    })
  }
  const window = {startMs: 0, endMs: 10_000 * concurrency}
  return {
    load: {kind: 'concurrency', value: concurrency},
    warmupRequests: 1,
    window,
    status: 'complete',
    requests,
    summary: summarizeLevel(requests, window),
    telemetry: null,
    serverMetrics: null,
  }
}

function result(i: number): ResultFile {
  const hex = i.toString(16).padStart(12, '0')
  return {
    schemaVersion: RESULT_SCHEMA_VERSION,
    id: `3b241101-e2bb-4255-8caf-${hex}`,
    createdAt: '2026-11-22T06:15:00.000Z',
    finishedAt: '2026-11-22T06:20:00.000Z',
    capplan: {version: '0.1.0', command: ['capplan', 'bench']},
    host: {
      hostname: 'bench',
      cpu: {model: 'x', physicalCores: 2, logicalCores: 2},
      memoryBytes: 1e9,
      os: {platform: 'linux', distro: 'Debian', release: '12', kernel: '6', arch: 'x64'},
      node: {version: 'v20'},
      gpus: [],
    },
    engine: {kind: 'embedded', version: '3.22.1', build: null, backend: 'cpu', threads: 2, gpuCount: 0, args: [], endpoint: null},
    model: {profile: 'qwen2.5-0.5b', quant: 'int4', format: 'Q4_0', file: null, repo: null, sha256: null, bytes: null, paramsB: 0.49, synthetic: true},
    gpuProfile: null,
    workload: {profile: 'chat', inputTokens: 512, outputTokens: 256, promptSource: 'synthetic-token-ids', dataset: null, seed: 1, ignoreEos: true},
    levels: [level(1, 4, i), level(2, 4, i + 1), level(4, 8, i + 2)],
    status: 'complete',
    notes: [],
  }
}

// The baseline: a fresh node reading and parsing the same files, nothing else.
const baselineScript = `
const {readdirSync, readFileSync} = require('node:fs'); const path = require('node:path');
const dir = process.argv[1]; let n = 0;
for (const name of readdirSync(dir).sort()) { if (name.endsWith('.json')) { JSON.parse(readFileSync(path.join(dir, name), 'utf8')); n++ } }
if (n === 0) process.exit(1)`

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const round1 = (ms: number) => Number(ms.toFixed(1))

function timeMs(fn: () => unknown): number {
  const start = process.hrtime.bigint()
  fn()
  return Number(process.hrtime.bigint() - start) / 1e6
}

async function timeAsyncMs(fn: () => Promise<unknown> | unknown): Promise<number> {
  const start = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - start) / 1e6
}

type SampleKey = 'baseline' | 'report' | 'startup' | 'inProcessBaseline' | 'inProcessReport'

export interface ReportBenchSummary {
  files: number
  megabytes: number
  rounds: number
  baselineMs: number
  reportMs: number
  ratio: number
  target: number
  pass: boolean
  /** `capplan --version` as a process: node + oclif start-up, the floor under reportMs. */
  startupMs: number
  inProcess: {baselineMs: number; reportMs: number; ratio: number}
  samples: Record<SampleKey, number[]>
}

/**
 * Write `files` realistic result files, then time `capplan report --format json` against read + JSON.parse,
 * both as processes (the target) and in-process (no node/oclif start-up; for diagnosis).
 * `keep`: directory to write the files into and keep (default: a temporary one, removed).
 * Needs a built tree for the process side (npm run build). Returns {ratio, pass, target, reportMs, baselineMs, startupMs, inProcess, samples, ...}.
 */
export async function runReportBench({
  files: fileCount = 1000,
  rounds = 5,
  keep,
}: {files?: number; rounds?: number; keep?: string | undefined} = {}): Promise<ReportBenchSummary> {
  if (!(Number.isInteger(fileCount) && fileCount > 0 && Number.isInteger(rounds) && rounds > 0)) {
    throw new Error(`runReportBench: files and rounds must be positive integers (got ${fileCount}, ${rounds})`)
  }

  const dir = keep ?? mkdtempSync(path.join(tmpdir(), 'capplan-report-bench-'))
  const out = path.join(tmpdir(), `capplan-report-bench-${process.pid}.json`)
  mkdirSync(dir, {recursive: true})
  try {
    let bytes = 0
    for (let i = 0; i < fileCount; i++) {
      const text = serializeResultFile(result(i))
      bytes += Buffer.byteLength(text)
      writeFileSync(path.join(dir, `r${String(i).padStart(5, '0')}.json`), text)
    }

    // What `report --format json` does after start-up: profiles, read, detect, validate, operating point, cost, JSON.
    const inProcessReport = async () => (await reportText('json', await buildReports([dir], {}, {profilesDir: undefined, capplanVersion: '0.1.0'}))).length
    const inProcessBaseline = () => {
      let n = 0
      for (const name of readdirSync(dir).sort()) if (name.endsWith('.json')) n += JSON.parse(readFileSync(path.join(dir, name), 'utf8')) === null ? 0 : 1
      return n
    }
    const baselineProcess = () => execFileSync(process.execPath, ['-e', baselineScript, dir], {stdio: 'ignore'})
    const reportProcess = () => execFileSync(process.execPath, [CAPPLAN_BIN, 'report', dir, '--format', 'json', '--out', out], {stdio: 'ignore'})
    const startupProcess = () => execFileSync(process.execPath, [CAPPLAN_BIN, '--version'], {stdio: 'ignore'})

    // Warm-up (page cache, compile cache), discarded; then check the report really reported every file.
    baselineProcess()
    reportProcess()
    const written = JSON.parse(readFileSync(out, 'utf8')) as {results: unknown[]; invalid: unknown[]}
    if (written.results.length !== fileCount || written.invalid.length !== 0) {
      throw new Error(`capplan report read ${written.results.length} of ${fileCount} files (${written.invalid.length} invalid): the bench files or the report are broken`)
    }

    const samples: Record<SampleKey, number[]> = {baseline: [], report: [], startup: [], inProcessBaseline: [], inProcessReport: []}
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
    const inProcess = {
      baselineMs: round1(median(samples.inProcessBaseline)),
      reportMs: round1(median(samples.inProcessReport)),
      ratio: Number((median(samples.inProcessReport) / median(samples.inProcessBaseline)).toFixed(2)),
    }
    const ratio = Number((reportMs / baselineMs).toFixed(2))
    for (const key of Object.keys(samples) as SampleKey[]) samples[key] = samples[key].map(round1)
    return {
      files: fileCount,
      megabytes: Number((bytes / 1e6).toFixed(1)),
      rounds,
      baselineMs: round1(baselineMs),
      reportMs: round1(reportMs),
      ratio,
      target: REPORT_BENCH_TARGET,
      pass: ratio <= REPORT_BENCH_TARGET,
      startupMs: round1(median(samples.startup)),
      inProcess,
      samples,
    }
  } finally {
    if (keep === undefined) rmSync(dir, {recursive: true, force: true})
    rmSync(out, {force: true})
  }
}

/** The two-line human summary (also what perf/run.ts prints). */
export function formatReportBench(summary: ReportBenchSummary): string {
  return [
    `report over ${summary.files} files (${summary.megabytes} MB), as processes: ${summary.reportMs.toFixed(0)} ms vs read + JSON.parse ${summary.baselineMs.toFixed(0)} ms -> ratio ${summary.ratio} (target <= ${summary.target}: ${summary.pass ? 'PASS' : 'FAIL'}; median of ${summary.rounds})`,
    `  start-up alone (capplan --version): ${summary.startupMs.toFixed(0)} ms; in-process (no node/oclif start-up): ${summary.inProcess.reportMs.toFixed(0)} ms vs ${summary.inProcess.baselineMs.toFixed(0)} ms -> ratio ${summary.inProcess.ratio}`,
  ].join('\n')
}

if (isMainModule(import.meta.url)) {
  const {values: flags} = parseArgs({
    options: {files: {type: 'string', default: '1000'}, rounds: {type: 'string', default: '5'}, json: {type: 'boolean', default: false}, keep: {type: 'string'}},
  })
  const summary = await runReportBench({files: Number(flags.files), rounds: Number(flags.rounds), keep: flags.keep})
  console.log(flags.json ? JSON.stringify(summary) : formatReportBench(summary))
  process.exitCode = summary.pass ? 0 : 1
}
