import {describe, expect, it} from 'vitest'

import {StreamInterpreter} from '../../../../src/engines/http/interpreter.js'

/** Feed SSE data payloads; the events of every message and of the end. */
function run(protocol: ConstructorParameters<typeof StreamInterpreter>[0], messages: string[]) {
  const interpreter = new StreamInterpreter(protocol)
  const events = messages.flatMap((data, i) => interpreter.onMessage(data, i).events)
  return [...events, ...interpreter.finish()].filter((event) => event.kind === 'usage')
}

describe('prompt tokens served from the cache, as the server says', () => {
  it("llama-server /completion: the final event's timings.cache_n (384 of 512)", () => {
    const final = {
      content: '',
      tokens: [],
      stop: true,
      tokens_predicted: 4,
      tokens_evaluated: 512,
      timings: {cache_n: 384, prompt_n: 128, prompt_ms: 20, predicted_n: 4, predicted_ms: 8},
    }
    expect(run('llamacpp-completion', [JSON.stringify({content: 'a', tokens: [7], stop: false}), JSON.stringify(final)])).toEqual([
      {kind: 'usage', promptTokens: 512, completionTokens: 4, cachedTokens: 384},
    ])
  })

  it('vLLM /v1/completions: usage.prompt_tokens_details.cached_tokens (96); without details the usage carries none', () => {
    const chunk = (usage: object | null, finish: string | null) =>
      JSON.stringify({choices: usage === null ? [{index: 0, text: 'x', finish_reason: finish}] : [], ...(usage === null ? {} : {usage})})
    expect(
      run('openai-completions', [chunk(null, 'length'), chunk({prompt_tokens: 128, completion_tokens: 1, prompt_tokens_details: {cached_tokens: 96}}, null), '[DONE]']),
    ).toEqual([{kind: 'usage', promptTokens: 128, completionTokens: 1, cachedTokens: 96}])
    expect(run('openai-completions', [chunk(null, 'length'), chunk({prompt_tokens: 128, completion_tokens: 1}, null), '[DONE]'])).toEqual([
      {kind: 'usage', promptTokens: 128, completionTokens: 1},
    ])
  })

  it('a cached count that is not a count (-1, 1.5) is left out, not recorded', () => {
    const final = (cache: unknown) =>
      JSON.stringify({content: '', tokens: [], stop: true, tokens_predicted: 1, tokens_evaluated: 8, timings: {cache_n: cache, predicted_n: 1, predicted_ms: 1}})
    expect(run('llamacpp-completion', [final(-1)])).toEqual([{kind: 'usage', promptTokens: 8, completionTokens: 1}])
    expect(run('llamacpp-completion', [final(1.5)])).toEqual([{kind: 'usage', promptTokens: 8, completionTokens: 1}])
  })
})
