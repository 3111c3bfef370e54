import { influxdbSink } from "./definition.ts";

export { type InfluxdbSinkConfig, influxdbSinkConfig } from "./definition.ts";

export default influxdbSink;
