import path from 'node:path'

import {execa} from 'execa'
import {describe, expect, it} from 'vitest'

import {defaultMaxInFlight, isLoopbackEndpoint, loadPlanFromFlags} from '../../src/commands/bench.js'

const repo = path.resolve(import.meta.dirname, '..', '..')
const bin = path.join(repo, 'bin', 'run.js')

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
    const plan = loadPlanFromFlags({concurrency: '2', duration: '1m30s', sweep: false, engine: 'embedded'})
    if (plan.kind !== 'concurrency') throw new Error('closed loop expected')
    // 1m30s = 60 000 + 30 000 ms
    expect(plan.stopFor(2)).toEqual({kind: 'duration', durationMs: 90_000, maxRequests: 1000})
    const capped = loadPlanFromFlags({concurrency: '2', duration: '10s', requests: 50, sweep: false, engine: 'embedded'})
    if (capped.kind !== 'concurrency') throw new Error('closed loop expected')
    expect(capped.stopFor(2)).toEqual({kind: 'duration', durationMs: 10_000, maxRequests: 50})
  })

  it('--precision 3% is a precision rule of 0.03 with the default windows', () => {
    const plan = loadPlanFromFlags({precision: '3%', sweep: true, engine: 'llamacpp'})
    expect(plan.kind).toBe('sweep')
    if (plan.kind !== 'sweep') return
    expect(plan.maxConcurrency).toBe(64)
    expect(plan.stopFor(4)).toMatchObject({kind: 'precision', relative: 0.03, maxRequests: 1000, minRequests: 10})
  })

  it('--rate: seeded open loop with --max-in-flight, default 16 for local engines and 256 for servers', () => {
    const plan = loadPlanFromFlags({rate: '0.5,2', sweep: false, engine: 'embedded'})
    expect(plan).toEqual({kind: 'rate', rates: [0.5, 2], stop: {kind: 'requests', requests: 10}, maxInFlight: 16})
    expect(loadPlanFromFlags({rate: '1', requests: 7, maxInFlight: 3, sweep: false, engine: 'vllm'})).toEqual({
      kind: 'rate',
      rates: [1],
      stop: {kind: 'requests', requests: 7},
      maxInFlight: 3,
    })
    expect([defaultMaxInFlight('embedded'), defaultMaxInFlight('llamacpp'), defaultMaxInFlight('vllm'), defaultMaxInFlight('openai')]).toEqual([16, 16, 256, 256])
  })

  it('refuses two arrival modes or two level ends at once, naming the flags', () => {
    expect(() => loadPlanFromFlags({concurrency: '1', rate: '1', sweep: false, engine: 'embedded'})).toThrow('--concurrency and --rate cannot be used together')
    expect(() => loadPlanFromFlags({rate: '1', sweep: true, engine: 'embedded'})).toThrow('--rate and --sweep cannot be used together')
    expect(() => loadPlanFromFlags({duration: '1m', precision: '3%', sweep: false, engine: 'embedded'})).toThrow('--duration and --precision cannot be used together')
    expect(() => loadPlanFromFlags({maxInFlight: 4, sweep: false, engine: 'embedded'})).toThrow('--max-in-flight only applies to --rate')
    expect(() => loadPlanFromFlags({duration: '60', sweep: false, engine: 'embedded'})).toThrow(/--duration/)
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

describe('capplan bench engine flag refusals (exit 3, before any engine starts)', () => {
  const flat = (text: string) => text.replace(/\s*\n\s*›?\s*/g, ' ')
  const bench = (args: string[]) => execa('node', [bin, 'bench', ...args], {reject: false, env: {CAPPLAN_CACHE_DIR: '/nonexistent/capplan-cache'}})

  it('--engine openai without --endpoint names the flag', async () => {
    const run = await bench(['--engine', 'openai'])
    expect(run.exitCode).toBe(3)
    expect(flat(run.stderr)).toMatch(/--engine openai needs --endpoint URL/)
    const json = await bench(['--engine', 'openai', '--json'])
    expect(json.exitCode).toBe(3)
    expect(JSON.parse(json.stdout)).toMatchObject({error: {kind: 'INVALID_INPUT'}})
  })

  it('--rate with --concurrency both given is refused', async () => {
    const run = await bench(['--rate', '1', '--concurrency', '2'])
    expect(run.exitCode).toBe(3)
    expect(flat(run.stderr)).toMatch(/--concurrency and --rate cannot be used together/)
  })

  it('engine-only flags on the wrong engine, and extra engine flags on the embedded engine', async () => {
    const endpoint = await bench(['--endpoint', 'http://127.0.0.1:1'])
    expect(endpoint.exitCode).toBe(3)
    expect(flat(endpoint.stderr)).toMatch(/--endpoint only applies to --engine openai/)
    const gpus = await bench(['--gpus', '2'])
    expect(gpus.exitCode).toBe(3)
    expect(flat(gpus.stderr)).toMatch(/--gpus only applies to --engine vllm or openai/)
    const serverBin = await bench(['--engine', 'vllm', '--server-bin', '/usr/bin/llama-server'])
    expect(serverBin.exitCode).toBe(3)
    expect(flat(serverBin.stderr)).toMatch(/--server-bin only applies to --engine llamacpp/)
    const extra = await bench(['--', '--mlock'])
    expect(extra.exitCode).toBe(3)
    expect(flat(extra.stderr)).toMatch(/Extra engine flags after -- \(--mlock\) only apply to --engine llamacpp or vllm/)
  })

  it('still reports an unknown flag before -- (oclif usage error, exit 2) and a stray word (exit 3)', async () => {
    const unknown = await bench(['--engine', 'llamacpp', '--bogus', '--', '--mlock'])
    expect(unknown.exitCode).toBe(2)
    expect(unknown.stderr).toMatch(/Nonexistent flag: --bogus/)
    const stray = await bench(['oops', '--', '--mlock'])
    expect(stray.exitCode).toBe(3)
    expect(flat(stray.stderr)).toMatch(/Unexpected argument: oops/)
  })
})
