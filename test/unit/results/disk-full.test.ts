import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

import {CapplanError} from '../../../src/lib/errors.js'
import {readResultFile} from '../../../src/results/read.js'
import {ResultFileWriter} from '../../../src/results/write.js'
import {sampleLevel, sampleResult} from './sample-result.js'

// The disk "fills up" on the next atomic save: write-file-atomic fails the way Node does (ENOSPC) before the
// rename, so the file on disk must still be the previous save.
const failNextSave = vi.hoisted(() => ({on: false}))
vi.mock('write-file-atomic', async (importOriginal) => {
  const real = (await importOriginal()) as {default: (...args: unknown[]) => Promise<void>}
  return {
    default: async (...args: unknown[]) => {
      if (failNextSave.on) throw Object.assign(new Error('ENOSPC: no space left on device, write'), {code: 'ENOSPC'})
      return real.default(...args)
    },
  }
})

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'capplan-diskfull-'))
  failNextSave.on = false
})
afterEach(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('ResultFileWriter when the disk is full', () => {
  it('gives a clear INSUFFICIENT_RESOURCES error and keeps the previous valid save', async () => {
    const running = sampleResult({levels: []})
    const writer = await ResultFileWriter.create(dir, running)
    await writer.save({...running, levels: [sampleLevel(1)]})

    failNextSave.on = true
    let caught: unknown
    try {
      await writer.save({...running, levels: [sampleLevel(1), sampleLevel(2)]})
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(CapplanError)
    const error = caught as CapplanError
    expect(error.kind).toBe('INSUFFICIENT_RESOURCES')
    expect(error.exitCode).toBe(7)
    expect(error.message).toContain('The disk is full')
    expect(error.message).toContain('still holds the previous save (1 level)')
    expect(error.suggestion).toMatch(/Free some space/)
    expect((await readResultFile(writer.path)).levels).toHaveLength(1)
  })
})
