import {createServer} from 'node:net'

/**
 * A TCP port that is free right now on `host`: listen on port 0 (the OS picks), read it, close. Another
 * process could take it before the caller binds it; callers that spawn a server on it must treat a bind
 * failure as retryable (SpawnedServer retries with a new port).
 */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error(`could not read the port the OS assigned on ${host}`))))
    })
  })
}
