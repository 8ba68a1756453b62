/**
 * THE rule for a path a command will write to, checked before any long work starts (no model loaded, no
 * server spawned, no file read), so a bad output path costs nothing:
 * - a new file in an existing, writable directory: fine;
 * - an existing regular file: replaced (complete or not at all, lib/safe-write), unless it is a capplan result
 *   file (a measurement is never overwritten, whatever its schemaVersion), an input of the same command, or
 *   the command never replaces anything (`mustNotExist`);
 * - an existing character device or FIFO (/dev/null, a named pipe): written as a stream, never replaced;
 * - a directory, a block device, a socket, a path below a file or in a missing directory: refused.
 * Every refusal is INVALID_INPUT (exit 3) naming the flag and the path.
 */

import {constants, type Stats} from 'node:fs'
import {access, open, realpath, stat, statfs} from 'node:fs/promises'
import path from 'node:path'

import {insufficientResources, invalidInput} from './errors.js'
import {errnoCode} from './safe-write.js'

export interface OutputPathRule {
  /** The flag that names the path, for messages ("--out"). */
  flag: string
  /** What the file is ("the report", "the model"). */
  what: string
  /** Files the command reads: the output may not be one of them (same file, by device and inode). */
  inputs?: readonly string[]
  /** The command never replaces a file (import): an existing path of any kind is refused. */
  mustNotExist?: boolean
}

/** What the write will be: a new or replaced regular file, or a stream into an existing device or FIFO. */
export type OutputPathKind = 'new' | 'replace' | 'stream'

const statOrNull = async (file: string): Promise<Stats | null> =>
  stat(file).catch((error: unknown) => {
    if (errnoCode(error) === 'ENOENT') return null
    throw error
  })

/** The nearest directory that exists at or above `dir`, or the error's words for a path below a non-directory. */
async function existingAncestor(dir: string): Promise<{dir: string} | {below: string}> {
  let current = path.resolve(dir)
  for (;;) {
    let info: Stats | null
    try {
      info = await statOrNull(current)
    } catch (error) {
      if (errnoCode(error) === 'ENOTDIR') info = null
      else throw error
    }
    if (info !== null) return info.isDirectory() ? {dir: current} : {below: current}
    const parent = path.dirname(current)
    if (parent === current) return {dir: current}
    current = parent
  }
}

const writable = async (dir: string) =>
  access(dir, constants.W_OK).then(
    () => true,
    () => false,
  )

