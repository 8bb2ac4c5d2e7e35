import { ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { freshDataDir } from './support/environments';

/**
 * AuthSwitch as a Nest developer gets it: `npm pack` of this repository, `npm install` of the
 * tarball into a new Nest 11 application in the temp dir (outside the repository), which is
 * compiled with its own TypeScript and started as its own process.
 */

const ROOT = join(__dirname, '..');

/** What AuthSwitch shares with its host (classes, DI tokens, metadata): one copy, the host's. */
const SHARED = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/jwt',
  '@nestjs/passport',
  '@nestjs/platform-express',
  '@nestjs/swagger',
  '@nestjs/typeorm',
  'class-transformer',
  'class-validator',
  'passport',
  'reflect-metadata',
  'rxjs',
  'typeorm',
];

/** The host's dependencies, at the versions installed here (so npm finds them in its cache). */
const HOST_PACKAGES = [...SHARED, 'better-sqlite3'];

// Installs take minutes when a native module compiles (better-sqlite3, argon2) on a busy machine.
const INSTALL_TIMEOUT_MS = 12 * 60_000;

/** The version of a package installed in this repository (read from disk: not every package exports package.json). */
function installedVersion(name: string): string {
  return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
}

/**
 * The environment for npm and the host: this one without what `npm run`/`npx` set for this
 * repository (npm_config_local_prefix and friends would point npm back at it), and with the
 * install-time analytics of a dependency (@scarf/scarf) off: no report, no log in the temp dir.
 */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = /^npm_config_(registry|cache|userconfig|globalconfig|proxy|https_proxy|noproxy|strict_ssl|cafile)$/i;
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) || keep.test(key)));
  return { ...env, SCARF_ANALYTICS: 'false', ...extra };
}

