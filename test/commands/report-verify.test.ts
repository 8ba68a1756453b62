import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import type {ResultFile} from '../../src/results/schema.js'
import {capplanInProcess, repo} from '../helpers/cli.js'

/**
 * Summary tampering: a real result file (results/, a 2-thread CPU run with levels c=1, c=2, c=4) has one field
 * tampered at a time, and `capplan report --format json` must flag the level naming the field and cost only
 * the levels whose stored summary is what their request records give.
 */
const REAL = path.join(repo, 'results', '20261122T075225Z_vm_cpu_qwen2.5-0.5b_int4_embedded.json')
const original = () => JSON.parse(readFileSync(REAL, 'utf8')) as ResultFile
const dir = mkdtempSync(path.join(tmpdir(), 'capplan-tamper-'))

function tampered(name: string, edit: (result: ResultFile) => void): string {
  const result = original()
  edit(result)
  const file = path.join(dir, `${name}.json`)
  writeFileSync(file, JSON.stringify(result))
  return file
}

interface Flagged {
  verification: {verdict: string; levels: {index: number; verdict: string; reason: string; problems: string[]; disagreements: {field: string}[]}[]}
  operatingPoint: {kind: string; levelIndex: number | null; outputTokensPerS: number | null; interpolation: {upperLoad: number} | null; load: {value: number} | null}
  plan: {inputs: {outputTokensPerSecond: number | null}} | null
  loads: {kind: string; value: number}[]
  levels: {throughput: {outputTokensPerS: number}}[]
}

async function reportJson(file: string): Promise<Flagged> {
  const run = await capplanInProcess(['report', file, '--format', 'json'])
  expect(run.exitCode, run.stderr).toBe(0)
  const payload = JSON.parse(run.stdout) as {results: Flagged[]}
  return payload.results[0]!
}

/** The cost rests on consistent levels only: the operating point's level (and the one it interpolates towards) are verified. */
function expectCostedOnlyFromConsistent(report: Flagged, excluded: number[]) {
  const point = report.operatingPoint
  expect(point.levelIndex).not.toBeNull()
  expect(excluded).not.toContain(point.levelIndex)
  if (point.interpolation !== null) {
    const upper = report.loads.findIndex((load) => load.value === point.interpolation!.upperLoad)
    expect(excluded).not.toContain(upper)
  }
  expect(report.plan).not.toBeNull()
  expect(report.plan!.inputs.outputTokensPerSecond).toBe(point.outputTokensPerS)
  const consistentMax = Math.max(...report.levels.filter((_, index) => !excluded.includes(index)).map((level) => level.throughput.outputTokensPerS))
  expect(point.outputTokensPerS!).toBeLessThanOrEqual(consistentMax)
  expect(report.verification.levels.filter((level) => level.verdict === 'excluded').map((level) => level.index)).toEqual(excluded)
}

