/**
 * dependency-cruiser: the import rules of the house (issue 11), each an error, so `npm run depcruise` (and
 * `npm run check`, .ci/run) fails when one is broken.
 *
 *   commands -> services -> stages (everything else in src/), never back;
 *   services take values: they never import src/cli/parsers (the oclif flags in src/cli/flags parse the text);
 *   engines never import loadgen; results/import never imports engines;
 *   the pure stages (report/build, cost, stats, roofline) take values and return values: no cli/, no I/O;
 *   no cycles.
 *
 * `import type` (and imports whose every name is a type) are erased by the compiler: "type-only" below. The
 * commands rule allows them (a command may name any type); the other rules count them too.
 */

/** Node's modules that touch the filesystem, processes or the network (with or without the node: prefix). */
const IO_MODULES = '^(node:)?(fs|fs/promises|child_process|net|http|https)$'

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle: these modules cannot be understood, tested or loaded one without the others.',
      from: {},
      to: {circular: true},
    },
    {
      name: 'engines-not-loadgen',
      severity: 'error',
      comment: 'The engines serve the load generator; they never import it (src/engines -> src/loadgen).',
      from: {path: '^src/engines/'},
      to: {path: '^src/loadgen/'},
    },
    {
      name: 'results-import-not-engines',
      severity: 'error',
      comment: "Importing a peer's file is reading a format: it never needs an engine (src/results/import -> src/engines).",
      from: {path: '^src/results/import/'},
      to: {path: '^src/engines/'},
    },
    {
      name: 'pure-stages-not-cli',
      severity: 'error',
      comment: 'report/build, cost, stats, roofline and planner take values, not flag text: no src/cli.',
      from: {path: '^src/(report/build|cost|stats|roofline|planner)/'},
      to: {path: '^src/cli/'},
    },
    {
      name: 'pure-stages-no-io',
      severity: 'error',
      comment: 'report/build, cost, stats, roofline and planner return values: no filesystem, processes or network.',
      from: {path: '^src/(report/build|cost|stats|roofline|planner)/'},
      to: {path: IO_MODULES},
    },
    {
      name: 'stages-not-services-or-commands',
      severity: 'error',
      comment: 'A stage (anything in src/ outside commands/ and services/) is called by services and commands, never the other way.',
      from: {path: '^src/', pathNot: '^src/(commands|services)/'},
      to: {path: '^src/(services|commands)/'},
    },
    {
      name: 'services-not-cli-parsers',
      severity: 'error',
      comment:
        "A service takes values: every text -> value rule runs while oclif parses (the flags in src/cli/flags), so no service imports src/cli/parsers (not even a type: the flags' value types are the service's own).",
      from: {path: '^src/services/'},
      to: {path: '^src/cli/parsers/'},
    },
    {
      name: 'services-not-commands',
      severity: 'error',
      comment: 'A service is what a command calls; it never imports a command.',
      from: {path: '^src/services/'},
      to: {path: '^src/commands/'},
    },
    {
      name: 'commands-thin',
      severity: 'error',
      comment: 'A command parses flags (cli), calls a service and renders (report/render); lib for errors and units. Types from anywhere.',
      from: {path: '^src/commands/'},
      to: {path: '^src/', pathNot: '^src/(cli|services|report/render|lib)/', dependencyTypesNot: ['type-only', 'type-import']},
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing (a moved file, a typo).',
      from: {},
      to: {couldNotResolve: true},
    },
  ],
  options: {
    doNotFollow: {path: 'node_modules'},
    // See the imports the compiler erases (import type): the commands rule tells them apart.
    tsPreCompilationDeps: true,
    tsConfig: {fileName: 'tsconfig.json'},
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.d.ts', '.js', '.mjs', '.cjs', '.json'],
    },
    reporterOptions: {text: {highlightFocused: true}},
  },
}
