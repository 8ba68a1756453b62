import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import fc from 'fast-check'
import {afterEach, describe, expect, it} from 'vitest'

import {ChunkScanner} from '../../../../src/engines/http/chunk-scanner.js'
import {chunkScannerEnabled, setChunkScanner, StreamInterpreter} from '../../../../src/engines/http/interpreter.js'
import {type ClientEvent, isObject, serverErrorMessage, type WireProtocol} from '../../../../src/engines/http/protocols.js'
import {SseFramer} from '../../../../src/engines/http/sse.js'

/**
 * The chunk scanner (issue 17's fast path) against JSON.parse: for every chunk it reads exactly what the full
 * path reads from JSON.parse's object, or declines; and interpreters with and without it yield the same events.
 */

const PROTOCOLS: readonly WireProtocol[] = ['llamacpp-completion', 'openai-completions', 'openai-chat']

interface Fields {
  text: string | null
  ids: number
  hasChoice: boolean
  finished: boolean
  roleIsString: boolean
}

/**
 * The oracle: what the interpreter's full path reads from JSON.parse (interpreter.ts onLlamaEvent /
 * onOpenAiChunk / chatDelta / completionText), or 'full' where that path does more than yield content
 * (a parse error, an error event, usage, timings, logprobs, llama.cpp's final event).
 */
function reference(protocol: WireProtocol, data: string): Fields | 'full' {
  let parsed: unknown
  try {
    parsed = JSON.parse(data)
  } catch {
    return 'full'
  }
  if (!isObject(parsed) || serverErrorMessage(parsed) !== null) return 'full'
  if (protocol === 'llamacpp-completion') {
    if (parsed.stop === true) return 'full'
    return {
      text: typeof parsed.content === 'string' ? parsed.content : '',
      ids: Array.isArray(parsed.tokens) ? parsed.tokens.length : -1,
      hasChoice: false,
      finished: false,
      roleIsString: false,
    }
  }
  if (isObject(parsed.usage) || isObject(parsed.timings)) return 'full'
  const choice = Array.isArray(parsed.choices) && isObject(parsed.choices[0]) ? parsed.choices[0] : null
  if (choice === null) return {text: null, ids: -1, hasChoice: false, finished: false, roleIsString: false}
  if (isObject(choice.logprobs)) return 'full'
  const finished = choice.finish_reason !== null && choice.finish_reason !== undefined
  if (protocol === 'openai-completions') {
    return {text: typeof choice.text === 'string' ? choice.text : null, ids: -1, hasChoice: true, finished, roleIsString: false}
  }
  const delta = isObject(choice.delta) ? choice.delta : {}
  const pieces = [delta.content, delta.reasoning_content, delta.reasoning].filter((p): p is string => typeof p === 'string')
  return {text: pieces.length > 0 ? pieces.join('') : null, ids: -1, hasChoice: true, finished, roleIsString: typeof delta.role === 'string'}
}

const scanner = new ChunkScanner()
function scanned(protocol: WireProtocol, data: string): Fields | 'declined' {
  if (!scanner.scan(protocol, data)) return 'declined'
  return {text: scanner.text, ids: scanner.ids, hasChoice: scanner.hasChoice, finished: scanner.finished, roleIsString: scanner.roleIsString}
}

// ----------------------------------------------------------------------------------- the generator

/** A small seeded PRNG (mulberry32): the chunk generator is driven by one fast-check integer. */
function rng(seed: number) {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const chance = (p: number) => next() < p
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!
  return {next, int, chance, pick}
}
type Rng = ReturnType<typeof rng>

/** Characters that stress a JSON string: quotes, backslashes, controls, non-ASCII, astral, lone surrogates, U+2028, BOM. */
const STRING_UNITS = [
  'a',
  'Z',
  '0',
  ' ',
  '!',
  ':',
  ',',
  '{',
  '}',
  '[',
  ']',
  '"',
  '\\',
  '/',
  '\n',
  '\r',
  '\t',
  '\u0000',
  '\u001f',
  '\u007f',
  'é',
  '中',
  '😀',
  '\ud800',
  '\udfff',
  '\u2028',
  '\ufeff',
  't=',
  'null',
  'u',
]

