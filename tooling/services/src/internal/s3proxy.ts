import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HOST, renderTemplate } from "./config.ts";
import type { JvmServer } from "./jvm.ts";
import { template } from "./jvm.ts";
import { httpGet } from "./probe.ts";

/** Credentials of the test server; S3Proxy checks AWS signatures (v2 and v4) against them. */
export const S3PROXY_ACCESS_KEY_ID = "pulsar-connect-test";
export const S3PROXY_SECRET_ACCESS_KEY = "pulsar-connect-test-secret";
/** S3Proxy accepts any region in a v4 signature; clients still need one. */
export const S3PROXY_REGION = "us-east-1";

export function renderS3proxyConfig(ports: { port: number }, dataDir: string): string {
  return renderTemplate(template("s3proxy", "s3proxy.conf"), {
    HOST,
    PORT: ports.port,
    DATA_DIR: dataDir,
    ACCESS_KEY_ID: S3PROXY_ACCESS_KEY_ID,
    SECRET_ACCESS_KEY: S3PROXY_SECRET_ACCESS_KEY,
  });
}

export const s3proxyServer: JvmServer<"s3proxy"> = {
  name: "s3proxy",
  readyTimeoutMs: 60_000,
  boundPorts: (ports) => [{ port: ports.port, variable: "S3PROXY_PORT" }],
  endpoint: (ports) => ({
    host: HOST,
    port: ports.port,
    endpoint: `http://${HOST}:${ports.port}`,
    region: S3PROXY_REGION,
    accessKeyId: S3PROXY_ACCESS_KEY_ID,
    secretAccessKey: S3PROXY_SECRET_ACCESS_KEY,
  }),
  prepare(run, ports) {
    const blobs = join(run.dataDir, "blobs");
    mkdirSync(blobs, { recursive: true });
    writeFileSync(join(run.confDir, "s3proxy.conf"), renderS3proxyConfig(ports, blobs));
    writeFileSync(join(run.confDir, "logback.xml"), template("s3proxy", "logback.xml"));
  },
  launch(run) {
    return {
      mainClass: "org.gaul.s3proxy.Main",
      jvmArgs: [
        "-Xms128m",
        "-Xmx512m",
        "-XX:+UseG1GC",
        "-XX:+ExitOnOutOfMemoryError",
        `-Dlogback.configurationFile=${join(run.confDir, "logback.xml")}`,
      ],
      args: ["--properties", join(run.confDir, "s3proxy.conf")],
    };
  },
  async healthy(ports) {
    // An unsigned request is refused with an S3 error document once the server serves the S3 API.
    const answer = await httpGet(`http://${HOST}:${ports.port}/`);
    return answer?.body.includes("<Error>") === true;
  },
};
