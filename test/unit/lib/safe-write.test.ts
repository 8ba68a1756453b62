import {spawn, spawnSync} from 'node:child_process'
import {chmodSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest'

import {CapplanError} from '../../../src/lib/errors.js'
import {fileWriteError, isDiskFull, openOutputFile, writeFileComplete, writeOutputFile} from '../../../src/lib/safe-write.js'
import {type FakeDisk, resetDisk} from '../../helpers/fake-disk.js'

const disk = vi.hoisted(() => ({}) as FakeDisk)
vi.mock('node:fs/promises', async (importOriginal) => (await import('../../helpers/fake-disk.js')).fakeFsPromises(await importOriginal(), disk))

let dir: string
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'capplan-safe-write-'))
  resetDisk(disk)
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

const text = (n: number) => Array.from({length: n}, (_, i) => String.fromCharCode(97 + (i % 26))).join('')
const leftovers = () => readdirSync(dir).filter((name) => name.endsWith('.tmp'))

async function errorOf(promise: Promise<unknown>): Promise<CapplanError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(CapplanError)
  return error as CapplanError
}

describe('writeOutputFile: complete or not at all', () => {
  it('short writes (at most 7 bytes per call) still write every byte', async () => {
    const file = path.join(dir, 'out.json')
    disk.maxChunk = 7
    const data = `${JSON.stringify({text: text(5000)})}\n`
    await writeOutputFile(file, data)
    expect(readFileSync(file, 'utf8')).toBe(data)
    expect(leftovers()).toEqual([])
  })

  it('the disk filling up mid-write (a short write, then ENOSPC): exit 7 naming the path, the previous file intact, no temp file', async () => {
    const file = path.join(dir, 'report.json')
    writeFileSync(file, 'previous')
    disk.free = 4096
    const error = await errorOf(writeOutputFile(file, text(20_000), {what: 'the report', flag: '--out'}))
    expect([error.kind, error.exitCode]).toEqual(['INSUFFICIENT_RESOURCES', 7])
    expect(error.message).toBe(`--out: the disk is full: could not write the report ${file} completely. The previous file, if any, is unchanged.`)
    expect(error.suggestion).toContain(dir)
    expect(readFileSync(file, 'utf8')).toBe('previous')
    expect(leftovers()).toEqual([])
  })

  it('a filesystem that claims every write but keeps fewer bytes: fstat after fsync catches it (exit 7)', async () => {
    const file = path.join(dir, 'result.json')
    writeFileSync(file, '{"previous": true}')
    disk.free = 1000
    disk.lie = true
    const error = await errorOf(writeOutputFile(file, text(3000)))
    expect(error.exitCode).toBe(7)
    expect(readFileSync(file, 'utf8')).toBe('{"previous": true}')
    expect(leftovers()).toEqual([])
  })

  it.each(['ENOSPC', 'EDQUOT', 'EFBIG'])('%s is a full disk: exit 7', async (code) => {
    disk.failWrite = code
    const error = await errorOf(writeOutputFile(path.join(dir, 'x.json'), 'data'))
    expect(error.exitCode).toBe(7)
    expect(existsSync(path.join(dir, 'x.json'))).toBe(false)
    expect(leftovers()).toEqual([])
  })

  it('a directory, a missing directory, a path below a file: INVALID_INPUT (exit 3) naming the path, no errno text', async () => {
    const below = path.join(dir, 'file')
    writeFileSync(below, 'x')
    const cases: [string, string][] = [
      [dir, `Cannot write the file ${dir}: it is a directory.`],
      [path.join(dir, 'missing', 'r.json'), `Cannot write the file ${path.join(dir, 'missing', 'r.json')}: the directory ${path.join(dir, 'missing')} does not exist.`],
      [path.join(below, 'r.json'), `Cannot write the file ${path.join(below, 'r.json')}: part of the directory path ${below} is not a directory.`],
    ]
    for (const [target, message] of cases) {
      const error = await errorOf(writeOutputFile(target, 'data'))
      expect([error.kind, error.exitCode]).toEqual(['INVALID_INPUT', 3])
      expect(error.message).toBe(`${message} The previous file, if any, is unchanged.`)
    }
  })

  it('EACCES, EROFS, EIO at open: INVALID_INPUT naming the path (never a raw error, never exit 1)', async () => {
    for (const [code, reason] of [
      ['EACCES', `permission denied (is ${dir} writable?)`],
      ['EROFS', 'the filesystem is read-only'],
      ['EIO', 'the disk reported an input/output error'],
      ['EWHATEVER', 'the filesystem refused it (EWHATEVER)'],
    ]) {
      disk.failOpen = code!
      const error = await errorOf(writeOutputFile(path.join(dir, 'r.json'), 'data', {flag: '--out', what: 'the report'}))
      expect([error.kind, error.exitCode]).toEqual(['INVALID_INPUT', 3])
      expect(error.message).toBe(`--out: cannot write the report ${path.join(dir, 'r.json')}: ${reason}. The previous file, if any, is unchanged.`)
    }
  })

  it('a replaced file keeps its mode; a symlink stays a symlink and its target gets the data', async () => {
    const file = path.join(dir, 'private.json')
    writeFileSync(file, 'old')
    chmodSync(file, 0o600)
    await writeOutputFile(file, 'new')
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const link = path.join(dir, 'link.json')
    symlinkSync(file, link)
    await writeOutputFile(link, 'through the link')
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readFileSync(file, 'utf8')).toBe('through the link')
  })

  it('exclusive: never replaces an existing file (EEXIST), the temp file removed', async () => {
    const file = path.join(dir, 'taken.json')
    writeFileSync(file, 'mine')
    await expect(writeFileComplete(file, 'other', {exclusive: true})).rejects.toMatchObject({code: 'EEXIST'})
    expect(readFileSync(file, 'utf8')).toBe('mine')
    expect(leftovers()).toEqual([])
    await writeFileComplete(path.join(dir, 'free.json'), 'fresh', {exclusive: true})
    expect(readFileSync(path.join(dir, 'free.json'), 'utf8')).toBe('fresh')
    expect(leftovers()).toEqual([])
  })

  it('exclusive commit to a second name after EEXIST (the result writer claims name, name-2, ...)', async () => {
    writeFileSync(path.join(dir, 'a.json'), 'taken')
    const file = await openOutputFile(path.join(dir, 'a.json'), {exclusive: true})
    try {
      await file.write('data')
      await expect(file.commit()).rejects.toMatchObject({code: 'EEXIST'})
      await file.commit(path.join(dir, 'a-2.json'))
    } finally {
      await file.discard()
    }
    expect(readFileSync(path.join(dir, 'a-2.json'), 'utf8')).toBe('data')
    expect(leftovers()).toEqual([])
  })
})

