import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {serializeResultFile} from '../../src/results/write.js'
import {sampleResult} from '../unit/results/sample-result.js'
import {capplanInProcess, mixedDirectory, peers} from '../helpers/cli.js'

describe('capplan compare', () => {
  it('compares two capplan files and a peer file side by side', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capplan-compare-'))
    const a = path.join(dir, 'a.json')
    writeFileSync(a, serializeResultFile(sampleResult()))
    const run = await capplanInProcess(['compare', a, path.join(peers, 'vllm_serve_detailed.json'), '--gpu-price', '1', '--json'])
    expect(run.exitCode).toBe(0)
    const payload = JSON.parse(run.stdout)
    expect(payload.entries).toHaveLength(2)
    expect(payload.test).toContain("Welch's")
    // the sample result is 10 in / 4 out with synthetic prompts; the vLLM file 10 / 4 from a dataset
    expect(payload.warnings[0]).toContain('prompts dataset vs synthetic-token-ids')
  })

  it('stops with exit 6 on an unreadable file', async () => {
    const dir = mixedDirectory()
    const run = await capplanInProcess(['compare', path.join(dir, 'llama_bench.json'), path.join(dir, 'cut.json')])
    expect(run.exitCode).toBe(6)
    expect(run.stderr).toContain('cut.json is not valid JSON')
  })

  it('says which of the recorded embedded int4 / fp16 runs is faster and whether it is significant', async () => {
    const int4 = path.join(peers, 'capplan-embedded-int4.json')
    const fp16 = path.join(peers, 'capplan-embedded-fp16.json')
    const run = await capplanInProcess(['compare', int4, fp16, '--slo', 'ttft=30s,tpot=3s', '--json'])
    expect(run.exitCode).toBe(0)
    const payload = JSON.parse(run.stdout)
    const a = JSON.parse(readFileSync(int4, 'utf8'))
    const b = JSON.parse(readFileSync(fp16, 'utf8'))
    // operating points at tpot p95 <= 3 s: int4 meets at c=2 (its highest level), fp16 only at c=1
    expect(payload.entries[0].outputTokensPerS).toBe(a.levels[1].summary.throughput.outputTokensPerS)
    expect(payload.entries[1].outputTokensPerS).toBe(b.levels[0].summary.throughput.outputTokensPerS)
    expect(payload.entries[1].throughputRatio).toBeLessThan(1)
    // latencies at concurrency 2 (both measured it); TPOT: Welch on 6 vs 6 requests
    expect(payload.comparedLoad).toEqual({kind: 'concurrency', value: 2})
    const tpot = payload.metrics.find((m: {metric: string}) => m.metric === 'tpot').vsFirst[0]
    expect(tpot.welch.pValue).toBeLessThan(0.05)
    expect(tpot.verdict).toMatch(/^significantly higher \(slower\)/)
    expect(payload.warnings).toEqual([])
  })
})
