import type {LengthDist} from '../results/workload-shape.js'
import {lengthAt, mixSeed} from './lengths.js'
import {makePromptTokens} from './prompts.js'
import type {TraceRequest} from './trace.js'
import {uniformRandom} from '../lib/random.js'

/**
 * Workload shapes beyond the control (unique prompts of fixed lengths): every request's prompt and length as
 * a pure function of (token pool, shape, seed, prompt index), so a run is reproducible from its result file.
 * - shared prefix: K prefixes of N tokens; request i draws group g(i) (seeded) and its prompt is prefix(g)
 *   followed by a part unique to i (unique from its first token, prompts.ts), input length in total.
 * - sessions: T turns; turn t's prompt is turn t-1's prompt, a stand-in for turn t-1's answer (seeded ids of
 *   the answer's length: the server's real answer is not known as token ids) and a new user part. Prompt
 *   indices are laid out in blocks of `lanes` sessions (the level's concurrency): index base + b*lanes*T +
 *   t*lanes + s is turn t of session b*lanes + s, so the requests a closed loop has in flight are different
 *   sessions. The level runner sends turn t only once turn t-1 has ended and the think time has passed.
 * - trace: request k is the trace's line k; block j of its prompt is blockTokens ids drawn from hash_ids[j]
 *   alone (equal ids = equal blocks, whichever request carries them), the rest unique to the request.
 * The intended cache hit of a request: the prompt tokens an ideal prefix cache (unbounded, shared by every
 * slot) would hold when it arrives: its group's prefix once an earlier index used the group, the whole
 * previous turn, the leading trace blocks an earlier request carried.
 */

export interface ShapePlan {
  prefix: {tokens: number; groups: number} | null
  sessions: {turns: number; thinkTimeMs: number} | null
  /** The prompt length (a session's turn: the new user part plus the prefix tokens). */
  input: LengthDist
  output: LengthDist
  trace: {requests: readonly TraceRequest[]; blockTokens: number} | null
}

export interface ShapedRequest {
  promptTokens: number[]
  maxTokens: number
  intendedCachedTokens: number
  /** Session id (within the layout's base), turn, and the prompt index of the previous turn (null on turn 0). */
  session: {id: number; turn: number; previous: number | null} | null
}

/** Where a level's prompt indices start and how many sessions run side by side. */
export interface PromptLayout {
  base: number
  lanes: number
}

const STREAM = {input: 1, output: 2, group: 3, prefix: 4, answer: 5, block: 6, fill: 7} as const

export class ShapedPrompts {
  private readonly prefixSeed: number
  private readonly answerSeed: number
  private readonly blockSeed: number
  private readonly fillSeed: number
  /** First prompt index of each prefix group, found by scanning indices in order (scannedTo = next to scan). */
  private readonly firstOfGroup = new Map<number, number>()
  private scannedTo = 0
  private readonly traceCached: number[] | null

  constructor(
    private readonly pool: readonly number[],
    readonly shape: ShapePlan,
    private readonly seed: number,
  ) {
    this.prefixSeed = mixSeed(seed, STREAM.prefix, 0)
    this.answerSeed = mixSeed(seed, STREAM.answer, 0)
    this.blockSeed = mixSeed(seed, STREAM.block, 0)
    this.fillSeed = mixSeed(seed, STREAM.fill, 0)
    this.traceCached = shape.trace === null ? null : traceIntendedCached(shape.trace.requests, shape.trace.blockTokens)
  }

  /** The prefix group prompt index i draws (0 .. groups-1). */
  groupOf(promptIndex: number): number {
    const groups = this.shape.prefix?.groups ?? 1
    return groups === 1 ? 0 : Math.floor(uniformRandom(mixSeed(this.seed, STREAM.group, promptIndex))() * groups)
  }

  inputLength(promptIndex: number): number {
    return lengthAt(this.shape.input, this.seed, STREAM.input, promptIndex)
  }

  outputLength(promptIndex: number): number {
    return lengthAt(this.shape.output, this.seed, STREAM.output, promptIndex)
  }

  private prefixTokens(group: number): number[] {
    return this.shape.prefix === null ? [] : makePromptTokens(this.pool, this.shape.prefix.tokens, this.prefixSeed, group)
  }

  /** Whether an index before `promptIndex` drew `group`. */
  private groupSeenBefore(group: number, promptIndex: number): boolean {
    while (this.scannedTo < promptIndex) {
      const g = this.groupOf(this.scannedTo)
      if (!this.firstOfGroup.has(g)) this.firstOfGroup.set(g, this.scannedTo)
      this.scannedTo++
    }
    const first = this.firstOfGroup.get(group)
    return first !== undefined && first < promptIndex
  }

