import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {capplan, repo} from '../helpers/cli.js'

/**
 * `capplan report --merge` on a real result file (capplan bench --engine llamacpp, results/): the file merged
 * with a copy of itself is one result whose every level has twice the load and twice the throughput; a copy
 * whose createdAt puts its levels after the original's is refused (exit 3) naming the level.
 */

const recorded = path.join(repo, 'results', '20261122T081941Z_vm_cpu_qwen2.5-0.5b_int4_llamacpp.json')

interface Payload {
  results: {file: string; levels: {throughput: {outputTokensPerS: number}}[]; loads: unknown}[]
  error?: {exitCode: number; message: string}
}

describe('capplan report --merge', () => {
  it('a file and its copy: concurrency 1, 2, 4 -> 2, 4, 8 at twice the output tok/s (18.81 -> 37.63 at the first)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'capplan-merge-'))
    const copy = path.join(dir, 'copy.json')
    writeFileSync(copy, readFileSync(recorded))
    const run = await capplan(['report', '--merge', recorded, copy, '--json'])
    expect(run.exitCode).toBe(0)
    const payload = JSON.parse(run.stdout) as Payload
    expect(payload.results).toHaveLength(1)
    const original = JSON.parse(readFileSync(recorded, 'utf8')) as {levels: {summary: {throughput: {outputTokensPerS: number}}}[]}
    const merged = payload.results[0]!
    expect(merged.file).toBe(`merged: ${recorded} + ${copy}`)
    expect(merged.levels.map((l) => l.throughput.outputTokensPerS)).toEqual(original.levels.map((l) => expect.closeTo(2 * l.summary.throughput.outputTokensPerS, 9)))
    expect(merged.levels[0]!.throughput.outputTokensPerS).toBeCloseTo(37.6275, 4)
  })

  it('refuses levels that do not overlap in wall-clock time (exit 3)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'capplan-merge-'))
    const later = path.join(dir, 'later.json')
    const result = JSON.parse(readFileSync(recorded, 'utf8')) as {createdAt: string}
    // The whole run took ~168 s: an hour later, nothing overlaps.
    result.createdAt = new Date(Date.parse(result.createdAt) + 3_600_000).toISOString()
    writeFileSync(later, JSON.stringify(result))
    const run = await capplan(['report', '--merge', recorded, later, '--json'])
    expect(run.exitCode).toBe(3)
    expect(run.stdout + run.stderr).toContain('--merge: the concurrency 1 levels do not overlap in time')
  })
})
