import {describe, expect, it} from 'vitest'

import {makePromptTokens} from '../../../src/loadgen/prompts.js'
import {maxPromptTokens, type ShapePlan, ShapedPrompts, traceIntendedCached} from '../../../src/loadgen/shape.js'
import {parseTrace} from '../../../src/loadgen/trace.js'

const pool = Array.from({length: 500}, (_, i) => 1000 + i)
const fixed = (tokens: number) => ({kind: 'fixed', tokens}) as const
const plan = (over: Partial<ShapePlan>): ShapePlan => ({prefix: null, sessions: null, input: fixed(64), output: fixed(8), trace: null, ...over})
const commonPrefix = (a: number[], b: number[]) => {
  let n = 0
  while (n < a.length && n < b.length && a[n] === b[n]) n++
  return n
}

describe('shaped prompts', () => {
  it('--prefix-tokens 48 --prefix-groups 1 at 64 tokens: every prompt starts with the same 48 tokens and differs at token 48; intended 48 after the first', () => {
    const prompts = new ShapedPrompts(pool, plan({prefix: {tokens: 48, groups: 1}}), 3)
    const requests = [0, 1, 2, 3].map((i) => prompts.request(i, {base: 0, lanes: 1}))
    for (const r of requests) expect(r.promptTokens).toHaveLength(64)
    for (const r of requests.slice(1)) expect(commonPrefix(requests[0]!.promptTokens, r.promptTokens)).toBe(48)
    expect(requests.map((r) => r.intendedCachedTokens)).toEqual([0, 48, 48, 48])
    // The part after the prefix is the control's unique prompt of 16 tokens for that index.
    expect(requests[2]!.promptTokens.slice(48)).toEqual(makePromptTokens(pool, 16, 3, 2))
  })

  it('4 groups: requests of the same group share 32 tokens, of different groups none; the intended hit counts only groups seen before', () => {
    const prompts = new ShapedPrompts(pool, plan({prefix: {tokens: 32, groups: 4}}), 9)
    const requests = Array.from({length: 40}, (_, i) => prompts.request(i, {base: 0, lanes: 1}))
    const groups = requests.map((_, i) => prompts.groupOf(i))
    expect(new Set(groups).size).toBe(4)
    const seen = new Set<number>()
    for (const [i, r] of requests.entries()) {
      expect(r.intendedCachedTokens).toBe(seen.has(groups[i]!) ? 32 : 0)
      seen.add(groups[i]!)
      const j = groups.findIndex((g, k) => k !== i && g === groups[i])
      const other = groups.findIndex((g) => g !== groups[i])
      expect(commonPrefix(r.promptTokens, requests[j]!.promptTokens)).toBe(32)
      expect(commonPrefix(r.promptTokens, requests[other]!.promptTokens)).toBe(0)
    }
  })

  it('3 turns of 20 new tokens and 8-token answers, 2 lanes: prompts 20, 48, 76, each the previous turn + answer + new part', () => {
    const prompts = new ShapedPrompts(pool, plan({sessions: {turns: 3, thinkTimeMs: 0}, input: fixed(20)}), 5)
    const layout = {base: 10, lanes: 2}
    const r = Array.from({length: 6}, (_, k) => prompts.request(10 + k, layout))
    // Index base + t x lanes + s is turn t of session s.
    expect(r.map((x) => x.session)).toEqual([
      {id: 0, turn: 0, previous: null},
      {id: 1, turn: 0, previous: null},
      {id: 0, turn: 1, previous: 10},
      {id: 1, turn: 1, previous: 11},
      {id: 0, turn: 2, previous: 12},
      {id: 1, turn: 2, previous: 13},
    ])
    expect(r.map((x) => x.promptTokens.length)).toEqual([20, 20, 48, 48, 76, 76])
    expect(r[2]!.promptTokens.slice(0, 20)).toEqual(r[0]!.promptTokens)
    expect(r[4]!.promptTokens.slice(0, 48)).toEqual(r[2]!.promptTokens)
    // The intended hit of a later turn is the whole previous turn's prompt.
    expect(r.map((x) => x.intendedCachedTokens)).toEqual([0, 0, 20, 20, 48, 48])
    expect(commonPrefix(r[0]!.promptTokens, r[1]!.promptTokens)).toBe(0)
    // 3 turns: 3 x 20 + 2 x 8
    expect(maxPromptTokens(plan({sessions: {turns: 3, thinkTimeMs: 0}}), 20, 8)).toBe(76)
  })

  it('a trace: equal hash_ids give equal blocks wherever they occur; the rest of a prompt is unique; intended = leading blocks already sent', () => {
    const trace = parseTrace(
      [
        '{"timestamp": 0, "input_length": 20, "output_length": 3, "hash_ids": [1, 2, 3]}',
        '{"timestamp": 5, "input_length": 24, "output_length": 2, "hash_ids": [1, 2, 4]}',
        '{"timestamp": 9, "input_length": 30, "output_length": 2, "hash_ids": [1, 2, 3, 7]}',
        '{"timestamp": 9, "input_length": 12, "output_length": 2, "hash_ids": [9]}',
      ].join('\n'),
      't.jsonl',
    )
    const prompts = new ShapedPrompts(pool, plan({trace: {requests: trace, blockTokens: 8}}), 1)
    const r = [0, 1, 2, 3].map((k) => prompts.request(100 + k, {base: 100, lanes: 4}))
    expect(r.map((x) => x.promptTokens.length)).toEqual([20, 24, 30, 12])
    expect(r.map((x) => x.maxTokens)).toEqual([3, 2, 2, 2])
    expect(commonPrefix(r[0]!.promptTokens, r[1]!.promptTokens)).toBe(16)
    // Request 0 sent only 4 tokens of block 3; request 2 sends all 8 of it: 16 + 4 shared.
    expect(commonPrefix(r[0]!.promptTokens, r[2]!.promptTokens)).toBe(20)
    expect(r.map((x) => x.intendedCachedTokens)).toEqual([0, 16, 20, 0])
    expect(traceIntendedCached(trace, 8)).toEqual([0, 16, 20, 0])
    // Request 3 has one hash block of 8 and 4 unique filler tokens.
    expect(r[3]!.promptTokens.slice(0, 8)).not.toEqual(r[0]!.promptTokens.slice(0, 8))
  })
})
