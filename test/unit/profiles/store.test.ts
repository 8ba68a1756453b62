import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterEach, beforeAll, describe, expect, it} from 'vitest'

import {CapplanError} from '../../../src/lib/errors.js'
import {builtinProfilesDir, formatProblem, MAX_PROFILE_FILE_BYTES, type ProfileValidationError, scanProfileDir} from '../../../src/profiles/files.js'
import {closestIds} from '../../../src/profiles/closest.js'
import {detectGpuProfile, resolveProfileKind, type ProfileStore} from '../../../src/profiles/store.js'
import {loadProfiles} from '../../../src/profiles/load.js'
import {gpuHourlyPrice, resolveApiPrice} from '../../../src/cost/pricing.js'

const builtinFile = (kind: string, id: string) => readFileSync(path.join(builtinProfilesDir(), kind, `${id}.yaml`), 'utf8')

const tempDirs: string[] = []
function tempProfileDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'capplan-profiles-'))
  tempDirs.push(dir)
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), {recursive: true})
    writeFileSync(path.join(dir, name), text)
  }
  return dir
}
afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, {recursive: true, force: true})
})

/** Run fn, expect a CapplanError, return it. */
async function caught(fn: () => unknown): Promise<CapplanError> {
  try {
    await fn()
  } catch (error) {
    expect(error).toBeInstanceOf(CapplanError)
    return error as CapplanError
  }
  throw new Error('expected a CapplanError, nothing was thrown')
}

let builtins: ProfileStore
beforeAll(async () => {
  builtins = await loadProfiles()
})

describe('builtinProfilesDir', () => {
  it('is <package root>/profiles', () => {
    expect(builtinProfilesDir()).toBe(path.resolve(import.meta.dirname, '../../../profiles'))
  })
})

describe('user overrides', () => {
  it('a user h100-sxm replaces the built-in one by id; other profiles stay built-in', async () => {
    const dir = tempProfileDir({'gpus/h100-sxm.yaml': builtinFile('gpus', 'h100-sxm').replace('usdPerHour: 3.99', 'usdPerHour: 1.23')})
    const store = await loadProfiles({userDir: dir})
    expect(gpuHourlyPrice(store.get('gpu', 'h100-sxm'), 'on-demand').usdPerHour).toBe(1.23)
    expect(store.originOf('gpu', 'h100-sxm')).toBe('user')
    expect(store.sourceOf('gpu', 'h100-sxm')).toBe(path.join(dir, 'gpus', 'h100-sxm.yaml'))
    expect(store.originOf('gpu', 'h200')).toBe('builtin')
    expect(store.list('gpu')).toHaveLength(builtins.list('gpu').length)
  })

  it('a new id is added; top-level files and singular folder names are read by their kind', async () => {
    const myGpu = builtinFile('gpus', 'l4').replace('id: l4', 'id: my-l4')
    const myApi = builtinFile('apis', 'o3').replace('id: o3', 'id: my-o3')
    const dir = tempProfileDir({'my-l4.yaml': myGpu, 'api/my-o3.yml': myApi, 'README.md': '# not a profile'})
    const store = await loadProfiles({userDir: dir})
    expect(store.get('gpu', 'my-l4').memoryGB).toBe(24)
    expect(store.get('api', 'my-o3').price.inputPerMTok).toBe(2)
    expect(store.list('gpu')).toHaveLength(builtins.list('gpu').length + 1)
  })

  it('a user dir that does not exist is NOT_FOUND (exit 4)', async () => {
    const error = await caught(() => loadProfiles({userDir: '/nonexistent/capplan-profiles'}))
    expect([error.kind, error.exitCode]).toEqual(['NOT_FOUND', 4])
    expect(error.message).toContain('/nonexistent/capplan-profiles')
  })
})

