import type {WireProtocol} from './protocols.js'

/**
 * The fast path of StreamInterpreter (issue 17, "far fewer allocations per event"): reads the few fields a
 * content chunk's event needs straight from the SSE `data` text, without building the chunk's objects
 * (JSON.parse makes an object per chunk, its `choices` array, the choice, the delta and a string for every
 * id, model and fingerprint: garbage that the young-generation collector then pauses the client for).
 *
 * It validates the whole text as JSON as it goes (the grammar of RFC 8259, exactly what JSON.parse accepts:
 * whitespace is space, tab, LF and CR only; no raw control character inside a string; the eight escapes and
 * \uXXXX; numbers as -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?), and DECLINES (returns false) whenever the
 * interpreter's full path could do anything else than yield the plain content event it reads:
 * - text that is not one JSON object, or nesting deeper than MAX_DEPTH;
 * - any `usage` or `timings` that is an object, any `logprobs` object in the first choice (token counts),
 *   llama.cpp's `stop: true` (the final event: usage, timings);
 * - any key that could make it an error event (`error`, `detail`, `object: "error"`);
 * - a key that holds an escape (it could spell a field's name), or a field it reads given twice in one object
 *   (JSON.parse keeps the last: not worth following).
 * A decline costs the scan; the caller then runs JSON.parse, whose answer is the reference. Strings it keeps
 * (the content text) are decoded exactly as JSON.parse decodes them, escapes and lone surrogates included.
 * test/unit/engines/http/chunk-scanner.test.ts checks, over generated and recorded chunks, that the scanner
 * reads what JSON.parse gives, or declines.
 *
 * Not re-entrant (interpreter.ts shares one per thread: onMessage is synchronous); it allocates nothing but
 * the strings it keeps. Measured against JSON.parse it did not win (perf/README.md, "A chunk scanner instead of
 * JSON.parse"): JSON.parse's objects are ~2% of the client's garbage per event, and V8 parses faster than this
 * loop runs; so it is off unless CAPPLAN_CHUNK_SCANNER=1.
 */

/** Deeper values are left to JSON.parse (the scan recurses; a real chunk nests 3-4 levels). */
const MAX_DEPTH = 32

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c
const COLON = 0x3a
const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const MINUS = 0x2d
const PLUS = 0x2b
const DOT = 0x2e
const ZERO = 0x30
const NINE = 0x39

/** How an object's members are read. */
const enum Mode {
  Skip,
  LlamaTop,
  OpenAiTop,
  ChatTop,
  Choice,
  ChatChoice,
  Delta,
}

/** A scan that fails returns false through every level (no exceptions on the hot path). */
export class ChunkScanner {
  // ---- what the last successful scan read (valid only after scan() returned true)
  /**
   * The content text: llama.cpp's `content` (a string, else ''); openai-completions' first choice's `text`
   * (null when not a string); openai-chat's delta content + reasoning_content + reasoning, those that are
   * strings, joined in that order (null when none is).
   */
  text: string | null = null
  /** llama.cpp: the `tokens` array's length, -1 when `tokens` is not an array. */
  ids = -1
  /** OpenAI: `choices` is an array whose first element is an object. */
  hasChoice = false
  /** OpenAI: that choice's finish_reason is present and not null. */
  finished = false
  /** openai-chat: the delta's `role` is a string. */
  roleIsString = false

  private s = ''
  private i = 0
  private n = 0
  /** The last string scanned held an escape. */
  private lastEscaped = false
  /** The text holds no backslash and no control character (U+0000-U+001F): no string has an escape. */
  private plain = false
  // chat delta pieces, joined in the interpreter's order
  private content: string | null = null
  private reasoningContent: string | null = null
  private reasoning: string | null = null

  /** Reads `data`; false = declined (use JSON.parse). */
  scan(protocol: WireProtocol, data: string): boolean {
    this.reset(data)
    this.ws()
    if (this.i >= this.n || this.s.charCodeAt(this.i) !== OPEN_BRACE) return false
    const mode = protocol === 'llamacpp-completion' ? Mode.LlamaTop : protocol === 'openai-chat' ? Mode.ChatTop : Mode.OpenAiTop
    if (!this.object(0, mode)) return false
    this.ws()
    if (this.i !== this.n) return false
    if (protocol === 'llamacpp-completion') {
      this.text ??= ''
    } else if (protocol === 'openai-chat' && this.hasChoice) {
      // chatDelta's [content, reasoning_content, reasoning].filter(string).join(''), or null for none.
      let text = this.content
      if (this.reasoningContent !== null) text = text === null ? this.reasoningContent : text + this.reasoningContent
      if (this.reasoning !== null) text = text === null ? this.reasoning : text + this.reasoning
      this.text = text
    }
    this.s = ''
    return true
  }

