import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {redactSecrets} from '../../../../src/lib/redact.js'
import type {GenRequest} from '../../../../src/engines/types.js'
import {
  type ClientEvent,
  decodeTokensPerSecond,
  httpErrorMessage,
  requestBody,
  StreamInterpreter,
  streamRequest,
  type WireProtocol,
} from '../../../../src/engines/http/stream-client.js'
import {llamaFixture, type ReplayServer, startReplayServer} from '../../../helpers/replay-server.js'

/**
 * The recorded llama-server streams (test/fixtures/llama-server) through the real client over HTTP:
 * exact event counts and usage numbers as read from the files.
 */

let server: ReplayServer
beforeAll(async () => {
  server = await startReplayServer()
  server.route('POST /completion', {body: llamaFixture('completion_stream_ids.sse')})
  server.route('POST /v1/completions', {body: llamaFixture('v1_completions_stream.sse')})
  server.route('POST /v1/chat/completions', {body: llamaFixture('v1_chat_completions_stream.sse')})
})
afterAll(async () => server.close())

async function run(protocol: WireProtocol, path: string, body: unknown = {}): Promise<ClientEvent[]> {
  const events: ClientEvent[] = []
  for await (const event of streamRequest({url: `${server.url}${path}`, protocol, body, signal: new AbortController().signal, timeoutMs: 10_000})) {
    events.push(event)
  }
  return events
}

const only = <K extends ClientEvent['kind']>(events: ClientEvent[], kind: K) =>
  events.filter((e): e is Extract<ClientEvent, {kind: K}> => e.kind === kind)

describe('streamRequest on recorded llama-server streams', () => {
  it('/completion (token-id prompt): 32 one-token content events, then usage from the final stop event', async () => {
    const events = await run('llamacpp-completion', '/completion')
    const content = only(events, 'content')
    // 33 data events in the file: 32 with one id in `tokens`, the final one with tokens [] and stop: true.
    expect(content).toHaveLength(32)
    expect(content.every((e) => e.tokens === 1)).toBe(true)
    expect(content[0]!.text).toBe('n:!')
    expect(content[1]!.text).toBe('va!')
    // The final event: "tokens_predicted":32,"tokens_evaluated":128
    expect(only(events, 'usage')).toEqual([{kind: 'usage', promptTokens: 128, completionTokens: 32}])
    expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: 128, completionTokens: 32})
    expect(only(events, 'error')).toEqual([])
    // "timings":{"cache_n":0,"prompt_n":128,"prompt_ms":751.096,...,"predicted_n":32,"predicted_ms":547.746}
    const [timings] = only(events, 'server-timings')
    expect(timings!.timings).toEqual({
      promptTokens: 128,
      promptMs: 751.096,
      predictedTokens: 32,
      predictedMs: 547.746,
      cachedTokens: 0,
      draftTokens: null,
      draftAccepted: null,
    })
    // Corrected decode speed: (32 - 1) / 0.547746 s = 56.5956 tok/s (the server's own 58.42 counts n, not n - 1).
    expect(decodeTokensPerSecond(timings!.timings)).toBeCloseTo(56.5956, 3)
  })

  it('/v1/completions: 32 content events; usage comes from the LAST choices chunk (llama.cpp style)', async () => {
    const events = await run('openai-completions', '/v1/completions')
    // 34 data lines: 32 with text, one with text "" + finish_reason "length" + usage, then [DONE].
    expect(only(events, 'content')).toHaveLength(32)
    expect(only(events, 'content')[0]!.text).toBe('xO')
    // "usage":{"completion_tokens":32,"prompt_tokens":128,"total_tokens":160,...}
    expect(only(events, 'usage')).toEqual([{kind: 'usage', promptTokens: 128, completionTokens: 32}])
    expect(only(events, 'server-timings')[0]!.timings.predictedMs).toBe(534.425)
  })

  it('/v1/chat/completions: the role chunk is not content; 16 content events; usage from the choices:[] chunk', async () => {
    const events = await run('openai-chat', '/v1/chat/completions')
    // 20 data lines: role chunk (content null), 16 content deltas, finish chunk, choices:[] + usage, [DONE].
    const content = only(events, 'content')
    expect(content).toHaveLength(16)
    expect(content[0]!.text).toBe('zR"')
    expect(content.at(-1)!.text).toBe('Ar!')
    expect(only(events, 'usage')).toEqual([{kind: 'usage', promptTokens: 23, completionTokens: 16}])
  })

  it('sends the request body as JSON with an SSE accept header', async () => {
    const before = server.requests.length
    await run('llamacpp-completion', '/completion', {prompt: [1, 2], n_predict: 4})
    const sent = server.requests[before]!
    expect(JSON.parse(sent.body)).toEqual({prompt: [1, 2], n_predict: 4})
    expect(sent.headers['content-type']).toBe('application/json')
    expect(sent.headers.accept).toBe('text/event-stream')
  })
})

