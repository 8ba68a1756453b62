import type * as FsPromises from 'node:fs/promises'

/**
 * A disk that fills up, for unit tests of lib/safe-write and its callers without a real small filesystem
 * (test/integration/disk-full.test.ts mounts one). Install it in a test file with
 *
 *   const disk = vi.hoisted(() => ({} as FakeDisk))
 *   vi.mock('node:fs/promises', async (importOriginal) =>
 *     (await import('../../helpers/fake-disk.js')).fakeFsPromises(await importOriginal(), disk))
 *
 * and set the fields per test (resetDisk in beforeEach). Writes through FileHandle.write behave as a full
 * kernel does: a write larger than what is left writes what fits and returns that count (a short write, no
 * error); the next one fails with ENOSPC. `lie` makes the handle claim every byte was written while only
 * `free` bytes were (a filesystem that loses data silently: only fstat after fsync sees it).
 */
export interface FakeDisk {
  /** Bytes the disk still takes, across every file opened for writing (Infinity: no limit). */
  free: number
  /** The most one write call writes (short writes even with room left). */
  maxChunk: number
  /** Claim full writes while writing only what fits. */
  lie: boolean
  /** Fail the next open for writing with this errno code (then clear it). */
  failOpen: string | null
  /** Fail every write with this errno code (ENOSPC, EDQUOT, EFBIG, EIO). */
  failWrite: string | null
}

export function resetDisk(disk: FakeDisk): void {
  Object.assign(disk, {free: Infinity, maxChunk: Infinity, lie: false, failOpen: null, failWrite: null})
}

const errno = (code: string, syscall: string, file: string) => Object.assign(new Error(`${code}: fake disk, ${syscall} '${file}'`), {code, syscall, path: file})

const writing = (flags: unknown) => typeof flags === 'number' || (typeof flags === 'string' && /[wa+]/.test(flags))

export function fakeFsPromises(real: typeof FsPromises, disk: FakeDisk): typeof FsPromises {
  resetDisk(disk)
  const open: typeof FsPromises.open = async (file, flags, mode) => {
    if (writing(flags) && disk.failOpen !== null) {
      const code = disk.failOpen
      disk.failOpen = null
      throw errno(code, 'open', String(file))
    }
    const handle = await real.open(file, flags, mode)
    if (!writing(flags)) return handle
    const write = async (buffer: Uint8Array, offset = 0, length = buffer.length - offset, position: number | null = null) => {
      if (disk.failWrite !== null) throw errno(disk.failWrite, 'write', String(file))
      if (disk.free <= 0 && length > 0 && !disk.lie) throw errno('ENOSPC', 'write', String(file))
      const fits = Math.max(0, Math.min(length, disk.maxChunk, disk.free))
      const {bytesWritten} = fits === 0 ? {bytesWritten: 0} : await handle.write(buffer, offset, fits, position)
      disk.free -= bytesWritten
      return {bytesWritten: disk.lie ? length : bytesWritten, buffer}
    }
    // FileHandle.writeFile loops until everything is written or a write throws, as Node's does.
    const writeFile = async (data: string | Uint8Array, options?: BufferEncoding | {encoding?: BufferEncoding | null}) => {
      const encoding = (typeof options === 'string' ? options : options?.encoding) ?? 'utf8'
      const bytes = typeof data === 'string' ? Buffer.from(data, encoding) : data
      for (let offset = 0; offset < bytes.length;) {
        const {bytesWritten} = await write(bytes, offset, bytes.length - offset, null)
        offset += bytesWritten
      }
    }
    return new Proxy(handle, {
      get(target, property) {
        if (property === 'write') return write
        if (property === 'writeFile') return writeFile
        const value: unknown = Reflect.get(target, property)
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
      },
    })
  }
  return {...real, open, default: {...real, open}} as typeof FsPromises
}