describe('errors name the file and the place', () => {
  it('malformed YAML -> INVALID_PROFILE with file:line:column', async () => {
    // `id` repeated on line 4: yaml refuses duplicate keys and points at the second one
    const dir = tempProfileDir({'gpus/broken.yaml': 'kind: gpu\nid: x\nname: a\nid: y\n'})
    const error = await caught(() => loadProfiles({userDir: dir}))
    expect([error.kind, error.exitCode]).toEqual(['INVALID_PROFILE', 5])
    const file = path.join(dir, 'gpus', 'broken.yaml')
    expect((error as ProfileValidationError).problems).toEqual([{file, line: 4, column: 1, message: 'malformed YAML: Map keys must be unique'}])
    expect(error.message).toBe(`1 problem in 1 profile file:\n  ${file}:4:1: malformed YAML: Map keys must be unique`)
  })

  it('malformed YAML: every parse error of the file is reported with its line', () => {
    // "name" indented under the scalar "x" on line 2, and a flow sequence never closed (error at end of file, line 4)
    const dir = tempProfileDir({'gpus/broken.yaml': 'kind: gpu\nid: x\n  name: [unclosed\n'})
    const lines = scanProfileDir(dir, 'user').problems.map((p) => p.line)
    expect(lines).toEqual([2, 2, 4])
  })

  it('schema violations -> every field path with its line, all in one error', async () => {
    const text = builtinFile('gpus', 'h100-sxm')
      .replace('usdPerHour: 2.46', 'usdPerHour: -1')
      .replace('memoryGB: 80', 'memoryGB: "80"')
      .replace('confidence: high', 'confidense: high')
    const dir = tempProfileDir({'gpus/h100-sxm.yaml': text})
    const error = (await caught(() => loadProfiles({userDir: dir}))) as ProfileValidationError
    expect(error.exitCode).toBe(5)
    const lineOf = (needle: string) => text.split('\n').findIndex((line) => line.includes(needle)) + 1
    const file = path.join(dir, 'gpus', 'h100-sxm.yaml')
    const byField = Object.fromEntries(error.problems.map((p) => [p.field, p]))
    expect(Object.keys(byField).sort()).toEqual(['confidence', 'confidense', 'memoryGB', 'prices.spot.usdPerHour'])
    expect(byField['prices.spot.usdPerHour']).toMatchObject({file, line: lineOf('usdPerHour: -1'), message: 'Too small: expected number to be >0'})
    expect(byField.memoryGB).toMatchObject({file, line: lineOf('memoryGB: "80"')})
    expect(byField.confidense).toMatchObject({file, line: lineOf('confidense: high'), message: 'Unrecognized key: "confidense"'})
    expect(byField.confidence!.message).toBe('required field is missing (Invalid option: expected one of "high"|"low")')
    expect(error.message).toContain(`${file}:${lineOf('usdPerHour: -1')}:17: prices.spot.usdPerHour: Too small`)
    expect(error.message.startsWith('4 problems in 1 profile file:')).toBe(true)
  })

  it('a profile in the wrong folder is INVALID_PROFILE naming both kinds', async () => {
    const dir = tempProfileDir({'gpus/qwen.yaml': builtinFile('models', 'qwen2.5-0.5b')})
    const {problems} = scanProfileDir(dir, 'user')
    expect(problems.map(formatProblem)).toEqual([
      `${path.join(dir, 'gpus', 'qwen.yaml')}:1:7: kind: is "model" but the file is in the gpus/ folder; move it to models/ or fix the kind`,
    ])
  })

  it('a missing or unknown kind at the top level is reported', () => {
    const dir = tempProfileDir({'x.yaml': 'kind: tpu\nid: x\n', 'y.yaml': '- a list\n'})
    expect(scanProfileDir(dir, 'user').problems.map((p) => [path.basename(p.file), p.field, p.message])).toEqual([
      ['x.yaml', 'kind', 'must be one of gpu, model, api, workload, quant-loss, calibration (got "tpu")'],
      ['y.yaml', undefined, 'expected a YAML mapping with kind, id, name, ... (one profile per file)'],
    ])
  })

  it('a duplicate id within one directory names both files', () => {
    const text = builtinFile('workloads', 'chat')
    const dir = tempProfileDir({'workloads/chat.yaml': text, 'workloads/chat-copy.yaml': text})
    const {problems, profiles} = scanProfileDir(dir, 'user')
    expect(profiles).toHaveLength(1)
    expect(problems.map(formatProblem)).toEqual([
      `${path.join(dir, 'workloads', 'chat.yaml')}: id: duplicate workload id "chat": also defined in ${path.join(dir, 'workloads', 'chat-copy.yaml')}`,
    ])
  })

  it('the same id in two kinds is not a duplicate (deepseek-v3 is a model and an API)', () => {
    expect(builtins.has('model', 'deepseek-v3') && builtins.has('api', 'deepseek-v3')).toBe(true)
  })

  it('a file over 1 MiB is refused before it is parsed', () => {
    const dir = tempProfileDir({'workloads/huge.yaml': `kind: workload\n#${'x'.repeat(MAX_PROFILE_FILE_BYTES)}\n`})
    const {problems} = scanProfileDir(dir, 'user')
    expect(problems).toHaveLength(1)
    expect(problems[0]!.message).toBe(`file is ${MAX_PROFILE_FILE_BYTES + 17} bytes; a profile file may be at most 1 MiB`)
  })

  it('one scan reports the problems of every bad file, and keeps the good ones', () => {
    const dir = tempProfileDir({
      'workloads/chat.yaml': builtinFile('workloads', 'chat'),
      'workloads/a.yaml': builtinFile('workloads', 'rag').replace('inputTokens: 2048', 'inputTokens: 0'),
      'workloads/b.yaml': builtinFile('workloads', 'code').replace('outputTokens: 512', 'outputTokens: 1.5'),
    })
    const scan = scanProfileDir(dir, 'user')
    expect(scan.profiles.map((p) => p.id)).toEqual(['chat'])
    expect(scan.problems.map((p) => [path.basename(p.file), p.field])).toEqual([
      ['a.yaml', 'inputTokens'],
      ['b.yaml', 'outputTokens'],
    ])
  })
})

