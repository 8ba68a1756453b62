import {createParser, type EventSourceMessage, type EventSourceParser} from 'eventsource-parser'

/**
 * Server-sent events framed from a byte stream, read by read (the stream client stamps each read).
 *
 * Bytes are decoded with ONE streaming TextDecoder (fatal: false): a UTF-8 sequence split across network
 * chunks decodes correctly, and invalid bytes become U+FFFD instead of throwing (synthetic random-token
 * prompts produce such bytes; metrics.md trap 7). Framing is eventsource-parser's (the WHATWG rules: CRLF,
 * multi-line data, comments, `event:` names).
 */

/**
 * Upper bound for one buffered event: far above any real event (llama.cpp's final /completion event carries
 * the prompt text and all generation settings, a few KB) yet a runaway stream without blank lines cannot
 * eat the process's memory.
 */
export const MAX_SSE_EVENT_CHARS = 16 * 1024 * 1024

export class SseFramingError extends Error {}

/**
 * Bytes in, the SSE messages they complete out. No timing and no
 * promise: the stream client feeds it straight from its body reader, so no async-generator layer sits
 * between a network read and the events it completes (each layer costs microtasks per event, and at 64
 * streams in step that per-event cost is what delays the LAST stream's timestamp of a burst).
 */
export class SseFramer {
  private readonly decoder = new TextDecoder('utf-8', {fatal: false})
  private pending: EventSourceMessage[] = []
  /** The last text fed ended in CR: an LF starting the next one completes that CRLF (see feed). */
  private skipLf = false
  private framingError: string | null = null
  private readonly parser: EventSourceParser = createParser({
    onEvent: (message) => this.pending.push(message),
    onError: (error) => {
      // Unknown fields and bad `retry:` values are ignorable per the SSE spec; only an oversized event is fatal.
      if (error.type === 'max-buffer-size-exceeded') this.framingError = error.message
    },
    maxBufferSize: MAX_SSE_EVENT_CHARS,
  })

  /** The messages completed by one network chunk, in order. Throws SseFramingError on an oversized event. */
  push(chunk: Uint8Array): EventSourceMessage[] {
    this.feed(this.decoder.decode(chunk, {stream: true}))
    return this.take()
  }

  /**
   * The body ended: flushes a trailing incomplete UTF-8 sequence (becomes U+FFFD; it can only matter to an
   * unterminated event) and returns what that completed. A partial event left unterminated is dropped.
   */
  end(): EventSourceMessage[] {
    this.feed(this.decoder.decode())
    return this.take()
  }

  /**
   * Feeds decoded text with every line end said as LF (the SSE spec's line ends are CRLF, LF and a bare CR).
   * eventsource-parser (3.1.1) keeps a CR that ends a feed pending, to see whether LF follows, and appends a
   * next feed WITHOUT any CR/LF to its pending text unprocessed: a bare CR split from what follows was not
   * seen until a later read brought a newline (the event it ended came late, or never when the body ended
   * first: the fuzz seed 1773806643, "data: \n\r" then U+0800). Here a CR ends its line at once (as LF), and
   * an LF at the start of the next read, the rest of a CRLF, is dropped. Empty text is not fed: a read that
   * ends inside a UTF-8 sequence decodes to "", and feeding it would use up the parser's "first chunk"
   * (where it strips a BOM) and frame the same bytes differently.
   */
  private feed(decoded: string): void {
    let text = decoded
    if (text === '') return
    if (this.skipLf && text.charCodeAt(0) === LF) text = text.slice(1)
    this.skipLf = text.charCodeAt(text.length - 1) === CR
    if (text.includes('\r')) text = text.replaceAll(/\r\n?/g, '\n')
    if (text !== '') this.parser.feed(text)
  }

  private take(): EventSourceMessage[] {
    if (this.framingError !== null) throw new SseFramingError(this.framingError)
    if (this.pending.length === 0) return noMessages
    const ready = this.pending
    this.pending = []
    return ready
  }
}

const CR = 13
const LF = 10

/** Shared empty result: most reads of a paced stream complete one event, many complete none. */
const noMessages: EventSourceMessage[] = []
