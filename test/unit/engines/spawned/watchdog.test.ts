import {spawn} from 'node:child_process'
import {closeSync, mkdtempSync, openSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {groupAlive, spawnManaged} from '../../../../src/engines/spawned/process.js'
import {spawnWatchdog, WATCHDOG_GRACE_MS} from '../../../../src/engines/spawned/watchdog.js'
import {alive, cmdlineOf, descendantsOf, waitFor} from '../../../helpers/proc.js'

const dir = mkdtempSync(join(tmpdir(), 'capplan-watchdog-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

/** The first match of `pattern` in the file, waiting up to 5 s for it to appear. */
const waitForLine = async (file: string, pattern: RegExp): Promise<RegExpMatchArray> =>
  (await waitFor(() => readFileSync(file, 'utf8').match(pattern), 5000, 25)) ?? expect.fail(`${pattern} never appeared in ${file}`)

/**
 * The watchdog each managed server gets (capplan SIGKILLed cannot stop its server). Its pipe's write end is held
 * by this test process: ending it is exactly what the kernel does when capplan dies, whatever the signal (the
 * real SIGKILL of the real CLI is test/integration/sigkill.test.ts).
 */
describe('spawnWatchdog', () => {
  /** A detached group like a server's: sh (leader) with a background sleep (a "worker"). */
  async function startGroup(name: string, script = 'sleep 30 & echo "worker=$!"; wait') {
    const log = join(dir, `${name}.log`)
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

  it("spawnManaged starts one for the server's group, with the server's pid as argument; stop() ends it", async () => {
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
