import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import type {ResultFile} from '../../src/results/schema.js'
import {capplan, repo} from '../helpers/cli.js'

// estimate --from scales a result's levels to another GPU: a level whose stored summary its own requests do
// not bear out must not be scaled (as report does not cost it), and the user is told which and why.
describe('capplan estimate --from a tampered result', () => {
  it('scales only the levels whose summary its requests bear out, warning about the other', async () => {
    const source = path.join(repo, 'results', '20261122T075225Z_vm_cpu_qwen2.5-0.5b_int4_embedded.json')
    const result = JSON.parse(readFileSync(source, 'utf8')) as ResultFile
    const concurrencies = result.levels.map((level) => level.load.value)
    const tampered = result.levels.find((level) => level.load.value === 4)!
    tampered.summary.throughput.outputTokensPerS *= 1e6
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'capplan-estimate-verify-')), 'tampered.json')
    writeFileSync(file, JSON.stringify(result))

    const run = await capplan(['estimate', '--from', file, '--gpu', 'h100-sxm', '--json'])
    expect(run.exitCode).toBe(0)
    const levels = (JSON.parse(run.stdout) as {fromResult: {levels: {concurrency: number}[]}}).fromResult.levels.map((level) => level.concurrency)
    expect(concurrencies).toContain(4)
    expect(levels).toEqual(concurrencies.filter((c) => c !== 4))
    expect(run.stderr).toMatch(/not scaled: .*throughput\.outputTokensPerS/)
  })
})
