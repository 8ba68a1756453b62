import {describe, expect, it} from 'vitest'

import {renderSynthResult} from '../../../../src/services/model/synth.js'

describe('model synth', () => {
  it('says whether the file was written or reused, its format, size and hash', () => {
    const result = {path: '/cache/m.gguf', reused: true, format: 'Q4_0', bytes: 3 * 2 ** 20, seed: 42, sha256: 'ff'}
    expect(renderSynthResult(result as Parameters<typeof renderSynthResult>[0])).toEqual(['Reused /cache/m.gguf', '  Q4_0, 3.0 MiB (3145728 bytes), seed 42', '  sha256 ff'])
  })
})
