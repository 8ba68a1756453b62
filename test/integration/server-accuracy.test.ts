import {existsSync} from 'node:fs'

import {describe, expect, it} from 'vitest'

import {findLlamaCppTool} from '../../src/engines/llamacpp/build.js'

/**
 * bench/server-accuracy.js end to end against the REAL llama-server and llama-bench (capplan's build), on the
 * synthesized qwen2.5-0.5b Q4_0 (cached after the first run). It imports the compiled project: run
 * `npm run build` first. Skipped, with the reason printed, when a binary or dist/ is missing.
 *
 * Asserted: every request succeeded with llama-server timings of its own and the same token count; the
 * same-request client/server decode ratio is within 3% (both time the same n - 1 tokens, so background load
 * slows both alike); the server's process group is gone after the run. The llama-bench ratio is only checked
 * to be a real measurement: it depends on the machine's load, which a test cannot control.
 */

const serverBin = await findLlamaCppTool('llama-server')
const llamaBench = await findLlamaCppTool('llama-bench')
const built = existsSync(new URL('../../dist/engines/llamacpp/engine.js', import.meta.url))
const skipReason = serverBin === null || llamaBench === null ? 'no llama-server/llama-bench (run `capplan engine build`)' : built ? null : 'dist/ is not built (npm run build)'
if (skipReason !== null) console.warn(`[skip] server-accuracy integration: ${skipReason}.`)

interface Round {
  requests: number
  failed: number
  missingTimings: number
  tokenMismatches: number
  pairedClientServerRatio: number | null
  clientTokensPerSecond: number | null
  serverTokensPerSecond: number | null
  llamaBenchTokensPerSecond: number | null
}

describe.skipIf(skipReason !== null)('bench/server-accuracy.js against the real llama-server', () => {
  it('client decode tok/s matches llama-server timings for the same requests; no server left', async () => {
    const {runServerAccuracy, formatServerAccuracy} = (await import(new URL('../../perf/server-accuracy.js', import.meta.url).href)) as {
      runServerAccuracy: (options: Record<string, unknown>) => Promise<{rounds: Round[]; serverLeftRunning: boolean | null; serverPid: number | null; serverArgs: string[]}>
      formatServerAccuracy: (summary: unknown) => string
    }
    const summary = await runServerAccuracy({rounds: 1, requests: 3, outputTokens: 24, inputTokens: 16, threads: 1, log: () => {}})
    console.log(formatServerAccuracy(summary))
    expect(summary.rounds).toHaveLength(1)
    const round = summary.rounds[0]!
    expect([round.requests, round.failed, round.missingTimings, round.tokenMismatches]).toEqual([3, 0, 0, 0])
    expect(round.pairedClientServerRatio).toBeGreaterThanOrEqual(0.97)
    expect(round.pairedClientServerRatio).toBeLessThanOrEqual(1.03)
    expect(round.llamaBenchTokensPerSecond).toBeGreaterThan(0)
    // -np 1 and the thread count reached the server.
    expect(summary.serverArgs.join(' ')).toMatch(/-np 1 .*-t 1 /)
    expect(summary.serverPid).toBeGreaterThan(0)
    expect(summary.serverLeftRunning).toBe(false)
  })
})
