import { describe, expect, it } from "vitest";
import { parseServiceUrl } from "./service-url.ts";
import { parseTopicName } from "./topic-name.ts";

describe("service URLs", () => {
  it("parses hosts, default ports and TLS", () => {
    expect(parseServiceUrl("pulsar://localhost")).toEqual([
      { url: "pulsar://localhost:6650", host: "localhost", port: 6650, tls: false },
    ]);
    expect(parseServiceUrl("pulsar+ssl://a:1,b").map((a) => a.url)).toEqual([
      "pulsar+ssl://a:1",
      "pulsar+ssl://b:6651",
    ]);
    expect(parseServiceUrl("pulsar://[::1]:6650")[0]).toMatchObject({ host: "::1", url: "pulsar://[::1]:6650" });
  });
  it.each(["", "http://x:1", "pulsar://", "pulsar://h:0", "pulsar://h:65536", "pulsar://h/path", "pulsar://h:1,"])(
    "rejects %j",
    (url) => {
      expect(() => parseServiceUrl(url)).toThrow(expect.objectContaining({ code: "INVALID_URL" }));
    },
  );
});

describe("topic names", () => {
  it("expands short forms like the Java client", () => {
    expect(parseTopicName("t").full).toBe("persistent://public/default/t");
    expect(parseTopicName("tn/ns/t").full).toBe("persistent://tn/ns/t");
    expect(parseTopicName("non-persistent://tn/ns/t")).toMatchObject({ domain: "non-persistent", local: "t" });
    expect(parseTopicName("persistent://tn/ns/t-partition-3").partition).toBe(3);
  });
  it.each(["", "a/b", "a/b/c/d", "x://a/b/c", "persistent://a/b/c d", "persistent://a b/ns/t"])("rejects %j", (t) => {
    expect(() => parseTopicName(t)).toThrow(expect.objectContaining({ code: "INVALID_TOPIC" }));
  });
});