  /** The request at `promptIndex` (trace: line promptIndex - layout.base). */
  request(promptIndex: number, layout: PromptLayout): ShapedRequest {
    const {trace, sessions, prefix} = this.shape
    if (trace !== null) return this.traceRequest(promptIndex - layout.base)
    const prefixTokens = prefix?.tokens ?? 0
    if (sessions === null) {
      const group = this.groupOf(promptIndex)
      const unique = makePromptTokens(this.pool, this.inputLength(promptIndex) - prefixTokens, this.seed, promptIndex)
      return {
        promptTokens: [...this.prefixTokens(group), ...unique],
        maxTokens: this.outputLength(promptIndex),
        intendedCachedTokens: prefix !== null && this.groupSeenBefore(group, promptIndex) ? prefixTokens : 0,
        session: null,
      }
    }
    const perBlock = layout.lanes * sessions.turns
    const relative = promptIndex - layout.base
    const block = Math.floor(relative / perBlock)
    const turn = Math.floor((relative % perBlock) / layout.lanes)
    const lane = relative % layout.lanes
    const indexOfTurn = (t: number) => layout.base + block * perBlock + t * layout.lanes + lane
    const first = indexOfTurn(0)
    const group = this.groupOf(first)
    const tokens = this.prefixTokens(group)
    let previousLength = 0
    for (let t = 0; t <= turn; t++) {
      const index = indexOfTurn(t)
      if (t > 0) {
        const before = indexOfTurn(t - 1)
        previousLength = tokens.length
        tokens.push(...makePromptTokens(this.pool, this.outputLength(before), this.answerSeed, before))
      }
      tokens.push(...makePromptTokens(this.pool, this.inputLength(index) - prefixTokens, this.seed, index))
    }
    const intended = turn > 0 ? previousLength : prefix !== null && this.groupSeenBefore(group, first) ? prefixTokens : 0
    return {
      promptTokens: tokens,
      maxTokens: this.outputLength(promptIndex),
      intendedCachedTokens: intended,
      session: {id: block * layout.lanes + lane, turn, previous: turn > 0 ? indexOfTurn(turn - 1) : null},
    }
  }

  private traceRequest(k: number): ShapedRequest {
    const {requests, blockTokens} = this.shape.trace!
    const line = requests[k]
    if (line === undefined) throw new RangeError(`trace request ${k} is past the trace's ${requests.length} requests`)
    const tokens: number[] = []
    for (const id of line.hashIds) {
      if (tokens.length >= line.inputLength) break
      tokens.push(...makePromptTokens(this.pool, blockTokens, this.blockSeed, id).slice(0, line.inputLength - tokens.length))
    }
    if (tokens.length < line.inputLength) tokens.push(...makePromptTokens(this.pool, line.inputLength - tokens.length, this.fillSeed, k))
    return {promptTokens: tokens, maxTokens: line.outputLength, intendedCachedTokens: this.traceCached![k]!, session: null}
  }
}

/**
 * Per trace request, the prompt tokens of its leading blocks an earlier request already sent (hash ids are
 * chained: a repeated id means the whole prefix up to it repeats), as far as they were sent.
 */
export function traceIntendedCached(requests: readonly TraceRequest[], blockTokens: number): number[] {
  // Tokens of each block sent so far (a request's last block may be cut short: only that much is cached).
  const sent = new Map<number, number>()
  return requests.map((request) => {
    let cached = 0
    let leading = true
    for (const [j, id] of request.hashIds.entries()) {
      const start = j * blockTokens
      if (start >= request.inputLength) break
      const length = Math.min(blockTokens, request.inputLength - start)
      const before = sent.get(id) ?? 0
      if (leading) cached += Math.min(before, length)
      // A block sent shorter than now (or never) ends the reusable prefix.
      if (before < length) leading = false
      sent.set(id, Math.max(before, length))
    }
    return cached
  })
}

/** The longest prompt a shape can build (the server's context per slot must hold it plus the output). */
export function maxPromptTokens(shape: ShapePlan, inputMax: number, outputMax: number): number {
  if (shape.trace !== null) return Math.max(...shape.trace.requests.map((r) => r.inputLength))
  if (shape.sessions === null) return inputMax
  const prefix = shape.prefix?.tokens ?? 0
  const turns = shape.sessions.turns
  return prefix + turns * (inputMax - prefix) + (turns - 1) * outputMax
}
