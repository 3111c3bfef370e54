// The build every published package shares: ES modules, one output file per source module, declarations.
// A package's tsdown.config.ts re-exports the default, or calls packageBuild with its extra entries.

/**
 * @param {string[]} [entry] the modules that are entry points of the package (default: src/index.ts)
 * @param {Record<string, unknown>} [overrides] tsdown options that differ for this package
 */
export function packageBuild(entry = ["src/index.ts"], overrides = {}) {
  return { entry, format: "esm", dts: true, unbundle: true, clean: true, ...overrides };
}

export default packageBuild();
