import { describe, expect, it } from "vitest";
import { topicsPatternMatcher } from "./consumer.ts";

describe("topicsPatternMatcher", () => {
  it("matches the whole topic name, as the Java client does, with or without the scheme on either side", () => {
    const matcher = topicsPatternMatcher("persistent://public/default/orders-.*");
    expect(matcher.test("persistent://public/default/orders-eu")).toBe(true);
    expect(matcher.test("public/default/orders-eu")).toBe(true);
    expect(topicsPatternMatcher("public/default/orders-.*").test("persistent://public/default/orders-us")).toBe(true);
    // A substring match would take these too.
    expect(matcher.test("persistent://public/default/old-orders-eu")).toBe(false);
    expect(topicsPatternMatcher("public/default/orders").test("persistent://public/default/orders-archive")).toBe(
      false,
    );
  });

  it("runs a pattern that backtracks catastrophically elsewhere in linear time (a backtracking engine never ends)", () => {
    const matcher = topicsPatternMatcher("public/default/(a|aa)+$");
    expect(matcher.test(`persistent://public/default/${"a".repeat(60)}b`)).toBe(false);
  });

  it("refuses an expression RE2 cannot run, naming topicsPattern", () => {
    expect(() => topicsPatternMatcher("public/default/(a)\\1")).toThrow(/topicsPattern/);
  });
});