  private reset(data: string): void {
    this.plain = !SPECIAL.test(data)
    this.s = data
    this.i = 0
    this.n = data.length
    this.text = null
    this.ids = -1
    this.hasChoice = false
    this.finished = false
    this.roleIsString = false
    this.content = null
    this.reasoningContent = null
    this.reasoning = null
  }

  // ------------------------------------------------------------------------------------- the shapes

  /**
   * An object at '{', its members read as `mode` says (SKIP: validated only). Ends after '}'. No closure per
   * object: the member reader is one switch, and `seen` (the fields met so far) lives on this frame.
   */
  private object(depth: number, mode: Mode): boolean {
    if (depth > MAX_DEPTH) return false
    this.i++
    this.ws()
    if (this.peek() === CLOSE_BRACE) {
      this.i++
      return true
    }
    let seen = 0
    for (;;) {
      if (this.peek() !== QUOTE) return false
      const keyStart = this.i + 1
      if (this.string(false) === null) return false
      const key = mode === Mode.Skip ? K_OTHER : this.lastEscaped ? K_ESCAPED : keyName(this.s, keyStart, this.i - 1 - keyStart)
      this.ws()
      if (this.peek() !== COLON) return false
      this.i++
      this.ws()
      if (key === K_OTHER) {
        if (!this.value(depth + 1)) return false
      } else {
        seen = this.member(mode, key, seen, depth + 1)
        if (seen < 0) return false
      }
      this.ws()
      const c = this.peek()
      this.i++
      if (c === CLOSE_BRACE) return true
      if (c !== COMMA) return false
      this.ws()
    }
  }

  /** One member of a read object, the cursor on its value: the new `seen`, or -1 to decline. */
  private member(mode: Mode, key: number, seen: number, depth: number): number {
    if (key === K_ESCAPED) return -1
    const bit = 1 << key
    // A field given twice: JSON.parse keeps the last one; not followed here.
    const once = (seen & bit) === 0 ? seen | bit : -1
    if (mode === Mode.LlamaTop || mode === Mode.OpenAiTop || mode === Mode.ChatTop) {
      // Error shapes (serverErrorMessage) at the top of any protocol: JSON.parse's.
      if (key === K_ERROR || key === K_DETAIL) return -1
      if (key === K_OBJECT) {
        if (once < 0) return -1
        if (this.peek() !== QUOTE) return this.value(depth) ? once : -1
        const start = this.i + 1
        if (this.string(false) === null || this.lastEscaped) return -1
        // object: "error" (vLLM's error shape) is an error event.
        return this.i - 1 - start === 5 && matches(this.s, start, 'error') ? -1 : once
      }
    }
    switch (mode) {
      case Mode.LlamaTop:
        if (key === K_CONTENT) {
          if (once < 0) return -1
          if (this.peek() !== QUOTE) {
            this.text = ''
            return this.value(depth) ? once : -1
          }
          const text = this.string(true)
          if (text === null) return -1
          this.text = text
          return once
        }
        if (key === K_TOKENS) {
          if (once < 0) return -1
          if (this.peek() !== OPEN_BRACKET) {
            this.ids = -1
            return this.value(depth) ? once : -1
          }
          const count = this.arrayCount(depth)
          if (count < 0) return -1
          this.ids = count
          return once
        }
        if (key === K_STOP) {
          if (once < 0) return -1
          // stop: true is the final event (usage, timings): JSON.parse's.
          if (matches(this.s, this.i, 'true')) return -1
          return this.value(depth) ? once : -1
        }
        break
      case Mode.OpenAiTop:
      case Mode.ChatTop:
        if (key === K_CHOICES) {
          if (once < 0) return -1
          if (this.peek() !== OPEN_BRACKET) return this.value(depth) ? once : -1
          return this.choices(depth, mode === Mode.ChatTop) ? once : -1
        }
        if (key === K_USAGE || key === K_TIMINGS) {
          if (once < 0) return -1
          // An object there is read by the full path (usage counts, llama.cpp's timings).
          if (this.peek() === OPEN_BRACE) return -1
          return this.value(depth) ? once : -1
        }
        break
      case Mode.Choice:
      case Mode.ChatChoice:
        if (key === K_FINISH_REASON) {
          if (once < 0) return -1
          if (!matches(this.s, this.i, 'null')) this.finished = true
          return this.value(depth) ? once : -1
        }
        if (key === K_LOGPROBS) {
          if (once < 0) return -1
          // A logprobs object may count the chunk's tokens: JSON.parse's.
          if (this.peek() === OPEN_BRACE) return -1
          return this.value(depth) ? once : -1
        }
        if (key === K_TEXT && mode === Mode.Choice) {
          if (once < 0) return -1
          if (this.peek() !== QUOTE) return this.value(depth) ? once : -1
          const text = this.string(true)
          if (text === null) return -1
          this.text = text
          return once
        }
        if (key === K_DELTA && mode === Mode.ChatChoice) {
          if (once < 0) return -1
          if (this.peek() !== OPEN_BRACE) return this.value(depth) ? once : -1
          return this.object(depth, Mode.Delta) ? once : -1
        }
        break
      case Mode.Delta:
        if (key === K_CONTENT || key === K_REASONING_CONTENT || key === K_REASONING || key === K_ROLE) {
          if (once < 0) return -1
          if (this.peek() !== QUOTE) return this.value(depth) ? once : -1
          if (key === K_ROLE) {
            this.roleIsString = true
            return this.string(false) === null ? -1 : once
          }
          const text = this.string(true)
          if (text === null) return -1
          if (key === K_CONTENT) this.content = text
          else if (key === K_REASONING_CONTENT) this.reasoningContent = text
          else this.reasoning = text
          return once
        }
        break
      case Mode.Skip:
        break
    }
    // A field this object does not read (e.g. "text" in a chat choice): skipped.
    return this.value(depth) ? seen : -1
  }

