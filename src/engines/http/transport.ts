/** What a transport hands streamRequest, whichever one brought the response (fetch-transport, node-http-transport). */

/**
 * How the request travels. 'fetch' (streamRequest's default): Node's fetch (undici). 'node-http': node:http(s)
 * with each read stamped inside the socket's own 'data' callback, before any web-stream or promise machinery;
 * what every engine uses (spawned servers and, since issue 17, the openai engine).
 * Same events and error kinds (test/unit/engines/http/node-http-transport.test.ts). Measured with
 * bench/loadgen-bench.js --transport on the shared 2-core VM (64 streams x 10 ms, load ~3.5): ITL error p99
 * 3.1-3.4 ms vs 6.6-12.6 ms with fetch, ~25-35 instead of ~45-50 us of client CPU per paced event, fewer GC
 * pauses; at the 256-stream ceiling ~5% more CPU per token (both far above the 100k tok/s target).
 * Not followed by node-http: redirects (fetch follows them).
 */
export type HttpTransport = 'fetch' | 'node-http'

/** One read of a response body and the monotonic time its bytes reached JavaScript. */
export interface TimedRead {
  done: boolean
  value: Uint8Array | undefined
  atMs: number
}

/** What streamRequest needs of a response, whichever transport brought it. */
export interface OpenedResponse {
  status: number
  statusText: string
  contentType: string
  /** Next body read; rejects with the transport's error (reset, abort). */
  read(): Promise<TimedRead>
  /** Stop reading (the rest of the body is not wanted); never throws. */
  cancel(): void
}

/** Up to `limit` characters of a body, for error messages; never throws. */
export async function readTextLimited(response: OpenedResponse, limit = 8192): Promise<string> {
  const decoder = new TextDecoder('utf-8', {fatal: false})
  let text = ''
  try {
    for (;;) {
      const {done, value} = await response.read()
      if (done || value === undefined) break
      text += decoder.decode(value, {stream: true})
      if (text.length > limit) break
    }
    text += decoder.decode()
  } catch {
    // Whatever arrived before the failure is the best detail there is.
  } finally {
    response.cancel()
  }
  return text.length > limit ? text.slice(0, limit) : text
}
