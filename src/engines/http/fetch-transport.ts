import type {OpenedResponse, TimedRead} from './transport.js'

/**
 * fetch's body as OpenedResponse. Each read is stamped in the microtask where it resolves (the earliest
 * moment JS sees the bytes through fetch) and the next read is asked for at once, before the caller parses
 * this one: a fetch body only pulls from the socket while a read is pending.
 */
export function fetchResponse(response: Response, clock: () => number): OpenedResponse {
  const reader = response.body?.getReader() ?? null
  const timedRead = (): Promise<TimedRead> => {
    if (reader === null) return Promise.resolve({done: true, value: undefined, atMs: clock()})
    const pending = reader.read().then((read) => ({done: read.done, value: read.value, atMs: clock()}))
    pending.catch(() => {}) // awaited by read(); this only keeps an abandoned read from being "unhandled"
    return pending
  }
  let next: Promise<TimedRead> | null = null
  let finished = false
  return {
    status: response.status,
    statusText: response.statusText,
    contentType: response.headers.get('content-type') ?? '',
    read: async () => {
      const current = await (next ?? timedRead())
      next = current.done ? null : timedRead()
      if (current.done) finished = true
      return current
    },
    cancel: () => {
      if (!finished && reader !== null) reader.cancel().catch(() => {})
      finished = true
    },
  }
}
