import {SseFramer} from '../../src/engines/http/sse.js'

/** One framed SSE message and when the read that completed it arrived. */
export interface TimedSseMessage {
  atMs: number
  /** The `event:` name, undefined when the server sent none (OpenAI-style streams never do). */
  event: string | undefined
  data: string
}

/**
 * SseFramer over an async byte source, as the stream client drives it: every message completed by one read
 * gets that read's time; what the end of the body completes gets the time of the end.
 */
export async function* readSseMessages(body: AsyncIterable<Uint8Array>, clock: () => number = () => performance.now()): AsyncGenerator<TimedSseMessage> {
  const framer = new SseFramer()
  for await (const chunk of body) {
    const atMs = clock()
    for (const message of framer.push(chunk)) yield {atMs, event: message.event, data: message.data}
  }
  const messages = framer.end()
  const atMs = clock()
  for (const message of messages) yield {atMs, event: message.event, data: message.data}
}
