import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {pathToFileURL} from 'node:url'

import {afterAll, describe, expect, it} from 'vitest'

import {groupAlive, liveProcesses, readLogTail, spawnManaged, spawnWatchdog, WATCHDOG_GRACE_MS} from '../../../../src/engines/spawned/process.js'
import {CapplanError} from '../../../../src/lib/errors.js'
import {findFreePort} from '../../../../src/lib/ports.js'
import {cmdlineOf, descendantsOf, waitFor} from '../../../helpers/proc.js'

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

/**
 * The watchdog each managed server gets (capplan SIGKILLed cannot stop its server). Its pipe's write end is held
 * by this test process: ending it is exactly what the kernel does when capplan dies, whatever the signal (the
 * real SIGKILL of the real CLI is test/integration/sigkill.test.ts).
 */
describe('spawnWatchdog', () => {
  /** A detached group like a server's: sh (leader) with a background sleep (a "worker"). */
  async function startGroup(name: string, script = 'sleep 30 & echo "worker=$!"; wait') {
    const log = join(dir, `${name}.log`)
    const {openSync, closeSync} = await import('node:fs')
    const fd = openSync(log, 'a')
    const leader = spawn('sh', ['-c', script], {detached: true, stdio: ['ignore', fd, fd]})
    closeSync(fd)
    const exited = new Promise<{code: number | null; signal: string | null}>((resolve) => leader.once('exit', (code, signal) => resolve({code, signal})))
    const worker = Number((await waitForLine(log, /worker=(\d+)/))[1])
    return {pgid: leader.pid!, worker, exited, log}
  }

  it('EOF on its pipe (capplan died) -> SIGTERM to the whole group, then it exits itself', async () => {
    const group = await startGroup('eof')
    const watchdog = spawnWatchdog(group.pgid)
    expect(watchdog.pid).toBeGreaterThan(0)
    // It runs while the pipe is open and the group lives (it must not end anything on its own).
    await new Promise((resolve) => setTimeout(resolve, 600))
    expect(alive(watchdog.pid!)).toBe(true)
    expect(groupAlive(group.pgid)).toBe(true)
    watchdog.pipe!.end()
    expect(await group.exited).toEqual({code: null, signal: 'SIGTERM'})
    expect(await waitFor(() => !groupAlive(group.pgid) && !alive(group.worker), 3000)).toBe(true)
    await watchdog.gone
    expect(alive(watchdog.pid!)).toBe(false)
  })

  it('a group that ignores SIGTERM is SIGKILLed after the grace period', async () => {
    const group = await startGroup('stubborn-eof', 'trap "" TERM; sleep 30 & echo "worker=$!"; while true; do sleep 1; done')
    const watchdog = spawnWatchdog(group.pgid, 300)
    watchdog.pipe!.end()
    expect(await group.exited).toEqual({code: null, signal: 'SIGKILL'})
    await watchdog.gone
    expect(groupAlive(group.pgid)).toBe(false)
    expect(alive(group.worker)).toBe(false)
  })

  it('never outlives the group: it exits by itself once the group is gone (pipe still open)', async () => {
    const group = await startGroup('ends', 'sleep 0.5 & echo "worker=$!"; wait')
    const watchdog = spawnWatchdog(group.pgid)
    expect(await group.exited).toEqual({code: 0, signal: null})
    // Its look every 250 ms finds the group gone.
    expect(await waitFor(() => !alive(watchdog.pid!), 3000)).toBe(true)
    await watchdog.gone
  })

  it('spawnManaged starts one for the server\'s group, with the server\'s pid as argument; stop() ends it', async () => {
    const child = await spawnManaged('sh', ['-c', 'sleep 30'], {logFile: join(dir, 'watched.log')})
    const watchdogs = () =>
      descendantsOf(process.pid).filter((pid) => {
        const args = cmdlineOf(pid)
        return args[1] === '-e' && args[3] === String(child.pid)
      })
    const found = await waitFor(() => (watchdogs().length === 1 ? watchdogs() : null), 3000)
    expect(found).toHaveLength(1)
    // Its own session and group (setsid): a Ctrl-C to capplan's terminal group does not reach it.
    const stat = readFileSync(`/proc/${found![0]}/stat`, 'utf8')
    const [, , pgrp, session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    expect(Number(pgrp)).toBe(found![0])
    expect(Number(session)).toBe(found![0])
    expect(cmdlineOf(found![0]!).slice(3)).toEqual([String(child.pid), String(WATCHDOG_GRACE_MS), '250'])
    await child.stop()
    expect(alive(found![0]!)).toBe(false)
    expect(watchdogs()).toEqual([])
  })
})

// The built module (npm test builds first): a plain node process, where nothing else keeps the event loop alive.
const builtProcessModule = resolve(import.meta.dirname, '..', '..', '..', '..', 'dist', 'engines', 'spawned', 'process.js')

describe.skipIf(!existsSync(builtProcessModule))('spawnManaged in a plain node process (dist/)', () => {
  it('awaiting stop() keeps Node alive until it returns: the watchdog (unref\'ed) must not let it exit 0 mid-await', () => {
    const script = [
      `import {spawnManaged} from ${JSON.stringify(pathToFileURL(builtProcessModule).href)}`,
      `const child = await spawnManaged('sh', ['-c', 'sleep 30'], {logFile: ${JSON.stringify(join(dir, 'plain.log'))}})`,
      'await child.stop()',
      "console.log('stopped')",
      'process.exitCode = 5',
    ].join('\n')
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {encoding: 'utf8', timeout: 30_000})
    expect([run.status, run.stdout.trim()], run.stderr).toEqual([5, 'stopped'])
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
