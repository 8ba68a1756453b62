import {existsSync, readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {describe, expect, it} from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))

/** Command ids oclif derives from dist/commands: profiles/list.js -> "profiles:list". */
function commandIdsInDist(dir = path.join(root, 'dist/commands'), prefix: string[] = []): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    if (entry.isDirectory()) return commandIdsInDist(path.join(dir, entry.name), [...prefix, entry.name])
    return entry.name.endsWith('.js') ? [[...prefix, entry.name.slice(0, -3)].join(':')] : []
  })
}

// oclif lists commands from oclif.manifest.json when it exists (start-up without importing every command);
// a manifest older than dist/ would hide new commands. `npm run build` writes it after tsc.
describe('oclif.manifest.json (written by npm run build)', () => {
  it('lists exactly the built commands, for this version', () => {
    const manifestPath = path.join(root, 'oclif.manifest.json')
    expect(existsSync(manifestPath), 'oclif.manifest.json is missing: run npm run build').toBe(true)
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {version: string; commands: Record<string, {flags: Record<string, unknown>}>}
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {version: string}
    expect(manifest.version).toBe(pkg.version)
    expect(Object.keys(manifest.commands).sort(), 'stale oclif.manifest.json: run npm run build').toEqual(commandIdsInDist().sort())
    // The flags every command inherits are recorded, so help and parsing do not need the module.
    expect(Object.keys(manifest.commands['report']!.flags)).toEqual(expect.arrayContaining(['json', 'profiles', 'format', 'out']))
  })

  it('holds the text of value defaults (defaultHelp), so --help reads it here instead of importing the command', () => {
    const manifest = JSON.parse(readFileSync(path.join(root, 'oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, {hasDynamicHelp?: boolean; flags: Record<string, {default?: unknown; hasDynamicHelp?: boolean}>}>
    }
    const bench = manifest.commands['bench']!
    expect(bench.flags['quant']).toMatchObject({default: 'int4', hasDynamicHelp: false})
    expect(bench.flags['startup-timeout']).toMatchObject({default: '10m', hasDynamicHelp: false})
    expect(Object.values(manifest.commands).filter((command) => command.hasDynamicHelp)).toEqual([])
  })
})
