#!/usr/bin/env node
// Writes oclif.manifest.json (part of `npm run build`, after tsc). Without it oclif imports EVERY command
// module (node-llama-cpp, systeminformation, execa, ...) on each start just to list them: ~1 s before any
// command runs. With it oclif imports only the command invoked. Same loader oclif's own `oclif manifest`
// uses (@oclif/core's Plugin with the manifest ignored), so no extra dependency.
// The file is generated (.gitignore'd): a stale one hides commands added since, so rebuild with npm run build.

import {writeFile} from 'node:fs/promises'
import {fileURLToPath} from 'node:url'
import path from 'node:path'

import {Plugin} from '@oclif/core'

const root = fileURLToPath(new URL('..', import.meta.url))
const plugin = new Plugin({root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true, respectNoCacheDefault: true})
await plugin.load()
const commandCount = Object.keys(plugin.manifest.commands).length
if (commandCount === 0) throw new Error(`no commands found under ${path.join(root, 'dist/commands')}: run tsc first`)
// A flag whose default is a value (e.g. bench --startup-timeout 600000 ms) shows its text through defaultHelp
// (src/cli/flags/bench.ts, benchFlag), a function, so oclif marks it "dynamic" and `--help` would import the whole
// command (bench: node-llama-cpp, ~1 s) to call it again. capplan's defaultHelp always returns constant text,
// which the manifest already holds as `default`: help reads it from here.
for (const command of Object.values(plugin.manifest.commands)) {
  command.hasDynamicHelp = false
  for (const flag of Object.values(command.flags)) if (flag.hasDynamicHelp) flag.hasDynamicHelp = false
}
await writeFile(path.join(root, 'oclif.manifest.json'), `${JSON.stringify(plugin.manifest, null, 2)}\n`)
console.error(`oclif.manifest.json: ${commandCount} commands (${plugin.manifest.version})`)
