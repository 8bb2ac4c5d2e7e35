#!/usr/bin/env node
// Profiling harness: boots the production build in this process for PROFILE_SECONDS, then exits
// cleanly so that `node --cpu-prof bench/profile.js` writes its profile. Configuration comes from
// the environment, as for the server. Summarise with: node bench/profile.js --summary FILE
'use strict';
const { readFileSync } = require('node:fs');

if (process.argv[2] === '--summary') {
  const profile = JSON.parse(readFileSync(process.argv[3], 'utf8'));
  const self = new Map();
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const counts = new Map();
  for (const sample of profile.samples) counts.set(sample, (counts.get(sample) ?? 0) + 1);
  let total = 0;
  for (const [id, count] of counts) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '')}:${lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + count);
    total += count;
  }
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[4] ?? 40));
  for (const [key, count] of top) console.log(`${((100 * count) / total).toFixed(1).padStart(5)}%  ${key}`);
  process.exit(0);
}

require('reflect-metadata');
const { NestFactory } = require('@nestjs/core');
const { AppModule } = require('../dist/app.module');
const { configureApp } = require('../dist/server/app.setup');
const { loadConfigFromEnvironment } = require('../dist/server/config.module');

(async () => {
  const config = loadConfigFromEnvironment();
  const app = await NestFactory.create(AppModule.forRoot(config), { bodyParser: false, logger: ['error'] });
  configureApp(app);
  await app.listen(config.port, config.host);
  console.log('profiling ready');
  setTimeout(
    async () => {
      await app.close();
      process.exit(0);
    },
    Number(process.env.PROFILE_SECONDS ?? 15) * 1000,
  );
})();