function genString(r: Rng): string {
  let text = ''
  const length = r.chance(0.1) ? 0 : 1 + r.int(8)
  for (let k = 0; k < length; k++) text += r.chance(0.5) ? r.pick(['a', 'b', 'x', ' ', '!', '%', '&']) : r.pick(STRING_UNITS)
  return text
}

/** A value of any JSON type (arrays and objects of a few members), depth-limited. */
function genValue(r: Rng, depth: number): unknown {
  const kind = r.int(depth > 3 ? 5 : 7)
  switch (kind) {
    case 0:
      return null
    case 1:
      return r.chance(0.5)
    case 2:
      return r.pick([0, -0, 1, -1, 42, 3.5, -2.25e-7, 1e21, 123456789012, 0.1])
    case 3:
    case 4:
      return genString(r)
    case 5:
      return Array.from({length: r.int(4)}, () => genValue(r, depth + 1))
    default:
      return Object.fromEntries(Array.from({length: r.int(4)}, () => [r.pick(['a', 'text', 'content', 'role', 'usage', 'k', '']), genValue(r, depth + 1)]))
  }
}

/** A JSON string literal, each character written raw or escaped in one of the ways JSON allows. */
function writeString(r: Rng, text: string, escapeMore: number): string {
  let out = '"'
  for (const unit of text.split('')) {
    const code = unit.charCodeAt(0)
    const hex = () => {
      const digits = code.toString(16).padStart(4, '0')
      return `\\u${r.chance(0.5) ? digits : digits.toUpperCase()}`
    }
    if (unit === '"') out += r.chance(0.7) ? '\\"' : hex()
    else if (unit === '\\') out += r.chance(0.7) ? '\\\\' : hex()
    else if (code < 0x20) {
      const short = {8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r'}[code]
      out += short !== undefined && r.chance(0.6) ? short : hex()
    } else if (unit === '/' && r.chance(0.3)) out += '\\/'
    else out += r.chance(escapeMore) ? hex() : unit
  }
  return `${out}"`
}

const WHITESPACE = [' ', '\t', '\n', '\r', '  ']
const ws = (r: Rng, p: number) => (r.chance(p) ? r.pick(WHITESPACE) : '')

/** How a generated chunk is written: whitespace, escapes in strings and keys, duplicate members. */
interface Style {
  ws: number
  escapeMore: number
  escapeKey: number
  duplicate: number
}

function write(r: Rng, value: unknown, style: Style): string {
  if (value === null || typeof value === 'boolean') return String(value)
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : r.chance(0.2) && Number.isInteger(value) && value !== 0 ? `${value}.0e0` : JSON.stringify(value)
  if (typeof value === 'string') return writeString(r, value, style.escapeMore)
  if (Array.isArray(value)) return `[${ws(r, style.ws)}${value.map((v) => write(r, v, style)).join(`${ws(r, style.ws)},${ws(r, style.ws)}`)}${ws(r, style.ws)}]`
  const entries = Object.entries(value as Record<string, unknown>)
  // A member given twice (JSON.parse keeps the last): the scanner must decline or read the same.
  if (entries.length > 0 && r.chance(style.duplicate)) {
    const [key] = r.pick(entries)
    entries.splice(r.int(entries.length + 1), 0, [key, r.chance(0.5) ? genValue(r, 2) : (value as Record<string, unknown>)[key]])
  }
  const members = entries.map(([key, v]) => {
    const name = r.chance(style.escapeKey) ? writeString(r, key, 0.5) : writeString(r, key, 0)
    return `${name}${ws(r, style.ws)}:${ws(r, style.ws)}${write(r, v, style)}`
  })
  return `{${ws(r, style.ws)}${members.join(`${ws(r, style.ws)},${ws(r, style.ws)}`)}${ws(r, style.ws)}}`
}

/** Members in a random order (JSON.stringify would keep insertion order: so does this). */
function shuffled<T>(r: Rng, items: T[]): T[] {
  for (let k = items.length - 1; k > 0; k--) {
    const j = r.int(k + 1)
    ;[items[k], items[j]] = [items[j]!, items[k]!]
  }
  return items
}

/** Mostly the shape servers send, sometimes any value in any field, now and then an error shape. */
function genChunk(r: Rng, protocol: WireProtocol): Record<string, unknown> {
  const members: [string, unknown][] = []
  const odd = () => genValue(r, 1)
  if (protocol === 'llamacpp-completion') {
    members.push(['index', 0], ['id_slot', -1], ['tokens_predicted', r.int(100)], ['tokens_evaluated', 16])
    if (r.chance(0.95)) members.push(['content', r.chance(0.9) ? genString(r) : odd()])
    if (r.chance(0.95)) members.push(['tokens', r.chance(0.9) ? Array.from({length: r.int(4)}, () => r.int(30000)) : odd()])
    if (r.chance(0.95)) members.push(['stop', r.chance(0.9) ? false : r.chance(0.5) ? true : odd()])
    if (r.chance(0.05)) members.push(['timings', {predicted_n: 3, predicted_ms: 10}])
  } else {
    const choice: [string, unknown][] = [['index', 0]]
    if (r.chance(0.95)) choice.push(['finish_reason', r.chance(0.8) ? null : r.chance(0.7) ? 'length' : odd()])
    if (protocol === 'openai-completions' || r.chance(0.1)) choice.push(['text', r.chance(0.9) ? genString(r) : odd()])
    if (protocol === 'openai-chat' || r.chance(0.1)) {
      const delta: [string, unknown][] = []
      for (const key of ['content', 'reasoning_content', 'reasoning', 'role']) {
        if (r.chance(key === 'content' ? 0.8 : 0.2)) delta.push([key, r.chance(0.85) ? (key === 'role' ? 'assistant' : genString(r)) : odd()])
      }
      choice.push(['delta', r.chance(0.95) ? Object.fromEntries(shuffled(r, delta)) : odd()])
    }
    if (r.chance(0.3)) choice.push(['logprobs', r.chance(0.7) ? null : r.chance(0.5) ? {tokens: ['a'], content: [{}]} : odd()])
    if (r.chance(0.3)) choice.push(['stop_reason', odd()])
    const choiceObject = Object.fromEntries(shuffled(r, choice))
    if (r.chance(0.95)) members.push(['choices', r.chance(0.9) ? [choiceObject, ...(r.chance(0.1) ? [odd()] : [])] : r.chance(0.5) ? [] : odd()])
    members.push(['id', `chatcmpl-${r.int(1e9)}`], ['model', 'models/x.gguf'], ['created', 1795327510])
    if (r.chance(0.9)) members.push(['object', r.chance(0.95) ? 'chat.completion.chunk' : 'error'])
    if (r.chance(0.3)) members.push(['usage', r.chance(0.6) ? null : {prompt_tokens: 3, completion_tokens: r.int(9)}])
    if (r.chance(0.05)) members.push(['timings', r.chance(0.5) ? null : {predicted_n: 3, predicted_ms: 10}])
  }
  if (r.chance(0.03)) members.push(['error', r.chance(0.5) ? 'boom' : {message: 'boom', type: 'server_error'}])
  if (r.chance(0.02)) members.push(['detail', 'bad'])
  if (r.chance(0.02)) members.push(['message', 'x'])
  if (r.chance(0.1)) members.push([r.pick(['extra', '__proto__', 'k']), odd()])
  return Object.fromEntries(shuffled(r, members))
}

/** Breaks the text now and then: a character deleted, inserted or replaced, or the text cut short. */
function mutate(r: Rng, text: string): string {
  const at = r.int(text.length + 1)
  switch (r.int(4)) {
    case 0:
      return text.slice(0, at) + text.slice(at + 1)
    case 1:
      return (
        text.slice(0, at) + r.pick(['"', '\\', ',', ':', '{', '}', '[', ']', '0', '-', 'e', '.', 'n', ' ', '\t', '\u00a0', '\u0001', '\u001f', '\u0000', 'x']) + text.slice(at)
      )
    case 2:
      return text.slice(0, at) + r.pick(['"', '\\', '1', 'u', ']', '}']) + text.slice(at + 1)
    default:
      return text.slice(0, at)
  }
}

const CLEAN: Style = {ws: 0, escapeMore: 0, escapeKey: 0, duplicate: 0}

function genText(r: Rng, protocol: WireProtocol): {data: string; clean: boolean} {
  const chunk = genChunk(r, protocol)
  const messy = r.chance(0.5)
  const style: Style = messy ? {ws: 0.3, escapeMore: 0.2, escapeKey: 0.05, duplicate: 0.1} : CLEAN
  let data = `${ws(r, style.ws)}${write(r, chunk, style)}${ws(r, style.ws)}`
  const mutated = r.chance(0.2)
  if (mutated) data = mutate(r, data)
  return {data, clean: !messy && !mutated}
}

// -------------------------------------------------------------------------------------- the tests

describe('ChunkScanner vs JSON.parse', () => {
  it('reads exactly what JSON.parse gives, or declines, over generated chunks of every protocol', () => {
    let accepted = 0
    let declined = 0
    fc.assert(
      fc.property(fc.integer(), fc.constantFrom(...PROTOCOLS), (seed, protocol) => {
        const r = rng(seed)
        for (let k = 0; k < 20; k++) {
          const {data} = genText(r, protocol)
          const got = scanned(protocol, data)
          if (got === 'declined') {
            declined++
            continue
          }
          accepted++
          expect({data, fields: got}).toEqual({data, fields: reference(protocol, data)})
        }
      }),
      {numRuns: 1500},
    )
    // Both branches were exercised (the generator is not all-valid nor all-broken).
    expect(accepted).toBeGreaterThan(5000)
    expect(declined).toBeGreaterThan(3000)
  })

  it('does not decline a plain, valid content chunk written compactly (what servers send)', () => {
    let eligible = 0
    fc.assert(
      fc.property(fc.integer(), fc.constantFrom(...PROTOCOLS), (seed, protocol) => {
        const r = rng(seed)
        for (let k = 0; k < 20; k++) {
          const chunk = genChunk(r, protocol)
          // Error shapes are always the full path's (the scanner declines on the key, whatever its value).
          if ('error' in chunk || 'detail' in chunk || chunk['object'] === 'error') continue
          const data = write(r, chunk, CLEAN)
          const expected = reference(protocol, data)
          if (expected === 'full') continue
          eligible++
          expect({data, fields: scanned(protocol, data)}).toEqual({data, fields: expected})
        }
      }),
      {numRuns: 500},
    )
    expect(eligible).toBeGreaterThan(3000)
  })

  it('decodes every escape exactly as JSON.parse: short ones, \\u in either case, surrogate pairs, lone surrogates', () => {
    fc.assert(
      fc.property(fc.string({unit: fc.integer({min: 0, max: 0xffff}).map((c) => String.fromCharCode(c)), maxLength: 24}), fc.integer(), (text, seed) => {
        const r = rng(seed)
        const literal = writeString(r, text, 0.5)
        expect(scanned('llamacpp-completion', `{"content":${literal},"tokens":[1],"stop":false}`)).toEqual({
          text,
          ids: 1,
          hasChoice: false,
          finished: false,
          roleIsString: false,
        })
        expect(scanned('openai-completions', `{"choices":[{"text":${literal},"finish_reason":null}]}`)).toMatchObject({text, hasChoice: true})
      }),
      {numRuns: 2000},
    )
  })

  it('declines what it must leave to JSON.parse, and text JSON.parse refuses', () => {
    const declines: [WireProtocol, string][] = [
      ['llamacpp-completion', '{"content":"","tokens":[],"stop":true,"tokens_predicted":3}'],
      ['llamacpp-completion', '{"error":{"code":500,"message":"x"}}'],
      ['llamacpp-completion', '{"content":"a","co\\u006etent":"b"}'],
      ['llamacpp-completion', '{"content":"a","content":"b"}'],
      ['llamacpp-completion', '{"content":"a\tb"}'],
      ['llamacpp-completion', '{"content":"a\\x"}'],
      ['llamacpp-completion', '{"content":"a\\u12"}'],
      ['llamacpp-completion', '{"content":"a"} x'],
      ['llamacpp-completion', '\u00a0{"content":"a"}'],
      ['llamacpp-completion', '\ufeff{"content":"a"}'],
      ['llamacpp-completion', '{"content":"a",}'],
      ['llamacpp-completion', '{"tokens":[1,]}'],
      ['llamacpp-completion', '{"n":01}'],
      ['llamacpp-completion', '{"n":1.}'],
      ['llamacpp-completion', '{"n":-}'],
      ['llamacpp-completion', '{"n":1e}'],
      ['llamacpp-completion', '{"n":tru}'],
      ['llamacpp-completion', '{"n":nulll}'],
      ['llamacpp-completion', '[1]'],
      ['llamacpp-completion', `{"deep":${'['.repeat(40)}${']'.repeat(40)}}`],
      ['openai-chat', '{"choices":[{"delta":{"content":"a"},"finish_reason":null}],"usage":{"completion_tokens":1}}'],
      ['openai-chat', '{"choices":[],"timings":{"predicted_n":1,"predicted_ms":2}}'],
      ['openai-chat', '{"choices":[{"delta":{"content":"a"},"logprobs":{"content":[{}]}}]}'],
      ['openai-completions', '{"object":"error","message":"bad"}'],
      ['openai-completions', '{"object":"e\\u0072ror","message":"bad"}'],
      ['openai-completions', '{"detail":"bad"}'],
      ['openai-completions', '{"choices":[{"text":"a"}],"choices":[]}'],
    ]
    for (const [protocol, data] of declines) expect({data, got: scanned(protocol, data)}).toEqual({data, got: 'declined'})
    // and reads these (the deep value is within its depth; JSON whitespace anywhere; numbers of every form)
    expect(scanned('llamacpp-completion', ` \t{ "n" : -0.5E+3 , "content" :"x", "tokens":[ [1,[2]], {"a":[]}, "s", null ] ,"stop": false}\r\n`)).toEqual({
      text: 'x',
      ids: 4,
      hasChoice: false,
      finished: false,
      roleIsString: false,
    })
    expect(scanned('openai-chat', '{"choices":[{"delta":{"role":"assistant","content":null},"finish_reason":null}],"usage":null,"object":"chat.completion.chunk"}')).toEqual({
      text: null,
      ids: -1,
      hasChoice: true,
      finished: false,
      roleIsString: true,
    })
    expect(scanned('openai-chat', '{"choices":[{"delta":{"reasoning":"c","content":"a","reasoning_content":"b"},"finish_reason":"stop"}]}')).toMatchObject({
      text: 'abc',
      finished: true,
    })
  })
})

// -------------------------------------------------------------------------- interpreters on and off

function interpret(protocol: WireProtocol, messages: readonly string[], scannerOn: boolean) {
  const previous = setChunkScanner(scannerOn)
  try {
    const interpreter = new StreamInterpreter(protocol)
    const events: ClientEvent[] = []
    const ends: boolean[] = []
    messages.forEach((data, index) => {
      const {events: out, end} = interpreter.onMessage(data, index)
      events.push(...out)
      ends.push(end)
    })
    events.push(...interpreter.finish())
    return {events, ends, contentEvents: interpreter.contentEvents, countedTokens: interpreter.countedTokens, done: interpreter.done}
  } finally {
    setChunkScanner(previous)
  }
}

const fixtureDir = fileURLToPath(new URL('../../../fixtures/', import.meta.url))
function framed(file: string): string[] {
  const framer = new SseFramer()
  return [...framer.push(readFileSync(`${fixtureDir}${file}`)), ...framer.end()].map((m) => m.data)
}

const initial = chunkScannerEnabled()

describe('StreamInterpreter with and without the chunk scanner', () => {
  afterEach(() => setChunkScanner(initial))

  it('yields the same events, counts and ends for every recorded stream, the scanner reading all but the last chunk', () => {
    const recorded: [string, WireProtocol, number][] = [
      // file, protocol, chunks the scanner leaves to JSON.parse (the final/usage chunk, an error event)
      ['llama-server/completion_stream_ids.sse', 'llamacpp-completion', 1],
      ['llama-server/conc_a.sse', 'llamacpp-completion', 1],
      ['llama-server/conc_b.sse', 'llamacpp-completion', 1],
      ['llama-server/failure_invalid_utf8_stream.sse', 'llamacpp-completion', 1],
      ['llama-server/v1_completions_stream.sse', 'openai-completions', 1],
      ['llama-server/v1_chat_completions_stream.sse', 'openai-chat', 1],
      ['vllm/completions_stream.sse', 'openai-completions', 1],
    ]
    for (const [file, protocol, fullParses] of recorded) {
      const messages = framed(file)
      const on = interpret(protocol, messages, true)
      const off = interpret(protocol, messages, false)
      expect({file, ...on}).toEqual({file, ...off})
      expect(on.events.some((e) => e.kind === 'content')).toBe(true)
      const declined = messages.filter((data) => data.trim() !== '[DONE]' && !scanner.scan(protocol, data))
      expect({file, declined: declined.length}).toEqual({file, declined: fullParses})
    }
  })

  it('yields the same events for generated streams (valid, messy and broken chunks, in any order)', () => {
    fc.assert(
      fc.property(fc.integer(), fc.constantFrom(...PROTOCOLS), fc.integer({min: 1, max: 12}), (seed, protocol, length) => {
        const r = rng(seed)
        const messages = Array.from({length}, () => genText(r, protocol).data)
        if (r.chance(0.5)) messages.push('[DONE]')
        expect(interpret(protocol, messages, true)).toEqual(interpret(protocol, messages, false))
      }),
      {numRuns: 3000},
    )
  })

  it('is off by default (CAPPLAN_CHUNK_SCANNER unset), on for interpreters created after setChunkScanner(true), off again after false', () => {
    expect(initial).toBe(process.env['CAPPLAN_CHUNK_SCANNER'] === '1')
    const data = '{"content":"a","tokens":[1],"stop":false}'
    const parse = JSON.parse
    let parses = 0
    JSON.parse = ((text: string) => {
      parses++
      return parse(text) as unknown
    }) as typeof JSON.parse
    try {
      setChunkScanner(false)
      new StreamInterpreter('llamacpp-completion').onMessage(data, 0)
      expect(parses).toBe(1)
      expect(setChunkScanner(true)).toBe(false)
      new StreamInterpreter('llamacpp-completion').onMessage(data, 0)
      expect(parses).toBe(1)
      expect(setChunkScanner(false)).toBe(true)
      new StreamInterpreter('llamacpp-completion').onMessage(data, 0)
      expect(parses).toBe(2)
    } finally {
      JSON.parse = parse
    }
  })
})
