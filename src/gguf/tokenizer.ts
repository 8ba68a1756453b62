import type {GgufMetadataEntry} from './writer.js'

/**
 * Synthetic vocabularies llama.cpp accepts, of exactly the profile's vocabulary size. Random weights can emit
 * any token, so every token a model can emit must stream as visible, valid UTF-8 text:
 * - filler tokens are unique short lower-case words with a leading space (" ab", " qzx"), reachable
 *   through merges (gpt2) or scores (SPM) so text tokenizes into them too;
 * - lone byte tokens that are not printable ASCII (>= 0x80 is invalid UTF-8 on its own; control bytes
 *   are invisible) are marked UNUSED: llama.cpp renders them as empty pieces. A stream of raw >= 0x80 bytes
 *   made llama-server end the stream with an error after ~200 tokens (fixtures/llama-server).
 */

/** llama.cpp's llama_token_type values (tokenizer.ggml.token_type). */
export const TOKEN_TYPE = {normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6} as const

export type VocabularyKind = 'gpt2' | 'spm'

export interface SyntheticVocabulary {
  kind: VocabularyKind
  tokens: string[]
  tokenTypes: number[]
  /** SPM only (gpt2 ranks by merges). */
  scores: number[] | null
  /** gpt2 only: "left right" pairs, rank order. */
  merges: string[] | null
  bosId: number
  eosId: number
  unknownId: number | null
  paddingId: number
  addBos: boolean
  /** tokenizer.ggml.pre (gpt2 pre-tokenizer regex set); null for SPM. */
  pre: string | null
  /** Ids of the visible word tokens, first and last (a range, for callers that build prompts). */
  firstWordId: number
  lastWordId: number
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz'

const isPrintableAscii = (byte: number) => byte >= 0x20 && byte <= 0x7e

/** GPT-2's byte -> unicode table: printable bytes map to themselves, the rest to U+0100 and up. */
export function gpt2ByteToUnicode(): string[] {
  const direct: number[] = []
  for (let b = 0x21; b <= 0x7e; b++) direct.push(b)
  for (let b = 0xa1; b <= 0xac; b++) direct.push(b)
  for (let b = 0xae; b <= 0xff; b++) direct.push(b)
  const table: string[] = Array.from({length: 256})
  let next = 0
  for (let b = 0; b < 256; b++) {
    table[b] = direct.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + next++)
  }
  return table
}

/**
 * Words in breadth-first order: a..z, aa..zz, aaa.. Every word's prefix comes before it, so one merge
 * (prefix + last letter) per word builds a consistent BPE vocabulary.
 */
function* wordsBreadthFirst(): Generator<{word: string; prefix: string; last: string}> {
  let level = ['']
  for (;;) {
    const nextLevel: string[] = []
    for (const prefix of level) {
      for (const letter of LETTERS) {
        const word = prefix + letter
        nextLevel.push(word)
        yield {word, prefix, last: letter}
      }
    }
    level = nextLevel
  }
}

/** Smallest vocabulary each kind can build (bytes, specials, the 26 one-letter words). */
export const MIN_VOCAB_SIZE: Record<VocabularyKind, number> = {gpt2: 256 + 3 + 26, spm: 3 + 256 + 1 + 26 + 26}

/**
 * gpt2 byte-level BPE (Qwen2 style): ids 0..255 are the byte symbols, then words, then the special tokens
 * <|endoftext|>, <|im_start|>, <|im_end|> at the end (as in Qwen2.5, where they follow the BPE tokens).
 */
export function buildGpt2Vocabulary(vocabSize: number): SyntheticVocabulary {
  if (!Number.isInteger(vocabSize) || vocabSize < MIN_VOCAB_SIZE.gpt2) {
    throw new RangeError(`a gpt2 vocabulary needs at least ${MIN_VOCAB_SIZE.gpt2} tokens, got ${vocabSize}`)
  }
  const byteSymbols = gpt2ByteToUnicode()
  const space = byteSymbols[0x20]! // "Ġ"
  const tokens: string[] = [...byteSymbols]
  const tokenTypes: number[] = byteSymbols.map((_, byte) => (isPrintableAscii(byte) ? TOKEN_TYPE.normal : TOKEN_TYPE.unused))
  const merges: string[] = []
  const specials = ['<|endoftext|>', '<|im_start|>', '<|im_end|>']
  const wordCount = vocabSize - tokens.length - specials.length
  const firstWordId = tokens.length
  const words = wordsBreadthFirst()
  for (let i = 0; i < wordCount; i++) {
    const {word, prefix, last} = words.next().value!
    tokens.push(space + word)
    tokenTypes.push(TOKEN_TYPE.normal)
    merges.push(`${space + prefix} ${last}`)
  }
  const lastWordId = tokens.length - 1
  const endOfText = tokens.length
  for (const special of specials) {
    tokens.push(special)
    tokenTypes.push(TOKEN_TYPE.control)
  }
  return {
    kind: 'gpt2',
    tokens,
    tokenTypes,
    scores: null,
    merges,
    bosId: endOfText,
    eosId: endOfText,
    unknownId: null,
    paddingId: endOfText,
    addBos: false,
    pre: 'qwen2',
    firstWordId,
    lastWordId,
  }
}

