import {createParser, type EventSourceMessage} from 'eventsource-parser'

/**
 * Server-sent events read from a byte stream, each stamped with the monotonic time its bytes arrived.
 *
 * Bytes are decoded with ONE streaming TextDecoder (fatal: false): a UTF-8 sequence split across network
 * chunks decodes correctly, and invalid bytes become U+FFFD instead of throwing (synthetic random-token
 * prompts produce such bytes; metrics.md trap 7). Framing is eventsource-parser's (the WHATWG rules: CRLF,
 * multi-line data, comments, `event:` names).
 */

export interface TimedSseMessage {
  /** performance.now() when the network chunk that completed this event was read. */
  atMs: number
  /** The `event:` name, undefined when the server sent none (OpenAI-style streams never do). */
  event: string | undefined
  data: string
}

/**
 * Upper bound for one buffered event: far above any real event (llama.cpp's final /completion event carries
 * the prompt text and all generation settings, a few KB) yet a runaway stream without blank lines cannot
 * eat the process's memory.
 */
export const MAX_SSE_EVENT_CHARS = 16 * 1024 * 1024

export class SseFramingError extends Error {}

/**
 * Yields every SSE message of `body` in order. Messages completed by the same network chunk share its
 * timestamp: that is when the client could first have seen them. Ends when the body ends; whatever
 * partial event is left unterminated at that point is dropped (the server never finished it).
 * Throws whatever the body's reader throws (socket reset, abort) and SseFramingError on an oversized event.
 */
export async function* readSseMessages(
  body: AsyncIterable<Uint8Array>,
  clock: () => number = () => performance.now(),
): AsyncGenerator<TimedSseMessage> {
  const decoder = new TextDecoder('utf-8', {fatal: false})
  let pending: EventSourceMessage[] = []
  let framingError: string | null = null
  const parser = createParser({
    onEvent: (message) => pending.push(message),
    onError: (error) => {
      // Unknown fields and bad `retry:` values are ignorable per the SSE spec; only an oversized event is fatal.
      if (error.type === 'max-buffer-size-exceeded') framingError = error.message
    },
    maxBufferSize: MAX_SSE_EVENT_CHARS,
  })

  for await (const chunk of body) {
    const atMs = clock()
    const text = decoder.decode(chunk, {stream: true})
    // A read that ends inside a UTF-8 sequence can decode to "": feeding it would use up the parser's
    // "first chunk" (where it strips a BOM) and frame the same bytes differently than in one read.
    if (text !== '') parser.feed(text)
    if (framingError !== null) throw new SseFramingError(framingError)
    if (pending.length > 0) {
      const ready = pending
      pending = []
      for (const message of ready) yield {atMs, event: message.event, data: message.data}
    }
  }
  // Flush a trailing incomplete UTF-8 sequence (becomes U+FFFD); it can only matter to an unterminated event.
  const tail = decoder.decode()
  if (tail !== '') parser.feed(tail)
  if (framingError !== null) throw new SseFramingError(framingError)
  const atMs = clock()
  for (const message of pending) yield {atMs, event: message.event, data: message.data}
}
