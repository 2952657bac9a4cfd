import { isIP } from 'node:net';
import { text } from './fields';

/** An IPv4 or IPv6 address (OCSF `ip_t`); masked or other text is not one. */
export const ipAddress = (value: unknown): string | undefined => {
  const candidate = text(value)?.trim();
  return candidate && isIP(candidate) ? candidate : undefined;
};

/** OCSF `coordinates`: [longitude, latitude] (GeoJSON order) from Qualys' "lat,lon" text. */
export function coordinates(value: unknown): [number, number] | undefined {
  const parts = text(value)?.split(',');
  if (parts?.length !== 2) return undefined;
  const [latitude, longitude] = parts.map((part) =>
    /^\s*-?\d+(\.\d+)?\s*$/.test(part) ? Number(part) : NaN,
  );
  if (latitude === undefined || longitude === undefined) return undefined;
  const valid = Math.abs(latitude) <= 90 && Math.abs(longitude) <= 180;
  return valid ? [longitude, latitude] : undefined;
}

let codesByName: Map<string, string> | undefined;

/**
 * OCSF `location.country` is an ISO 3166-1 alpha-2 code; Qualys sends English names ("United
 * States"). The reverse of Intl's region names (Node ships full ICU) turns one into the other.
 */
export function countryCode(value: unknown): string | undefined {
  const name = text(value)?.trim().toLowerCase();
  if (!name) return undefined;
  if (!codesByName) {
    const names = new Intl.DisplayNames(['en'], { type: 'region' });
    codesByName = new Map();
    for (let first = 65; first <= 90; first++) {
      for (let second = 65; second <= 90; second++) {
        const code = String.fromCharCode(first, second);
        const regionName = names.of(code);
        if (regionName && regionName !== code) codesByName.set(regionName.toLowerCase(), code);
      }
    }
  }
  return codesByName.get(name);
}