  /** `choices` array: the first element read when it is an object, the rest skipped. At '['. */
  private choices(depth: number, chat: boolean): boolean {
    this.i++
    this.ws()
    if (this.peek() === CLOSE_BRACKET) {
      this.i++
      return true
    }
    if (this.peek() === OPEN_BRACE) {
      this.hasChoice = true
      if (!this.object(depth + 1, chat ? Mode.ChatChoice : Mode.Choice)) return false
    } else if (!this.value(depth + 1)) return false
    for (;;) {
      this.ws()
      const c = this.peek()
      this.i++
      if (c === CLOSE_BRACKET) return true
      if (c !== COMMA) return false
      this.ws()
      if (!this.value(depth + 1)) return false
    }
  }

  // ------------------------------------------------------------------------------------- the grammar

  /** An array at '[': its element count, or -1 when invalid. */
  private arrayCount(depth: number): number {
    if (depth > MAX_DEPTH) return -1
    this.i++
    this.ws()
    if (this.peek() === CLOSE_BRACKET) {
      this.i++
      return 0
    }
    let count = 0
    for (;;) {
      if (!this.value(depth + 1)) return -1
      count++
      this.ws()
      const c = this.peek()
      this.i++
      if (c === CLOSE_BRACKET) return count
      if (c !== COMMA) return -1
      this.ws()
    }
  }

  /** Any JSON value, validated and skipped. */
  private value(depth: number): boolean {
    if (depth > MAX_DEPTH) return false
    const c = this.peek()
    if (c === QUOTE) return this.string(false) !== null
    if (c === OPEN_BRACE) return this.object(depth, Mode.Skip)
    if (c === OPEN_BRACKET) return this.arrayCount(depth) >= 0
    if (c === 0x74) return this.literal('true')
    if (c === 0x66) return this.literal('false')
    if (c === 0x6e) return this.literal('null')
    return this.number()
  }

  /** The literal at the cursor (consumed when it matches; a longer word fails at the next token). */
  private literal(word: string): boolean {
    if (!matches(this.s, this.i, word)) return false
    this.i += word.length
    return true
  }

  private number(): boolean {
    const s = this.s
    let c = this.peek()
    if (c === MINUS) c = s.charCodeAt(++this.i)
    if (c === ZERO) c = s.charCodeAt(++this.i)
    else if (c >= 0x31 && c <= NINE) {
      do c = s.charCodeAt(++this.i)
      while (c >= ZERO && c <= NINE)
    } else return false
    if (c === DOT) {
      c = s.charCodeAt(++this.i)
      if (!(c >= ZERO && c <= NINE)) return false
      do c = s.charCodeAt(++this.i)
      while (c >= ZERO && c <= NINE)
    }
    if (c === 0x65 || c === 0x45) {
      c = s.charCodeAt(++this.i)
      if (c === PLUS || c === MINUS) c = s.charCodeAt(++this.i)
      if (!(c >= ZERO && c <= NINE)) return false
      do c = s.charCodeAt(++this.i)
      while (c >= ZERO && c <= NINE)
    }
    return true
  }

