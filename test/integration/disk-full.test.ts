import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {type SseSource, startSseSource} from '../../perf/sse-source.js'
import {CapplanError} from '../../src/lib/errors.js'
import {ResultFileWriter} from '../../src/results/write.js'
import {bin, peers, repo} from '../helpers/cli.js'
import {sampleLevel, sampleResult} from '../unit/results/sample-result.js'

/**
 * A real full disk: a small tmpfs, filled with one file until only `leave` bytes are free (tmpfs counts whole
 * 4 KiB pages, so 1 KiB and 3 KiB leave 0 and 5 KiB leaves 4 KiB), then capplan writes into it. At every size
 * each write either succeeds with a complete file that parses, or fails with exit 7 (INSUFFICIENT_RESOURCES)
 * and the previous content intact; no temporary file is ever left behind. Before lib/safe-write, a single
 * write() call that the kernel cut short was taken as success: `report --out` and the result writer left
 * 4,096-byte broken JSON files with exit 0, and `bench` printed "(complete)" over a 16,384-byte broken one.
 * Needs root (mount); skipped with the reason printed where mount is refused.
 */
const LEAVES = [0, 1024, 3072, 5120, 20_480, 98_304]
const TMPFS_BYTES = 256 * 1024

const work = mkdtempSync(path.join(tmpdir(), 'capplan-disk-full-'))
const mounted: string[] = []

