import {existsSync, readdirSync, rmSync} from 'node:fs'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {BenchJson} from '../../src/commands/bench.js'
import {loadProfiles} from '../../src/profiles/load.js'
import {findOperatingPoint} from '../../src/report/build/operating-point.js'
import {readResultFile} from '../../src/results/read.js'
import {tinyModelWorkdir} from '../helpers/tiny-models.js'

/**
 * `capplan bench` end to end as a user runs it (node bin/run.js, after `npm run build`), on a tiny synthesized
 * model so it takes seconds: result file, JSON payload, human output, and Ctrl-C.
 */
const repo = path.resolve(import.meta.dirname, '..', '..')
const bin = path.join(repo, 'bin', 'run.js')

describe('capplan bench on a tiny synthetic model', () => {
  let work: string
  let env: Record<string, string>

  beforeAll(() => {
    ;({work, env} = tinyModelWorkdir('capplan-bench-'))
  })

  afterAll(() => rmSync(work, {recursive: true, force: true}))

  const bench = (args: string[], options: {cwd?: string} = {}) =>
    execa('node', [bin, 'bench', '--model', 'tiny-qwen2', '--threads', '1', ...args], {
      cwd: options.cwd ?? work,
      env,
      reject: false,
    })

  it('writes a result file that readResultFile accepts, with every level and request, and returns the JSON payload', async () => {
    const results = path.join(work, 'results-json')
    const run = await bench(['--concurrency', '1,2', '--requests', '3', '--input-tokens', '32', '--output-tokens', '16', '--results-dir', results, '--json'])
    expect(run.stderr).toBe('')
    expect(run.exitCode).toBe(0)
    const payload = JSON.parse(run.stdout) as BenchJson
    expect(payload.results).toHaveLength(1)
    const [entry] = payload.results
    expect(readdirSync(results)).toEqual([path.basename(entry!.file)])

    const file = await readResultFile(entry!.file)
    expect(file.status).toBe('complete')
    expect(file.finishedAt).not.toBeNull()
    expect(file.model).toMatchObject({profile: 'tiny-qwen2', quant: 'int4', format: 'Q4_0', synthetic: true})
    expect(file.model.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(file.engine).toMatchObject({kind: 'embedded', backend: 'cpu', threads: 1, gpuCount: 0})
    expect(file.engine.args).toContain('UV_THREADPOOL_SIZE=1')
    expect(file.workload).toMatchObject({profile: null, inputTokens: 32, outputTokens: 16, promptSource: 'synthetic-token-ids', ignoreEos: true, seed: 1})
    expect(file.levels.map((level) => level.load)).toEqual([
      {kind: 'concurrency', value: 1},
      {kind: 'concurrency', value: 2},
    ])
    for (const level of file.levels) {
      expect(level.status).toBe('complete')
      expect(level.requests).toHaveLength(3)
      for (const request of level.requests) {
        expect(request.error).toBeNull()
        expect(request.outputTokens).toBe(16)
        expect(request.inputTokens).toBe(32)
      }
      // Throughput = sum of output tokens / window: 3 x 16 / durationS
      expect(level.summary.throughput.outputTokensPerS).toBeCloseTo(48 / level.summary.durationS, 6)
      expect(level.summary.throughput.totalTokensPerS).toBeCloseTo((48 + 96) / level.summary.durationS, 6)
      // Goodput uses the --workload's SLO (chat: TTFT p95 2000 ms, TPOT p95 50 ms) even with overridden lengths.
      expect(level.summary.goodput?.slo).toEqual({ttftMs: 2000, tpotMs: 50})
    }
    // Batched decoding evidence. 3 requests of 16 tokens at concurrency 2: two run side by side (16 steps of 2),
    // the third alone (16 steps of 1) -> at best 48 / 32 = 1.50 sequences per step; taking turns would give 1.00.
    const batching = file.notes.find((note) => note.startsWith('concurrency 2: '))
    expect(batching).toMatch(/^concurrency 2: \d\.\d\d sequences per decode step/)
    expect(Number(/: (\d\.\d\d) /.exec(batching!)![1])).toBeGreaterThan(1.4)
    // The JSON payload mirrors the file and costs the SLO operating point (as `capplan report` finds it) on
    // the cpu profile against every API.
    expect(entry!.levels.map((level) => level.summary)).toEqual(file.levels.map((level) => level.summary))
    const point = findOperatingPoint(file.levels, {ttftMs: 2000, tpotMs: 50})
    expect(point.totalTokensPerS).not.toBeNull()
    const best = point.totalTokensPerS!
    expect(payload.cost).toHaveLength(1)
    expect(payload.cost[0]!.basis).toBe('slo-operating-point')
    expect(payload.cost[0]!.totalTokensPerSecond).toBeCloseTo(best, 6)
    expect(payload.cost[0]!.gpuProfile).toBe('cpu')
    expect(payload.cost[0]!.plan.inputs.totalTokensPerSecond).toBeCloseTo(best, 6)
    // The comparison of a measured model: the nearest served model of its architecture (no provider serves
    // tiny-qwen2), said so, and the closed APIs
    const plan = payload.cost[0]!.plan
    expect(plan.comparison!.model).toBe('tiny-qwen2')
    expect(plan.comparison!.twinNote).toMatch(/^no provider serves tiny-qwen2; the nearest served model is /)
    expect(plan.apis.some((api) => api.group === 'nearest-model')).toBe(true)
    expect(plan.apis.find((api) => api.id === 'gpt-4o')!.group).toBe('closed')
  })

  it('prints the summary table and the cost table; without a terminal, stderr gets info lines but no progress line', async () => {
    const results = path.join(work, 'results-human')
    const run = await bench(['--concurrency', '1', '--requests', '2', '--input-tokens', '16', '--output-tokens', '8', '--results-dir', results])
    expect(run.exitCode).toBe(0)
    expect(run.stdout).toMatch(/tiny-qwen2 int4 \(Q4_0\): measured/)
    expect(run.stdout).toMatch(/TTFT ms p50\/p90\/p99/)
    expect(run.stdout).toMatch(/Cost of tiny-qwen2 int4 at its operating point for the SLO ttft<=2000ms tpot<=50ms \(concurrency 1, [\d.]+ total tok\/s\) on the cpu profile/)
    expect(run.stdout).toMatch(/GPT-4o/)
    // Not a terminal: no redrawn progress line, only permanent info lines.
    expect(run.stderr).not.toMatch(/\r/)
    expect(run.stderr).toMatch(/tiny-qwen2 int4: result file .*\.json \(complete\)/)
  })

  it('compares several quants: one result file each, costed on the --gpu profile', async () => {
    const results = path.join(work, 'results-quants')
    const run = await bench([
      '--quant',
      'int4,int8',
      '--concurrency',
      '1',
      '--requests',
      '2',
      '--input-tokens',
      '16',
      '--output-tokens',
      '8',
      '--results-dir',
      results,
      '--gpu',
      'h100-sxm',
      '--json',
    ])
    expect(run.exitCode).toBe(0)
    const payload = JSON.parse(run.stdout) as BenchJson
    expect(payload.results.map((r) => [r.quant, r.format])).toEqual([
      ['int4', 'Q4_0'],
      ['int8', 'Q8_0'],
    ])
    expect(readdirSync(results)).toHaveLength(2)
    expect(payload.cost.map((c) => c.quant)).toEqual(['int4', 'int8'])
    const h100 = (await loadProfiles()).get('gpu', 'h100-sxm').prices['on-demand']!.usdPerHour
    for (const cost of payload.cost) {
      expect(cost.gpuProfile).toBe('h100-sxm')
      expect(cost.plan.inputs.usdPerGpuHour).toBe(h100)
    }
  })

  it('on Ctrl-C saves what was measured with status "interrupted" and exits 130', async () => {
    const results = path.join(work, 'results-sigint')
    const child = execa(
      'node',
      [
        bin,
        'bench',
        '--model',
        'tiny-qwen2',
        '--threads',
        '1',
        '--concurrency',
        '1,2',
        '--requests',
        '100000',
        '--input-tokens',
        '16',
        '--output-tokens',
        '64',
        '--results-dir',
        results,
      ],
      {cwd: work, env, reject: false},
    )
    // Wait until the run has created its result file (engine started, warmup begun), then let it measure a bit.
    const deadline = Date.now() + 120_000
    while (Date.now() < deadline && !(existsSync(results) && readdirSync(results).some((name) => name.endsWith('.json')))) {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await new Promise((resolve) => setTimeout(resolve, 1500))
    child.kill('SIGINT')
    const run = await child
    expect(run.exitCode).toBe(130)
    expect(run.stderr).toMatch(/Interrupted/)
    const [name] = readdirSync(results).filter((entry) => entry.endsWith('.json'))
    // The way back is named: the --resume command for the file just saved.
    // (oclif wraps the error at the terminal width: a wrapped line continues after "\n ›   ".)
    expect(run.stderr.replace(/\n\s*›\s+/g, '')).toContain(`capplan bench --resume ${path.join(results, name!)}`)
    const file = await readResultFile(path.join(results, name!))
    expect(file.status).toBe('interrupted')
    // The first level was cut short: it is kept as partial with only finished requests.
    expect(file.levels).toHaveLength(1)
    expect(file.levels[0]!.status).toBe('partial')
    expect(file.levels[0]!.requests.length).toBeGreaterThan(0)
    for (const request of file.levels[0]!.requests) expect(request.outputTokens).toBe(64)
  })
})
