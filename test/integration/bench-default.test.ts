import {mkdtempSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, describe, expect, it} from 'vitest'

import type {BenchJson} from '../../src/commands/bench.js'
import {readResultFile} from '../../src/results/read.js'

/**
 * The real default model (Qwen2.5-0.5B's architecture at int4 = Q4_0, synthesized once into the user cache and
 * reused) end to end through `capplan bench`, with small counts so it stays short on 2 shared cores.
 */
const repo = path.resolve(import.meta.dirname, '..', '..')
const bin = path.join(repo, 'bin', 'run.js')

describe('capplan bench on the default model (qwen2.5-0.5b int4)', () => {
  const results = mkdtempSync(path.join(os.tmpdir(), 'capplan-bench-default-'))
  afterAll(() => rmSync(results, {recursive: true, force: true}))

  it('measures two levels, writes a valid result file and costs the best level', async () => {
    const run = await execa(
      'node',
      [bin, 'bench', '--concurrency', '1,2', '--requests', '2', '--input-tokens', '64', '--output-tokens', '16', '--threads', '1', '--results-dir', results, '--json'],
      {reject: false},
    )
    expect(run.exitCode, run.stderr).toBe(0)
    const payload = JSON.parse(run.stdout) as BenchJson
    const file = await readResultFile(payload.results[0]!.file)
    expect(file.status).toBe('complete')
    expect(file.model).toMatchObject({profile: 'qwen2.5-0.5b', quant: 'int4', format: 'Q4_0', synthetic: true, paramsB: 0.49})
    expect(file.levels).toHaveLength(2)
    for (const level of file.levels) {
      expect(level.requests).toHaveLength(2)
      for (const request of level.requests) {
        expect(request.error).toBeNull()
        expect(request.outputTokens).toBe(16)
        expect(request.countedTokens).toBe(16)
        expect(request.inputTokens).toBe(64)
      }
    }
    // The engine was sized from the workload: 2 sequences x (64 + 16 + 16) = 192 cells, rounded up to 256.
    expect(file.engine.args).toContain('sequences=2')
    expect(file.engine.args).toContain('contextSize=256')
    expect(payload.cost[0]!.plan.costPerMillionTokens).toBeGreaterThan(0)
    console.log(
      'qwen2.5-0.5b int4, 1 thread:',
      file.levels
        .map(
          (level) =>
            `c${level.load.value}: ${level.summary.throughput.outputTokensPerS.toFixed(1)} out tok/s, ${level.summary.throughput.totalTokensPerS.toFixed(1)} total tok/s`,
        )
        .join('; '),
    )
  })
})
