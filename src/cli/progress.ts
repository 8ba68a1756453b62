/**
 * A single self-overwriting status line on stderr ("level 2/3 · concurrency 2 · 5/8 requests · 41.3 tok/s").
 * Silent when disabled (--json). When stderr is not a terminal (CI logs, pipes) nothing is redrawn: the
 * permanent log() lines are written, and the status text becomes a line of its own at most every
 * `heartbeatMs` (default 10 s, CAPPLAN_PROGRESS_SECONDS overrides) since the last line written, so a long
 * warmup or level shows it is alive without flooding the log.
 */
export interface StatusLine {
  /** Replace the line's text (throttled: at most every `intervalMs`, except the first and forced updates). */
  update(text: string, force?: boolean): void
  /** Print a permanent line above the status line. */
  log(text: string): void
  /** Erase the status line. */
  clear(): void
}

/** The heartbeat when stderr is not a terminal: CAPPLAN_PROGRESS_SECONDS (a positive number) or 10 s. */
export function defaultHeartbeatMs(env: NodeJS.ProcessEnv = process.env): number {
  const seconds = Number(env['CAPPLAN_PROGRESS_SECONDS'])
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 10_000
}

export function createStatusLine(options: {enabled: boolean; stream?: NodeJS.WriteStream; intervalMs?: number; heartbeatMs?: number}): StatusLine {
  const stream = options.stream ?? process.stderr
  const active = options.enabled && stream.isTTY === true
  const intervalMs = options.intervalMs ?? 250
  let shown = ''
  let lastDraw = -Infinity

  const erase = () => {
    if (shown !== '') stream.write('\r\u001B[2K')
    shown = ''
  }
  const fit = (text: string) => {
    // 0 when the terminal does not say (e.g. under `script`): treat as unknown.
    const width = stream.columns || 120
    return text.length < width ? text : `${text.slice(0, Math.max(0, width - 2))}…`
  }

  if (!options.enabled) return {update() {}, log() {}, clear() {}}
  // Not a terminal (CI, a pipe): no redrawn line; permanent lines go out, and the status as a line now and then.
  if (!active) {
    const heartbeatMs = options.heartbeatMs ?? defaultHeartbeatMs()
    let lastLine = performance.now()
    const line = (text: string) => {
      lastLine = performance.now()
      stream.write(`${text}\n`)
    }
    return {
      update(text) {
        if (performance.now() - lastLine >= heartbeatMs) line(text)
      },
      log: line,
      clear() {},
    }
  }

  return {
    update(text, force = false) {
      const now = performance.now()
      if (!force && now - lastDraw < intervalMs) return
      lastDraw = now
      const line = fit(text)
      stream.write(`\r\u001B[2K${line}`)
      shown = line
    },
    log(text) {
      const current = shown
      erase()
      stream.write(`${text}\n`)
      if (current !== '') {
        stream.write(current)
        shown = current
      }
    },
    clear: erase,
  }
}
