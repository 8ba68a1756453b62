import {execFile} from 'node:child_process'
import {existsSync} from 'node:fs'
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {format, promisify} from 'node:util'

import {describe, expect, it, vi} from 'vitest'

import System, {type SystemReport} from '../../src/commands/system.js'
import {hostSnapshotSchema} from '../../src/results/schema.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Run the command in-process, capturing stdout (oclif prints through console.log, the --json payload too). */
async function runSystem(argv: string[]): Promise<{report: SystemReport; stdout: string}> {
  const lines: string[] = []
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(format(...args))
  })
  try {
    const report = (await System.run(argv, root)) as SystemReport
    return {report, stdout: lines.join('\n')}
  } finally {
    log.mockRestore()
  }
}

describe('capplan system', () => {
  it('--json returns the host snapshot: physical cores >= 1, memory = os.totalmem()', async () => {
    const {report, stdout} = await runSystem(['--json', '--skip-engine'])
    expect(JSON.parse(stdout)).toEqual(report) // stdout holds exactly the payload
    expect(hostSnapshotSchema.safeParse(report.host).success).toBe(true)
    expect(report.host.cpu.physicalCores).toBeGreaterThanOrEqual(1)
    expect(report.host.memoryBytes).toBe(os.totalmem())
    expect(report.inferenceThreads).toBeLessThanOrEqual(os.availableParallelism())
    expect(report.embeddedEngine).toBeNull()
    // No GPU here -> no GPU profile; with a GPU the id must be a known profile.
    if (report.host.gpus.length === 0) expect(report.gpuProfile).toBeNull()
  })

  it('asks node-llama-cpp for its view without building or downloading (CPU here)', async () => {
    const {report} = await runSystem(['--json'])
    const engine = report.embeddedEngine!
    expect(engine.available).toBe(true)
    expect(engine.problem).toBeNull()
    expect(engine.buildType).toBe('prebuilt')
    expect(engine.cpuMathCores).toBeGreaterThanOrEqual(1)
    if (report.host.gpus.length === 0) expect(engine.gpu).toBe(false)
  })

  it('prints a readable summary without --json', async () => {
    const {stdout} = await runSystem(['--skip-engine'])
    expect(stdout).toMatch(/^Host {9}/m)
    expect(stdout).toContain(`${os.cpus().length} logical`)
    expect(stdout).toContain(`(${os.totalmem()} bytes)`)
  })

  it.runIf(existsSync(join(root, 'dist', 'commands', 'system.js')))('the built CLI prints one JSON document on stdout (exit 0)', async () => {
    const {stdout} = await promisify(execFile)('node', [join(root, 'bin', 'run.js'), 'system', '--json', '--skip-engine'], {
      cwd: root,
    })
    const report = JSON.parse(stdout) as SystemReport
    expect(report.host.memoryBytes).toBe(os.totalmem())
    expect(report.host.cpu.physicalCores).toBeGreaterThanOrEqual(1)
  })

  it.runIf(existsSync(join(root, 'dist', 'commands', 'system.js')))('a broken --profiles directory fails with INVALID_PROFILE, exit 5, also under --json', async () => {
    const dir = await mkdtemp(join(os.tmpdir(), 'capplan-system-profiles-'))
    try {
      await mkdir(join(dir, 'gpus'))
      await writeFile(join(dir, 'gpus', 'broken.yaml'), 'kind: gpu\nid: broken\n')
      const run = promisify(execFile)('node', [join(root, 'bin', 'run.js'), 'system', '--json', '--skip-engine', '--profiles', dir], {
        cwd: root,
      })
      const failure = (await run.then(
        () => null,
        (error: unknown) => error,
      )) as {code: number; stdout: string} | null
      expect(failure).not.toBeNull()
      expect(failure!.code).toBe(5)
      const {error} = JSON.parse(failure!.stdout) as {error: {kind: string; message: string}}
      expect(error.kind).toBe('INVALID_PROFILE')
      expect(error.message).toContain('broken.yaml')
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})
