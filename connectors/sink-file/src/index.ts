import { fileSink } from "./definition.ts";

export { type FileSinkConfig, fileSinkConfig } from "./definition.ts";

export default fileSink;
