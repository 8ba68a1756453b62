import fc from 'fast-check'
import {afterEach, describe, expect, it, vi} from 'vitest'

import {MAX_SSE_EVENT_CHARS} from '../../../src/engines/http/sse.js'
import {readSseMessages} from '../../helpers/sse-messages.js'
import {StreamInterpreter} from '../../../src/engines/http/interpreter.js'
import type {ClientEvent, WireProtocol} from '../../../src/engines/http/protocols.js'
import {streamRequest} from '../../../src/engines/http/stream.js'
import {requestErrorKinds} from '../../../src/results/schema.js'
import {applyMutation, byteMutation, collect, fixtureFiles, fuzzOptions, pieces} from './fuzz-helpers.js'

/**
 * Issue 7 §3, SSE: the framing (readSseMessages) and the per-protocol interpretation (StreamInterpreter, driven
 * by the real streamRequest over a stubbed fetch: no socket) fed recorded streams cut anywhere, damaged
 * recorded streams, and arbitrary bytes.
 */

const recorded = [...fixtureFiles('test/fixtures/llama-server', /\.sse$/), ...fixtureFiles('test/fixtures/vllm', /\.sse$/)]

/** Which protocol a recorded stream speaks (by its file name: the recordings say which endpoint they came from). */
function protocolOf(name: string): WireProtocol {
  if (name.includes('chat')) return 'openai-chat'
  if (name.includes('v1_completions') || name.includes('vllm')) return 'openai-completions'
  return 'llamacpp-completion'
}

const framed = (messages: {event: string | undefined; data: string}[]) => messages.map(({event, data}) => ({event, data}))

/** All of streamRequest's events for `body` delivered in the given reads, with fetch stubbed (no network). */
async function streamEvents(body: Uint8Array, cuts: readonly number[], protocol: WireProtocol): Promise<ClientEvent[]> {
  vi.stubGlobal('fetch', async () => new Response(ReadableStream.from(pieces(body, cuts)), {status: 200, headers: {'content-type': 'text/event-stream'}}))
  let now = 0
  return collect(streamRequest({url: 'http://127.0.0.1:9/completion', protocol, body: {}, signal: new AbortController().signal, timeoutMs: null, clock: () => ++now}))
}

/** Events without their arrival times (those depend on the reads by design). */
const timeless = (events: ClientEvent[]) => events.map((event) => (event.kind === 'content' ? {...event, atMs: 0} : event))

const isNonNegativeInteger = (value: number) => Number.isSafeInteger(value) && value >= 0

/**
 * The contract of streamRequest: content / timings events, then EITHER nothing or a usage event (complete) OR
 * exactly one error event of a known kind, last. Every count is a non-negative integer, every time finite.
 */
function expectWellFormed(events: ClientEvent[]): void {
  const errors = events.filter((event) => event.kind === 'error')
  expect(errors.length).toBeLessThanOrEqual(1)
  if (errors.length === 1) expect(events.at(-1)).toBe(errors[0])
  const usages = events.filter((event) => event.kind === 'usage')
  expect(usages.length).toBeLessThanOrEqual(1)
  if (usages.length === 1) {
    expect(errors).toHaveLength(0)
    expect(events.at(-1)).toBe(usages[0])
  }
  for (const event of events) {
    if (event.kind === 'error') {
      expect(requestErrorKinds).toContain(event.errorKind)
      expect(event.message.length).toBeGreaterThan(0)
    } else if (event.kind === 'content') {
      expect(Number.isFinite(event.atMs)).toBe(true)
      expect(Number.isSafeInteger(event.tokens) && event.tokens >= 1).toBe(true)
    } else if (event.kind === 'usage') {
      expect(isNonNegativeInteger(event.promptTokens) && isNonNegativeInteger(event.completionTokens)).toBe(true)
    } else {
      const {timings} = event
      for (const value of Object.values(timings)) if (value !== null) expect(Number.isFinite(value) && value >= 0).toBe(true)
      expect(isNonNegativeInteger(timings.predictedTokens) && isNonNegativeInteger(timings.promptTokens)).toBe(true)
    }
  }
}