/** The head of every file capplan's result serializer writes (a truncated one too). */
const RESULT_HEAD = /^\s*\{\s*"schemaVersion"\s*:\s*\d/

/** Larger files are not parsed to look for a result (none is this large); their head still counts. */
const PARSE_LIMIT_BYTES = 512 * 2 ** 20

/**
 * Is `file` a capplan result file, of any schemaVersion: JSON whose top level has a numeric schemaVersion and
 * a levels array, or text starting as capplan's serializer starts every result file (`{"schemaVersion": N`).
 */
export async function isResultFile(file: string, size: number): Promise<boolean> {
  const handle = await open(file, 'r')
  try {
    const head = Buffer.alloc(Math.min(size, 4096))
    const {bytesRead} = await handle.read(head, 0, head.length, 0)
    if (RESULT_HEAD.test(head.subarray(0, bytesRead).toString('utf8'))) return true
    if (size > PARSE_LIMIT_BYTES || !/^\s*\{/.test(head.subarray(0, bytesRead).toString('utf8'))) return false
    const parsed: unknown = JSON.parse(await handle.readFile('utf8'))
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return false
    const record = parsed as Record<string, unknown>
    return typeof record.schemaVersion === 'number' && Array.isArray(record.levels)
  } catch {
    return false
  } finally {
    await handle.close()
  }
}

/** Throws INVALID_INPUT unless `file` may be written by the command (see the module comment); says how. */
export async function checkOutputPath(file: string, rule: OutputPathRule): Promise<OutputPathKind> {
  const {flag, what} = rule
  const refuse = (why: string, suggestion: string) => invalidInput(`${flag} ${file}: ${why}`, suggestion)
  const elsewhere = `Pass ${flag} a file name in an existing, writable directory.`
  let info: Stats | null
  try {
    info = await statOrNull(file)
  } catch (error) {
    const code = errnoCode(error)
    if (code === 'ENOTDIR') {
      const ancestor = await existingAncestor(path.dirname(file))
      throw refuse(`${'below' in ancestor ? ancestor.below : 'part of the path'} is a file, not a directory.`, elsewhere)
    }
    if (code === 'EACCES') throw refuse(`permission denied while looking at the path.`, elsewhere)
    if (code === '') throw error
    throw refuse(`capplan cannot use this path (${code}).`, elsewhere)
  }
  const dir = path.dirname(path.resolve(file))
  if (info === null) {
    const parent = await statOrNull(dir).catch(() => null)
    if (parent === null) throw refuse(`the directory ${dir} does not exist.`, `Create ${dir} first, or pass ${flag} a file in an existing directory.`)
    if (!parent.isDirectory()) throw refuse(`${dir} is not a directory.`, elsewhere)
    if (!(await writable(dir))) throw refuse(`the directory ${dir} is not writable.`, elsewhere)
    return 'new'
  }
  if (info.isDirectory()) throw refuse(`is a directory; ${flag} takes a file name.`, `Pass ${flag} ${path.join(file, `NAME`)} to write ${what} inside it.`)
  if (rule.mustNotExist) throw refuse(`already exists; capplan never overwrites it.`, `Choose another ${flag}, or move the existing file away.`)
  if (info.isCharacterDevice() || info.isFIFO()) return 'stream'
  if (!info.isFile()) throw refuse(`is not a regular file (a block device or a socket); capplan will not write ${what} there.`, elsewhere)
  for (const input of rule.inputs ?? []) {
    const other = await statOrNull(input).catch(() => null)
    if (other !== null && other.isFile() && other.dev === info.dev && other.ino === info.ino) {
      const same = input === file ? 'is an input of this command' : `is the same file as the input ${input}`
      throw refuse(`${same}; writing ${what} there would destroy it.`, `Pass ${flag} another file.`)
    }
  }
  if (await isResultFile(file, info.size)) {
    throw refuse(`is a capplan result file (a measurement); capplan never overwrites one.`, `Pass ${flag} another file name.`)
  }
  // The replacement is written beside the file itself (a symlink's target), then renamed over it.
  const realDir = path.dirname(await realpath(file).catch(() => path.resolve(file)))
  if (!(await writable(realDir))) throw refuse(`the directory ${realDir} is not writable (the file is replaced through a temporary file beside it).`, elsewhere)
  return 'replace'
}

/** A results directory with less free space than this cannot take a result file (see checkResultsDir). */
export const RESULTS_DIR_MIN_FREE_BYTES = 64 * 1024

/**
 * bench --results-dir, before any model is prepared or server spawned: an existing directory (or a path whose
 * nearest existing ancestor is a directory, created later), writable, with at least 64 KiB free (the smallest
 * real result file in results/ is 32 KB, and each save writes a complete copy beside the previous one before
 * the rename). INVALID_INPUT (3) for a path that cannot be a directory or is not writable, INSUFFICIENT_RESOURCES
 * (7) for a full disk.
 */
export async function checkResultsDir(dir: string, flag = '--results-dir'): Promise<void> {
  const suggestion = `Pass ${flag} a directory you can write to (it is created when missing).`
  const ancestor = await existingAncestor(dir)
  if ('below' in ancestor) {
    throw invalidInput(
      ancestor.below === path.resolve(dir) ? `${flag} ${dir} is a file, not a directory.` : `${flag} ${dir}: ${ancestor.below} is a file, not a directory.`,
      suggestion,
    )
  }
  if (!(await writable(ancestor.dir))) {
    throw invalidInput(
      `${flag} ${dir}: ${ancestor.dir === path.resolve(dir) ? 'the directory' : `its nearest existing directory ${ancestor.dir}`} is not writable.`,
      suggestion,
    )
  }
  const fs = await statfs(ancestor.dir).catch(() => null)
  if (fs === null) return
  const free = Number(fs.bavail) * Number(fs.bsize)
  if (free < RESULTS_DIR_MIN_FREE_BYTES) {
    throw insufficientResources(
      `${flag} ${dir}: the disk is full (${free.toLocaleString('en-US')} bytes free; a result file needs at least ${RESULTS_DIR_MIN_FREE_BYTES / 1024} KiB).`,
      `Free some space, or pass ${flag} a directory on another disk, and run again.`,
    )
  }
}
