/**
 * THE way capplan writes a file: complete or not at all. A regular file is written to a temporary file beside
 * it with a full write loop (a short write, which the disk filling up produces without an error, is
 * continued until the kernel says ENOSPC), fsynced, its size checked with fstat, and only then renamed over
 * the target (or linked to it, never replacing anything, when `exclusive`): a failure at any step leaves the
 * previous file as it was and no temporary file behind. A character device or FIFO that exists (/dev/null,
 * /dev/stdout, a named pipe) is written as a plain stream, never renamed over; a directory is refused.
 *
 * Errors: a full disk (ENOSPC, EDQUOT, EFBIG, bytes missing after fsync) is INSUFFICIENT_RESOURCES (exit 7)
 * naming the path; any other filesystem refusal (a directory, a missing directory, no permission, a
 * read-only disk) is one INVALID_INPUT sentence naming the path (fileWriteError). Callers that need their own
 * words (results/write.ts) catch the raw error from writeFileComplete and use isDiskFull.
 */

import {randomBytes} from 'node:crypto'
import {constants} from 'node:fs'
import {type FileHandle, link, open, realpath, rename, stat, unlink} from 'node:fs/promises'
import path from 'node:path'

import {CapplanError, insufficientResources, invalidInput} from './errors.js'

/** The errno code of a filesystem error, '' for anything else. */
export const errnoCode = (error: unknown): string => {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return typeof code === 'string' ? code : ''
}

const DISK_FULL = new Set(['ENOSPC', 'EDQUOT', 'EFBIG'])

/** The error means the disk (or the quota, or the file size limit) is full: INSUFFICIENT_RESOURCES. */
export const isDiskFull = (error: unknown): boolean => DISK_FULL.has(errnoCode(error))

/** A write whose bytes did not all reach the file: the disk filled up. Carries ENOSPC so callers map it like one. */
function missingBytes(file: string, expected: number, actual: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`only ${actual} of ${expected} bytes reached ${file}`), {code: 'ENOSPC', path: file})
}

/** Write all of `bytes` at `position` onward: FileHandle.write may write less than asked without an error. */
async function writeAll(handle: FileHandle, file: string, bytes: Uint8Array, position: number | null): Promise<number> {
  let offset = 0
  while (offset < bytes.length) {
    const {bytesWritten} = await handle.write(bytes, offset, bytes.length - offset, position === null ? null : position + offset)
    if (bytesWritten <= 0) throw missingBytes(file, bytes.length, offset)
    offset += bytesWritten
  }
  return offset
}

const toBytes = (data: string | Uint8Array): Uint8Array => (typeof data === 'string' ? Buffer.from(data, 'utf8') : data)

export interface OutputFileOptions {
  /** Never replace an existing file: the name is claimed with link(2), EEXIST if it exists (also a device). */
  exclusive?: boolean
  /** Mode of a new file (default 0o666 less the umask); a replaced file keeps its own mode. */
  mode?: number
}

/** A file being written: write() as often as needed, then commit() (or discard() on failure). */
export interface OutputFile {
  /** The path the data goes to when committed (a symlink's target). */
  readonly target: string
  /** True for a device or FIFO written in place (no temporary file, no rename). */
  readonly streamed: boolean
  /** Bytes written so far. */
  readonly bytes: number
  write(data: string | Uint8Array): Promise<void>
  /**
   * Make it final: fsync, check the size on disk, close, then rename over `as` (default the target) or, when
   * exclusive, link to it (EEXIST when the name exists; the temporary file stays for another name).
   */
  commit(as?: string): Promise<void>
  /** Close and remove the temporary file (safe to call after commit or twice). */
  discard(): Promise<void>
}

/** Where the data of `target` really goes: a symlink is followed, so the link stays a link. */
async function resolveTarget(target: string): Promise<string> {
  try {
    return await realpath(target)
  } catch {
    return path.resolve(target)
  }
}

/**
 * Open `target` for a complete write: a temporary file beside a regular (or new) file, the node itself for an
 * existing character device or FIFO. Throws the raw filesystem error (EISDIR for a directory).
 */
export async function openOutputFile(target: string, options: OutputFileOptions = {}): Promise<OutputFile> {
  // Exclusive never replaces anything, so what is there now does not matter: the claim decides (EEXIST).
  if (options.exclusive) return temporaryFile(path.resolve(target), options.mode ?? 0o666, null, true)
  const real = await resolveTarget(target)
  const existing = await stat(real).catch((error: unknown) => {
    if (errnoCode(error) === 'ENOENT') return null
    throw error
  })
  if (existing?.isDirectory()) throw Object.assign(new Error(`${real} is a directory`), {code: 'EISDIR', path: real})
  if (existing !== null && !existing.isFile()) {
    if (!existing.isCharacterDevice() && !existing.isFIFO()) {
      throw Object.assign(new Error(`${real} is not a regular file, a character device or a FIFO`), {code: 'ENOTREGULAR', path: real})
    }
    return streamedFile(real, await open(real, constants.O_WRONLY | constants.O_APPEND))
  }
  return temporaryFile(real, options.mode ?? 0o666, existing === null ? null : existing.mode & 0o7777, false)
}

/** A device or FIFO: written as a stream (what `> /dev/null` does), never fsynced, renamed or removed. */
function streamedFile(target: string, handle: FileHandle): OutputFile {
  let bytes = 0
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await handle.close()
  }
  return {
    target,
    streamed: true,
    get bytes() {
      return bytes
    },
    async write(data) {
      bytes += await writeAll(handle, target, toBytes(data), null)
    },
    async commit() {
      await close()
    },
    async discard() {
      await close().catch(() => {})
    },
  }
}

