import { describe, expect, it } from "vitest";

import { changeLines, changeValue } from "./changes";

describe("changeLines", () => {
  it("shows an update's fields as from → to", () => {
    expect(changeLines({ role: { from: "viewer", to: "deployer" } })).toEqual([
      { field: "role", from: "viewer", to: "deployer" },
    ]);
  });

  it("shows what a create set, without a before", () => {
    expect(changeLines({ name: "ci", days: 30 })).toEqual([
      { field: "name", to: "ci" },
      { field: "days", to: "30" },
    ]);
  });

  it("reads a pair at the top (a rollout's versions) before the other fields", () => {
    expect(changeLines({ policy: "safe", from: 1, to: 2 })).toEqual([
      { field: "", from: "1", to: "2" },
      { field: "policy", to: "safe" },
    ]);
  });

  it("treats a value with more than from and to as a value, not a change", () => {
    expect(changeLines({ data: { from: 1, to: 2, why: "x" } })).toEqual([
      { field: "data", to: '{"from":1,"to":2,"why":"x"}' },
    ]);
  });

  it("has nothing to say about an empty or malformed changes", () => {
    expect(changeLines({})).toEqual([]);
    expect(changeLines(null)).toEqual([]);
    expect(changeLines("text")).toEqual([]);
    expect(changeLines([1, 2])).toEqual([]);
  });
});

describe("changeValue", () => {
  it("names nothing as none and lists items", () => {
    expect(changeValue(null)).toBe("none");
    expect(changeValue("")).toBe("empty");
    expect(changeValue(["a", "b"])).toBe("a, b");
    expect(changeValue([])).toBe("none");
    expect(changeValue(false)).toBe("false");
    expect(changeValue({ cpus: 2 })).toBe('{"cpus":2}');
  });
});
