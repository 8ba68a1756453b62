import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {capplanInProcess, mixedDirectory, peers} from '../helpers/cli.js'

describe('capplan report', () => {
  it('costs the llama-bench fixture at its single-stream throughput, and says so (--json)', async () => {
    const run = await capplanInProcess(['report', path.join(peers, 'llama_bench.json'), '--api', 'gpt-4o', '--volume', '100M', '--json'])
    expect(run.exitCode).toBe(0)
    const payload = JSON.parse(run.stdout)
    const report = payload.results[0]
    expect(report.importedFrom).toBe('llama-bench')
    expect(report.operatingPoint.kind).toBe('unchecked')
    // One request = pp64 + tg32 = 0.744057521 s; 96 tokens per request; cpu profile $0.36/h:
    // $/1M = 0.36 x 1e6 / (96 / 0.744057521 x 3600) = 0.775060
    expect(report.plan.costPerMillionTokens).toBeCloseTo((0.36e6 * 0.744057521) / (96 * 3600), 9)
    expect(report.plan.replicas).toBe(1)
    expect(report.costNote).toContain('SINGLE-STREAM')
  })

  it('reports the readable files of a directory, lists the bad ones with their reason, and exits 6 (also under --json)', async () => {
    const dir = mixedDirectory()
    const json = await capplanInProcess(['report', dir, '--json', '--api', 'gpt-4o'])
    expect(json.exitCode).toBe(6)
    const payload = JSON.parse(json.stdout)
    expect(payload.results).toHaveLength(1)
    expect(payload.invalid.map((bad: {file: string}) => path.basename(bad.file))).toEqual(['cut.json', 'newer.json'])
    expect(payload.invalid[0].message).toContain('is not valid JSON')
    expect(payload.invalid[1].message).toBe(`${path.join(dir, 'newer.json')} has schemaVersion 4; this capplan reads schemaVersion 1, 2 and 3.`)
    // The payload says why the exit code is 6, in the error object every failing command's JSON carries.
    expect(payload.error).toMatchObject({
      kind: 'INVALID_RESULT',
      exitCode: 6,
      message: '2 of 3 result files could not be read (listed under "invalid"); the report covers the other 1.',
    })

    // Every file invalid: still the payload, with the error object (not only an empty list).
    const none = await capplanInProcess(['report', path.join(dir, 'cut.json'), path.join(dir, 'newer.json'), '--json'])
    expect(none.exitCode).toBe(6)
    const nonePayload = JSON.parse(none.stdout)
    expect(nonePayload.results).toEqual([])
    expect(nonePayload.error).toMatchObject({kind: 'INVALID_RESULT', exitCode: 6, message: 'None of the 2 result file(s) could be read.'})

    const table = await capplanInProcess(['report', dir, '--api', 'gpt-4o'])
    expect(table.exitCode).toBe(6)
    expect(table.stdout).toContain('Files not reported (invalid):')
    expect(table.stdout).toContain('Operating point (UNCHECKED')
    expect(table.stderr).toContain('newer.json has schemaVersion 4')
  })

  it('writes CSV and Markdown to --out', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capplan-report-out-'))
    const csv = path.join(dir, 'r.csv')
    const run = await capplanInProcess(['report', path.join(peers, 'llama_bench.json'), '--api', 'gpt-4o,deepseek-v3', '--format', 'csv', '--out', csv])
    expect(run.exitCode).toBe(0)
    const lines = readFileSync(csv, 'utf8').trim().split('\n')
    expect(lines[0]).toMatch(/^file,label,imported_from,operating_point,/)
    expect(lines).toHaveLength(3) // header + one row per API
    expect(lines[1]).toContain(',gpt-4o,5,') // $5/1M blended at 64:32 = 2:1: (2 x 2.5 + 10) / 3
    const md = path.join(dir, 'r.md')
    expect((await capplanInProcess(['report', path.join(peers, 'llama_bench.json'), '--format', 'md', '--out', md])).exitCode).toBe(0)
    expect(readFileSync(md, 'utf8')).toMatch(/^# capplan report\n/)
  })

  it('refuses bad flags (exit 3) and a missing path (exit 4)', async () => {
    const slo = await capplanInProcess(['report', peers, '--slo', 'tpot=50'])
    expect(slo.exitCode).toBe(3)
    expect(slo.stderr).toContain('--slo: "tpot=50" has no unit.')
    const volume = await capplanInProcess(['report', peers, '--volume', '1M', '--daily-volume', '1M', '--json'])
    expect(volume.exitCode).toBe(3)
    expect(JSON.parse(volume.stdout).error.message).toBe('--volume and --daily-volume cannot be used together.')
    const missing = await capplanInProcess(['report', '/nonexistent/results'])
    expect(missing.exitCode).toBe(4)
  })

  it('prices a CPU result per machine, not per GPU, in the HTML report too', async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'capplan-report-html-')), 'r.html')
    const run = await capplanInProcess(['report', path.join(peers, 'capplan-embedded-int4.json'), '--slo', 'ttft=10s,tpot=2s', '--format', 'html', '--out', out])
    expect(run.exitCode, run.stderr).toBe(0)
    const html = readFileSync(out, 'utf8')
    expect(html).toContain('Self-hosted (1 replica x 1 machine)')
    expect(html).not.toContain('x 1 GPU)')
  })
})
