import {Flags} from '@oclif/core'

import {parseDuration} from '../parsers/load.js'
import {capplanFlag, integerFlag} from './custom.js'

/** `capplan pack`'s flags (the command declares them whole). */
export const packFlags = {
  plan: Flags.string({description: 'The bench plan (YAML or JSON): model, quants, concurrency, inputTokens, outputTokens, budgetSeconds, ...', required: true}),
  output: Flags.string({char: 'o', description: 'The kit folder to write (must not exist); the archive is <folder>.tar.xz beside it.', default: 'capplan-kit'}),
  budget: capplanFlag<number>((text) => Math.ceil(parseDuration(text, '--budget') / 1000))({
    summary: "run.sh's time budget, e.g. 8m (overrides the plan's budgetSeconds).",
    helpValue: 'DURATION',
  }),
  llama: Flags.option({
    description:
      'llama.cpp in the kit: binary = a llama-server built here; source = the trimmed llama.cpp source, built on the target by run.sh; both = run.sh builds only if the binary does not run there.',
    options: ['binary', 'source', 'both'] as const,
    default: 'both',
  })(),
  'server-bin': Flags.string({description: "The llama-server to pack (default: capplan engine build's, found as bench finds it)."}),
  cuda: Flags.option({
    description: 'on: pack a llama-server built here with CUDA for --cuda-arch (needs nvcc here); off: the CPU build.',
    options: ['on', 'off'] as const,
    default: 'off',
  })(),
  'cuda-arch': integerFlag({
    description: 'CUDA compute capability to build for, here or on the target: 90 = H100/H200, 80 = A100, 89 = L4/L40S.',
    default: 90,
    min: 50,
    max: 199,
  }),
  'with-node': Flags.boolean({description: 'Put this Node.js binary in the kit (Linux x86-64), for a host without Node.js >= 20.5.', default: false}),
  archive: Flags.boolean({description: 'Also write <folder>.tar.xz (--no-archive: the folder only).', default: true, allowNo: true}),
}
