import {describe, expect, it} from 'vitest'

import {CapplanError} from '../../../../src/lib/errors.js'
import type {WorkloadProfile} from '../../../../src/profiles/schema.js'
import {defaultMaxInFlight} from '../../../../src/engines/registry.js'
import {BENCH_DEFAULTS} from '../../../../src/cli/flags/bench.js'
import {
  type BenchFlagValues,
  defaultRequestsFor,
  engineApiFromFlags,
  isLoopbackEndpoint,
  loadPlanFromFlags,
  resolveBenchOptions,
  workloadSlo,
} from '../../../../src/services/bench/options.js'

describe('bench defaults', () => {
  it('runs 2 rounds of each concurrency by default, at least 4 requests', () => {
    expect([1, 2, 4, 8].map(defaultRequestsFor)).toEqual([4, 4, 8, 16])
  })

  it("turns a workload's p95 SLO into goodput thresholds, leaving out the unset ones", () => {
    const chat = {slo: {ttftP95Ms: 2000, tpotP95Ms: 50, e2eP95Ms: null}} as WorkloadProfile
    expect(workloadSlo(chat)).toEqual({ttftMs: 2000, tpotMs: 50})
    expect(workloadSlo({slo: {ttftP95Ms: null, tpotP95Ms: null, e2eP95Ms: null}} as WorkloadProfile)).toBeUndefined()
  })
})

describe('bench load-mode flags', () => {
  it('defaults to the closed loop at 1,2,4 with 2 x concurrency requests (at least 4)', () => {
    const plan = loadPlanFromFlags({sweep: false, engine: 'embedded'})
    expect(plan.kind).toBe('concurrency')
    if (plan.kind !== 'concurrency') return
    expect(plan.concurrencies).toEqual([1, 2, 4])
    expect(plan.concurrencies.map(plan.stopFor)).toEqual([
      {kind: 'requests', requests: 4},
      {kind: 'requests', requests: 4},
      {kind: 'requests', requests: 8},
    ])
  })

  it('--duration ends each level by time, capped by --requests (default 1000)', () => {
    const plan = loadPlanFromFlags({concurrency: [2], durationMs: 90_000, sweep: false, engine: 'embedded'})
    if (plan.kind !== 'concurrency') throw new Error('closed loop expected')
    expect(plan.concurrencies).toEqual([2])
    expect(plan.stopFor(2)).toEqual({kind: 'duration', durationMs: 90_000, maxRequests: 1000})
    const capped = loadPlanFromFlags({concurrency: [2], durationMs: 10_000, requests: 50, sweep: false, engine: 'embedded'})
    if (capped.kind !== 'concurrency') throw new Error('closed loop expected')
    expect(capped.stopFor(2)).toEqual({kind: 'duration', durationMs: 10_000, maxRequests: 50})
  })

  it('--precision 3% (0.03) is a precision rule of 0.03 with the default windows', () => {
    const plan = loadPlanFromFlags({precision: 0.03, sweep: true, engine: 'llamacpp'})
    expect(plan.kind).toBe('sweep')
    if (plan.kind !== 'sweep') return
    expect(plan.maxConcurrency).toBe(64)
    expect(plan.stopFor(4)).toMatchObject({kind: 'precision', relative: 0.03, maxRequests: 1000, minRequests: 10})
  })

  it('--rate: seeded open loop with --max-in-flight, default 16 for local engines and 256 for servers', () => {
    const plan = loadPlanFromFlags({rate: [0.5, 2], sweep: false, engine: 'embedded'})
    expect(plan).toEqual({kind: 'rate', rates: [0.5, 2], stop: {kind: 'requests', requests: 10}, maxInFlight: 16})
    expect(loadPlanFromFlags({rate: [1], requests: 7, maxInFlight: 3, sweep: false, engine: 'vllm'})).toEqual({
      kind: 'rate',
      rates: [1],
      stop: {kind: 'requests', requests: 7},
      maxInFlight: 3,
    })
    expect([defaultMaxInFlight('embedded'), defaultMaxInFlight('llamacpp'), defaultMaxInFlight('vllm'), defaultMaxInFlight('openai')]).toEqual([16, 16, 256, 256])
  })

  it('refuses two arrival modes or two level ends at once, naming the flags', () => {
    expect(() => loadPlanFromFlags({concurrency: [1], rate: [1], sweep: false, engine: 'embedded'})).toThrow('--concurrency and --rate cannot be used together')
    expect(() => loadPlanFromFlags({rate: [1], sweep: true, engine: 'embedded'})).toThrow('--rate and --sweep cannot be used together')
    expect(() => loadPlanFromFlags({durationMs: 60_000, precision: 0.03, sweep: false, engine: 'embedded'})).toThrow('--duration and --precision cannot be used together')
    expect(() => loadPlanFromFlags({maxInFlight: 4, sweep: false, engine: 'embedded'})).toThrow('--max-in-flight only applies to --rate')
  })

  it('treats only loopback endpoints as this machine', () => {
    expect(['http://127.0.0.1:8080', 'http://localhost:8000/', 'http://[::1]:1', 'https://api.example.com', 'not a url'].map(isLoopbackEndpoint)).toEqual([
      true,
      true,
      true,
      false,
      false,
    ])
  })
})

