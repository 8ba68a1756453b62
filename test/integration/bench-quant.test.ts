import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, describe, expect, it} from 'vitest'

import type {BenchJson} from '../../src/commands/bench.js'

/**
 * `--quant int4,fp16` on Qwen2.5-0.5B's real shape: decode is memory-bound, and Q4_0 reads ~3.5x fewer
 * weight bytes per token than F16, so int4 must decode faster. Single stream (concurrency 1), 1 thread so
 * a busy shared machine hurts both runs alike. The fp16 model (~950 MiB) is synthesized once into the cache.
 */
const repo = path.resolve(import.meta.dirname, '..', '..')
const bin = path.join(repo, 'bin', 'run.js')

describe('capplan bench --quant int4,fp16', () => {
  const results = mkdtempSync(path.join(os.tmpdir(), 'capplan-bench-quant-'))
  afterAll(() => rmSync(results, {recursive: true, force: true}))

  it('int4 decodes faster than fp16', async () => {
    const run = await execa(
      'node',
      [
        bin,
        'bench',
        '--quant',
        'int4,fp16',
        '--concurrency',
        '1',
        '--requests',
        '3',
        '--input-tokens',
        '16',
        '--output-tokens',
        '48',
        '--threads',
        '1',
        '--results-dir',
        results,
        '--json',
      ],
      {reject: false},
    )
    expect(run.exitCode, run.stderr).toBe(0)
    const payload = JSON.parse(run.stdout) as BenchJson
    expect(payload.results.map((r) => r.format)).toEqual(['Q4_0', 'F16'])
    const [int4, fp16] = payload.results.map((r) => r.levels[0]!.summary)
    console.log(
      `single-stream decode, 1 thread: int4 ${int4!.throughput.outputTokensPerS.toFixed(1)} output tok/s (TPOT p50 ${int4!.tpotMs!.p50.toFixed(1)} ms), ` +
        `fp16 ${fp16!.throughput.outputTokensPerS.toFixed(1)} output tok/s (TPOT p50 ${fp16!.tpotMs!.p50.toFixed(1)} ms)`,
    )
    expect(int4!.tpotMs!.p50).toBeLessThan(fp16!.tpotMs!.p50)
    expect(int4!.throughput.outputTokensPerS).toBeGreaterThan(fp16!.throughput.outputTokensPerS)
  })
})
