import {createHash} from 'node:crypto'
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

import {ensureSyntheticModel, estimateSyntheticFileBytes} from '../../../src/gguf/synth.js'
import {CapplanError} from '../../../src/lib/errors.js'
import {type FakeDisk, resetDisk} from '../../helpers/fake-disk.js'
import {tinyQwen2} from '../../helpers/tiny-models.js'

/**
 * The synthetic model and its sidecar on a disk that fills up or writes in small pieces
 * (test/helpers/fake-disk.ts): the GGUF writer used to count the bytes it asked for, not the bytes written,
 * so a short write left a truncated model renamed into place; a full disk was a raw ENOSPC (exit 1).
 */
const disk = vi.hoisted(() => ({}) as FakeDisk)
vi.mock('node:fs/promises', async (importOriginal) => (await import('../../helpers/fake-disk.js')).fakeFsPromises(await importOriginal(), disk))

let dir: string
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'capplan-synth-disk-'))
  resetDisk(disk)
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

const leftovers = () => readdirSync(dir).filter((name) => name.endsWith('.tmp'))

describe('ensureSyntheticModel on a disk that fills up', () => {
  it('short writes (at most 1,000 bytes per call): every byte reaches the file, its sha256 is the one returned', async () => {
    disk.maxChunk = 1000
    const outFile = path.join(dir, 'tiny.gguf')
    const result = await ensureSyntheticModel({profile: tinyQwen2, quant: 'int4', outFile})
    const bytes = readFileSync(outFile)
    expect(bytes.length).toBe(estimateSyntheticFileBytes(tinyQwen2, 'int4'))
    expect(result.bytes).toBe(bytes.length)
    expect(result.sha256).toBe(createHash('sha256').update(bytes).digest('hex'))
    expect(leftovers()).toEqual([])
  })

  it('the disk full halfway through the model: exit 7 naming --output and the file, the previous model intact, no temp file', async () => {
    const outFile = path.join(dir, 'tiny.gguf')
    const first = await ensureSyntheticModel({profile: tinyQwen2, quant: 'int4', outFile})
    const previous = readFileSync(outFile)
    disk.free = Math.floor(first.bytes / 2)
    const error = await ensureSyntheticModel({profile: tinyQwen2, quant: 'int4', outFile, force: true, seed: 7}).then(
      () => null,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(CapplanError)
    expect((error as CapplanError).exitCode).toBe(7)
    expect((error as CapplanError).message).toBe(
      `--output: the disk is full: could not write the synthetic model ${outFile} completely. The previous file, if any, is unchanged.`,
    )
    expect(readFileSync(outFile).equals(previous)).toBe(true)
    expect(leftovers()).toEqual([])
  })
})
