import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {capplanInProcess, peers} from '../helpers/cli.js'

describe('capplan report on a peer file without per-request samples', () => {
  it("checks the SLO on vLLM's reported p99s and says so (real vLLM --append-result file)", async () => {
    const file = path.join(peers, 'vllm_serve_append_llama3b_l40s.jsonl')
    const run = await capplanInProcess(['report', file, '--slo', 'ttft=200ms,tpot=30ms', '--percentile', 'p99', '--gpu-price', '2', '--json'])
    expect(run.exitCode).toBe(0)
    const [noFeatures] = JSON.parse(run.stdout).results
    expect(noFeatures.importedFrom).toBe('vllm')
    expect(noFeatures.operatingPoint.kind).toBe('interpolated')
    // (30 - 15.793261194984588) / (35.581390495641394 - 15.793261194984588) of the way from 2258.21 to 5841.36 tok/s
    const f = (30 - 15.793261194984588) / (35.581390495641394 - 15.793261194984588)
    expect(noFeatures.operatingPoint.outputTokensPerS).toBeCloseTo(2258.212337970085 + f * (5841.355557587435 - 2258.212337970085), 9)
    expect(noFeatures.operatingPoint.explanation).toContain("SLO checked on vLLM's reported p99 TTFT / p99 TPOT")

    const table = await capplanInProcess(['report', file, '--slo', 'ttft=200ms,tpot=30ms', '--gpu-price', '2'])
    expect(table.exitCode).toBe(0)
    // at the default p95: vLLM's p99s bound the p95s of rate 10; rate 30's p95 TPOT is not settled, and it says so
    expect(table.stdout).toContain('30 req/s misses it (vLLM reported no p95 TPOT (it has mean, median, p99: try --percentile p99))')
    expect(table.stdout).toContain("SLO checked on vLLM's reported p99 TTFT (a bound of its p95) / p99 TPOT (a bound of its p95)")
    expect(table.stdout).not.toContain('UNCHECKED')
  })
})
