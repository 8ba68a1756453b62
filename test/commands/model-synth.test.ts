import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'

import {capplanInProcess} from '../helpers/cli.js'
import {tinyLlama, tinyQwen2} from '../helpers/tiny-models.js'

/**
 * `capplan model synth` as a user runs it (node bin/run.js against dist/), with tiny model profiles from a
 * --profiles directory and the cache in a temp dir (CAPPLAN_CACHE_DIR).
 */
const root = path.resolve(import.meta.dirname, '../..')
const work = mkdtempSync(path.join(tmpdir(), 'capplan-synth-cmd-'))
const profilesDir = path.join(work, 'profiles')
const cacheDir = path.join(work, 'cache')

async function capplan(args: string[]) {
  const result = await capplanInProcess(['model', 'synth', '--profiles', profilesDir, ...args], {
    cwd: root,
    env: {CAPPLAN_PROFILES: undefined, CAPPLAN_CACHE_DIR: cacheDir},
    stripFinalNewline: false,
  })
  return {code: result.exitCode, stdout: result.stdout, stderr: result.stderr}
}

const json = async (args: string[]) => {
  const result = await capplan([...args, '--json'])
  return {...result, body: JSON.parse(result.stdout) as Record<string, any>}
}

beforeAll(() => {
  if (!existsSync(path.join(root, 'dist', 'commands', 'model', 'synth.js'))) {
    throw new Error('dist/ is not built: run `npm run build` (npm test does it) before these tests')
  }
  mkdirSync(path.join(profilesDir, 'models'), {recursive: true})
  writeFileSync(path.join(profilesDir, 'models', 'tiny-qwen2.yaml'), stringify(tinyQwen2))
  writeFileSync(path.join(profilesDir, 'models', 'tiny-llama.yaml'), stringify(tinyLlama))
})
afterAll(() => rmSync(work, {recursive: true, force: true}))

describe('capplan model synth', () => {
  it('--json writes into the cache, returns the SynthResult, and reuses the file the second time', async () => {
    const first = await json(['--model', 'tiny-qwen2'])
    expect(first.code).toBe(0)
    expect(first.body).toMatchObject({reused: false, format: 'Q4_0', seed: 42})
    expect(path.dirname(first.body.path)).toBe(path.join(cacheDir, 'models'))
    const bytes = readFileSync(first.body.path)
    expect(first.body.bytes).toBe(bytes.length)
    expect(first.body.sha256).toBe(createHash('sha256').update(bytes).digest('hex'))
    const second = await json(['--model', 'tiny-qwen2'])
    expect(second.body).toEqual({...first.body, reused: true})
  })

  it('writes -o FILE at the requested quant and seed, and prints a summary without --json', async () => {
    const out = path.join(work, 'llama-q8.gguf')
    const result = await capplan(['--model', 'tiny-llama', '--quant', 'int8', '--seed', '7', '-o', out])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`Wrote ${out}`)
    expect(result.stdout).toMatch(/Q8_0, [\d.]+ MiB \(\d+ bytes\), seed 7/)
    expect(result.stderr).toContain('tiny-llama at int8 (Q8_0, seed 7)')
    expect(readFileSync(out).subarray(0, 4).toString('latin1')).toBe('GGUF')
  })

  it('refuses an architecture it cannot synthesize with exit 3, also under --json', async () => {
    const result = await json(['--model', 'deepseek-v3'])
    expect(result.code).toBe(3)
    expect(result.body.error).toMatchObject({
      kind: 'INVALID_INPUT',
      message: 'model profile "deepseek-v3": architecture "deepseek2" cannot be synthesized',
    })
  })

  it('refuses a model too large for this machine with exit 7, naming the size', async () => {
    const result = await json(['--model', 'llama-3.1-405b', '--quant', 'fp16'])
    expect(result.code).toBe(7)
    expect(result.body.error.kind).toBe('INSUFFICIENT_RESOURCES')
    expect(result.body.error.message).toMatch(/^llama-3\.1-405b at fp16 /)
    expect(result.body.error.message).toMatch(/\d+ MiB/)
  })

  it('rejects a negative seed as INVALID_INPUT (exit 3, the rule for every count flag)', async () => {
    expect((await capplan(['--model', 'tiny-qwen2', '--seed', '-1'])).code).toBe(3)
  })
})