describe('bench --api', () => {
  const refusal = (fn: () => unknown): string => {
    try {
      fn()
    } catch (error) {
      expect(error).toBeInstanceOf(CapplanError)
      expect((error as CapplanError).kind).toBe('INVALID_INPUT')
      return `${(error as CapplanError).message} ${(error as CapplanError).suggestion}`
    }
    throw new Error('expected a refusal')
  }

  it('defaults: llamacpp -> completion, openai -> completions, embedded and vllm have no choice', () => {
    expect(engineApiFromFlags('llamacpp', undefined, false)).toBe('completion')
    expect(engineApiFromFlags('openai', undefined, false)).toBe('completions')
    expect(engineApiFromFlags('embedded', undefined, false)).toBeNull()
    expect(engineApiFromFlags('vllm', undefined, true)).toBeNull()
    expect(engineApiFromFlags('llamacpp', 'v1-completions', false)).toBe('v1-completions')
    expect(engineApiFromFlags('openai', 'chat', true)).toBe('chat')
  })

  it('refuses an API of another engine naming the valid ones, and chat without --dataset naming both flags', () => {
    expect(refusal(() => engineApiFromFlags('llamacpp', 'chat', true))).toBe(
      '--api chat is not an API of --engine llamacpp. Use --api completion or --api v1-completions (default completion).',
    )
    expect(refusal(() => engineApiFromFlags('openai', 'completion', false))).toBe(
      '--api completion is not an API of --engine openai. Use --api completions or --api chat (default completions).',
    )
    expect(refusal(() => engineApiFromFlags('vllm', 'completions', false))).toMatch(
      /^--api only applies to --engine llamacpp \(completion, v1-completions\) or openai \(completions, chat\), not vllm\./,
    )
    const chat = refusal(() => engineApiFromFlags('openai', 'chat', false))
    expect(chat).toContain('--api chat')
    expect(chat).toContain('--dataset FILE')
  })
})

describe('resolveBenchOptions takes the flags as values', () => {
  /** What oclif gives run() for `capplan bench` with no flags, then the overrides. */
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

  it("no flags: int4 at concurrency 1,2,4, the workload's SLO, a 10 min start-up, no request timeout, the loopback default", async () => {
    const {options} = await resolveBenchOptions(flags(), [], () => {})
    expect(options.quants).toEqual(['int4'])
    expect(options.load).toMatchObject({kind: 'concurrency', concurrencies: [1, 2, 4]})
    expect(options.startupTimeoutMs).toBe(600_000)
    expect(options.requestTimeoutMs).toBeUndefined()
    expect(options.slo).toEqual(workloadSlo(options.workload))
    expect(options.slo).toBeDefined()
    expect(options.bindHost).toBeUndefined()
  })

  it('uses each value as given (quantizations in order, rates, ms, the SLO) and warns about a reachable --host', async () => {
    const warnings: string[] = []
    const {options} = await resolveBenchOptions(
      flags({
        engine: 'llamacpp',
        quant: ['int8', 'int4'],
        rate: [0.5, 1],
        duration: 30_000,
        slo: {ttftMs: 1000},
        host: '0.0.0.0',
        'startup-timeout': 5000,
        'request-timeout': 2000,
        'client-threads': 2,
      }),
      [],
      (message) => warnings.push(message),
    )
    expect(options).toMatchObject({quants: ['int8', 'int4'], slo: {ttftMs: 1000}, bindHost: '0.0.0.0', startupTimeoutMs: 5000, requestTimeoutMs: 2000, clientThreads: 2})
    expect(options.load).toEqual({kind: 'rate', rates: [0.5, 1], stop: {kind: 'duration', durationMs: 30_000, maxRequests: 1000}, maxInFlight: 16})
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/^--host 0\.0\.0\.0: the llama-server server capplan starts will be reachable from the network/)
  })

  it('still refuses a flag the engine would ignore, before any profile is read', async () => {
    await expect(resolveBenchOptions(flags({'request-timeout': 1000}), [], () => {})).rejects.toThrow('--request-timeout only applies to --engine llamacpp or vllm or openai.')
    // The embedded engine streams no HTTP: there is nothing for client threads to read.
    await expect(resolveBenchOptions(flags({'client-threads': 2}), [], () => {})).rejects.toThrow('--client-threads only applies to --engine llamacpp or vllm or openai.')
    await expect(resolveBenchOptions(flags({engine: 'openai', endpoint: 'http://127.0.0.1:1', quant: ['int4', 'int8']}), [], () => {})).rejects.toThrow(
      '--engine openai measures one server: give one --quant (what it serves) or none.',
    )
  })
})
