import { formTextProblem, jsonTextProblem, NOT_UNICODE, parsedBodyProblem, TOO_DEEP } from './body-checks';

describe('jsonTextProblem (one pass over the raw text, before parsing)', () => {
  const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

  it('allows 32 levels of arrays and objects and refuses 33', () => {
    expect(jsonTextProblem(nested(32))).toBeNull();
    expect(jsonTextProblem(nested(33))).toBe(TOO_DEEP);
    expect(jsonTextProblem(`${'{"a":'.repeat(33)}1${'}'.repeat(33)}`)).toBe(TOO_DEEP);
    expect(jsonTextProblem(`[${nested(31)},${nested(31)}]`)).toBeNull();
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    expect(jsonTextProblem(JSON.stringify({ a: '['.repeat(100), b: '"{{{{' + '\\'.repeat(3) }))).toBeNull();
    expect(jsonTextProblem(`["\\\\", ${nested(32)}]`)).toBe(TOO_DEEP);
  });

  it.each([
    ['an escaped lone high surrogate', String.raw`"\ud800"`],
    ['an escaped lone high surrogate at the end', String.raw`"\uD83D`],
    ['an escaped lone low surrogate', String.raw`"\uDC00"`],
    ['two escaped high surrogates', String.raw`"\ud800\ud800"`],
    ['a raw lone high surrogate', '"\ud800x"'],
    ['a raw lone low surrogate', '"\udc00"'],
  ])('refuses %s', (_label, text) => {
    expect(jsonTextProblem(text)).toBe(NOT_UNICODE);
  });

  it('accepts surrogate pairs, escaped and raw, and an escaped backslash before a u', () => {
    expect(jsonTextProblem(String.raw`"\ud83d\ude00 😀 \\ud800"`)).toBeNull();
  });

  it('costs one pass: a megabyte of nesting is refused at the 33rd bracket', () => {
    expect(jsonTextProblem('['.repeat(1_000_000))).toBe(TOO_DEEP);
  });
});

describe('formTextProblem', () => {
  it('refuses percent-escapes that are not UTF-8 (an encoded surrogate) and names nested deeper than 32 brackets', () => {
    expect(formTextProblem('email=a%ED%A0%80b')).toBe(NOT_UNICODE);
    expect(formTextProblem('email=%FF')).toBe(NOT_UNICODE);
    expect(formTextProblem(`a${'[b]'.repeat(33)}=1`)).toBe(TOO_DEEP);
    expect(formTextProblem(`a${'%5Bb%5D'.repeat(33)}=1`)).toBe(TOO_DEEP);
  });

  it('accepts ordinary forms, and any byte in an ISO-8859-1 form', () => {
    expect(formTextProblem('email=ada%40example.test&password=p%C3%A4ss+word&x[a]=1')).toBeNull();
    expect(formTextProblem('name=%E9t%E9', false)).toBeNull();
  });
});

describe('parsedBodyProblem (a body another parser built)', () => {
  const nested = (levels: number): unknown => {
    let value: unknown = 'leaf';
    for (let i = 0; i < levels; i++) value = { a: value };
    return value;
  };

  it('accepts 32 levels and well-formed text, surrogate pairs included', () => {
    expect(parsedBodyProblem(nested(32))).toBeNull();
    expect(parsedBodyProblem({ name: 'emoji \ud83d\ude00', list: ['a', { b: 1 }] })).toBeNull();
  });

  it('refuses 33 levels, and 5,000 without overflowing the stack', () => {
    expect(parsedBodyProblem(nested(33))).toBe(TOO_DEEP);
    expect(parsedBodyProblem(nested(5000))).toBe(TOO_DEEP);
  });

  it('refuses a lone surrogate in a value or a key', () => {
    expect(parsedBodyProblem({ email: '\ud800@x.test' })).toBe(NOT_UNICODE);
    expect(parsedBodyProblem({ ['\udc00']: 'x' })).toBe(NOT_UNICODE);
  });
});
