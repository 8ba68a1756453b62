import {mkdtemp, readdir, readFile, rm, truncate, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {CapplanBug, CapplanError} from '../../../src/lib/errors.js'
import {MAX_RESULT_FILE_BYTES, parseResultFile, readResultFile} from '../../../src/results/read.js'
import {resultFileName} from '../../../src/results/naming.js'
import {ResultFileWriter, serializeResultFile, writeResultFile} from '../../../src/results/write.js'
import {sampleLevel, sampleResult} from './sample-result.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'capplan-results-'))
})
afterEach(async () => {
  await rm(dir, {recursive: true, force: true})
})

async function rejection(promise: Promise<unknown>): Promise<CapplanError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(CapplanError)
    return error as CapplanError
  }
  throw new Error('expected a rejection')
}

describe('writeResultFile / readResultFile', () => {
  it('round-trips: what is read back equals what was written', async () => {
    const result = sampleResult({levels: [sampleLevel(1), sampleLevel(2, 3)]})
    const path = await writeResultFile(join(dir, 'nested', 'results'), result)
    expect(path).toBe(join(dir, 'nested', 'results', resultFileName(result)))
    expect(await readResultFile(path)).toEqual(result)
  })

  it('writes one line per request (readable, compact) and the text parses back exactly', () => {
    const result = sampleResult({levels: [sampleLevel(1, 3)]})
    const text = serializeResultFile(result)
    expect(JSON.parse(text)).toEqual(result)
    const requestLines = text.split('\n').filter((line) => line.includes('"chunkOffsetsMs"'))
    expect(requestLines).toHaveLength(3)
    expect(JSON.parse(serializeResultFile(sampleResult({levels: []})))).toEqual(sampleResult({levels: []}))
  })

  it('never overwrites: writing the same result twice gives two files, the first unchanged', async () => {
    const first = await writeResultFile(dir, sampleResult({notes: ['first']}))
    const second = await writeResultFile(dir, sampleResult({notes: ['second']}))
    expect(second).toBe(first.replace(/\.json$/, '-2.json'))
    expect((await readResultFile(first)).notes).toEqual(['first'])
    expect((await readResultFile(second)).notes).toEqual(['second'])
    expect((await readdir(dir)).sort()).toEqual([first, second].map((p) => p.slice(dir.length + 1)).sort()) // no temp files left
  })

  it('refuses to write an invalid result, naming the field, and writes nothing: a BUG (exit 1), not INVALID_RESULT (6)', async () => {
    const bad = sampleResult({workload: {...sampleResult().workload, inputTokens: -1}})
    const error = await writeResultFile(dir, bad).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(CapplanBug)
    expect(error).not.toBeInstanceOf(CapplanError)
    expect((error as CapplanBug).exitCode).toBe(1)
    expect((error as CapplanBug).message).toMatch(/^capplan hit a bug: refusing to write .*: the result does not match the result-file schema: workload\.inputTokens: /)
    expect(await readdir(dir)).toEqual([])
  })

  it('refuses non-JSON naming the file and the position', async () => {
    const path = join(dir, 'broken.json')
    await writeFile(path, '{\n  "schemaVersion": 1,\n  oops\n}')
    const error = await rejection(readResultFile(path))
    expect(error.kind).toBe('INVALID_RESULT')
    expect(error.exitCode).toBe(6)
    expect(error.message).toContain(`${path} is not valid JSON`)
    expect(error.message).toContain('line 3, column 3')
  })

  it('says a truncated file ends early', () => {
    const text = serializeResultFile(sampleResult())
    expect(() => parseResultFile(text.slice(0, 200), 'cut.json')).toThrow(/cut\.json is not valid JSON: .*(ends early|position)/)
  })

  it('names the field path of a schema violation', async () => {
    const result = JSON.parse(serializeResultFile(sampleResult()))
    result.levels[0].summary.ttftMs.p50 = null
    const path = join(dir, 'edited.json')
    await writeFile(path, JSON.stringify(result))
    const error = await rejection(readResultFile(path))
    expect(error.message).toContain(path)
    expect(error.message).toContain('levels[0].summary.ttftMs.p50: expected number, received null')
  })

  it('refuses an unknown or newer schemaVersion saying which versions it reads', () => {
    const newer = JSON.stringify({...sampleResult(), schemaVersion: 4})
    expect(() => parseResultFile(newer, 'future.json')).toThrow(
      'future.json has schemaVersion 4; this capplan reads schemaVersion 1, 2 and 3.',
    )
    try {
      parseResultFile(newer, 'future.json')
    } catch (error) {
      expect((error as CapplanError).suggestion).toBe('The file was written by a newer capplan: upgrade capplan to read it.')
    }
    expect(() => parseResultFile(JSON.stringify({...sampleResult(), schemaVersion: 0}), 'old.json')).toThrow(
      'old.json has schemaVersion 0; this capplan reads schemaVersion 1, 2 and 3.',
    )
    expect(() => parseResultFile('{"results": []}', 'peer.json')).toThrow('peer.json has no schemaVersion')
    expect(() => parseResultFile('[1, 2]', 'list.json')).toThrow('found an array')
  })

  it('refuses a file over 256 MiB before reading it', async () => {
    const path = join(dir, 'huge.json')
    await writeFile(path, '')
    await truncate(path, MAX_RESULT_FILE_BYTES + 1) // sparse: costs no disk
    const error = await rejection(readResultFile(path))
    expect(error.kind).toBe('INVALID_RESULT')
    expect(error.message).toMatch(/huge\.json is 256 MiB; capplan reads result files up to 256 MiB/)
  })

  it('a missing file is NOT_FOUND (exit 4)', async () => {
    const error = await rejection(readResultFile(join(dir, 'nope.json')))
    expect(error.exitCode).toBe(4)
  })
})

