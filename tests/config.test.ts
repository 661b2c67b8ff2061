import { describe, expect, it } from "vitest";
import {
  ConfigError, DEFAULT_CONFIG, SCENARIOS, mergeOverrides, parseSetOverride, resolveConfig, validateConfig,
} from "../env/config.js";

describe("config overrides", () => {
  it("every scenario resolves to a valid config that differs from the defaults where it says", () => {
    for (const name of Object.keys(SCENARIOS)) {
      const c = resolveConfig({ scenario: name });
      expect(validateConfig(c)).toBe(c);
    }
    expect(resolveConfig({ scenario: "crowded_market" }).rivals.length).toBeGreaterThan(DEFAULT_CONFIG.rivals.length);
    expect(resolveConfig({ scenario: "holiday_surge" }).market.surgeActivityMult).toBeGreaterThan(1);
  });

  it("--set can index into arrays: one element changes, the others keep their values", () => {
    const c = resolveConfig({
      overrides: mergeOverrides(parseSetOverride("rivals.0.dailyBudget=5"), parseSetOverride("journey.delayDays.2=1.5")),
    });
    expect(c.rivals[0].dailyBudget).toBe(5);
    expect(c.rivals[0].strategy).toBe(DEFAULT_CONFIG.rivals[0].strategy);
    expect(c.rivals[1]).toEqual(DEFAULT_CONFIG.rivals[1]);
    expect(c.journey.delayDays[2]).toBe(1.5);
    expect(c.journey.delayDays[3]).toBe(DEFAULT_CONFIG.journey.delayDays[3]);
  });

  it("appending one rival fills it from the rival template; skipping an index is an error naming the path", () => {
    const n = DEFAULT_CONFIG.rivals.length;
    const c = resolveConfig({ overrides: parseSetOverride(`rivals.${n}.strategy="random"`) });
    expect(c.rivals.length).toBe(n + 1);
    expect(c.rivals[n].strategy).toBe("random");
    expect(() => resolveConfig({ overrides: parseSetOverride(`rivals.${n + 2}.dailyBudget=5`) })).toThrow(
      new RegExp(`rivals\\.${n + 2}.*skips`),
    );
  });

  it("the defaults are not mutated by resolving with overrides", () => {
    const before = JSON.stringify(DEFAULT_CONFIG);
    resolveConfig({ overrides: { campaign: { dailyBudget: 1 }, rivals: [{ dailyBudget: 2 }] } });
    expect(JSON.stringify(DEFAULT_CONFIG)).toBe(before);
  });

  it("a bad value inside an array element names the element's path", () => {
    try {
      resolveConfig({ overrides: parseSetOverride("rivals.1.noise=-1") });
      expect.fail("should have thrown");
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).path).toBe("rivals.1.noise");
    }
  });
});