  /**
   * A string at '"', validated; the cursor ends after its closing quote. keep = return its decoded value
   * (else '' for a valid one); null = invalid JSON.
   */
  private string(keep: boolean): string | null {
    const s = this.s
    let i = this.i + 1
    const start = i
    if (this.plain) {
      // No backslash and no control character anywhere in the text: the string ends at the next quote.
      const end = s.indexOf('"', start)
      if (end < 0) return null
      this.i = end + 1
      this.lastEscaped = false
      return keep ? s.slice(start, end) : ''
    }
    const n = this.n
    let decoded: string | null = null
    let runStart = start
    let escaped = false
    for (;;) {
      if (i >= n) return null
      const c = s.charCodeAt(i)
      if (c === QUOTE) break
      if (c < 0x20) return null
      if (c !== BACKSLASH) {
        i++
        continue
      }
      // An escape: keep the run before it, then the escaped unit.
      escaped = true
      if (keep) decoded = (decoded ?? '') + s.slice(runStart, i)
      const e = s.charCodeAt(i + 1)
      let unit: number
      if (e === QUOTE || e === BACKSLASH || e === 0x2f) unit = e
      else if (e === 0x62) unit = 8
      else if (e === 0x66) unit = 12
      else if (e === 0x6e) unit = 10
      else if (e === 0x72) unit = 13
      else if (e === 0x74) unit = 9
      else if (e === 0x75) {
        unit = 0
        for (let k = 2; k < 6; k++) {
          const h = hexValue(s.charCodeAt(i + k))
          if (h < 0) return null
          unit = unit * 16 + h
        }
        i += 4
      } else return null
      if (keep) decoded += String.fromCharCode(unit)
      i += 2
      runStart = i
    }
    this.i = i + 1
    this.lastEscaped = escaped
    if (!keep) return ''
    return decoded === null ? s.slice(start, i) : decoded + s.slice(runStart, i)
  }

  private peek(): number {
    return this.s.charCodeAt(this.i)
  }

  /** JSON whitespace: space, tab, LF, CR (not any other Unicode space: JSON.parse refuses those). */
  private ws(): void {
    const s = this.s
    let i = this.i
    for (;;) {
      const c = s.charCodeAt(i)
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++
      else break
    }
    this.i = i
  }
}

/** What makes a string need the careful loop: an escape, or a control character (invalid raw in a JSON string). */
const SPECIAL = /[\u0000-\u001f\\]/

function hexValue(c: number): number {
  if (c >= ZERO && c <= NINE) return c - ZERO
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10
  return -1
}

/** s holds `word` at `start` (a plain loop: cheaper here than startsWith with an offset). */
function matches(s: string, start: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) if (s.charCodeAt(start + k) !== word.charCodeAt(k)) return false
  return true
}

/** Which field the key s[start, start + length) names: one of the K_ numbers (a bit each), or K_OTHER. */
function keyName(s: string, start: number, length: number): number {
  const first = s.charCodeAt(start)
  switch (length) {
    case 4:
      if (first === 0x73) return matches(s, start, 'stop') ? K_STOP : K_OTHER
      if (first === 0x74) return matches(s, start, 'text') ? K_TEXT : K_OTHER
      return first === 0x72 && matches(s, start, 'role') ? K_ROLE : K_OTHER
    case 5:
      if (first === 0x75) return matches(s, start, 'usage') ? K_USAGE : K_OTHER
      if (first === 0x64) return matches(s, start, 'delta') ? K_DELTA : K_OTHER
      return first === 0x65 && matches(s, start, 'error') ? K_ERROR : K_OTHER
    case 6:
      if (first === 0x74) return matches(s, start, 'tokens') ? K_TOKENS : K_OTHER
      if (first === 0x6f) return matches(s, start, 'object') ? K_OBJECT : K_OTHER
      return first === 0x64 && matches(s, start, 'detail') ? K_DETAIL : K_OTHER
    case 7:
      if (first === 0x63) return matches(s, start, 'content') ? K_CONTENT : matches(s, start, 'choices') ? K_CHOICES : K_OTHER
      return first === 0x74 && matches(s, start, 'timings') ? K_TIMINGS : K_OTHER
    case 8:
      return first === 0x6c && matches(s, start, 'logprobs') ? K_LOGPROBS : K_OTHER
    case 9:
      return first === 0x72 && matches(s, start, 'reasoning') ? K_REASONING : K_OTHER
    case 13:
      return first === 0x66 && matches(s, start, 'finish_reason') ? K_FINISH_REASON : K_OTHER
    case 17:
      return first === 0x72 && matches(s, start, 'reasoning_content') ? K_REASONING_CONTENT : K_OTHER
    default:
      return K_OTHER
  }
}

const K_CONTENT = 0
const K_TOKENS = 1
const K_STOP = 2
const K_CHOICES = 3
const K_USAGE = 4
const K_TIMINGS = 5
const K_ERROR = 6
const K_DETAIL = 7
const K_OBJECT = 8
const K_FINISH_REASON = 9
const K_TEXT = 10
const K_DELTA = 11
const K_LOGPROBS = 12
const K_REASONING_CONTENT = 13
const K_REASONING = 14
const K_ROLE = 15
const K_OTHER = -1
const K_ESCAPED = -2
