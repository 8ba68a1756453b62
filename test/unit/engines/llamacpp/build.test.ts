import {chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {bundledLlamaCppSource, chooseBackend, cmakeConfigureArgs, findLlamaCppTool, llamaCppBuildDir, needsAmxOff} from '../../../../src/engines/llamacpp/build.js'
import {type CapplanError} from '../../../../src/lib/errors.js'

// The pure decisions behind `capplan engine build` (the compile itself is in test/integration).

describe('chooseBackend', () => {
  it('builds CUDA on auto only when nvcc AND a GPU are present', () => {
    expect(chooseBackend('auto', {nvccFound: true, nvidiaGpuCount: 1})).toBe('cuda')
    // nvcc without a GPU (this machine, many CI images): a CUDA build would take hours and be unusable.
    expect(chooseBackend('auto', {nvccFound: true, nvidiaGpuCount: 0})).toBe('cpu')
    expect(chooseBackend('auto', {nvccFound: false, nvidiaGpuCount: 2})).toBe('cpu')
  })

  it('obeys on/off, and refuses --cuda on without nvcc', () => {
    expect(chooseBackend('off', {nvccFound: true, nvidiaGpuCount: 8})).toBe('cpu')
    expect(chooseBackend('on', {nvccFound: true, nvidiaGpuCount: 0})).toBe('cuda')
    try {
      chooseBackend('on', {nvccFound: false, nvidiaGpuCount: 0})
      expect.unreachable()
    } catch (error) {
      expect((error as CapplanError).kind).toBe('NOT_FOUND')
      expect((error as CapplanError).message).toContain('--cuda on')
    }
  })
})

describe('cmakeConfigureArgs', () => {
  it('configures an offline static CPU build of the tools only', () => {
    const {args, flags} = cmakeConfigureArgs({sourceDir: '/s', buildDir: '/b', backend: 'cpu', native: true, ninja: true})
    expect(args.slice(0, 6)).toEqual(['-S', '/s', '-B', '/b', '-G', 'Ninja'])
    expect(args.slice(6)).toEqual(flags)
    expect(flags).toEqual([
      '-DCMAKE_BUILD_TYPE=Release',
      '-DBUILD_SHARED_LIBS=OFF',
      '-DLLAMA_BUILD_TESTS=OFF',
      '-DLLAMA_BUILD_EXAMPLES=OFF',
      '-DLLAMA_BUILD_TOOLS=ON',
      '-DLLAMA_BUILD_SERVER=ON',
      '-DLLAMA_CURL=OFF',
      '-DLLAMA_OPENSSL=OFF',
      '-DLLAMA_BUILD_UI=OFF',
      '-DLLAMA_USE_PREBUILT_UI=OFF',
      '-DGGML_NATIVE=ON',
      '-DGGML_CUDA=OFF',
    ])
  })

  it('switches CUDA and native, and targets only the visible GPU when there is one', () => {
    const portableCuda = cmakeConfigureArgs({sourceDir: '/s', buildDir: '/b', backend: 'cuda', native: false, ninja: false})
    expect(portableCuda.args).not.toContain('-G')
    expect(portableCuda.flags).toContain('-DGGML_NATIVE=OFF')
    expect(portableCuda.flags).toContain('-DGGML_CUDA=ON')
    expect(portableCuda.flags).not.toContain('-DCMAKE_CUDA_ARCHITECTURES=native')
    const gpuCuda = cmakeConfigureArgs({sourceDir: '/s', buildDir: '/b', backend: 'cuda', native: true, ninja: true, cudaNativeArch: true})
    expect(gpuCuda.flags.at(-1)).toBe('-DCMAKE_CUDA_ARCHITECTURES=native')
  })
})

describe('AMX off for native x86-64 builds', () => {
  // A -march=native build on this Sapphire Rapids-class VM segfaulted in ggml_backend_amx_mul_mat on every
  // prompt batch (llama-bench -p 16, gdb backtrace); the same build without AMX runs.
  it('adds -mno-amx-* to C and C++ flags for a native build when asked', () => {
    const {flags} = cmakeConfigureArgs({sourceDir: '/s', buildDir: '/b', backend: 'cpu', native: true, ninja: true, disableAmx: true})
    expect(flags.slice(-2)).toEqual(['-DCMAKE_C_FLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16', '-DCMAKE_CXX_FLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16'])
  })

  it('leaves portable builds alone (they never enable AMX) and asks only on x86-64 outside Windows', () => {
    const {flags} = cmakeConfigureArgs({sourceDir: '/s', buildDir: '/b', backend: 'cpu', native: false, ninja: true, disableAmx: true})
    expect(flags.some((f) => f.includes('amx'))).toBe(false)
    expect(needsAmxOff('x64', 'linux')).toBe(true)
    expect(needsAmxOff('arm64', 'darwin')).toBe(false)
    expect(needsAmxOff('x64', 'win32')).toBe(false)
  })
})

describe('llamaCppBuildDir', () => {
  const saved = process.env.CAPPLAN_CACHE_DIR
  afterEach(() => {
    if (saved === undefined) delete process.env.CAPPLAN_CACHE_DIR
    else process.env.CAPPLAN_CACHE_DIR = saved
  })

  it('lives under the capplan cache dir, one directory per tag, backend and portability', () => {
    process.env.CAPPLAN_CACHE_DIR = '/tmp/capplan-cache'
    expect(llamaCppBuildDir('v0.5.0')).toBe(join('/tmp/capplan-cache', 'llama.cpp', 'v0.5.0-cpu'))
    expect(llamaCppBuildDir('v0.5.0', 'cuda')).toBe(join('/tmp/capplan-cache', 'llama.cpp', 'v0.5.0-cuda'))
    expect(llamaCppBuildDir('v0.5.0', 'cpu', false)).toBe(join('/tmp/capplan-cache', 'llama.cpp', 'v0.5.0-cpu-portable'))
  })
})

// findLlamaCppTool's lookup order, on throwaway directories (no real llama.cpp needed):
// $CAPPLAN_LLAMA_BIN_DIR, then capplan's build under $CAPPLAN_CACHE_DIR, then PATH.

describe('finding the tools', () => {
  const saved = {cache: process.env.CAPPLAN_CACHE_DIR, bin: process.env.CAPPLAN_LLAMA_BIN_DIR, path: process.env.PATH}
  let root: string

  function fakeTool(dir: string, name: string, executable = true): string {
    mkdirSync(dir, {recursive: true})
    const file = join(dir, name)
    writeFileSync(file, '#!/bin/sh\nexit 0\n')
    chmodSync(file, executable ? 0o755 : 0o644)
    return file
  }

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'capplan-find-tool-'))
    process.env.CAPPLAN_CACHE_DIR = join(root, 'cache')
    delete process.env.CAPPLAN_LLAMA_BIN_DIR
    process.env.PATH = join(root, 'empty-path')
  })

  afterEach(() => {
    for (const [key, value] of [
      ['CAPPLAN_CACHE_DIR', saved.cache],
      ['CAPPLAN_LLAMA_BIN_DIR', saved.bin],
      ['PATH', saved.path],
    ] as const) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
    rmSync(root, {recursive: true, force: true})
  })

  describe('findLlamaCppTool', () => {
    it('returns null when no location has the tool', async () => {
      expect(await findLlamaCppTool('llama-bench')).toBeNull()
    })

    it("finds it on PATH, but prefers capplan's own build, and the override above both", async () => {
      const onPath = fakeTool(join(root, 'usr-bin'), 'llama-bench')
      process.env.PATH = [join(root, 'nothing-here'), join(root, 'usr-bin')].join(delimiter)
      expect(await findLlamaCppTool('llama-bench')).toBe(onPath)

      const {tag} = await bundledLlamaCppSource()
      const built = fakeTool(join(llamaCppBuildDir(tag, 'cpu'), 'build', 'bin'), 'llama-bench')
      expect(await findLlamaCppTool('llama-bench')).toBe(built)

      const override = fakeTool(join(root, 'mine'), 'llama-bench')
      process.env.CAPPLAN_LLAMA_BIN_DIR = join(root, 'mine')
      expect(await findLlamaCppTool('llama-bench')).toBe(override)
    })

    it('prefers the CUDA build over the CPU one, and a native build over a portable one', async () => {
      const {tag} = await bundledLlamaCppSource()
      const portable = fakeTool(join(llamaCppBuildDir(tag, 'cpu', false), 'build', 'bin'), 'llama-server')
      expect(await findLlamaCppTool('llama-server')).toBe(portable)
      const cpu = fakeTool(join(llamaCppBuildDir(tag, 'cpu'), 'build', 'bin'), 'llama-server')
      expect(await findLlamaCppTool('llama-server')).toBe(cpu)
      const cuda = fakeTool(join(llamaCppBuildDir(tag, 'cuda'), 'build', 'bin'), 'llama-server')
      expect(await findLlamaCppTool('llama-server')).toBe(cuda)
    })

    it('skips files that are not executable and an override dir without the tool', async () => {
      fakeTool(join(root, 'mine'), 'llama-quantize', false)
      process.env.CAPPLAN_LLAMA_BIN_DIR = join(root, 'mine')
      const onPath = fakeTool(join(root, 'usr-bin'), 'llama-quantize')
      process.env.PATH = join(root, 'usr-bin')
      expect(await findLlamaCppTool('llama-quantize')).toBe(onPath)
    })
  })

  describe('bundledLlamaCppSource', () => {
    it('reads the tag node-llama-cpp records and points at its git bundle', async () => {
      const source = await bundledLlamaCppSource()
      // node_modules/node-llama-cpp/llama/llama.cpp.info.json says {"tag": "v0.4.0"} for node-llama-cpp 3.21.1 (package.json pins it exactly).
      expect(source.tag).toBe('v0.4.0')
      expect(source.bundlePath.endsWith(join('node-llama-cpp', 'llama', 'gitRelease.bundle'))).toBe(true)
    })
  })
})
