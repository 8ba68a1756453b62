import {loadProfiles} from '../../../src/profiles/load.js'
import type {GpuProfile, ModelProfile} from '../../../src/profiles/schema.js'

/** The built-in profiles (the numbers of planning.md), loaded once per test file. */
export async function builtins(): Promise<{model: (id: string) => ModelProfile; gpu: (id: string) => GpuProfile}> {
  const store = await loadProfiles({})
  return {model: (id) => store.get('model', id), gpu: (id) => store.get('gpu', id)}
}
