import { httpSource } from "./definition.ts";

export { type HttpSourceConfig, httpSourceConfig } from "./definition.ts";

export default httpSource;
