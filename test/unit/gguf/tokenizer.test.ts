import {describe, expect, it} from 'vitest'

import {buildGpt2Vocabulary, buildSpmVocabulary, gpt2ByteToUnicode, TOKEN_TYPE, vocabularyMetadata} from '../../../src/gguf/tokenizer.js'

/** Text a token streams as: gpt2 symbols map back to bytes, SPM "▁" is a space, byte tokens are bytes. */
function gpt2TokenBytes(token: string): number[] {
  const byteOf = new Map(gpt2ByteToUnicode().map((symbol, byte) => [symbol, byte]))
  return [...token].map((symbol) => byteOf.get(symbol)!)
}

describe('gpt2 (qwen2) vocabulary', () => {
  const vocab = buildGpt2Vocabulary(1024)

  it('has exactly the requested size, unique tokens and qwen2 pre-tokenizer', () => {
    expect(vocab.tokens).toHaveLength(1024)
    expect(vocab.tokenTypes).toHaveLength(1024)
    expect(new Set(vocab.tokens).size).toBe(1024)
    expect(vocab.pre).toBe('qwen2')
  })

  it('maps bytes like GPT-2: printable ASCII to itself, space to Ġ, newline to Ċ', () => {
    const table = gpt2ByteToUnicode()
    expect(table[0x41]).toBe('A')
    expect(table[0x20]).toBe('Ġ') // U+0120: the 33rd byte without a printable form (0x00..0x20)
    expect(table[0x0a]).toBe('Ċ') // U+010A
    expect(table[0xa1]).toBe('¡')
    expect(new Set(table).size).toBe(256)
  })

  it('marks every byte symbol that is not printable ASCII unused, so no invalid UTF-8 piece is emitted', () => {
    for (let byte = 0; byte < 256; byte++) {
      const printable = byte >= 0x20 && byte <= 0x7e
      expect(vocab.tokenTypes[byte]).toBe(printable ? TOKEN_TYPE.normal : TOKEN_TYPE.unused)
    }
  })

  it('makes every normal token visible ASCII text', () => {
    for (const [id, token] of vocab.tokens.entries()) {
      if (vocab.tokenTypes[id] !== TOKEN_TYPE.normal) continue
      const bytes = gpt2TokenBytes(token)
      expect(bytes.every((b) => b >= 0x20 && b <= 0x7e)).toBe(true)
    }
    // fillers are " a", " b", ... in breadth-first order: id 256 = " a", 281 = " z", 282 = " aa"
    expect(gpt2TokenBytes(vocab.tokens[256]!)).toEqual([0x20, 0x61])
    expect(vocab.tokens[281]).toBe('Ġz')
    expect(vocab.tokens[282]).toBe('Ġaa')
  })

  it('builds every word by one merge of tokens that exist', () => {
    const ids = new Set(vocab.tokens)
    expect(vocab.merges).toHaveLength(vocab.lastWordId - vocab.firstWordId + 1)
    expect(vocab.merges![0]).toBe('Ġ a')
    expect(vocab.merges![26]).toBe('Ġa a') // makes "Ġaa"
    for (const merge of vocab.merges!) {
      const [left, right] = merge.split(' ')
      expect(ids.has(left!) && ids.has(right!) && ids.has(left! + right!)).toBe(true)
    }
  })

  it('ends with control tokens and uses <|endoftext|> as bos, eos and padding', () => {
    expect(vocab.tokens.slice(-3)).toEqual(['<|endoftext|>', '<|im_start|>', '<|im_end|>'])
    expect(vocab.tokenTypes.slice(-3)).toEqual([3, 3, 3])
    expect(vocab.eosId).toBe(1021)
    expect(vocab.bosId).toBe(1021)
    expect(vocab.addBos).toBe(false)
  })

  it('reaches Qwen2.5 vocabulary size (151936)', () => {
    const big = buildGpt2Vocabulary(151936)
    expect(big.tokens).toHaveLength(151936)
    expect(new Set(big.tokens).size).toBe(151936)
  })

  it('refuses a vocabulary too small for bytes, specials and letters', () => {
    expect(() => buildGpt2Vocabulary(200)).toThrow(/at least 285/)
  })
})

describe('SPM (llama) vocabulary', () => {
  const vocab = buildSpmVocabulary(1024)

  it('starts with <unk>, <s>, </s> and the 256 byte tokens', () => {
    expect(vocab.tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>'])
    expect(vocab.tokens[3 + 0x41]).toBe('<0x41>')
    expect(vocab.tokens[3 + 0xff]).toBe('<0xFF>')
    expect(vocab.tokenTypes.slice(0, 3)).toEqual([TOKEN_TYPE.unknown, TOKEN_TYPE.control, TOKEN_TYPE.control])
    expect(vocab.tokenTypes[3 + 0x41]).toBe(TOKEN_TYPE.byte)
    expect(vocab.tokenTypes[3 + 0x80]).toBe(TOKEN_TYPE.unused) // a lone continuation byte
    expect(vocab.tokenTypes[3 + 0x0a]).toBe(TOKEN_TYPE.unused) // invisible control byte
    expect([vocab.unknownId, vocab.bosId, vocab.eosId, vocab.addBos]).toEqual([0, 1, 2, true])
  })

  it('fills with unique visible "▁word" tokens with descending scores', () => {
    expect(vocab.tokens).toHaveLength(1024)
    expect(new Set(vocab.tokens).size).toBe(1024)
    expect(vocab.tokens[259]).toBe('▁')
    expect(vocab.tokens[vocab.firstWordId]).toBe('▁a')
    for (let id = vocab.firstWordId; id < 1024; id++) expect(vocab.tokens[id]).toMatch(/^▁[a-z]+$/)
    expect(vocab.scores![10]).toBe(-10)
  })
})

describe('vocabularyMetadata', () => {
  it('writes the keys llama.cpp requires, merges only for gpt2 and scores only for SPM', () => {
    const gpt2Keys = vocabularyMetadata(buildGpt2Vocabulary(512)).map((entry) => entry.key)
    expect(gpt2Keys).toEqual([
      'tokenizer.ggml.model',
      'tokenizer.ggml.pre',
      'tokenizer.ggml.tokens',
      'tokenizer.ggml.token_type',
      'tokenizer.ggml.merges',
      'tokenizer.ggml.bos_token_id',
      'tokenizer.ggml.eos_token_id',
      'tokenizer.ggml.padding_token_id',
      'tokenizer.ggml.add_bos_token',
    ])
    const spm = vocabularyMetadata(buildSpmVocabulary(512))
    expect(spm.find((entry) => entry.key === 'tokenizer.ggml.model')?.value).toEqual({type: 'string', value: 'llama'})
    expect(spm.map((entry) => entry.key)).toContain('tokenizer.ggml.scores')
    expect(spm.map((entry) => entry.key)).not.toContain('tokenizer.ggml.merges')
  })
})
