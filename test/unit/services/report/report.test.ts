import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {buildReports, refuseIfNothingRead, reportText, writeReportFile} from '../../../../src/services/report/report.js'
import {mixedDirectory, peers} from '../../../helpers/cli.js'

const context = {profilesDir: undefined, capplanVersion: '0.1.0'}

describe('buildReports', () => {
  it('reports the readable files of a directory and lists the others', async () => {
    const payload = await buildReports([mixedDirectory()], {}, context)
    expect(payload.results.length).toBeGreaterThan(0)
    expect(payload.invalid.map((bad) => path.basename(bad.file)).sort()).toEqual(['cut.json', 'newer.json'])
    expect(() => refuseIfNothingRead(payload, false)).not.toThrow()
  })

  it('names the paths that hold no result file (NOT_FOUND)', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'capplan-empty-'))
    await expect(buildReports([empty], {}, context)).rejects.toThrow(`No result files (.json, .jsonl) in ${empty}.`)
  })

  it('checks the flags before any file is read', async () => {
    await expect(buildReports(['/nonexistent'], {'what-if': ['h300']}, context)).rejects.toThrow('--what-if: no GPU profile "h300".')
  })
})

describe('reportText and --out', () => {
  it("json is the compact payload; table, md and csv are the renderers' text", async () => {
    const payload = await buildReports([path.join(peers, 'llama_bench.json')], {'gpu-price': 0.36}, context)
    expect(await reportText('json', payload)).toBe(`${JSON.stringify(payload)}\n`)
    expect(await reportText('md', payload)).toMatch(/^# capplan report\n/)
    expect((await reportText('table', payload)).endsWith('\n')).toBe(true)
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'capplan-out-')), 'r.csv')
    const csv = await reportText('csv', payload)
    expect(await writeReportFile(out, csv, 'csv', payload)).toBe(`Wrote ${out} (csv, ${payload.results.length} result${payload.results.length === 1 ? '' : 's'}).`)
    expect(readFileSync(out, 'utf8')).toBe(csv)
  })

  it('refuses (INVALID_RESULT) when no file could be read, except under --json', () => {
    const payload = {results: [], invalid: [{file: 'a.json', message: 'a.json is not valid JSON', suggestion: 'Check it.'}]}
    expect(() => refuseIfNothingRead(payload, false)).toThrow('None of the 1 result file(s) could be read.')
    expect(() => refuseIfNothingRead(payload, true)).not.toThrow()
  })
})