/** Pieces of SSE and of the protocols' JSON that random concatenation turns into near-valid streams. */
const sseSoup = fc.array(
  fc.oneof(
    fc.constantFrom(
      'data: ',
      'data:',
      'event: error',
      'id: 7',
      'retry: x',
      ': keep-alive',
      '\n',
      '\n\n',
      '\r',
      '\r\n',
      '\r\n\r\n',
      '[DONE]',
      '{"content":"a","tokens":[1],"stop":false}',
      '{"content":"","tokens":[],"stop":true,"tokens_predicted":3,"tokens_evaluated":2}',
      '{"choices":[{"text":"x","finish_reason":null}]}',
      '{"choices":[{"delta":{"role":"assistant","content":""}}]}',
      '{"choices":[{"delta":{"content":"y"},"finish_reason":"length"}],"usage":{"prompt_tokens":4,"completion_tokens":2}}',
      '{"choices":[],"usage":{"prompt_tokens":-1,"completion_tokens":1.5}}',
      '{"usage":{"completion_tokens":1e308}}',
      '{"timings":{"predicted_n":-3,"predicted_ms":-1}}',
      '{"error":{"message":"boom","type":"server_error"}}',
      '{"tokens":[1,2,3]}',
      '"é€😀"',
      '\uFEFF',
      'ï»¿',
      '\u2028',
      '{',
      '}',
      '[',
      ']',
      'null',
      '1e999',
    ),
    fc.string({unit: 'binary', maxLength: 12}),
  ),
  {maxLength: 30},
)

/** Numbers as a server might (mis)report them: counts, negatives, fractions, huge, absent, the wrong type. */
const anyCount = fc.oneof(fc.integer({min: -3, max: 40}), fc.double({noNaN: true, noDefaultInfinity: true}), fc.constantFrom(null, 1e308, 2 ** 53, '5'))
const timingsArb = fc.record(
  {predicted_n: anyCount, predicted_ms: anyCount, prompt_n: anyCount, prompt_ms: anyCount, cache_n: anyCount, draft_n: anyCount, draft_n_accepted: anyCount},
  {requiredKeys: []},
)
const usageArb = fc.record({prompt_tokens: anyCount, completion_tokens: anyCount}, {requiredKeys: []})
const textArb = fc.option(fc.string({unit: 'binary', maxLength: 4}))
const llamaEventArb = fc.record(
  {
    content: textArb,
    tokens: fc.option(fc.array(fc.integer(), {maxLength: 3})),
    stop: fc.boolean(),
    tokens_predicted: anyCount,
    tokens_evaluated: anyCount,
    timings: fc.option(timingsArb),
  },
  {requiredKeys: []},
)
const openAiChunkArb = fc.record(
  {
    choices: fc.array(
      fc.record(
        {
          text: textArb,
          delta: fc.record({role: fc.option(fc.constant('assistant')), content: textArb}, {requiredKeys: []}),
          finish_reason: fc.option(fc.constantFrom('length', 'stop')),
          logprobs: fc.option(
            fc.record({tokens: fc.array(fc.string({maxLength: 2}), {maxLength: 3}), content: fc.array(fc.constant({}), {maxLength: 3})}, {requiredKeys: []}),
          ),
        },
        {requiredKeys: []},
      ),
      {maxLength: 2},
    ),
    usage: fc.option(usageArb),
    timings: fc.option(timingsArb),
  },
  {requiredKeys: []},
)
/** Well-framed streams of protocol-shaped events whose fields hold arbitrary values. */
const structuredStream = fc.oneof(
  fc.tuple(fc.constant<WireProtocol>('llamacpp-completion'), fc.array(llamaEventArb, {maxLength: 8}), fc.constant(false)),
  fc.tuple(fc.constantFrom<WireProtocol>('openai-completions', 'openai-chat'), fc.array(openAiChunkArb, {maxLength: 8}), fc.boolean()),
)

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('readSseMessages: any chunking of a stream frames the same events', () => {
  it.each(recorded.map(([name, bytes]) => [name, bytes] as const))('%s cut at random offsets', async (_name, bytes) => {
    const whole = framed(await collect(readSseMessages(pieces(bytes, []))))
    expect(whole.length).toBeGreaterThan(0)
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.nat({max: bytes.length}), {maxLength: 40}), async (cuts) => {
        expect(framed(await collect(readSseMessages(pieces(bytes, cuts))))).toEqual(whole)
      }),
      fuzzOptions(25),
    )
  })

  it('multi-byte UTF-8 (2, 3 and 4 byte sequences) split at every kind of offset decodes to the same text', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({unit: 'binary', maxLength: 20}), {minLength: 1, maxLength: 5}), fc.array(fc.nat(), {maxLength: 30}), async (texts, rawCuts) => {
        const bytes = Buffer.from(texts.map((text) => `data: ${JSON.stringify({content: text})}\n\n`).join(''), 'utf8')
        const cuts = rawCuts.map((cut) => cut % (bytes.length + 1))
        const messages = await collect(readSseMessages(pieces(bytes, cuts)))
        expect(messages.map((message) => (JSON.parse(message.data) as {content: string}).content)).toEqual(texts)
      }),
      fuzzOptions(150),
    )
  })

  it('arbitrary bytes: never a throw (below the size limit), and the same events however they are cut', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({maxLength: 300}),
          sseSoup.map((parts) => new Uint8Array(Buffer.from(parts.join(''), 'utf8'))),
        ),
        // Cuts near the start too: the first reads are where a parser keeps one-time state.
        fc.array(fc.oneof(fc.nat({max: 6}), fc.nat()), {maxLength: 20}),
        async (bytes, rawCuts) => {
          const cuts = rawCuts.map((cut) => cut % (bytes.length + 1))
          const whole = framed(await collect(readSseMessages(pieces(bytes, []))))
          expect(framed(await collect(readSseMessages(pieces(bytes, cuts))))).toEqual(whole)
        },
      ),
      fuzzOptions(300),
    )
  })

  it('regression: a stream whose first read ends inside a UTF-8 sequence frames like the whole body', async () => {
    // Found reading eventsource-parser while writing the property above (random cuts rarely hit it):
    // "ï»¿" (C3 AF C2 BB C2 BF) is what eventsource-parser strips as a
    // mis-decoded BOM at the start of its FIRST feed. A first read of just C3 decoded to "" and was fed, used
    // up the "first feed", and the same bytes then framed differently (the event was lost) than in one read.
    const bytes = Buffer.from('ï»¿data: x\n\n', 'utf8')
    const whole = framed(await collect(readSseMessages(pieces(bytes, []))))
    expect(whole).toEqual([{event: undefined, data: 'x'}])
    expect(framed(await collect(readSseMessages(pieces(bytes, [1]))))).toEqual(whole)
  })
})

