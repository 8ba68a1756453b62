import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type SseSource, startSseSource} from '../../perf/sse-source.js'
import {readResultFile} from '../../src/results/read.js'
import {bin, repo} from '../helpers/cli.js'

/**
 * `capplan bench --engine openai --rate` against a SLOW local SSE source (perf/sse-source.ts, 300 ms between
 * chunks): the warmup is sized to the rate (4 req/s x 3 s = 12 requests), not --max-in-flight (256 for openai),
 * and stderr (a pipe here, not a terminal) shows progress lines during the warmup and the level: requests done
 * / planned and the elapsed time. CAPPLAN_PROGRESS_SECONDS makes the heartbeat 0.5 s instead of 10 s.
 */
let source: SseSource
const dirs: string[] = []

beforeAll(async () => {
  source = await startSseSource({intervalMs: 300})
})
afterAll(async () => {
  await source.close()
  for (const dir of dirs) rmSync(dir, {recursive: true, force: true})
})

describe('bench --rate progress and warmup against a slow server', () => {
  it('warms up with 12 requests at 4 req/s, and stderr shows warmup and level progress while they run', async () => {
    const results = mkdtempSync(path.join(tmpdir(), 'capplan-progress-'))
    dirs.push(results)
    const run = await execa(
      'node',
      [
        bin,
        'bench',
        '--engine',
        'openai',
        '--endpoint',
        source.url,
        '--rate',
        '4',
        '--requests',
        '4',
        '--input-tokens',
        '8',
        '--output-tokens',
        '8',
        '--results-dir',
        results,
      ],
      {cwd: repo, reject: false, env: {CAPPLAN_PROGRESS_SECONDS: '0.5'}},
    )
    expect(run.exitCode, run.stderr).toBe(0)
    // 12 warmup requests of min(8, 8) tokens at 300 ms per chunk: ~2.4 s, so several heartbeats.
    const warmupLines = run.stderr.split('\n').filter((line) => / warmup · \d+\/12 requests · 12 at once · \d+ s$/.test(line))
    expect(warmupLines.length, run.stderr).toBeGreaterThanOrEqual(2)
    const levelLines = run.stderr.split('\n').filter((line) => / level 1\/1 · 4 req\/s · \d\/4 requests · .* output tok\/s · \d+ s$/.test(line))
    expect(levelLines.length, run.stderr).toBeGreaterThanOrEqual(1)
    // The source saw the warmup and the level: 12 + 4 requests, not 256 + 4.
    expect(source.stats().requests).toBe(16)
    const [name] = readdirSync(results).filter((entry) => entry.endsWith('.json'))
    const file = await readResultFile(path.join(results, name!))
    expect(file.notes).toContain('warmup: 12 request(s) of 8 output tokens at concurrency 12 before the first level, not recorded')
  })
})
