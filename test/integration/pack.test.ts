import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {PackPayload} from '../../src/commands/pack.js'
import {findLlamaCppTool} from '../../src/engines/llamacpp/build.js'
import {readResultFile} from '../../src/results/read.js'
import {writeTinyProfile} from '../helpers/tiny-models.js'

/**
 * `capplan pack` and the kit's run.sh end to end on the CPU: the kit is packed with the llama-server capplan
 * already built (`capplan engine build`, the "binary that came along"), unpacked from its .tar.xz into a
 * fresh folder, and run with a bare environment (PATH=/usr/bin:/bin, no node_modules anywhere near), so the
 * bundled capplan, the profiles and the plan are all it has. The source path is checked up to cmake's
 * configure (a full llama.cpp build takes ~15 minutes here).
 */
const repo = path.resolve(import.meta.dirname, '..', '..')
const bin = path.join(repo, 'bin', 'run.js')
const server = await findLlamaCppTool('llama-server')
/** oclif wraps an error at the terminal width (continued lines start with "›"): compare without whitespace. */
const squash = (text: string) => text.replace(/[\s›]+/g, '')

describe.skipIf(server === null)('capplan pack + run.sh on the CPU', () => {
  let work: string
  const bare = (extra: Record<string, string> = {}) => ({PATH: '/usr/bin:/bin', HOME: path.join(work, 'home'), ...extra})
  const pack = (args: string[], env: Record<string, string> = {}) =>
    execa('node', [bin, 'pack', '--profiles', path.join(work, 'profiles'), '--server-bin', server!, ...args], {
      cwd: work,
      reject: false,
      env: {...process.env, ...env},
      extendEnv: false,
    })
  const writePlan = (name: string, plan: object) => {
    writeFileSync(path.join(work, name), JSON.stringify(plan))
    return path.join(work, name)
  }
  const tsv = (file: string) =>
    readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((line) => line.split('\t'))

  beforeAll(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'capplan-pack-'))
    writeTinyProfile(path.join(work, 'profiles'))
    mkdirSync(path.join(work, 'home'))
  })
  afterAll(() => rmSync(work, {recursive: true, force: true}))

  let kit: string
  let payload: PackPayload

  it('packs a kit and its .tar.xz, with what each part weighs', async () => {
    const plan = writePlan('plan.json', {
      model: 'tiny-qwen2',
      quants: ['int4', 'fp16'],
      concurrency: [1, 2, 4],
      inputTokens: 32,
      outputTokens: 16,
      levelSeconds: 3,
      setupSeconds: 10,
      budgetSeconds: 240,
    })
    const run = await pack(['--plan', plan, '-o', 'kit', '--llama', 'binary', '--json'])
    expect(run.exitCode, run.stderr).toBe(0)
    payload = JSON.parse(run.stdout) as PackPayload
    expect(payload.llama).toEqual({binary: server, backend: 'cpu', source: false, cudaArch: 90})
    expect(payload.parts.map((p) => p.part)).toEqual(['capplan (bundled JS)', 'profiles', 'extra profiles', 'llama-server binary', 'run.sh, plan, schedule, kit.env'])
    for (const part of payload.parts) expect(part.bytes).toBeGreaterThan(0)
    expect(payload.totalBytes).toBe(payload.parts.reduce((sum, p) => sum + p.bytes, 0))
    expect(payload.archive).toBe(path.join(work, 'kit.tar.xz'))
    expect(payload.archiveBytes).toBeGreaterThan(0)
    expect(payload.archiveBytes!).toBeLessThan(payload.totalBytes)
    // 2 quants x [1, 4] then the middle level 2: 10 + 2 x 3 = 16 s, 10 + 3 = 13 s.
    expect(readFileSync(path.join(work, 'kit', 'schedule.tsv'), 'utf8')).toBe('1\tint4\t1,4\t16\n2\tfp16\t1,4\t16\n3\tint4\t2\t13\n4\tfp16\t2\t13\n')
    expect(existsSync(path.join(work, 'kit', 'node'))).toBe(false)
    // Unpack it where nothing of capplan's checkout is.
    mkdirSync(path.join(work, 'target'))
    expect((await execa('tar', ['-xJf', payload.archive!, '-C', path.join(work, 'target')])).exitCode).toBe(0)
    kit = path.join(work, 'target', 'kit')
    expect(readdirSync(kit).sort()).toEqual(['KIT.json', 'capplan', 'capplan.sh', 'kit.env', 'llama.cpp', 'plan.json', 'profiles', 'profiles-extra', 'run.sh', 'schedule.tsv'])
  })

  it('run.sh measures the whole plan: results, estimates, logs, telemetry recorded as absent, summary', async () => {
    const out = path.join(work, 'out-full')
    const run = await execa(path.join(kit, 'run.sh'), ['--out', out], {reject: false, env: bare(), extendEnv: false})
    expect(run.exitCode, run.stderr).toBe(0)
    const steps = tsv(path.join(out, 'steps.tsv'))
    expect(steps.map((s) => [s[0], s[1], s[2], s[3], s[4]])).toEqual([
      ['1', 'int4', '1,4', 'complete', '0'],
      ['2', 'fp16', '1,4', 'complete', '0'],
      ['3', 'int4', '2', 'complete', '0'],
      ['4', 'fp16', '2', 'complete', '0'],
    ])
    for (const [, quant, levels, , , , name] of steps) {
      const file = await readResultFile(path.join(out, 'results', name!))
      expect(file.status).toBe('complete')
      expect(file.engine.kind).toBe('llamacpp')
      expect(file.model).toMatchObject({profile: 'tiny-qwen2', quant, synthetic: true})
      expect(file.workload).toMatchObject({inputTokens: 32, outputTokens: 16})
      expect(file.levels.map((l) => l.load.value)).toEqual(levels!.split(',').map(Number))
      for (const level of file.levels) expect(level.requests.filter((r) => r.error === null).length).toBeGreaterThan(0)
      expect(existsSync(path.join(out, 'results', name!.replace(/\.json$/, '.server.log')))).toBe(true)
      // capplan estimate --from on each result: the plan names no GPU, so h100-sxm.
      const estimate = readFileSync(path.join(out, 'estimates', name!.replace(/\.json$/, '.txt')), 'utf8')
      expect(estimate).toContain('on 1 x NVIDIA H100')
      expect(estimate).toContain('ESTIMATE')
    }
    expect(readFileSync(path.join(out, 'host.txt'), 'utf8')).toContain('nvidia-smi: absent')
    expect(readFileSync(path.join(out, 'telemetry.txt'), 'utf8')).toBe('nvidia-smi absent: no GPU telemetry recorded\n')
    const summary = readFileSync(path.join(out, 'summary.md'), 'utf8')
    expect(summary).toContain('GPU telemetry: absent (no nvidia-smi on this host)')
    expect(summary.split('\n').filter((line) => / \| complete \| 0 \| /.test(line))).toHaveLength(4)
    expect(readFileSync(path.join(out, 'report.md'), 'utf8')).toContain('tiny-qwen2')
    expect(readFileSync(path.join(out, 'logs', 'run.log'), 'utf8')).toContain('llama-server: the one that came along (cpu build)')
  })

  it('a budget too small for the plan measures the most valuable step and records the rest as skipped', async () => {
    const out = path.join(work, 'out-short')
    // 18 s: step 1 (16 s estimated) starts; after it (2 levels of 3 s: at least 6 s, however fast the machine)
    // at most 12 s are left, so no 16 or 13 s step fits. (With 20 s, a quiet machine finished step 1 in under
    // 7 s and the 13 s step 3 fitted.)
    const run = await execa(path.join(kit, 'run.sh'), ['--out', out, '--budget', '18'], {reject: false, env: bare(), extendEnv: false})
    expect(run.exitCode, run.stderr).toBe(0)
    expect(tsv(path.join(out, 'steps.tsv')).map((s) => s.slice(0, 4))).toEqual([
      ['1', 'int4', '1,4', 'complete'],
      ['2', 'fp16', '1,4', 'skipped (budget)'],
      ['3', 'int4', '2', 'skipped (budget)'],
      ['4', 'fp16', '2', 'skipped (budget)'],
    ])
    expect(readdirSync(path.join(out, 'results')).filter((f) => f.endsWith('.json'))).toHaveLength(1)
  })

  it('the deadline interrupts a step that runs long, and the levels it finished stay in its result file', async () => {
    // Estimated 1 + 2 x 10 = 21 s = the budget, so it starts. Really it takes start-up + 2 x 10 s + the time
    // each level's requests in flight need to finish after its 10 s (long outputs: about a second or more at
    // c=4), so level 1 ends near 12 s and the deadline cuts level 2 even on a quiet machine.
    const plan = writePlan('plan-cut.json', {
      model: 'tiny-qwen2',
      quants: ['int4'],
      concurrency: [1, 4],
      inputTokens: 32,
      outputTokens: 1536,
      levelSeconds: 10,
      setupSeconds: 1,
      budgetSeconds: 21,
    })
    const packed = await pack(['--plan', plan, '-o', 'kit-cut', '--llama', 'binary', '--no-archive'])
    expect(packed.exitCode, packed.stderr).toBe(0)
    const out = path.join(work, 'out-cut')
    const run = await execa(path.join(work, 'kit-cut', 'run.sh'), ['--out', out], {reject: false, env: bare(), extendEnv: false})
    expect(run.exitCode, run.stderr).toBe(0)
    const [step] = tsv(path.join(out, 'steps.tsv'))
    expect(step!.slice(0, 5)).toEqual(['1', 'int4', '1,4', 'interrupted (deadline)', '124'])
    const file = await readResultFile(path.join(out, 'results', step![6]!))
    expect(file.status).toBe('interrupted')
    expect(file.levels[0]).toMatchObject({load: {kind: 'concurrency', value: 1}, status: 'complete'})
    expect(file.levels[0]!.requests.filter((r) => r.error === null).length).toBeGreaterThan(0)
  })

  it('the embedded engine is not in the kit, and says so; start-up never loads node-llama-cpp', async () => {
    const run = await execa(
      path.join(kit, 'capplan.sh'),
      ['bench', '--engine', 'embedded', '--model', 'tiny-qwen2', '--profiles', path.join(kit, 'profiles-extra'), '--requests', '1', '--concurrency', '1'],
      {
        reject: false,
        env: bare({CAPPLAN_CACHE_DIR: path.join(work, 'cache-embedded')}),
        extendEnv: false,
      },
    )
    expect(run.exitCode).toBe(4)
    expect(squash(run.stderr)).toContain(squash('The embedded engine needs node-llama-cpp'))
    expect(squash(run.stderr)).toContain(squash('Use --engine llamacpp'))
    const version = await execa(path.join(kit, 'capplan.sh'), ['--version'], {reject: false, env: bare(), extendEnv: false})
    expect(version.stdout).toMatch(/^capplan\/\d+\.\d+\.\d+ linux-x64 node-v/)
  })

  it('a source kit: run.sh configures llama.cpp for the CPU; --cuda on without nvcc and pack --cuda on without nvcc say what is missing', async () => {
    const plan = path.join(work, 'plan.json')
    const packed = await pack(['--plan', plan, '-o', 'kit-src', '--llama', 'source', '--no-archive', '--json'])
    expect(packed.exitCode, packed.stderr).toBe(0)
    const source = (JSON.parse(packed.stdout) as PackPayload).parts.find((p) => p.part === 'llama.cpp source')!
    expect(source.bytes).toBeGreaterThan(10 * 2 ** 20)
    const srcKit = path.join(work, 'kit-src')
    expect(existsSync(path.join(srcKit, 'llama.cpp', 'src', 'models'))).toBe(false)
    expect(existsSync(path.join(srcKit, 'llama.cpp', 'src', 'ggml', 'src', 'ggml-vulkan'))).toBe(false)
    expect(existsSync(path.join(srcKit, 'llama.cpp', 'src', 'ggml', 'src', 'ggml-cuda'))).toBe(true)

    const out = path.join(work, 'out-src')
    const configure = await execa(path.join(srcKit, 'run.sh'), ['--out', out, '--build-only', '--cuda', 'off'], {
      reject: false,
      env: bare({KIT_BUILD_STOP_AFTER: 'configure'}),
      extendEnv: false,
    })
    expect(configure.exitCode, configure.stderr).toBe(0)
    expect(configure.stderr).toContain('configured llama.cpp (cpu)')
    const cache = readFileSync(path.join(out, 'llama.cpp-build', 'CMakeCache.txt'), 'utf8')
    expect(cache).toMatch(/^GGML_CUDA:BOOL=OFF$/m)
    expect(cache).toMatch(/^LLAMA_BUILD_SERVER:BOOL=ON$/m)

    const cuda = await execa(path.join(srcKit, 'run.sh'), ['--out', path.join(work, 'out-cuda'), '--build-only', '--cuda', 'on'], {
      reject: false,
      env: bare(),
      extendEnv: false,
    })
    expect(cuda.exitCode).toBe(4)
    expect(cuda.stderr).toContain('--cuda on: nvcc (the CUDA compiler) is not on PATH')

    const packCuda = await pack(['--plan', plan, '-o', 'kit-cuda', '--cuda', 'on', '--cuda-arch', '90'], {PATH: '/usr/bin:/bin'})
    expect(packCuda.exitCode).toBe(4)
    expect(squash(packCuda.stderr)).toContain(squash('--cuda on: nvcc (the CUDA compiler) is not on PATH here, so no llama-server can be built with CUDA for sm_90'))
    expect(existsSync(path.join(work, 'kit-cuda'))).toBe(false)
  })

  it('a bad plan is exit 3 naming the field, and nothing is written', async () => {
    const plan = writePlan('bad.json', {model: 'tiny-qwen2', quants: ['int4'], concurrency: [1, -2], inputTokens: 32, outputTokens: 16, budgetSeconds: 60})
    const run = await pack(['--plan', plan, '-o', 'kit-bad'])
    expect(run.exitCode).toBe(3)
    expect(squash(run.stderr)).toContain(squash('bad.json: concurrency.1: a concurrency must be above 0.'))
    expect(existsSync(path.join(work, 'kit-bad'))).toBe(false)
  })
})
