import { UnsafePathSegmentError } from './errors';

/**
 * Ids from API data that go into a request path (a connector id, a policy id, a report's fileUuid).
 * Percent-encoding keeps `/` and `?` inside the segment, but `.` and `..` stay dot segments that a
 * URL parser or the gateway resolves: `/sdr/api/v1/report/download/..` is `/sdr/api/v1/report/`.
 * A gateway that decodes once more than it should turns `%2e%2e` into `..` as well, so the checks
 * below also apply to the decoded forms.
 */

/** `%25252e` is `.` after three decodings; past that nothing decodes it on the way. */
const MAX_DECODINGS = 3;

/** Why `value` cannot be a path segment, or undefined when it can. */
export function pathSegmentProblem(value: unknown): string | undefined {
  let text = value === null || value === undefined ? '' : String(value);
  for (let decodings = 0; decodings <= MAX_DECODINGS; decodings++) {
    const decoded = decodings === 0 ? '' : ' once percent-decoded';
    if (text.trim() === '') return `it is empty${decoded}`;
    if (text === '.' || text === '..') return `it is the dot segment "${text}"${decoded}`;
    let next: string;
    try {
      next = decodeURIComponent(text);
    } catch {
      return undefined;
    }
    if (next === text) return undefined;
    text = next;
  }
  return undefined;
}

/** `value` encoded as one path segment; throws {@link UnsafePathSegmentError} naming `name` when it cannot be one. */
export function pathSegment(value: string | number, name: string): string {
  const problem = pathSegmentProblem(value);
  if (problem !== undefined) {
    throw new UnsafePathSegmentError(
      `${name} ${JSON.stringify(String(value)).slice(0, 80)} cannot be used in a request path: ${problem}`,
    );
  }
  return encodeURIComponent(String(value));
}
