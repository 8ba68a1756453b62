import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {capplanInProcess} from '../helpers/cli.js'

/**
 * `capplan profiles ...` as a user runs it: `node bin/run.js` in a subprocess against dist/ (built by
 * `npm test`), asserting exit codes and JSON, which must agree under --json.
 */
const root = path.resolve(import.meta.dirname, '../..')

async function capplan(args: string[], env: Record<string, string> = {}) {
  const result = await capplanInProcess(args, {cwd: root, env: {CAPPLAN_PROFILES: undefined, ...env}, stripFinalNewline: false})
  return {code: result.exitCode, stdout: result.stdout, stderr: result.stderr}
}

async function json(args: string[], env: Record<string, string> = {}) {
  const result = await capplan([...args, '--json'], env)
  return {...result, body: JSON.parse(result.stdout) as Record<string, any>}
}

const builtinFile = (kind: string, id: string) => readFileSync(path.join(root, 'profiles', kind, `${id}.yaml`), 'utf8')

let overrideDir: string
let brokenDir: string
beforeAll(() => {
  if (!existsSync(path.join(root, 'dist', 'commands', 'profiles', 'list.js'))) {
    throw new Error('dist/ is not built: run `npm run build` (npm test does it) before these tests')
  }
  overrideDir = mkdtempSync(path.join(tmpdir(), 'capplan-override-'))
  mkdirSync(path.join(overrideDir, 'gpus'))
  writeFileSync(path.join(overrideDir, 'gpus', 'h100-sxm.yaml'), builtinFile('gpus', 'h100-sxm').replace('usdPerHour: 3.99', 'usdPerHour: 1.23'))
  brokenDir = mkdtempSync(path.join(tmpdir(), 'capplan-broken-'))
  mkdirSync(path.join(brokenDir, 'gpus'))
  mkdirSync(path.join(brokenDir, 'workloads'))
  writeFileSync(path.join(brokenDir, 'workloads', 'broken.yaml'), 'kind: workload\nid: broken\nname: [unclosed\n')
  writeFileSync(path.join(brokenDir, 'gpus', 'h100-sxm.yaml'), builtinFile('gpus', 'h100-sxm').replace('usdPerHour: 2.46', 'usdPerHour: 0'))
  writeFileSync(path.join(brokenDir, 'gpus', 'l4.yaml'), builtinFile('gpus', 'l4'))
})
afterAll(() => {
  for (const dir of [overrideDir, brokenDir]) if (dir) rmSync(dir, {recursive: true, force: true})
})

describe('capplan profiles list', () => {
  it('--json: every built-in profile with kind, id and source', async () => {
    const {code, body} = await json(['profiles', 'list'])
    expect(code).toBe(0)
    const listing = body as unknown as {kind: string; id: string; source: {origin: string; file: string}; profile: {id: string}}[]
    // 15 gpus + 10 models + 39 apis + 7 workloads + 8 quant-loss tables + 12 calibration sets
    expect(listing).toHaveLength(91)
    const h100 = listing.find((p) => p.kind === 'gpu' && p.id === 'h100-sxm')!
    expect(h100.source).toEqual({origin: 'builtin', file: path.join(root, 'profiles', 'gpus', 'h100-sxm.yaml')})
    expect(h100.profile.id).toBe('h100-sxm')
    expect(listing.filter((p) => p.id === 'deepseek-v3').map((p) => p.kind)).toEqual(['model', 'api'])
  })

  it('--kind api: a table with input/output $/1M and the variants', async () => {
    const {code, stdout} = await capplan(['profiles', 'list', '--kind', 'api'])
    expect(code).toBe(0)
    const gpt4o = stdout.split('\n').find((line) => line.includes(' gpt-4o '))!
    expect(gpt4o.split('│').map((cell) => cell.trim())).toEqual(['', 'gpt-4o', 'OpenAI', '2.50', '1.25', '10.00', '2026-11', '@seed-000 7.5/7.5', ''])
    expect(stdout).not.toContain('h100-sxm')
  })

  it("CAPPLAN_PROFILES overrides a built-in by id and marks it as the user's", async () => {
    const {code, body} = await json(['profiles', 'list', '--kind', 'gpu'], {CAPPLAN_PROFILES: overrideDir})
    expect(code).toBe(0)
    const h100 = (body as unknown as any[]).find((p) => p.id === 'h100-sxm')
    expect(h100.source.origin).toBe('user')
    expect(h100.profile.prices['on-demand'].usdPerHour).toBe(1.23)
    const {stdout} = await capplan(['profiles', 'list', '--kind', 'gpu'], {CAPPLAN_PROFILES: overrideDir})
    expect(stdout).toMatch(/h100-sxm \(user\)\s+│[^\n]*│ 1\.23 /)
  })

  it('--profiles DIR does the same as the environment variable', async () => {
    const {body} = await json(['profiles', 'show', 'h100-sxm', '--profiles', overrideDir])
    expect(body.source.origin).toBe('user')
    expect(body.profile.prices['on-demand'].usdPerHour).toBe(1.23)
  })

  it('an invalid user profile stops every command with exit 5, also under --json', async () => {
    const {code, body} = await json(['profiles', 'list'], {CAPPLAN_PROFILES: brokenDir})
    expect(code).toBe(5)
    expect(body.error.kind).toBe('INVALID_PROFILE')
  })
})

