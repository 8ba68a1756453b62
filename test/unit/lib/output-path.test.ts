import {spawnSync} from 'node:child_process'
import {existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {CapplanError} from '../../../src/lib/errors.js'
import {checkOutputPath, checkResultsDir, isResultFile} from '../../../src/lib/output-path.js'
import {serializeResultFile} from '../../../src/results/write.js'
import {sampleResult} from '../results/sample-result.js'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'capplan-output-path-'))
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

const rule = {flag: '--out', what: 'the report'} as const

async function refusal(promise: Promise<unknown>): Promise<CapplanError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(CapplanError)
  return error as CapplanError
}

const put = (name: string, text: string) => {
  const file = path.join(dir, name)
  writeFileSync(file, text)
  return file
}

describe('checkOutputPath', () => {
  it('a new file in an existing directory, an existing report: fine', async () => {
    expect(await checkOutputPath(path.join(dir, 'report.md'), rule)).toBe('new')
    const old = put('report.json', JSON.stringify({results: [], invalid: []}))
    expect(await checkOutputPath(old, rule)).toBe('replace')
  })

  it('a directory, a missing directory, a path below a file: INVALID_INPUT (3) naming the flag and the path', async () => {
    const file = put('a-file', 'x')
    const cases: [string, string][] = [
      [dir, `--out ${dir}: is a directory; --out takes a file name.`],
      [path.join(dir, 'nope', 'r.json'), `--out ${path.join(dir, 'nope', 'r.json')}: the directory ${path.join(dir, 'nope')} does not exist.`],
      [path.join(file, 'r.json'), `--out ${path.join(file, 'r.json')}: ${file} is a file, not a directory.`],
      [path.join(file, 'deeper', 'r.json'), `--out ${path.join(file, 'deeper', 'r.json')}: ${file} is a file, not a directory.`],
    ]
    for (const [target, message] of cases) {
      const error = await refusal(checkOutputPath(target, rule))
      expect([error.kind, error.exitCode, error.message]).toEqual(['INVALID_INPUT', 3, message])
    }
  })

  it('never a capplan result file, of any schemaVersion, parsed or by its head (a truncated one too)', async () => {
    const v2 = put('v2.json', serializeResultFile(sampleResult()))
    const v1 = put('v1.json', JSON.stringify({schemaVersion: 1, id: 'x', levels: []}))
    const future = put('v9.json', JSON.stringify({id: 'x', levels: [], schemaVersion: 9}))
    const cut = put('cut.json', serializeResultFile(sampleResult()).slice(0, 200))
    for (const file of [v2, v1, future, cut]) {
      const error = await refusal(checkOutputPath(file, rule))
      expect(error.message).toBe(`--out ${file}: is a capplan result file (a measurement); capplan never overwrites one.`)
      expect(readFileSync(file, 'utf8').length).toBeGreaterThan(0)
    }
    // not results: a report, a peer's file, any other JSON, text
    for (const text of ['{"results": [], "invalid": []}', '[{"model": "x"}]', '{"schemaVersion": "2"}', 'plain text']) {
      expect(await isResultFile(put('other', text), text.length)).toBe(false)
    }
  })

  it('never an input of the same command: the same path, a hard link or a symlink to it', async () => {
    const input = put('llama_bench.json', '[{"model": "x"}]')
    const hard = path.join(dir, 'hard.json')
    linkSync(input, hard)
    const soft = path.join(dir, 'soft.json')
    symlinkSync(input, soft)
    expect((await refusal(checkOutputPath(input, {...rule, inputs: [input]}))).message).toBe(
      `--out ${input}: is an input of this command; writing the report there would destroy it.`,
    )
    for (const out of [hard, soft]) {
      expect((await refusal(checkOutputPath(out, {...rule, inputs: [input]}))).message).toBe(
        `--out ${out}: is the same file as the input ${input}; writing the report there would destroy it.`,
      )
    }
    expect(await checkOutputPath(path.join(dir, 'other.json'), {...rule, inputs: [input]})).toBe('new')
  })

  it('mustNotExist (import): any existing path is refused', async () => {
    const file = put('taken.json', '{}')
    const error = await refusal(checkOutputPath(file, {...rule, mustNotExist: true}))
    expect(error.message).toBe(`--out ${file}: already exists; capplan never overwrites it.`)
  })

  it.skipIf(!existsSync('/dev/null'))('/dev/null is a stream (written in place, never replaced)', async () => {
    expect(await checkOutputPath('/dev/null', rule)).toBe('stream')
  })

  const hasMkfifo = spawnSync('mkfifo', ['--version']).status === 0
  it.skipIf(!hasMkfifo)('a FIFO is a stream', async () => {
    const fifo = path.join(dir, 'pipe')
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
    expect(await checkOutputPath(fifo, rule)).toBe('stream')
  })
})

describe('checkResultsDir', () => {
  it('an existing directory, or a missing one below an existing directory: fine', async () => {
    await checkResultsDir(dir)
    await checkResultsDir(path.join(dir, 'new', 'deeper'))
  })

  it('a regular file, or a path below one: INVALID_INPUT (3) naming --results-dir and the path', async () => {
    const file = put('results', 'x')
    const error = await refusal(checkResultsDir(file))
    expect([error.kind, error.exitCode, error.message]).toEqual(['INVALID_INPUT', 3, `--results-dir ${file} is a file, not a directory.`])
    const below = await refusal(checkResultsDir(path.join(file, 'sub')))
    expect(below.message).toBe(`--results-dir ${path.join(file, 'sub')}: ${file} is a file, not a directory.`)
    mkdirSync(path.join(dir, 'ok'))
    await checkResultsDir(path.join(dir, 'ok'))
  })
})
