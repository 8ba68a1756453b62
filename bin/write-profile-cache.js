#!/usr/bin/env node
// Writes dist/profile-cache.json (part of `npm run build`, after tsc): the built-in profiles' YAML as data,
// each entry with the sha1 of its text, so loading the built-ins skips the YAML parser for unchanged files
// (src/profiles/cache.ts). The YAML in profiles/ stays the source of truth.

import {builtinProfileCachePath, writeProfileCache} from '../dist/profiles/cache.js'

const cache = writeProfileCache()
console.error(`${builtinProfileCachePath()}: ${Object.keys(cache.files).length} profile files`)