describe('capplan profiles show', () => {
  it('prints the full profile as YAML under a header naming its file', async () => {
    const {code, stdout} = await capplan(['profiles', 'show', 'qwen2.5-0.5b'])
    expect(code).toBe(0)
    expect(stdout.split('\n')[0]).toBe(`# model qwen2.5-0.5b (builtin: ${path.join(root, 'profiles', 'models', 'qwen2.5-0.5b.yaml')})`)
    expect(stdout).toContain('\nhiddenSize: 896\n')
    expect(stdout).toContain('\ntiedEmbeddings: true\n')
  })

  it('unknown id -> exit 4 with the closest ids, also under --json', async () => {
    const {code, body} = await json(['profiles', 'show', 'h100-sx'])
    expect(code).toBe(4)
    expect(body.error).toMatchObject({kind: 'NOT_FOUND', exitCode: 4, message: 'Unknown profile "h100-sx". Closest: h100-sxm (gpu), h100-nvl (gpu), h100-pcie (gpu).'})
    const human = await capplan(['profiles', 'show', 'h100-sx'])
    expect(human.code).toBe(4)
    expect(human.stderr).toContain('h100-sxm (gpu)')
  })

  it('an id of two kinds asks for --kind (exit 3); with --kind it shows that one', async () => {
    const {code, body} = await json(['profiles', 'show', 'deepseek-v3'])
    expect(code).toBe(3)
    expect(body.error.kind).toBe('INVALID_INPUT')
    expect(body.error.suggestion).toContain('--kind')
    const api = await json(['profiles', 'show', 'deepseek-v3', '--kind', 'api'])
    expect([api.code, api.body.kind, api.body.profile.price.outputPerMTok]).toEqual([0, 'api', 0.28])
  })

  it("a bad --kind value is oclif's usage error (exit 2)", async () => {
    expect((await capplan(['profiles', 'show', 'h100-sxm', '--kind', 'tpu'])).code).toBe(2)
  })
})

describe('capplan profiles validate', () => {
  it('built-ins: every file OK, exit 0', async () => {
    const {code, body} = await json(['profiles', 'validate'])
    expect(code).toBe(0)
    expect(body.valid).toBe(true)
    expect(body.files).toHaveLength(91)
    expect(body.files.every((f: {ok: boolean}) => f.ok)).toBe(true)
  })

  it('a directory with bad files: exit 5 listing ALL problems (YAML line, field path), also under --json', async () => {
    const {code, body} = await json(['profiles', 'validate', brokenDir])
    expect(code).toBe(5)
    expect(body.error.kind).toBe('INVALID_PROFILE')
    const problems = body.error.problems as {file: string; line?: number; field?: string; message: string}[]
    const broken = path.join(brokenDir, 'workloads', 'broken.yaml')
    const h100 = path.join(brokenDir, 'gpus', 'h100-sxm.yaml')
    expect(problems.some((p) => p.file === broken && p.line === 4 && p.message.startsWith('malformed YAML'))).toBe(true)
    const spotLine =
      builtinFile('gpus', 'h100-sxm')
        .split('\n')
        .findIndex((line) => line.includes('usdPerHour: 2.46')) + 1
    expect(problems.filter((p) => p.file === h100)).toEqual([
      {file: h100, field: 'prices.spot.usdPerHour', message: 'Too small: expected number to be >0', line: spotLine, column: 17},
    ])
    expect(body.error.message).toContain(`${h100}:${spotLine}:17: prices.spot.usdPerHour: Too small`)
    expect(body.error.message).toContain(`${broken}:4:`)
  })

  it('human output: each file OK or FAIL, then the problems; exit 5', async () => {
    const {code, stdout, stderr} = await capplan(['profiles', 'validate', brokenDir])
    expect(code).toBe(5)
    expect(stdout.trim().split('\n')).toEqual([
      `FAIL  ${path.join(brokenDir, 'gpus', 'h100-sxm.yaml')} (1 problem)`,
      `OK    ${path.join(brokenDir, 'gpus', 'l4.yaml')}`,
      expect.stringMatching(new RegExp(`^FAIL  ${path.join(brokenDir, 'workloads', 'broken.yaml')} \\(\\d+ problems?\\)$`)),
    ])
    expect(stderr).toContain('prices.spot.usdPerHour')
  })

  it('a directory that does not exist -> exit 4; an empty one -> exit 4', async () => {
    const missing = await json(['profiles', 'validate', path.join(brokenDir, 'nope')])
    expect([missing.code, missing.body.error.kind]).toEqual([4, 'NOT_FOUND'])
    const emptyDir = mkdtempSync(path.join(tmpdir(), 'capplan-empty-'))
    try {
      const empty = await json(['profiles', 'validate', emptyDir])
      expect([empty.code, empty.body.error.kind]).toEqual([4, 'NOT_FOUND'])
    } finally {
      rmSync(emptyDir, {recursive: true, force: true})
    }
  })
})