describe('writeOutputFile into a device or FIFO: a stream, never renamed over', () => {
  it.skipIf(!existsSync('/dev/null'))('/dev/null stays a character device', async () => {
    await writeOutputFile('/dev/null', text(10_000))
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true)
  })

  const hasMkfifo = spawnSync('mkfifo', ['--version']).status === 0
  it.skipIf(!hasMkfifo)('a FIFO gets every byte and stays a FIFO', async () => {
    const fifo = path.join(dir, 'pipe')
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
    const reader = spawn('cat', [fifo])
    let received = ''
    reader.stdout.setEncoding('utf8').on('data', (chunk: string) => (received += chunk))
    const closed = new Promise((resolve) => reader.on('close', resolve))
    const data = text(100_000)
    await writeOutputFile(fifo, data)
    await closed
    expect(received).toBe(data)
    expect(statSync(fifo).isFIFO()).toBe(true)
    expect(leftovers()).toEqual([])
  })
})

describe('fileWriteError', () => {
  it('passes a CapplanError and a non-errno error through; isDiskFull knows the three codes', () => {
    const bug = new TypeError('x is undefined')
    expect(fileWriteError(bug, '/x')).toBe(bug)
    expect(['ENOSPC', 'EDQUOT', 'EFBIG', 'EIO'].map((code) => isDiskFull({code}))).toEqual([true, true, true, false])
  })
})