describe('store.get and closest ids', () => {
  it('unknown id -> NOT_FOUND naming the kind and the 3 closest ids', async () => {
    const error = await caught(() => builtins.get('gpu', 'h100'))
    expect([error.kind, error.exitCode]).toEqual(['NOT_FOUND', 4])
    expect(error.message).toBe('Unknown gpu profile "h100". Closest: h100-nvl, h100-pcie, h100-sxm.')
    expect(error.suggestion).toBe('Run `capplan profiles list --kind gpu` to see every gpu id.')
  })

  it('closest ids favour ids that start like the typed text', () => {
    // plain edit distance would rank "l4" (3 edits) above "llama-3.1-8b" (8 edits)
    expect(closestIds('lama', builtins.list('model').map((m) => m.id))).toEqual(['llama-3.1-405b', 'llama-3.1-70b', 'llama-3.1-8b'])
    expect(closestIds('gpt4o', builtins.list('api').map((a) => a.id))[0]).toBe('gpt-4o')
  })

  it('resolveProfileKind: unique id -> its kind; shared id -> asks for --kind; unknown -> closest of all kinds', async () => {
    expect(resolveProfileKind(builtins, 'chat')).toBe('workload')
    expect(resolveProfileKind(builtins, 'deepseek-v3', 'api')).toBe('api')
    const ambiguous = await caught(() => resolveProfileKind(builtins, 'deepseek-v3'))
    expect([ambiguous.kind, ambiguous.message]).toEqual(['INVALID_INPUT', 'Profile id "deepseek-v3" is used by more than one kind: model, api.'])
    const unknown = await caught(() => resolveProfileKind(builtins, 'h100-sx'))
    expect(unknown.message).toBe('Unknown profile "h100-sx". Closest: h100-sxm (gpu), h100-nvl (gpu), h100-pcie (gpu).')
  })
})

