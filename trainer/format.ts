// Number formatting shared by the CLI's tables (simulate, eval): one rule for units, so a KPI reads
// the same in every table.

/** Units shown as percentages. */
export const isPercent = (unit: string): boolean =>
  unit === "share" || unit === "spend/cap" || unit.endsWith("/decisions") || unit.endsWith("/impressions");

/** Formats v in `unit`; `scale` (the row's mean) fixes the decimals so bounds match the mean. */
export function fmt(v: number, unit: string, scale = v): string {
  if (!Number.isFinite(v)) return "n/a";
  if (isPercent(unit)) return `${(100 * v).toFixed(1)}%`;
  const a = Math.abs(scale);
  const digits = a >= 1000 ? 0 : a >= 100 ? 1 : 2;
  return unit.startsWith("$") ? `${v < 0 ? "-" : ""}$${Math.abs(v).toFixed(digits)}` : v.toFixed(digits);
}
