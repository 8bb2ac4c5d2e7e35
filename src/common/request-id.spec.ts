import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestIdFrom, requestIdMiddleware, requestIdOf } from './request-id';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('requestIdFrom', () => {
  it.each(['a', 'abc-123', '01J9ZQ3V5KXW8E2T6Y7M4N0P1R', 'f47ac10b-58cc-4372-a567-0e02b2c3d479', 'trace:span.1_2', 'x'.repeat(128)])(
    'keeps the sane id %p',
    (id) => {
      expect(requestIdFrom(id)).toBe(id);
    },
  );

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['too long', 'x'.repeat(129)],
    ['with a space', 'a b'],
    ['two values joined', 'a, b'],
    ['with a quote', 'a"b'],
    ['with a newline', 'a\nb'],
    ['with a slash', 'a/b'],
    ['non-ASCII', 'idé'],
    ['a repeated header', ['a', 'b']],
  ])('makes a new UUID when it is %s', (_why, header) => {
    expect(requestIdFrom(header)).toMatch(UUID);
  });

  it('uses the generator it is given', () => {
    expect(requestIdFrom('bad id', () => 'made')).toBe('made');
  });
});

describe('requestIdMiddleware', () => {
  function run(headers: Record<string, string>) {
    const req = { headers } as unknown as IncomingMessage;
    const set: Record<string, string> = {};
    const res = { setHeader: (name: string, value: string) => (set[name] = value) } as unknown as ServerResponse;
    const next = jest.fn();
    requestIdMiddleware()(req, res, next);
    expect(next).toHaveBeenCalledTimes(1);
    return { id: requestIdOf(req), header: set['X-Request-Id'] };
  }

  it('echoes a sane incoming id and keeps it as req.id', () => {
    expect(run({ 'x-request-id': 'from-the-proxy-42' })).toEqual({ id: 'from-the-proxy-42', header: 'from-the-proxy-42' });
  });

  it('answers with a new id when none, or a bad one, came', () => {
    for (const headers of [{}, { 'x-request-id': 'not ok' }] as Array<Record<string, string>>) {
      const { id, header } = run(headers);
      expect(id).toMatch(UUID);
      expect(header).toBe(id);
    }
  });
});