describe('resolveApiPrice', () => {
  it('plain id -> the current price with its source and date', () => {
    expect(resolveApiPrice(builtins, 'deepseek-v3')).toEqual({
      id: 'deepseek-v3',
      name: 'DeepSeek API deepseek-chat (served V3 until 2025-08)',
      variant: null,
      inputPerMTok: 0.14,
      outputPerMTok: 0.28,
      source: 'DeepSeek API pricing for deepseek-chat (capplan reference prices-2026.md)',
      date: '2026-04',
      note: expect.stringMatching(/^unverified: from prices-2026\.md, /),
    })
  })

  it('id@variant keeps the variant\'s cached-input price (deepseek-v3@v3-2025-02: 0.27 / 1.10, hit 0.07)', () => {
    expect(resolveApiPrice(builtins, 'deepseek-v3@v3-2025-02')).toMatchObject({
      variant: 'v3-2025-02',
      inputPerMTok: 0.27,
      outputPerMTok: 1.1,
      cachedInputPerMTok: 0.07,
      date: '2025-02',
    })
    expect(resolveApiPrice(builtins, 'deepseek-v3@seed-000').cachedInputPerMTok).toBeUndefined()
  })

  it('id@variant -> the variant', () => {
    expect(resolveApiPrice(builtins, 'claude-opus-4.6@seed-004')).toMatchObject({
      id: 'claude-opus-4.6',
      variant: 'seed-004',
      inputPerMTok: 15,
      outputPerMTok: 75,
      date: '2026-02',
    })
  })

  it('unknown variant -> NOT_FOUND listing the variants', async () => {
    const error = await caught(() => resolveApiPrice(builtins, 'gpt-4o@seed-004'))
    expect([error.kind, error.message]).toEqual(['NOT_FOUND', 'API "gpt-4o" has no price variant "seed-004". Variants: gpt-4o@seed-000.'])
    const none = await caught(() => resolveApiPrice(builtins, 'kimi-k2.5@x'))
    expect(none.message).toBe('API "kimi-k2.5" has no price variant "x". It has no variants.')
  })

  it('unknown api -> NOT_FOUND with the closest api ids', async () => {
    const error = await caught(() => resolveApiPrice(builtins, 'gpt4o@seed-000'))
    expect(error.message).toMatch(/^Unknown api profile "gpt4o"\. Closest: gpt-4o, /)
  })
})

describe('gpuHourlyPrice', () => {
  it('a tier with no price -> INVALID_INPUT naming the gpu and the tiers it has', async () => {
    const error = await caught(() => gpuHourlyPrice(builtins.get('gpu', 'rtx-4090'), 'spot'))
    expect([error.kind, error.exitCode]).toEqual(['INVALID_INPUT', 3])
    expect(error.message).toBe('GPU profile "rtx-4090" has no spot price. It has: on-demand.')
    const none = await caught(() => gpuHourlyPrice(builtins.get('gpu', 'h100-nvl'), 'on-demand'))
    expect(none.message).toBe('GPU profile "h100-nvl" has no on-demand price. It has no prices at all.')
  })
})

describe('detectGpuProfile', () => {
  it('matches ignoring case and surrounding / repeated spaces; unknown names -> undefined', () => {
    expect(detectGpuProfile(builtins, '  nvidia   h100 80gb hbm3 ')?.id).toBe('h100-sxm')
    expect(detectGpuProfile(builtins, 'NVIDIA GeForce RTX 3090')).toBeUndefined()
    expect(detectGpuProfile(builtins, '')).toBeUndefined()
  })
})

describe('missing fields', () => {
  it('say "required field is missing" with the expected type', () => {
    const dir = tempProfileDir({'workloads/w.yaml': builtinFile('workloads', 'chat').replace(/^name: .*\n/m, '')})
    expect(scanProfileDir(dir, 'user').problems.map((p) => [p.field, p.line, p.message])).toEqual([
      ['name', 1, 'required field is missing (string expected)'],
    ])
  })
})

describe('unreadable entries', () => {
  it('a dangling symlink or a folder named like a profile is a problem, not a crash', async () => {
    const {symlinkSync} = await import('node:fs')
    const dir = tempProfileDir({'gpus/l4.yaml': builtinFile('gpus', 'l4')})
    symlinkSync(path.join(dir, 'missing-target.yaml'), path.join(dir, 'gpus', 'dangling.yaml'))
    mkdirSync(path.join(dir, 'gpus', 'folder.yaml'))
    const scan = scanProfileDir(dir, 'user')
    expect(scan.profiles.map((p) => p.id)).toEqual(['l4'])
    expect(scan.problems.map((p) => [path.basename(p.file), p.message])).toEqual([
      ['dangling.yaml', 'cannot read the file (ENOENT)'],
      ['folder.yaml', 'not a regular file'],
    ])
  })
})
