import type { IncomingMessage, ServerResponse } from 'node:http';
import { TextDecoder } from 'node:util';

/** Bodies nested deeper than this are refused (400) before they are parsed. */
export const MAX_BODY_DEPTH = 32;

export const TOO_DEEP = `Request body nested deeper than ${MAX_BODY_DEPTH} levels`;
export const NOT_UNICODE = 'Request body is not valid Unicode text';
/** The body-parser error type of a body refused here. */
export const UNSAFE_BODY = 'entity.unsafe';

/**
 * A body refused before parsing. Thrown from body-parser's `verify` hook, which body-parser
 * passes on with our status, type and message (see bodyErrors in app.setup.ts).
 */
export class UnsafeBodyError extends Error {
  readonly status = 400;
  readonly statusCode = 400;
  readonly type = UNSAFE_BODY;
  readonly expose = true;
}

/** The raw body as text: undefined when its bytes are not valid in the declared charset. */
function decode(buf: Buffer, encoding: string | null | undefined): string | undefined {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(encoding ?? 'utf-8', { fatal: true });
  } catch {
    // A charset TextDecoder does not know: nothing we can vouch for.
    return undefined;
  }
  try {
    return decoder.decode(buf);
  } catch {
    return undefined;
  }
}

const isHigh = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/** The code unit of a `\uXXXX` escape whose hex digits start at `at`, or NaN. */
function escapedUnit(text: string, at: number): number {
  const hex = text.slice(at, at + 4);
  return /^[0-9a-fA-F]{4}$/.test(hex) ? parseInt(hex, 16) : NaN;
}

/**
 * One linear pass over JSON text, before JSON.parse builds anything: the problem, or null when
 * the text nests at most MAX_BODY_DEPTH arrays and objects and holds no lone surrogate, raw or
 * as a `\uD800` escape. Anything else malformed is left to the parser.
 */
export function jsonTextProblem(text: string): string | null {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isHigh(code)) {
      if (!isLow(text.charCodeAt(i + 1))) return NOT_UNICODE;
      i += 1;
      continue;
    }
    if (isLow(code)) return NOT_UNICODE;
    if (inString) {
      if (code === 0x5c /* \ */) {
        if (text.charCodeAt(i + 1) === 0x75 /* u */) {
          const unit = escapedUnit(text, i + 2);
          if (isHigh(unit)) {
            const pairs = text.charCodeAt(i + 6) === 0x5c && text.charCodeAt(i + 7) === 0x75 && isLow(escapedUnit(text, i + 8));
            if (!pairs) return NOT_UNICODE;
            i += 11;
          } else if (isLow(unit)) {
            return NOT_UNICODE;
          } else {
            i += 5;
          }
        } else {
          i += 1;
        }
      } else if (code === 0x22 /* " */) {
        inString = false;
      }
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x5b /* [ */ || code === 0x7b /* { */) {
      depth += 1;
      if (depth > MAX_BODY_DEPTH) return TOO_DEEP;
    } else if (code === 0x5d /* ] */ || code === 0x7d /* } */) {
      depth -= 1;
    }
  }
  return null;
}

/**
 * The same for a form-encoded body: every name and value must decode to Unicode text
 * (`%ED%A0%80`, an encoded surrogate, does not), and no name may nest deeper than
 * MAX_BODY_DEPTH brackets (`a[b][c]`, which the `extended` parser turns into objects).
 */
export function formTextProblem(text: string, utf8 = true): string | null {
  for (const pair of text.split('&')) {
    const equals = pair.indexOf('=');
    const name = equals < 0 ? pair : pair.slice(0, equals);
    const brackets = (name.match(/\[|%5b/gi) ?? []).length;
    if (brackets > MAX_BODY_DEPTH) return TOO_DEEP;
    // Percent-escapes stand for UTF-8 bytes only in a UTF-8 form (ISO-8859-1 ones are all valid).
    if (!utf8) continue;
    try {
      decodeURIComponent(pair.replace(/\+/g, ' '));
    } catch {
      return NOT_UNICODE;
    }
  }
  return null;
}

/** body-parser `verify` hook for JSON: refuses deep or non-Unicode bodies before parsing. */
export function verifyJsonBody(_req: IncomingMessage, _res: ServerResponse, buf: Buffer, encoding: string): void {
  const text = decode(buf, encoding);
  const problem = text === undefined ? NOT_UNICODE : jsonTextProblem(text);
  if (problem) throw new UnsafeBodyError(problem);
}

/** body-parser `verify` hook for form-encoded bodies. */
export function verifyFormBody(_req: IncomingMessage, _res: ServerResponse, buf: Buffer, encoding: string): void {
  const text = decode(buf, encoding);
  const problem = text === undefined ? NOT_UNICODE : formTextProblem(text, /^utf-?8$/i.test(encoding ?? 'utf-8'));
  if (problem) throw new UnsafeBodyError(problem);
}

/**
 * What a body-parser failure means to the client: 413 for a body too large, 400 for one that
 * cannot be read (malformed JSON, an unsafe body), 415 for an unknown charset or encoding, with the
 * message to answer. Null for anything else (not the client's fault).
 */
export function bodyFailure(error: unknown): { status: number; message: string } | null {
  const failure = error as { type?: string; status?: number } | undefined;
  if (!failure || typeof failure.status !== 'number' || failure.status < 400 || failure.status >= 500) return null;
  if (failure.type === 'entity.too.large') return { status: 413, message: 'Request body too large' };
  // body-parser says 413 for a form of more than 1,000 fields; the body is small, just unreadable.
  if (failure.type === 'parameters.too.many') return { status: 400, message: 'Too many form fields' };
  if (failure.type === 'entity.parse.failed') return { status: 400, message: 'Malformed JSON body' };
  if (failure.type === UNSAFE_BODY) return { status: 400, message: (error as Error).message };
  // An unsupported charset or content encoding keeps its own status (415).
  return { status: failure.status, message: 'Unreadable request body' };
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The same two rules on a body some other parser already built (a host on Nest's default
 * parser): nested at most MAX_BODY_DEPTH levels, every string and key well-formed Unicode.
 * Iterative, so a body 5,000 levels deep costs one pass and no stack.
 */
export function parsedBodyProblem(body: unknown): string | null {
  const stack: Array<[unknown, number]> = [[body, 0]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value === 'string') {
      if (LONE_SURROGATE.test(value)) return NOT_UNICODE;
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_BODY_DEPTH) return TOO_DEEP;
    for (const [key, inner] of Object.entries(value)) {
      if (LONE_SURROGATE.test(key)) return NOT_UNICODE;
      stack.push([inner, depth + 1]);
    }
  }
  return null;
}
