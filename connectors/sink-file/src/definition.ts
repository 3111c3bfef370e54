import {
  type ConfigSchema,
  ConnectorError,
  confinedHostPath,
  defineSink,
  type SinkDefinition,
  z,
} from "@pulsar-connect/core";
import { FileSink } from "./internal/sink.ts";

// Strict: a misspelt field is refused, not ignored.
const schema = z
  .strictObject({
    directory: z.string().min(1, "must name the directory to write to").describe("Directory the files are written to"),
    fileNamePattern: z
      .string()
      .default("pulsar-%i-%t-%n.log")
      .describe(
        "Name of each finished file: %i = instance id, %t = UTC time the file was started (20261130T021500123Z), %n = roll counter, %% = %",
      ),
    format: z
      .enum(["json", "string"])
      .default("json")
      .describe(
        "json: the value as one line of JSON; string: the payload as UTF-8 text (a record with a line break is refused)",
      ),
    rollSizeBytes: z
      .number()
      .int()
      .positive()
      .default(128 * 1024 * 1024)
      .describe("A file is finished once it holds this many bytes (after the write that reaches it)"),
    rollIntervalMs: z
      .number()
      .int()
      .positive()
      .default(60_000)
      .describe("A file is finished this many milliseconds after it was started, written to or not"),
  })
  .superRefine((config, ctx) => {
    const pattern = config.fileNamePattern;
    const unknown = pattern.replace(/%[itn%]/g, "").match(/%./);
    if (unknown)
      ctx.addIssue({ code: "custom", path: ["fileNamePattern"], message: `has an unknown placeholder ${unknown[0]}` });
    if (!pattern.includes("%n")) {
      ctx.addIssue({ code: "custom", path: ["fileNamePattern"], message: "must contain %n (keeps names unique)" });
    }
    if (/[/\\]/.test(pattern) || pattern.startsWith(".")) {
      ctx.addIssue({
        code: "custom",
        path: ["fileNamePattern"],
        message: "must be a plain file name, not starting with a dot (names starting with a dot are files in progress)",
      });
    }
    try {
      confinedHostPath(config.directory, "configs.directory");
    } catch (error) {
      if (!(error instanceof ConnectorError)) throw error;
      ctx.addIssue({ code: "custom", path: ["directory"], message: error.issues[0]?.message ?? error.message });
    }
  });

/** The validated file sink config. */
export type FileSinkConfig = z.output<typeof schema>;

/** Config schema of the file sink. */
export const fileSinkConfig: ConfigSchema = schema;

/** The file sink: one line per record in rolling files, fsynced before the records are acknowledged. */
export const fileSink: SinkDefinition = defineSink({
  name: "file",
  description: "Writes records to rolling files in a directory, one per line, fsynced before acknowledgement",
  config: schema,
  batchSize: 500,
  open: (config, context) => FileSink.open(config, context),
});
