import {closeSync, openSync, readdirSync, readFileSync, writeSync} from 'node:fs'
import {open} from 'node:fs/promises'

import {execa} from 'execa'

import {EngineError} from '../../lib/errors.js'
import {fileWriteError} from '../../lib/safe-write.js'
import type {StreamEvent} from '../types.js'
import {spawnWatchdog, type Watchdog} from './watchdog.js'

/**
 * Lifecycle of the engine servers capplan starts (llama-server, vllm serve): every child runs in its OWN
 * process group (detached) with stdout+stderr appended to a log file, is tracked here, and its whole group
 * is killed on stop(), on SIGINT/SIGTERM/SIGHUP and when capplan exits — no server outlives capplan
 * (vLLM forks workers: killing only the leader would orphan them). A SIGKILL of capplan itself cannot be
 * caught, so every server also gets a watchdog (watchdog.ts) that ends the group when capplan dies.
 */

export interface ExitStatus {
  code: number | null
  signal: string | null
}

export interface ManagedProcess {
  readonly pid: number
  /** The command line for messages (secrets redacted by the caller). */
  readonly display: string
  readonly logFile: string
  /** null while running. */
  exitStatus(): ExitStatus | null
  /** Resolves when the leader exits. */
  readonly exited: Promise<ExitStatus>
  /** SIGTERM to the group, SIGKILL after graceMs; resolves when the leader is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
const live = new Set<ManagedProcess>()
let hooked = false

/** Signal a whole process group; false when no process of it is left. */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal)
    return true
  } catch {
    return false
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/** The watchdog of each tracked child (spawnWatchdog). */
const watchdogs = new WeakMap<ManagedProcess, Watchdog>()

function killAllNow(): void {
  for (const child of live) {
    signalGroup(child.pid, 'SIGKILL')
    watchdogs.get(child)?.kill()
  }
}

/**
 * Aborted (with the signal's name as its reason) once capplan gets SIGINT, SIGTERM or SIGHUP while it has a
 * child: a server still starting stops being waited for (SpawnedServer.launch: an INTERRUPTED error, not a
 * server that "exited before it was ready"). Once: an interrupted capplan is on its way out.
 */
const interruption = new AbortController()

/** capplan's own interruption as seen by the servers it spawned (see `interruption`). */
export function capplanInterrupted(): AbortSignal {
  return interruption.signal
}

function onSignal(signal: NodeJS.Signals): void {
  if (!interruption.signal.aborted) interruption.abort(signal)
  for (const child of live) signalGroup(child.pid, 'SIGTERM')
  // A command with its own handler for this signal (bench writes a partial result) decides when to exit
  // and stops its engine itself. Otherwise act like Node's default — die by the signal — after the children.
  if (process.listenerCount(signal) > 1) return
  const deadline = Date.now() + 3000
  while (Date.now() < deadline && [...live].some((child) => groupAlive(child.pid))) sleepSync(50)
  killAllNow()
  unhook()
  process.kill(process.pid, signal)
}

function hook(): void {
  if (hooked) return
  hooked = true
  process.on('exit', killAllNow)
  for (const signal of SIGNALS) process.on(signal, onSignal)
}

function unhook(): void {
  if (!hooked) return
  hooked = false
  process.off('exit', killAllNow)
  for (const signal of SIGNALS) process.off(signal, onSignal)
}

/** Children started and not yet stopped (for tests and diagnostics). */
export function liveProcesses(): ManagedProcess[] {
  return [...live]
}

/**
 * Whether any process of the group led by `pid` is still running. A killed worker whose parent died stays a
 * zombie until init reaps it (some container inits never do) and still answers kill(0): on Linux, /proc
 * tells zombies (state Z/X) from live processes.
 */
export function groupAlive(pid: number): boolean {
  if (!signalGroup(pid, 0)) return false
  if (process.platform !== 'linux') return true
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(pgrp) === pid && state !== 'Z' && state !== 'X') return true
    } catch {
      // the process ended while we looked
    }
  }
  return false
}