describe('streamRequest: recorded, damaged and arbitrary streams give well-formed events, never a throw', () => {
  it.each(recorded.map(([name, bytes]) => [name, bytes] as const))('%s: cut anywhere -> the same events as whole', async (name, bytes) => {
    const protocol = protocolOf(name)
    const whole = await streamEvents(bytes, [], protocol)
    expectWellFormed(whole)
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.nat({max: bytes.length}), {maxLength: 30}), async (cuts) => {
        expect(timeless(await streamEvents(bytes, cuts, protocol))).toEqual(timeless(whole))
      }),
      fuzzOptions(15),
    )
  })

  it.each(recorded.map(([name, bytes]) => [name, bytes] as const))('%s: one byte truncated / replaced / inserted / deleted', async (name, bytes) => {
    const protocol = protocolOf(name)
    await fc.assert(
      fc.asyncProperty(byteMutation(bytes.length), async (mutation) => {
        const events = await streamEvents(applyMutation(bytes, mutation), [], protocol)
        expectWellFormed(events)
        // A cut stream never passes for a complete one: it ends in an error, unless the cut fell after the
        // terminal event (or only removed trailing blank lines).
        if (mutation.kind === 'truncate' && events.at(-1)?.kind !== 'error') {
          const kept = bytes.subarray(0, mutation.at).toString('utf8')
          expect(/\[DONE\]|"stop":\s*true|"finish_reason":"(length|stop)"/.test(kept)).toBe(true)
        }
      }),
      fuzzOptions(40),
    )
  })

  it('arbitrary bytes and SSE-like soup, for every protocol', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({maxLength: 300}),
          sseSoup.map((parts) => new Uint8Array(Buffer.from(parts.join(''), 'utf8'))),
        ),
        fc.array(fc.nat(), {maxLength: 10}),
        fc.constantFrom<WireProtocol>('llamacpp-completion', 'openai-completions', 'openai-chat'),
        async (bytes, rawCuts, protocol) => {
          const events = await streamEvents(
            bytes,
            rawCuts.map((cut) => cut % (bytes.length + 1)),
            protocol,
          )
          expectWellFormed(events)
        },
      ),
      fuzzOptions(300, 5000),
    )
  })

  it('protocol-shaped events with arbitrary field values (counts that are negative, fractional, huge, strings)', async () => {
    await fc.assert(
      fc.asyncProperty(structuredStream, async ([protocol, events, done]) => {
        const text = events.map((event) => `data: ${JSON.stringify(event)}\n\n`).join('') + (done ? 'data: [DONE]\n\n' : '')
        expectWellFormed(await streamEvents(Buffer.from(text, 'utf8'), [], protocol))
      }),
      fuzzOptions(300, 5000),
    )
  })

  it('an event larger than MAX_SSE_EVENT_CHARS is refused with one stream-error (one long line, or many data lines)', async () => {
    const block = Buffer.alloc(1024 * 1024, 0x61)
    const oneLine = Buffer.concat([Buffer.from('data: {"content":"a","tokens":[1]}\n\ndata: '), ...Array.from({length: 17}, () => block)])
    // 17 MiB of short `data:` lines with no blank line between them: one event growing past the limit.
    const line = Buffer.from(`data: ${'b'.repeat(1018)}\n`)
    const manyLines = Buffer.concat([Buffer.from('data: {"content":"a","tokens":[1]}\n\n'), ...Array.from({length: 17 * 1024}, () => line)])
    expect(manyLines.length).toBeGreaterThan(MAX_SSE_EVENT_CHARS)
    for (const body of [oneLine, manyLines]) {
      const cuts = Array.from({length: Math.ceil(body.length / (1024 * 1024))}, (_, i) => i * 1024 * 1024)
      const events = await streamEvents(body, cuts, 'llamacpp-completion')
      expect(events.map((event) => event.kind)).toEqual(['content', 'error'])
      expect(events[1]).toMatchObject({errorKind: 'stream-error', message: expect.stringContaining('malformed event stream after 1 content event(s)')})
      expect((events[1] as {message: string}).message).toContain(`max buffer size of ${MAX_SSE_EVENT_CHARS}`)
    }
  })
})

