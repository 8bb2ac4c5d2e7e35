import { loggerLevels } from './logger-levels';

describe('loggerLevels', () => {
  it('turns logging off for silent', () => {
    expect(loggerLevels('silent')).toBe(false);
  });

  it.each([
    ['error', ['fatal', 'error']],
    ['warn', ['fatal', 'error', 'warn']],
    ['log', ['fatal', 'error', 'warn', 'log']],
    ['verbose', ['fatal', 'error', 'warn', 'log', 'debug', 'verbose']],
  ] as const)('logs %s and every more severe level', (level, expected) => {
    expect(loggerLevels(level)).toEqual(expected);
  });
});