describe('StreamInterpreter (pure)', () => {
  const feed = (protocol: WireProtocol, lines: string[]) => {
    const interpreter = new StreamInterpreter(protocol)
    const events: ClientEvent[] = []
    lines.forEach((line, i) => events.push(...interpreter.onMessage(line, i).events))
    events.push(...interpreter.finish())
    return {interpreter, events}
  }

  it('reads usage from a separate choices:[] chunk (vLLM) and a finish chunk that still carries the last token', () => {
    // Shaped as vLLM's docs show: the last token arrives WITH finish_reason, usage follows in its own chunk.
    const {events} = feed('openai-completions', [
      '{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":" Hello","finish_reason":null}]}',
      '{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":" world","finish_reason":"length"}]}',
      '{"id":"cmpl-1","object":"text_completion","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}',
      '[DONE]',
    ])
    expect(events).toEqual([
      {kind: 'content', atMs: 0, tokens: 1, text: ' Hello'},
      {kind: 'content', atMs: 1, tokens: 1, text: ' world'},
      {kind: 'usage', promptTokens: 5, completionTokens: 2},
    ])
  })

  it('counts several tokens per chunk when the server says so (cumulative usage per chunk, logprobs)', () => {
    // continuous_usage_stats: completion_tokens 2 then 5 -> chunks of 2 and 3 tokens.
    const cumulative = feed('openai-completions', [
      '{"choices":[{"index":0,"text":"ab","finish_reason":null}],"usage":{"prompt_tokens":4,"completion_tokens":2}}',
      '{"choices":[{"index":0,"text":"cde","finish_reason":"length"}],"usage":{"prompt_tokens":4,"completion_tokens":5}}',
      '[DONE]',
    ])
    expect(cumulative.events.filter((e) => e.kind === 'content').map((e) => (e.kind === 'content' ? e.tokens : 0))).toEqual([2, 3])
    expect(cumulative.interpreter.countedTokens).toBe(5)
    const logprobs = feed('openai-completions', [
      '{"choices":[{"index":0,"text":"xyz","logprobs":{"tokens":["x","y","z"],"token_logprobs":[-1,-1,-1]},"finish_reason":null}]}',
      '[DONE]',
    ])
    expect(logprobs.interpreter.countedTokens).toBe(3)
  })

  it('counts an unlabelled multi-token chunk as 1 and leaves the total to usage (the mismatch is flagged later)', () => {
    const {interpreter, events} = feed('openai-completions', [
      '{"choices":[{"index":0,"text":"two tokens","finish_reason":null}]}',
      '{"choices":[{"index":0,"text":"","finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}',
      '[DONE]',
    ])
    expect(interpreter.countedTokens).toBe(1)
    expect(events.at(-1)).toEqual({kind: 'usage', promptTokens: 3, completionTokens: 2})
  })

  it('does not start TTFT on an empty role chunk (vLLM chat sends content "" with the role)', () => {
    const {events} = feed('openai-chat', [
      '{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}',
      '{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}',
      '{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}',
      '[DONE]',
    ])
    expect(events).toEqual([{kind: 'content', atMs: 1, tokens: 1, text: 'Hi'}])
  })

  it('marks a stream that ends without its terminal event as dropped', () => {
    const {events} = feed('llamacpp-completion', ['{"content":"a","tokens":[5],"stop":false}'])
    expect(events.at(-1)).toEqual({
      kind: 'error',
      errorKind: 'dropped',
      message: 'The connection closed before the final event (stop: true), after 1 content event(s).',
    })
  })

  it('reports error objects in the shapes servers use (vLLM object:error, TGI string)', () => {
    const vllm = feed('openai-completions', ['{"object":"error","message":"out of KV cache","type":"InternalServerError","code":500}'])
    expect(vllm.events[0]).toMatchObject({kind: 'error', errorKind: 'stream-error'})
    expect((vllm.events[0] as {message: string}).message).toContain('out of KV cache')
    const tgi = feed('openai-chat', ['{"error":"Request failed during generation","error_type":"generation"}'])
    expect((tgi.events[0] as {message: string}).message).toContain('Request failed during generation')
    const garbage = feed('openai-chat', ['{"choices": [tru'])
    expect(garbage.events[0]).toMatchObject({kind: 'error', errorKind: 'stream-error'})
    expect((garbage.events[0] as {message: string}).message).toContain('not JSON')
  })
})

