import {describe, expect, it} from 'vitest'

import {SseFramingError} from '../../../../src/engines/http/sse.js'
import {readSseMessages} from '../../../helpers/sse-messages.js'
import {llamaFixture} from '../../../helpers/replay-server.js'

/** A body that delivers `bytes` in the given pieces (each piece = one network read). */
async function* pieces(bytes: Uint8Array, cuts: number[]): AsyncGenerator<Uint8Array> {
  let from = 0
  for (const to of [...cuts, bytes.length]) {
    if (to > from) yield bytes.subarray(from, to)
    from = to
  }
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}

describe('readSseMessages', () => {
  it('frames the recorded /completion stream into its 33 events, identically when fed one byte per read', async () => {
    const bytes = llamaFixture('completion_stream_ids.sse')
    const whole = await collect(readSseMessages(pieces(bytes, [])))
    const everyByte = await collect(
      readSseMessages(
        pieces(
          bytes,
          Array.from({length: bytes.length}, (_, i) => i),
        ),
      ),
    )
    // `grep -c '^data:' completion_stream_ids.sse` = 33 (32 tokens + the final stop event).
    expect(whole).toHaveLength(33)
    expect(everyByte.map((m) => m.data)).toEqual(whole.map((m) => m.data))
    expect(JSON.parse(whole[0]!.data)).toMatchObject({content: 'n:!', tokens: [11733], tokens_predicted: 1})
  })

  it('decodes a UTF-8 sequence split across reads, and turns invalid bytes into U+FFFD without throwing', async () => {
    // Protocol edge case (no recorded fixture holds non-ASCII): "é" = C3 A9, "€" = E2 82 AC, then a lone 0xFF.
    const prefix = Buffer.from('data: {"content":"', 'utf8')
    const payload = Buffer.from([0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xff])
    const bytes = Buffer.concat([prefix, payload, Buffer.from('"}\n\n', 'utf8')])
    // Cut inside both multi-byte sequences: after C3, and after E2 82.
    const cuts = [prefix.length + 1, prefix.length + 4]
    const [message] = await collect(readSseMessages(pieces(bytes, cuts)))
    expect(JSON.parse(message!.data)).toEqual({content: 'é€\uFFFD'})
  })

  it('stamps each event with the time of the read that completed it', async () => {
    const bytes = Buffer.from('data: a\n\ndata: b\n\ndata: c\n\n', 'utf8')
    let now = 100
    const clock = () => (now += 10)
    // Reads: "data: a\n\ndata: b" (completes a) then "\n\ndata: c\n\n" (completes b and c).
    const messages = await collect(readSseMessages(pieces(bytes, [16]), clock))
    expect(messages.map((m) => [m.data, m.atMs])).toEqual([
      ['a', 110],
      ['b', 120],
      ['c', 120],
    ])
  })

  it('handles CRLF framing, comments and multi-line data as the SSE spec says', async () => {
    const bytes = Buffer.from(': keep-alive\r\n\r\nevent: error\r\ndata: line1\r\ndata: line2\r\n\r\n', 'utf8')
    const messages = await collect(readSseMessages(pieces(bytes, [])))
    expect(messages.map((m) => ({event: m.event, data: m.data}))).toEqual([{event: 'error', data: 'line1\nline2'}])
  })

  it('a bare CR at the end of a read ends its line when the next read has no newline (fuzz seed 1773806643)', async () => {
    // The fuzz counterexample: "data: \n\r" then U+0800 (E0 A0 80). The CR is a blank line (the SSE spec's
    // line ends: CRLF, LF or CR), so one event with data "" is due, however the bytes are cut. With a read
    // ending right after the CR, eventsource-parser 3.1.1 kept the CR pending and appended the next
    // newline-free read to it unprocessed: the event came with the first later newline, or never.
    const bytes = Buffer.from([100, 97, 116, 97, 58, 32, 10, 13, 224, 160, 128])
    const data = async (cuts: number[]) => (await collect(readSseMessages(pieces(bytes, cuts)))).map((m) => m.data)
    expect(await data([])).toEqual([''])
    for (let first = 0; first <= bytes.length; first++) {
      for (let second = first; second <= bytes.length; second++) expect(await data([first, second]), `cuts ${first}, ${second}`).toEqual([''])
    }
    // Stamped by the read that completed the event: the one with the CR, not a later one.
    let now = 0
    const stamped = await collect(readSseMessages(pieces(Buffer.from('data: x\n\ry\n\ndata: z\n\n', 'utf8'), [9, 10]), () => (now += 10)))
    expect(stamped.map((m) => [m.data, m.atMs])).toEqual([
      ['x', 10],
      ['z', 30],
    ])
    // CR then LF in the next read is one line end (CRLF), not two; CR CR is two; a CR as the last byte ends its line.
    const framedAs = async (text: string, cuts: number[]) => (await collect(readSseMessages(pieces(Buffer.from(text, 'utf8'), cuts)))).map((m) => m.data)
    expect(await framedAs('data: a\r\ndata: b\r\n\r\n', [8, 9, 17, 18])).toEqual(['a\nb'])
    expect(await framedAs('data: a\r\rdata: b\r\r', [8, 18])).toEqual(['a', 'b'])
    expect(await framedAs('data: a\n\r', [])).toEqual(['a'])
  })

  it('drops an unterminated trailing event (the server never finished it)', async () => {
    const bytes = Buffer.from('data: {"a":1}\n\ndata: {"b":', 'utf8')
    const messages = await collect(readSseMessages(pieces(bytes, [])))
    expect(messages.map((m) => m.data)).toEqual(['{"a":1}'])
  })

  it('refuses an event larger than the buffer limit instead of growing without bound', async () => {
    async function* endless(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('data: ', 'utf8')
      const block = Buffer.alloc(1024 * 1024, 0x61)
      for (let i = 0; i < 20; i++) yield block // 20 MiB without a blank line > the 16 MiB limit
    }
    await expect(collect(readSseMessages(endless()))).rejects.toBeInstanceOf(SseFramingError)
  })
})
