import {spawnSync} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'

import {capplanInProcess, peers, repo} from '../helpers/cli.js'
import {tinyQwen2} from '../helpers/tiny-models.js'

/**
 * Output paths as a user gives them (the built CLI): no output may replace a result file, an input of the same
 * command, or anything that is not a regular file; a device or FIFO is written as a stream; a directory or a
 * missing directory is refused with the flag and the path (exit 3), before any work. Character devices are
 * made with mknod in a temp dir (the same node as /dev/null), so a regression never replaces the real one.
 */
const work = mkdtempSync(path.join(tmpdir(), 'capplan-output-paths-'))
const profilesDir = path.join(work, 'profiles')
const resultFile = path.join(work, 'run.json')
const peerFile = path.join(work, 'llama_bench.json')

beforeAll(() => {
  if (!existsSync(path.join(repo, 'dist', 'commands', 'report.js'))) throw new Error('dist/ is not built: run `npm run build` first')
  copyFileSync(path.join(peers, 'capplan-embedded-int4.json'), resultFile)
  copyFileSync(path.join(peers, 'llama_bench.json'), peerFile)
  mkdirSync(path.join(profilesDir, 'models'), {recursive: true})
  writeFileSync(path.join(profilesDir, 'models', 'tiny-qwen2.yaml'), stringify(tinyQwen2))
})
afterAll(() => rmSync(work, {recursive: true, force: true}))

/** A character device equal to /dev/null (major 1, minor 3) in a temp dir, or null where mknod is refused. */
function devNull(name: string): string | null {
  const node = path.join(work, name)
  return spawnSync('mknod', [node, 'c', '1', '3']).status === 0 ? node : null
}
const canMknod = (() => {
  const probe = devNull('probe-null')
  if (probe === null) console.log('output-paths: mknod refused (not root?): the device cases are skipped')
  else rmSync(probe)
  return probe !== null
})()

const errorOf = (stdout: string) => (JSON.parse(stdout) as {error: {kind: string; exitCode: number; message: string}}).error

describe('report --out', () => {
  it('refuses the result file it reads (RESULT --out RESULT): exit 3, the measurement untouched', async () => {
    const before = readFileSync(resultFile)
    const run = await capplanInProcess(['report', resultFile, '--out', resultFile, '--json'])
    expect(run.exitCode).toBe(3)
    expect(errorOf(run.stdout).message).toBe(`--out ${resultFile}: is an input of this command; writing the report there would destroy it.`)
    expect(readFileSync(resultFile).equals(before)).toBe(true)
  })

  it('refuses any capplan result file, even one it does not read', async () => {
    const other = path.join(work, 'other-run.json')
    copyFileSync(resultFile, other)
    const run = await capplanInProcess(['report', peerFile, '--out', other, '--json'])
    expect(run.exitCode).toBe(3)
    expect(errorOf(run.stdout).message).toBe(`--out ${other}: is a capplan result file (a measurement); capplan never overwrites one.`)
    expect(readFileSync(other).equals(readFileSync(resultFile))).toBe(true)
  })

  it("refuses a peer's file it reads (llama_bench.json --out llama_bench.json)", async () => {
    const before = readFileSync(peerFile)
    const run = await capplanInProcess(['report', peerFile, '--out', peerFile])
    expect(run.exitCode).toBe(3)
    expect(readFileSync(peerFile).equals(before)).toBe(true)
  })

  it('a directory or a missing directory: exit 3 naming --out and the path, never exit 1', async () => {
    const dir = await capplanInProcess(['report', resultFile, '--out', work, '--json'])
    expect([dir.exitCode, errorOf(dir.stdout).message]).toEqual([3, `--out ${work}: is a directory; --out takes a file name.`])
    const missing = path.join(work, 'missing', 'report.md')
    const gone = await capplanInProcess(['report', resultFile, '--out', missing, '--json'])
    expect([gone.exitCode, errorOf(gone.stdout).message]).toEqual([3, `--out ${missing}: the directory ${path.dirname(missing)} does not exist.`])
  })

  it.skipIf(!canMknod)('a character device (a /dev/null node) is written as a stream and stays a device', async () => {
    const node = devNull('report-null')!
    const run = await capplanInProcess(['report', resultFile, '--format', 'md', '--out', node])
    expect(run.exitCode).toBe(0)
    expect(statSync(node).isCharacterDevice()).toBe(true)
    expect(readdirSync(work).filter((name) => name.includes('report-null') && name !== 'report-null')).toEqual([])
  })

  it('a FIFO gets the whole report and stays a FIFO', async () => {
    const fifo = path.join(work, 'report.fifo')
    if (spawnSync('mkfifo', [fifo]).status !== 0) return void console.log('output-paths: mkfifo failed, FIFO case skipped')
    const reader = execa('cat', [fifo], {timeout: 20_000, reject: false})
    const run = await capplanInProcess(['report', resultFile, '--format', 'json', '--out', fifo])
    const read = await reader
    expect(run.exitCode).toBe(0)
    expect(JSON.parse(read.stdout).results).toHaveLength(1)
    expect(statSync(fifo).isFIFO()).toBe(true)
  })
})

