import {Args, Flags} from '@oclif/core'
import {stringify} from 'yaml'

import {CapplanCommand} from '../../cli/base-command.js'
import {loadProfiles, resolveProfileKind} from '../../profiles/store.js'
import {listingOf, type ProfileListing} from '../../profiles/render.js'
import {profileKinds} from '../../profiles/schema.js'

export default class ProfilesShow extends CapplanCommand<typeof ProfilesShow> {
  static override summary = 'Show one profile in full (every field, with its sources).'

  static override description =
    'Looks the id up in every kind; an id used by two kinds (e.g. deepseek-v3 is a model and an API) needs --kind. ' +
    'An unknown id lists the closest ids.'

  static override examples = [
    '<%= config.bin %> <%= command.id %> h100-sxm',
    '<%= config.bin %> <%= command.id %> deepseek-v3 --kind api',
    '<%= config.bin %> <%= command.id %> qwen2.5-0.5b --json',
  ]

  static override args = {
    id: Args.string({description: 'Profile id (see `capplan profiles list`).', required: true}),
  }

  static override flags = {
    kind: Flags.option({options: profileKinds, description: 'Kind of the profile, when the id is used by more than one.'})(),
  }

  public async run(): Promise<ProfileListing> {
    const store = await loadProfiles({userDir: this.flags.profiles})
    const kind = resolveProfileKind(store, this.args.id, this.flags.kind)
    const listing = listingOf(store, kind, this.args.id)
    if (!this.jsonEnabled()) {
      this.log(`# ${listing.kind} ${listing.id} (${listing.source.origin}: ${listing.source.file})`)
      this.log(stringify(listing.profile, {lineWidth: 0}).trimEnd())
    }
    return listing
  }
}