describe('StreamInterpreter: counts from the server are used only when they are counts', () => {
  // Found by the protocol-shaped property (first counterexample: timings {predicted_n: 0, predicted_ms: 0,
  // draft_n: -5e-324}); likewise a usage of 1.5 or -1 tokens went straight into the request record, where
  // the result schema (non-negative integers) refused the whole file at write time.
  it('ignores a usage whose token counts are not non-negative integers (the streamed count stands)', () => {
    for (const usage of [
      {prompt_tokens: 4, completion_tokens: 1.5},
      {prompt_tokens: -1, completion_tokens: 2},
      {prompt_tokens: 4, completion_tokens: 1e308},
    ]) {
      const interpreter = new StreamInterpreter('openai-completions')
      interpreter.onMessage(JSON.stringify({choices: [{text: 'x', finish_reason: 'length'}], usage}), 1)
      interpreter.onMessage('[DONE]', 2)
      expect(interpreter.finish()).toEqual([])
    }
    const valid = new StreamInterpreter('openai-completions')
    valid.onMessage(JSON.stringify({choices: [{text: 'x', finish_reason: 'length'}], usage: {prompt_tokens: 4, completion_tokens: 1}}), 1)
    valid.onMessage('[DONE]', 2)
    expect(valid.finish()).toEqual([{kind: 'usage', promptTokens: 4, completionTokens: 1}])
  })

  it("ignores llama.cpp's final counts and timings when they are not counts / durations", () => {
    const interpreter = new StreamInterpreter('llamacpp-completion')
    const {events} = interpreter.onMessage(
      JSON.stringify({
        content: '',
        tokens: [],
        stop: true,
        tokens_predicted: -2,
        tokens_evaluated: 3,
        timings: {predicted_n: 2.5, predicted_ms: 10, prompt_n: 1, prompt_ms: 1},
      }),
      1,
    )
    expect(events).toEqual([])
    expect(interpreter.finish()).toEqual([])
  })
})
