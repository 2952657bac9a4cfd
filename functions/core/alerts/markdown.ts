/**
 * Values from Qualys in the Chatbot markdown (title, description, next steps, keywords): shown as
 * text, never as formatting, links or mentions. Slack, which Chatbot posts to, has no backslash
 * escape: it asks for `&`, `<` and `>` as HTML entities (Slack API, "Formatting text for app
 * surfaces"), which disables its `<url|text>` links and `<!channel>` / `<@user>` mentions. The
 * other markdown characters are replaced with look-alikes, so a value reads the same but formats
 * nothing in Slack or in Teams. The email body carries every value exactly as Qualys sent it.
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/** Characters that format, link or mention, and what is shown instead. */
const LOOKALIKES: Record<string, string> = {
  '`': 'ˋ', // U+02CB: code spans
  '*': '∗', // U+2217: bold (Slack), emphasis (Teams)
  '~': '∼', // U+223C: strikethrough
  '[': '［', // U+FF3B: [text](url) links (Teams)
  ']': '］', // U+FF3D
  '@': '＠', // U+FF20: @channel, @here, @everyone, @user
  _: 'ˍ', // U+02CD: italics; only where it could open or close one (see below)
};

/** Line breaks would let a value start its own line: a quote (`>`), a heading (`#`) or a list. */
const oneLine = (value: string) => value.replace(/[\r\n\t\v\f\u2028\u2029]+/g, ' ');

const isWordChar = (char: string | undefined) => char !== undefined && /[\p{L}\p{N}]/u.test(char);

/** Anything {@link escapeMarkdown} would change; most values have none of it. */
const ACTIVE = /[&<>`*~[\]@_\r\n\t\v\f\u2028\u2029]|:\/\//;

function escapeMarkdown(value: string, inCode: boolean): string {
  if (!ACTIVE.test(value)) return value;
  const chars = Array.from(oneLine(value));
  const escaped = chars
    .map((char, index) => {
      const entity = ENTITIES[char];
      if (entity) return entity;
      // Inside a code span only a backtick (which would end it) and `@` still act.
      if (inCode && char !== '`' && char !== '@') return char;
      // An underscore inside a word (Recon_MaliciousIPCaller, OktaSSO_Compute) italicises nothing
      // in Slack or CommonMark, so names keep theirs.
      if (char === '_' && isWordChar(chars[index - 1]) && isWordChar(chars[index + 1])) return char;
      return LOOKALIKES[char] ?? char;
    })
    .join('');
  // Outside code, a bare scheme URL would be linked automatically.
  return inCode ? escaped : escaped.replace(/:\/\//g, ':／／');
}

/** A value as plain text in Chatbot markdown: no formatting, link or mention survives. */
export const chatText = (value: string): string => escapeMarkdown(value, false);

/**
 * A value as inline code (ids, accounts, queries): markdown is inert inside a code span, so only
 * what could end the span or mention someone is replaced, and the value stays copyable.
 */
export const chatCode = (value: string): string => `\`${escapeMarkdown(value, true)}\``;