function tryMount(dir: string): string | null {
  mkdirSync(dir, {recursive: true})
  const run = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES}`, 'tmpfs', dir], {encoding: 'utf8'})
  if (run.status !== 0) return `${run.error?.message ?? ''}${run.stderr}`.trim() || `mount exited ${run.status}`
  mounted.push(dir)
  return null
}

const refused = tryMount(path.join(work, 'probe'))
if (refused !== null) console.log(`disk-full: skipped, cannot mount a tmpfs here (${refused}); run as root to test a real full disk`)

const free = (dir: string) => {
  const fs = statfsSync(dir)
  return fs.bavail * fs.bsize
}

/** A fresh, empty tmpfs. */
function freshDisk(name: string): string {
  const dir = path.join(work, name)
  const why = tryMount(dir)
  if (why !== null) throw new Error(`mount ${dir}: ${why}`)
  return dir
}

/** Fill `dir` with one file until `leave` bytes are free; returns what is free then. */
function fillLeaving(dir: string, leave: number): number {
  const fill = free(dir) - leave
  if (fill > 0) writeFileSync(path.join(dir, 'fill'), Buffer.alloc(fill))
  return free(dir)
}

const temporaries = (dir: string) => readdirSync(dir).filter((name) => name.endsWith('.tmp'))
const parses = (file: string) => {
  try {
    JSON.parse(readFileSync(file, 'utf8'))
    return true
  } catch {
    return false
  }
}
const run = (args: string[], cwd = repo) => execa('node', [bin, ...args], {reject: false, cwd})
/** Under --json a failure is {"error": {...}} on stdout: its message, unwrapped. */
const errorMessage = (stdout: string): string => {
  try {
    return (JSON.parse(stdout) as {error?: {message: string}}).error?.message ?? ''
  } catch {
    return ''
  }
}
const said = (r: {exitCode?: number; stdout: string}) => (r.exitCode === 0 ? 'ok' : errorMessage(r.stdout))
const source = path.join(peers, 'capplan-embedded-int4.json')

afterAll(() => {
  for (const dir of mounted.reverse()) spawnSync('umount', [dir])
  rmSync(work, {recursive: true, force: true})
})

describe.skipIf(refused !== null)('a real full disk (tmpfs)', () => {
  let sse: SseSource
  beforeAll(async () => {
    if (!existsSync(path.join(repo, 'dist', 'commands', 'bench.js'))) throw new Error('dist/ is not built: run `npm run build` first')
    sse = await startSseSource({})
  })
  afterAll(async () => {
    await sse?.close()
  })

  it.each(LEAVES)('ResultFileWriter.save with %i bytes left: a complete file or exit 7 with the previous save', async (leave) => {
    const running = sampleResult({levels: [], status: 'running'})
    const dir = freshDisk(`writer-${leave}`)
    const writer = await ResultFileWriter.create(dir, running)
    await writer.save({...running, levels: [sampleLevel(1)]})
    const previous = readFileSync(writer.path, 'utf8')
    const freeBytes = fillLeaving(dir, leave)
    const next = {...running, levels: Array.from({length: 12}, (_, i) => sampleLevel(i + 1, 6)), status: 'complete' as const}
    const outcome = await writer.save(next).then(
      () => 'saved',
      (error: unknown) => error,
    )
    console.log(`disk-full: writer.save with ${freeBytes} bytes free: ${outcome === 'saved' ? 'saved' : (outcome as Error).message}`)
    if (outcome === 'saved') {
      expect(JSON.parse(readFileSync(writer.path, 'utf8')).levels).toHaveLength(12)
    } else {
      expect(outcome).toBeInstanceOf(CapplanError)
      expect((outcome as CapplanError).exitCode).toBe(7)
      expect((outcome as CapplanError).message).toContain(writer.path)
      expect(readFileSync(writer.path, 'utf8')).toBe(previous)
    }
    expect(temporaries(dir)).toEqual([])
  })

  it.each(LEAVES)('report --out with %i bytes left: a complete report or exit 7 with the previous report', async (leave) => {
    const dir = freshDisk(`report-${leave}`)
    const out = path.join(dir, 'report.json')
    expect((await run(['report', source, '--format', 'md', '--out', out])).exitCode).toBe(0)
    const freeBytes = fillLeaving(dir, leave)
    const previous = readFileSync(out, 'utf8')
    const report = await run(['report', source, '--format', 'json', '--out', out, '--json'])
    console.log(`disk-full: report --out with ${freeBytes} bytes free: exit ${report.exitCode}: ${said(report)}`)
    expect([0, 7]).toContain(report.exitCode)
    if (report.exitCode === 0) {
      expect(JSON.parse(readFileSync(out, 'utf8')).results).toHaveLength(1)
    } else {
      expect(errorMessage(report.stdout)).toBe(`--out: the disk is full: could not write the report ${out} completely. The previous file, if any, is unchanged.`)
      expect(readFileSync(out, 'utf8')).toBe(previous)
    }
    expect(temporaries(dir)).toEqual([])
  })

  it.each(LEAVES)('import --out with %i bytes left: a complete result or exit 7 and no file', async (leave) => {
    const dir = freshDisk(`import-${leave}`)
    const freeBytes = fillLeaving(dir, leave)
    const out = path.join(dir, 'lb.json')
    const imported = await run(['import', path.join(peers, 'llama_bench.json'), '--out', out, '--gpus', '0', '--json'])
    console.log(`disk-full: import --out with ${freeBytes} bytes free: exit ${imported.exitCode}: ${said(imported)}`)
    expect([0, 7]).toContain(imported.exitCode)
    if (imported.exitCode === 7) expect(errorMessage(imported.stdout)).toContain(out)
    if (imported.exitCode === 0) expect(JSON.parse(readFileSync(out, 'utf8')).schemaVersion).toBe(3)
    else expect(existsSync(out)).toBe(false)
    expect(temporaries(dir)).toEqual([])
  })

  it.each(LEAVES)('import into results/ with %i bytes left: a complete result or exit 7 and no file', async (leave) => {
    const dir = freshDisk(`import-default-${leave}`)
    mkdirSync(path.join(dir, 'results'))
    const freeBytes = fillLeaving(dir, leave)
    const imported = await run(['import', path.join(peers, 'llama_bench.json'), '--gpus', '0', '--json'], dir)
    console.log(`disk-full: import (to results/) with ${freeBytes} bytes free: exit ${imported.exitCode}: ${said(imported)}`)
    expect([0, 7]).toContain(imported.exitCode)
    const files = readdirSync(path.join(dir, 'results'))
    if (imported.exitCode === 0) expect(files.map((name) => parses(path.join(dir, 'results', name)))).toEqual([true])
    else expect(files).toEqual([])
  })

  it.each(LEAVES)('bench --results-dir with %i bytes left: complete result files or exit 7, every file left parses', async (leave) => {
    const dir = freshDisk(`bench-${leave}`)
    const freeBytes = fillLeaving(dir, leave)
    // 3 levels x 40 requests x 64 chunks (~60 KB a level): with 96 KiB free the first save fits, a later one does not.
    // prettier-ignore
    const bench = await run([
      'bench', '--engine', 'openai', '--endpoint', sse.url, '--concurrency', '1,2,4', '--requests', '40',
      '--input-tokens', '8', '--output-tokens', '64', '--results-dir', dir, '--json',
    ])
    const files = readdirSync(dir).filter((name) => name.endsWith('.json'))
    const sizes = files.map((name) => `${readFileSync(path.join(dir, name)).length} B${parses(path.join(dir, name)) ? '' : ' BROKEN'}`)
    console.log(`disk-full: bench with ${freeBytes} bytes free: exit ${bench.exitCode}, files [${sizes.join(', ')}]: ${said(bench)}`)
    expect([0, 7]).toContain(bench.exitCode)
    for (const name of files) expect(parses(path.join(dir, name)), name).toBe(true)
    if (bench.exitCode === 0) {
      expect(files).toHaveLength(1)
      expect(JSON.parse(readFileSync(path.join(dir, files[0]!), 'utf8')).status).toBe('complete')
    } else {
      expect(errorMessage(bench.stdout)).toMatch(/disk is full/)
      // the file (when one was created) holds the last save that fit: valid, never marked complete
      for (const name of files) expect(JSON.parse(readFileSync(path.join(dir, name), 'utf8')).status).not.toBe('complete')
    }
    expect(temporaries(dir)).toEqual([])
  })
})
