import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AUTH_SWITCH_MIGRATIONS } from './migrations';

describe('AUTH_SWITCH_MIGRATIONS', () => {
  it('lists every migration file of the folder, in timestamp order (hosts run this list)', () => {
    const files = readdirSync(join(__dirname, 'migrations'))
      .filter((file) => /^\d+-\w+\.ts$/.test(file))
      .sort();
    const names = files.map((file) => {
      const [timestamp, name] = file.replace(/\.ts$/, '').split('-');
      return `${name}${timestamp}`;
    });
    expect(AUTH_SWITCH_MIGRATIONS.map((migration) => migration.name)).toEqual(names);
  });
});
