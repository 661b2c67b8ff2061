import { PassThrough } from "node:stream";
import { stripVTControlCharacters } from "node:util";
import { describe, expect, it } from "vitest";
import { formatCount, formatDuration, formatProgressLine, formatValue, Progress } from "../trainer/progress.js";

/** A stream that records what is written; `tty` makes it look like a terminal to cli-progress. */
function sink(tty: boolean): { stream: NodeJS.WritableStream; text: () => string } {
  const s = new PassThrough();
  let out = "";
  s.on("data", (d) => (out += d));
  if (tty) Object.assign(s, { isTTY: true, columns: 160 });
  return { stream: s, text: () => out };
}

describe("number formats", () => {
  it("prints counts, values and durations compactly", () => {
    expect([950, 23_456, 1_234_567, 0].map(formatCount)).toEqual(["950", "23k", "1.2M", "0"]);
    expect([4.1234, 0.012345, -2.5, 12_345].map(formatValue)).toEqual(["4.12", "0.0123", "-2.5", "12.3k"]);
    expect([0, 45.4, 185, 7620, Number.NaN].map(formatDuration)).toEqual(["0s", "45s", "3m05s", "2h07m", "?"]);
  });

  it("builds the plain line in a fixed order with elapsed and eta", () => {
    const line = formatProgressLine({ iteration: 12, decisions: 1_234_567, sps: 23_456, episodicReturn: 4.1234, extra: { kl: 0.012345, phase: "warmup" } }, 40, 62);
    // eta = 62 s / 12 iterations * 28 left = 144.7 s
    expect(line).toBe("iter 12/40  decisions 1.2M  SPS 23k  return 4.12  kl 0.0123  phase warmup  elapsed 1m02s  eta 2m25s");
    expect(formatProgressLine({ iteration: 0 }, 5)).toBe("iter 0/5");
    expect(formatProgressLine({ iteration: 5 }, 5, 10)).toBe("iter 5/5  elapsed 10s");
  });
});

describe("Progress", () => {
  it("writes one plain line per update when the stream is not a TTY", () => {
    const out = sink(false);
    let t = 1000;
    const p = new Progress({ total: 3, stream: out.stream, now: () => t });
    expect(p.mode).toBe("lines");
    for (let i = 1; i <= 3; i++) {
      t += 2000;
      p.update({ iteration: i, decisions: i * 10_000, sps: 5000 });
    }
    p.log("checkpoint written");
    p.stop();
    expect(out.text()).toBe(
      [
        "iter 1/3  decisions 10k  SPS 5k  elapsed 2s  eta 4s",
        "iter 2/3  decisions 20k  SPS 5k  elapsed 4s  eta 2s",
        "iter 3/3  decisions 30k  SPS 5k  elapsed 6s",
        "checkpoint written",
        "",
      ].join("\n"),
    );
    p.update({ iteration: 4 }); // after stop: ignored
    expect(out.text().split("\n")).toHaveLength(5);
  });

  it("draws a bar with the stats on a TTY, prints log lines above it, and ends with a newline", () => {
    const out = sink(true);
    const p = new Progress({ total: 4, stream: out.stream });
    expect(p.mode).toBe("bar");
    p.update({ iteration: 1, decisions: 2048, sps: 23_000, episodicReturn: 1.5 });
    p.log("resumed from ckpt-000000001");
    p.update({ iteration: 2, decisions: 4096, sps: 24_000, episodicReturn: 2.25 });
    p.stop();
    p.stop();
    const raw = out.text();
    expect(raw).toMatch(/\x1b\[/); // cursor control: it redraws in place
    const plain = stripVTControlCharacters(raw);
    expect(plain).toMatch(/iter 1\/4 .* 25% \| decisions 2k {2}SPS 23k {2}return 1\.5 \| elapsed/);
    expect(plain).toMatch(/iter 2\/4 .* 50% \| decisions 4.1k {2}SPS 24k {2}return 2\.25 \| elapsed/);
    expect(plain).toContain("resumed from ckpt-000000001\n");
    expect(plain.endsWith("\n")).toBe(true);
  });

  it("rejects a bad total", () => {
    expect(() => new Progress({ total: 0 })).toThrow(/progress total must be an integer >= 1, got 0/);
  });
});
