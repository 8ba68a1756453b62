import {describe, expect, it} from 'vitest'

import {ENGINE_BUILD_TARGETS, progressPrinter, renderEngineBuild} from '../../../../src/services/engine/build.js'

const payload = {
  backend: 'cpu' as const,
  native: false,
  alreadyBuilt: false,
  buildDir: '/cache/llama.cpp/cpu-portable',
  logFile: '/cache/llama.cpp/cpu-portable/build.log',
  tag: 'b6000',
  commit: 'abc',
  durationSeconds: 900,
  tools: {'llama-server': '/cache/bin/llama-server'},
}

describe('engine build', () => {
  it('builds one tool or all', () => {
    expect(ENGINE_BUILD_TARGETS).toEqual(['llama-server', 'llama-bench', 'llama-quantize', 'all'])
  })

  it('says what was built, or found built, and where each tool is', () => {
    expect(renderEngineBuild(payload)).toEqual(['Built llama.cpp b6000 (cpu, portable) in 900s:', '  llama-server    /cache/bin/llama-server'])
    expect(renderEngineBuild({...payload, native: true, alreadyBuilt: true})[0]).toBe('llama.cpp b6000 (cpu) is already built in /cache/llama.cpp/cpu-portable:')
  })

  it('shows the compiler progress every 5% and at 100%, nothing else', () => {
    const shown: string[] = []
    const print = progressPrinter((line) => shown.push(line))
    for (const line of ['-- cmake configure', '[1/100] a.cpp', '[3/100] b.cpp', '[6/100] c.cpp', '[50%] d.cpp', '[100/100] link']) print(line)
    expect(shown).toEqual(['    6%  c.cpp', '   50%  d.cpp', '  100%  link'])
  })
})
