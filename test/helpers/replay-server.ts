import {readFileSync} from 'node:fs'
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo, Socket} from 'node:net'
import {fileURLToPath} from 'node:url'

/**
 * A local HTTP server on port 0 that replays RECORDED bytes (test/fixtures/llama-server, copied byte for
 * byte from /work/shared/fixtures) with fault injection: the body cut at chosen byte offsets (every byte,
 * mid-UTF-8), delays between writes, the socket dropped midway, a stream that never ends, HTTP errors with
 * the recorded error bodies. A test double for protocol edge cases only; real behaviour is tested against
 * a real llama-server in test/integration.
 */

const fixtureDir = fileURLToPath(new URL('../fixtures/llama-server/', import.meta.url))

/** A recorded llama-server file, as bytes. */
export function llamaFixture(name: string): Buffer {
  return readFileSync(`${fixtureDir}${name}`)
}

export interface ReplayRoute {
  status?: number
  headers?: Record<string, string>
  body: Buffer | string
  /**
   * How the body is cut into separate socket writes: a number = pieces of that many bytes (1 = every byte
   * on its own), an array = explicit cut offsets, undefined = one write.
   */
  chunks?: number | number[]
  /** Wait between two writes (lets each piece reach the client as its own network read). */
  delayMs?: number
  /** Destroy the socket after writing this many body bytes (a server crash mid-stream). */
  dropAfterBytes?: number
  /** After the body (or the part written), keep the response open and never end it. */
  hang?: boolean
  /** Close the connection without answering at all (what a stale keep-alive socket looks like). */
  closeWithoutResponse?: boolean
}

export interface RecordedRequest {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: string
}

export interface ReplayServer {
  /** http://127.0.0.1:PORT */
  url: string
  requests: RecordedRequest[]
  /** Route key: "POST /completion" (method + path, query ignored). */
  route(key: string, route: ReplayRoute | ((request: RecordedRequest) => ReplayRoute)): void
  close(): Promise<void>
}

/**
 * Parse a recorded raw HTTP response (status line, headers, blank line, body) such as
 * error_prompt_too_long.txt into a route replaying the same status, content type and body.
 */
export function rawHttpRoute(raw: Buffer): ReplayRoute {
  const text = raw.toString('latin1')
  const split = text.search(/\r?\n\r?\n/)
  const head = text.slice(0, split).split(/\r?\n/)
  const bodyStart = split + (text.slice(split).startsWith('\r\n\r\n') ? 4 : 2)
  const status = Number.parseInt(head[0]!.split(' ')[1]!, 10)
  const headers: Record<string, string> = {}
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':')
    const name = line.slice(0, colon).trim().toLowerCase()
    // Length and connection handling are node's own business; replay the descriptive headers only.
    if (['content-length', 'connection', 'keep-alive'].includes(name)) continue
    headers[name] = line.slice(colon + 1).trim()
  }
  return {status, headers, body: raw.subarray(bodyStart)}
}

function cutPoints(length: number, chunks: ReplayRoute['chunks']): number[] {
  if (chunks === undefined) return [length]
  if (typeof chunks === 'number') {
    const points: number[] = []
    for (let at = chunks; at < length; at += chunks) points.push(at)
    points.push(length)
    return points
  }
  return [...chunks.filter((at) => at > 0 && at < length), length]
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function play(response: ServerResponse, route: ReplayRoute, sockets: Set<Socket>): Promise<void> {
  if (route.closeWithoutResponse === true) {
    response.socket?.destroy()
    return
  }
  const body = typeof route.body === 'string' ? Buffer.from(route.body, 'utf8') : route.body
  const status = route.status ?? 200
  response.writeHead(status, {'content-type': status === 200 ? 'text/event-stream' : 'application/json', ...route.headers})
  response.flushHeaders()
  response.socket?.setNoDelay(true)
  const limit = route.dropAfterBytes ?? body.length
  let written = 0
  for (const end of cutPoints(body.length, route.chunks)) {
    const stop = Math.min(end, limit)
    if (stop > written) {
      response.write(body.subarray(written, stop))
      written = stop
    }
    if (written >= limit) break
    if (route.delayMs !== undefined) await sleep(route.delayMs)
    else await new Promise((resolve) => setImmediate(resolve))
  }
  if (route.dropAfterBytes !== undefined && route.dropAfterBytes < body.length) {
    // Let the written bytes leave, then cut the connection without a proper chunked-encoding end.
    await sleep(20)
    response.socket?.destroy()
    return
  }
  if (route.hang === true) {
    if (response.socket !== null) sockets.add(response.socket)
    return
  }
  response.end()
}

export async function startReplayServer(): Promise<ReplayServer> {
  const routes = new Map<string, ReplayRoute | ((request: RecordedRequest) => ReplayRoute)>()
  const requests: RecordedRequest[] = []
  const hanging = new Set<Socket>()
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const path = new URL(request.url ?? '/', 'http://localhost').pathname
      const recorded: RecordedRequest = {method: request.method ?? 'GET', path, headers: request.headers, body: Buffer.concat(chunks).toString('utf8')}
      requests.push(recorded)
      const found = routes.get(`${recorded.method} ${path}`)
      if (found === undefined) {
        response.writeHead(404, {'content-type': 'application/json'})
        response.end(JSON.stringify({error: {code: 404, message: `no replay route for ${recorded.method} ${path}`, type: 'not_found_error'}}))
        return
      }
      void play(response, typeof found === 'function' ? found(recorded) : found, hanging).catch(() => response.socket?.destroy())
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    route: (key, route) => routes.set(key, route),
    close: async () => {
      for (const socket of hanging) socket.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