async function waitForGroupExit(pid: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (groupAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
}

export interface SpawnOptions {
  /** stdout and stderr are appended here. */
  logFile: string
  env?: Record<string, string>
  /** Shown in messages and the log header instead of the real arguments (redacted). */
  displayArgs?: readonly string[]
}

/**
 * Start `file` with an ARGUMENT ARRAY (never a shell) in its own process group, output to the log file.
 * Throws EngineError when it cannot be started at all (missing binary, not executable).
 */
export async function spawnManaged(file: string, args: readonly string[], options: SpawnOptions): Promise<ManagedProcess> {
  const display = [file, ...(options.displayArgs ?? args)].join(' ')
  let fd: number
  try {
    fd = openSync(options.logFile, 'a')
    writeSync(fd, `\n=== capplan ${new Date().toISOString()}: ${display}\n`)
  } catch (error) {
    // A full disk (exit 7) or an unwritable log dir (exit 3) named with the path, before anything is spawned.
    throw fileWriteError(error, options.logFile)
  }
  let status: ExitStatus | null = null
  let self: ManagedProcess | null = null
  // execa's types only accept literal fd numbers; any open fd works at run time (passed straight to spawn).
  const logFd = fd as 3
  const subprocess = execa(file, [...args], {
    detached: true,
    cleanup: false, // execa's own cleanup only kills the leader; the group kill below covers all
    stdin: 'ignore',
    stdout: logFd,
    stderr: logFd,
    reject: false,
    ...(options.env === undefined ? {} : {env: options.env}),
  })
  closeSync(fd) // the child holds its own copy
  const exited: Promise<ExitStatus> = subprocess.then((result) => {
    status = {code: result.exitCode ?? null, signal: result.signal ?? null}
    if (self !== null) live.delete(self)
    if (live.size === 0) unhook()
    return status
  })
  const pid = subprocess.pid
  if (pid === undefined) {
    const result = await subprocess
    throw new EngineError(
      `Could not start ${file}: ${result.originalMessage || result.shortMessage}.`,
      'Check that the binary exists and is executable (see `capplan engine build`), or pass its path explicitly.',
      display,
    )
  }
  // Started at once, in the same tick as the server: capplan killed in between is the only way to escape it.
  const watchdog = spawnWatchdog(pid)
  let stopping: Promise<void> | null = null
  const managed: ManagedProcess = {
    pid,
    display,
    logFile: options.logFile,
    exitStatus: () => status,
    exited,
    stop: async (graceMs = 5000) => {
      stopping ??= (async () => {
        if (status === null) {
          signalGroup(pid, 'SIGTERM')
          const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref())
          if ((await Promise.race([exited.then(() => 'exited' as const), timer])) === 'timeout') signalGroup(pid, 'SIGKILL')
          await exited
        }
        // The leader is gone; workers it forked may not be (they got the same SIGTERM): give them the
        // grace period, then SIGKILL, and return only once the group is really gone (signals are async).
        await waitForGroupExit(pid, graceMs)
        if (groupAlive(pid)) {
          signalGroup(pid, 'SIGKILL')
          await waitForGroupExit(pid, 5000)
        }
        // Nothing left to guard: end the watchdog now rather than at its next look (and wait, so no test or
        // caller ever sees it outlive stop()).
        watchdog.kill()
        let timer: NodeJS.Timeout | undefined
        await Promise.race([watchdog.gone, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))])
        clearTimeout(timer)
        live.delete(managed)
        if (live.size === 0) unhook()
      })()
      return stopping
    },
  }
  self = managed
  watchdogs.set(managed, watchdog)
  if (status === null) {
    live.add(managed)
    hook()
  }
  return managed
}

/** The last `lines` lines of a log file (reads at most its last 64 KiB); [] when unreadable. */
export async function readLogTail(file: string, lines = 20): Promise<string[]> {
  try {
    const handle = await open(file, 'r')
    try {
      const {size} = await handle.stat()
      const length = Math.min(size, 64 * 1024)
      const buffer = Buffer.alloc(length)
      await handle.read(buffer, 0, length, size - length)
      return buffer.toString('utf8').trimEnd().split(/\r?\n/).slice(-lines)
    } finally {
      await handle.close()
    }
  } catch {
    return []
  }
}