describe('report: summary tampering, one field at a time', () => {
  it('the untouched file verifies, and is costed by interpolating between c=2 and c=4', async () => {
    const report = await reportJson(REAL)
    expect(report.verification.verdict).toBe('verified')
    expect(report.operatingPoint.kind).toBe('interpolated')
  })

  it('throughput x1e6 on c=4: flagged naming the field, costed from c=2 only (no interpolation towards it)', async () => {
    const file = tampered('throughput', (result) => {
      result.levels[2]!.summary.throughput.outputTokensPerS *= 1e6
    })
    const report = await reportJson(file)
    const level = report.verification.levels[2]!
    expect(level.disagreements.map((d) => d.field)).toEqual(['throughput.outputTokensPerS'])
    expect(level.problems).toEqual([`${file} level concurrency 4: stored throughput.outputTokensPerS 5.018e7 but its 8 requests give 50.1775`])
    expectCostedOnlyFromConsistent(report, [2])
    expect(report.operatingPoint.kind).toBe('measured')
    expect(report.operatingPoint.load!.value).toBe(2)
  })

  it('TTFT raised x10 on c=2', async () => {
    const file = tampered('ttft', (result) => {
      const ttft = result.levels[1]!.summary.ttftMs!
      for (const key of ['mean', 'min', 'p50', 'p90', 'p95', 'p99', 'max'] as const) ttft[key] *= 10
    })
    const report = await reportJson(file)
    const level = report.verification.levels[1]!
    expect(level.verdict).toBe('excluded')
    expect(level.disagreements.map((d) => d.field)).toEqual(['ttftMs.mean', 'ttftMs.min', 'ttftMs.p50', 'ttftMs.p90', 'ttftMs.p95', 'ttftMs.p99', 'ttftMs.max'])
    expect(level.problems[4]).toMatch(
      new RegExp(`^${file.replaceAll('.', '\\.')} level concurrency 2: stored ttftMs\\.p95 \\d+(\\.\\d+)? but its 4 requests give \\d+(\\.\\d+)?$`),
    )
    expectCostedOnlyFromConsistent(report, [1])
  })

  it('requests removed from c=4 (all of them; half of them)', async () => {
    const none = await reportJson(
      tampered('no-requests', (result) => {
        result.levels[2]!.requests = []
      }),
    )
    expect(none.verification.levels[2]!.reason).toBe('no request records behind its summary (8 ok claimed)')
    expect(none.verification.levels[2]!.problems[0]).toContain(
      'level concurrency 4: stored requests.completed 8 and requests.failed 0 but the level stores no request records',
    )
    expectCostedOnlyFromConsistent(none, [2])

    const half = await reportJson(
      tampered('half-requests', (result) => {
        result.levels[2]!.requests.splice(4)
      }),
    )
    expect(half.verification.levels[2]!.disagreements.map((d) => d.field)).toContain('requests.completed')
    expect(half.verification.levels[2]!.problems[0]).toContain('level concurrency 4: stored requests.completed 8 but its 4 requests give 4')
    expectCostedOnlyFromConsistent(half, [2])
  })

  it('a level duplicated: both copies excluded, the others costed', async () => {
    const report = await reportJson(
      tampered('duplicated', (result) => {
        result.levels.push(structuredClone(result.levels[0]!))
      }),
    )
    expect(report.verification.levels.map((level) => level.verdict)).toEqual(['excluded', 'verified', 'verified', 'excluded'])
    expect(report.verification.levels[0]!.problems[0]).toContain('level concurrency 1: the file holds 2 levels at this load (levels #1, #4)')
    expectCostedOnlyFromConsistent(report, [0, 3])
  })

  it('every level excluded: nothing is costed, and the report says why', async () => {
    const report = await reportJson(
      tampered('all', (result) => {
        for (const level of result.levels) level.summary.throughput.outputTokensPerS *= 1e6
      }),
    )
    expect(report.verification.verdict).toBe('excluded')
    expect(report.operatingPoint.kind).toBe('none')
    expect(report.plan).toBeNull()
  })

  it('flags the excluded level in every format: table, md, csv, html', async () => {
    const file = tampered('formats', (result) => {
      result.levels[2]!.summary.throughput.outputTokensPerS *= 1e6
      // a level that never reached its concurrency (as --requests 4 --concurrency 8 would have recorded it)
      result.levels[0]!.load.value = 8
    })
    const message = `level concurrency 4: stored throughput.outputTokensPerS 5.018e7 but its 8 requests give 50.1775`
    const table = await capplanInProcess(['report', file])
    expect(table.stdout).toContain(`EXCLUDED from cost: ${file} ${message}.`)
    expect(table.stdout).toContain('EXCLUDED: its stored summary disagrees with its 8 requests (throughput.outputTokensPerS)')
    expect(table.stdout).toContain('c=8 (peak 1)')
    expect(table.stdout).toContain('EXCLUDED: only 4 requests for concurrency 8')
    expect(table.stdout).toContain(`EXCLUDED from cost: ${file} level concurrency 8: only 4 requests stored, fewer than its concurrency: never more than 4 in flight`)
    expect(table.stdout).toContain('Operating point (measured): c=2,')
    const md = await capplanInProcess(['report', file, '--format', 'md'])
    expect(md.stdout).toContain(`- EXCLUDED from cost: ${file} ${message}.`)
    const csv = (await capplanInProcess(['report', file, '--format', 'csv'])).stdout.trim().split('\n')
    expect(csv[0]).toMatch(/,summary_check,excluded_levels$/)
    expect(csv[1]).toMatch(/,excluded,c=8: only 4 requests for concurrency 8; c=4: its stored summary disagrees with its 8 requests \(throughput.outputTokensPerS\)$/)
    const html = await capplanInProcess(['report', file, '--format', 'html'])
    expect(html.stdout).toContain(`<ul class="verification"><li>Verified: the stored summary of c=2 is what its request records give (4 requests recomputed).</li>`)
    expect(html.stdout).toContain(`<li>EXCLUDED from cost: ${file} ${message}.</li>`)
    // the charts draw the consistent level only (no point at 5e7 tok/s)
    const data = JSON.parse(/<script type="application\/json" id="capplan-data">(.*?)<\/script>/s.exec(html.stdout)![1]!) as {levels: {load: string}[]}[]
    expect(data[0]!.levels.map((level) => level.load)).toEqual(['c=2'])
  })
})
