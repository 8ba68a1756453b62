import {chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {bundledLlamaCppSource, findLlamaCppTool, llamaCppBuildDir} from '../../../../src/engines/llamacpp/build.js'

// findLlamaCppTool's lookup order, on throwaway directories (no real llama.cpp needed):
// $CAPPLAN_LLAMA_BIN_DIR, then capplan's build under $CAPPLAN_CACHE_DIR, then PATH.

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
  for (const [key, value] of [['CAPPLAN_CACHE_DIR', saved.cache], ['CAPPLAN_LLAMA_BIN_DIR', saved.bin], ['PATH', saved.path]] as const) {
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
  rmSync(root, {recursive: true, force: true})
})

describe('findLlamaCppTool', () => {
  it('returns null when no location has the tool', async () => {
    expect(await findLlamaCppTool('llama-bench')).toBeNull()
  })

  it('finds it on PATH, but prefers capplan\'s own build, and the override above both', async () => {
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
    // node_modules/node-llama-cpp/llama/llama.cpp.info.json says {"tag": "v0.5.0"} for node-llama-cpp 3.22.1.
    expect(source.tag).toBe('v0.5.0')
    expect(source.bundlePath.endsWith(join('node-llama-cpp', 'llama', 'gitRelease.bundle'))).toBe(true)
  })
})
