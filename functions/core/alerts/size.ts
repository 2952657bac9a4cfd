import type { AlertMessage } from '../ports';

/**
 * SNS refuses a message over 262,144 bytes, its attributes included ("Message too long"; Amazon
 * SNS quotas, Publish and PublishBatch). Every alert is measured as SnsAlerts sends it and, when
 * over, its longest lines are cut with a visible marker until it fits. The S3 path and the Athena
 * query (the message's `keep` texts) survive unless they alone could not fit.
 */
export const SNS_MESSAGE_LIMIT_BYTES = 262_144;

/** What one alert may take: the limit, less room for what the PublishBatch entry adds (Id, types). */
export const ALERT_MAX_BYTES = SNS_MESSAGE_LIMIT_BYTES - 16 * 1024;

/** Attribute values and chat ids are cut to this many characters only when nothing else is left to cut. */
const ATTRIBUTE_CHARS = 256;

/** Lines are cut to a common length, never below this while lines can be dropped instead. */
const MIN_LINE_CHARS = 200;

/** The body SnsAlerts publishes with `MessageStructure: 'json'`: Chatbot JSON by default, text by email. */
export function snsMessageBody(message: AlertMessage): string {
  return JSON.stringify({ default: JSON.stringify(message.chat), email: message.email });
}

/** UTF-8 bytes SNS counts for a message: the body, the subject and each attribute's name, type and value. */
export function alertBytes(message: AlertMessage): number {
  let bytes = Buffer.byteLength(snsMessageBody(message)) + Buffer.byteLength(message.subject);
  for (const [name, value] of Object.entries(message.attributes)) {
    bytes += Buffer.byteLength(name) + 'String'.length + Buffer.byteLength(value);
  }
  return bytes;
}

/**
 * `items` in order, in groups of at most `count` items and `bytes` bytes as `sizeOf` measures them
 * (an item larger than `bytes` goes alone).
 */
