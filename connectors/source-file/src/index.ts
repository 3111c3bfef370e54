import { fileSource } from "./definition.ts";

export { type FileSourceConfig, fileSourceConfig } from "./definition.ts";

export default fileSource;
