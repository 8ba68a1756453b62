import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {capplanInProcess, peers} from '../helpers/cli.js'

describe('capplan import', () => {
  it('writes a capplan result file from the llama-bench fixture and never overwrites it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capplan-import-'))
    const out = path.join(dir, 'lb.json')
    const run = await capplanInProcess(['import', path.join(peers, 'llama_bench.json'), '--out', out, '--gpus', '0', '--json'])
    expect(run.exitCode).toBe(0)
    const written = JSON.parse(readFileSync(out, 'utf8'))
    expect(written.schemaVersion).toBe(3)
    expect(written.notes[0]).toMatch(/^imported from llama-bench/)
    expect(written.notes.at(-1)).toBe('set by capplan import: --gpus 0')
    // the written file reads back through report like any capplan file
    const report = await capplanInProcess(['report', out, '--json', '--api', 'gpt-4o'])
    expect(report.exitCode).toBe(0)
    expect(JSON.parse(report.stdout).results[0].importedFrom).toBe('llama-bench')
    const again = await capplanInProcess(['import', path.join(peers, 'llama_bench.json'), '--out', out])
    expect(again.exitCode).toBe(3)
    expect(again.stderr).toContain('already exists')
  })

  it('refuses an unrecognized file naming it (exit 6)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capplan-import-bad-'))
    const odd = path.join(dir, 'odd.json')
    writeFileSync(odd, '{"hello": "world"}')
    const run = await capplanInProcess(['import', odd, '--json'])
    expect(run.exitCode).toBe(6)
    expect(JSON.parse(run.stdout).error.message).toContain('odd.json is not a capplan result file nor a peer file capplan recognizes')
  })
})
