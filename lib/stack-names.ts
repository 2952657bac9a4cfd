/**
 * A stack name's words, lower case: `QualysLake-EMEA2` → qualys, lake, emea2. Names that must be
 * unique in an account and region are built from them, so a second stack never collides.
 */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}