export function groupBySize<T>(
  items: readonly T[],
  count: number,
  bytes: number,
  sizeOf: (item: T) => number,
): T[][] {
  const groups: T[][] = [];
  let group: T[] = [];
  let size = 0;
  for (const item of items) {
    const itemSize = sizeOf(item);
    if (group.length > 0 && (group.length >= count || size + itemSize > bytes)) {
      groups.push(group);
      group = [];
      size = 0;
    }
    group.push(item);
    size += itemSize;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

interface Cut {
  /** Longest a line (or a title, keyword, next step) may stay, in characters. */
  chars: number;
  /** Lines of each block (email, description, next steps) kept besides the protected ones. */
  lines: number;
  /** Whether lines holding a `keep` text are spared. */
  protect: boolean;
}

/**
 * The message as it fits in SNS: unchanged when it fits already. Else the first of these that is
 * enough, each going as far as needed and no further: (1) lines longer than a common length are
 * cut to it; (2) each block (email, chat description, next steps) keeps only its first lines;
 * (3) and (4) the same with the `keep` lines, the ids and the attribute values cut too.
 */
export function fitAlert(message: AlertMessage, maxBytes = ALERT_MAX_BYTES): AlertMessage {
  if (alertBytes(message) <= maxBytes) return message;
  const fits = (cut: Cut) => alertBytes(shrink(message, cut)) <= maxBytes;
  const longest = Math.max(MIN_LINE_CHARS, ...textUnits(message).map((unit) => unit.length));
  const most = Math.max(
    message.email.split('\n').length,
    message.chat.content.description.split('\n').length,
    message.chat.content.nextSteps?.length ?? 0,
  );
  const steps: Array<{ from: Cut; vary: 'chars' | 'lines'; upTo: number }> = [
    { from: { chars: MIN_LINE_CHARS, lines: most, protect: true }, vary: 'chars', upTo: longest },
    { from: { chars: MIN_LINE_CHARS, lines: 0, protect: true }, vary: 'lines', upTo: most },
    { from: { chars: 0, lines: most, protect: false }, vary: 'chars', upTo: MIN_LINE_CHARS },
    { from: { chars: MIN_LINE_CHARS, lines: 0, protect: false }, vary: 'lines', upTo: most },
  ];
  for (const [index, { from, vary, upTo }] of steps.entries()) {
    if (!fits(from) && index < steps.length - 1) continue;
    const best = largest(from[vary], upTo, (value) => fits({ ...from, [vary]: value }));
    return shrink(message, { ...from, [vary]: best });
  }
  return message;
}

/** The largest n in [low, high] for which `ok` holds, `ok` being monotonic; `low` when none. */
function largest(low: number, high: number, ok: (n: number) => boolean): number {
  let [from, to] = [low, high];
  for (let step = 0; from < to && step < 64; step++) {
    const middle = Math.ceil((from + to) / 2);
    if (ok(middle)) from = middle;
    else to = middle - 1;
  }
  return from;
}

function textUnits(message: AlertMessage): string[] {
  const { content, metadata } = message.chat;
  return [
    ...message.email.split('\n'),
    content.title,
    ...content.description.split('\n'),
    ...(content.nextSteps ?? []),
    ...(content.keywords ?? []),
    metadata?.summary ?? '',
    ...(metadata?.relatedResources ?? []),
    ...Object.values(metadata?.additionalContext ?? {}),
  ];
}

function shrink(message: AlertMessage, { chars, lines, protect }: Cut): AlertMessage {
  const kept = protect ? (message.keep ?? []).filter((text) => text.length > 0) : [];
  const isKept = (text: string) => kept.some((keep) => text.includes(keep));
  const unit = (text: string, markdown: boolean) => (isKept(text) ? text : cutText(text, chars, markdown));
  const block = (items: readonly string[], markdown: boolean) =>
    firstLines(items, lines, isKept).map((item) => unit(item, markdown));
  const { content, metadata } = message.chat;
  // Ids are cut only as a last resort, like the attributes (a 300 KB uuid).
  const id = (value: string) => (protect ? value : cutText(value, ATTRIBUTE_CHARS, false));
  return {
    ...message,
    email: block(message.email.split('\n'), false).join('\n'),
    chat: {
      ...message.chat,
      ...(message.chat.id !== undefined && { id: id(message.chat.id) }),
      content: {
        ...content,
        title: unit(content.title, true),
        description: block(content.description.split('\n'), true).join('\n'),
        ...(content.nextSteps && { nextSteps: block(content.nextSteps, true) }),
        ...(content.keywords && { keywords: block(content.keywords, true) }),
      },
      ...(metadata && {
        metadata: {
          ...metadata,
          ...(metadata.threadId !== undefined && { threadId: id(metadata.threadId) }),
          ...(metadata.summary !== undefined && { summary: unit(metadata.summary, true) }),
          ...(metadata.relatedResources && { relatedResources: block(metadata.relatedResources, true) }),
          ...(metadata.additionalContext && {
            additionalContext: mapValues(metadata.additionalContext, (value) => unit(value, false)),
          }),
        },
      }),
    },
    attributes: protect ? message.attributes : mapValues(message.attributes, id),
  };
}

const mapValues = (record: Record<string, string>, map: (value: string) => string) =>
  Object.fromEntries(Object.entries(record).map(([name, value]) => [name, map(value)]));

/** The marker where lines were dropped to fit SNS's message size limit. */
export const DROPPED_LINES = '[… lines cut to fit the SNS message size limit; the full record is in S3]';

/** The protected lines and the first `count` others; each run of dropped lines becomes one marker. */
function firstLines(items: readonly string[], count: number, isKept: (text: string) => boolean): string[] {
  const result: string[] = [];
  let others = 0;
  for (const item of items) {
    const kept = isKept(item);
    if (kept || others < count) {
      if (!kept) others++;
      result.push(item);
    } else if (result.at(-1) !== DROPPED_LINES) {
      result.push(DROPPED_LINES);
    }
  }
  return result;
}

/**
 * `text` cut to `chars` characters with a visible marker, never inside a surrogate pair; in
 * markdown a code span left open by the cut is closed.
 */
export function cutText(text: string, chars: number, markdown: boolean): string {
  if (text.length <= chars) return text;
  let end = chars;
  const last = text.charCodeAt(end - 1);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end--;
  let head = text.slice(0, end);
  if (markdown && (head.match(/`/g)?.length ?? 0) % 2 === 1) head += '`';
  return `${head}${cutMarker(text.length - end)}`;
}

/** What marks a cut: how many characters were left out. */
export const cutMarker = (characters: number) => ` … [${characters} characters cut]`;
