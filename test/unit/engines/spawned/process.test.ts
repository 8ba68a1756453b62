import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {pathToFileURL} from 'node:url'

import {afterAll, describe, expect, it} from 'vitest'

import {bindHostArg, clientHostFor, groupAlive, isLoopbackHost, liveProcesses, readLogTail, spawnManaged} from '../../../../src/engines/spawned/process.js'
import {CapplanError} from '../../../../src/lib/errors.js'
import {findFreePort} from '../../../../src/lib/ports.js'
import {alive, waitFor} from '../../../helpers/proc.js'

/** The child-process lifecycle the server engines rely on, with real (tiny) processes: sh and sleep. */

const dir = mkdtempSync(join(tmpdir(), 'capplan-process-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** The first match of `pattern` in the file, waiting up to 5 s for it to appear. */
const waitForLine = async (file: string, pattern: RegExp): Promise<RegExpMatchArray> =>
  (await waitFor(() => readFileSync(file, 'utf8').match(pattern), 5000, 25)) ?? expect.fail(`${pattern} never appeared in ${file}`)

describe('spawnManaged', () => {
  it('a log file it cannot open is one CapplanError naming the path (exit 3), not a raw errno, and nothing is spawned', async () => {
    const missing = join(dir, 'no-such-dir', 'server.log')
    const error = await spawnManaged('sh', ['-c', 'echo started'], {logFile: missing}).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(CapplanError)
    expect((error as CapplanError).exitCode).toBe(3)
    expect((error as CapplanError).message).toContain(missing)
    expect(existsSync(missing)).toBe(false)
  })

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

// The built module (npm test builds first): a plain node process, where nothing else keeps the event loop alive.
const builtProcessModule = resolve(import.meta.dirname, '..', '..', '..', '..', 'dist', 'engines', 'spawned', 'process.js')

describe.skipIf(!existsSync(builtProcessModule))('spawnManaged in a plain node process (dist/)', () => {
  it("awaiting stop() keeps Node alive until it returns: the watchdog (unref'ed) must not let it exit 0 mid-await", () => {
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

describe('bind and client addresses', () => {
  it('loopback addresses are 127.0.0.0/8, ::1 and localhost; wildcards and others are not', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopbackHost(host)).toBe(true)
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'example.com', '128.0.0.1']) expect(isLoopbackHost(host)).toBe(false)
  })

  it('a client reaches a wildcard bind on 127.0.0.1, an IPv6 address in brackets, anything else as given', () => {
    expect(clientHostFor('0.0.0.0')).toBe('127.0.0.1')
    expect(clientHostFor('::')).toBe('127.0.0.1')
    expect(clientHostFor('[::]')).toBe('127.0.0.1')
    expect(clientHostFor('::1')).toBe('[::1]')
    expect(clientHostFor('10.0.0.5')).toBe('10.0.0.5')
    expect(bindHostArg('[::1]')).toBe('::1')
  })
})
