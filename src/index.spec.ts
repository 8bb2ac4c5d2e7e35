// The library (src/index.ts and what it loads) must not need pino: a host application keeps its
// own logger, and only this repository's server (src/server, main.ts) logs through pino.
jest.mock('pino', () => {
  throw new Error('the library loaded pino');
});

describe('the library entry point', () => {
  it('loads without pino', () => {
    let exported: Record<string, unknown> = {};
    jest.isolateModules(() => {
      exported = jest.requireActual<Record<string, unknown>>('./index');
    });
    expect(exported.AuthSwitchModule).toBeDefined();
    expect(exported.requestIdMiddleware).toBeDefined();
  });
});