describe('ResultFileWriter', () => {
  it('saves replace only its own file, which is valid after every save', async () => {
    // A file with the same name already exists: the writer must pick another name and never touch it.
    const bystander = await writeResultFile(dir, sampleResult({notes: ['someone else']}))
    const bystanderText = await readFile(bystander, 'utf8')

    const running = sampleResult({levels: []})
    const writer = await ResultFileWriter.create(dir, running)
    expect(writer.path).not.toBe(bystander)
    expect((await readResultFile(writer.path)).levels).toHaveLength(0)

    await writer.save({...running, levels: [sampleLevel(1)]})
    expect((await readResultFile(writer.path)).levels).toHaveLength(1)

    await writer.save({...running, levels: [sampleLevel(1), sampleLevel(2)], status: 'complete'})
    const final = await readResultFile(writer.path)
    expect(final.levels.map((level) => level.load.value)).toEqual([1, 2])
    expect(final.status).toBe('complete')

    expect(await readFile(bystander, 'utf8')).toBe(bystanderText)
    expect((await readdir(dir)).filter((name) => name.endsWith('.json'))).toHaveLength(2)
    expect((await readdir(dir)).filter((name) => !name.endsWith('.json'))).toEqual([]) // no temp files
  })

  it('refuses to save another run into its file, and an invalid save keeps the previous state', async () => {
    const writer = await ResultFileWriter.create(dir, sampleResult())
    await expect(writer.save(sampleResult({id: '00000000-0000-4000-8000-000000000000'}))).rejects.toThrow(/belongs to run/)
    await expect(writer.save(sampleResult({status: 'done' as never}))).rejects.toThrow(/status/)
    expect((await readResultFile(writer.path)).status).toBe('running')
  })
})

describe('a writer used wrongly by capplan is a BUG (exit 1), not INVALID_INPUT (3)', () => {
  it('refuses to save another run into a writer\'s file', async () => {
    const writer = await ResultFileWriter.create(dir, sampleResult({levels: []}))
    const other = sampleResult({id: '3b241101-e2bb-4255-8caf-4136c566a963'})
    const error = await writer.save(other).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(CapplanBug)
    expect((error as CapplanBug).toJSON()).toMatchObject({kind: 'BUG', exitCode: 1})
  })
})

