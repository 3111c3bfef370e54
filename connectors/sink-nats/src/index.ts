import { natsSink } from "./definition.ts";

export { type NatsSinkConfig, natsSinkConfig } from "./definition.ts";

export default natsSink;
