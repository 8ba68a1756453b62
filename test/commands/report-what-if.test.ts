import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {capplanInProcess, repo} from '../helpers/cli.js'

/** Run after `npm run build`: the built CLI, as a user runs it. */
const recorded = path.join('test', 'fixtures', 'peers', 'capplan-embedded-int4.json')
const capplan = (args: string[]) => capplanInProcess(args, {cwd: repo})

// The recorded run: qwen2.5-0.5b Q4_0 on 2 CPU threads, 32 in / 16 out, c=1 1.2767 and c=2 1.1253 output tok/s.
// Bytes per decode step at batch B, context 32 + 16/2 = 40: 275,625,000 weights + B x 12,288 x 40 KV.
const CEILING_C1 = 16e9 / 276_116_520 // 20 GB/s x 0.8 / bytes = 57.9466 tok/s
const CEILING_C2 = 32e9 / 276_608_040 // 115.687 tok/s
const MEASURED_C2 = 1.125270332272108

describe('capplan report --what-if / --bandwidth', () => {
  it('report --what-if h200 RESULT --bandwidth 20 --json: efficiencies per level; no operating point at the default SLO, so the what-if is refused', async () => {
    const run = await capplan(['report', '--what-if', 'h200', recorded, '--bandwidth', '20', '--json'])
    expect(run.exitCode).toBe(0)
    const report = JSON.parse(run.stdout).results[0]
    expect(report.sanity.hardwareProfile).toBe('cpu')
    expect(report.sanity.bandwidthSource).toBe('flag')
    expect(report.sanity.levels[0].check.ceilingTokensPerSecond).toBeCloseTo(CEILING_C1, 9)
    expect(report.sanity.levels[0].check.efficiency).toBeCloseTo(1.2766930550573954 / CEILING_C1, 12)
    expect(report.sanity.levels[1].check.efficiency).toBeCloseTo(MEASURED_C2 / CEILING_C2, 12)
    expect(report.sanity.levels.map((level: {check: {verdict: string}}) => level.check.verdict)).toEqual(['ok', 'ok'])
    // Default SLO TTFT 2 s at p95; c=1 has TTFT p95 5053 ms: nothing is costed, nothing is scaled.
    expect(report.operatingPoint.kind).toBe('none')
    expect(report.operatingPointSanity).toBeNull()
    expect(report.whatIf).toEqual([
      {
        target: 'h200',
        ok: false,
        label: 'estimate',
        fromFile: recorded,
        fromResultId: '70e9d223-2587-4e1d-9247-bb38462d220c',
        reason: 'no operating point to scale (no measured level meets the SLO)',
      },
    ])
  })

  it('with an SLO the run meets, costs the H200 estimate (x240) and labels it in the table', async () => {
    const args = ['report', recorded, '--bandwidth', '20', '--what-if', 'h200', '--slo', 'ttft=10s,tpot=2s', '--api', 'gpt-4o']
    const json = await capplan([...args, '--json'])
    expect(json.exitCode).toBe(0)
    const report = JSON.parse(json.stdout).results[0]
    expect(report.operatingPointSanity.check.efficiency).toBeCloseTo(MEASURED_C2 / CEILING_C2, 12)
    const h200 = report.whatIf[0]
    expect(h200.ok).toBe(true)
    // 4.8 TB/s / 20 GB/s = 240 (both memory-bound, same bytes per step); 1.125270 x 240 = 270.065 tok/s
    expect(h200.throughput.outputTokensPerS).toBeCloseTo(MEASURED_C2 * 240, 9)
    // $4.88/h / (270.065 x 3 total tok/s x 3600) x 1e6 = $1.6731/1M
    expect(h200.plan.costPerMillionTokens).toBeCloseTo(4.88e6 / (MEASURED_C2 * 240 * 3 * 3600), 9)

    const table = await capplan(args)
    expect(table.exitCode).toBe(0)
    expect(table.stdout).toContain('Roofline (cpu, 20 GB/s from --bandwidth): at the operating point 1.13 tok/s is 1% of the 116 tok/s ceiling.')
    expect(table.stdout).toContain('What-if h200 (ESTIMATE, not measured): 270.1 output tok/s on 1 x h200')
    expect(table.stdout).toContain('ESTIMATE costed at 270.1 output tok/s on 1 x h200 (TP 1), not measured')
  })

  it('refuses an unknown --what-if GPU naming the closest ids (exit 4, as every unknown id) and a bad --bandwidth (exit 3)', async () => {
    const unknown = await capplan(['report', recorded, '--what-if', 'h200,h300', '--json'])
    expect(unknown.exitCode).toBe(4)
    const error = (JSON.parse(unknown.stdout) as {error: {kind: string; message: string}}).error
    expect(error.kind).toBe('NOT_FOUND')
    expect(error.message).toMatch(/^--what-if: no GPU profile "h300"\. Closest: h200, /)
    const bad = await capplan(['report', recorded, '--bandwidth', 'fast'])
    expect(bad.exitCode).toBe(3)
    expect(bad.stderr).toContain('--bandwidth "fast" is not a number.')
  })

  it('capplan system --measure-bandwidth reports the probe, labeled a single-thread lower bound', async () => {
    const run = await capplan(['system', '--skip-engine', '--measure-bandwidth', '--json'])
    expect(run.exitCode).toBe(0)
    const probe = JSON.parse(run.stdout).memoryBandwidth
    // GB/s is the fastest pass: 2 x 256 MiB (read + write) / its seconds.
    expect(probe.bufferBytes).toBe(256 * 1024 * 1024)
    expect(probe.passSeconds).toHaveLength(5)
    expect(probe.gbPerS).toBeCloseTo((2 * probe.bufferBytes) / Math.min(...probe.passSeconds) / 1e9, 9)
    expect(probe.method).toContain('single-thread JS estimate')
  })
})
