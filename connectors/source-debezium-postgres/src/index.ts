import { postgresCdcSource } from "./definition.ts";

export { type PostgresCdcConfig, postgresCdcConfig } from "./definition.ts";

export default postgresCdcSource;
