import {
  type ConfigSchema,
  ConnectorError,
  confinedHostPath,
  defineSource,
  type SourceDefinition,
  z,
} from "@pulsar-connect/core";
import { FileSource } from "./internal/source.ts";

function regexIssue(pattern: string | undefined): string | undefined {
  if (pattern === undefined) return undefined;
  try {
    new RegExp(pattern, "u");
    return undefined;
  } catch (error) {
    return `is not a valid regular expression: ${(error as Error).message}`;
  }
}

// Strict: a misspelt field is refused, not ignored.
const schema = z
  .strictObject({
    inputDirectory: z.string().min(1, "must name the directory to read").describe("Directory the files are read from"),
    recurse: z.boolean().default(true).describe("Read files in subdirectories too"),
    keepFile: z
      .boolean()
      .default(false)
      .describe(
        "Leave processed files in place; a file is read again only once it changed (upstream reads it again at every listing)",
      ),
    fileFilter: z.string().default("[^.].*").describe("Regular expression a file name must match as a whole"),
    pathFilter: z
      .string()
      .optional()
      .describe("With recurse: regular expression the subdirectory path (relative to inputDirectory) must match"),
    minimumFileAge: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .describe("Milliseconds since its last modification before a file is read (lets writers finish)"),
    maximumFileAge: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe("Files modified longer ago than this many milliseconds are left alone"),
    minimumSize: z.number().int().nonnegative().default(1).describe("Smallest file size in bytes that is read"),
    maximumSize: z.number().nonnegative().optional().describe("Largest file size in bytes that is read"),
    ignoreHiddenFiles: z.boolean().default(true).describe("Leave files whose name starts with a dot alone"),
    pollingInterval: z.number().int().positive().default(10_000).describe("Milliseconds between directory listings"),
    numWorkers: z
      .number()
      .int()
      .positive()
      .default(1)
      .describe("Files read at the same time; above 1 the lines of several files interleave in the topic"),
    processedFileSuffix: z
      .string()
      .min(1)
      .optional()
      .describe("Rename a processed file by appending this suffix instead of deleting it (keepFile false only)"),
  })
  .superRefine((config, ctx) => {
    for (const field of ["fileFilter", "pathFilter"] as const) {
      const issue = regexIssue(config[field]);
      if (issue !== undefined) ctx.addIssue({ code: "custom", path: [field], message: issue });
    }
    if (config.processedFileSuffix !== undefined && config.keepFile) {
      ctx.addIssue({ code: "custom", path: ["processedFileSuffix"], message: "cannot be used with keepFile true" });
    }
    if (config.processedFileSuffix !== undefined && /[/\\]/.test(config.processedFileSuffix)) {
      ctx.addIssue({ code: "custom", path: ["processedFileSuffix"], message: "must not contain a path separator" });
    }
    if (config.pathFilter !== undefined && !config.recurse) {
      ctx.addIssue({ code: "custom", path: ["pathFilter"], message: "only applies with recurse true" });
    }
    if (config.maximumFileAge !== undefined && config.maximumFileAge < config.minimumFileAge) {
      ctx.addIssue({ code: "custom", path: ["maximumFileAge"], message: "must not be below minimumFileAge" });
    }
    if (config.maximumSize !== undefined && config.maximumSize < config.minimumSize) {
      ctx.addIssue({ code: "custom", path: ["maximumSize"], message: "must not be below minimumSize" });
    }
    try {
      confinedHostPath(config.inputDirectory, "configs.inputDirectory");
    } catch (error) {
      if (!(error instanceof ConnectorError)) throw error;
      ctx.addIssue({ code: "custom", path: ["inputDirectory"], message: error.issues[0]?.message ?? error.message });
    }
  });

/** The validated file source config. */
export type FileSourceConfig = z.output<typeof schema>;

/** Config schema of the file source. */
export const fileSourceConfig: ConfigSchema = schema;

/** The file source: one record per line of each file, the file deleted or renamed once Pulsar stored every line. */
export const fileSource: SourceDefinition = defineSource({
  name: "file",
  description:
    "Reads the files of a directory, one record per line; a file is removed once Pulsar stored all its lines",
  config: schema,
  open: (config, context) => FileSource.open(config, context),
});
