import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {describe, expect, it} from 'vitest'

import {StreamInterpreter} from '../../../../src/engines/http/interpreter.js'
import type {ClientEvent, WireProtocol} from '../../../../src/engines/http/protocols.js'

const vllmFixtures = fileURLToPath(new URL('../../../fixtures/vllm/', import.meta.url))

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

describe('vLLM stream bytes (fixtures/vllm/completions_stream.sse) through the protocol interpreter', () => {
  it('five content chunks, then usage from the separate choices: [] chunk, then [DONE]', () => {
    const interpreter = new StreamInterpreter('openai-completions')
    const payloads = readFileSync(join(vllmFixtures, 'completions_stream.sse'), 'utf8')
      .split('\n\n')
      .filter((e) => e.startsWith('data: '))
      .map((e) => e.slice('data: '.length))
    const events = payloads.flatMap((data, i) => interpreter.onMessage(data, i).events)
    const content = events.filter((e) => e.kind === 'content')
    expect(content.map((e) => (e.kind === 'content' ? [e.tokens, e.text] : null))).toEqual([
      [1, ' The'],
      [1, ' quick'],
      [1, ' brown'],
      [1, ' fox'],
      [1, ' jumps'],
    ])
    // usage is yielded once the body ends ([DONE] seen), whatever chunk carried it
    expect(events.filter((e) => e.kind === 'usage' || e.kind === 'error')).toEqual([])
    expect(interpreter.finish()).toEqual([{kind: 'usage', promptTokens: 8, completionTokens: 5}])
  })
})
