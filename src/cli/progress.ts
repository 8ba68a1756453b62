/**
 * A single self-overwriting status line on stderr ("level 2/3 · concurrency 2 · 5/8 requests · 41.3 tok/s").
 * Silent when disabled (--json). When stderr is not a terminal the redrawn line is left out (CI logs and
 * pipes stay clean) and only the permanent log() lines are written.
 */
export interface StatusLine {
  /** Replace the line's text (throttled: at most every `intervalMs`, except the first and forced updates). */
  update(text: string, force?: boolean): void
  /** Print a permanent line above the status line. */
  log(text: string): void
  /** Erase the status line. */
  clear(): void
}

export function createStatusLine(options: {enabled: boolean; stream?: NodeJS.WriteStream; intervalMs?: number}): StatusLine {
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

  // Not a terminal (CI, a pipe): no redrawn line, but permanent lines still go out, one per line.
  if (!active) return {update() {}, log: options.enabled ? (text) => void stream.write(`${text}\n`) : () => {}, clear() {}}

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
