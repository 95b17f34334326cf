import { describe, expect, it } from "vitest";

import { PAGE_SIZE, apiQuery, filtersFrom, pageFrom, urlQuery } from "./filters";

describe("audit filters", () => {
  it("sends the URL's filters to the API with the newest first and one page", () => {
    const query = new URLSearchParams(apiQuery(new URLSearchParams("actor=deployer&action=token_create&page=3")));
    expect(query.get("actor")).toBe("deployer");
    expect(query.get("action")).toBe("token_create");
    expect(query.get("ordering")).toBe("-at");
    expect(query.get("page")).toBe("3");
    expect(query.get("page_size")).toBe(String(PAGE_SIZE));
    expect(query.has("team")).toBe(false);
  });

  it("sends a local time range as UTC instants and drops a time that is not one", () => {
    const query = new URLSearchParams(apiQuery(new URLSearchParams("since=2026-12-02T10:30&until=soon")));
    expect(query.get("since")).toBe(new Date("2026-12-02T10:30").toISOString());
    expect(query.has("until")).toBe(false);
  });

  it("reads a missing or nonsense page as the first", () => {
    expect(pageFrom(new URLSearchParams(""))).toBe(1);
    expect(pageFrom(new URLSearchParams("page=0"))).toBe(1);
    expect(pageFrom(new URLSearchParams("page=2.5"))).toBe(1);
    expect(pageFrom(new URLSearchParams("page=4"))).toBe(4);
  });

  it("keeps only the filters that are set in the URL, and the page above 1", () => {
    expect(urlQuery({ actor: " admin ", team: "" }).toString()).toBe("actor=admin");
    expect(urlQuery({ action: "login" }, 2).toString()).toBe("action=login&page=2");
    expect(urlQuery({}, 1).toString()).toBe("");
    expect(filtersFrom(new URLSearchParams("search=iris")).search).toBe("iris");
  });
});
