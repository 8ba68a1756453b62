import {execFileSync} from 'node:child_process'

import {describe, expect, it} from 'vitest'

import {kitEnv, kitPackageJson, LLAMA_SOURCE_EXCLUDES} from '../../../../src/services/pack/pack.js'

describe('the kit files pack writes', () => {
  it("kit.env single-quotes every value, so bash reads back exactly what was written (a quote: '\\'')", () => {
    const values = {MODEL: "tiny's model", FLAGS: '-mno-amx-tile -mno-amx-int8', EMPTY: '', DOLLAR: '$HOME `x`'}
    const text = kitEnv(values)
    expect(text).toBe("MODEL='tiny'\\''s model'\nFLAGS='-mno-amx-tile -mno-amx-int8'\nEMPTY=''\nDOLLAR='$HOME `x`'\n")
    const echoed = execFileSync('bash', ['-c', `${text}\nprintf '%s\\n' "$MODEL" "$FLAGS" "$EMPTY" "$DOLLAR"`], {encoding: 'utf8'})
    expect(echoed).toBe(`${Object.values(values).join('\n')}\n`)
  })

  it("the kit's package.json points oclif at the bundle's COMMANDS export", () => {
    expect(kitPackageJson('1.2.3')).toMatchObject({
      name: 'capplan',
      version: '1.2.3',
      type: 'module',
      oclif: {commands: {strategy: 'explicit', target: './bin/capplan.mjs', identifier: 'COMMANDS'}},
    })
  })

  it('the trimmed source keeps what cmake needs: ggml-cpu, ggml-cuda, tools, app are not excluded', () => {
    for (const kept of ['ggml/src/ggml-cpu', 'ggml/src/ggml-cuda', 'tools', 'app', 'src', 'common', 'vendor']) expect(LLAMA_SOURCE_EXCLUDES).not.toContain(kept)
    expect(LLAMA_SOURCE_EXCLUDES).toContain('models')
  })
})