/**
 * SentencePiece (Llama style): <unk>, <s>, </s>, <0x00>..<0xFF>, "▁" and the 26 letters (the symbols SPM
 * starts merging from), then "▁word" fillers. Higher score = preferred merge, so earlier tokens win.
 */
export function buildSpmVocabulary(vocabSize: number): SyntheticVocabulary {
  if (!Number.isInteger(vocabSize) || vocabSize < MIN_VOCAB_SIZE.spm) {
    throw new RangeError(`an SPM vocabulary needs at least ${MIN_VOCAB_SIZE.spm} tokens, got ${vocabSize}`)
  }
  const tokens = ['<unk>', '<s>', '</s>']
  const tokenTypes: number[] = [TOKEN_TYPE.unknown, TOKEN_TYPE.control, TOKEN_TYPE.control]
  for (let byte = 0; byte < 256; byte++) {
    tokens.push(`<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`)
    tokenTypes.push(isPrintableAscii(byte) ? TOKEN_TYPE.byte : TOKEN_TYPE.unused)
  }
  const space = '\u2581' // "▁", SPM's visible space
  for (const symbol of [space, ...LETTERS]) {
    tokens.push(symbol)
    tokenTypes.push(TOKEN_TYPE.normal)
  }
  const firstWordId = tokens.length
  const words = wordsBreadthFirst()
  while (tokens.length < vocabSize) {
    tokens.push(space + words.next().value!.word)
    tokenTypes.push(TOKEN_TYPE.normal)
  }
  const scores = tokens.map((_, id) => -id)
  return {
    kind: 'spm',
    tokens,
    tokenTypes,
    scores,
    merges: null,
    bosId: 1,
    eosId: 2,
    unknownId: 0,
    paddingId: 0,
    addBos: true,
    pre: null,
    firstWordId,
    lastWordId: tokens.length - 1,
  }
}

/** The vocabulary kind llama.cpp expects for an architecture's real models. */
export function vocabularyKindFor(architecture: string): VocabularyKind {
  return architecture === 'llama' ? 'spm' : 'gpt2'
}

let lastVocabulary: {key: string; vocab: SyntheticVocabulary} | null = null

/**
 * The vocabulary for an architecture and size. The last one is kept: estimating a file's size and then
 * writing it need the same 150k-token vocabulary (treat the result as read-only).
 */
export function buildVocabulary(architecture: string, vocabSize: number): SyntheticVocabulary {
  const kind = vocabularyKindFor(architecture)
  const key = `${kind}:${vocabSize}`
  if (lastVocabulary?.key === key) return lastVocabulary.vocab
  const vocab = kind === 'spm' ? buildSpmVocabulary(vocabSize) : buildGpt2Vocabulary(vocabSize)
  lastVocabulary = {key, vocab}
  return vocab
}

/** tokenizer.ggml.* metadata entries for a vocabulary. */
export function vocabularyMetadata(vocab: SyntheticVocabulary): GgufMetadataEntry[] {
  const entries: GgufMetadataEntry[] = [{key: 'tokenizer.ggml.model', value: {type: 'string', value: vocab.kind === 'spm' ? 'llama' : 'gpt2'}}]
  if (vocab.pre !== null) entries.push({key: 'tokenizer.ggml.pre', value: {type: 'string', value: vocab.pre}})
  entries.push({key: 'tokenizer.ggml.tokens', value: {type: 'array', itemType: 'string', values: vocab.tokens}})
  if (vocab.scores !== null) {
    entries.push({key: 'tokenizer.ggml.scores', value: {type: 'array', itemType: 'float32', values: vocab.scores}})
  }
  entries.push({key: 'tokenizer.ggml.token_type', value: {type: 'array', itemType: 'int32', values: vocab.tokenTypes}})
  if (vocab.merges !== null) {
    entries.push({key: 'tokenizer.ggml.merges', value: {type: 'array', itemType: 'string', values: vocab.merges}})
  }
  entries.push(
    {key: 'tokenizer.ggml.bos_token_id', value: {type: 'uint32', value: vocab.bosId}},
    {key: 'tokenizer.ggml.eos_token_id', value: {type: 'uint32', value: vocab.eosId}},
    {key: 'tokenizer.ggml.padding_token_id', value: {type: 'uint32', value: vocab.paddingId}},
  )
  if (vocab.unknownId !== null) {
    entries.push({key: 'tokenizer.ggml.unknown_token_id', value: {type: 'uint32', value: vocab.unknownId}})
  }
  entries.push({key: 'tokenizer.ggml.add_bos_token', value: {type: 'bool', value: vocab.addBos}})
  return entries
}
