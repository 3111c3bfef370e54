import { httpSink } from "./definition.ts";

export { type HttpSinkConfig, httpSinkConfig } from "./definition.ts";

export default httpSink;
