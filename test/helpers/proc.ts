import {readdirSync, readFileSync} from 'node:fs'

/**
 * Processes from Linux /proc, for integration tests that check what capplan started and that none of it
 * outlives capplan. Only pids collected while capplan ran are checked later (a pid is not reused within a
 * test's few seconds on a machine with a 4M pid space).
 */

interface ProcStat {
  pid: number
  ppid: number
  state: string
}

function statOf(pid: number): ProcStat | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return {pid, ppid: Number(ppid), state: state ?? '?'}
  } catch {
    return null
  }
}

/** Running (not zombie) process with this pid. */
export function alive(pid: number): boolean {
  const stat = statOf(pid)
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X'
}

/** The argument vector of a process ([] when it is gone). */
export function cmdlineOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter((arg) => arg !== '')
  } catch {
    return []
  }
}

/** Every live descendant of `root` (children, their children, ...), from the ppid links in /proc. */
export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = statOf(Number(entry))
    if (stat === null || stat.state === 'Z' || stat.state === 'X') continue
    const siblings = children.get(stat.ppid) ?? []
    siblings.push(stat.pid)
    children.set(stat.ppid, siblings)
  }
  const found: number[] = []
  const queue = [root]
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child)
      queue.push(child)
    }
  }
  return found
}

/**
 * Collects every descendant of `root` seen while it runs (polling /proc), with its command line, so a test
 * can check afterwards that none is alive — also those whose parent died and were re-parented to init.
 */
export class DescendantWatcher {
  readonly seen = new Map<number, string[]>()
  private readonly timer: NodeJS.Timeout

  constructor(
    readonly root: number,
    intervalMs = 50,
  ) {
    this.poll()
    this.timer = setInterval(() => this.poll(), intervalMs)
  }

  poll(): void {
    for (const pid of descendantsOf(this.root)) {
      // Read again each time: between fork and exec a child still shows its parent's command line.
      const args = cmdlineOf(pid)
      if (args.length > 0 || !this.seen.has(pid)) this.seen.set(pid, args)
    }
  }

  /**
   * Test cleanup when an expectation failed with capplan still running: SIGTERM first (capplan then stops
   * its server itself; a SIGKILL would orphan it), then SIGKILL whatever is left of everything seen.
   */
  async endAll(child: {pid?: number | undefined; kill: (signal: NodeJS.Signals) => boolean}, ms = 10_000): Promise<void> {
    this.stop()
    // capplan ended on its own: nothing to clean up, and its survivors are for the test to see.
    if (child.pid === undefined || !alive(child.pid)) return
    child.kill('SIGTERM')
    await waitFor(() => !alive(child.pid!), ms)
    for (const pid of [child.pid, ...this.seen.keys()]) {
      if (!alive(pid)) continue
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone meanwhile
      }
    }
  }

  stop(): void {
    clearInterval(this.timer)
  }

  /** Seen processes whose program is `name` (e.g. llama-server). */
  named(name: string): number[] {
    return [...this.seen].filter(([, args]) => args[0]?.endsWith(name) === true).map(([pid]) => pid)
  }

  /** Seen llama-server processes that serve (they have --port), not the probes capplan runs first (--help, --version). */
  servers(): number[] {
    return this.named('llama-server').filter((pid) => this.seen.get(pid)!.includes('--port'))
  }

  /** Seen processes still alive, as "pid: command line". */
  survivors(): string[] {
    return [...this.seen].filter(([pid]) => alive(pid)).map(([pid, args]) => `${pid}: ${args.join(' ')}`)
  }
}

/** Wait until `check` holds or `ms` pass; returns its last value. */
export async function waitFor<T>(check: () => T | null | undefined | false, ms: number, stepMs = 50): Promise<T | null> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = check()
    if (value !== null && value !== undefined && value !== false) return value
    if (Date.now() >= deadline) return null
    await new Promise((resolve) => setTimeout(resolve, stepMs))
  }
}

/**
 * The local addresses listening on TCP `port`, as /proc/net/tcp{,6} writes them: "0100007F" = 127.0.0.1,
 * "00000000" = 0.0.0.0 (every interface); IPv6 ones are 32 hex digits.
 */
export function listeningAddresses(port: number): string[] {
  const addresses: string[] = []
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      const local = fields[1]
      const state = fields[3]
      if (local === undefined || state !== '0A') continue // 0A = LISTEN
      const [address, portHex] = local.split(':')
      if (Number.parseInt(portHex ?? '', 16) === port) addresses.push(address!)
    }
  }
  return addresses
}
