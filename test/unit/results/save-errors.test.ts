import {mkdtemp, rm, unlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {basename, join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

import {CapplanError} from '../../../src/lib/errors.js'
import {readResultFile} from '../../../src/results/read.js'
import {ResultFileWriter, writeResultFile} from '../../../src/results/write.js'
import {type FakeDisk, resetDisk} from '../../helpers/fake-disk.js'
import {sampleLevel, sampleResult} from './sample-result.js'

/**
 * The results directory removed or made unwritable while a run lasts: one CapplanError naming the directory and
 * saying exactly what is still on disk. Removal is real (rm -r). Permission errors are injected at open
 * (test/helpers/fake-disk.ts; these tests run as root, which no chmod stops), failing the way Node does.
 */
const disk = vi.hoisted(() => ({}) as FakeDisk)
vi.mock('node:fs/promises', async (importOriginal) => (await import('../../helpers/fake-disk.js')).fakeFsPromises(await importOriginal(), disk))

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'capplan-save-errors-'))
  resetDisk(disk)
})
afterEach(async () => {
  await rm(dir, {recursive: true, force: true})
})

/** A writer that has saved the start state and one finished level; returns it and the next state to save. */
async function writerWithOneLevel() {
  const running = sampleResult({levels: []})
  const writer = await ResultFileWriter.create(dir, running)
  await writer.save({...running, levels: [sampleLevel(1)]})
  return {writer, next: {...running, levels: [sampleLevel(1), sampleLevel(2)]}}
}

async function errorOf(promise: Promise<unknown>): Promise<CapplanError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(CapplanError)
  return error as CapplanError
}

describe('ResultFileWriter.save when the results directory goes away or turns read-only', () => {
  it('directory removed (ENOENT): NOT_FOUND (exit 4) naming the directory; the previous save went with it', async () => {
    const {writer, next} = await writerWithOneLevel()
    await rm(dir, {recursive: true})
    const error = await errorOf(writer.save(next))
    expect([error.kind, error.exitCode]).toEqual(['NOT_FOUND', 4])
    expect(error.message).toBe(
      `The results directory ${dir} no longer exists (removed while capplan ran?): could not write the result file ${basename(writer.path)}. ` +
        'The directory is gone, and the previous save (1 level) with it: the measurements of this run so far are lost (unless the directory was moved, not deleted).',
    )
    expect(error.suggestion).toMatch(/^Leave the results directory in place while a run lasts/)
  })

  it('not writable (EACCES) with the file still there: INVALID_INPUT (exit 3); the file keeps the previous save', async () => {
    const {writer, next} = await writerWithOneLevel()
    disk.failOpen = 'EACCES'
    const error = await errorOf(writer.save(next))
    expect([error.kind, error.exitCode]).toEqual(['INVALID_INPUT', 3])
    expect(error.message).toBe(
      `Cannot write the result file ${writer.path}: the results directory ${dir} is not writable (EACCES). ` +
        'The file still holds the previous save (1 level); only what was measured since is lost.',
    )
    expect((await readResultFile(writer.path)).levels).toHaveLength(1)
  })

  it('read-only filesystem (EROFS) after the file itself was deleted: says nothing of this run is left', async () => {
    const {writer, next} = await writerWithOneLevel()
    await unlink(writer.path)
    disk.failOpen = 'EROFS'
    const error = await errorOf(writer.save(next))
    expect([error.kind, error.exitCode]).toEqual(['INVALID_INPUT', 3])
    expect(error.message).toBe(
      `Cannot write the result file ${writer.path}: the results directory ${dir} is not writable (EROFS). ` +
        'The file is gone (deleted during the run): the measurements of this run so far are lost.',
    )
  })

  it('only the file deleted, directory writable: the next save simply writes it again (nothing lost)', async () => {
    const {writer, next} = await writerWithOneLevel()
    await unlink(writer.path)
    await writer.save(next)
    expect((await readResultFile(writer.path)).levels).toHaveLength(2)
  })

  it('another filesystem error (EIO): INVALID_INPUT naming the file and what is kept, never a raw error (exit 1)', async () => {
    const {writer, next} = await writerWithOneLevel()
    disk.failWrite = 'EIO'
    const error = await errorOf(writer.save(next))
    expect([error.kind, error.exitCode]).toEqual(['INVALID_INPUT', 3])
    expect(error.message).toBe(
      `Cannot write the result file ${writer.path}: the disk reported an input/output error. The file still holds the previous save (1 level); only what was measured since is lost.`,
    )
    disk.failWrite = null
    expect((await readResultFile(writer.path)).levels).toHaveLength(1)
  })
})

describe('writeResultFile into a path that cannot be a directory', () => {
  it('below a regular file (ENOTDIR): NOT_FOUND naming the path; nothing written', async () => {
    const file = join(dir, 'a-file')
    await writeFile(file, 'x')
    const error = await errorOf(writeResultFile(join(file, 'results'), sampleResult({levels: []})))
    expect([error.kind, error.exitCode]).toEqual(['NOT_FOUND', 4])
    expect(error.message).toMatch(new RegExp(`^Cannot create the result file ${file}/results/\\S+\\.json: part of the directory path ${file}/results is missing or not a directory \\(ENOTDIR\\)\\. Nothing was written\\.$`))
  })
})
