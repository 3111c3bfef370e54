import { cloudStorageSink } from "./definition.ts";

export { cloudStorageSinkConfig } from "./definition.ts";

export default cloudStorageSink;
