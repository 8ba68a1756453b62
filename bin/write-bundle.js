#!/usr/bin/env node
// Writes dist/bundle/capplan.mjs (part of `npm run build`, after tsc): every command and every dependency in
// ONE ES module, for `capplan pack`'s offline kit (a host with Node.js and no node_modules). esbuild does the
// bundling. The entry imports each command from dist/commands and exports them as COMMANDS, which the kit's
// package.json names for oclif's "explicit" command discovery (no manifest, no directory walk).
// node-llama-cpp stays out (a native module cannot live in a JS file): src/engines/embedded.ts imports it only
// when the embedded engine starts, and says so when it is missing.

import {mkdir, readdir, stat, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {build} from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const commandsDir = path.join(root, 'dist', 'commands')
const outDir = path.join(root, 'dist', 'bundle')

/** Every compiled command file -> its oclif id (engine/build.js -> "engine:build"). */
async function commandFiles(dir, prefix = []) {
  const found = []
  for (const entry of (await readdir(dir)).sort()) {
    const full = path.join(dir, entry)
    if ((await stat(full)).isDirectory()) found.push(...(await commandFiles(full, [...prefix, entry])))
    else if (entry.endsWith('.js')) found.push({id: [...prefix, entry.slice(0, -3)].join(':'), file: full})
  }
  return found
}

const commands = await commandFiles(commandsDir)
if (commands.length === 0) throw new Error(`no commands under ${commandsDir}: run tsc first`)
const entry = [
  "import {execute} from '@oclif/core'",
  ...commands.map((c, i) => `import C${i} from ${JSON.stringify(c.file)}`),
  `export const COMMANDS = {${commands.map((c, i) => `${JSON.stringify(c.id)}: C${i}`).join(', ')}}`,
  // Not awaited: oclif imports this same module for COMMANDS, which must finish evaluating first.
  'if (process.env.CAPPLAN_BUNDLE_NO_MAIN === undefined) execute({dir: import.meta.url})',
  '',
].join('\n')

await mkdir(outDir, {recursive: true})
const result = await build({
  stdin: {contents: entry, resolveDir: root, sourcefile: 'capplan-bundle-entry.js', loader: 'js'},
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: path.join(outDir, 'capplan.mjs'),
  // typescript: only @oclif/core's development mode (reading a tsconfig) asks for it, inside a try.
  external: ['node-llama-cpp', 'typescript'],
  // CommonJS dependencies call require(); an ES module has none, so give it one.
  banner: {js: "import {createRequire as capplanCreateRequire} from 'node:module'; const require = capplanCreateRequire(import.meta.url);"},
  legalComments: 'linked',
  minify: true,
  logLevel: 'error',
  metafile: true,
})
await writeFile(path.join(outDir, 'meta.json'), JSON.stringify(result.metafile))
const bytes = (await stat(path.join(outDir, 'capplan.mjs'))).size
console.error(`dist/bundle/capplan.mjs: ${commands.length} commands, ${(bytes / 2 ** 20).toFixed(1)} MiB`)
