import { describe, expect, it } from "vitest";

import { placeFieldErrors } from "./useFormErrors";

describe("placeFieldErrors", () => {
  it("puts a field's messages beside it and keeps the rest for the notice", () => {
    const messages = new Map([
      ["name", ["A model has this name."]],
      ["non_field_errors", ["Something else."]],
      ["team", ["Pick a team.", "Really."]],
    ]);
    expect(placeFieldErrors(["name", "team"] as const, messages)).toEqual({
      placed: { name: ["A model has this name."], team: ["Pick a team.", "Really."] },
      unplaced: ["Something else."],
    });
  });

  it("places nothing when no message names a field of the form", () => {
    expect(placeFieldErrors(["name"] as const, new Map([["limits.max_depth", ["Too deep."]]]))).toEqual({
      placed: {},
      unplaced: ["Too deep."],
    });
  });
});