describe('request bodies', () => {
  const tokens: GenRequest = {promptTokens: [7, 8, 9], promptText: null, maxTokens: 32, ignoreEos: true}

  it('llama.cpp /completion: token ids, n_predict, ignore_eos, cache_prompt false, stream', () => {
    expect(requestBody('llamacpp-completion', tokens, {seed: 1})).toEqual({
      prompt: [7, 8, 9],
      n_predict: 32,
      ignore_eos: true,
      cache_prompt: false,
      return_tokens: true,
      stream: true,
      seed: 1,
    })
  })

  it('/v1/completions: max_tokens, include_usage, and the server extensions only when enabled', () => {
    expect(requestBody('openai-completions', tokens, {model: 'm'})).toEqual({
      model: 'm',
      prompt: [7, 8, 9],
      max_tokens: 32,
      stream: true,
      stream_options: {include_usage: true},
      ignore_eos: true,
      min_tokens: 32,
      cache_prompt: false,
    })
    expect(requestBody('openai-completions', tokens, {model: 'm', serverExtensions: false})).toEqual({
      model: 'm',
      prompt: [7, 8, 9],
      max_tokens: 32,
      stream: true,
      stream_options: {include_usage: true},
    })
  })

  it('chat: the text prompt becomes one user message', () => {
    const body = requestBody('openai-chat', {promptTokens: null, promptText: 'Say something.', maxTokens: 16, ignoreEos: true}, {serverExtensions: false})
    expect(body.messages).toEqual([{role: 'user', content: 'Say something.'}])
    expect(body.max_tokens).toBe(16)
  })
})

describe('messages', () => {
  it("quotes the server's own error message with the status", () => {
    const body = llamaFixture('error_prompt_too_long.txt').toString('utf8').split('\r\n\r\n')[1] ?? ''
    expect(httpErrorMessage(400, 'Bad Request', body)).toBe(
      'HTTP 400 Bad Request: request (5000 tokens) exceeds the available context size (2048 tokens), try increasing it (exceed_context_size_error)',
    )
  })

  it('redacts API keys and URL credentials', () => {
    expect(redactSecrets('GET http://bob:hunter2@host:8000/v1 failed with sk-abcdef123', ['sk-abcdef123'])).toBe('GET http://***@host:8000/v1 failed with ***')
  })
})
