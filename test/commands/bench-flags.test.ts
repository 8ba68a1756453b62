import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {capplanInProcess} from '../helpers/cli.js'
import {sampleLevel, sampleResult} from '../unit/results/sample-result.js'

describe('capplan bench engine flag refusals (exit 3, before any engine starts)', () => {
  const flat = (text: string) => text.replace(/\s*\n\s*›?\s*/g, ' ')
  const bench = (args: string[]) => capplanInProcess(['bench', ...args], {env: {CAPPLAN_CACHE_DIR: '/nonexistent/capplan-cache'}})

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

describe('capplan bench value flags (parsed by oclif, before any engine starts)', () => {
  const dirs: string[] = []
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, {recursive: true, force: true})
  })
  const flat = (text: string) => text.replace(/\s*\n\s*›?\s*/g, ' ')
  const bench = (args: string[]) => capplanInProcess(['bench', ...args], {env: {CAPPLAN_CACHE_DIR: '/nonexistent/capplan-cache'}})

  it('a bad value is exit 3 INVALID_INPUT naming the flag, also under --json', async () => {
    const json = await bench(['--concurrency', '0,x', '--json'])
    expect(json.exitCode).toBe(3)
    expect(JSON.parse(json.stdout)).toEqual({
      error: {
        kind: 'INVALID_INPUT',
        exitCode: 3,
        message: '--concurrency "0" is not a whole number from 1 to 256.',
        suggestion: 'Give e.g. --concurrency 1,2,4,8.',
      },
    })
    const slo = await bench(['--slo', 'ttft=banana'])
    expect(slo.exitCode).toBe(3)
    expect(flat(slo.stderr)).toContain('Error: --slo: cannot read "ttft=banana".')
    expect(slo.stderr).not.toMatch(/Parsing --slo/)
  })

  it('--resume reads the recorded levels with these flags, and its errors stay --json', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'capplan-resume-'))
    dirs.push(dir)
    const recorded = (name: string, command: string[]) => {
      const file = path.join(dir, `${name}.json`)
      writeFileSync(file, JSON.stringify(sampleResult({capplan: {version: '0.1.0', command: ['capplan', 'bench', ...command]}, levels: [sampleLevel(1)], status: 'partial'})))
      return file
    }
    const done = await bench(['--resume', recorded('done', ['--concurrency=1']), '--json'])
    expect(done.exitCode).toBe(3)
    expect(JSON.parse(done.stdout).error.message).toMatch(/every planned level is complete in the file\.$/)
    const bad = await bench(['--resume', recorded('bad', ['--rate', '0,1']), '--json'])
    expect(bad.exitCode).toBe(3)
    expect(JSON.parse(bad.stdout).error).toMatchObject({kind: 'INVALID_INPUT', message: '--rate: "0" is not a positive number of requests per second.'})
    // A real rerun: the levels the file lacks, on the recorded engine (nothing listens at port 1).
    const rerun = await bench(['--resume', recorded('rerun', ['--engine', 'openai', '--endpoint', 'http://127.0.0.1:1', '--concurrency', '2,1', '--request-timeout', '5s'])])
    expect(rerun.exitCode).toBe(8)
    expect(rerun.stderr).toMatch(/^Resuming .*rerun\.json: keeping 1 complete level\(s\), measuring 2 again\./)
  })

  it('--help shows the defaults as text', async () => {
    const help = flat((await bench(['--help'])).stdout)
    expect(help).toContain('[default: int4] Quantization(s)')
    expect(help).toContain('[default: 10m] Give up waiting for a spawned server')
    expect(help).toContain('comma-separated [default: 1,2,4]')
  })
})

describe('capplan bench --api / --host / --on-error refusals (exit 3, before any engine starts)', () => {
  const flat = (text: string) => text.replace(/\s*\n\s*›?\s*/g, ' ')
  const bench = (args: string[]) => capplanInProcess(['bench', ...args], {env: {CAPPLAN_CACHE_DIR: '/nonexistent/capplan-cache'}})

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
