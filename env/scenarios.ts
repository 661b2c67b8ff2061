// Scenario presets: named partial overrides of the defaults (env/config.ts).
export interface Scenario {
  description: string;
  overrides: Record<string, unknown>;
}

export const SCENARIOS: Record<string, Scenario> = {
  default: {
    description: "Five rivals, a 30-day flight, steady demand with weekly and yearly seasonality",
    overrides: {},
  },
  holiday_surge: {
    description: "Demand and conversion value surge in days 18-26 of the flight; rivals spend more and CPCs trend up",
    overrides: {
      market: { surgeStartDay: 18, surgeEndDay: 26, surgeActivityMult: 1.8, surgeValueMult: 1.3, cpcTrendPerDay: 0.01, rivalBudgetScale: 1.5 },
    },
  },
  crowded_market: {
    description: "Nine rivals with bigger budgets, higher reserves and a tighter budget for us",
    overrides: {
      rivals: [
        {}, {}, {}, {}, {},
        { strategy: "aggressive", valueMult: 1.5, shade: 1.0, noise: 0.2, dailyBudget: 60, quality: 1.0 },
        { strategy: "aggressive", valueMult: 1.2, shade: 1.1, noise: 0.3, dailyBudget: 50, quality: 1.2 },
        { strategy: "shading", valueMult: 1.3, shade: 0.8, noise: 0.15, dailyBudget: 80, quality: 1.0 },
        { strategy: "defensive", valueMult: 1.1, defenseGain: 1.6, noise: 0.2, dailyBudget: 70, quality: 0.9 },
      ],
      market: { rivalBudgetScale: 1.3 },
      channels: { search: { reserve: 0.1 }, social: { reserve: 0.04 }, display: { reserve: 0.02 } },
      campaign: { dailyBudget: 35, flightBudget: 900 },
    },
  },
};
