/**
 * Ctrl-C and SIGTERM (a scheduler, `kill`, a container stop) as one AbortSignal: the first asks the command to
 * save what it has and stop; a second means "now" (exit 130 at once: the files on disk already hold every
 * finished step).
 */
export function interruptSignal(onFirst: () => void): {signal: AbortSignal; dispose: () => void} {
  const controller = new AbortController()
  const handler = () => {
    if (controller.signal.aborted) process.exit(130)
    onFirst()
    controller.abort()
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
  }
}
