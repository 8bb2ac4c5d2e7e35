import type { LogLevel } from '@nestjs/common';
import type { AppConfig } from './app-config';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/**
 * Nest's `logger` option for a LOG_LEVEL: that level and every more severe one; `silent` turns
 * logging off. Shared by the server (main.ts) and the test apps, so both log alike.
 */
export function loggerLevels(level: AppConfig['logLevel']): LogLevel[] | false {
  return level === 'silent' ? false : LEVELS.slice(0, LEVELS.indexOf(level) + 1);
}
