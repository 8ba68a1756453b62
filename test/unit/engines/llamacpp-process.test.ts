import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {groupAlive, liveProcesses, readLogTail, spawnManaged} from '../../../src/engines/process.js'
import {CapplanError} from '../../../src/lib/errors.js'
import {findFreePort} from '../../../src/lib/ports.js'

/** The child-process lifecycle the server engines rely on, with real (tiny) processes: sh and sleep. */

const dir = mkdtempSync(join(tmpdir(), 'capplan-process-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** Running (not a zombie: this container's init does not always reap orphans). */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3))
  } catch {
    return false
  }
}

async function waitForLine(file: string, pattern: RegExp): Promise<RegExpMatchArray> {
  for (let i = 0; i < 200; i++) {
    const match = readFileSync(file, 'utf8').match(pattern)
    if (match !== null) return match
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`${pattern} never appeared in ${file}`)
}

describe('spawnManaged', () => {
  it('kills the whole process group on stop(), grandchildren included, and untracks it', async () => {
    const log = join(dir, 'group.log')
    // sh forks a background sleep (a "worker") and waits: killing only sh would orphan the sleep.
    const child = await spawnManaged('sh', ['-c', 'sleep 30 & echo "worker=$!"; wait'], {logFile: log})
    const worker = Number((await waitForLine(log, /worker=(\d+)/))[1])
    expect(alive(worker)).toBe(true)
    expect(liveProcesses()).toContain(child)
    await child.stop()
    expect(alive(child.pid)).toBe(false)
    expect(alive(worker)).toBe(false)
    expect(groupAlive(child.pid)).toBe(false)
    expect(liveProcesses()).not.toContain(child)
    expect(child.exitStatus()).toEqual({code: null, signal: 'SIGTERM'})
  })

  it('escalates to SIGKILL when the group ignores SIGTERM past the grace period', async () => {
    const log = join(dir, 'stubborn.log')
    const child = await spawnManaged('sh', ['-c', 'trap "" TERM; echo ready; while true; do sleep 1; done'], {logFile: log})
    await waitForLine(log, /^ready$/m) // not the header line, which quotes the script
    await child.stop(200)
    expect(child.exitStatus()).toEqual({code: null, signal: 'SIGKILL'})
    expect(groupAlive(child.pid)).toBe(false)
  })

  it('writes a header and the output to the log; readLogTail returns the last lines', async () => {
    const log = join(dir, 'tail.log')
    const child = await spawnManaged('sh', ['-c', 'for i in 1 2 3 4 5; do echo "line $i"; done; echo oops >&2; exit 3'], {
      logFile: log,
      displayArgs: ['-c', '<script>'],
    })
    expect(await child.exited).toEqual({code: 3, signal: null})
    expect(readFileSync(log, 'utf8')).toMatch(/=== capplan .*: sh -c <script>\n/)
    expect(await readLogTail(log, 3)).toEqual(['line 4', 'line 5', 'oops'])
    expect(liveProcesses()).not.toContain(child)
  })

  it('a missing binary is an EngineError (exit code 8), not a crash', async () => {
    const error = await spawnManaged(join(dir, 'no-such-server'), [], {logFile: join(dir, 'missing.log')}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CapplanError)
    expect((error as CapplanError).exitCode).toBe(8)
    expect((error as CapplanError).message).toContain('no-such-server')
  })
})

describe('findFreePort', () => {
  it('returns a port in the unprivileged range that can be bound at once', async () => {
    const port = await findFreePort()
    expect(port).toBeGreaterThan(1023)
    expect(port).toBeLessThan(65536)
    const {createServer} = await import('node:net')
    const server = createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', resolve)
    })
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
})