function run(command: string, args: string[], cwd: string, timeout = INSTALL_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env: cleanEnv(), timeout, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed in ${cwd}: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const HOST_MAIN = `
import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { join } from 'node:path';
import { AUTH_SWITCH_MIGRATIONS, AuthSwitchModule, CurrentUser, RouteGroup, UserPrincipal } from 'authswitch';

const dataDir = process.env.HOST_DATA_DIR!;

/** The host's own route, in AuthSwitch's api group. */
@Controller('api/notes')
@RouteGroup('api')
class NotesController {
  @Get()
  list(@CurrentUser() user: UserPrincipal) {
    return { owner: user.id, notes: [] };
  }
}

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'better-sqlite3',
      database: join(dataDir, 'host.sqlite'),
      autoLoadEntities: true,
      migrations: [...AUTH_SWITCH_MIGRATIONS],
      migrationsRun: true,
    }),
    AuthSwitchModule.forRoot({ dataDir }),
  ],
  controllers: [NotesController],
})
class AppModule {}

async function bootstrap() {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  console.log('host listening on ' + (await app.getUrl()));
}
bootstrap().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

const HOST_TSCONFIG = {
  compilerOptions: {
    module: 'commonjs',
    target: 'ES2022',
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    strict: true,
    // The host type-checks its own code against AuthSwitch's declarations, not the libraries' own.
    skipLibCheck: true,
    types: ['node'],
    rootDir: 'src',
    outDir: 'dist',
  },
  include: ['src'],
};

interface Host {
  child: ChildProcess;
  /** Resolves with the host's address once it prints its listening line; rejects if it exits first. */
  ready: Promise<string>;
  exited: Promise<unknown>;
}

/** Starts the compiled host as its own process. */
function startHost(hostDir: string, dataDir: string): Host {
  const child = spawn(process.execPath, ['dist/main.js'], { cwd: hostDir, env: cleanEnv({ HOST_DATA_DIR: dataDir }), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise((resolve) => child.once('close', resolve));
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      const match = /host listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]);
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
    void exited.then(() => reject(new Error(`the host exited before listening:\n${output}`)));
  });
  return { child, ready, exited };
}

describe('the packed library in a fresh Nest application', () => {
  let work: string;
  let hostDir: string;
  let packedFiles: string[];
  let packedManifest: { dependencies?: Record<string, string>; peerDependencies?: Record<string, string>; private?: boolean };
  let host: Host | undefined;
  let base: string;

  beforeAll(
    async () => {
      // Removed after the suite by the cleanup hook (test/support/cleanup.ts).
      work = realpathSync(freshDataDir());
      if (!relative(realpathSync(ROOT), work).startsWith('..')) throw new Error(`the temp dir ${work} is inside the repository`);
      const packDir = join(work, 'pack');
      hostDir = join(work, 'host');
      mkdirSync(packDir);
      mkdirSync(join(hostDir, 'src'), { recursive: true });

      // `prepare` runs first, as on a publish: dist/ is brought up to date.
      const [packed] = JSON.parse(await run('npm', ['pack', '--json', '--pack-destination', packDir], ROOT)) as {
        filename: string;
        files: { path: string }[];
      }[];
      packedFiles = packed.files.map((file) => file.path);

      const dependencies: Record<string, string> = Object.fromEntries(HOST_PACKAGES.map((name) => [name, installedVersion(name)]));
      dependencies.authswitch = `file:../pack/${packed.filename}`;
      writeFileSync(
        join(hostDir, 'package.json'),
        JSON.stringify(
          {
            name: 'packed-host',
            private: true,
            dependencies,
            devDependencies: { typescript: installedVersion('typescript'), '@types/node': installedVersion('@types/node') },
          },
          null,
          2,
        ),
      );
      writeFileSync(join(hostDir, 'tsconfig.json'), JSON.stringify(HOST_TSCONFIG, null, 2));
      writeFileSync(join(hostDir, 'src', 'main.ts'), HOST_MAIN);

      await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], hostDir);
      packedManifest = JSON.parse(readFileSync(join(hostDir, 'node_modules', 'authswitch', 'package.json'), 'utf8'));
      await run(process.execPath, [join(hostDir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', hostDir], hostDir, 120_000);
      const dataDir = join(work, 'data');
      mkdirSync(dataDir);
      host = startHost(hostDir, dataDir);
      base = await host.ready;
    },
    INSTALL_TIMEOUT_MS + 3 * 60_000,
  );

  afterAll(async () => {
    if (host && host.child.exitCode === null && host.child.signalCode === null) {
      host.child.kill('SIGTERM');
      await host.exited;
    }
  });

  it('ships the built library and its README only: no tests, bench, CI, keys, mails, data or source maps', () => {
    expect(packedFiles).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/cli.js']));
    const unexpected = packedFiles.filter((path) => !['package.json', 'README.md', 'LICENSE'].includes(path) && !/^dist\/.+\.(js|d\.ts)$/.test(path));
    expect(unexpected).toEqual([]);
    const privateLooking = packedFiles.filter((path) =>
      /(^|\/)(test|tests|bench|\.ci|data|scripts|src)\/|\.(pem|eml|env|map|tsbuildinfo|tgz)$|\.spec\.|(^|\/)(jar|\.env.*)$/.test(path),
    );
    expect(privateLooking).toEqual([]);
  });

  it('declares what it shares with the host as peer dependencies, never as its own', () => {
    expect(packedManifest.private).toBeUndefined();
    expect(Object.keys(packedManifest.peerDependencies ?? {})).toEqual(expect.arrayContaining(SHARED));
    expect(SHARED.filter((name) => name in (packedManifest.dependencies ?? {}))).toEqual([]);
  });

  it('brings no second copy: AuthSwitch resolves every shared package to the host\u2019s', async () => {
    const fromHost = createRequire(join(hostDir, 'package.json'));
    const libraryEntry = fromHost.resolve('authswitch');
    expect(realpathSync(libraryEntry)).toBe(join(hostDir, 'node_modules', 'authswitch', 'dist', 'index.js'));
    const fromLibrary = createRequire(libraryEntry);
    for (const name of SHARED) {
      expect({ name, path: realpathSync(fromLibrary.resolve(name)) }).toEqual({ name, path: realpathSync(fromHost.resolve(name)) });
    }
    const copies = (await run('npm', ['ls', '@nestjs/core', '--all', '--parseable'], hostDir, 120_000)).split('\n').filter(Boolean);
    expect(new Set(copies)).toEqual(new Set([join(hostDir, 'node_modules', '@nestjs', 'core')]));
    const manifests = findPackageDirs(join(hostDir, 'node_modules'), '@nestjs/core');
    expect(manifests).toEqual([join(hostDir, 'node_modules', '@nestjs', 'core')]);
  });

  it('registers, signs in on the api group, and the token opens /api/me and the host\u2019s own route', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const email = `packed-${process.pid}@example.com`;
    // Upper case and spaces: the DTO's @Transform (the host's class-transformer) normalizes it.
    const registered = await post('/auth/register', { email: `  ${email.toUpperCase()} `, password: 'packed password 1', name: 'Ada' });
    expect(registered.status).toBe(201);
    const user = await registered.json();
    expect(user).toMatchObject({ email, name: 'Ada', roles: ['user'] });

    const login = await post('/api/auth/login', { email, password: 'packed password 1' });
    expect(login.status).toBe(200);
    const { access_token: token } = await login.json();
    expect(typeof token).toBe('string');
    const bearer = { authorization: `Bearer ${token}` };

    const me = await fetch(`${base}/api/me`, { headers: bearer });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ id: user.id, email });

    expect((await fetch(`${base}/api/notes`)).status).toBe(401);
    const notes = await fetch(`${base}/api/notes`, { headers: bearer });
    expect(notes.status).toBe(200);
    expect(await notes.json()).toEqual({ owner: user.id, notes: [] });
  });
});

/** Every folder under node_modules (nested ones included) that holds the package `name`. */
function findPackageDirs(nodeModules: string, name: string): string[] {
  const found: string[] = [];
  const visit = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      if (entry.name.startsWith('@')) {
        for (const scoped of readdirSync(path, { withFileTypes: true })) {
          if (!scoped.isDirectory()) continue;
          const scopedPath = join(path, scoped.name);
          if (`${entry.name}/${scoped.name}` === name) found.push(scopedPath);
          visit(join(scopedPath, 'node_modules'));
        }
      } else {
        if (entry.name === name) found.push(path);
        visit(join(path, 'node_modules'));
      }
    }
  };
  visit(nodeModules);
  return found.sort();
}
