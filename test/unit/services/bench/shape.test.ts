import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {BENCH_DEFAULTS} from '../../../../src/cli/flags/bench.js'
import {type BenchFlagValues, resolveBenchOptions} from '../../../../src/services/bench/options.js'

const trace = path.resolve(import.meta.dirname, '../../../fixtures/traces/synthetic-mooncake.jsonl')
const flags = (overrides: Partial<BenchFlagValues> = {}): BenchFlagValues => ({
  model: BENCH_DEFAULTS.model,
  quant: BENCH_DEFAULTS.quant,
  sweep: false,
  engine: 'embedded',
  synthetic: false,
  'startup-timeout': BENCH_DEFAULTS.startupTimeoutMs,
  workload: BENCH_DEFAULTS.workload,
  device: 'auto',
  'results-dir': BENCH_DEFAULTS.resultsDir,
  seed: BENCH_DEFAULTS.seed,
  ...overrides,
})
const resolve = async (overrides: Partial<BenchFlagValues>) => (await resolveBenchOptions(flags(overrides), [], () => {})).options

describe('bench workload-shape flags', () => {
  it('no shape flag: the control, no shape at all (the result file as before)', async () => {
    expect((await resolve({})).shape).toBeUndefined()
  })

  it('--prefix-tokens 384 --input-tokens 512: cache on, one group, fixed lengths, closed arrivals', async () => {
    const options = await resolve({'prefix-tokens': 384, 'input-tokens': 512, 'output-tokens': 16})
    expect(options.shape!.record).toEqual({
      promptCache: 'on',
      seed: 1,
      prefix: {tokens: 384, groups: 1},
      sessions: null,
      input: {kind: 'fixed', tokens: 512},
      output: {kind: 'fixed', tokens: 16},
      arrivals: {process: 'closed', burstiness: null, rampMs: null},
      trace: null,
    })
  })

  it('--turns 3 with 100 + 20: the context holds the last turn, 3 x 100 + 2 x 20 = 340 prompt tokens', async () => {
    const options = await resolve({turns: 3, 'input-tokens': 100, 'output-tokens': 20, concurrency: [2]})
    expect(options.shape!.maxPromptTokens).toBe(340)
    expect(options.shape!.record.sessions).toEqual({turns: 3, thinkTimeMs: 0})
  })

  it('--rate 2 --burstiness 0.5 --ramp-up 30s: gamma, ramped; the load plan carries both', async () => {
    const options = await resolve({rate: [2], burstiness: 0.5, 'ramp-up': 30_000, 'input-dist': {kind: 'uniform', min: 64, max: 128}})
    expect(options.shape!.record.arrivals).toEqual({process: 'gamma', burstiness: 0.5, rampMs: 30_000})
    expect(options.load).toMatchObject({kind: 'rate', rates: [2], burstiness: 0.5, rampMs: 30_000})
    // The nominal length recorded: (64 + 128) / 2
    expect(options.inputTokens).toBe(96)
  })

  it('--trace: one level at the timestamps / --replay-speed from the first; its mean lengths recorded', async () => {
    const options = await resolve({trace, 'replay-speed': 2, 'trace-block-tokens': 64, requests: 3})
    expect(options.load).toEqual({kind: 'trace', offsetsMs: [0, (792 - 395) / 2, (958 - 395) / 2], maxInFlight: 16})
    expect(options.shape!.record.trace).toMatchObject({requests: 3, blockTokens: 64, replaySpeed: 2})
    // (172 + 170 + 190) / 3 = 177.33 -> 177; (11 + 4 + 5) / 3 = 6.67 -> 7
    expect([options.inputTokens, options.outputTokens]).toEqual([177, 7])
  })

  it('refuses what cannot go together, naming the flags (exit 3)', async () => {
    await expect(resolve({'prefix-tokens': 512, 'input-tokens': 512})).rejects.toThrow('--prefix-tokens 512 leaves no unique part')
    await expect(resolve({'prefix-groups': 4})).rejects.toThrow('--prefix-groups needs --prefix-tokens N')
    await expect(resolve({'think-time': 1000})).rejects.toThrow('--think-time needs --turns T')
    await expect(resolve({burstiness: 0.5})).rejects.toThrow('--burstiness only applies to --rate')
    await expect(resolve({'replay-speed': 2})).rejects.toThrow('--replay-speed only applies to --trace FILE')
    await expect(resolve({trace, concurrency: [1]})).rejects.toThrow('--trace sets the arrivals, lengths and shared blocks itself; --concurrency cannot be used with it.')
    await expect(resolve({'input-dist': {kind: 'fixed', tokens: 5}, 'input-tokens': 5})).rejects.toThrow('--input-dist and --input-tokens cannot be used together.')
  })
})
