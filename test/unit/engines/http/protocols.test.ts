import {describe, expect, it} from 'vitest'

import {httpErrorMessage, requestBody} from '../../../../src/engines/http/protocols.js'
import type {GenRequest} from '../../../../src/engines/types.js'
import {redactSecrets} from '../../../../src/lib/redact.js'
import {llamaFixture} from '../../../helpers/replay-server.js'

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
