import { defineFunction, type FunctionDefinition, type FunctionRecord } from "@pulsar-connect/core";
import { type TransformsConfig, transformsConfig } from "./internal/config.ts";
import { compileSteps } from "./internal/steps.ts";

/** Compiled steps per validated config object (one per running sink instance). */
const compiled = new WeakMap<TransformsConfig, (record: FunctionRecord) => FunctionRecord | null>();

/** Upstream's built-in `transforms` function: drop-fields, cast, merge-key-value, unwrap-key-value, flatten, drop, compute. */
const transforms: FunctionDefinition<typeof transformsConfig> = defineFunction({
  name: "transforms",
  description: "Drops, casts, merges, unwraps, flattens or computes record fields, or drops records, before the sink",
  config: transformsConfig,
  process(record, config) {
    let run = compiled.get(config);
    if (run === undefined) {
      run = compileSteps(config.steps);
      compiled.set(config, run);
    }
    return run(record);
  },
});

export default transforms;
export { COMPUTE_TYPES, type Step, type TransformsConfig, transformsConfig } from "./internal/config.ts";
export { compileExpression, type ExpressionScope } from "./internal/expression.ts";
export { compileSteps } from "./internal/steps.ts";
