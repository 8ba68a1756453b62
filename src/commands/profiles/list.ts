import {Flags} from '@oclif/core'

import {CapplanCommand} from '../../cli/base-command.js'
import {loadProfiles} from '../../profiles/store.js'
import {listingOf, renderProfileTable, type ProfileListing} from '../../profiles/render.js'
import {profileKinds} from '../../profiles/schema.js'

export default class ProfilesList extends CapplanCommand<typeof ProfilesList> {
  static override summary = 'List GPU, model, API and workload profiles with their key facts.'

  static override description =
    'Built-in profiles plus those in --profiles DIR (or CAPPLAN_PROFILES), which override built-ins by id. ' +
    'User profiles are marked "(user)". With --json: an array of {kind, id, source: {origin, file}, profile}.'

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --kind gpu',
    '<%= config.bin %> <%= command.id %> --kind api --json',
    '<%= config.bin %> <%= command.id %> --profiles ./my-profiles',
  ]

  static override flags = {
    kind: Flags.option({options: profileKinds, description: 'Only this kind of profile.'})(),
  }

  public async run(): Promise<ProfileListing[]> {
    const store = await loadProfiles({userDir: this.flags.profiles})
    const kinds = this.flags.kind === undefined ? profileKinds : [this.flags.kind]
    if (!this.jsonEnabled()) {
      this.log(kinds.map((kind) => `${kind}s\n${renderProfileTable(store, kind)}`).join('\n\n'))
    }
    return kinds.flatMap((kind) => store.list(kind).map((profile) => listingOf(store, kind, profile.id)))
  }
}
