import {createServer, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

import {describe, expect, it} from 'vitest'

import {nodeHttpPost} from '../../../../src/engines/http/node-http-transport.js'

/**
 * node-http's arrival stamps do not wait for other streams' processing: two sockets readable in the same
 * poll are both stamped before either reader runs (readers are woken in the check phase). Without that,
 * the second stream's stamp came after the first stream's whole processing (here 40 ms of busy work per reader).
 */

const busy = (ms: number) => {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // the reader's work on its chunk (framing, interpreter, bookkeeping), stretched
  }
}

describe('nodeHttpPost stamps', () => {
  it('two chunks readable in one poll: the second is stamped within 40 ms of the first although each reader works 40 ms on its chunk', async () => {
    const responses: ServerResponse[] = []
    const server = createServer((req, res) => {
      req.resume()
      res.writeHead(200, {'content-type': 'text/event-stream'})
      res.flushHeaders()
      responses.push(res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/completion`)
    try {
      const signal = new AbortController().signal
      const [a, b] = await Promise.all([0, 1].map(() => nodeHttpPost(url, {}, '{}', false, signal, () => performance.now())))
      while (responses.length < 2) await new Promise((resolve) => setTimeout(resolve, 5))
      // Both reads pending before any byte comes, as in the stream loop.
      const readA = a!.read().then((read) => {
        busy(40)
        return read
      })
      const readB = b!.read().then((read) => {
        busy(40)
        return read
      })
      // Both chunks leave now; the loop is then blocked, so the next poll finds both sockets readable.
      responses[0]!.write('data: a\n\n')
      responses[1]!.write('data: b\n\n')
      busy(30)
      const [first, second] = await Promise.all([readA, readB])
      expect(Buffer.from(first.value!).toString()).toBe('data: a\n\n')
      expect(Buffer.from(second.value!).toString()).toBe('data: b\n\n')
      expect(Math.abs(second.atMs - first.atMs)).toBeLessThan(40)
      a!.cancel()
      b!.cancel()
    } finally {
      for (const res of responses) res.destroy()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
