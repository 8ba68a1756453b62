import {readdirSync, readFileSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

import {CapplanError} from '../../../src/lib/errors.js'
import {readResultFile} from '../../../src/results/read.js'
import {ResultFileWriter} from '../../../src/results/write.js'
import {type FakeDisk, resetDisk} from '../../helpers/fake-disk.js'
import {sampleLevel, sampleResult} from './sample-result.js'

// The disk fills up on the next save the way a kernel does it (test/helpers/fake-disk.ts): the write that
// does not fit is short (no error), the next one fails with ENOSPC. The file on disk must still be the
// previous save, complete, and no temporary file may be left. (test/integration/disk-full.test.ts does the
// same on a real tmpfs.)
const disk = vi.hoisted(() => ({}) as FakeDisk)
vi.mock('node:fs/promises', async (importOriginal) => (await import('../../helpers/fake-disk.js')).fakeFsPromises(await importOriginal(), disk))

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'capplan-diskfull-'))
  resetDisk(disk)
})
afterEach(async () => {
  await rm(dir, {recursive: true, force: true})
})

const leftovers = () => readdirSync(dir).filter((name) => name.endsWith('.tmp'))

async function errorOf(promise: Promise<unknown>): Promise<CapplanError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(CapplanError)
  return error as CapplanError
}

describe('ResultFileWriter when the disk is full', () => {
  it('a save that does not fit (one short write, then ENOSPC): INSUFFICIENT_RESOURCES, the previous valid save kept, no temp file', async () => {
    const running = sampleResult({levels: []})
    const writer = await ResultFileWriter.create(dir, running)
    await writer.save({...running, levels: [sampleLevel(1)]})
    const previous = readFileSync(writer.path, 'utf8')

    // 4,096 bytes left: the bug this guards against left exactly such a 4,096-byte broken JSON file.
    disk.free = 4096
    const error = await errorOf(writer.save({...running, levels: [sampleLevel(1), sampleLevel(2, 40)], status: 'complete'}))
    expect(error.kind).toBe('INSUFFICIENT_RESOURCES')
    expect(error.exitCode).toBe(7)
    expect(error.message).toContain('The disk is full')
    expect(error.message).toContain(writer.path)
    expect(error.message).toContain('still holds the previous save (1 level)')
    expect(error.suggestion).toMatch(/Free some space/)
    expect(readFileSync(writer.path, 'utf8')).toBe(previous)
    expect((await readResultFile(writer.path)).levels).toHaveLength(1)
    expect(leftovers()).toEqual([])
  })

  it('a filesystem that loses bytes without an error: caught by the size check after fsync (exit 7), previous save kept', async () => {
    const running = sampleResult({levels: []})
    const writer = await ResultFileWriter.create(dir, running)
    const previous = readFileSync(writer.path, 'utf8')
    disk.free = 100
    disk.lie = true
    const error = await errorOf(writer.save({...running, levels: [sampleLevel(1)]}))
    expect(error.exitCode).toBe(7)
    expect(readFileSync(writer.path, 'utf8')).toBe(previous)
    expect(leftovers()).toEqual([])
  })

  it('creating the file on a full disk (EDQUOT, EFBIG too): exit 7, nothing written', async () => {
    for (const code of ['ENOSPC', 'EDQUOT', 'EFBIG']) {
      disk.failWrite = code
      const error = await errorOf(ResultFileWriter.create(dir, sampleResult({levels: []})))
      expect([error.exitCode, error.message.endsWith('Nothing was written.')]).toEqual([7, true])
    }
    disk.failWrite = null
    expect(readdirSync(dir)).toEqual([])
  })

  it('short writes with room to spare (at most 512 bytes per call) still save every byte', async () => {
    const running = sampleResult({levels: []})
    const writer = await ResultFileWriter.create(dir, running)
    disk.maxChunk = 512
    await writer.save({...running, levels: [sampleLevel(1, 30), sampleLevel(2, 30)], status: 'complete'})
    expect((await readResultFile(writer.path)).levels).toHaveLength(2)
  })
})