export type ReadyOutcome = 'ready' | 'exited' | 'timeout' | 'interrupted'

/**
 * Poll GET <endpoint>/health until it answers 200 (llama-server says 503 while loading; vLLM refuses the
 * connection), the process exits, `deadline` (a performance.now() time) passes, or `signal` aborts (capplan
 * was interrupted: 'interrupted' at once, whatever the server does then). `exit` is set when it exited.
 */
export async function waitForHealth(
  server: ManagedProcess,
  endpoint: string,
  deadline: number,
  pollMs: number,
  /** Sent with every poll (a server started with --api-key may demand it on /health too). */
  headers: Record<string, string> = {},
  signal: AbortSignal = capplanInterrupted(),
): Promise<{outcome: ReadyOutcome; exit: ExitStatus | null}> {
  let exit: ExitStatus | null = null
  void server.exited.then((status) => {
    exit = status
  })
  while (performance.now() < deadline) {
    if (signal.aborted) return {outcome: 'interrupted', exit}
    if (exit !== null) return {outcome: 'exited', exit}
    try {
      const response = await fetch(`${endpoint}/health`, {headers, signal: AbortSignal.any([AbortSignal.timeout(2000), signal])})
      await response.arrayBuffer()
      if (response.status === 200 && !signal.aborted) return {outcome: 'ready', exit: null}
    } catch {
      // not listening yet (or interrupted: seen at the top of the loop)
    }
    if (signal.aborted) return {outcome: 'interrupted', exit}
    if (exit !== null) return {outcome: 'exited', exit}
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, pollMs)
      signal.addEventListener('abort', done, {once: true})
    })
  }
  return {outcome: signal.aborted ? 'interrupted' : 'timeout', exit}
}

/** "exit code 1", "signal SIGSEGV" or "still running", for messages about a server process. */
export function describeExit(status: ExitStatus | null): string {
  if (status === null) return 'still running'
  return status.signal === null ? `exit code ${status.code}` : `signal ${status.signal}`
}

/** Spawned servers listen here unless the user asks for another address (--host). */
export const DEFAULT_BIND_HOST = '127.0.0.1'

/** A loopback address or name: a server bound there is unreachable from the network. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare)
}

/**
 * The host part of the URL a client on THIS machine uses for a server bound to `bindHost`: a wildcard bind
 * (0.0.0.0, ::) accepts loopback connections, so 127.0.0.1; an IPv6 literal goes in brackets.
 */
export function clientHostFor(bindHost: string): string {
  const bare = bindHost.replace(/^\[(.*)\]$/, '$1')
  if (bare === '0.0.0.0' || bare === '::' || bare === '') return '127.0.0.1'
  return bare.includes(':') ? `[${bare}]` : bare
}

/** The address as a server's --host flag takes it (no brackets). */
export function bindHostArg(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1')
}

/**
 * A spawned server's request error, turned into an 'engine' error naming the exit when the server died. A
 * dropped connection is how a dying server looks from the client, so a drop waits briefly for the exit
 * (exitAfterFailure). The log is not named here (bench keeps it beside the result file under another name);
 * the run's notes hold its last lines. Called on error events only, inside the engine's one loop over a
 * request's events (SpawnedServer.serverStream).
 */
export async function serverDeathError(event: Extract<StreamEvent, {kind: 'error'}>, server: ManagedProcess, name: string): Promise<StreamEvent> {
  const died = event.errorKind === 'dropped' ? await exitAfterFailure(server) : server.exitStatus()
  return died === null ? event : {kind: 'error', errorKind: 'engine', message: `${name} exited (${describeExit(died)}): ${event.message}`}
}

/**
 * The exit status of a server whose request just failed: at once when known, else after waiting up to `ms`
 * for it (a killed server resets its connections a moment before Node reaps it), else null (it runs).
 */
async function exitAfterFailure(server: ManagedProcess, ms = 200): Promise<ExitStatus | null> {
  const known = server.exitStatus()
  if (known !== null) return known
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms)
  })
  try {
    return await Promise.race([server.exited, timeout])
  } finally {
    clearTimeout(timer)
  }
}
