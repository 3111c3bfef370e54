import { z } from "@pulsar-connect/core";
import { compileExpression, ExpressionError } from "./expression.ts";

/** Field names that `compute` may set: a value or key field, the message key, a property, or the destination. */
const COMPUTED_NAME =
  /^(value\.[^.\s]+(\.[^.\s]+)*|key\.[^.\s]+(\.[^.\s]+)*|messageKey|destinationTopic|properties\.[^.\s]+)$/;

/** Types a computed field can be given (upstream's names). */
export const COMPUTE_TYPES = ["STRING", "INT8", "INT16", "INT32", "INT64", "FLOAT", "DOUBLE", "BOOLEAN"] as const;
export type ComputeType = (typeof COMPUTE_TYPES)[number];

function expression(description: string) {
  return z
    .string()
    .min(1, "must not be empty")
    .superRefine((text, context) => {
      try {
        compileExpression(text);
      } catch (error) {
        if (!(error instanceof ExpressionError)) throw error;
        context.addIssue({ code: "custom", message: `invalid expression: ${error.message}` });
      }
    })
    .describe(description);
}

const when = expression("Condition; the step applies only to records for which it is true").optional();
const part = z
  .enum(["key", "value"])
  .optional()
  .describe("Apply to the key or the value only (default: both, where structured)");

const dropFields = z.strictObject({
  type: z.literal("drop-fields"),
  fields: z
    .string()
    .refine((text) => text.split(",").some((field) => field.trim() !== ""), "must name at least one field")
    .describe("Comma-separated names of the fields to drop"),
  part,
  when,
});

const cast = z.strictObject({
  type: z.literal("cast"),
  "schema-type": z.literal("STRING").describe("Target type: STRING (structured data becomes its JSON text)"),
  part,
  when,
});

const mergeKeyValue = z.strictObject({ type: z.literal("merge-key-value"), when });

const unwrapKeyValue = z.strictObject({
  type: z.literal("unwrap-key-value"),
  "unwrap-key": z.boolean().default(false).describe("Make the key (instead of the value) the record's value"),
  when,
});

const flatten = z.strictObject({
  type: z.literal("flatten"),
  delimiter: z.string().default("_").describe("Put between the names of nested fields"),
  part,
  when,
});

const drop = z.strictObject({ type: z.literal("drop"), when });

const computedField = z.strictObject({
  name: z
    .string()
    .regex(COMPUTED_NAME, "must be value.<field>, key.<field>, messageKey, destinationTopic or properties.<name>"),
  expression: expression("Expression whose result is assigned to the field"),
  type: z.enum(COMPUTE_TYPES).describe("Type of the result"),
  optional: z.boolean().default(true).describe("When false, a null result fails the record"),
});

const compute = z.strictObject({
  type: z.literal("compute"),
  fields: z.array(computedField).min(1, "must list at least one field"),
  when,
});

type Part = "key" | "value" | undefined;

/** A field computed by a `compute` step. */
export interface ComputedField {
  name: string;
  expression: string;
  type: ComputeType;
  optional: boolean;
}

/** One step, validated. */
export type Step =
  | { type: "drop-fields"; fields: string; part?: Part; when?: string | undefined }
  | { type: "cast"; "schema-type": "STRING"; part?: Part; when?: string | undefined }
  | { type: "merge-key-value"; when?: string | undefined }
  | { type: "unwrap-key-value"; "unwrap-key": boolean; when?: string | undefined }
  | { type: "flatten"; delimiter: string; part?: Part; when?: string | undefined }
  | { type: "drop"; when?: string | undefined }
  | { type: "compute"; fields: ComputedField[]; when?: string | undefined };

/** One step of the transform, as upstream's `transforms` function declares it. */
export const stepSchema: z.ZodType<Step> = z.discriminatedUnion("type", [
  dropFields,
  cast,
  mergeKeyValue,
  unwrapKeyValue,
  flatten,
  drop,
  compute,
]);

/** The function's config (`--transform-function-config`). */
export const transformsConfig: z.ZodObject<{ steps: z.ZodArray<z.ZodType<Step>> }> = z.object({
  steps: z
    .array(stepSchema)
    .describe(
      "The steps, applied in order: drop-fields, cast, merge-key-value, unwrap-key-value, flatten, drop, compute",
    ),
});

/** The function's config, validated. */
export type TransformsConfig = z.output<typeof transformsConfig>;