describe('model synth -o', () => {
  const synth = (args: string[]) =>
    capplanInProcess(['model', 'synth', '--profiles', profilesDir, '--model', 'tiny-qwen2', ...args], {
      cwd: repo,
      env: {CAPPLAN_CACHE_DIR: path.join(work, 'cache')},
    })

  it('a directory or a missing directory: exit 3 naming --output, nothing written', async () => {
    const dir = await synth(['-o', work, '--json'])
    expect([dir.exitCode, errorOf(dir.stdout).message]).toEqual([3, `--output ${work}: is a directory; --output takes a file name.`])
    const missing = path.join(work, 'nope', 'm.gguf')
    const gone = await synth(['-o', missing, '--json'])
    expect([gone.exitCode, errorOf(gone.stdout).message]).toEqual([3, `--output ${missing}: the directory ${path.dirname(missing)} does not exist.`])
  })

  it('never over a result file, even with --force', async () => {
    const victim = path.join(work, 'victim.json')
    copyFileSync(resultFile, victim)
    const run = await synth(['-o', victim, '--force', '--json'])
    expect(run.exitCode).toBe(3)
    expect(errorOf(run.stdout).message).toBe(`--output ${victim}: is a capplan result file (a measurement); capplan never overwrites one.`)
    expect(readFileSync(victim).equals(readFileSync(resultFile))).toBe(true)
  })

  it.skipIf(!canMknod)('-o DEVICE --force streams the model into the device, which stays a device (no sidecar beside it)', async () => {
    const node = devNull('synth-null')!
    const run = await synth(['-o', node, '--force', '--json'])
    expect(run.exitCode).toBe(0)
    expect(statSync(node).isCharacterDevice()).toBe(true)
    expect(existsSync(`${node}.capplan.json`)).toBe(false)
  })
})

describe('import --out', () => {
  it('a directory or a missing directory: exit 3 naming --out, before the source is read', async () => {
    const dir = await capplanInProcess(['import', peerFile, '--out', work, '--json'])
    expect([dir.exitCode, errorOf(dir.stdout).message]).toEqual([3, `--out ${work}: is a directory; --out takes a file name.`])
    const missing = path.join(work, 'none', 'lb.json')
    const gone = await capplanInProcess(['import', peerFile, '--out', missing, '--json'])
    expect([gone.exitCode, errorOf(gone.stdout).message]).toEqual([3, `--out ${missing}: the directory ${path.dirname(missing)} does not exist.`])
  })
})

describe('bench --results-dir', () => {
  it('a regular file: exit 3 naming --results-dir, before any model is prepared or engine started', async () => {
    const file = path.join(work, 'not-a-dir')
    writeFileSync(file, 'x')
    const cache = path.join(work, 'bench-cache')
    const run = await capplanInProcess(['bench', '--results-dir', file, '--requests', '1', '--concurrency', '1', '--input-tokens', '8', '--output-tokens', '4', '--json'], {
      cwd: repo,
      env: {CAPPLAN_CACHE_DIR: cache},
    })
    expect([run.exitCode, errorOf(run.stdout).message]).toEqual([3, `--results-dir ${file} is a file, not a directory.`])
    expect(existsSync(path.join(cache, 'models'))).toBe(false) // no synthetic model was written or looked for
    expect(readFileSync(file, 'utf8')).toBe('x')
  })

  it('below a file, with a remote engine: exit 3 before the endpoint is contacted', async () => {
    const file = path.join(work, 'plain')
    writeFileSync(file, 'x')
    const run = await capplanInProcess(['bench', '--engine', 'openai', '--endpoint', 'http://127.0.0.1:9', '--results-dir', path.join(file, 'sub'), '--json'])
    expect([run.exitCode, errorOf(run.stdout).message]).toEqual([3, `--results-dir ${path.join(file, 'sub')}: ${file} is a file, not a directory.`])
  })
})
