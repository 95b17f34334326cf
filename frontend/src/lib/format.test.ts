import { describe, expect, it } from "vitest";

import { progressText } from "../pages/model/UploadCard";
import { eventTime, humanSize, milliseconds, number, percent, plural } from "./format";

describe("format", () => {
  it("sizes in binary units, as the server's limits are", () => {
    expect(humanSize(1)).toBe("1 byte");
    expect(humanSize(1023)).toBe("1023 bytes");
    expect(humanSize(1536)).toBe("1.5 KiB");
    expect(humanSize(300 * 1024 * 1024)).toBe("300 MiB");
  });

  it("numbers with as many digits as their size deserves", () => {
    expect(number(0)).toBe("0");
    expect(number(0.1234)).toBe("0.12");
    expect(number(9.66)).toBe("9.7");
    expect(number(40)).toBe("40");
    expect(number(1234.5)).toBe("1,235");
  });

  it("milliseconds, percentages, plurals", () => {
    expect(milliseconds(9.6)).toBe("9.6 ms");
    expect(milliseconds(null)).toBe("—");
    expect(percent(0)).toBe("0 %");
    expect(percent(0.0125)).toBe("1.3 %");
    expect(percent(0.005)).toBe("0.5 %");
    expect(plural(1, "line")).toBe("1 line");
    expect(plural(1000, "line")).toBe("1000 lines");
  });

  it("event times: today's by the clock, older ones with their date", () => {
    const now = new Date("2026-11-27T15:00:00");
    expect(eventTime("2026-11-27T12:04:05", now)).not.toMatch(/2026/);
    expect(eventTime("2026-11-20T12:04:05", now)).toMatch(/2026/);
  });

  it("upload progress in bytes and percent, then the check", () => {
    expect(progressText(null, "iris.skops")).toBe("Sending iris.skops…");
    expect(progressText({ loaded: 1536, total: 4096 }, "iris.skops")).toBe("37% · 1.5 KiB of 4.0 KiB");
    expect(progressText({ loaded: 4096, total: 4096 }, "iris.skops")).toBe("Checking the model…");
  });
});
