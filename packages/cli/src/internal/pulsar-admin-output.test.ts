import { describe, expect, it } from "vitest";
import { gsonPretty, jacksonPretty, javaDouble } from "./java-json.ts";
import { configOutput, statusOutput, wrapWords } from "./pulsar-admin-output.ts";

// Expected strings below are what commons-lang 3.18 WordUtils.wrap, Double.toString, Gson 2.8 and Jackson 2.17
// (as pulsar-admin 4.0 uses them) produce for the same inputs; the byte-for-byte comparison with the Java
// pulsar-admin itself is in test/pulsar-admin-output.integration.test.ts.
describe("what pulsar-admin prints", () => {
  it.each([
    [
      "Writes records to a JDBC database (PostgreSQL) with upserts, in batches, inside one transaction per batch, and stores the Pulsar position",
      "Writes records to a JDBC database (PostgreSQL) with upserts, in batches, inside\none transaction per batch, and stores the Pulsar position",
    ],
    [
      "averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongwordthatneverends and more text after it",
      "averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongwordthatneverends\nand more text after it",
    ],
    [
      "  leading spaces then a sentence that is long enough to need wrapping at the eightieth column for sure",
      "leading spaces then a sentence that is long enough to need wrapping at the\neightieth column for sure",
    ],
    ["short", "short"],
    [
      "exactly eighty characters long string with spaces placed here and there to fit !!",
      "exactly eighty characters long string with spaces placed here and there to fit\n!!",
    ],
  ])("wraps descriptions at 80 columns as WordUtils does: %s", (text, wrapped) => {
    expect(wrapWords(text, 80)).toBe(wrapped);
  });

  it.each([
    [1e7, "1.0E7"],
    [12345678.9, "1.23456789E7"],
    [0.001, "0.001"],
    [0.0001234, "1.234E-4"],
    [1.5e300, "1.5E300"],
    [100.25, "100.25"],
    [2, "2.0"],
  ])("prints the double %d as Java does: %s", (value, text) => {
    expect(javaDouble(value)).toBe(text);
  });

  it("Gson: HTML-safe escapes, declaration order, class defaults, nulls left out, Java number types", () => {
    const printed = configOutput("sink", {
      configs: { note: "<a href='x'>&=", n: 3, ratio: 1.5, gone: null, nested: { list: [1, 2.5] } },
      name: "s",
      tenant: "public",
      resources: { cpu: 2 },
      unknownField: "dropped",
    });
    expect(printed).toBe(
      [
        "{",
        '  "tenant": "public",',
        '  "name": "s",',
        '  "sourceSubscriptionPosition": "Latest",',
        '  "configs": {',
        '    "note": "\\u003ca href\\u003d\\u0027x\\u0027\\u003e\\u0026\\u003d",',
        '    "n": 3,',
        '    "ratio": 1.5,',
        '    "nested": {',
        '      "list": [',
        "        1,",
        "        2.5",
        "      ]",
        "    }",
        "  },",
        '  "resources": {',
        '    "cpu": 2.0,',
        '    "ram": 1073741824,',
        '    "disk": 10737418240',
        "  }",
        "}",
        "",
      ].join("\n"),
    );
    expect(gsonPretty([], { list: "string" })).toBe("[]");
  });

  it("Jackson: ' : ' separators, inline arrays, primitives defaulted, null fields left out", () => {
    const printed = statusOutput(
      "sink",
      {
        numInstances: 1,
        numRunning: 0,
        instances: [
          { instanceId: 0, status: { running: false, error: "boom\n", latestSystemExceptions: [], state: "x" } },
        ],
      },
      false,
    );
    expect(printed).toBe(
      [
        "{",
        '  "numInstances" : 1,',
        '  "numRunning" : 0,',
        '  "instances" : [ {',
        '    "instanceId" : 0,',
        '    "status" : {',
        '      "running" : false,',
        '      "error" : "boom\\n",',
        '      "numRestarts" : 0,',
        '      "numReadFromPulsar" : 0,',
        '      "numSystemExceptions" : 0,',
        '      "latestSystemExceptions" : [ ],',
        '      "numSinkExceptions" : 0,',
        '      "numWrittenToSink" : 0,',
        '      "lastReceivedTime" : 0',
        "    }",
        "  } ]",
        "}",
        "",
      ].join("\n"),
    );
    expect(jacksonPretty({}, { map: "any" })).toBe("{ }");
  });
});
