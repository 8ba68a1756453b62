import path from 'node:path'

import {execa} from 'execa'
import {describe, expect, it} from 'vitest'

import {parseBindHost} from '../../src/cli/parsers/bench.js'
import {defaultMaxInFlight, engineApiFromFlags, isLoopbackEndpoint, loadPlanFromFlags} from '../../src/services/bench/options.js'
import {resumePlan, shellWords} from '../../src/services/bench/resume.js'
import {quoteArgv, redactArgv} from '../../src/lib/redact.js'
import {sampleLevel, sampleResult} from '../unit/results/sample-result.js'
import {CapplanError} from '../../src/lib/errors.js'

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

describe('bench --api and --host', () => {
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
    expect(refusal(() => engineApiFromFlags('vllm', 'completions', false))).toMatch(/^--api only applies to --engine llamacpp \(completion, v1-completions\) or openai \(completions, chat\), not vllm\./)
    const chat = refusal(() => engineApiFromFlags('openai', 'chat', false))
    expect(chat).toContain('--api chat')
    expect(chat).toContain('--dataset FILE')
  })

  it('--host takes an address or name, not a URL or words with spaces', () => {
    expect(parseBindHost('0.0.0.0')).toBe('0.0.0.0')
    expect(parseBindHost(' 10.1.2.3 ')).toBe('10.1.2.3')
    expect(parseBindHost('::')).toBe('::')
    for (const bad of ['', 'http://0.0.0.0', 'a b', '10.0.0.1/24']) expect(refusal(() => parseBindHost(bad))).toMatch(/is not an address/)
  })
})

describe('capplan bench --api / --host / --on-error refusals (exit 3, before any engine starts)', () => {
  const flat = (text: string) => text.replace(/\s*\n\s*›?\s*/g, ' ')
  const bench = (args: string[]) => execa('node', [bin, 'bench', ...args], {reject: false, env: {CAPPLAN_CACHE_DIR: '/nonexistent/capplan-cache'}})

  it('names the flags and the valid values', async () => {
    const chat = await bench(['--engine', 'openai', '--endpoint', 'http://127.0.0.1:1', '--api', 'chat', '--json'])
    expect(chat.exitCode).toBe(3)
    expect(JSON.parse(chat.stdout)).toMatchObject({error: {kind: 'INVALID_INPUT'}})
    expect(flat(chat.stdout)).toMatch(/--api chat sends text messages, so it needs --dataset FILE/)
    const wrong = await bench(['--engine', 'llamacpp', '--api', 'chat'])
    expect(wrong.exitCode).toBe(3)
    expect(flat(wrong.stderr)).toMatch(/--api chat is not an API of --engine llamacpp/)
    const notAnApi = await bench(['--engine', 'llamacpp', '--api', 'bogus'])
    expect(notAnApi.exitCode).toBe(2)
    const host = await bench(['--host', '0.0.0.0'])
    expect(host.exitCode).toBe(3)
    expect(flat(host.stderr)).toMatch(/--host only applies to --engine llamacpp or vllm/)
    const onError = await bench(['--engine', 'openai', '--endpoint', 'http://127.0.0.1:1', '--on-error', 'continue'])
    expect(onError.exitCode).toBe(3)
    expect(flat(onError.stderr)).toMatch(/--on-error only applies to --engine llamacpp or vllm/)
    const resumeWithFlags = await bench(['--resume', 'r.json', '--concurrency', '1'])
    expect(resumeWithFlags.exitCode).toBe(3)
    expect(flat(resumeWithFlags.stderr)).toMatch(/--resume repeats the recorded command, so it takes no other flags \(got --concurrency\)/)
    const resumeMissing = await bench(['--resume', '/nonexistent/r.json'])
    expect(resumeMissing.exitCode).toBe(4)
    expect(flat(resumeMissing.stderr)).toMatch(/--resume \/nonexistent\/r\.json does not exist/)
  })
})

describe('bench --resume planning', () => {
  const failedLevel = (concurrency: number) => ({...sampleLevel(concurrency), status: 'failed' as const})

  it('reads back the words quoteArgv writes, quotes included', () => {
    const argv = ['capplan', 'bench', '--dataset', "it's here.jsonl", '--slo', 'ttft=2s,tpot=50ms', '--', '--mlock']
    expect(shellWords(quoteArgv(redactArgv(argv)))).toEqual(argv)
    expect(shellWords("a 'b c' d'e'f")).toEqual(['a', 'b c', 'def'])
  })

  it('repeats the command for the planned levels that are not complete, beside the file, keeping the complete ones', () => {
    const file = sampleResult({
      capplan: {version: '0.1.0', command: 'capplan bench --engine llamacpp --quant int4,int8 --concurrency 1,2,4 --requests 3 --results-dir out --json -- --mlock'},
      levels: [sampleLevel(1), failedLevel(2)],
      status: 'partial',
    })
    const plan = resumePlan(file, '/runs/a.json')
    // 1 complete -> kept; 2 failed and 4 never ran -> measured again.
    expect(plan.kept.map((level) => level.load.value)).toEqual([1])
    expect(plan.rerun).toEqual([2, 4])
    expect(plan.argv).toEqual(['--engine', 'llamacpp', '--requests', '3', '--model', 'qwen2.5-0.5b', '--quant', 'int4', '--concurrency', '2,4', '--results-dir', '/runs', '--', '--mlock'])
  })

  it('uses the default levels 1,2,4 when the command named none, and --rate lists for open-loop runs', () => {
    const interrupted = sampleResult({capplan: {version: '0.1.0', command: 'capplan bench'}, levels: [sampleLevel(1)], status: 'interrupted'})
    expect(resumePlan(interrupted, 'r.json').rerun).toEqual([2, 4])
    const rates = sampleResult({
      capplan: {version: '0.1.0', command: 'capplan bench --rate=0.5,1'},
      levels: [{...sampleLevel(1), load: {kind: 'rate', value: 0.5}}],
      status: 'running',
    })
    const plan = resumePlan(rates, 'r.json')
    expect(plan.rerun).toEqual([1])
    expect(plan.argv).toContain('--rate')
    expect(plan.argv[plan.argv.indexOf('--rate') + 1]).toBe('1')
  })

  it('refuses a complete run, a sweep, and a command whose secret was redacted', () => {
    const refused = (file: ReturnType<typeof sampleResult>) => {
      try {
        resumePlan(file, 'r.json')
      } catch (error) {
        expect((error as CapplanError).kind).toBe('INVALID_INPUT')
        return (error as CapplanError).message
      }
      throw new Error('expected a refusal')
    }
    expect(refused(sampleResult({levels: [sampleLevel(1)], status: 'complete'}))).toMatch(/nothing to resume/)
    expect(refused(sampleResult({capplan: {version: '0.1.0', command: 'capplan bench --sweep'}, levels: [], status: 'partial'}))).toMatch(/a --sweep picks its levels/)
    expect(refused(sampleResult({capplan: {version: '0.1.0', command: 'capplan bench --api-key ***'}, levels: [], status: 'partial'}))).toMatch(/held a secret/)
    expect(
      refused(sampleResult({capplan: {version: '0.1.0', command: 'capplan bench --concurrency 1'}, levels: [sampleLevel(1), failedLevel(2)], status: 'partial'})),
    ).toMatch(/every planned level is complete/)
  })
})