/** `keepMode`: the mode of the file being replaced, set on the new one (open's mode is cut by the umask). */
async function temporaryFile(target: string, mode: number, keepMode: number | null, exclusive: boolean): Promise<OutputFile> {
  const temporary = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await open(temporary, 'wx', mode)
  if (keepMode !== null) {
    await handle.chmod(keepMode).catch(async (error: unknown) => {
      await handle.close().catch(() => {})
      await unlink(temporary).catch(() => {})
      throw error
    })
  }
  let bytes = 0
  let closed = false
  let finished = false
  const close = async () => {
    if (closed) return
    closed = true
    await handle.close()
  }
  const finish = async () => {
    if (finished) return
    await handle.sync()
    const onDisk = (await handle.stat()).size
    if (onDisk !== bytes) throw missingBytes(target, bytes, onDisk)
    await close()
    finished = true
  }
  const file: OutputFile = {
    target,
    streamed: false,
    get bytes() {
      return bytes
    },
    async write(data) {
      bytes += await writeAll(handle, target, toBytes(data), bytes)
    },
    async commit(as = target) {
      await finish()
      if (exclusive) await claimName(temporary, as)
      else await rename(temporary, as)
      await syncDirectory(path.dirname(as))
    },
    async discard() {
      await close().catch(() => {})
      await unlink(temporary).catch(() => {})
    },
  }
  return file
}

const noHardLinks = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'])

/**
 * Give the finished temporary file the name `target` unless that name exists (EEXIST), then remove the
 * temporary name. Where the filesystem has no hard links (some FUSE/exFAT mounts), reserve the name with an
 * exclusive create, then rename over that placeholder (ours, so replacing it overwrites nothing).
 */
async function claimName(temporary: string, target: string): Promise<void> {
  try {
    await link(temporary, target)
  } catch (error) {
    if (!noHardLinks.has(errnoCode(error))) throw error
    await (await open(target, 'wx')).close()
    await rename(temporary, target)
    return
  }
  await unlink(temporary).catch(() => {})
}

/** The rename itself survives a power cut only once the directory is synced; best effort (not every fs allows it). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => null)
  if (handle === null) return
  await handle.sync().catch(() => {})
  await handle.close().catch(() => {})
}

/**
 * Write `data` to `target` completely (see the module comment) or throw the raw filesystem error, leaving the
 * previous file (if any) untouched and no temporary file behind.
 */
export async function writeFileComplete(target: string, data: string | Uint8Array, options: OutputFileOptions = {}): Promise<void> {
  const file = await openOutputFile(target, options)
  try {
    await file.write(data)
    await file.commit()
  } finally {
    await file.discard()
  }
}

export interface OutputWords {
  /** What the file is, for messages: "the report", "the model" (default "the file"). */
  what?: string
  /** The flag that named the path ("--out"): messages start with it. */
  flag?: string
  /** What is left on disk after a failure (default: "The previous file, if any, is unchanged."). */
  kept?: string
}

const reasons: Record<string, (dir: string) => string> = {
  EISDIR: () => 'it is a directory',
  ENOENT: (dir) => `the directory ${dir} does not exist`,
  ENOTDIR: (dir) => `part of the directory path ${dir} is not a directory`,
  EACCES: (dir) => `permission denied (is ${dir} writable?)`,
  EPERM: (dir) => `the operation is not permitted (is ${dir} writable?)`,
  EROFS: () => 'the filesystem is read-only',
  EEXIST: () => 'it already exists',
  ENAMETOOLONG: () => 'the name is too long',
  ELOOP: () => 'it is a loop of symbolic links',
  ENOTREGULAR: () => 'it is neither a regular file nor a device or FIFO capplan can write to',
  ENXIO: () => 'it is a socket or a FIFO without a reader',
  EINVAL: () => 'the filesystem refused the name or the write',
  EIO: () => 'the disk reported an input/output error',
}

/**
 * A failed write of `target` as one CapplanError naming the path (and the flag): a full disk is
 * INSUFFICIENT_RESOURCES (exit 7), any other filesystem refusal INVALID_INPUT (exit 3). A CapplanError passes
 * through; an error without an errno code is returned unchanged (a bug, for the command to report).
 */
export function fileWriteError(error: unknown, target: string, words: OutputWords = {}): unknown {
  if (error instanceof CapplanError) return error
  const code = errnoCode(error)
  if (code === '') return error
  const what = words.what ?? 'the file'
  const lead = (text: string) => (words.flag === undefined ? text.charAt(0).toUpperCase() + text.slice(1) : `${words.flag}: ${text}`)
  const kept = words.kept ?? 'The previous file, if any, is unchanged.'
  const dir = path.dirname(path.resolve(target))
  if (isDiskFull(error)) {
    return insufficientResources(
      lead(`the disk is full: could not write ${what} ${target} completely. ${kept}`),
      `Free some space on the disk that holds ${dir} (or write elsewhere) and run again.`,
    )
  }
  const reason = reasons[code]?.(dir) ?? `the filesystem refused it (${code})`
  return invalidInput(lead(`cannot write ${what} ${target}: ${reason}. ${kept}`), 'Pass a path to a file in an existing, writable directory.')
}

/** writeFileComplete with its errors as CapplanErrors (fileWriteError): for every output but the result file. */
export async function writeOutputFile(target: string, data: string | Uint8Array, words: OutputWords & OutputFileOptions = {}): Promise<void> {
  try {
    await writeFileComplete(target, data, words)
  } catch (error) {
    throw fileWriteError(error, target, words)
  }
}
