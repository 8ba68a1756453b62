import {type ChildProcess, spawn} from 'node:child_process'

/**
 * The watchdog of a spawned server: capplan's SIGKILL cannot be caught, so each server gets a tiny node
 * process holding a pipe from capplan that ends the server's group when the pipe reaches EOF — the kernel
 * closes it whenever capplan dies.
 */

/** After EOF the watchdog waits this long between SIGTERM and SIGKILL of the group. */
export const WATCHDOG_GRACE_MS = 2000
/** How often the watchdog looks whether the group it guards is gone (then it exits too). */
const WATCHDOG_POLL_MS = 250

/**
 * The watchdog program, run as `node -e WATCHDOG_SOURCE <pgid> <graceMs> <pollMs>` (an argument array: no
 * shell, and no file to find, so it works from src/ under vitest and from dist/ alike). Its stdin is a pipe
 * whose only write end capplan holds (libuv opens pipes close-on-exec, so no server inherits it): EOF means
 * capplan is gone, whatever killed it. Then SIGTERM to the group, SIGKILL after graceMs, exit once the group
 * is gone. It also exits by itself as soon as the group is gone, so it never outlives the server. A group is
 * gone when kill(-pgid, 0) fails or only zombies are left in it (same test as groupAlive; zombies whose parent
 * died stay until init reaps them, which some container inits never do).
 */
const WATCHDOG_SOURCE = `'use strict'
const fs = require('fs')
const [pgid, graceMs, pollMs] = process.argv.slice(1).map(Number)
function running(stat) {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return fields[0] !== 'Z' && fields[0] !== 'X' && Number(fields[2]) === pgid
}
function groupAlive() {
  try { process.kill(-pgid, 0) } catch { return false }
  if (process.platform !== 'linux') return true
  try { if (running(fs.readFileSync('/proc/' + pgid + '/stat', 'utf8'))) return true } catch {}
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue
    try { if (running(fs.readFileSync('/proc/' + entry + '/stat', 'utf8'))) return true } catch {}
  }
  return false
}
function signalGroup(signal) { try { process.kill(-pgid, signal) } catch {} }
let ending = false
function endGroup() {
  if (ending) return
  ending = true
  signalGroup('SIGTERM')
  const deadline = Date.now() + graceMs
  setInterval(() => {
    if (!groupAlive()) process.exit(0)
    if (Date.now() >= deadline) signalGroup('SIGKILL')
  }, 50)
}
process.stdin.on('end', endGroup)
process.stdin.on('close', endGroup)
process.stdin.on('error', endGroup)
process.stdin.resume()
if (!groupAlive()) process.exit(0)
setInterval(() => { if (!ending && !groupAlive()) process.exit(0) }, pollMs)
`

export interface Watchdog {
  readonly pid: number | undefined
  /** Resolves when the watchdog process has exited (or could not start). */
  readonly gone: Promise<void>
  /** The pipe's write end: ending it is what capplan's death does (tests use it to play that death). */
  readonly pipe: NodeJS.WritableStream | null
  /** SIGKILL the watchdog itself (the group it guards is already gone or being stopped by capplan). */
  kill(): void
}

/**
 * Start the watchdog of process group `pgid`. It is detached (its own session: a Ctrl-C to capplan's terminal
 * group does not reach it) and unref'ed (it never keeps capplan's event loop alive). A watchdog that cannot
 * start leaves the server covered by the exit and signal hooks, as before; nothing else changes.
 */
export function spawnWatchdog(pgid: number, graceMs = WATCHDOG_GRACE_MS): Watchdog {
  let child: ChildProcess
  try {
    child = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, String(pgid), String(graceMs), String(WATCHDOG_POLL_MS)], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: {}, // it needs nothing; NODE_OPTIONS of a test runner (loaders) must not reach it
    })
  } catch {
    return {pid: undefined, gone: Promise.resolve(), pipe: null, kill: () => {}}
  }
  const gone = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', () => resolve()) // could not start
  })
  child.stdin?.on('error', () => {}) // EPIPE once it has exited
  child.unref()
  ;(child.stdin as unknown as {unref?: () => void} | null)?.unref?.()
  return {
    pid: child.pid,
    gone,
    pipe: child.stdin,
    kill: () => {
      // ChildProcess.kill does nothing once Node has reaped it, so a reused pid is never hit. ref() again: a
      // caller awaiting `gone` must keep the event loop alive (an unref'ed child alone would let Node exit 0
      // in the middle of that await, before the caller's error or exit code is reported).
      if (child.exitCode === null && child.signalCode === null) {
        child.ref()
        child.kill('SIGKILL')
      }
    },
  }
}
