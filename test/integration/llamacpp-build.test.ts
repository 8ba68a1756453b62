import {chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {availableParallelism, tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type BuildLlamaCppResult, LLAMA_CPP_TOOLS, buildLlamaCppTools, findLlamaCppTool, findOnPath} from '../../src/engines/llamacpp/build.js'
import {runLlamaBench} from '../../src/engines/llamacpp/llama-bench.js'
import {llamaBenchTestName} from '../../src/results/import/llama-bench-format.js'
import {ensureSyntheticModel} from '../../src/gguf/synth.js'
import {EngineError} from '../../src/lib/errors.js'
import {tinyQwen2} from '../helpers/tiny-models.js'

// Builds llama-server, llama-bench and llama-quantize from node-llama-cpp's bundled source into capplan's
// cache dir (CAPPLAN_CACHE_DIR or the user cache), CPU backend. The first run compiles (about 25 minutes
// on 2 cores); later runs reuse the build, which is exactly what the second half of this file checks.

const missing = (await Promise.all(['git', 'cmake', 'c++'].map(async (t) => ((await findOnPath(t)) === null ? t : null)))).filter((t): t is string => t !== null)
const skipReason = missing.length > 0 ? `llama.cpp build skipped: ${missing.join(', ')} not on PATH` : null
if (skipReason !== null) console.warn(skipReason)

describe.skipIf(skipReason !== null)("capplan's offline llama.cpp build", () => {
  let first: BuildLlamaCppResult

  beforeAll(async () => {
    first = await buildLlamaCppTools({targets: LLAMA_CPP_TOOLS, cuda: 'off', jobs: availableParallelism()})
  }, 90 * 60_000)

  it('produces working binaries', async () => {
    expect(first.backend).toBe('cpu')
    for (const tool of LLAMA_CPP_TOOLS) expect(existsSync(first.tools[tool] ?? '')).toBe(true)
    const bench = await execa(first.tools['llama-bench'] ?? '', ['--help'], {reject: false})
    expect(bench.exitCode).toBe(0)
    expect(bench.stdout).toContain('--n-gen')
    const server = await execa(first.tools['llama-server'] ?? '', ['--version'], {reject: false})
    expect(server.exitCode).toBe(0)
    expect(`${server.stdout}${server.stderr}`).toContain(`commit ${first.info.commit.slice(0, 7)}`)
    expect(first.info.targets).toEqual(expect.arrayContaining([...LLAMA_CPP_TOOLS]))
    expect(first.info.cmakeFlags).toContain('-DGGML_CUDA=OFF')
  })

  describe('a second build call', () => {
    let fakeBin: string
    const savedPath = process.env.PATH
    beforeAll(() => {
      // A cmake that records being called, first on PATH: a no-op rebuild must never reach it.
      fakeBin = mkdtempSync(join(tmpdir(), 'capplan-fake-cmake-'))
      writeFileSync(join(fakeBin, 'cmake'), `#!/bin/sh\necho "$@" >> "${join(fakeBin, 'cmake-called')}"\nexit 1\n`)
      chmodSync(join(fakeBin, 'cmake'), 0o755)
      process.env.PATH = `${fakeBin}${delimiter}${savedPath ?? ''}`
    })
    afterAll(() => {
      process.env.PATH = savedPath
      rmSync(fakeBin, {recursive: true, force: true})
    })

    it('returns at once without invoking cmake', async () => {
      const started = performance.now()
      const again = await buildLlamaCppTools({targets: LLAMA_CPP_TOOLS, cuda: 'off'})
      const elapsedMs = performance.now() - started
      expect(again.alreadyBuilt).toBe(true)
      expect(again.tools).toEqual(first.tools)
      expect(existsSync(join(fakeBin, 'cmake-called'))).toBe(false)
      expect(elapsedMs).toBeLessThan(5000) // generous: it only stats a few files
    })
  })

  it('findLlamaCppTool finds the built tools', async () => {
    const saved = process.env.CAPPLAN_LLAMA_BIN_DIR
    delete process.env.CAPPLAN_LLAMA_BIN_DIR
    try {
      for (const tool of LLAMA_CPP_TOOLS) expect(await findLlamaCppTool(tool)).toBe(first.tools[tool])
    } finally {
      if (saved !== undefined) process.env.CAPPLAN_LLAMA_BIN_DIR = saved
    }
  })

  it('runLlamaBench runs the built llama-bench on a synthesized model and parses its rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'capplan-llama-bench-'))
    try {
      const model = await ensureSyntheticModel({profile: tinyQwen2, quant: 'int4', outFile: join(dir, 'tiny-qwen2-q4_0.gguf')})
      const rows = await runLlamaBench({
        binary: first.tools['llama-bench'],
        modelPath: model.path,
        threads: 1,
        nPrompt: 16,
        nGen: 8,
        repetitions: 2,
      })
      expect(rows.map((r) => llamaBenchTestName(r))).toEqual(['pp16', 'tg8'])
      for (const row of rows) {
        expect(row.model_filename).toBe(model.path)
        expect(row.n_threads).toBe(1)
        expect(row.samples_ts).toHaveLength(2)
        expect(row.avg_ts).toBeGreaterThan(0)
        expect(row.backends).toContain('CPU')
      }
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})

describe.skipIf(skipReason !== null)('a failing llama.cpp build step', () => {
  it('becomes an EngineError naming the command, with the last log lines, and leaves no lock behind', async () => {
    const root = mkdtempSync(join(tmpdir(), 'capplan-build-fail-'))
    const saved = {path: process.env.PATH, cache: process.env.CAPPLAN_CACHE_DIR}
    // A cmake that fails the way a broken toolchain does; git stays real so the bundle is really cloned.
    writeFileSync(join(root, 'cmake'), '#!/bin/sh\necho "-- The CXX compiler identification is unknown"\necho "CMake Error: CMAKE_CXX_COMPILER not set" >&2\nexit 1\n')
    chmodSync(join(root, 'cmake'), 0o755)
    process.env.PATH = `${root}${delimiter}${saved.path ?? ''}`
    process.env.CAPPLAN_CACHE_DIR = join(root, 'cache')
    try {
      const error = await buildLlamaCppTools({targets: ['llama-bench'], cuda: 'off', jobs: 1}).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(EngineError)
      const engineError = error as EngineError
      expect(engineError.exitCode).toBe(8)
      expect(engineError.command).toMatch(/^cmake -S .*src -B .*build /)
      expect(engineError.logTail).toEqual(['-- The CXX compiler identification is unknown', 'CMake Error: CMAKE_CXX_COMPILER not set'])
      const buildDir = join(root, 'cache', 'llama.cpp')
      const [dirName] = readdirSync(buildDir)
      expect(existsSync(join(buildDir, dirName ?? '', 'src', 'CMakeLists.txt'))).toBe(true) // the clone is kept for the retry
      expect(existsSync(join(buildDir, dirName ?? '', 'build.lock'))).toBe(false)
      expect(readFileSync(join(buildDir, dirName ?? '', 'build.log'), 'utf8')).toContain('CMake Error: CMAKE_CXX_COMPILER not set')
    } finally {
      process.env.PATH = saved.path
      if (saved.cache === undefined) delete process.env.CAPPLAN_CACHE_DIR
      else process.env.CAPPLAN_CACHE_DIR = saved.cache
      rmSync(root, {recursive: true, force: true})
    }
  })
})
