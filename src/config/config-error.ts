/**
 * A configuration problem, reported at start-up as one line naming the setting: the environment
 * variable for the server, the module option for a host (AuthSwitchModule renames it).
 */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}
